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
//! With the file mapping (`mapped.rs`) and the NEON kernels (`neon.rs`) this is the engine's only
//! `unsafe` code: calling a
//! function compiled for AVX2 and FMA is sound only on a CPU that has them, which each entry
//! point checks first.
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, __m256i, _CMP_GE_OQ, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT, _mm_add_ps,
    _mm_add_ss, _mm_and_si128, _mm_cvtsi64_si128, _mm_cvtss_f32, _mm_loadl_epi64, _mm_loadu_si128,
    _mm_movehdup_ps, _mm_movehl_ps, _mm_set1_epi8, _mm_set1_epi16, _mm_set1_epi64x, _mm_srli_epi16,
    _mm_unpacklo_epi8, _mm256_add_epi32, _mm256_add_pd, _mm256_add_ps, _mm256_and_ps,
    _mm256_and_si256, _mm256_andnot_si256, _mm256_castps256_ps128, _mm256_castsi256_ps,
    _mm256_cmp_ps, _mm256_cmpeq_epi8, _mm256_cvtepi8_epi16, _mm256_cvtepi32_ps,
    _mm256_cvtepu8_epi16, _mm256_cvtepu8_epi32, _mm256_cvtph_ps, _mm256_cvtps_epi32,
    _mm256_cvtps_pd, _mm256_cvtps_ph, _mm256_dpbusd_epi32, _mm256_extractf128_ps, _mm256_fmadd_ps,
    _mm256_fnmadd_ps, _mm256_hadd_ps, _mm256_loadu_ps, _mm256_loadu_si256, _mm256_madd_epi16,
    _mm256_maddubs_epi16, _mm256_max_ps, _mm256_mul_ps, _mm256_mullo_epi32, _mm256_or_si256,
    _mm256_permute2f128_ps, _mm256_round_ps, _mm256_set_epi64x, _mm256_set_m128i, _mm256_set1_epi8,
    _mm256_set1_epi16, _mm256_set1_epi32, _mm256_set1_epi64x, _mm256_set1_ps, _mm256_setzero_pd,
    _mm256_setzero_ps, _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_sign_epi8,
    _mm256_slli_epi16, _mm256_slli_epi32, _mm256_srli_epi16, _mm256_storeu_pd, _mm256_storeu_ps,
    _mm256_storeu_si256, _mm256_sub_epi8, _mm256_sub_epi16, _mm256_sub_epi32, _mm256_sub_ps,
    _mm256_xor_si256,
};

use half::f16;

use super::blocks::{BLOCK, Q4_0Block, Q4_1Block, Q5_0Block, Q5_1Block, Q8_0Block, Q8Block};
use super::k_quants::{Q4KBlock, Q5KBlock, Q6KBlock, Q8KBlock, scale_and_min_words};
use super::tiles::{Q4_1Rows8, Q4KRows8, Q6KRows8, ROWS, Rows8};
use super::widen;

/// Whether this CPU runs the AVX2 kernels (with FMA, and F16C for the KV cache). `OA_ENGINE_PLAIN_KERNELS=1` in the environment
/// keeps the plain ones, to measure what the vectorised ones bring.
pub(super) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
            && std::env::var_os("OA_ENGINE_PLAIN_KERNELS").is_none_or(|v| v != "1")
    })
}

/// `$name(w, a)`: one weight row of `$block`s by `N` activation rows through `$kernel`, or
/// `None` on a CPU without AVX2 and FMA.
macro_rules! entry_point {
    ($name:ident, $kernel:ident, $block:ty, $activation:ty) => {
        pub(super) fn $name<const N: usize>(
            w: &[$block],
            a: [&[$activation]; N],
        ) -> Option<[f32; N]> {
            // SAFETY: the kernel is compiled for AVX2 and FMA, which `available` found on
            // this CPU.
            available().then(|| unsafe { $kernel(w, a) })
        }
    };
}

entry_point!(dot_q4_0, dot_q4_0_avx2, Q4_0Block, Q8Block);
entry_point!(dot_q4_1, dot_q4_1_avx2, Q4_1Block, Q8Block);
entry_point!(dot_q5_0, dot_q5_0_avx2, Q5_0Block, Q8Block);
entry_point!(dot_q5_1, dot_q5_1_avx2, Q5_1Block, Q8Block);
entry_point!(dot_q8_0, dot_q8_0_avx2, Q8_0Block, Q8Block);
entry_point!(dot_q4_k, dot_q4_k_avx2, Q4KBlock, Q8KBlock);
entry_point!(dot_q5_k, dot_q5_k_avx2, Q5KBlock, Q8KBlock);
entry_point!(dot_q6_k, dot_q6_k_avx2, Q6KBlock, Q8KBlock);

