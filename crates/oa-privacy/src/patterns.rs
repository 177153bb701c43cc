//! The patterns of each kind, and the checks that follow a match.

use std::net::{Ipv4Addr, Ipv6Addr};
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
    re(
        r"(?:\+\d{1,3}[ \t\u{a0}.-]?)?(?:\(\d{1,5}\)[ \t\u{a0}.-]?)?\d{1,12}(?:(?:[ \t\u{a0}.-]|/)\d{1,8}){0,5}",
    )
});

/// Endings of file names that look like top-level domains after an "@" ("icon@2x.png").
const FILE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "txt", "js", "ts", "css",
    "html", "json", "yaml", "yml", "toml", "rs", "py", "rb", "lock", "zip", "gz", "tar", "mp3",
    "mp4", "wav", "mov",
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
                    && !ssh_remote(text, m.end())
                    && !documentation_email(m.as_str())
            })
            .map(|m| (m.start(), m.end()))
            .collect(),
        PiiKind::SecretUrl => crate::secrets::urls(text),
        PiiKind::Ip => ips(text),
        PiiKind::Card => CARD
            .find_iter(text)
            .filter(|m| {
                let d = checks::digits(m.as_str());
                (13..=19).contains(&d.len())
                    && card_network(&d)
                    && !product_number(text, m.start(), m.as_str(), &d)
                    && checks::luhn(&d)
                    && !checks::all_same(&d)
            })
            .map(|m| (m.start(), m.end()))
            .collect(),
        PiiKind::Iban => IBAN
            .find_iter(text)
            .filter(|m| checks::iban(m.as_str()))
            .map(|m| (m.start(), m.end()))
            .collect(),
        PiiKind::Phone => phones(text),
        PiiKind::Address => crate::addresses::find(text),
        PiiKind::Secret => crate::secrets::tokens(text),
        PiiKind::Name => crate::names::find(text),
    }
}

/// `spans` sorted, with overlapping ones joined into one that covers them all: where two
/// patterns of one kind claim the same characters ("Keizersgracht 123" and "Keizersgracht 123,
/// 1015 CJ Amsterdam"), the finding is the whole of what they claim, whichever matched first.
pub fn merge_overlapping(mut spans: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s < last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// A match's end without trailing punctuation that ends the sentence rather than the item.
pub fn trim_end(text: &str, start: usize, mut end: usize) -> usize {
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

/// Whether the number starts as a payment card does: 2 (Mastercard), 3 (Amex, Diners, JCB),
/// 4 (Visa), 5 (Mastercard) or 6 (Discover, UnionPay, Maestro). Millisecond timestamps
/// (`1710408413592`), tracking and account numbers that happen to pass Luhn mostly do not.
fn card_network(digits: &[u8]) -> bool {
    digits.first().is_some_and(|d| (2..=6).contains(d))
}

/// Local parts that name a role or stand in for anyone ("user@example.com").
const PLACEHOLDER_MAILBOXES: &[&str] = &[
    "user",
    "username",
    "test",
    "tester",
    "you",
    "your.name",
    "yourname",
    "name",
    "someone",
    "somebody",
    "foo",
    "bar",
    "foo.bar",
    "john.doe",
    "jane.doe",
    "johndoe",
    "janedoe",
    "me",
    "email",
    "mail",
    "admin",
    "info",
    "contact",
    "noreply",
    "no-reply",
    "support",
    "hello",
    "example",
    "first.last",
    "firstname.lastname",
];

/// An address at a domain reserved for documentation (RFC 2606: `example.com`, `.test`,
/// `.invalid`, `.example`, `.localhost`) whose mailbox stands in for anyone: a sample, not
/// someone's address. A personal-looking mailbox there is still flagged, as people use such
/// domains to write out their own address.
fn documentation_email(email: &str) -> bool {
    let Some((local, domain)) = email.to_lowercase().rsplit_once('@').map(|(l, d)| {
        let local = l.split('+').next().unwrap_or(l).to_owned();
        (local, d.to_owned())
    }) else {
        return false;
    };
    let reserved = ["example.com", "example.org", "example.net"]
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
        || [".test", ".invalid", ".example", ".localhost"]
            .iter()
            .any(|t| domain.ends_with(t));
    reserved && PLACEHOLDER_MAILBOXES.contains(&local.as_str())
}

/// `git@github.com:org/repo.git`: an SSH remote, not an e-mail address.
fn ssh_remote(text: &str, end: usize) -> bool {
    let after = &text[end..];
    after.starts_with(':')
        && after[1..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '~' || c == '/')
}

/// A 13-digit EAN (ISBN-13 included) with a valid EAN check digit, or any number labelled as a
/// book or product code: checked before the Luhn check, which one in ten EANs also passes.
fn product_number(text: &str, start: usize, matched: &str, digits: &[u8]) -> bool {
    let labelled = last_words(&text[..start], 24).to_lowercase();
    let label = ["isbn", "ean", "gtin", "upc", "barcode", "barcode:", "sku"]
        .iter()
        .any(|w| labelled.contains(w));
    // An EAN is written as one run of digits; an ISBN-13 starts 978 or 979. A card number
    // grouped in fours that happens to pass the EAN check is still a card.
    let isbn = digits.starts_with(&[9, 7, 8]) || digits.starts_with(&[9, 7, 9]);
    let ean = digits.len() == 13 && checks::ean13(digits) && (isbn || !matched.contains(' '));
    // "+86 136 2030 0576": a phone number after its "+".
    label || ean || text[..start].ends_with('+')
}

/// Up to `n` bytes of `text`'s end, cut at a character boundary.
fn last_words(text: &str, n: usize) -> &str {
    let mut from = text.len().saturating_sub(n);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..]
}

/// Words after which a dotted number is a version, not an address.
const VERSION_WORDS: &[&str] = &[
    "version",
    "versie",
    "versión",
    "versione",
    "versão",
    "версия",
    "build",
    "firmware",
    "release",
    "ver",
    "ver.",
    "kernel",
    "driver",
    "update",
    "patch",
    "sdk",
    "api",
    "os",
    "ios",
    "android",
    "windows",
    "macos",
    "chrome",
    "firefox",
    "python",
    "node",
    "rust",
    "java",
    "app",
    "v",
    "r",
    "nginx",
    "==",
    ">=",
    "<=",
    "~=",
    "^",
    "~",
];

/// Whether a dotted quad is a version number: after `v`, `==`, `:` of an image tag, a version
/// word, or inside a longer dotted run.
fn version_context(text: &str, start: usize, end: usize) -> bool {
    let before = &text[..start];
    let after = &text[end..];
    let word = before
        .trim_end()
        .rsplit(|c: char| c.is_whitespace() || c == '"' || c == '\'' || c == '(')
        .next()
        .unwrap_or("")
        .to_lowercase();
    before.ends_with(['v', 'V', '@', '=', '~', '^'])
        || before.ends_with('.')
        || before.ends_with(':')
            && before[..before.len() - 1].ends_with(|c: char| c.is_alphabetic())
        || VERSION_WORDS.contains(&word.as_str())
        || after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit())
        || after.starts_with('-') && after[1..].starts_with(|c: char| c.is_ascii_alphabetic())
}

