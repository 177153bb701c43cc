//! The patterns of each kind, and the checks that follow a match.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;

use crate::PiiKind;
use crate::checks;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[\p{L}\p{N}][\p{L}\p{N}._%+-]*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*\.\p{L}{2,24}\b",
    )
});

static URL: LazyLock<Regex> = LazyLock::new(|| re(r#"(?i)\b[a-z][a-z0-9+.-]{1,15}://[^\s<>"'`]+"#));

/// Query or fragment parameters whose value is a credential.
static SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[?&#;](?:access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|token|api[_-]?key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|password|passwd|pwd|pass|secret|client[_-]?secret|auth|session[_-]?id|sessionid|sid|code)=[^&#\s]{3,}",
    )
});

static IPV4: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}\b",
    )
});

static IPV6: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"));

static CARD: LazyLock<Regex> = LazyLock::new(|| re(r"\b\d(?:[ -]?\d){12,18}\b"));

static IBAN: LazyLock<Regex> = LazyLock::new(|| re(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b"));

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,5}\)[\s.-]?)?\d{1,12}(?:(?:[\s.-]|/)\d{1,8}){0,5}")
});

/// Street types after the street name (English).
const STREET_TYPES: &str = r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Square|Sq|Terrace|Way|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Cres|Row|Mews|Gardens|Grove|Hill|Walk|Circle|Cir|Trail|Alley)";

static ADDRESS_EN: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"\b\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}})?\s+(?:[A-Z][A-Za-z'.-]*\s+){{0,4}}{STREET_TYPES}\b\.?(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?(?:(?:,\s*|\s+)(?:Apt|Suite|Unit|Flat)\.?\s*[0-9A-Za-z]+)?(?:,\s*[A-Z][a-z][A-Za-z'-]*(?:\s+[A-Z][a-z][A-Za-z'-]*){{0,2}})?(?:,?\s+[A-Z]{{2}}\b)?(?:,?\s+(?:\d{{5}}(?:-\d{{4}})?|[A-Z]{{1,2}}\d[A-Z\d]?\s?\d[A-Z]{{2}}))?"
    ))
});

static ADDRESS_DE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:\p{Lu}[\p{L}-]*?(?i:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee)|\p{Lu}\p{L}+\s(?:Straße|Strasse|Allee|Weg|Platz|Ring|Damm|Ufer|Chaussee|Markt))\s+\d{1,4}[a-z]?(?:,\s*(?:D-)?\d{5}\s+\p{Lu}[\p{L}-]+)?",
    )
});

static ADDRESS_FR: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i:\b\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|place|allée|allee|chemin|impasse|quai|cours|route)\s+)(?:(?:de|du|des|la|le|l'|d')\s*)*[\p{L}'-]+(?:\s+[\p{L}'-]+){0,3}?(?:,\s*\d{5}\s+\p{Lu}[\p{L}-]+)?",
    )
});

static ADDRESS_ES: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:Calle|C/|Avenida|Avda\.?|Plaza|Paseo|Carrer|Rúa|Rambla|Ronda|Camino|Travesía|Gran Vía|Vía|Via|Viale|Piazza|Corso)\s+(?:(?:de|del|la|los|las|di|della)\s+)*\p{Lu}[\p{L}]+(?:\s+\p{Lu}[\p{L}]+){0,3},?\s+(?:n[º°o]\.?\s*)?\d{1,4}(?:,\s*\d{5}\s+\p{Lu}[\p{L}-]+)?",
    )
});

/// A name given for oneself: the phrase in any case, then one to three capitalised words.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i:\b(?:my name is|my name['’]s|my names is|i['’]m|i am|im|call me|this is|it['’]s|signed|regards|best regards|kind regards|cheers|thanks|many thanks|sincerely|yours truly|love|xoxo|je m'appelle|ich heiße|ich heisse|me llamo|mi nombre es))[,:]?\s+(\p{Lu}[\p{Ll}'’-]+(?:[ -]\p{Lu}[\p{Ll}'’-]+){0,2})",
    )
});

/// Endings of file names that look like top-level domains after an "@" ("icon@2x.png").
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "txt", "js", "ts", "css",
    "html", "json", "yaml", "yml", "toml", "rs", "py", "rb", "lock", "zip", "gz", "tar", "mp3",
    "mp4", "wav", "mov",
];

