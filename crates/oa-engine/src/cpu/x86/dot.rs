//! The one-row kernels with AVX2 and FMA: one weight row as the file stores it by one or
//! several activation rows.
//!
//! As llama.cpp's x86 kernels do, each block's 8-bit products are summed exactly in integers,
//! scaled in eight float lanes with fused multiply-adds, and the lanes summed once per row; the
//! plain loops sum block by block instead, so results differ in the last bits only
//! (`kernel_tests.rs` bounds the difference on random blocks). Several activation rows (a
//! prompt's tokens) go through one pass over a weight row, so its blocks are loaded and
//! unpacked once for all.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, __m256i, _mm_add_ps, _mm_add_ss, _mm_and_si128, _mm_cvtsi64_si128, _mm_cvtss_f32,
    _mm_loadu_si128, _mm_movehdup_ps, _mm_movehl_ps, _mm_set1_epi8, _mm_set1_epi16,
    _mm_set1_epi64x, _mm_srli_epi16, _mm_unpacklo_epi8, _mm256_add_epi32, _mm256_and_si256,
    _mm256_andnot_si256, _mm256_castps256_ps128, _mm256_cmpeq_epi8, _mm256_cvtepi32_ps,
    _mm256_cvtepu8_epi16, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_si256,
    _mm256_madd_epi16, _mm256_maddubs_epi16, _mm256_or_si256, _mm256_set_epi64x, _mm256_set_m128i,
    _mm256_set1_epi8, _mm256_set1_epi16, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_set1_ps,
    _mm256_setzero_ps, _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_sign_epi8,
    _mm256_slli_epi16, _mm256_srli_epi16, _mm256_sub_epi8, _mm256_sub_epi16,
};

use super::super::DotKernels;
use super::super::blocks::{BLOCK, Q4_0Block, Q4_1Block, Q5_0Block, Q5_1Block, Q8_0Block, Q8Block};
use super::super::k_quants::{Q4KBlock, Q5KBlock, Q6KBlock, Q8KBlock, scale_and_min_words};
use super::super::scalar::widen;
use super::load;

/// `$kernel` behind the table's safe signature, as the table's entry.
macro_rules! entry {
    ($kernel:ident, $block:ty, $activation:ty) => {{
        fn rows<const N: usize>(w: &[$block], a: [&[$activation]; N]) -> [f32; N] {
            // SAFETY: the kernel is compiled for AVX2 and FMA, and this function is reached
            // only through the table `kernels` returns, whose caller found them on this CPU.
            unsafe { $kernel(w, a) }
        }
        table_entry!(RowKernel, rows)
    }};
}

/// The one-row kernels with AVX2 and FMA.
///
/// # Safety
/// The CPU must have AVX2 and FMA: the kernels returned run their instructions.
pub(super) unsafe fn kernels() -> DotKernels {
    DotKernels {
        q4_0: entry!(dot_q4_0_avx2, Q4_0Block, Q8Block),
        q4_1: entry!(dot_q4_1_avx2, Q4_1Block, Q8Block),
        q5_0: entry!(dot_q5_0_avx2, Q5_0Block, Q8Block),
        q5_1: entry!(dot_q5_1_avx2, Q5_1Block, Q8Block),
        q8_0: entry!(dot_q8_0_avx2, Q8_0Block, Q8Block),
        q4_k: entry!(dot_q4_k_avx2, Q4KBlock, Q8KBlock),
        q5_k: entry!(dot_q5_k_avx2, Q5KBlock, Q8KBlock),
        q6_k: entry!(dot_q6_k_avx2, Q6KBlock, Q8KBlock),
    }
}

/// The sum of the eight lanes, as llama.cpp's `hsum_float_8` adds them.
#[target_feature(enable = "avx2")]
fn sum_lanes(v: __m256) -> f32 {
    let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let quarter = _mm_add_ps(half, _mm_movehl_ps(half, half));
    _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)))
}

