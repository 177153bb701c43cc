//! Attention on the CPU over a KV cache kept in f16, position after position, as llama.cpp
//! keeps it.
//!
//! Queries are rounded to f16 and scores summed in f32 (llama.cpp multiplies its f16 cache by
//! f16 queries, and products of f16 values are exact in f32); the softmax is llama.cpp's
//! (`exp` summed in f64); the weights are rounded to f16 before they weigh the values. Each
//! query head reads its key/value head straight from the cache: nothing is widened, repeated
//! for grouped heads or copied per token, and appending a token writes only its own keys and
//! values (the cache grows as a vector does, so it holds what is used).

use half::f16;

use crate::qmatmul::{scores_f16_heads, softmax, weighted_sum_f16_heads};

/// One layer's keys and values, `[position][kv head][value]`.
#[derive(Default)]
pub(crate) struct LayerCache {
    keys: Vec<f16>,
    values: Vec<f16>,
}

impl LayerCache {
    /// Appends positions given as `[position][kv head][value]` in f32.
    pub fn append(&mut self, keys: &[f32], values: &[f32]) {
        self.keys.extend(keys.iter().map(|&k| f16::from_f32(k)));
        self.values.extend(values.iter().map(|&v| f16::from_f32(v)));
    }

    /// Keeps the first `positions`, each `stride` values long.
    pub fn truncate(&mut self, positions: usize, stride: usize) {
        self.keys.truncate(positions * stride);
        self.values.truncate(positions * stride);
    }
}

/// The layout of one layer's attention.
pub(crate) struct Heads {
    pub heads: usize,
    pub kv_heads: usize,
    /// Values per head, for queries, keys and values alike.
    pub size: usize,
    /// How many of the latest positions a query sees (a sliding-window layer), else all.
    pub window: Option<usize>,
}

/// The attention output, `[query][head][value]`, of `queries` (`[query][head][value]`, the
/// first at absolute position `position`) over the cache, which already holds their own keys
/// and values: each query sees the positions up to its own (within the window).
pub(crate) fn attend(
    heads: &Heads,
    queries: &[f32],
    cache: &LayerCache,
    position: usize,
) -> Vec<f32> {
    let size = heads.size;
    let stride = heads.kv_heads * size;
    let kv_len = cache.keys.len() / stride.max(1);
    let group = heads.heads / heads.kv_heads.max(1);
    let scale = 1.0 / (size as f32).sqrt();
    let mut out = vec![0f32; queries.len()];
    let work = queries.len() * kv_len * 2;
    // The query heads that share a key/value head go together: each key and value is widened
    // once for all of them.
    crate::parallel::for_each_chunk(&mut out, group.max(1) * size, work, |c, y| {
        let (query, kv_head) = (c / heads.kv_heads.max(1), c % heads.kv_heads.max(1));
        let at = position + query;
        let start = c * group.max(1) * size;
        let q: Vec<f32> = queries[start..start + y.len()]
            .iter()
            .map(|&v| f16::from_f32(v).to_f32())
            .collect();
        let first = heads.window.map_or(0, |w| (at + 1).saturating_sub(w));
        let last = at.min(kv_len.saturating_sub(1));
        let from = first * stride + kv_head * size;
        let n = last + 1 - first;
        let mut scores = vec![0f32; n * (y.len() / size)];
        scores_f16_heads(&q, size, &cache.keys[from..], stride, &mut scores);
        for row in scores.chunks_exact_mut(n) {
            softmax(row, scale);
            for w in row.iter_mut() {
                *w = f16::from_f32(*w).to_f32();
            }
        }
        weighted_sum_f16_heads(&scores, &cache.values[from..], stride, y, size);
    });
    out
}

/// llama.cpp's softmax of one row of raw scores, plainly: each scaled in f32, then
/// `exp(x − max)` summed in f64 and every value multiplied by the sum's inverse.
pub(crate) fn softmax_row(row: &mut [f32], scale: f32) {
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
