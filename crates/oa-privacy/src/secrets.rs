//! Credentials: URLs that carry one (a password in the authority, a token in the query, the
//! path or the fragment, a webhook) and access tokens and keys on their own (`Bearer …`,
//! `ghp_…`, `AKIA…`, JWTs, `API_KEY = "…"`), with placeholders and documentation examples
//! (`YOUR_API_KEY`, `<token>`, `xxxx`, `${TOKEN}`) left alone.

use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid built-in pattern")
}

static URL: LazyLock<Regex> = LazyLock::new(|| re(r#"(?i)\b[a-z][a-z0-9+.-]{1,15}://[^\s<>"'`]+"#));

/// Query or fragment parameters whose value is a credential.
static SECRET_PARAM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[?&#;](?:access[_-]?token|refresh[_-]?token|id[_-]?token|auth[_-]?token|token|api[_-]?key|apikey|app[_-]?id|appid|key|sig|signature|x-amz-signature|x-amz-credential|x-goog-signature|x-goog-credential|googleaccessid|password|passwd|pwd|pass|secret|client[_-]?secret|auth|session[_-]?id|sessionid|sid|code|otp|magic|reset[_-]?token|invite[_-]?token|ticket|jwt)=([^&#\s]{3,})",
    )
});

/// Hosts and paths of webhooks and bot APIs: the URL itself is the credential.
static WEBHOOK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)^https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d|[a-z0-9.-]*\.webhook\.office\.com/|outlook\.office(?:365)?\.com/webhook/|api\.telegram\.org/bot\d|chat\.googleapis\.com/v1/spaces/[^/]+/messages\?.*key=)",
    )
});

/// Path words after which the next segment is a one-time credential.
const TOKEN_PATH_WORDS: &[&str] = &[
    "reset",
    "reset-password",
    "password-reset",
    "password",
    "verify",
    "verify-email",
    "confirm",
    "confirmation",
    "activate",
    "activation",
    "invite",
    "invitation",
    "magic",
    "magic-link",
    "token",
    "tokens",
    "auth",
    "login",
    "unsubscribe",
    "share",
    "s",
    "download",
    "d",
    "key",
    "keys",
    "secret",
    "webhook",
    "webhooks",
    "hooks",
];

/// Tokens with a known shape: GitHub, GitLab, Stripe, OpenAI, AWS, Slack, Google, npm, JWTs,
/// private keys.
static KNOWN_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_-]{20,}|[sr]k_live_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{24,}|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}|(?:AKIA|ASIA)[A-Z0-9]{16}|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[A-Za-z0-9_-]{35}|npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{30,}|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})|-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----",
    )
});

/// A credential after a word that names one: `Bearer …`, `API_KEY = "…"`, `token: …`, the
/// AWS CLI's `AWS Secret Access Key [None]: …`.
static NAMED_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?i)(?:\bbearer\s+|\b(?:authorization|x-api-key|api[_-]?key|apikey|access[_ -]?key(?:[_ -]?id)?|secret[_ -]?(?:access[_ -]?)?key|client[_ -]?secret|secret|[a-z_]*token|password|passwd|pwd)(?:[ \t]*\[[^\]\n]{0,24}\])?["']?\s*[:=]\s*(?:"([^"\s]{12,128})"|'([^'\s]{12,128})'|["']?(?:bearer\s+|token\s+|basic\s+)?))([A-Za-z0-9_\-./+=~]{12,})?"#,
    )
});

/// Every URL carrying a credential.
pub fn urls(text: &str) -> Vec<(usize, usize)> {
    URL.find_iter(text)
        .filter_map(|m| {
            let end = crate::patterns::trim_end(text, m.start(), m.end());
            let url = &text[m.start()..end];
            carries_credential(url).then_some((m.start(), end))
        })
        .collect()
}

