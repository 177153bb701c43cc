//! Python: `"""…"""` strings, string prefixes, decorators.

use crate::highlight::spec::{BASE, C_QUOTES, Flavor, Spec, Words};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["python", "py", "python3", "py3"];

pub(super) const SPEC: Spec = Spec {
    flavor: Flavor::Python,
    line_comments: &["#"],
    quotes: C_QUOTES,
    triple_quotes: b"\"'",
    keywords: Words(
        "and as assert async await break class continue def del elif else except finally for \
         from global if import in is lambda match case nonlocal not or pass raise return try \
         while with yield self cls",
    ),
    types: Words("int float str bool bytes list dict set tuple object complex bytearray frozenset"),
    literals: Words("True False None NotImplemented Ellipsis"),
    fn_keywords: Words("def"),
    type_keywords: Words("class"),
    caps_types: true,
    decorators: true,
    ..BASE
};
