//! The kernels of weight rows repacked eight at a time (`cpu/tiles.rs`) with AVX2, FMA and
//! F16C, and with AVX-512 VNNI's `dpbusd` where the CPU has it: the eight float lanes are the
//! eight rows' sums, four activations at a time broadcast against four values of every row,
//! and the sums equal the plain loops' exactly.
//!
//! Every function here runs the instructions of those features: it is reached only through the
//! table [`kernels`] returns, whose caller found them on this CPU (or from tests that check).
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, __m256i, _mm_loadl_epi64, _mm_loadu_si128, _mm256_add_epi32, _mm256_and_si256,
    _mm256_cvtepi8_epi16, _mm256_cvtepi32_ps, _mm256_cvtepu8_epi16, _mm256_cvtepu8_epi32,
    _mm256_cvtph_ps, _mm256_dpbusd_epi32, _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_loadu_ps,
    _mm256_madd_epi16, _mm256_maddubs_epi16, _mm256_mul_ps, _mm256_mullo_epi32, _mm256_or_si256,
    _mm256_set1_epi8, _mm256_set1_epi16, _mm256_set1_epi32, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_setzero_si256, _mm256_sign_epi8, _mm256_slli_epi16, _mm256_slli_epi32,
    _mm256_srli_epi16, _mm256_storeu_ps, _mm256_storeu_si256, _mm256_sub_epi32, _mm256_xor_si256,
};

use half::f16;

use super::super::TileKernels;
use super::super::blocks::{BLOCK, Q8Block};
use super::super::k_quants::Q8KBlock;
use super::super::plain;
use super::super::tiles::{Q4_1Rows8, Q4KRows8, Q6KRows8, ROWS, Rows8};
use super::load;

/// A kernel behind the table's safe signature, as the table's entry; the plain loop `$plain`
/// where an activation row is shorter than the weights.
macro_rules! entry {
    // A layout whose values are held plus `offset`: `$kernel` computes from the arguments.
    ($tiles:ty, $activation:ty, $plain:path, |$w:ident, $offset:ident, $a:ident| $kernel:expr) => {{
        fn rows<const N: usize>(
            $w: &[$tiles],
            $offset: u8,
            $a: [&[$activation]; N],
        ) -> [[f32; ROWS]; N] {
            if $a.iter().any(|a| a.len() < $w.len()) {
                return $a.map(|a| $plain($w, $offset, a));
            }
            // SAFETY: the kernels are compiled for AVX2, FMA and F16C, the VNNI ones also for
            // AVX-512 VNNI and VL, and this function is reached only through the table
            // `kernels` returns, whose caller found them on this CPU.
            unsafe { $kernel }
        }
        table_entry!(TileKernel, rows)
    }};
    // One without: the kernel `$kernel(w, a)`.
    ($tiles:ty, $activation:ty, $plain:path, $kernel:ident) => {{
        fn rows<const N: usize>(w: &[$tiles], _: u8, a: [&[$activation]; N]) -> [[f32; ROWS]; N] {
            if a.iter().any(|a| a.len() < w.len()) {
                return a.map(|a| $plain(w, a));
            }
            // SAFETY: as above.
            unsafe { $kernel(w, a) }
        }
        table_entry!(TileKernel, rows)
    }};
}

/// The kernels of repacked rows, with AVX-512 VNNI where `vnni` says, and AVX2 alone elsewhere.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C, and with `vnni` AVX-512 VNNI and VL: the kernels
/// returned run their instructions.
pub(super) unsafe fn kernels(vnni: bool) -> TileKernels {
    if vnni {
        TileKernels {
            repack: true,
            rows8: entry!(Rows8, Q8Block, plain::tiles::rows8, |w, offset, a| {
                rows8_vnni(w, offset, a)
            }),
            q4_1: entry!(Q4_1Rows8, Q8Block, plain::tiles::q4_1, q4_1_rows8_vnni),
            q4_k: entry!(Q4KRows8, Q8KBlock, plain::tiles::q4_k, q4k_rows8_vnni),
            q6_k: entry!(Q6KRows8, Q8KBlock, plain::tiles::q6_k, q6k_rows8_vnni),
        }
    } else {
        TileKernels {
            repack: true,
            // Values held plus 128 overflow `maddubs`' pairs: those are made signed first.
            rows8: entry!(Rows8, Q8Block, plain::tiles::rows8, |w, offset, a| {
                if offset < 128 {
                    rows8_avx2(w, offset, a)
                } else {
                    rows8_avx2_signed(w, offset, a)
                }
            }),
            q4_1: entry!(Q4_1Rows8, Q8Block, plain::tiles::q4_1, q4_1_rows8_avx2),
            q4_k: entry!(Q4KRows8, Q8KBlock, plain::tiles::q4_k, q4k_rows8_avx2),
            q6_k: entry!(Q6KRows8, Q8KBlock, plain::tiles::q6_k, q6k_rows8_avx2),
        }
    }
}