/// Capitalised words after "I'm", "this is"… that are not names.
const NOT_NAMES: &[&str] = &[
    "I",
    "A",
    "An",
    "The",
    "Not",
    "Sure",
    "So",
    "Very",
    "Just",
    "It",
    "That",
    "This",
    "What",
    "Here",
    "There",
    "Fine",
    "Good",
    "Great",
    "Ok",
    "Okay",
    "Happy",
    "Sorry",
    "Glad",
    "Back",
    "Done",
    "Ready",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "English",
    "German",
    "French",
    "Spanish",
    "American",
    "British",
    "Canadian",
    "Australian",
    "Indian",
    "Chinese",
    "Japanese",
    "Italian",
    "Going",
    "Looking",
    "Trying",
    "Working",
    "Writing",
    "Using",
    "Also",
    "Still",
    "New",
    "All",
    "Your",
    "My",
    "Our",
    "We",
    "You",
    "He",
    "She",
    "They",
    "And",
    "But",
    "Or",
    "If",
    "In",
    "On",
    "At",
    "For",
    "To",
    "From",
    "With",
    "Thank",
    "Thanks",
    "Hi",
    "Hello",
    "Hey",
    "Dear",
    "Yes",
    "No",
    "Python",
    "Rust",
    "Java",
    "JavaScript",
    "Linux",
    "Windows",
    "Google",
    "Microsoft",
    "Apple",
    "Amazon",
    "Everyone",
    "Team",
    "Bye",
    "Why",
    "How",
    "When",
    "Where",
    "Who",
    "Which",
    "Because",
    "Please",
    "Actually",
    "Really",
    "Maybe",
    "Probably",
    "Definitely",
];

/// Byte ranges of the matches of `kind` in `text`, after its checks.
pub fn find(kind: PiiKind, text: &str) -> Vec<(usize, usize)> {
    match kind {
        PiiKind::Email => EMAIL
            .find_iter(text)
            .filter(|m| {
                // "logo@2x.png" is an asset name, not an address.
                let tld = m.as_str().rsplit('.').next().unwrap_or("").to_lowercase();
                !FILE_EXTENSIONS.contains(&tld.as_str())
            })
            .map(|m| (m.start(), m.end()))
            .collect(),
        PiiKind::SecretUrl => secret_urls(text),
        PiiKind::Ip => ips(text),
        PiiKind::Card => CARD
            .find_iter(text)
            .filter(|m| {
                let d = checks::digits(m.as_str());
                (13..=19).contains(&d.len()) && checks::luhn(&d) && !checks::all_same(&d)
            })
            .map(|m| (m.start(), m.end()))
            .collect(),
        PiiKind::Iban => IBAN
            .find_iter(text)
            .filter(|m| checks::iban(m.as_str()))
            .map(|m| (m.start(), m.end()))
            .collect(),
        PiiKind::Phone => phones(text),
        PiiKind::Address => [&*ADDRESS_EN, &*ADDRESS_DE, &*ADDRESS_FR, &*ADDRESS_ES]
            .iter()
            .flat_map(|r| r.find_iter(text))
            .map(|m| (m.start(), trim_end(text, m.start(), m.end())))
            .collect(),
        PiiKind::Name => NAME
            .captures_iter(text)
            .filter_map(|c| c.get(1))
            .filter_map(|m| {
                // Drop trailing words that are not names ("Ada Lovelace And …").
                let words: Vec<&str> = m.as_str().split([' ', '-']).collect();
                if NOT_NAMES.contains(&words[0]) {
                    return None;
                }
                let kept = words
                    .iter()
                    .take_while(|w| !NOT_NAMES.contains(w))
                    .map(|w| w.len() + 1)
                    .sum::<usize>()
                    - 1;
                Some((m.start(), m.start() + kept))
            })
            .collect(),
    }
}

/// A match's end without trailing punctuation that ends the sentence rather than the item.
fn trim_end(text: &str, start: usize, mut end: usize) -> usize {
    while end > start {
        let last = text[..end].chars().next_back().unwrap_or(' ');
        if matches!(
            last,
            '.' | ',' | ';' | ':' | '!' | '?' | ')' | ']' | '\'' | '"' | ' '
        ) {
            end -= last.len_utf8();
        } else {
            break;
        }
    }
    end
}

fn secret_urls(text: &str) -> Vec<(usize, usize)> {
    URL.find_iter(text)
        .filter_map(|m| {
            let end = trim_end(text, m.start(), m.end());
            let url = &text[m.start()..end];
            let after_scheme = &url[url.find("://").map_or(0, |i| i + 3)..];
            let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
            let userinfo_with_password = authority
                .split_once('@')
                .is_some_and(|(user, _)| user.contains(':'));
            (userinfo_with_password || SECRET_PARAM.is_match(url)).then_some((m.start(), end))
        })
        .collect()
}

