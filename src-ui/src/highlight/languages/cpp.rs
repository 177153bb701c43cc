//! C++: C's rules with more keywords and types, raw strings `R"d(…)d"`.

use super::c;
use crate::highlight::spec::{Spec, Words};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["cpp", "c++", "cc", "cxx", "h", "hpp", "hh", "hxx"];

pub(super) const SPEC: Spec = Spec {
    keywords: c::KEYWORDS,
    extra_keywords: Words(
        "alignas alignof catch class concept consteval constexpr constinit const_cast co_await \
         co_return co_yield decltype delete dynamic_cast explicit export friend mutable namespace \
         new noexcept operator private protected public reinterpret_cast requires static_assert \
         static_cast template this thread_local throw try typeid typename using virtual override \
         final",
    ),
    types: c::TYPES,
    extra_types: Words(
        "char8_t char16_t char32_t string vector map unordered_map set array unique_ptr \
         shared_ptr optional string_view",
    ),
    literals: Words("true false nullptr NULL"),
    type_keywords: Words("struct union enum class namespace"),
    caps_types: true,
    ..c::SPEC
};