/// u·v for 32 unsigned 8-bit `u` (at most 128) and 32 signed 8-bit `v` (at most 127 in
/// magnitude), as eight 32-bit sums of four products each, in float: pairs are summed to 16
/// bits first (at most 2·128·127, no saturation).
#[target_feature(enable = "avx2")]
fn products(u: __m256i, v: __m256i) -> __m256 {
    let pairs = _mm256_maddubs_epi16(u, v);
    _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

#[target_feature(enable = "avx2,fma")]
fn dot_q4_1_avx2<const N: usize>(w: &[Q4_1Block], a: [&[Q8Block]; N]) -> [f32; N] {
    let low_nibbles = _mm_set1_epi8(0x0F);
    let mut acc = [_mm256_setzero_ps(); N];
    let mut offsets = [0f32; N];
    for (b, w) in w.iter().enumerate() {
        // SAFETY: `qs` holds 16 bytes and `loadu` reads 16 without alignment needs.
        let packed = unsafe { _mm_loadu_si128(w.qs.as_ptr().cast()) };
        let lo = _mm_and_si128(packed, low_nibbles);
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(packed), low_nibbles);
        // Values 0..16 are the low nibbles, 16..32 the high ones, as the format lays them out.
        let values = _mm256_set_m128i(hi, lo);
        offset_rows(
            values,
            (widen(w.d), widen(w.m)),
            &a,
            b,
            (&mut acc, &mut offsets),
        );
    }
    std::array::from_fn(|row| sum_lanes(acc[row]) + offsets[row])
}

/// `acc[row] += d·d' · (values · a)` and `offsets[row] += m · s'` for block `b` of each of the
/// `N` activation rows (`d'`, `s'` the activation block's scale and scaled sum), with `values`
/// unsigned: a format whose values are `d · q + m`.
#[target_feature(enable = "avx2,fma")]
fn offset_rows<const N: usize>(
    values: __m256i,
    (d, m): (f32, f32),
    a: &[&[Q8Block]; N],
    b: usize,
    (acc, offsets): (&mut [__m256; N], &mut [f32; N]),
) {
    for row in 0..N {
        let x = &a[row][b];
        // SAFETY: `qs` holds 32 bytes and `loadu` reads 32 without alignment needs.
        let activations = unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) };
        let scale = _mm256_set1_ps(d * x.d);
        acc[row] = _mm256_fmadd_ps(scale, products(values, activations), acc[row]);
        offsets[row] += m * x.s;
    }
}

/// u·v for 32 signed 8-bit `u` and `v` (neither −128 where the other is, and `v` at most 127
/// in magnitude), as in [`products`]: |u| · (v with u's sign).
#[target_feature(enable = "avx2")]
fn signed_products(u: __m256i, v: __m256i) -> __m256 {
    products(_mm256_sign_epi8(u, u), _mm256_sign_epi8(v, u))
}

/// `acc[row] += d·d' · (values · a)` for block `b` of each of the `N` activation rows, with
/// `values` signed (see [`signed_products`]).
#[target_feature(enable = "avx2,fma")]
fn signed_rows<const N: usize>(
    values: __m256i,
    d: f32,
    a: &[&[Q8Block]; N],
    b: usize,
    acc: &mut [__m256; N],
) {
    for row in 0..N {
        let x = &a[row][b];
        // SAFETY: `qs` holds 32 bytes and `loadu` reads 32 without alignment needs.
        let activations = unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) };
        let scale = _mm256_set1_ps(d * x.d);
        acc[row] = _mm256_fmadd_ps(scale, signed_products(values, activations), acc[row]);
    }
}

#[target_feature(enable = "avx2,fma")]
fn dot_q4_0_avx2<const N: usize>(w: &[Q4_0Block], a: [&[Q8Block]; N]) -> [f32; N] {
    let low_nibbles = _mm_set1_epi8(0x0F);
    let eight = _mm256_set1_epi8(8);
    let mut acc = [_mm256_setzero_ps(); N];
    for (b, w) in w.iter().enumerate() {
        // SAFETY: `qs` holds 16 bytes and `loadu` reads 16 without alignment needs.
        let packed = unsafe { _mm_loadu_si128(w.qs.as_ptr().cast()) };
        let lo = _mm_and_si128(packed, low_nibbles);
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(packed), low_nibbles);
        let values = _mm256_sub_epi8(_mm256_set_m128i(hi, lo), eight);
        let d = widen(w.d);
        signed_rows(values, d, &a, b, &mut acc);
    }
    std::array::from_fn(|row| sum_lanes(acc[row]))
}

