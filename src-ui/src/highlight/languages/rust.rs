//! Rust: nested block comments, raw strings `r#"…"#`, lifetimes and character literals, macros.

use crate::highlight::spec::{C_LIKE, Flavor, Spec, Words, q};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["rust", "rs"];

pub(super) const SPEC: Spec = Spec {
    flavor: Flavor::Rust,
    nested_comments: true,
    quotes: &[q(b'"', true, true)],
    keywords: Words(
        "as async await break const continue crate dyn else enum extern fn for if impl in let \
         loop match mod move mut pub ref return self Self static struct super trait type union \
         unsafe use where while yield macro_rules",
    ),
    types: Words("bool char str u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64"),
    literals: Words("true false"),
    fn_keywords: Words("fn"),
    type_keywords: Words("struct enum trait type union"),
    caps_types: true,
    ..C_LIKE
};
