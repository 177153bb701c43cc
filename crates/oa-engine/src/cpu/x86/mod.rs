//! The x86-64 kernels: AVX2 with FMA and F16C for every kernel (`dot.rs`, `tiles.rs`,
//! `attention.rs`), AVX-512 VNNI for the repacked rows where the CPU has it, compiled for
//! those features and chosen at run time; here, the table for the features found, and the
//! load all the kernel files use.
//!
//! With the file mapping (`mapped.rs`) and the NEON kernels, this is the engine's only
//! `unsafe` code: calling a function compiled for AVX2 is sound only on a CPU that has it,
//! which only the table's choice checks, once; and the kernels load through pointers.
#![allow(unsafe_code)]

use std::arch::x86_64::{__m256i, _mm256_loadu_si256};

use super::Kernels;
use super::features::Features;

mod attention;
mod dot;
mod tiles;

/// `plain` with the x86 kernels `features` allow in its place: every kernel where the CPU has
/// AVX2, FMA and F16C, the repacked rows' with VNNI where it also has AVX-512 VNNI.
pub(super) fn kernels(features: Features, plain: Kernels) -> Kernels {
    if !features.avx2 {
        return plain;
    }
    // SAFETY: `features` found AVX2, FMA and F16C on this CPU, and AVX-512 VNNI and VL where
    // `avx512_vnni` says.
    unsafe {
        Kernels {
            dot: dot::kernels(),
            tiles: tiles::kernels(features.avx512_vnni),
            attention: attention::kernels(),
        }
    }
}

/// The 32 bytes at `p`.
///
/// # Safety
/// `p` must be valid for reading 32 bytes.
#[target_feature(enable = "avx2")]
unsafe fn load(p: *const u8) -> __m256i {
    // SAFETY: the caller's promise; `loadu` needs no alignment.
    unsafe { _mm256_loadu_si256(p.cast()) }
}
