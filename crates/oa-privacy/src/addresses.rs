//! Street addresses in each country's own order: the number before the street (English,
//! French), after it (German, Dutch, Spanish, Italian, Portuguese, Russian), a postcode before or
//! after the city in the local shape, and the Arabic, Chinese, Japanese and Indian forms.

use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

/// Street types after the street name (English).
const STREET_TYPES: &str = r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Way|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Cres|Row|Mews|Gardens|Grove|Hill|Walk|Circle|Cir|Trail|Alley|Salai|Marg)";

/// Postcodes followed by their city: Dutch `1015 CJ`, German/French/Spanish/Italian five
/// digits, Portuguese `1100-053`, Brazilian `01001-000`, Polish `00-950`, Belgian, Austrian
/// and Swiss four digits, with an optional country letter (`D-`).
const POSTCODE_CITY: &str = r"(?:[A-Z]{1,2}-)?(?:\d{4}[ ]?[A-Z]{2}|\d{5}-\d{3}|\d{4}-\d{3}|\d{2}-\d{3}|\d{4,5})[ \t]+\p{Lu}[\p{L}'-]+(?:[ -](?:am|an|der|de|la|le|sur|\p{Lu}[\p{L}'-]+)){0,3}";

static ADDRESS_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?,?\s+(?:[A-Z][A-Za-z'.-]*\s+){{0,4}}{STREET_TYPES}\b\.?(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?(?:(?:,\s*|\s+)(?:Apt|Suite|Unit|Flat)\.?\s*[0-9A-Za-z]+)?(?:,\s*[A-Z][a-z][A-Za-z'-]*(?:\s+[A-Z][a-z][A-Za-z'-]*){{0,2}})?(?:,?\s+[A-Z]{{2,3}}\b)?(?:,?\s+(?:\d{{5,6}}(?:-\d{{4}})?|[A-Z]{{1,2}}\d[A-Z\d]?\s?\d[A-Z]{{2}}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|\d{{4}}))?"
    ))
});

static ADDRESS_DE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:\p{Lu}[\p{L}-]*?(?i:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee|straat|gracht|laan|plein|singel|kade|dijk|dreef|steeg|markt)|\p{Lu}\p{L}+\s(?:Straße|Strasse|Allee|Weg|Platz|Ring|Damm|Ufer|Chaussee|Markt)|(?:Am|An der|Auf der|Im|Zum|Zur)\s\p{Lu}\p{L}+)\s+\d{1,4}[a-zA-Z]?(?:,\s*(?:D-)?\d{5}\s+\p{Lu}[\p{L}-]+)?",
    )
});

/// A street, a house number, then a local postcode and city on the same or the next line:
/// "Keizersgracht 123, 1015 CJ Amsterdam", "Coolsingel 154 bis\n5611 EM Eindhoven".
static ADDRESS_NUMBER_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b\p{{Lu}}[\p{{L}}.'-]+(?:[ ](?:\p{{Lu}}[\p{{L}}.'-]+|de|der|den|van|von|la|del|di|da))*[ ]\d{{1,4}}(?:[ -]?(?:[A-Za-z]|bis|ter|\d{{1,3}})\b)?(?:,?[ ]\d{{1,2}}[º°ª]\.?(?:[ ]?\p{{L}}+\.?)?)?(?:,[ ]?|[ ]?\r?\n[ \t]*|[ ]-[ ]|[ ]){POSTCODE_CITY}"
    ))
});

static ADDRESS_FR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i:\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|allée|allee|chemin|impasse|quai|cours|route)\s+)(?:(?:de|du|des|la|le|l'|d')\s*)*[\p{L}'-]+(?:\s+[\p{L}'-]+){0,3}?(?:,?\s*\d{5}\s+\p{Lu}[\p{L}-]+)?",
    )
});