/// The 32 values of a Q5_0 or Q5_1 block as bytes: its nibbles (`qs`, low then high) in the
/// low four bits, and in the high four, all set where the fifth bit (`qh`) is clear (Q5_0's
/// `q − 16`, with `fill` −16) or 16 where it is set (Q5_1's `q`, with `fill` 16 and the clear
/// bits taken as zero by `set_fills`).
#[target_feature(enable = "avx2")]
fn five_bits(qs: &[u8; BLOCK / 2], qh: [u8; 4], fill: i8, set_fills: bool) -> __m256i {
    let low_nibbles = _mm_set1_epi8(0x0F);
    // Byte i of the block takes byte i/8 of the fifth bits and tests bit i%8 of it.
    let spread = _mm256_set_epi64x(
        0x0303_0303_0303_0303,
        0x0202_0202_0202_0202,
        0x0101_0101_0101_0101,
        0,
    );
    let bit = _mm256_set1_epi64x(0x8040_2010_0804_0201_u64 as i64);
    // SAFETY: `qs` holds 16 bytes and `loadu` reads 16 without alignment needs.
    let packed = unsafe { _mm_loadu_si128(qs.as_ptr().cast()) };
    let lo = _mm_and_si128(packed, low_nibbles);
    let hi = _mm_and_si128(_mm_srli_epi16::<4>(packed), low_nibbles);
    let fifth = _mm256_shuffle_epi8(_mm256_set1_epi32(i32::from_le_bytes(qh)), spread);
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(fifth, bit), bit);
    let fill = _mm256_set1_epi8(fill);
    let high = match set_fills {
        true => _mm256_and_si256(set, fill),
        false => _mm256_andnot_si256(set, fill),
    };
    _mm256_or_si256(_mm256_set_m128i(hi, lo), high)
}

#[target_feature(enable = "avx2,fma")]
fn dot_q5_0_avx2<const N: usize>(w: &[Q5_0Block], a: [&[Q8Block]; N]) -> [f32; N] {
    let mut acc = [_mm256_setzero_ps(); N];
    for (b, w) in w.iter().enumerate() {
        // q − 16 in 8 bits: the nibble, with the high four bits all set (−16) unless the fifth
        // bit is.
        let values = five_bits(&w.qs, w.qh, 0xF0_u8 as i8, false);
        signed_rows(values, widen(w.d), &a, b, &mut acc);
    }
    std::array::from_fn(|row| sum_lanes(acc[row]))
}

#[target_feature(enable = "avx2,fma")]
fn dot_q5_1_avx2<const N: usize>(w: &[Q5_1Block], a: [&[Q8Block]; N]) -> [f32; N] {
    let mut acc = [_mm256_setzero_ps(); N];
    let mut offsets = [0f32; N];
    for (b, w) in w.iter().enumerate() {
        let values = five_bits(&w.qs, w.qh, 16, true);
        offset_rows(
            values,
            (widen(w.d), widen(w.m)),
            &a,
            b,
            (&mut acc, &mut offsets),
        );
    }
    std::array::from_fn(|row| sum_lanes(acc[row]) + offsets[row])
}

#[target_feature(enable = "avx2,fma")]
fn dot_q8_0_avx2<const N: usize>(w: &[Q8_0Block], a: [&[Q8Block]; N]) -> [f32; N] {
    let mut acc = [_mm256_setzero_ps(); N];
    for (b, w) in w.iter().enumerate() {
        // SAFETY: `qs` holds 32 bytes and `loadu` reads 32 without alignment needs. |−128|
        // reads as 128 unsigned, which stays in range: activations never exceed 127.
        let values = unsafe { _mm256_loadu_si256(w.qs.as_ptr().cast()) };
        let d = widen(w.d);
        signed_rows(values, d, &a, b, &mut acc);
    }
    std::array::from_fn(|row| sum_lanes(acc[row]))
}

