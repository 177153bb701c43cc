//! The block dot products with AVX2 and FMA, chosen at run time, so that one portable build runs
//! the fast path on the CPUs that have them (nearly every x86-64 CPU since 2013) and the plain
//! one elsewhere.
//!
//! As llama.cpp's x86 kernels do, each block's 8-bit products are summed exactly in integers,
//! scaled in eight float lanes with fused multiply-adds, and the lanes summed once per row; the
//! plain kernels sum block by block instead, so results differ in the last bits only (`tests`
//! bounds the difference on random blocks). Several activation rows (a prompt's tokens) go
//! through one pass over a weight row, so its blocks are loaded and unpacked once for all.
//!
//! This is the engine's only `unsafe` code: calling a function compiled for AVX2 and FMA is
//! sound only on a CPU that has them, which each entry point checks first.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, __m256i, _mm_add_ps, _mm_add_ss, _mm_and_si128, _mm_cvtss_f32, _mm_loadu_si128,
    _mm_movehdup_ps, _mm_movehl_ps, _mm_set1_epi8, _mm_srli_epi16, _mm256_castps256_ps128,
    _mm256_cvtepi32_ps, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_si256,
    _mm256_madd_epi16, _mm256_maddubs_epi16, _mm256_set_m128i, _mm256_set1_epi16, _mm256_set1_ps,
    _mm256_setzero_ps, _mm256_sign_epi8,
};

use super::{ActivationBlock, Q4_1Block, Q8_0Block};

/// Whether this CPU runs the AVX2 kernels. `OA_ENGINE_PLAIN_KERNELS=1` in the environment
/// keeps the plain ones, to measure what the vectorised ones bring.
fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::env::var_os("OA_ENGINE_PLAIN_KERNELS").is_none_or(|v| v != "1")
    })
}

/// One Q4_1 weight row by `N` activation rows, or `None` on a CPU without AVX2 and FMA.
pub(super) fn dot_q4_1<const N: usize>(
    w: &[Q4_1Block],
    a: [&[ActivationBlock]; N],
) -> Option<[f32; N]> {
    // SAFETY: the function is compiled for AVX2 and FMA, which `available` found on this CPU.
    available().then(|| unsafe { dot_q4_1_avx2(w, a) })
}

/// One Q8_0 weight row by `N` activation rows, or `None` on a CPU without AVX2 and FMA.
pub(super) fn dot_q8_0<const N: usize>(
    w: &[Q8_0Block],
    a: [&[ActivationBlock]; N],
) -> Option<[f32; N]> {
    // SAFETY: as in `dot_q4_1`.
    available().then(|| unsafe { dot_q8_0_avx2(w, a) })
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
fn dot_q4_1_avx2<const N: usize>(w: &[Q4_1Block], a: [&[ActivationBlock]; N]) -> [f32; N] {
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
        for row in 0..N {
            let x = &a[row][b];
            // SAFETY: `qs` holds 32 bytes and `loadu` reads 32 without alignment needs.
            let activations = unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) };
            let scale = _mm256_set1_ps(w.d * x.d);
            acc[row] = _mm256_fmadd_ps(scale, products(values, activations), acc[row]);
            offsets[row] += w.m * x.s;
        }
    }
    std::array::from_fn(|row| sum_lanes(acc[row]) + offsets[row])
}

#[target_feature(enable = "avx2,fma")]
fn dot_q8_0_avx2<const N: usize>(w: &[Q8_0Block], a: [&[ActivationBlock]; N]) -> [f32; N] {
    let mut acc = [_mm256_setzero_ps(); N];
    for (b, w) in w.iter().enumerate() {
        // SAFETY: `qs` holds 32 bytes and `loadu` reads 32 without alignment needs.
        let values = unsafe { _mm256_loadu_si256(w.qs.as_ptr().cast()) };
        // u·v for signed u: |u| · (v with u's sign). |−128| reads as 128 unsigned, which stays
        // in range: activations never exceed 127 in magnitude.
        let magnitudes = _mm256_sign_epi8(values, values);
        for row in 0..N {
            let x = &a[row][b];
            // SAFETY: as above.
            let activations = unsafe { _mm256_loadu_si256(x.qs.as_ptr().cast()) };
            let signed = _mm256_sign_epi8(activations, values);
            let scale = _mm256_set1_ps(w.d * x.d);
            acc[row] = _mm256_fmadd_ps(scale, products(magnitudes, signed), acc[row]);
        }
    }
    std::array::from_fn(|row| sum_lanes(acc[row]))
}