/// Attention scores (see `qmatmul::scores_f16`), or `None` on a CPU without AVX2, FMA and
/// F16C.
pub(crate) fn scores_f16(q: &[f32], keys: &[f16], stride: usize, scores: &mut [f32]) -> Option<()> {
    let needed = scores
        .len()
        .checked_sub(1)
        .map_or(0, |last| last * stride + q.len());
    // SAFETY: the function is compiled for AVX2, FMA and F16C, which `available` found.
    (available() && keys.len() >= needed)
        .then(|| unsafe { scores_rows::<1>(q, q.len(), keys, stride, scores) })
}

/// Weighed values (see `qmatmul::weighted_sum_f16`), or `None` on a CPU without AVX2, FMA and
/// F16C.
pub(crate) fn weighted_sum_f16(
    weights: &[f32],
    values: &[f16],
    stride: usize,
    y: &mut [f32],
) -> Option<()> {
    let needed = weights
        .len()
        .checked_sub(1)
        .map_or(0, |last| last * stride + y.len());
    // SAFETY: as in `scores_f16`.
    (available() && values.len() >= needed)
        .then(|| unsafe { weighted_sum_f16_avx2(weights, values, stride, y) })
}

/// `$kernel::<R>(args)` for `$rows` rows, its row count a constant, from 1 to [`GROUP`]; a
/// `return None` from the calling function for any other count.
macro_rules! up_to_group {
    ($rows:expr, $kernel:ident($($arg:expr),*)) => {
        match $rows {
            1 => $kernel::<1>($($arg),*),
            2 => $kernel::<2>($($arg),*),
            3 => $kernel::<3>($($arg),*),
            4 => $kernel::<4>($($arg),*),
            5 => $kernel::<5>($($arg),*),
            6 => $kernel::<6>($($arg),*),
            _ => return None,
        }
    };
}

/// Attention scores of up to [`GROUP`] query heads that share their keys (see
/// `qmatmul::scores_f16_heads`): each key is widened once for all of them. `None` on a CPU
/// without AVX2, FMA and F16C, or for larger groups.
pub(crate) fn scores_f16_heads(
    q: &[f32],
    size: usize,
    keys: &[f16],
    stride: usize,
    scores: &mut [f32],
) -> Option<()> {
    let heads = q.len() / size.max(1);
    let n = scores.len() / heads.max(1);
    let needed = n.checked_sub(1).map_or(0, |last| last * stride + size);
    if !(available() && keys.len() >= needed && scores.len() == heads * n) {
        return None;
    }
    // SAFETY: the kernels are compiled for AVX2, FMA and F16C, which `available` found.
    unsafe { up_to_group!(heads, scores_rows(q, size, keys, stride, scores)) }
    Some(())
}

/// The most query rows that one call takes: their two accumulators each, and the key, fill
/// AVX2's sixteen registers. [`up_to_group!`] has an arm for each count up to it.
pub(crate) const GROUP: usize = 6;

/// `H` rows of queries (`size` values each) by every key: eight products at a time in two
/// alternating float accumulators per row, whose lanes are summed for all rows at once
/// ([`row_sums`]), then the values past the last eight.
#[target_feature(enable = "avx2,fma,f16c")]
fn scores_rows<const H: usize>(
    q: &[f32],
    size: usize,
    keys: &[f16],
    stride: usize,
    scores: &mut [f32],
) {
    let n = scores.len() / H;
    let full = size / 8 * 8;
    for j in 0..n {
        let key = &keys[j * stride..j * stride + size];
        let mut acc = [[_mm256_setzero_ps(); 2]; H];
        // Runs of eight alternate between the two accumulators, two runs at a time so that
        // each accumulator is known where it is used (and stays in a register).
        let mut i = 0;
        while i + 16 <= full {
            scores_step(&mut acc, q, size, key, i, 0);
            scores_step(&mut acc, q, size, key, i + 8, 1);
            i += 16;
        }
        if i < full {
            scores_step(&mut acc, q, size, key, i, 0);
        }
        let sums = row_sums(acc);
        for (h, &sum) in sums.iter().enumerate().take(H) {
            let mut sum = sum;
            for t in full..size {
                sum += q[h * size + t] * widen(key[t]);
            }
            scores[h * n + j] = sum;
        }
    }
}