fn carries_credential(url: &str) -> bool {
    let after_scheme = &url[url.find("://").map_or(0, |i| i + 3)..];
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    let password = authority.split_once('@').is_some_and(|(user, _)| {
        user.split_once(':')
            .is_some_and(|(_, p)| !placeholder(p) && !stand_in_password(p))
    });
    if password {
        return true;
    }
    if WEBHOOK.is_match(url) {
        // The IDs and the key after the fixed prefix: real ones are long and varied,
        // documentation writes `XXX/YYY/ZZZ` or `T00000000`.
        let path = after_scheme.split_once('/').map_or("", |(_, p)| p);
        let varied = path.split(['/', '?', '&', '=', ':']).any(|part| {
            let mut seen: Vec<char> = part.chars().collect();
            seen.sort_unstable();
            seen.dedup();
            part.len() >= 8 && seen.len() >= 5 && part.contains(|c: char| c.is_ascii_digit())
        });
        return varied && !placeholder(url);
    }
    if SECRET_PARAM
        .captures_iter(url)
        .any(|c| c.get(1).is_some_and(|v| !placeholder(v.as_str())))
    {
        return true;
    }
    // Any query or fragment value, or a path segment after a token word, that looks random.
    let (path, query) = after_scheme
        .split_once(['?', '#'])
        .unwrap_or((after_scheme, ""));
    let query_secret = query
        .split(['&', '#', ';'])
        .filter_map(|p| p.split_once('=').map(|(_, v)| v))
        .any(|v| random_token(v, 20));
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let path_secret = segments.iter().enumerate().any(|(i, seg)| {
        let after_word =
            i > 0 && TOKEN_PATH_WORDS.contains(&segments[i - 1].to_lowercase().as_str());
        after_word && random_token(seg, 16) || random_token(seg, 32) && !hex_or_uuid(seg)
    });
    query_secret || path_secret
}

/// Passwords that documentation writes in sample connection strings
/// (`postgres://postgres:password@localhost/app`): the word for a password, not one.
fn stand_in_password(value: &str) -> bool {
    [
        "password",
        "passwd",
        "pass",
        "pwd",
        "pw",
        "secret",
        "changeme",
        "change-me",
        "pa$$word",
        "mypassword",
        "mysecretpassword",
        "p@ssw0rd",
        "pass123",
        "password123",
        "xxx",
        "***",
    ]
    .contains(&value.to_lowercase().as_str())
}

/// Every access token or key outside a URL.
pub fn tokens(text: &str) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = KNOWN_TOKEN
        .find_iter(text)
        .filter(|m| !placeholder(m.as_str()))
        .map(|m| (m.start(), m.end()))
        .collect();
    for c in NAMED_TOKEN.captures_iter(text) {
        // A quoted value may hold any character but a space (`password = "Tr0ub4dor&3!"`);
        // a bare one ends at the first that a token does not use.
        let Some(value) = c.get(1).or_else(|| c.get(2)).or_else(|| c.get(3)) else {
            continue;
        };
        let v = value.as_str().trim_end_matches(['.', ',']);
        if random_token(v, 12) && !placeholder(v) && !v.contains("://") {
            found.push((value.start(), value.start() + v.len()));
        }
    }
    // A bearer JWT is found by its shape and by its word: keep it once.
    found.sort_unstable();
    found.dedup_by(|later, earlier| later.0 < earlier.1);
    found
}

/// Whether `value` looks like a machine-made secret: long enough, letters and digits mixed, and
/// varied (not `aaaa…`, not a word or a path).
fn random_token(value: &str, min_len: usize) -> bool {
    let v = value.trim_end_matches('=');
    if v.len() < min_len || placeholder(v) {
        return false;
    }
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    let upper = v.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = v.bytes().filter(u8::is_ascii_lowercase).count();
    let others = v.len() - digits - upper - lower;
    if others * 4 > v.len() || v.contains('.') && v.bytes().filter(|b| *b == b'.').count() > 2 {
        return false;
    }
    let classes = [digits, upper, lower].iter().filter(|n| **n > 0).count();
    classes >= 2 && digits > 0 && entropy(v) >= 3.5 || classes == 3 && entropy(v) >= 3.8
}

/// Shannon entropy of `value`, bits per character.
fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[usize::from(b)] += 1;
    }
    let n = value.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Commit hashes and UUIDs: identifiers, not credentials, unless a token word comes first.
