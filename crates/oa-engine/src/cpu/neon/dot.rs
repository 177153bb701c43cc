//! The one-row NEON kernels: one weight row by one or several activation rows for every
//! format the engine multiplies itself. Each block's integer sums are taken 16 bytes at a time,
//! with `sdot` where the CPU has the dot-product extension and `smull` + `sadalp` on the others,
//! and scaled in f32 exactly as the plain loops scale them: every kernel gives its plain loop's
//! sums bit for bit (tested under emulation by `cargo xtask test`, on CPUs with and without
//! the extension).
//!
//! `unsafe` here: NEON intrinsics and loads through pointers (every slice's length checked
//! first), and `sdot`, sound only on a CPU that has it, which only the table's choice checks.
#![allow(unsafe_code)]

use std::arch::aarch64::{
    int8x16_t, int32x4_t, uint8x16_t, vaddvq_s32, vandq_u8, vdupq_n_s8, vdupq_n_s32, vdupq_n_u8,
    vdupq_n_u32, vget_low_s8, vld1q_s8, vld1q_u8, vmull_high_s8, vmull_s8, vorrq_u8, vpadalq_s16,
    vqtbl1q_u8, vreinterpretq_s8_u8, vreinterpretq_u8_u32, vshlq_n_u8, vshlq_u8, vshrq_n_u8,
    vsubq_s8, vtstq_u8,
};

use super::super::DotKernels;
use super::super::blocks::{BLOCK, Q4_0Block, Q4_1Block, Q5_0Block, Q5_1Block, Q8_0Block, Q8Block};
use super::super::k_quants::{
    Q4KBlock, Q5KBlock, Q6KBlock, Q8KBlock, QK_K, scaled_sub_sums, scales_and_mins,
};
use super::super::scalar::widen;

/// The table's entry for the kernel `$run::<N, SDOT>` of `$block` by `$activation`: compiled
/// with `sdot` (for a CPU with the dot-product extension) where `$sdot`, else without.
macro_rules! entry {
    ($run:ident, $block:ty, $activation:ty, $sdot:expr) => {{
        #[target_feature(enable = "neon,dotprod")]
        unsafe fn with_sdot<const N: usize>(w: &[$block], a: [&[$activation]; N]) -> [f32; N] {
            $run::<N, true>(w, a)
        }
        fn sdot_rows<const N: usize>(w: &[$block], a: [&[$activation]; N]) -> [f32; N] {
            // SAFETY: this function is in the table only for a CPU with the dot-product
            // extension (the promise `kernels` was called with).
            unsafe { with_sdot(w, a) }
        }
        fn smull_rows<const N: usize>(w: &[$block], a: [&[$activation]; N]) -> [f32; N] {
            $run::<N, false>(w, a)
        }
        match $sdot {
            true => table_entry!(RowKernel, sdot_rows),
            false => table_entry!(RowKernel, smull_rows),
        }
    }};
}

/// The one-row NEON kernels, with `sdot` where `sdot` says.
///
/// # Safety
/// With `sdot`, the CPU must have the dot-product extension: the kernels returned run `sdot`.
pub(super) unsafe fn kernels(sdot: bool) -> DotKernels {
    DotKernels {
        q4_0: entry!(dot_q4_0, Q4_0Block, Q8Block, sdot),
        q4_1: entry!(dot_q4_1, Q4_1Block, Q8Block, sdot),
        q5_0: entry!(dot_q5_0, Q5_0Block, Q8Block, sdot),
        q5_1: entry!(dot_q5_1, Q5_1Block, Q8Block, sdot),
        q8_0: entry!(dot_q8_0, Q8_0Block, Q8Block, sdot),
        q4_k: entry!(dot_q4_k, Q4KBlock, Q8KBlock, sdot),
        q5_k: entry!(dot_q5_k, Q5KBlock, Q8KBlock, sdot),
        q6_k: entry!(dot_q6_k, Q6KBlock, Q8KBlock, sdot),
    }
}

