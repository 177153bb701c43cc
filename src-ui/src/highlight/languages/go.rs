//! Go: raw strings in backticks; exported names called as functions.

use crate::highlight::spec::{C_LIKE, Spec, Words, q};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["go", "golang"];

pub(super) const SPEC: Spec = Spec {
    quotes: &[
        q(b'"', true, false),
        q(b'\'', true, false),
        q(b'`', false, true),
    ],
    keywords: Words(
        "break case chan const continue default defer else fallthrough for func go goto if \
         import interface map package range return select struct switch type var",
    ),
    types: Words(
        "bool byte complex64 complex128 error float32 float64 int int8 int16 int32 int64 rune \
         string uint uint8 uint16 uint32 uint64 uintptr any",
    ),
    literals: Words("true false nil iota"),
    fn_keywords: Words("func"),
    type_keywords: Words("type"),
    caps_types: true,
    caps_calls_are_fns: true,
    ..C_LIKE
};