fn hex_or_uuid(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Placeholders and documentation examples: `YOUR_API_KEY`, `<token>`, `xxxx`, `${TOKEN}`,
/// `0000…`, `AKIAIOSFODNN7EXAMPLE`.
pub fn placeholder(value: &str) -> bool {
    let lower = value.to_lowercase();
    if [
        "your",
        "example",
        "placeholder",
        "changeme",
        "redacted",
        "dummy",
        "sample",
        "<",
        ">",
        "${",
        "{{",
        "***",
        "...",
        "…",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        return true;
    }
    // A long run of one character: xxxxxxxx, XXXXXXXX, 00000000.
    let mut run = 1;
    let mut prev = None;
    for c in lower.chars() {
        if Some(c) == prev {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else {
            run = 1;
        }
        prev = Some(c);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans<'t>(text: &'t str, found: &[(usize, usize)]) -> Vec<&'t str> {
        found.iter().map(|(s, e)| &text[*s..*e]).collect()
    }

    #[test]
    fn tokens_in_url_paths_and_queries_are_found() {
        for url in [
            "https://hooks.slack.com/services/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",
            "https://discord.com/api/webhooks/123456789012345678/aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3",
            "https://app.mytodo.io/password/reset/nOF4G2rCvdNlnAg3BSoNsKbkGQ0vzdFRtaK0_Vn9",
            "https://portal.fitclub.nl/reset?t=vxf120rXMB8NzuCKVfy63uGsDgdpGYXr",
            "https://b.s3.amazonaws.com/r.pdf?X-Amz-Date=20250101T000000Z&X-Amz-Signature=9f8e7d6c5b4a39281706f5e4d3c2b1a0",
            "https://api.telegram.org/bot1234567890:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr/sendMessage",
            "https://deploy:glpat-x7Kq2mN9vR4tY8wZ1aB3@gitlab.acme-infra.io/infra/tf.git",
            "https://zoom.us/j/12345678901?pwd=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA",
        ] {
            let text = format!("link: {url} thanks");
            assert_eq!(spans(&text, &urls(&text)), [url], "{url}");
        }
    }

    #[test]
    fn ordinary_and_placeholder_urls_are_not_secrets() {
        for text in [
            "https://www.google.com/search?q=rust+lifetimes&hl=en",
            "https://shop.example.com/product/123456?utm_source=newsletter&utm_medium=email&ref=home",
            "https://github.com/rust-lang/rust/commit/8f3c2a1b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
            "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://api.example.com/reset?token=<your-token>",
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        ] {
            assert_eq!(spans(text, &urls(text)), Vec::<&str>::new(), "{text}");
        }
    }

    #[test]
    fn keys_and_bearer_tokens_are_found_and_placeholders_are_not() {
        let text = "export GITHUB_TOKEN=ghp_Wb2dmVcRwTDMJ6Na2qw6J9CiMSZqEnC8nJLo\n\
                    AWS_ACCESS_KEY_ID=AKIA4TE8GGS5A026NS8I\n\
                    curl -H \"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz\"";
        assert_eq!(
            spans(text, &tokens(text)),
            [
                "ghp_Wb2dmVcRwTDMJ6Na2qw6J9CiMSZqEnC8nJLo",
                "AKIA4TE8GGS5A026NS8I",
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJlMTIz",
            ]
        );
        let text = "AWS Secret Access Key [None]: wJ8rXtUn2FEMI/K7MDENG/bPxRfiCYzQ4vH9kLmA\n\
                    password = \"Tr0ub4dor&3xQz!9\"";
        assert_eq!(
            spans(text, &tokens(text)),
            [
                "wJ8rXtUn2FEMI/K7MDENG/bPxRfiCYzQ4vH9kLmA",
                "Tr0ub4dor&3xQz!9"
            ]
        );
        for text in [
            "API_KEY=YOUR_API_KEY",
            "curl -H \"Authorization: Bearer <token>\" https://api.example.com/v1/me",
            "export OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxx",
            "Set STRIPE_SECRET to sk_live_XXXXXXXXXXXXXXXXXXXXXXXX in production.",
            "token: ${GITHUB_TOKEN}",
            "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
            "password: \"********\"",
        ] {
            assert_eq!(spans(text, &tokens(text)), Vec::<&str>::new(), "{text}");
        }
    }
}
