//! On-device detection of personal data in text a person is about to share, and its redaction.
//!
//! [`scan`] finds e-mail addresses, phone numbers (also inside Chinese and Japanese text),
//! street addresses in each country's own order, IP addresses, payment card numbers
//! (Luhn-checked), IBANs (mod-97-checked), URLs that carry a credential (in the authority,
//! query, path or fragment, webhooks), access tokens and keys on their own, and people's names
//! (after greetings, sign-offs, form fields and introductions, or as a listed first name and a
//! surname). Look-alikes are left alone: version numbers, loopback and documentation IPs, SSH
//! remotes, ISBN and EAN numbers, order numbers, placeholders such as `YOUR_API_KEY`, and famous
//! names nobody gives for themselves. Findings carry byte offsets into the text and never
//! overlap: where two detectors claim the same characters, the more specific one wins (a card
//! number is not also a phone number). [`redact`] replaces findings with a placeholder naming
//! their kind.
//!
//! Everything runs locally with fixed patterns, checksums and compiled-in name lists; nothing is
//! looked up anywhere.
//! The detector is tuned for recall on chat text: a person reviews every finding before
//! sharing, so a false alarm costs a click while a miss may leak something.

mod addresses;
mod checks;
pub mod evaluation;
mod names;
mod patterns;
mod secrets;

use serde::{Deserialize, Serialize};

/// What kind of personal data a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A postal street address.
    Address,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A payment card number.
    Card,
    /// An international bank account number.
    Iban,
    /// A URL carrying a password, token, key or signature.
    SecretUrl,
    /// An access token or API key outside a URL (`Bearer …`, `ghp_…`, `AKIA…`).
    Secret,
    /// A person's name.
    Name,
}

impl PiiKind {
    /// Every kind, in the order overlapping findings are settled: the first wins.
    pub const PRIORITY: [PiiKind; 9] = [
        PiiKind::SecretUrl,
        PiiKind::Secret,
        PiiKind::Email,
        PiiKind::Iban,
        PiiKind::Card,
        PiiKind::Ip,
        PiiKind::Address,
        PiiKind::Phone,
        PiiKind::Name,
    ];

    /// The wire name, e.g. `secret_url`.
    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::Address => "address",
            PiiKind::Ip => "ip",
            PiiKind::Card => "card",
            PiiKind::Iban => "iban",
            PiiKind::SecretUrl => "secret_url",
            PiiKind::Secret => "secret",
            PiiKind::Name => "name",
        }
    }

    /// What a redacted finding is replaced with, e.g. `[email]`.
    pub fn placeholder(self) -> String {
        format!("[{}]", self.as_str())
    }

    /// The kind, described for a person.
    pub fn description(self) -> &'static str {
        match self {
            PiiKind::Email => "e-mail address",
            PiiKind::Phone => "phone number",
            PiiKind::Address => "street address",
            PiiKind::Ip => "IP address",
            PiiKind::Card => "payment card number",
            PiiKind::Iban => "bank account number (IBAN)",
            PiiKind::SecretUrl => "link with a password or access key",
            PiiKind::Secret => "access key or token",
            PiiKind::Name => "a person's name",
        }
    }
}

/// One piece of personal data found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// What it is.
    pub kind: PiiKind,
    /// Byte offset of its first byte.
    pub start: usize,
    /// Byte offset just past its last byte.
    pub end: usize,
    /// The text found (`text[start..end]`).
    pub text: String,
}

/// Every piece of personal data in `text`, in order, none overlapping another.
pub fn scan(text: &str) -> Vec<Finding> {
    let mut candidates: Vec<Finding> = Vec::new();
    // Ranges taken so far, sorted by start and never overlapping: a long text with many
    // findings is checked in logarithmic time per finding.
    let mut taken: Vec<(usize, usize)> = Vec::new();
    for kind in PiiKind::PRIORITY {
        for (start, end) in patterns::find(kind, text) {
            let at = taken.partition_point(|&(s, _)| s < start);
            let overlaps =
                at > 0 && taken[at - 1].1 > start || taken.get(at).is_some_and(|&(s, _)| s < end);
            if !overlaps && start < end {
                taken.insert(at, (start, end));
                candidates.push(Finding {
                    kind,
                    start,
                    end,
                    text: text[start..end].to_owned(),
                });
            }
        }
    }
    candidates.sort_by_key(|f| f.start);
    candidates
}