/// `$name`: the kernel of [`Rows8`] tiles (eight repacked Q5_0 or Q8_0 rows, their values
/// held plus `offset`, by `N` activation rows) with `$features`, whose tile values (32 bytes:
/// four of each row) are made ready once by `$prepare` and multiplied into the 32-bit sums
/// with the four activations of one row broadcast by `$step`; `$corrects` says whether the
/// sums then take away `offset · Σa` (when `$step` multiplied the values as stored, offset
/// included).
macro_rules! rows8_kernel {
    ($name:ident, $features:literal, $prepare:ident, $step:ident, $corrects:expr) => {
        #[target_feature(enable = $features)]
        fn $name<const N: usize>(w: &[Rows8], offset: u8, a: [&[Q8Block]; N]) -> [[f32; ROWS]; N] {
            let mut acc = [_mm256_setzero_ps(); N];
            for (b, tile) in w.iter().enumerate() {
                let x: [&Q8Block; N] = std::array::from_fn(|j| &a[j][b]);
                let mut sums = [_mm256_setzero_si256(); N];
                for g in 0..BLOCK / 4 {
                    // SAFETY: bytes 32g..32g+32 of the 256 of `qs`.
                    let values = $prepare(unsafe { load(tile.qs[32 * g..].as_ptr()) });
                    for j in 0..N {
                        // SAFETY: activations 4g..4g+4 of the 32 of `qs`, read unaligned.
                        let four =
                            unsafe { x[j].qs.as_ptr().add(4 * g).cast::<i32>().read_unaligned() };
                        sums[j] = $step(sums[j], values, _mm256_set1_epi32(four));
                    }
                }
                // SAFETY: `d` holds 8 floats.
                let d = unsafe { _mm256_loadu_ps(tile.d.as_ptr()) };
                for j in 0..N {
                    let mut sum = sums[j];
                    if $corrects {
                        let excess = i32::from(offset) * x[j].sum;
                        sum = _mm256_sub_epi32(sum, _mm256_set1_epi32(excess));
                    }
                    let scale = _mm256_mul_ps(d, _mm256_set1_ps(x[j].d));
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[j]);
                }
            }
            lanes(acc)
        }
    };
}

/// Values as stored, for `maddubs` (unsigned bytes by signed; the offsets below 128 keep a
/// pair's sum within 16 bits).
#[target_feature(enable = "avx2")]
fn as_stored(u: __m256i) -> (__m256i, __m256i) {
    (u, u)
}

#[target_feature(enable = "avx2")]
fn step_avx2(sum: __m256i, (u, _): (__m256i, __m256i), a: __m256i) -> __m256i {
    _mm256_add_epi32(
        sum,
        _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)),
    )
}

/// Values held plus 128 back to signed, with their magnitudes: `maddubs` of `u` itself could
/// overflow a pair's 16 bits.
#[target_feature(enable = "avx2")]
fn signed(u: __m256i) -> (__m256i, __m256i) {
    let v = _mm256_xor_si256(u, _mm256_set1_epi8(0x80_u8 as i8));
    (_mm256_sign_epi8(v, v), v)
}

#[target_feature(enable = "avx2")]
fn step_avx2_signed(sum: __m256i, (magnitude, v): (__m256i, __m256i), a: __m256i) -> __m256i {
    let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(a, v));
    _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)))
}

#[target_feature(enable = "avx2,avx512vnni,avx512vl")]
fn step_vnni(sum: __m256i, (u, _): (__m256i, __m256i), a: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(sum, u, a)
}