/// The four 64-value runs of a Q4_K or Q5_K block's 4-bit values: each 32 bytes of `qs` give
/// the run's first 32 values (low nibbles) and last 32 (high nibbles).
#[target_feature(enable = "avx2")]
fn nibble_runs(qs: &[u8; 128]) -> [__m256i; 8] {
    let low = _mm256_set1_epi8(0x0F);
    let mut values = [_mm256_setzero_si256(); 8];
    for j in 0..4 {
        // SAFETY: bytes 32j..32j+32 of the 128 of `qs`.
        let packed = unsafe { load(qs[32 * j..].as_ptr()) };
        values[2 * j] = _mm256_and_si256(packed, low);
        values[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16::<4>(packed), low);
    }
    values
}

/// The sums of a Q4_K or Q5_K block by `N` rows of Q8_K activations (block `b` of each):
/// `acc += d·d' · Σ scales[j] · (values · a)` and `offsets += dmin·d' · Σ mins[j] · Σa`, in
/// eight float lanes each.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn k_block<const N: usize>(
    values: &[__m256i; 8],
    packed_scales: &[u8; 12],
    (d, dmin): (f32, f32),
    a: &[&[Q8KBlock]; N],
    b: usize,
    acc: &mut [__m256; N],
    offsets: &mut [__m256; N],
) {
    let (scales, mins) = scale_and_min_words(packed_scales);
    // The eight scales as 16-bit lanes in both halves, then each spread over a register by a
    // byte shuffle.
    let scales = _mm256_cvtepu8_epi16(_mm_set1_epi64x(scales as i64));
    let scales: [__m256i; 8] = std::array::from_fn(|j| {
        let lane = (((2 * j + 1) << 8) | (2 * j)) as i16;
        _mm256_shuffle_epi8(scales, _mm256_set1_epi16(lane))
    });
    // Each minimum twice: it weighs the activation sums of both 16-value halves of its
    // sub-block.
    let mins = _mm_cvtsi64_si128(mins as i64);
    let mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mins, mins));
    for row in 0..N {
        let x = &a[row][b];
        let mut sumi = _mm256_setzero_si256();
        for j in 0..8 {
            // SAFETY: values 32j..32j+32 of the 256 of `qs`.
            let activations = unsafe { load(x.qs[32 * j..].as_ptr().cast()) };
            let pairs = _mm256_maddubs_epi16(values[j], activations);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pairs, scales[j]));
        }
        acc[row] = _mm256_fmadd_ps(_mm256_set1_ps(d * x.d), _mm256_cvtepi32_ps(sumi), acc[row]);
        // SAFETY: `bsums` holds 16 sums of 2 bytes, the 32 bytes `load` reads.
        let sums = unsafe { load(x.bsums.as_ptr().cast()) };
        let offset = _mm256_cvtepi32_ps(_mm256_madd_epi16(mins, sums));
        offsets[row] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * x.d), offset, offsets[row]);
    }
}

#[target_feature(enable = "avx2,fma")]
fn dot_q4_k_avx2<const N: usize>(w: &[Q4KBlock], a: [&[Q8KBlock]; N]) -> [f32; N] {
    let mut acc = [_mm256_setzero_ps(); N];
    let mut offsets = [_mm256_setzero_ps(); N];
    for (b, w) in w.iter().enumerate() {
        let values = nibble_runs(&w.qs);
        k_block(
            &values,
            &w.scales,
            (widen(w.d), widen(w.dmin)),
            &a,
            b,
            &mut acc,
            &mut offsets,
        );
    }
    std::array::from_fn(|row| sum_lanes(acc[row]) - sum_lanes(offsets[row]))
}