/// `text` with each finding replaced by its kind's placeholder (`[email]`, `[phone]`, …).
/// Findings must come from [`scan`] of this text (in order, not overlapping); others are
/// skipped.
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in findings {
        let valid = f.start >= at
            && f.end <= text.len()
            && text.is_char_boundary(f.start)
            && text.is_char_boundary(f.end);
        if !valid {
            continue;
        }
        out.push_str(&text[at..f.start]);
        out.push_str(&f.kind.placeholder());
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PiiKind, String)> {
        scan(text).into_iter().map(|f| (f.kind, f.text)).collect()
    }

    #[test]
    fn each_kind_is_found_with_its_exact_text() {
        let text = "Mail jane.doe+news@mail.example.co.uk or call +1 (415) 555-0132. \
                    I live at 221B Baker Street, London NW1 6XE. Server 81.2.69.44, \
                    card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, \
                    reset https://example.com/reset?token=abc123XYZ. My name is Ada Lovelace.";
        assert_eq!(
            kinds(text),
            [
                (PiiKind::Email, "jane.doe+news@mail.example.co.uk".into()),
                (PiiKind::Phone, "+1 (415) 555-0132".into()),
                (PiiKind::Address, "221B Baker Street, London NW1 6XE".into()),
                (PiiKind::Ip, "81.2.69.44".into()),
                (PiiKind::Card, "4111 1111 1111 1111".into()),
                (PiiKind::Iban, "DE89 3704 0044 0532 0130 00".into()),
                (
                    PiiKind::SecretUrl,
                    "https://example.com/reset?token=abc123XYZ".into()
                ),
                (PiiKind::Name, "Ada Lovelace".into()),
            ]
        );
    }

    #[test]
    fn look_alikes_are_not_findings() {
        for text in [
            "Version 2.10.3 shipped on 2024-03-15 at 10:30.",
            "It costs $1,299.00, order 4111 1111 1111 1112.",
            "See https://example.com/search?q=cats&page=2 and ping @alice.",
            "I'm fine, my name is not important, call me later.",
            "I walked down Baker Street yesterday; 3 + 4 = 7 in room 404.",
            "The years 1990-2020 saw 5 km of new track, #ff00aa is pink.",
            "DE00 3704 0044 0532 0130 00 is not a valid IBAN.",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
    }

    #[test]
    fn versions_local_and_documentation_addresses_remotes_and_product_codes_are_not_findings() {
        for text in [
            "pip install requests==2.31.0 and upgrade to v1.2.3.4",
            "Windows build 10.0.19045.1 and firmware 4.22.2.66 crash on start",
            "Firmware 11.11.4.102 fixed the Wi-Fi issue",
            "docker run -p 127.0.0.1:8080:80 nginx:1.25.3",
            "bind_address = \"0.0.0.0\" and ::1:11434",
            "ping 198.51.100.18 -c 4; the docs use 203.0.113.7 and 2001:db8::1",
            "git clone git@github.com:rust-lang/rust.git",
            "ISBN 9782046797076, EAN 4003167217140, barcode: 8718597461150",
            "Bestellnummer 3981960945, Order 086-1960743-6108945",
            "{\"created_at\": 1710408413592, \"ttl\": 86400}",
            "cidr_block = \"10.0.0.0/16\", subnets = [\"10.0.1.0/24\"]",
            "Send a test message to user@example.com or test@example.org.",
            "DATABASE_URL=postgres://postgres:password@localhost:5432/myapp",
            "webhook_url: https://hooks.slack.com/services/XXX/YYY/ZZZ",
        ] {
            assert_eq!(kinds(text), [], "{text}");
        }
        // A host inside a subnet is an address; a sample mailbox with a personal name is too.
        assert_eq!(
            kinds("the NAS is 10.0.1.23/24"),
            [(PiiKind::Ip, "10.0.1.23".into())]
        );
        assert_eq!(
            kinds("mail ana.ruiz@example.com"),
            [(PiiKind::Email, "ana.ruiz@example.com".into())]
        );
        // A documentation address someone calls their IP is still flagged.
        assert_eq!(
            kinds("my home IP is 203.0.113.74"),
            [(PiiKind::Ip, "203.0.113.74".into())]
        );
        // A card grouped in fours is a card even when it passes the EAN check.
        assert_eq!(
            kinds("use 4513 093 221 529 in the sandbox"),
            [(PiiKind::Card, "4513 093 221 529".into())]
        );
    }

    #[test]
    fn phones_are_found_in_text_without_spaces_and_in_local_groupings() {
        for (text, phone) in [
            ("我的电话是13812345678，请联系", "13812345678"),
            ("電話番号は090-5638-7821です", "090-5638-7821"),
            ("llámame al 686 84 29 45", "686 84 29 45"),
            ("Телефон: 8-938-192-10-28", "8-938-192-10-28"),
            (
                "M: +86 136 2030 0576\nm.ali@example.es",
                "+86 136 2030 0576",
            ),
            ("मेरा मोबाइल नंबर 9030693769 है", "9030693769"),
        ] {
            assert!(
                kinds(text).contains(&(PiiKind::Phone, phone.into())),
                "{text}: {:?}",
                kinds(text)
            );
        }
    }

    #[test]
    fn redaction_replaces_only_the_findings() {
        let text = "Write to bob@example.org or 020 7946 0958 — thanks!";
        let findings = scan(text);
        assert_eq!(
            redact(text, &findings),
            "Write to [email] or [phone] — thanks!"
        );
        assert_eq!(redact(text, &[]), text);
    }

    #[test]
    fn offsets_are_bytes_of_the_original_text() {
        let text = "Grüße! Meine Nummer: +49 30 901820, E-Mail: jürgen@example.de";
        for f in scan(text) {
            assert_eq!(&text[f.start..f.end], f.text);
        }
        assert!(
            kinds(text).iter().any(|(k, _)| *k == PiiKind::Phone),
            "{:?}",
            kinds(text)
        );
    }

    #[test]
    fn any_input_is_scanned_without_panicking() {
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..40 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let pick = (seed >> 33) as usize;
                let pieces = [
                    "@",
                    ".",
                    "+",
                    "1",
                    "9",
                    " ",
                    "-",
                    ":",
                    "/",
                    "?",
                    "=",
                    "ü",
                    "€",
                    "a",
                    "Z",
                    "https://",
                    "my name is ",
                    "Street",
                    "(",
                    ")",
                    "DE",
                    "::",
                ];
                s.push_str(pieces[pick % pieces.len()]);
            }
            let findings = scan(&s);
            for f in &findings {
                assert_eq!(&s[f.start..f.end], f.text);
            }
            let _ = redact(&s, &findings);
        }
    }
}