rows8_kernel!(rows8_avx2, "avx2,fma", as_stored, step_avx2, true);
rows8_kernel!(
    rows8_avx2_signed,
    "avx2,fma",
    signed,
    step_avx2_signed,
    false
);
rows8_kernel!(
    rows8_vnni,
    "avx2,fma,avx512vnni,avx512vl",
    as_stored,
    step_vnni,
    true
);

/// Four activation bytes from `p` in every 32-bit lane.
///
/// # Safety
/// `p` must be valid for reading 4 bytes.
#[target_feature(enable = "avx2")]
unsafe fn broadcast4(p: *const i8) -> __m256i {
    // SAFETY: the caller's promise; read unaligned.
    _mm256_set1_epi32(unsafe { p.cast::<i32>().read_unaligned() })
}

/// The 16 bytes at `p` as 16-bit lanes, zero-extended.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[target_feature(enable = "avx2")]
unsafe fn unsigned16(p: *const u8) -> __m256i {
    // SAFETY: the caller's promise.
    _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(p.cast()) })
}

/// The 16 signed bytes at `p` as 16-bit lanes.
///
/// # Safety
/// `p` must be valid for reading 16 bytes.
#[target_feature(enable = "avx2")]
unsafe fn signed16(p: *const i8) -> __m256i {
    // SAFETY: the caller's promise.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(p.cast()) })
}

/// The eight 32-bit lanes of `8` bytes at `p`, zero-extended.
///
/// # Safety
/// `p` must be valid for reading 8 bytes.
#[target_feature(enable = "avx2")]
unsafe fn widen8(p: *const u8) -> __m256i {
    // SAFETY: the caller's promise.
    _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(p.cast()) })
}

/// Eight f16 at `p`, widened.
///
/// # Safety
/// `p` must be valid for reading eight f16.
#[target_feature(enable = "avx2,f16c")]
unsafe fn widen_f16(p: *const f16) -> __m256 {
    // SAFETY: the caller's promise.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast()) })
}

/// `$name`: the kernel of [`Q4_1Rows8`] tiles with `$features`, multiplying with `$step`.
macro_rules! q4_1_rows8_kernel {
    ($name:ident, $features:literal, $step:ident) => {
        #[target_feature(enable = $features)]
        fn $name<const N: usize>(w: &[Q4_1Rows8], a: [&[Q8Block]; N]) -> [[f32; ROWS]; N] {
            let low = _mm256_set1_epi8(0x0F);
            let mut acc = [_mm256_setzero_ps(); N];
            for (b, tile) in w.iter().enumerate() {
                let x: [&Q8Block; N] = std::array::from_fn(|j| &a[j][b]);
                let mut sums = [_mm256_setzero_si256(); N];
                for g in 0..4 {
                    // SAFETY: bytes 32g..32g+32 of the 128 of `qs`.
                    let packed = unsafe { load(tile.qs[32 * g..].as_ptr()) };
                    let lo = _mm256_and_si256(packed, low);
                    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(packed), low);
                    for j in 0..N {
                        // SAFETY: activations 4g.. + 4 and 16 + 4g.. + 4 of the 32.
                        let (first, second) = unsafe {
                            (
                                broadcast4(x[j].qs[4 * g..].as_ptr()),
                                broadcast4(x[j].qs[16 + 4 * g..].as_ptr()),
                            )
                        };
                        sums[j] = $step(sums[j], (lo, lo), first);
                        sums[j] = $step(sums[j], (hi, hi), second);
                    }
                }
                // SAFETY: `d` and `m` hold 8 f16 each.
                let (d, m) = unsafe { (widen_f16(tile.d.as_ptr()), widen_f16(tile.m.as_ptr())) };
                for j in 0..N {
                    let scale = _mm256_mul_ps(d, _mm256_set1_ps(x[j].d));
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums[j]), scale, acc[j]);
                    acc[j] = _mm256_fmadd_ps(m, _mm256_set1_ps(x[j].s), acc[j]);
                }
            }
            lanes(acc)
        }
    };
}

q4_1_rows8_kernel!(q4_1_rows8_avx2, "avx2,fma,f16c", step_avx2);
q4_1_rows8_kernel!(
    q4_1_rows8_vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl",
    step_vnni
);

