//! JavaScript and TypeScript: template strings, decorators, `$` in names.

use crate::highlight::spec::{C_LIKE, Spec, Words, q};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &[
    "javascript",
    "js",
    "jsx",
    "mjs",
    "cjs",
    "typescript",
    "ts",
    "tsx",
    "mts",
];

pub(super) const SPEC: Spec = Spec {
    quotes: &[
        q(b'"', true, false),
        q(b'\'', true, false),
        q(b'`', true, true),
    ],
    keywords: Words(
        "async await break case catch class const continue debugger default delete do else \
         export extends finally for from function get if implements import in instanceof \
         interface let new of return set static super switch this throw try typeof var void while \
         with yield type enum declare namespace abstract private protected public readonly keyof \
         as satisfies",
    ),
    types: Words("string number boolean any unknown never object bigint symbol"),
    literals: Words("true false null undefined NaN Infinity"),
    fn_keywords: Words("function"),
    type_keywords: Words("class interface type enum"),
    ident_extra: b"$",
    ident_start_extra: b"$",
    caps_types: true,
    decorators: true,
    ..C_LIKE
};
