//! The attention kernels as plain loops: scores of f32 queries against f16 keys, values
//! weighed into f32 sums, llama.cpp's softmax, and rounding to f16.

use half::f16;

use super::super::AttentionKernels;
use super::super::scalar::widen;

/// The plain attention kernels.
pub(crate) fn kernels() -> AttentionKernels {
    AttentionKernels {
        scores,
        weighted_sum,
        softmax,
        round_to_f16,
    }
}

/// One query head's scores (see [`AttentionKernels::scores`]): `scores[j] = q ·
/// keys[j·stride..][..q.len()]`.
pub(crate) fn scores_one(q: &[f32], keys: &[f16], stride: usize, scores: &mut [f32]) {
    for (j, score) in scores.iter_mut().enumerate() {
        let key = &keys[j * stride..j * stride + q.len()];
        *score = q.iter().zip(key).map(|(x, k)| x * k.to_f32()).sum();
    }
}

/// [`AttentionKernels::scores`], head by head.
fn scores(q: &[f32], size: usize, keys: &[f16], stride: usize, scores: &mut [f32]) {
    let n = scores.len() / (q.len() / size.max(1)).max(1);
    for (q, scores) in q.chunks_exact(size).zip(scores.chunks_exact_mut(n)) {
        scores_one(q, keys, stride, scores);
    }
}

/// One head's weighed values (see [`AttentionKernels::weighted_sum`]):
/// `y += Σ_j weights[j] · values[j·stride..][..y.len()]`.
pub(crate) fn weighted_sum_one(weights: &[f32], values: &[f16], stride: usize, y: &mut [f32]) {
    for (j, &w) in weights.iter().enumerate() {
        let value = &values[j * stride..j * stride + y.len()];
        for (y, v) in y.iter_mut().zip(value) {
            *y += w * v.to_f32();
        }
    }
}

/// [`AttentionKernels::weighted_sum`], head by head.
fn weighted_sum(weights: &[f32], values: &[f16], stride: usize, y: &mut [f32], size: usize) {
    let n = weights.len() / (y.len() / size.max(1)).max(1);
    for (w, y) in weights.chunks_exact(n.max(1)).zip(y.chunks_exact_mut(size)) {
        weighted_sum_one(w, values, stride, y);
    }
}

/// llama.cpp's softmax of one row of raw scores: each scaled in f32, then `exp(x − max)`
/// summed in f64 and every value multiplied by the sum's inverse.
pub(crate) fn softmax(row: &mut [f32], scale: f32) {
    for v in row.iter_mut() {
        *v *= scale;
    }
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f64;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    let inverse = (1.0 / sum) as f32;
    for v in row.iter_mut() {
        *v *= inverse;
    }
}

/// Every value of `row` rounded to the nearest f16 and back.
pub(crate) fn round_to_f16(row: &mut [f32]) {
    for v in row.iter_mut() {
        *v = widen(f16::from_f32(*v));
    }
}
