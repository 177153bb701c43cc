//! C#: verbatim and interpolated strings, preprocessor lines.

use crate::highlight::spec::{C_LIKE, Flavor, Spec, Words};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["c#", "cs", "csharp"];

pub(super) const SPEC: Spec = Spec {
    flavor: Flavor::CSharp,
    triple_quotes: b"\"",
    keywords: Words(
        "abstract as async await base break case catch checked class const continue default \
         delegate do else enum event explicit extern finally fixed for foreach get goto if \
         implicit in init interface internal is lock namespace new operator out override params \
         private protected public readonly record ref return sealed set sizeof stackalloc static \
         struct switch this throw try typeof unchecked unsafe using var virtual volatile when \
         where while yield",
    ),
    types: Words(
        "bool byte char decimal double dynamic float int long object sbyte short string uint \
         ulong ushort void nint nuint",
    ),
    literals: Words("true false null"),
    type_keywords: Words("class struct interface enum record"),
    caps_types: true,
    caps_calls_are_fns: true,
    preprocessor: true,
    ..C_LIKE
};
