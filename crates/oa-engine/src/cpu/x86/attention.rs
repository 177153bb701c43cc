//! The attention kernels with AVX2, FMA and F16C, over a KV cache kept in f16: scores of up
//! to six query heads at a time against each key (the key widened once for all of them),
//! values weighed in the same way, llama.cpp's softmax with `exp` eight lanes at a time, and
//! rounding to f16 eight values at a time.
//!
//! Every function here runs the instructions of those features: it is reached only through the
//! table [`kernels`] returns, whose caller found them on this CPU (or from tests that check).
#![allow(unsafe_code)]

use std::arch::x86_64::{
    __m256, _CMP_GE_OQ, _MM_FROUND_NO_EXC, _MM_FROUND_TO_NEAREST_INT, _mm_loadu_si128,
    _mm256_add_epi32, _mm256_add_pd, _mm256_add_ps, _mm256_and_ps, _mm256_castps256_ps128,
    _mm256_castsi256_ps, _mm256_cmp_ps, _mm256_cvtph_ps, _mm256_cvtps_epi32, _mm256_cvtps_pd,
    _mm256_cvtps_ph, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_fnmadd_ps, _mm256_hadd_ps,
    _mm256_loadu_ps, _mm256_max_ps, _mm256_mul_ps, _mm256_permute2f128_ps, _mm256_round_ps,
    _mm256_set1_epi32, _mm256_set1_ps, _mm256_setzero_pd, _mm256_setzero_ps, _mm256_slli_epi32,
    _mm256_storeu_pd, _mm256_storeu_ps, _mm256_sub_ps,
};

use half::f16;

use super::super::AttentionKernels;
use super::super::plain;
use super::super::scalar::widen;

/// The attention kernels with AVX2, FMA and F16C.
///
/// # Safety
/// The CPU must have AVX2, FMA and F16C: the kernels returned run their instructions.
pub(super) unsafe fn kernels() -> AttentionKernels {
    AttentionKernels {
        scores,
        weighted_sum,
        softmax,
        round_to_f16,
    }
}

/// [`AttentionKernels::scores`]: at most a kernel's worth of heads ([`GROUP`]) per pass over
/// the keys; head by head where a pass cannot be made.
fn scores(q: &[f32], size: usize, keys: &[f16], stride: usize, scores: &mut [f32]) {
    let n = scores.len() / (q.len() / size.max(1)).max(1);
    let rows = GROUP * size;
    let all = n > 0
        && q.chunks(rows)
            .zip(scores.chunks_mut(GROUP * n))
            .all(|(q, scores)| scores_f16_heads(q, size, keys, stride, scores).is_some());
    if all {
        return;
    }
    for (q, scores) in q.chunks_exact(size).zip(scores.chunks_exact_mut(n)) {
        if scores_f16(q, keys, stride, scores).is_none() {
            plain::attention::scores_one(q, keys, stride, scores);
        }
    }
}

/// [`AttentionKernels::weighted_sum`]: at most a kernel's worth of heads ([`GROUP`]) per pass
/// over the values; each pass adds into its heads, so the kernel's conditions are checked once,
/// before any, and head by head where they do not hold.
fn weighted_sum(weights: &[f32], values: &[f16], stride: usize, y: &mut [f32], size: usize) {
    let n = weights.len() / (y.len() / size.max(1)).max(1);
    let needed = n.checked_sub(1).map_or(0, |last| last * stride + size);
    if n > 0 && values.len() >= needed {
        for (y, w) in y.chunks_mut(GROUP * size).zip(weights.chunks(GROUP * n)) {
            let done = weighted_sum_f16_heads(w, values, stride, y, size);
            debug_assert!(done.is_some());
        }
        return;
    }
    for (w, y) in weights.chunks_exact(n.max(1)).zip(y.chunks_exact_mut(size)) {
        if weighted_sum_f16(w, values, stride, y).is_none() {
            plain::attention::weighted_sum_one(w, values, stride, y);
        }
    }
}