/// Values `i..i + 8` of the key against those of each of the `H` query rows (`size` values
/// each), into accumulator `a` of every row.
#[target_feature(enable = "avx2,fma,f16c")]
#[inline]
fn scores_step<const H: usize>(
    acc: &mut [[__m256; 2]; H],
    q: &[f32],
    size: usize,
    key: &[f16],
    i: usize,
    a: usize,
) {
    assert!(i + 8 <= key.len() && i + 8 <= size && H * size <= q.len());
    // SAFETY: values i..i+8 lie within the key (asserted); `loadu` needs no alignment.
    let k = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(key.as_ptr().add(i).cast()) });
    for (h, acc) in acc.iter_mut().enumerate() {
        // SAFETY: values i..i+8 of row h's query, h < H (asserted).
        let x = unsafe { _mm256_loadu_ps(q.as_ptr().add(h * size + i)) };
        acc[a] = _mm256_fmadd_ps(x, k, acc[a]);
    }
}

/// The sum of each row's two accumulators' 16 lanes, for up to eight rows at once: lanes
/// paired, then pairs of pairs, then the two halves (`((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7))`
/// for every row, whatever the others), where a sum per row took as many instructions as eight
/// rows take here.
#[target_feature(enable = "avx2")]
fn row_sums<const H: usize>(acc: [[__m256; 2]; H]) -> [f32; 8] {
    let v: [__m256; 8] = std::array::from_fn(|h| {
        if h < H {
            _mm256_add_ps(acc[h][0], acc[h][1])
        } else {
            _mm256_setzero_ps()
        }
    });
    let low = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    let high = _mm256_hadd_ps(_mm256_hadd_ps(v[4], v[5]), _mm256_hadd_ps(v[6], v[7]));
    let sum = _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(low, high),
        _mm256_permute2f128_ps::<0x31>(low, high),
    );
    let mut out = [0f32; 8];
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), sum) };
    out
}

/// Weighed values for up to [`GROUP`] query heads sharing their values (see
/// `qmatmul::weighted_sum_f16_heads`). `None` where [`scores_f16_heads`] is.
pub(crate) fn weighted_sum_f16_heads(
    weights: &[f32],
    values: &[f16],
    stride: usize,
    y: &mut [f32],
    size: usize,
) -> Option<()> {
    let heads = y.len() / size.max(1);
    let n = weights.len() / heads.max(1);
    let needed = n.checked_sub(1).map_or(0, |last| last * stride + size);
    if !(available() && values.len() >= needed && weights.len() == heads * n) {
        return None;
    }
    // SAFETY: as in `scores_f16_heads`.
    unsafe { up_to_group!(heads, weighted_rows(weights, values, stride, y, size)) }
    Some(())
}

