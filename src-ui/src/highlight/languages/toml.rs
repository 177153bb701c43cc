//! TOML: `[section]` headers, keys before `=`.

use crate::highlight::spec::{BASE, Spec, Words, q};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["toml"];

pub(super) const SPEC: Spec = Spec {
    line_comments: &["#"],
    quotes: &[q(b'"', true, false), q(b'\'', false, false)],
    triple_quotes: b"\"'",
    literals: Words("true false inf nan"),
    ident_extra: b"-",
    key_sep: Some(b'='),
    section_headers: true,
    ..BASE
};