/// The street type first, then the name and the number: Spanish, Catalan, Italian, Portuguese
/// and Brazilian forms, with floor, door, "Col." and postcode parts that may follow.
static ADDRESS_TYPE_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:Calle|C/|Avenida|Avda\.?|Av\.|Paseo|Pº|Plaza|Carrer|Carretera|Rúa|Rambla|Ronda|Camino|Travesía|Gran Vía|Vía|Via|Viale|Vicolo|Piazza|Piazzale|Largo|Corso|Rua|Travessa|Praça|Alameda|Estrada|Rodovia)\s+(?:(?:de|del|la|los|las|di|della|dei|delle|do|da|dos|das|d')\s*)*[\p{Lu}\d][\p{L}.'\d]*(?:\s+(?:(?:de|del|la|los|las|di|della|do|da|dos|das)\s+)*[\p{Lu}\d][\p{L}.'\d]*){0,4},?\s+(?:n\.?\s?[º°o]\.?\s*)?\d{1,5}[A-Za-z]?(?:/[A-Za-z0-9]+)?(?:,\s*(?:\d{1,2}[º°ª]\.?\s*[\p{L}.]*|apto\.?\s*\d+|piso\s*\d+|Col\.\s+\p{Lu}[\p{L}]+(?:\s\p{Lu}[\p{L}]+)*))*(?:(?:,\s*|\s+-\s+|\s+)(?:(?:\d{5}-\d{3}|\d{4}-\d{3}|\d{5})\s+)?\p{Lu}[\p{L}]+(?:\s(?:de\s)?\p{Lu}[\p{L}]+){0,3}(?:\s+-\s+[A-Z]{2})?(?:\s\([A-Z]{2}\))?(?:,\s*(?:CEP\s*)?\d{5}-?\d{3})?)?",
    )
});

/// Russian: the street type, the name, "д." and the number, and flat, city or postcode around.
static ADDRESS_RU: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\b\d{6},\s*)?(?:г\.\s*\p{Lu}[\p{L}-]+,\s*)?(?:(?:ул\.|улица|пр-т|просп\.|проспект|пер\.|переулок|бульвар|б-р|шоссе|наб\.|набережная|пл\.|площадь)\s*\p{Lu}[\p{L}-]*(?:\s\p{Lu}[\p{L}-]*)?|\p{Lu}[\p{L}-]*\s(?:проспект|улица|переулок|бульвар|шоссе|набережная|проезд))(?:,\s*|\s+)(?:д\.\s*|дом\s*)?\d{1,4}[а-я]?(?:,\s*(?:кв\.|корп\.|стр\.|оф\.)\s*\d+)*(?:,\s*\p{Lu}[\p{L}-]+)?(?:,\s*\d{6})?",
    )
});

/// Arabic: "شارع" (street) or "حي" (district) with a name, a building or house number, a city.
static ADDRESS_AR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\d{1,4}\s+)?(?:شارع|طريق|حي)\s+[\p{Arabic}\d ]{2,30}?،\s*(?:(?:مبنى|عمارة|شارع|منزل|رقم)\s*\d+،\s*)*\p{Arabic}+(?:\s\d{5})?",
    )
});

/// Chinese: province or city, district, road and number; Japanese: prefecture, city and block
/// numbers, with or without the 〒 postcode.
static ADDRESS_CJK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:\p{Han}{2,4}(?:省|市)\p{Han}{1,5}(?:区|县|市)\p{Han}{1,12}?(?:路|街|道|大道|大街|巷|里)\d{1,5}号(?:\d+(?:栋|楼|号楼))?(?:\d+(?:单元))?(?:\d+室)?)|(?:〒\s?\d{3}-\d{4}\s*)?(?:東京都|北海道|京都府|大阪府|\p{Han}{2,3}県)\p{Han}{1,6}?[市区町村郡][\p{Han}\p{Hiragana}\p{Katakana}ー]{0,12}?\d{1,4}(?:丁目|-)\d{1,4}(?:番地?|-)\d{1,4}号?|〒\s?\d{3}-\d{4}",
    )
});

/// India: house or flat number, locality, city and six-digit PIN, in Devanagari or Latin script.
static ADDRESS_IN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:मकान\s?नं\.?|मकान|फ्लैट|प्लॉट|House\s?No\.?|Flat|Plot)\s*\d+[A-Za-z]?(?:,\s*[^,\n]{2,40}){1,3},\s*[\p{Devanagari}\p{L}]+(?:\s[\p{Devanagari}\p{L}]+)?\s\d{6}|\b\d{1,4},\s+(?:\p{Lu}[\p{L}]*\s){1,3}(?:Road|Street|Salai|Marg|Nagar|Lane)\b,?\s+\p{Lu}\p{L}+\s+\d{6}",
    )
});