/// Addresses that are never a person's: loopback, unspecified, broadcast and the documentation
/// ranges of RFC 5737; the latter still count where the text calls them someone's IP.
fn not_personal_ipv4(text: &str, start: usize, ip: Ipv4Addr) -> bool {
    if ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() {
        return true;
    }
    if ip.is_documentation() {
        let before = last_words(&text[..start], 40).to_lowercase();
        let called_an_ip = [
            "ip",
            "адрес",
            "address",
            "adresse",
            "dirección",
            "indirizzo",
        ]
        .iter()
        .any(|w| before.contains(w));
        return !called_an_ip;
    }
    false
}

/// `10.0.0.0/16`: a network written with its prefix length and no host bits set names a
/// range of addresses (a subnet in a config file), not a machine.
fn network_prefix(after: &str, ip: Ipv4Addr) -> bool {
    let Some(rest) = after.strip_prefix('/') else {
        return false;
    };
    let len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let Ok(prefix) = rest[..len].parse::<u32>() else {
        return false;
    };
    prefix < 32 && u32::from(ip).checked_shl(prefix).unwrap_or(0) == 0
}

fn ips(text: &str) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = IPV4
        .find_iter(text)
        .filter(|m| {
            let Ok(ip) = m.as_str().parse::<Ipv4Addr>() else {
                return false;
            };
            !version_context(text, m.start(), m.end())
                && !not_personal_ipv4(text, m.start(), ip)
                && !network_prefix(&text[m.end()..], ip)
        })
        .map(|m| (m.start(), m.end()))
        .collect();
    for m in IPV6.find_iter(text) {
        let candidate = m.as_str().trim_end_matches(':');
        let start_ok =
            m.start() == 0 || !text[..m.start()].ends_with(|c: char| c.is_alphanumeric());
        let groups = candidate.split(':').filter(|g| !g.is_empty()).count();
        let end = m.start() + candidate.len();
        let end_ok = !text[end..].starts_with(|c: char| c.is_ascii_alphanumeric());
        let personal = candidate.parse::<Ipv6Addr>().is_ok_and(|ip| {
            let s = ip.segments();
            !(ip.is_loopback() || ip.is_unspecified() || s[0] == 0x2001 && s[1] == 0xdb8)
        });
        if start_ok
            && end_ok
            && candidate.len() >= 6
            && (candidate.contains("::") || groups == 8)
            && groups >= 2
            && personal
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
            // Not the tail of a longer token ("v2-1234567", "ID12 345 678"); Chinese and
            // Japanese text puts no space around a number.
            if text[..start].ends_with(|c: char| word_char(c) || c == '.' || c == '/') {
                return None;
            }
            if text[end..].starts_with(|c: char| word_char(c) || c == '/')
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
            let context = last_words(&text[..start], 60).to_lowercase();
            let label = context.trim_end().trim_end_matches([':', '：']).trim_end();
            let labelled = [
                "isbn",
                "ean",
                "order",
                "invoice",
                "ticket",
                "ref",
                "id",
                "#",
                "no.",
                "nr",
                "serial",
                "tracking",
                "sku",
                "build",
                "pedido",
                "commande",
                "ordine",
                "encomenda",
                "заказ",
                "订单",
                "注文",
            ]
            .iter()
            .any(|w| label.ends_with(w));
            // "Bestellnummer", "Kundennummer": numbers, but not phone numbers.
            let other_number = label.rsplit(char::is_whitespace).next().is_some_and(|w| {
                w.ends_with("nummer")
                    && ![
                        "telefonnummer",
                        "handynummer",
                        "mobilnummer",
                        "rufnummer",
                        "faxnummer",
                        "telefoonnummer",
                        "nummer",
                    ]
                    .contains(&w)
            });
            if labelled || other_number {
                return None;
            }
            let parenthesised_area = s.contains('(');
            let trunk_prefix = s.starts_with('0') && digits.len() >= 9;
            // Russian "8-938-192-10-28", Chinese mobiles "13812345678" / "134-0219-3718".
            let russian_trunk = s.starts_with('8')
                && digits.len() == 11
                && groups.len() >= 2
                && groups.get(1).is_some_and(|g| g.len() == 3);
            let chinese_mobile = digits.len() == 11
                && digits[0] == 1
                && (3..=9).contains(&digits[1])
                && (groups.len() == 1 || groups.iter().map(|g| g.len()).eq([3, 4, 4]));
            let cjk_beside = text[..start].ends_with(is_cjk) || text[end..].starts_with(is_cjk);
            // European grouping: "644 58 87 86", "91 084 48 18", "06 12 34 56 78".
            let european = groups.len() >= 4
                && !s.contains(['.', '-', '/'])
                && groups.iter().all(|g| (2..=3).contains(&g.len()))
                && (9..=10).contains(&digits.len());
            let nanp =
                |g: &[&str]| g.len() == 3 && g[0].len() == 3 && g[1].len() == 3 && g[2].len() == 4;
            let north_american =
                nanp(&groups) || groups.len() == 4 && groups[0] == "1" && nanp(&groups[1..]);
            let grouped = groups.len() >= 2 && groups.iter().all(|g| g.len() >= 2);
            let plain_long = groups.len() == 1
                && (10..=11).contains(&digits.len())
                && phone_word_before(&context);
            let accept = international
                || russian_trunk
                || chinese_mobile && (cjk_beside || phone_word_before(&context))
                || european
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

/// Letters and digits that glue onto a number; CJK characters do not (no spaces there).
fn word_char(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{30FF}' | '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{FF00}'..='\u{FFEF}')
}

/// Whether a phone-ish word (or a one-letter label such as "T" or "M:" opening the line) comes
/// shortly before.
fn phone_word_before(context: &str) -> bool {
    let tail = last_words(context, 48);
    let line = tail.rsplit('\n').next().unwrap_or(tail).trim();
    let letter_label = matches!(
        line.trim_end_matches(':'),
        "t" | "m" | "p" | "f" | "tel." | "tél." | "mob" | "mob." | "cel" | "cel." | "tlf" | "ph"
    );
    letter_label
        || [
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
            "llámame",
            "celular",
            "telemóvel",
            "telefone",
            "liga",
            "cellulare",
            "chiamami",
            "bel me",
            "bellen",
            "mobiel",
            "телефон",
            "номер",
            "позвон",
            "звони",
            "هاتف",
            "جوال",
            "اتصل",
            "رقم",
            "电话",
            "手机",
            "联系",
            "電話",
            "携帯",
            "連絡",
            "फ़ोन",
            "फोन",
            "मोबाइल",
            "नंबर",
            "कॉल",
        ]
        .iter()
        .any(|w| tail.contains(w))
}