/// `$name`: the kernel of [`Q4KRows8`] tiles with `$features`, multiplying with `$step`.
macro_rules! q4k_rows8_kernel {
    ($name:ident, $features:literal, $step:ident) => {
        #[target_feature(enable = $features)]
        fn $name<const N: usize>(w: &[Q4KRows8], a: [&[Q8KBlock]; N]) -> [[f32; ROWS]; N] {
            let low = _mm256_set1_epi8(0x0F);
            let mut acc = [_mm256_setzero_ps(); N];
            for (b, tile) in w.iter().enumerate() {
                let x: [&Q8KBlock; N] = std::array::from_fn(|j| &a[j][b]);
                let unpacked = q4k_scales(tile);
                let mut total = [_mm256_setzero_si256(); N];
                for pair in 0..4 {
                    let mut first = [_mm256_setzero_si256(); N];
                    let mut second = [_mm256_setzero_si256(); N];
                    for g in 0..8 {
                        // SAFETY: bytes 32(8·pair + g).. + 32 of the 1024 of `qs`.
                        let packed = unsafe { load(tile.qs[32 * (8 * pair + g)..].as_ptr()) };
                        let values = (
                            _mm256_and_si256(packed, low),
                            _mm256_and_si256(_mm256_srli_epi16::<4>(packed), low),
                        );
                        for j in 0..N {
                            let at = 64 * pair + 4 * g;
                            // SAFETY: activations at..at+4 and at+32..at+36 of the 256.
                            let (lo, hi) = unsafe {
                                (
                                    broadcast4(x[j].qs[at..].as_ptr()),
                                    broadcast4(x[j].qs[at + 32..].as_ptr()),
                                )
                            };
                            first[j] = $step(first[j], (values.0, values.0), lo);
                            second[j] = $step(second[j], (values.1, values.1), hi);
                        }
                    }
                    // SAFETY: bytes 8s..8s+8 of the 128, for s = 2·pair, 2·pair + 1.
                    let (s0, s1) = unsafe {
                        (
                            widen8(unpacked[16 * pair..].as_ptr()),
                            widen8(unpacked[16 * pair + 8..].as_ptr()),
                        )
                    };
                    for j in 0..N {
                        let scaled = _mm256_add_epi32(
                            _mm256_mullo_epi32(first[j], s0),
                            _mm256_mullo_epi32(second[j], s1),
                        );
                        total[j] = _mm256_add_epi32(total[j], scaled);
                    }
                }
                // SAFETY: `d` and `dmin` hold 8 f16 each.
                let (d, dmin) =
                    unsafe { (widen_f16(tile.d.as_ptr()), widen_f16(tile.dmin.as_ptr())) };
                for j in 0..N {
                    let mut mins = _mm256_setzero_si256();
                    for pair in 0..4 {
                        // SAFETY: 16 minimums of the 128; two sums of the 8 of `sums32`.
                        let (m, sums) = unsafe {
                            (
                                unsigned16(unpacked[64 + 16 * pair..].as_ptr()),
                                broadcast4(x[j].sums32[2 * pair..].as_ptr().cast()),
                            )
                        };
                        mins = _mm256_add_epi32(mins, _mm256_madd_epi16(m, sums));
                    }
                    let da = _mm256_set1_ps(x[j].d);
                    acc[j] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(total[j]), _mm256_mul_ps(d, da), acc[j]);
                    acc[j] =
                        _mm256_fnmadd_ps(_mm256_cvtepi32_ps(mins), _mm256_mul_ps(dmin, da), acc[j]);
                }
            }
            lanes(acc)
        }
    };
}

/// 6-bit values from their four low bits, the low nibbles of `low` for `g < 4` and its high
/// nibbles otherwise, and their two high bits, bit pair `g % 4` of `high`: step `g` of a
/// [`Q6KRows8`] run, or a quarter of a [`Q4KRows8`]'s scales.
#[target_feature(enable = "avx2")]
#[inline]
fn six_bits(low: __m256i, high: __m256i, g: usize) -> __m256i {
    let nibbles = _mm256_set1_epi8(0x0F);
    let low = if g < 4 {
        _mm256_and_si256(low, nibbles)
    } else {
        _mm256_and_si256(_mm256_srli_epi16::<4>(low), nibbles)
    };
    let high = match g % 4 {
        0 => _mm256_slli_epi16::<4>(high),
        1 => _mm256_slli_epi16::<2>(high),
        2 => high,
        _ => _mm256_srli_epi16::<2>(high),
    };
    _mm256_or_si256(low, _mm256_and_si256(high, _mm256_set1_epi8(0x30)))
}

