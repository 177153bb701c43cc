//! Kotlin: Java's rules with Kotlin's words.

use super::java;
use crate::highlight::spec::{Spec, Words};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["kotlin", "kt", "kts"];

pub(super) const SPEC: Spec = Spec {
    keywords: Words(
        "as break class continue do else for fun if in interface is object package return \
         super this throw try typealias typeof val var when while by catch constructor finally \
         get import init set where abstract annotation companion data enum external final infix \
         inline inner internal lateinit open operator out override private protected public \
         sealed suspend vararg",
    ),
    types: Words::NONE,
    literals: Words("true false null"),
    fn_keywords: Words("fun"),
    type_keywords: Words("class interface object typealias"),
    ident_extra: &[],
    ..java::SPEC
};