#[target_feature(enable = "avx2,fma,f16c")]
fn weighted_rows<const H: usize>(
    weights: &[f32],
    values: &[f16],
    stride: usize,
    y: &mut [f32],
    size: usize,
) {
    let heads = H;
    let n = weights.len() / heads;
    // What the unchecked reads below rely on (once per call).
    assert!(
        y.len() >= H * size && (n == 0 || values.len() >= (n - 1) * stride + size),
        "weighted_rows: {} outputs, {} values for {n} positions",
        y.len(),
        values.len()
    );
    let mut i = 0;
    while i + 8 <= size {
        let mut acc = [_mm256_setzero_ps(); H];
        for (h, acc) in acc.iter_mut().enumerate() {
            // SAFETY: outputs i..i+8 of head h lie within `y`.
            *acc = unsafe { _mm256_loadu_ps(y.as_ptr().add(h * size + i)) };
        }
        for j in 0..n {
            // SAFETY: `values` holds position n − 1's `size` values at `(n − 1)·stride`
            // (asserted above), so values `i..i + 8` (i + 8 ≤ size) of every position j < n;
            // `weights` holds at least `H·n` weights. Unchecked, these reads left the loop more bounds
            // checks than multiply-adds.
            unsafe {
                let v =
                    _mm256_cvtph_ps(_mm_loadu_si128(values.as_ptr().add(j * stride + i).cast()));
                for (h, acc) in acc.iter_mut().enumerate() {
                    let w = *weights.get_unchecked(h * n + j);
                    *acc = _mm256_fmadd_ps(_mm256_set1_ps(w), v, *acc);
                }
            }
        }
        for (h, acc) in acc.iter().enumerate() {
            // SAFETY: as above.
            unsafe { _mm256_storeu_ps(y.as_mut_ptr().add(h * size + i), *acc) };
        }
        i += 8;
    }
    for h in 0..heads {
        for t in i..size {
            for j in 0..n {
                y[h * size + t] += weights[h * n + j] * values[j * stride + t].to_f32();
            }
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
fn weighted_sum_f16_avx2(weights: &[f32], values: &[f16], stride: usize, y: &mut [f32]) {
    let n = y.len();
    let mut i = 0;
    // Eight outputs at a time, held in a register across all the weighed values.
    while i + 8 <= n {
        // SAFETY: outputs i..i+8 lie within `y`.
        let mut acc = unsafe { _mm256_loadu_ps(y.as_ptr().add(i)) };
        for (j, &w) in weights.iter().enumerate() {
            let value = &values[j * stride + i..j * stride + i + 8];
            // SAFETY: `value` holds the 8 values `loadu` reads.
            let v = _mm256_cvtph_ps(unsafe { _mm_loadu_si128(value.as_ptr().cast()) });
            acc = _mm256_fmadd_ps(_mm256_set1_ps(w), v, acc);
        }
        // SAFETY: as above.
        unsafe { _mm256_storeu_ps(y.as_mut_ptr().add(i), acc) };
        i += 8;
    }
    for (t, out) in y.iter_mut().enumerate().skip(i) {
        for (j, &w) in weights.iter().enumerate() {
            *out += w * values[j * stride + t].to_f32();
        }
    }
}

/// llama.cpp's softmax of a row of raw attention scores (each scaled in f32, `exp(x − max)`
/// summed in f64, every value multiplied by the sum's inverse) with `exp` computed eight
/// lanes at a time, or `None` on a CPU without AVX2 and FMA. A decoded token takes an `exp`
/// per head and position; as calls to the C library's they grew to a third of a follow-up
/// turn's time at 1,400 positions.
pub(crate) fn softmax(row: &mut [f32], scale: f32) -> Option<()> {
    // SAFETY: the function is compiled for AVX2 and FMA, which `available` found.
    available().then(|| unsafe { softmax_avx2(row, scale) })
}

/// Every value of `row` rounded to the nearest f16 (ties to even), eight at a time with F16C;
/// `None` on a CPU without AVX2, FMA and F16C.
pub(crate) fn round_to_f16(row: &mut [f32]) -> Option<()> {
    // SAFETY: the function is compiled for AVX2 and F16C, which `available` found.
    available().then(|| unsafe { round_to_f16_f16c(row) })
}

#[target_feature(enable = "avx2,f16c")]
fn round_to_f16_f16c(row: &mut [f32]) {
    let mut chunks = row.chunks_exact_mut(8);
    for chunk in &mut chunks {
        // SAFETY: `chunk` holds the 8 values `loadu`/`storeu` touch.
        unsafe {
            let v = _mm256_loadu_ps(chunk.as_ptr());
            let h = _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(v);
            _mm256_storeu_ps(chunk.as_mut_ptr(), _mm256_cvtph_ps(h));
        }
    }
    for v in chunks.into_remainder() {
        *v = widen(f16::from_f32(*v));
    }
}

#[target_feature(enable = "avx2,fma")]
fn softmax_avx2(row: &mut [f32], scale: f32) {
    let n = row.len() / 8 * 8;
    let scale_v = _mm256_set1_ps(scale);
    let mut max_v = _mm256_set1_ps(f32::NEG_INFINITY);
    for chunk in row[..n].chunks_exact_mut(8) {
        // SAFETY: `chunk` holds the 8 values `loadu`/`storeu` touch.
        unsafe {
            let v = _mm256_mul_ps(_mm256_loadu_ps(chunk.as_ptr()), scale_v);
            _mm256_storeu_ps(chunk.as_mut_ptr(), v);
            max_v = _mm256_max_ps(max_v, v);
        }
    }
    let mut lanes = [0f32; 8];
    // SAFETY: `lanes` holds 8 values.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), max_v) };
    let mut max = lanes.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in &mut row[n..] {
        *v *= scale;
        max = max.max(*v);
    }
    let max_v = _mm256_set1_ps(max);
    let (mut low, mut high) = (_mm256_setzero_pd(), _mm256_setzero_pd());
    for chunk in row[..n].chunks_exact_mut(8) {
        // SAFETY: as above.
        unsafe {
            let e = exp(_mm256_sub_ps(_mm256_loadu_ps(chunk.as_ptr()), max_v));
            _mm256_storeu_ps(chunk.as_mut_ptr(), e);
            low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
            high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(e)));
        }
    }
    let mut halves = [0f64; 4];
    // SAFETY: `halves` holds 4 values.
    unsafe { _mm256_storeu_pd(halves.as_mut_ptr(), _mm256_add_pd(low, high)) };
    let mut sum: f64 = halves.iter().sum();
    for v in &mut row[n..] {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    let inverse = (1.0 / sum) as f32;
    for v in row.iter_mut() {
        *v *= inverse;
    }
}

/// `eˣ` for eight `x ≤ 0`, within two units in the last place: `x = n·ln 2 + r` with
/// `|r| ≤ ln 2 / 2` (ln 2 split in two parts so that `r` is exact), `eʳ` by its Taylor series
/// to the sixth power, and `2ⁿ` built in the exponent bits. Below −87 (where `eˣ` leaves the
/// normal floats, far under any weight that counts) it gives 0.
#[target_feature(enable = "avx2,fma")]
fn exp(x: __m256) -> __m256 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HIGH: f32 = 0.693_145_75;
    const LN2_LOW: f32 = 1.428_606_8e-6;
    let floor = _mm256_set1_ps(-87.0);
    let clamped = _mm256_max_ps(x, floor);
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        clamped,
        _mm256_set1_ps(LOG2_E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HIGH), clamped);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LOW), r);
    let mut p = _mm256_set1_ps(1.0 / 720.0);
    for c in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let exponent = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    let value = _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
    // Zero where x was below the floor (or not a number).
    let kept = _mm256_cmp_ps::<_CMP_GE_OQ>(x, floor);
    _mm256_and_ps(value, kept)
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