fn ips(text: &str) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = IPV4
        .find_iter(text)
        .filter(|m| {
            let before = &text[..m.start()];
            let after = &text[m.end()..];
            // Version numbers: "v1.2.3.4", "version 10.0.0.1", and longer dotted runs.
            let versioned = before.ends_with(['v', 'V'])
                || before.trim_end().to_lowercase().ends_with("version")
                || before.ends_with('.')
                || after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit());
            !versioned
        })
        .map(|m| (m.start(), m.end()))
        .collect();
    for m in IPV6.find_iter(text) {
        let candidate = m.as_str().trim_end_matches(':');
        let start_ok =
            m.start() == 0 || !text[..m.start()].ends_with(|c: char| c.is_alphanumeric());
        let groups = candidate.split(':').filter(|g| !g.is_empty()).count();
        if start_ok
            && candidate.len() >= 6
            && (candidate.contains("::") || groups == 8)
            && groups >= 2
            && candidate.parse::<Ipv6Addr>().is_ok()
        {
            found.push((m.start(), m.start() + candidate.len()));
        }
    }
    found
}

fn phones(text: &str) -> Vec<(usize, usize)> {
    PHONE
        .find_iter(text)
        .filter_map(|m| {
            let s = m.as_str();
            let end = m.end();
            let mut start = m.start();
            // Not the tail of a longer token ("v2-1234567", "ID12 345 678").
            if text[..start].ends_with(|c: char| c.is_alphanumeric() || c == '.' || c == '/') {
                return None;
            }
            if text[end..].starts_with(|c: char| c.is_alphanumeric() || c == '/')
                || text[end..].starts_with(['.', ','])
                    && text[end + 1..].starts_with(|c: char| c.is_ascii_digit())
            {
                return None;
            }
            let digits = checks::digits(s);
            let international = s.starts_with('+');
            if !(7..=15).contains(&digits.len()) {
                return None;
            }
            let groups: Vec<&str> = s
                .split(|c: char| !c.is_ascii_digit())
                .filter(|g| !g.is_empty())
                .collect();
            let looks_like_date = groups.len() == 3
                && (groups[0].len() == 4 && groups[1].len() <= 2 && groups[2].len() <= 2
                    || groups[2].len() == 4 && groups[0].len() <= 2 && groups[1].len() <= 2);
            let year_range =
                groups.len() == 2 && groups.iter().all(|g| g.len() == 4) && s.contains('-');
            if looks_like_date || year_range {
                return None;
            }
            let context = text[..start].to_lowercase();
            let labelled = [
                "isbn", "order", "invoice", "ticket", "ref", "id", "#", "no.", "nr",
            ]
            .iter()
            .any(|w| {
                context
                    .trim_end()
                    .trim_end_matches(':')
                    .trim_end()
                    .ends_with(w)
            });
            if labelled {
                return None;
            }
            let parenthesised_area = s.contains('(');
            let trunk_prefix = s.starts_with('0') && digits.len() >= 9;
            let nanp =
                |g: &[&str]| g.len() == 3 && g[0].len() == 3 && g[1].len() == 3 && g[2].len() == 4;
            let north_american =
                nanp(&groups) || groups.len() == 4 && groups[0] == "1" && nanp(&groups[1..]);
            let grouped = groups.len() >= 2 && groups.iter().all(|g| g.len() >= 2);
            let plain_long = groups.len() == 1
                && (10..=11).contains(&digits.len())
                && phone_word_before(&context);
            let accept = international
                || parenthesised_area
                || north_american
                || trunk_prefix && (grouped || groups.len() == 1)
                || grouped && digits.len() >= 9 && phone_word_before(&context)
                || plain_long;
            if !accept {
                return None;
            }
            // A "(" opening the match belongs to it; one before it does not.
            if s.starts_with(')') {
                start += 1;
            }
            Some((start, end))
        })
        .collect()
}

/// Whether a phone-ish word comes shortly before.
fn phone_word_before(context: &str) -> bool {
    let tail: String = context
        .chars()
        .rev()
        .take(40)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    [
        "phone",
        "call",
        "tel",
        "mobile",
        "cell",
        "number",
        "whatsapp",
        "ring",
        "dial",
        "try",
        "contact",
        "ruf",
        "numéro",
        "appelle",
        "llama",
        "text me",
        "reach me",
        "handy",
        "telefon",
        "nummer",
        "téléphone",
        "portable",
        "teléfono",
        "móvil",
        "fax",
    ]
    .iter()
    .any(|w| tail.contains(w))
}
