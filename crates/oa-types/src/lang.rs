//! The language a text is written in, as a BCP-47 tag (`en`, `de`, `zh`, …); with the `lang`
//! feature.
//!
//! Open-Assistant records each message's language so that the dataset can be split by it. The
//! guess is made from the text alone; when it is not reliable (text too short, mixed or in a
//! language the detector does not know) the language is left unknown rather than guessed. The
//! desktop store and the dataset server both call this, so they agree on every message.

use whatlang::Lang;

/// Below this many letters a guess is a coin toss, whatever the detector says.
const MIN_LETTERS: usize = 8;

/// The BCP-47 tag of the language `text` is written in, when it can be told reliably.
pub fn detect_lang(text: &str) -> Option<&'static str> {
    if text.chars().filter(|c| c.is_alphabetic()).count() < MIN_LETTERS {
        return None;
    }
    let info = whatlang::detect(text)?;
    info.is_reliable().then(|| bcp47(info.lang()))
}

/// ISO 639-3 (what the detector names) to BCP-47, which uses the two-letter ISO 639-1 code
/// wherever one exists — as every language the detector knows has.
fn bcp47(lang: Lang) -> &'static str {
    match lang {
        Lang::Epo => "eo",
        Lang::Eng => "en",
        Lang::Rus => "ru",
        Lang::Cmn => "zh",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Ben => "bn",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Ukr => "uk",
        Lang::Kat => "ka",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Jpn => "ja",
        Lang::Heb => "he",
        Lang::Yid => "yi",
        Lang::Pol => "pl",
        Lang::Amh => "am",
        Lang::Jav => "jv",
        Lang::Kor => "ko",
        Lang::Nob => "nb",
        Lang::Dan => "da",
        Lang::Swe => "sv",
        Lang::Fin => "fi",
        Lang::Tur => "tr",
        Lang::Nld => "nl",
        Lang::Hun => "hu",
        Lang::Ces => "cs",
        Lang::Ell => "el",
        Lang::Bul => "bg",
        Lang::Bel => "be",
        Lang::Mar => "mr",
        Lang::Kan => "kn",
        Lang::Ron => "ro",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Mkd => "mk",
        Lang::Lit => "lt",
        Lang::Lav => "lv",
        Lang::Est => "et",
        Lang::Tam => "ta",
        Lang::Vie => "vi",
        Lang::Urd => "ur",
        Lang::Tha => "th",
        Lang::Guj => "gu",
        Lang::Uzb => "uz",
        Lang::Pan => "pa",
        Lang::Aze => "az",
        Lang::Ind => "id",
        Lang::Tel => "te",
        Lang::Pes => "fa",
        Lang::Mal => "ml",
        Lang::Ori => "or",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Sin => "si",
        Lang::Khm => "km",
        Lang::Tuk => "tk",
        Lang::Aka => "ak",
        Lang::Zul => "zu",
        Lang::Sna => "sn",
        Lang::Afr => "af",
        Lang::Lat => "la",
        Lang::Slk => "sk",
        Lang::Cat => "ca",
        Lang::Tgl => "tl",
        Lang::Hye => "hy",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_languages_get_their_two_letter_tags() {
        assert_eq!(
            detect_lang("The weather is lovely today, so we are going for a walk in the park."),
            Some("en")
        );
        assert_eq!(
            detect_lang("Das Wetter ist heute wunderschön, deshalb gehen wir im Park spazieren."),
            Some("de")
        );
        assert_eq!(
            detect_lang("今天天气很好，我们去公园散步吧。你想一起去吗？"),
            Some("zh")
        );
    }

    #[test]
    fn short_or_letterless_text_has_no_language() {
        assert_eq!(detect_lang("ok"), None);
        assert_eq!(detect_lang("Hi there"), None);
        assert_eq!(detect_lang("12345 678 + 9 = ?"), None);
    }
}
