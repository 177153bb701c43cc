//! The aarch64 kernels: NEON one-row kernels for every format (`dot.rs`), with `sdot` where
//! the CPU has the dot-product extension (asked at run time; its intrinsic not yet stable, so
//! through `asm!`) and `smull` + `sadalp` on older cores; here, the table for the features
//! found. There is no repacking here: the repacked rows and attention keep the plain loops.
#![allow(unsafe_code)]

use super::Kernels;
use super::features::Features;

mod dot;

/// `plain` with the NEON one-row kernels in place of its plain ones, unless the plain loops
/// were asked for.
pub(super) fn kernels(features: Features, plain: Kernels) -> Kernels {
    if !features.neon {
        return plain;
    }
    Kernels {
        // SAFETY: `features` found the dot-product extension on this CPU where `dotprod` says.
        dot: unsafe { dot::kernels(features.dotprod) },
        ..plain
    }
}