#[target_feature(enable = "avx2,fma")]
fn dot_q5_k_avx2<const N: usize>(w: &[Q5KBlock], a: [&[Q8KBlock]; N]) -> [f32; N] {
    let one = _mm256_set1_epi8(1);
    let mut acc = [_mm256_setzero_ps(); N];
    let mut offsets = [_mm256_setzero_ps(); N];
    for (b, w) in w.iter().enumerate() {
        let mut values = nibble_runs(&w.qs);
        // SAFETY: `qh` holds 32 bytes.
        let high = unsafe { load(w.qh.as_ptr()) };
        let mut bits = high;
        for v in &mut values {
            // Bit j of each byte is the fifth bit of run j: shifted down to bit 0, then up to 4
            // (16-bit shifts, but the masked byte holds one bit, so none crosses bytes).
            let fifth = _mm256_slli_epi16::<4>(_mm256_and_si256(bits, one));
            *v = _mm256_or_si256(*v, fifth);
            bits = _mm256_srli_epi16::<1>(bits);
        }
        k_block(
            &values,
            &w.scales,
            (widen(w.d), widen(w.dmin)),
            &a,
            b,
            &mut acc,
            &mut offsets,
        );
    }
    std::array::from_fn(|row| sum_lanes(acc[row]) - sum_lanes(offsets[row]))
}

#[target_feature(enable = "avx2,fma")]
fn dot_q6_k_avx2<const N: usize>(w: &[Q6KBlock], a: [&[Q8KBlock]; N]) -> [f32; N] {
    let low = _mm256_set1_epi8(0x0F);
    let two_bits = _mm256_set1_epi8(3);
    let thirty_two = _mm256_set1_epi8(32);
    let mut acc = [_mm256_setzero_ps(); N];
    for (b, w) in w.iter().enumerate() {
        // The eight runs of 32 6-bit values (see `Q6KBlock::value`).
        let mut values = [_mm256_setzero_si256(); 8];
        for half in 0..2 {
            // SAFETY: bytes 64·half.. + 64 of the 128 of `ql`, 32·half.. + 32 of the 64 of `qh`.
            let (ql0, ql1, qh) = unsafe {
                (
                    load(w.ql[64 * half..].as_ptr()),
                    load(w.ql[64 * half + 32..].as_ptr()),
                    load(w.qh[32 * half..].as_ptr()),
                )
            };
            let lows = [
                _mm256_and_si256(ql0, low),
                _mm256_and_si256(ql1, low),
                _mm256_and_si256(_mm256_srli_epi16::<4>(ql0), low),
                _mm256_and_si256(_mm256_srli_epi16::<4>(ql1), low),
            ];
            let mut bits = qh;
            for (run, low) in lows.into_iter().enumerate() {
                let high = _mm256_slli_epi16::<4>(_mm256_and_si256(bits, two_bits));
                values[4 * half + run] = _mm256_or_si256(low, high);
                bits = _mm256_srli_epi16::<2>(bits);
            }
        }
        let d = widen(w.d);
        // Run j's two halves of 16 values have scales 2j and 2j + 1.
        let scales: [__m256i; 8] = std::array::from_fn(|j| {
            _mm256_set_m128i(
                _mm_set1_epi16(i16::from(w.scales[2 * j + 1])),
                _mm_set1_epi16(i16::from(w.scales[2 * j])),
            )
        });
        for row in 0..N {
            let x = &a[row][b];
            let mut sumi = _mm256_setzero_si256();
            for j in 0..8 {
                // SAFETY: values 32j..32j+32 of the 256 of `qs`.
                let activations = unsafe { load(x.qs[32 * j..].as_ptr().cast()) };
                // The values are stored plus 32: (q − 32)·a = q·a − 32·a, pair by pair, so
                // that each lane sums what llama.cpp's lane sums.
                let excess = _mm256_maddubs_epi16(thirty_two, activations);
                let pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(values[j], activations), excess);
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(pairs, scales[j]));
            }
            acc[row] = _mm256_fmadd_ps(_mm256_set1_ps(d * x.d), _mm256_cvtepi32_ps(sumi), acc[row]);
        }
    }
    std::array::from_fn(|row| sum_lanes(acc[row]))
}