/// A [`Q4KRows8`]'s 128 scales and minimums unpacked, as [`Q4KRows8::unpacked`] gives them.
#[target_feature(enable = "avx2")]
fn q4k_scales(tile: &Q4KRows8) -> [u8; 128] {
    // SAFETY: bytes 0..32, 32..64 and 64..96 of the 96 of `scales`.
    let [low, upper, high] = [0, 32, 64].map(|at| unsafe { load(tile.scales[at..].as_ptr()) });
    let mut out = [0u8; 128];
    for (q, (nibbles, g)) in [(low, 0), (low, 5), (upper, 2), (upper, 7)]
        .into_iter()
        .enumerate()
    {
        // SAFETY: bytes 32q..32q+32 of the 128 of `out`.
        unsafe {
            _mm256_storeu_si256(
                out[32 * q..].as_mut_ptr().cast(),
                six_bits(nibbles, high, g),
            )
        };
    }
    out
}

/// `$name`: the kernel of [`Q6KRows8`] tiles with `$features`, multiplying with `$step`.
macro_rules! q6k_rows8_kernel {
    ($name:ident, $features:literal, $step:ident) => {
        #[target_feature(enable = $features)]
        fn $name<const N: usize>(w: &[Q6KRows8], a: [&[Q8KBlock]; N]) -> [[f32; ROWS]; N] {
            let mut acc = [_mm256_setzero_ps(); N];
            for (b, tile) in w.iter().enumerate() {
                let x: [&Q8KBlock; N] = std::array::from_fn(|j| &a[j][b]);
                let mut total = [_mm256_setzero_si256(); N];
                for c in 0..8 {
                    // SAFETY: bytes 192c + 32k.. + 32 of the 1536 of `qs`, k < 6.
                    let run = tile.qs[192 * c..].as_ptr();
                    let (low, high) = unsafe {
                        (
                            [0, 1, 2, 3].map(|k| load(run.add(32 * k))),
                            [4, 5].map(|k| load(run.add(32 * k))),
                        )
                    };
                    let mut halves = [[_mm256_setzero_si256(); N]; 2];
                    for g in 0..8 {
                        let values = six_bits(low[g % 4], high[g / 4], g);
                        for j in 0..N {
                            // SAFETY: activations 32c + 4g.. + 4 of the 256.
                            let four = unsafe { broadcast4(x[j].qs[32 * c + 4 * g..].as_ptr()) };
                            halves[g / 4][j] = $step(halves[g / 4][j], (values, values), four);
                        }
                    }
                    // SAFETY: the 16 scales of sub-blocks 2c and 2c + 1, as pairs.
                    let pairs = unsafe { signed16(tile.scales[16 * c..].as_ptr()) };
                    let s0 = _mm256_madd_epi16(pairs, _mm256_set1_epi32(1));
                    let s1 = _mm256_madd_epi16(pairs, _mm256_set1_epi32(1 << 16));
                    for j in 0..N {
                        let scaled = _mm256_add_epi32(
                            _mm256_mullo_epi32(halves[0][j], s0),
                            _mm256_mullo_epi32(halves[1][j], s1),
                        );
                        total[j] = _mm256_add_epi32(total[j], scaled);
                    }
                }
                // SAFETY: `d` holds 8 f16.
                let d = unsafe { widen_f16(tile.d.as_ptr()) };
                for j in 0..N {
                    // The values are held plus 32: take away 32 · Σ scale · (sum of the
                    // sub-block's activations).
                    let mut excess = _mm256_setzero_si256();
                    for c in 0..8 {
                        // SAFETY: 16 scales of the 128; two sums of the 16 of `bsums`.
                        let (pairs, sums) = unsafe {
                            (
                                signed16(tile.scales[16 * c..].as_ptr()),
                                broadcast4(x[j].bsums[2 * c..].as_ptr().cast()),
                            )
                        };
                        excess = _mm256_add_epi32(excess, _mm256_madd_epi16(pairs, sums));
                    }
                    let sum = _mm256_sub_epi32(total[j], _mm256_slli_epi32::<5>(excess));
                    let scale = _mm256_mul_ps(d, _mm256_set1_ps(x[j].d));
                    acc[j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale, acc[j]);
                }
            }
            lanes(acc)
        }
    };
}

