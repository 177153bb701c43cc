//! YAML: keys before `: `, anchors, aliases and tags.

use crate::highlight::spec::{BASE, Spec, Words, q};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["yaml", "yml"];

pub(super) const SPEC: Spec = Spec {
    line_comments: &["#"],
    hash_comment_at_word: true,
    quotes: &[q(b'"', true, false), q(b'\'', false, false)],
    quote_after_word_is_text: true,
    literals: Words("true false null yes no on off True False Null TRUE FALSE NULL Yes No ~"),
    ident_extra: b"-.",
    key_sep: Some(b':'),
    string_keys: true,
    yaml_marks: true,
    ..BASE
};
