//! C: preprocessor lines, string prefixes.

use crate::highlight::spec::{C_LIKE, Flavor, Spec, Words};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["c"];

/// C's keywords, which C++ keeps.
pub(super) const KEYWORDS: Words = Words(
    "auto break case const continue default do else enum extern for goto if inline register \
     restrict return sizeof static struct switch typedef union volatile while _Bool \
     _Static_assert _Alignas _Alignof _Atomic _Noreturn _Thread_local",
);

/// C's type names, which C++ keeps.
pub(super) const TYPES: Words = Words(
    "void char short int long float double signed unsigned bool size_t ssize_t ptrdiff_t int8_t \
     int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t uintptr_t intptr_t FILE wchar_t",
);

pub(super) const SPEC: Spec = Spec {
    flavor: Flavor::C,
    keywords: KEYWORDS,
    types: TYPES,
    literals: Words("true false NULL"),
    type_keywords: Words("struct union enum"),
    preprocessor: true,
    ..C_LIKE
};
