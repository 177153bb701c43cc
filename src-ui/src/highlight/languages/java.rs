//! Java: text blocks `"""…"""`, annotations.

use crate::highlight::spec::{C_LIKE, Spec, Words};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["java"];

pub(super) const SPEC: Spec = Spec {
    triple_quotes: b"\"",
    keywords: Words(
        "abstract assert break case catch class const continue default do else enum extends \
         final finally for goto if implements import instanceof interface native new package \
         private protected public return static strictfp super switch synchronized this throw \
         throws transient try volatile while var record sealed permits yield",
    ),
    types: Words("boolean byte char short int long float double void"),
    literals: Words("true false null"),
    type_keywords: Words("class interface enum record"),
    ident_extra: b"$",
    caps_types: true,
    decorators: true,
    ..C_LIKE
};