/// One query head's scores (see `plain::attention::scores_one`), or `None` where `keys` are
/// too few for them.
fn scores_f16(q: &[f32], keys: &[f16], stride: usize, scores: &mut [f32]) -> Option<()> {
    let needed = scores
        .len()
        .checked_sub(1)
        .map_or(0, |last| last * stride + q.len());
    // SAFETY: the function is compiled for AVX2, FMA and F16C, which this CPU has (see
    // `kernels`).
    (keys.len() >= needed).then(|| unsafe { scores_rows::<1>(q, q.len(), keys, stride, scores) })
}

/// One head's weighed values (see `plain::attention::weighted_sum_one`), or `None` where
/// `values` are too few for them.
fn weighted_sum_f16(weights: &[f32], values: &[f16], stride: usize, y: &mut [f32]) -> Option<()> {
    let needed = weights
        .len()
        .checked_sub(1)
        .map_or(0, |last| last * stride + y.len());
    // SAFETY: as in `scores_f16`.
    (values.len() >= needed).then(|| unsafe { weighted_sum_f16_avx2(weights, values, stride, y) })
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
/// [`AttentionKernels::scores`]): each key is widened once for all of them. `None` for larger
/// groups, or where `keys` are too few.
fn scores_f16_heads(
    q: &[f32],
    size: usize,
    keys: &[f16],
    stride: usize,
    scores: &mut [f32],
) -> Option<()> {
    let heads = q.len() / size.max(1);
    let n = scores.len() / heads.max(1);
    let needed = n.checked_sub(1).map_or(0, |last| last * stride + size);
    if !(keys.len() >= needed && scores.len() == heads * n) {
        return None;
    }
    // SAFETY: the kernels are compiled for AVX2, FMA and F16C, which this CPU has (see
    // `kernels`).
    unsafe { up_to_group!(heads, scores_rows(q, size, keys, stride, scores)) }
    Some(())
}

/// The most query rows that one call takes: their two accumulators each, and the key, fill
/// AVX2's sixteen registers. [`up_to_group!`] has an arm for each count up to it.
const GROUP: usize = 6;

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
/// [`AttentionKernels::weighted_sum`]). `None` where [`scores_f16_heads`] is.
fn weighted_sum_f16_heads(
    weights: &[f32],
    values: &[f16],
    stride: usize,
    y: &mut [f32],
    size: usize,
) -> Option<()> {
    let heads = y.len() / size.max(1);
    let n = weights.len() / heads.max(1);
    let needed = n.checked_sub(1).map_or(0, |last| last * stride + size);
    if !(values.len() >= needed && weights.len() == heads * n) {
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
/// lanes at a time. A decoded token takes an `exp` per head and position; as calls to the C
/// library's they grew to a third of a follow-up turn's time at 1,400 positions.
fn softmax(row: &mut [f32], scale: f32) {
    // SAFETY: the function is compiled for AVX2 and FMA, which this CPU has (see `kernels`).
    unsafe { softmax_avx2(row, scale) }
}

/// Every value of `row` rounded to the nearest f16 (ties to even), eight at a time with F16C.
fn round_to_f16(row: &mut [f32]) {
    // SAFETY: the function is compiled for AVX2 and F16C, which this CPU has (see `kernels`).
    unsafe { round_to_f16_f16c(row) }
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

#[cfg(test)]
mod tests {
    use super::super::super::features::Features;
    use super::super::super::kernel_tests::Noise;
    use super::*;

    #[test]
    fn attention_over_the_f16_cache_agrees_with_plain_loops() {
        if !Features::detect().avx2 {
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
        if !Features::detect().avx2 {
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
        if !Features::detect().avx2 {
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
        round_to_f16(&mut row);
        let got: Vec<u32> = row.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn the_vectorised_softmax_agrees_with_the_plain_one() {
        if !Features::detect().avx2 {
            return;
        }
        let mut noise = Noise(0xDEAD_BEEF_1234_5678);
        for len in [1, 7, 8, 61, 1444] {
            let raw: Vec<f32> = (0..len).map(|_| noise.scale() * 40.0).collect();
            let mut fast = raw.clone();
            softmax(&mut fast, 0.125);
            let mut plain = raw.clone();
            crate::cpu::plain::attention::softmax(&mut plain, 0.125);
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
        softmax(&mut row, 1.0);
        assert_eq!((row[1], row[2]), (0.0, 0.0));
        assert!(row[3] > 0.0);
    }
}