/// The eight lanes of each accumulator.
#[target_feature(enable = "avx2")]
fn lanes<const N: usize>(acc: [__m256; N]) -> [[f32; ROWS]; N] {
    let mut out = [[0f32; ROWS]; N];
    for (out, acc) in out.iter_mut().zip(acc) {
        // SAFETY: `out` holds 8 floats.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), acc) };
    }
    out
}

q4k_rows8_kernel!(q4k_rows8_avx2, "avx2,fma,f16c", step_avx2);
q4k_rows8_kernel!(
    q4k_rows8_vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl",
    step_vnni
);
q6k_rows8_kernel!(q6k_rows8_avx2, "avx2,fma,f16c", step_avx2);
q6k_rows8_kernel!(
    q6k_rows8_vnni,
    "avx2,fma,f16c,avx512vnni,avx512vl",
    step_vnni
);

#[cfg(test)]
mod tests {
    use super::super::super::features::Features;
    use super::super::super::kernel_tests::{Noise, q8, q8k};
    use super::super::super::tiles::Offset;
    use super::*;

    /// Every repacked-rows kernel this CPU runs, on groups of random Q5_0 and Q8_0 rows
    /// (with the −128 extreme): each gives the plain group sums exactly, for one and for
    /// several activation rows; and the plain group sums are the stored rows' own sums.
    #[test]
    fn the_repacked_row_kernels_agree_with_the_plain_sums() {
        if !Features::detect().avx2 {
            return;
        }
        fn check<F: Offset>(
            name: &str,
            rows: &[F],
            per_row: usize,
            a: &[Vec<Q8Block>],
            plain: fn(&[F], &[Q8Block]) -> f32,
        ) {
            let w: Vec<Rows8> = (0..per_row).map(|b| Rows8::new(rows, per_row, b)).collect();
            let expected: Vec<[f32; ROWS]> = a
                .iter()
                .map(|a| plain::tiles::rows8(&w, F::OFFSET, a))
                .collect();
            let four = [a[0].as_slice(), &a[1], &a[2], &a[3]];
            // SAFETY: the CPU has AVX2 and FMA (checked first); VNNI is checked before its
            // kernel.
            let mut got = vec![unsafe {
                if F::OFFSET < 128 {
                    rows8_avx2(&w, F::OFFSET, four)
                } else {
                    rows8_avx2_signed(&w, F::OFFSET, four)
                }
            }];
            if Features::detect().avx512_vnni {
                got.push(unsafe { rows8_vnni(&w, F::OFFSET, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "{name}");
            }
            let one = crate::cpu::kernels().tiles.rows8.one;
            assert_eq!(one(&w, F::OFFSET, [a[1].as_slice()])[0], expected[1]);
            for (a, expected) in a.iter().zip(&expected) {
                for (r, sum) in expected.iter().enumerate() {
                    let stored = plain(&rows[r * per_row..(r + 1) * per_row], a);
                    let bound = 1e-5 * sum.abs().max(stored.abs()).max(1.0);
                    assert!(
                        (sum - stored).abs() <= bound,
                        "{name} row {r}: {sum} vs {stored}"
                    );
                }
            }
        }
        let mut noise = Noise(0x1234_5678_9ABC_DEF1);
        for per_row in [1, 3, 20] {
            let a: Vec<Vec<Q8Block>> = (0..4).map(|_| q8(&mut noise, per_row)).collect();
            let q5_0 = noise.q5_0(ROWS * per_row);
            check("Q5_0", &q5_0, per_row, &a, plain::dot::q5_0);
            let q8_0 = noise.q8_0(ROWS * per_row);
            check("Q8_0", &q8_0, per_row, &a, plain::dot::q8_0);
        }
    }

    /// The repacked Q4_K and Q6_K kernels this CPU runs against the plain group sums, exactly;
    /// and the plain group sums against the stored rows' own sums.
    #[test]
    fn the_repacked_k_quant_kernels_agree_with_the_plain_sums() {
        let features = Features::detect();
        if !features.avx2 {
            return;
        }
        let mut noise = Noise(0x0DDB_1A5E_5BAD_5EED);
        for per_row in [1, 3] {
            let a: Vec<Vec<Q8KBlock>> = (0..4).map(|_| q8k(&mut noise, per_row)).collect();
            let four = [a[0].as_slice(), &a[1], &a[2], &a[3]];
            let near = |name: &str, sum: f32, stored: f32| {
                let bound = 1e-5 * sum.abs().max(stored.abs()).max(1.0);
                assert!((sum - stored).abs() <= bound, "{name}: {sum} vs {stored}");
            };

            let q4_k = noise.q4_k(ROWS * per_row);
            let w: Vec<Q4KRows8> = (0..per_row)
                .map(|b| Q4KRows8::new(&q4_k, per_row, b))
                .collect();
            let expected: Vec<[f32; ROWS]> = a.iter().map(|a| plain::tiles::q4_k(&w, a)).collect();
            // SAFETY: the CPU has AVX2, FMA and F16C (checked first); VNNI is checked before its
            // kernel.
            let mut got = vec![unsafe { q4k_rows8_avx2(&w, four) }];
            if features.avx512_vnni {
                got.push(unsafe { q4k_rows8_vnni(&w, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "Q4_K");
            }
            let one = crate::cpu::kernels().tiles.q4_k.one;
            assert_eq!(one(&w, 0, [a[2].as_slice()])[0], expected[2]);
            for (a, expected) in a.iter().zip(&expected) {
                for (r, &sum) in expected.iter().enumerate() {
                    let stored = plain::dot::q4_k(&q4_k[r * per_row..(r + 1) * per_row], a);
                    near("Q4_K", sum, stored);
                }
            }

            let q6_k = noise.q6_k(ROWS * per_row);
            let w: Vec<Q6KRows8> = (0..per_row)
                .map(|b| Q6KRows8::new(&q6_k, per_row, b))
                .collect();
            let expected: Vec<[f32; ROWS]> = a.iter().map(|a| plain::tiles::q6_k(&w, a)).collect();
            // SAFETY: as above.
            let mut got = vec![unsafe { q6k_rows8_avx2(&w, four) }];
            if features.avx512_vnni {
                got.push(unsafe { q6k_rows8_vnni(&w, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "Q6_K");
            }
            let one = crate::cpu::kernels().tiles.q6_k.one;
            assert_eq!(one(&w, 0, [a[3].as_slice()])[0], expected[3]);
            for (a, expected) in a.iter().zip(&expected) {
                for (r, &sum) in expected.iter().enumerate() {
                    let stored = plain::dot::q6_k(&q6_k[r * per_row..(r + 1) * per_row], a);
                    near("Q6_K", sum, stored);
                }
            }
        }
    }

    #[test]
    fn the_repacked_q4_1_kernels_agree_with_the_plain_sums() {
        let features = Features::detect();
        if !features.avx2 {
            return;
        }
        let mut noise = Noise(0xFEED_FACE_CAFE_BEEF);
        for per_row in [1, 3, 18] {
            let a: Vec<Vec<Q8Block>> = (0..4).map(|_| q8(&mut noise, per_row)).collect();
            let four = [a[0].as_slice(), &a[1], &a[2], &a[3]];
            let q4_1 = noise.q4_1(ROWS * per_row);
            let w: Vec<Q4_1Rows8> = (0..per_row)
                .map(|b| Q4_1Rows8::new(&q4_1, per_row, b))
                .collect();
            let expected: Vec<[f32; ROWS]> = a.iter().map(|a| plain::tiles::q4_1(&w, a)).collect();
            // SAFETY: the CPU has AVX2, FMA and F16C (checked first); VNNI is checked before its
            // kernel.
            let mut got = vec![unsafe { q4_1_rows8_avx2(&w, four) }];
            if features.avx512_vnni {
                got.push(unsafe { q4_1_rows8_vnni(&w, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "Q4_1");
            }
            let one = crate::cpu::kernels().tiles.q4_1.one;
            assert_eq!(one(&w, 0, [a[0].as_slice()])[0], expected[0]);
            for (a, expected) in a.iter().zip(&expected) {
                for (r, &sum) in expected.iter().enumerate() {
                    let stored = plain::dot::q4_1(&q4_1[r * per_row..(r + 1) * per_row], a);
                    let bound = 1e-5 * sum.abs().max(stored.abs()).max(1.0);
                    assert!(
                        (sum - stored).abs() <= bound,
                        "Q4_1 row {r}: {sum} vs {stored}"
                    );
                }
            }
        }
    }
}