/// The 32 bytes at `p`.
///
/// # Safety
/// `p` must be valid for reading 32 bytes.
#[target_feature(enable = "avx2")]
unsafe fn load(p: *const u8) -> __m256i {
    // SAFETY: the caller's promise; `loadu` needs no alignment.
    unsafe { _mm256_loadu_si256(p.cast()) }
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

/// Whether this CPU has AVX-512 VNNI with its 256-bit forms (`dpbusd`: four byte products
/// summed into each 32-bit lane in one instruction, where AVX2 takes three).
/// `OA_ENGINE_NO_VNNI=1` keeps the AVX2 instructions, to measure what it brings.
fn vnni() -> bool {
    static VNNI: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *VNNI.get_or_init(|| {
        available()
            && std::is_x86_feature_detected!("avx512vnni")
            && std::is_x86_feature_detected!("avx512vl")
            && std::env::var_os("OA_ENGINE_NO_VNNI").is_none_or(|v| v != "1")
    })
}

/// Whether weights are repacked eight rows at a time for [`rows8`]: where the AVX2 kernels run.
pub(super) fn repacks() -> bool {
    available()
}

/// A group of eight repacked weight rows (`w`: their tiles, block by block) by `N` activation
/// rows, each of at least `w.len()` blocks; values are held plus `offset`. `None` on a CPU
/// without AVX2 and FMA. The sums equal [`super::tiles::rows8_plain`]'s exactly.
pub(super) fn rows8<const N: usize>(
    w: &[Rows8],
    offset: u8,
    a: [&[Q8Block]; N],
) -> Option<[[f32; ROWS]; N]> {
    if !available() || a.iter().any(|a| a.len() < w.len()) {
        return None;
    }
    // SAFETY: each kernel is compiled for features `available` (AVX2, FMA) or, for the VNNI
    // one, also `vnni` found on this CPU; every activation row holds a block per tile.
    Some(unsafe {
        if vnni() {
            rows8_vnni(w, offset, a)
        } else if offset < 128 {
            rows8_avx2(w, offset, a)
        } else {
            rows8_avx2_signed(w, offset, a)
        }
    })
}

/// `$name`: the kernel of [`rows8`] with `$features`, whose tile values (32 bytes: four of each
/// row) are made ready once by `$prepare` and multiplied into the 32-bit sums with the four
/// activations of one row broadcast by `$step`; `$corrects` says whether the sums then take
/// away `offset · Σa` (when `$step` multiplied the values as stored, offset included).
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

/// `$name(w, a)`: a group of eight repacked rows of `$tiles` by `N` activation rows of
/// `$activation` (see [`rows8`]) through `$vnni` where the CPU has AVX-512 VNNI, else
/// `$avx2`; `None` on a CPU without AVX2 and FMA. The sums equal the tiles' plain ones exactly.
macro_rules! rows8_entry_point {
    ($name:ident, $tiles:ty, $activation:ty, $vnni:ident, $avx2:ident) => {
        pub(super) fn $name<const N: usize>(
            w: &[$tiles],
            a: [&[$activation]; N],
        ) -> Option<[[f32; ROWS]; N]> {
            if !available() || a.iter().any(|a| a.len() < w.len()) {
                return None;
            }
            // SAFETY: as in `rows8`.
            Some(unsafe { if vnni() { $vnni(w, a) } else { $avx2(w, a) } })
        }
    };
}

rows8_entry_point!(
    q4_1_rows8,
    Q4_1Rows8,
    Q8Block,
    q4_1_rows8_vnni,
    q4_1_rows8_avx2
);
rows8_entry_point!(
    q4k_rows8,
    Q4KRows8,
    Q8KBlock,
    q4k_rows8_vnni,
    q4k_rows8_avx2
);
rows8_entry_point!(
    q6k_rows8,
    Q6KRows8,
    Q8KBlock,
    q6k_rows8_vnni,
    q6k_rows8_avx2
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

/// `$name`: [`q4_1_rows8`]'s kernel with `$features`, multiplying with `$step`.
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

/// `$name`: [`q4k_rows8`]'s kernel with `$features`, multiplying with `$step`.
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

/// `$name`: [`q6k_rows8`]'s kernel with `$features`, multiplying with `$step`.
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
    use super::super::blocks::{dot_q4_1_plain, dot_q5_0_plain, dot_q8_0_plain};
    use super::super::k_quants::{dot_q4_k_plain, dot_q6_k_plain};
    use super::super::kernel_tests::{Noise, q8, q8k};
    use super::super::tiles::{q4_1_rows8_plain, q4k_rows8_plain, q6k_rows8_plain};
    use super::*;
    use half::f16;

    /// Every repacked-rows kernel this CPU runs, on groups of random Q5_0 and Q8_0 rows
    /// (with the −128 extreme): each gives the plain group sums exactly, for one and for
    /// several activation rows; and the plain group sums are the stored rows' own sums.
    #[test]
    fn the_repacked_row_kernels_agree_with_the_plain_sums() {
        if !available() {
            return;
        }
        fn check<F: super::super::tiles::Offset>(
            name: &str,
            rows: &[F],
            per_row: usize,
            a: &[Vec<Q8Block>],
            plain: fn(&[F], &[Q8Block]) -> f32,
        ) {
            let w: Vec<Rows8> = (0..per_row).map(|b| Rows8::new(rows, per_row, b)).collect();
            let expected: Vec<[f32; ROWS]> = a
                .iter()
                .map(|a| super::super::tiles::rows8_plain(&w, F::OFFSET, a))
                .collect();
            let four = [a[0].as_slice(), &a[1], &a[2], &a[3]];
            // SAFETY: `available` found AVX2 and FMA; `vnni` is checked before its kernel.
            let mut got = vec![unsafe {
                if F::OFFSET < 128 {
                    rows8_avx2(&w, F::OFFSET, four)
                } else {
                    rows8_avx2_signed(&w, F::OFFSET, four)
                }
            }];
            if vnni() {
                got.push(unsafe { rows8_vnni(&w, F::OFFSET, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "{name}");
            }
            assert_eq!(
                rows8(&w, F::OFFSET, [a[1].as_slice()]).unwrap()[0],
                expected[1]
            );
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
            check("Q5_0", &q5_0, per_row, &a, dot_q5_0_plain);
            let q8_0 = noise.q8_0(ROWS * per_row);
            check("Q8_0", &q8_0, per_row, &a, dot_q8_0_plain);
        }
    }

    /// The repacked Q4_K and Q6_K kernels this CPU runs against the plain group sums, exactly;
    /// and the plain group sums against the stored rows' own sums.
    #[test]
    fn the_repacked_k_quant_kernels_agree_with_the_plain_sums() {
        if !available() {
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
            let expected: Vec<[f32; ROWS]> = a.iter().map(|a| q4k_rows8_plain(&w, a)).collect();
            // SAFETY: `available` found AVX2 and FMA; `vnni` is checked before its kernel.
            let mut got = vec![unsafe { q4k_rows8_avx2(&w, four) }];
            if vnni() {
                got.push(unsafe { q4k_rows8_vnni(&w, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "Q4_K");
            }
            assert_eq!(q4k_rows8(&w, [a[2].as_slice()]).unwrap()[0], expected[2]);
            for (a, expected) in a.iter().zip(&expected) {
                for (r, &sum) in expected.iter().enumerate() {
                    let stored = dot_q4_k_plain(&q4_k[r * per_row..(r + 1) * per_row], a);
                    near("Q4_K", sum, stored);
                }
            }

            let q6_k = noise.q6_k(ROWS * per_row);
            let w: Vec<Q6KRows8> = (0..per_row)
                .map(|b| Q6KRows8::new(&q6_k, per_row, b))
                .collect();
            let expected: Vec<[f32; ROWS]> = a.iter().map(|a| q6k_rows8_plain(&w, a)).collect();
            // SAFETY: as above.
            let mut got = vec![unsafe { q6k_rows8_avx2(&w, four) }];
            if vnni() {
                got.push(unsafe { q6k_rows8_vnni(&w, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "Q6_K");
            }
            assert_eq!(q6k_rows8(&w, [a[3].as_slice()]).unwrap()[0], expected[3]);
            for (a, expected) in a.iter().zip(&expected) {
                for (r, &sum) in expected.iter().enumerate() {
                    let stored = dot_q6_k_plain(&q6_k[r * per_row..(r + 1) * per_row], a);
                    near("Q6_K", sum, stored);
                }
            }
        }
    }

    #[test]
    fn the_repacked_q4_1_kernels_agree_with_the_plain_sums() {
        if !available() {
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
            let expected: Vec<[f32; ROWS]> = a.iter().map(|a| q4_1_rows8_plain(&w, a)).collect();
            // SAFETY: `available` found AVX2, FMA and F16C; `vnni` is checked before its kernel.
            let mut got = vec![unsafe { q4_1_rows8_avx2(&w, four) }];
            if vnni() {
                got.push(unsafe { q4_1_rows8_vnni(&w, four) });
            }
            for sums in got {
                assert_eq!(sums.as_slice(), expected.as_slice(), "Q4_1");
            }
            assert_eq!(q4_1_rows8(&w, [a[0].as_slice()]).unwrap()[0], expected[0]);
            for (a, expected) in a.iter().zip(&expected) {
                for (r, &sum) in expected.iter().enumerate() {
                    let stored = dot_q4_1_plain(&q4_1[r * per_row..(r + 1) * per_row], a);
                    let bound = 1e-5 * sum.abs().max(stored.abs()).max(1.0);
                    assert!(
                        (sum - stored).abs() <= bound,
                        "Q4_1 row {r}: {sum} vs {stored}"
                    );
                }
            }
        }
    }

    #[test]
    fn attention_over_the_f16_cache_agrees_with_plain_loops() {
        if !available() {
            return;
        }
        let mut noise = Noise(0x2545_F491_4F6C_DD1D);
        // Heads of 64 and of 20 values (a tail past the last full eight), keys 3 heads apart.
        for size in [64, 20] {
            let stride = 3 * size;
            let keys: Vec<f16> = (0..40 * stride).map(|_| noise.half()).collect();
            let q: Vec<f32> = (0..size).map(|_| noise.scale()).collect();
            let mut fast = vec![0f32; 40];
            scores_f16(&q, &keys, stride, &mut fast).unwrap();
            let weights: Vec<f32> = (0..40).map(|_| noise.scale()).collect();
            let mut y = vec![0.5f32; size];
            weighted_sum_f16(&weights, &keys, stride, &mut y).unwrap();
            for (j, score) in fast.iter().enumerate() {
                let plain: f32 = (0..size)
                    .map(|t| q[t] * keys[j * stride + t].to_f32())
                    .sum();
                assert!(
                    (score - plain).abs() <= 1e-5 * size as f32,
                    "{score} vs {plain}"
                );
            }
            for (t, out) in y.iter().enumerate() {
                let plain: f32 = 0.5
                    + (0..40)
                        .map(|j| weights[j] * keys[j * stride + t].to_f32())
                        .sum::<f32>();
                assert!((out - plain).abs() <= 1e-5 * 40.0, "{out} vs {plain}");
            }
            // Too few keys for the scores asked: refused, not read past the end.
            assert!(scores_f16(&q, &keys[..stride], stride, &mut fast).is_none());
        }
    }

    #[test]
    fn heads_sharing_a_cache_head_get_what_each_gets_alone() {
        if !available() {
            return;
        }
        let mut noise = Noise(0x005E_ED0F_A77E_0710);
        for (heads, size) in [(3, 64), (4, 20), (1, 256)] {
            let stride = 2 * size;
            let n = 37;
            let keys: Vec<f16> = (0..n * stride).map(|_| noise.half()).collect();
            let q: Vec<f32> = (0..heads * size).map(|_| noise.scale()).collect();
            let mut together = vec![0f32; heads * n];
            scores_f16_heads(&q, size, &keys, stride, &mut together).unwrap();
            let weights: Vec<f32> = (0..heads * n).map(|_| noise.scale()).collect();
            let mut y = vec![0.25f32; heads * size];
            weighted_sum_f16_heads(&weights, &keys, stride, &mut y, size).unwrap();
            for h in 0..heads {
                let mut alone = vec![0f32; n];
                scores_f16(&q[h * size..(h + 1) * size], &keys, stride, &mut alone).unwrap();
                assert_eq!(&together[h * n..(h + 1) * n], alone.as_slice());
                let mut y_alone = vec![0.25f32; size];
                weighted_sum_f16(&weights[h * n..(h + 1) * n], &keys, stride, &mut y_alone)
                    .unwrap();
                assert_eq!(&y[h * size..(h + 1) * size], y_alone.as_slice());
            }
        }
        // More heads than a call takes: refused, for the caller to go head by head.
        let mut scores = vec![0f32; 9];
        assert!(scores_f16_heads(&[0.0; 9 * 8], 8, &[f16::ZERO; 8], 8, &mut scores).is_none());
    }

    #[test]
    fn rounding_to_f16_eight_at_a_time_is_halfs_rounding() {
        if !available() {
            return;
        }
        let mut noise = Noise(0x0123_4567_89AB_CDEF);
        let mut row: Vec<f32> = (0..1003)
            .map(|i| match i % 7 {
                0 => noise.scale() * 1e-6,
                1 => noise.scale() * 7e4,
                _ => noise.scale(),
            })
            .collect();
        row.extend([0.0, -0.0, 65520.0, 1e-8, f32::INFINITY]);
        let expected: Vec<u32> = row
            .iter()
            .map(|&v| f16::from_f32(v).to_f32().to_bits())
            .collect();
        round_to_f16(&mut row).unwrap();
        let got: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn the_vectorised_softmax_agrees_with_the_plain_one() {
        if !available() {
            return;
        }
        let mut noise = Noise(0xDEAD_BEEF_1234_5678);
        for len in [1, 7, 8, 61, 1444] {
            let raw: Vec<f32> = (0..len).map(|_| noise.scale() * 40.0).collect();
            let mut fast = raw.clone();
            softmax(&mut fast, 0.125).unwrap();
            let mut plain = raw.clone();
            crate::qmatmul::softmax_row(&mut plain, 0.125);
            let total: f32 = fast.iter().sum();
            assert!(
                (total - 1.0).abs() < 1e-5,
                "{len}: the weights sum to {total}"
            );
            for (f, p) in fast.iter().zip(&plain) {
                assert!(
                    (f - p).abs() <= 4.0 * f32::EPSILON * p.max(1e-30),
                    "{len}: {f} vs {p}"
                );
            }
        }
        // Far below the largest score: nothing, not a denormal or garbage.
        let mut row = vec![0.0, -200.0, -90.0, -50.0, 0.0, 0.0, 0.0, 0.0];
        softmax(&mut row, 1.0).unwrap();
        assert_eq!((row[1], row[2]), (0.0, 0.0));
        assert!(row[3] > 0.0);
    }
}
