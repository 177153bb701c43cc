//! The integer part of the block dot products with AVX2, chosen at run time, so that one
//! portable build runs the fast path on the CPUs that have it (nearly every x86-64 CPU since
//! 2013) and the plain one elsewhere.
//!
//! Only the sum of products of one block's 8-bit values is vectorised; it is an exact integer,
//! so these functions give bit for bit what the plain ones give: the scales are applied and the
//! blocks summed in the same order, in plain Rust (which never fuses a multiply and an add).
//! `tests` checks that on random blocks.
//!
//! This is the engine's only `unsafe` code: calling a function compiled for AVX2 is sound only
//! on a CPU that has it, which each entry point checks first.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256i, _mm_add_epi32, _mm_and_si128, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_set1_epi8,
    _mm_shuffle_epi32, _mm_srli_epi16, _mm256_castsi256_si128, _mm256_extracti128_si256,
    _mm256_loadu_si256, _mm256_madd_epi16, _mm256_maddubs_epi16, _mm256_set_m128i,
    _mm256_set1_epi16, _mm256_sign_epi8,
};

use super::{ActivationBlock, Q4_1Block, Q8_0Block};

/// Whether this CPU runs the AVX2 kernels. `OA_ENGINE_PLAIN_KERNELS=1` in the environment
/// keeps the plain ones, to measure what the vectorised ones bring.
fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::is_x86_feature_detected!("avx2")
            && std::env::var_os("OA_ENGINE_PLAIN_KERNELS").is_none_or(|v| v != "1")
    })
}

/// [`super::dot_q4_1`] with AVX2, or `None` on a CPU without it.
pub(super) fn dot_q4_1(w: &[Q4_1Block], a: &[ActivationBlock]) -> Option<f32> {
    // SAFETY: the function is compiled for AVX2, which `available` just found on this CPU.
    available().then(|| unsafe { dot_q4_1_avx2(w, a) })
}

/// [`super::dot_q8_0`] with AVX2, or `None` on a CPU without it.
pub(super) fn dot_q8_0(w: &[Q8_0Block], a: &[ActivationBlock]) -> Option<f32> {
    // SAFETY: as in `dot_q4_1`.
    available().then(|| unsafe { dot_q8_0_avx2(w, a) })
}

/// The sum of the eight 32-bit lanes.
#[target_feature(enable = "avx2")]
fn sum_i32(v: __m256i) -> i32 {
    let half = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let quarter = _mm_add_epi32(half, _mm_shuffle_epi32::<0b01_00_11_10>(half));
    let single = _mm_add_epi32(quarter, _mm_shuffle_epi32::<0b10_11_00_01>(quarter));
    _mm_cvtsi128_si32(single)
}

/// Σ u·v for 32 unsigned 8-bit `u` (at most 127 here) and 32 signed 8-bit `v`: pairs are summed
/// to 16 bits (at most 2·127·128 in magnitude, no saturation), then to 32.
#[target_feature(enable = "avx2")]
fn dot_u8_i8(u: __m256i, v: __m256i) -> i32 {
    let pairs = _mm256_maddubs_epi16(u, v);
    sum_i32(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

#[target_feature(enable = "avx2")]
fn dot_q4_1_avx2(w: &[Q4_1Block], a: &[ActivationBlock]) -> f32 {
    let low_nibbles = _mm_set1_epi8(0x0F);
    let mut sum = 0f32;
    for (w, a) in w.iter().zip(a) {
        // SAFETY: `qs` holds 16 bytes and `loadu` reads 16 without alignment needs.
        let packed = unsafe { _mm_loadu_si128(w.qs.as_ptr().cast()) };
        let lo = _mm_and_si128(packed, low_nibbles);
        let hi = _mm_and_si128(_mm_srli_epi16::<4>(packed), low_nibbles);
        // Values 0..16 are the low nibbles, 16..32 the high ones, as the format lays them out.
        let values = _mm256_set_m128i(hi, lo);
        // SAFETY: `qs` holds 32 bytes and `loadu` reads 32 without alignment needs.
        let activations = unsafe { _mm256_loadu_si256(a.qs.as_ptr().cast()) };
        let sumi = dot_u8_i8(values, activations);
        sum += (w.d * a.d) * sumi as f32 + w.m * a.s;
    }
    sum
}

#[target_feature(enable = "avx2")]
fn dot_q8_0_avx2(w: &[Q8_0Block], a: &[ActivationBlock]) -> f32 {
    let mut sum = 0f32;
    for (w, a) in w.iter().zip(a) {
        // SAFETY: both `qs` hold 32 bytes and `loadu` reads 32 without alignment needs.
        let (values, activations) = unsafe {
            (
                _mm256_loadu_si256(w.qs.as_ptr().cast()),
                _mm256_loadu_si256(a.qs.as_ptr().cast()),
            )
        };
        // u·v for signed u: |u| · (v with u's sign). |−128| reads as 128 unsigned, which stays
        // in range: activations never exceed 127 in magnitude.
        let magnitudes = _mm256_sign_epi8(values, values);
        let signed = _mm256_sign_epi8(activations, values);
        let sumi = dot_u8_i8(magnitudes, signed);
        sum += (w.d * a.d) * sumi as f32;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::super::{BLOCK, dot_q4_1_plain, dot_q8_0_plain};
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
                // Every block holds the extremes at least once in some rows.
                qs: std::array::from_fn(|j| match (i + j) % 61 {
                    0 => 127,
                    1 => -127,
                    _ => (noise.next() % 255) as i8 / 2 + (noise.next() % 2) as i8,
                }),
            })
            .collect()
    }

    #[test]
    fn the_avx2_kernels_give_the_plain_results_bit_for_bit() {
        if !available() {
            eprintln!("this CPU has no AVX2: the plain kernels are used, nothing to compare");
            return;
        }
        let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
        for blocks in [1, 2, 7, 64] {
            let a = activations(&mut noise, blocks);
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
            assert_eq!(
                dot_q4_1(&q4, &a).map(f32::to_bits),
                Some(dot_q4_1_plain(&q4, &a).to_bits()),
                "Q4_1, {blocks} blocks"
            );
            assert_eq!(
                dot_q8_0(&q8, &a).map(f32::to_bits),
                Some(dot_q8_0_plain(&q8, &a).to_bits()),
                "Q8_0, {blocks} blocks"
            );
        }
        assert_eq!(BLOCK, 32);
    }
}