/// Every street address, as byte ranges; where several forms match the same address, the
/// widest reading of it.
pub fn find(text: &str) -> Vec<(usize, usize)> {
    let found = [
        &*ADDRESS_EN,
        &*ADDRESS_DE,
        &*ADDRESS_NUMBER_AFTER,
        &*ADDRESS_FR,
        &*ADDRESS_TYPE_FIRST,
        &*ADDRESS_RU,
        &*ADDRESS_AR,
        &*ADDRESS_CJK,
        &*ADDRESS_IN,
    ]
    .iter()
    .flat_map(|r| r.find_iter(text))
    .filter(|m| !measure_follows(&text[m.end()..]))
    .map(|m| {
        (
            m.start(),
            crate::patterns::trim_end(text, m.start(), m.end()),
        )
    })
    .collect();
    crate::patterns::merge_overlapping(found)
}

/// Units that make the number before them a time or a quantity: "Am Freitag 15 Uhr",
/// "Ring 3 km", "Markt 20 %" are not a street and a house number.
const MEASURES: &[&str] = &[
    "uhr", "h", "uur", "heures", "horas", "ore", "min", "minuten", "minutes", "km", "m", "kg", "g",
    "%", "€", "euro", "eur", "jahre", "tage", "stunden", "personen", "stück", "mal",
];

fn measure_follows(after: &str) -> bool {
    let rest = after.trim_start_matches([' ', '\t']);
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphabetic() || matches!(c, '%' | '€'))
        .collect();
    after.len() > rest.len() && MEASURES.contains(&word.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<&str> {
        let mut spans = find(text);
        spans.sort_unstable();
        spans.dedup();
        spans.iter().map(|(s, e)| &text[*s..*e]).collect()
    }

    #[test]
    fn each_countrys_own_order_is_found() {
        for address in [
            "Keizersgracht 123, 1015 CJ Amsterdam",
            "Coolsingel 154 bis\n5611 EM Eindhoven",
            "Calle Mayor 5, 28013 Madrid",
            "Hauptstraße 5, 10115 Berlin",
            "12 rue de la Paix, 75002 Paris",
            "Rua Augusta, 49, 1100-053 Lisboa",
            "ул. Садовая, д. 78, кв. 237, Санкт-Петербург, 145650",
            "24 شارع الهرم، القاهرة",
            "北京市朝阳区建国路88号",
            "〒150-0002 東京都渋谷区渋谷2-21-1",
            "मकान नं. 12, गांधी नगर, नई दिल्ली 110001",
            "Av. Juárez 776, Col. Centro, 04706 Ciudad de México",
            "Flat 302, Shanti Apartments, Andheri West, Mumbai 400058",
        ] {
            let text = format!("Adres: {address}\nThanks");
            let got = found(&text);
            assert!(
                got.iter()
                    .any(|g| g.contains(address.split([',', '\n']).next().unwrap())),
                "{address}: {got:?}"
            );
        }
    }

    #[test]
    fn the_postcode_and_city_after_a_street_are_part_of_the_address() {
        let text = "Our office is at Keizersgracht 123, 1015 CJ Amsterdam. Visit us!";
        assert_eq!(found(text), ["Keizersgracht 123, 1015 CJ Amsterdam"]);
        let found = crate::scan(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].text, "Keizersgracht 123, 1015 CJ Amsterdam");
    }

    #[test]
    fn numbers_and_words_are_not_addresses() {
        for text in [
            "Population 12 345 678",
            "Windows 10 is installed on 3000 machines",
            "Room 1204, building C, floor 12",
            "Meeting at 10:30 on 2024-03-15",
            "The Eiffel Tower is on the Champ de Mars in Paris.",
            "Am Freitag 15 Uhr ist Teammeeting im Raum Kepler.",
        ] {
            assert_eq!(found(text), Vec::<&str>::new(), "{text}");
        }
    }
}