/// `acc` plus the sums of four products of `w` and `a` in each lane, by `sdot`.
///
/// # Safety
/// The CPU must have the dot-product extension.
#[target_feature(enable = "neon,dotprod")]
#[inline]
unsafe fn sdot(acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: the caller's promise that `sdot` exists here; it reads and writes registers only.
    unsafe {
        std::arch::asm!(
            "sdot {acc:v}.4s, {w:v}.16b, {a:v}.16b",
            acc = inout(vreg) acc,
            w = in(vreg) w,
            a = in(vreg) a,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// `acc` plus the products of `w` and `a` summed in pairs and then in pairs of lanes, by
/// `smull` and `sadalp` (each product fits 16 bits: neither side is −128 where the other is).
#[inline(always)]
fn smull(acc: int32x4_t, w: int8x16_t, a: int8x16_t) -> int32x4_t {
    // SAFETY: NEON is part of every aarch64 CPU; these read and write registers only.
    unsafe {
        let low = vmull_s8(vget_low_s8(w), vget_low_s8(a));
        vpadalq_s16(vpadalq_s16(acc, low), vmull_high_s8(w, a))
    }
}

/// `Σ w·a` over 16 values.
#[inline(always)]
fn dot16<const SDOT: bool>(w: int8x16_t, a: int8x16_t) -> i32 {
    // SAFETY: `SDOT` only in the kernels that run where the extension was found.
    let sums = if SDOT {
        unsafe { sdot(vdupq_n_s32(0), w, a) }
    } else {
        // SAFETY: NEON is part of every aarch64 CPU.
        smull(unsafe { vdupq_n_s32(0) }, w, a)
    };
    // SAFETY: NEON is part of every aarch64 CPU.
    unsafe { vaddvq_s32(sums) }
}

/// `Σ w·a` over the 32 values of `w` (two vectors) and `a`.
#[inline(always)]
fn dot32<const SDOT: bool>(w: [int8x16_t; 2], a: &[i8]) -> i32 {
    let a = &a[..32];
    // SAFETY: `a` holds 32 bytes; NEON is part of every aarch64 CPU.
    let (a0, a1) = unsafe { (vld1q_s8(a.as_ptr()), vld1q_s8(a[16..].as_ptr())) };
    let sums = if SDOT {
        // SAFETY: as in `dot16`.
        unsafe { sdot(sdot(vdupq_n_s32(0), w[0], a0), w[1], a1) }
    } else {
        // SAFETY: NEON is part of every aarch64 CPU.
        smull(smull(unsafe { vdupq_n_s32(0) }, w[0], a0), w[1], a1)
    };
    // SAFETY: NEON is part of every aarch64 CPU.
    unsafe { vaddvq_s32(sums) }
}

/// The 16 bytes at `bytes[..16]`.
#[inline(always)]
fn load(bytes: &[u8]) -> uint8x16_t {
    let bytes = &bytes[..16];
    // SAFETY: 16 bytes; NEON is part of every aarch64 CPU.
    unsafe { vld1q_u8(bytes.as_ptr()) }
}

/// The low and the high nibbles of 16 bytes.
#[inline(always)]
fn nibbles(packed: uint8x16_t) -> (uint8x16_t, uint8x16_t) {
    // SAFETY: NEON is part of every aarch64 CPU.
    unsafe { (vandq_u8(packed, vdupq_n_u8(0x0F)), vshrq_n_u8::<4>(packed)) }
}

/// Unsigned bytes as signed ones less `offset`.
#[inline(always)]
fn less(values: uint8x16_t, offset: i8) -> int8x16_t {
    // SAFETY: NEON is part of every aarch64 CPU.
    unsafe { vsubq_s8(vreinterpretq_s8_u8(values), vdupq_n_s8(offset)) }
}

/// A Q4_0/Q4_1 block's values 0..16 (low nibbles) and 16..32 (high nibbles), less `offset`.
#[inline(always)]
fn four_bits(qs: &[u8; BLOCK / 2], offset: i8) -> [int8x16_t; 2] {
    let (low, high) = nibbles(load(qs));
    [less(low, offset), less(high, offset)]
}

/// A Q5_0/Q5_1 block's 5-bit values (fifth bit `i` of the little-endian `qh` for value `i`),
/// less `offset`.
#[inline(always)]
fn five_bits(qs: &[u8; BLOCK / 2], qh: [u8; 4], offset: i8) -> [int8x16_t; 2] {
    const BYTE_OF: [[u8; 16]; 2] = [
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1],
        [2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3],
    ];
    const BIT: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    let (low, high) = nibbles(load(qs));
    // SAFETY: NEON is part of every aarch64 CPU.
    unsafe {
        let words = vreinterpretq_u8_u32(vdupq_n_u32(u32::from_le_bytes(qh)));
        let fifth = |half: usize| {
            let spread = vqtbl1q_u8(words, load(&BYTE_OF[half]));
            vandq_u8(vtstq_u8(spread, load(&BIT)), vdupq_n_u8(0x10))
        };
        [
            less(vorrq_u8(low, fifth(0)), offset),
            less(vorrq_u8(high, fifth(1)), offset),
        ]
    }
}

/// `$name`: the NEON kernel of a format of 32 values per block, whose block `w` gives its
/// values by `$values(w)` and its sum for activation block `x` and integer sum `sumi` by
/// `$scaled(w, x, sumi)`, as the plain loop computes it; with `sdot` where `SDOT`, else
/// without.
macro_rules! kernel32 {
    ($name:ident, $block:ty, $values:expr, $scaled:expr) => {
        #[inline(always)]
        fn $name<const N: usize, const SDOT: bool>(w: &[$block], a: [&[Q8Block]; N]) -> [f32; N] {
            let mut sums = [0f32; N];
            for (b, w) in w.iter().enumerate() {
                let values = $values(w);
                for (sum, a) in sums.iter_mut().zip(a) {
                    let x = &a[b];
                    *sum += $scaled(w, x, dot32::<SDOT>(values, &x.qs));
                }
            }
            sums
        }
    };
}

kernel32!(
    dot_q4_0,
    Q4_0Block,
    |w: &Q4_0Block| four_bits(&w.qs, 8),
    |w: &Q4_0Block, x: &Q8Block, sumi: i32| (widen(w.d) * x.d) * sumi as f32
);
kernel32!(
    dot_q4_1,
    Q4_1Block,
    |w: &Q4_1Block| four_bits(&w.qs, 0),
    |w: &Q4_1Block, x: &Q8Block, sumi: i32| (widen(w.d) * x.d) * sumi as f32 + widen(w.m) * x.s
);
kernel32!(
    dot_q5_0,
    Q5_0Block,
    |w: &Q5_0Block| five_bits(&w.qs, w.qh, 16),
    |w: &Q5_0Block, x: &Q8Block, sumi: i32| (widen(w.d) * x.d) * sumi as f32
);
kernel32!(
    dot_q5_1,
    Q5_1Block,
    |w: &Q5_1Block| five_bits(&w.qs, w.qh, 0),
    |w: &Q5_1Block, x: &Q8Block, sumi: i32| (widen(w.d) * x.d) * sumi as f32 + widen(w.m) * x.s
);
kernel32!(
    dot_q8_0,
    Q8_0Block,
    // SAFETY: `qs` holds 32 bytes; NEON is part of every aarch64 CPU.
    |w: &Q8_0Block| unsafe { [vld1q_s8(w.qs.as_ptr()), vld1q_s8(w.qs[16..].as_ptr())] },
    |w: &Q8_0Block, x: &Q8Block, sumi: i32| (widen(w.d) * x.d) * sumi as f32
);

/// `$name`: the NEON kernel of a k-quant format, whose block `w` gives the values of its
/// sub-block `j` of 32 by `$values(w, j)` and its sum for activation block `x` and the 32-value
/// sums `sub` by `$scaled(w, x, sub)`, as the plain loop computes it; with `sdot` where `SDOT`.
macro_rules! kernel_k {
    ($name:ident, $block:ty, $values:expr, $scaled:expr) => {
        #[inline(always)]
        fn $name<const N: usize, const SDOT: bool>(w: &[$block], a: [&[Q8KBlock]; N]) -> [f32; N] {
            let mut sums = [0f32; N];
            for (b, w) in w.iter().enumerate() {
                let mut sub = [[0i32; QK_K / 32]; N];
                for j in 0..QK_K / 32 {
                    let values = $values(w, j);
                    for (sub, a) in sub.iter_mut().zip(a) {
                        sub[j] = dot32::<SDOT>(values, &a[b].qs[32 * j..]);
                    }
                }
                for ((sum, a), sub) in sums.iter_mut().zip(a).zip(&sub) {
                    *sum += $scaled(w, &a[b], sub);
                }
            }
            sums
        }
    };
}

/// Sub-block `j`'s 4-bit values of a Q4_K or Q5_K block's `qs`: the low nibbles of bytes
/// `32(j/2)..` for even `j`, the high ones for odd.
#[inline(always)]
fn k_nibbles(qs: &[u8; QK_K / 2], j: usize) -> [uint8x16_t; 2] {
    let at = 32 * (j / 2);
    let (low0, high0) = nibbles(load(&qs[at..]));
    let (low1, high1) = nibbles(load(&qs[at + 16..]));
    match j % 2 {
        0 => [low0, low1],
        _ => [high0, high1],
    }
}

kernel_k!(
    dot_q4_k,
    Q4KBlock,
    |w: &Q4KBlock, j: usize| k_nibbles(&w.qs, j).map(|v| less(v, 0)),
    |w: &Q4KBlock, x: &Q8KBlock, sub: &[i32; 8]| {
        let (scales, mins) = scales_and_mins(&w.scales);
        scaled_sub_sums((widen(w.d), widen(w.dmin)), &scales, &mins, sub, x)
    }
);
kernel_k!(
    dot_q5_k,
    Q5KBlock,
    |w: &Q5KBlock, j: usize| {
        let low = k_nibbles(&w.qs, j);
        // SAFETY: NEON is part of every aarch64 CPU.
        unsafe {
            let bit = vdupq_n_u8(1 << j);
            [0, 1].map(|h| {
                let fifth = vandq_u8(vtstq_u8(load(&w.qh[16 * h..]), bit), vdupq_n_u8(0x10));
                less(vorrq_u8(low[h], fifth), 0)
            })
        }
    },
    |w: &Q5KBlock, x: &Q8KBlock, sub: &[i32; 8]| {
        let (scales, mins) = scales_and_mins(&w.scales);
        scaled_sub_sums((widen(w.d), widen(w.dmin)), &scales, &mins, sub, x)
    }
);

/// The NEON kernel of Q6_K: values `q − 32` sixteen at a time, each run of 16 summed and
/// scaled by its own scale in integers, as the plain loop sums them; with `sdot` where `SDOT`.
#[inline(always)]
fn dot_q6_k<const N: usize, const SDOT: bool>(w: &[Q6KBlock], a: [&[Q8KBlock]; N]) -> [f32; N] {
    let mut sums = [0f32; N];
    for (b, w) in w.iter().enumerate() {
        let mut sumi = [0i32; N];
        for i in (0..QK_K).step_by(16) {
            let (half, run, l) = (i / 128, i % 128 / 32, i % 32);
            let (low, high) = nibbles(load(&w.ql[64 * half + 32 * (run % 2) + l..]));
            let low = if run < 2 { low } else { high };
            // SAFETY: NEON is part of every aarch64 CPU.
            let values = unsafe {
                let pairs = vandq_u8(
                    shift_right(load(&w.qh[32 * half + l..]), 2 * run),
                    vdupq_n_u8(3),
                );
                less(vorrq_u8(low, vshlq_n_u8::<4>(pairs)), 32)
            };
            let scale = i32::from(w.scales[i / 16]);
            for (sumi, a) in sumi.iter_mut().zip(a) {
                // SAFETY: activations i..i + 16 of the 256; NEON is part of every aarch64 CPU.
                let x = unsafe { vld1q_s8(a[b].qs[i..i + 16].as_ptr()) };
                *sumi += scale * dot16::<SDOT>(values, x);
            }
        }
        for ((sum, a), sumi) in sums.iter_mut().zip(a).zip(sumi) {
            *sum += (widen(w.d) * a[b].d) * sumi as f32;
        }
    }
    sums
}

/// `bytes >> by`, lane by lane (`by` < 8).
#[inline(always)]
fn shift_right(bytes: uint8x16_t, by: usize) -> uint8x16_t {
    // SAFETY: NEON is part of every aarch64 CPU.
    unsafe { vshlq_u8(bytes, vdupq_n_s8(-(by as i8))) }
}

#[cfg(test)]
mod tests {
    use std::arch::aarch64::vld1q_s8;

    use super::super::super::kernel_tests::Noise;
    use super::*;

    /// `sdot` and `smull` + `sadalp` give the plain sum of 16 products, the extremes included.
    #[test]
    fn both_ways_of_summing_products_give_the_plain_sum() {
        let mut noise = Noise(0x1234_5678_9ABC_DEF1);
        for round in 0..2000 {
            let byte = |noise: &mut Noise, i: usize| match (round + i) % 37 {
                0 => -128,
                1 => 127,
                _ => noise.byte() as i8,
            };
            let w: [i8; 16] = std::array::from_fn(|i| byte(&mut noise, i));
            let a: [i8; 16] = std::array::from_fn(|i| byte(&mut noise, 2 * i));
            let expected: i32 = w
                .iter()
                .zip(&a)
                .map(|(&w, &a)| i32::from(w) * i32::from(a))
                .sum();
            // SAFETY: 16 bytes each; NEON is part of every aarch64 CPU.
            let (wv, av) = unsafe { (vld1q_s8(w.as_ptr()), vld1q_s8(a.as_ptr())) };
            assert_eq!(dot16::<false>(wv, av), expected, "{w:?} · {a:?}");
            if std::arch::is_aarch64_feature_detected!("dotprod") {
                assert_eq!(dot16::<true>(wv, av), expected, "{w:?} · {a:?}");
            }
        }
    }
}