#[cfg(test)]
mod tests {
    use super::super::{dot_q4_1_plain, dot_q8_0_plain};
    use super::*;

    /// A deterministic stream of pseudo-random numbers (xorshift).
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn scale(&mut self) -> f32 {
            (self.next() % 20_000) as f32 / 10_000.0 - 1.0
        }
    }

    fn activations(noise: &mut Noise, n: usize) -> Vec<ActivationBlock> {
        (0..n)
            .map(|i| ActivationBlock {
                d: noise.scale(),
                s: noise.scale(),
                // The extremes appear in every row.
                qs: std::array::from_fn(|j| match (i + j) % 61 {
                    0 => 127,
                    1 => -127,
                    _ => (noise.next() % 255) as i8 / 2 + (noise.next() % 2) as i8,
                }),
            })
            .collect()
    }

    /// Differences from summing in another order only: well below a unit in the last place of
    /// the sum of the magnitudes of the block terms.
    fn close(fast: f32, plain: f32, magnitude: f32) -> bool {
        (fast - plain).abs() <= magnitude * 1e-5
    }

    #[test]
    fn the_avx2_kernels_agree_with_the_plain_ones_for_one_and_several_rows() {
        if !available() {
            eprintln!("this CPU lacks AVX2 or FMA: the plain kernels are used, nothing to compare");
            return;
        }
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        for blocks in [1, 2, 7, 64] {
            let rows: Vec<Vec<ActivationBlock>> =
                (0..3).map(|_| activations(&mut noise, blocks)).collect();
            let q4: Vec<Q4_1Block> = (0..blocks)
                .map(|_| Q4_1Block {
                    d: noise.scale(),
                    m: noise.scale(),
                    qs: std::array::from_fn(|_| noise.next() as u8),
                })
                .collect();
            let q8: Vec<Q8_0Block> = (0..blocks)
                .map(|i| Q8_0Block {
                    d: noise.scale(),
                    qs: std::array::from_fn(|j| {
                        if (i + j) % 29 == 0 {
                            -128
                        } else {
                            noise.next() as i8
                        }
                    }),
                })
                .collect();
            // Every block term at most |d·d'|·32·128·127 (+ |m·s|): a bound on the magnitude.
            let magnitude = |a: &[ActivationBlock], d: &dyn Fn(usize) -> f32| {
                a.iter()
                    .enumerate()
                    .map(|(b, x)| (d(b) * x.d).abs() * 32.0 * 128.0 * 127.0 + x.s.abs())
                    .sum::<f32>()
            };
            let three = [rows[0].as_slice(), &rows[1], &rows[2]];
            let q4_fast = dot_q4_1(&q4, three).unwrap();
            let q8_fast = dot_q8_0(&q8, three).unwrap();
            for (row, a) in rows.iter().enumerate() {
                let m4 = magnitude(a, &|b| q4[b].d) + q4.iter().map(|w| w.m.abs()).sum::<f32>();
                let m8 = magnitude(a, &|b| q8[b].d);
                let plain4 = dot_q4_1_plain(&q4, a);
                let plain8 = dot_q8_0_plain(&q8, a);
                assert!(
                    close(q4_fast[row], plain4, m4),
                    "Q4_1 {blocks}: {} {plain4}",
                    q4_fast[row]
                );
                assert!(
                    close(q8_fast[row], plain8, m8),
                    "Q8_0 {blocks}: {} {plain8}",
                    q8_fast[row]
                );
                // One row at a time gives what the row gave among three.
                assert_eq!(dot_q4_1(&q4, [a.as_slice()]).unwrap()[0], q4_fast[row]);
                assert_eq!(dot_q8_0(&q8, [a.as_slice()]).unwrap()[0], q8_fast[row]);
            }
        }
    }
}
