//! JSON (with the comments of JSONC and JSON5): keys are the strings before `:`.

use crate::highlight::spec::{C_LIKE, Spec, Words};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["json", "jsonc", "json5"];

pub(super) const SPEC: Spec = Spec {
    literals: Words("true false null NaN Infinity"),
    string_keys: true,
    ..C_LIKE
};
