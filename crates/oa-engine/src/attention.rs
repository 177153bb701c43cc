//! Attention on the CPU over a KV cache kept in f16, position after position, as llama.cpp
//! keeps it.
//!
//! Queries are rounded to f16 and scores summed in f32 (llama.cpp multiplies its f16 cache by
//! f16 queries, and products of f16 values are exact in f32); the softmax is llama.cpp's
//! (`exp` summed in f64); the weights are rounded to f16 before they weigh the values. Each
//! query head reads its key/value head straight from the cache: nothing is widened, repeated
//! for grouped heads or copied per token, and appending a token writes only its own keys and
//! values (the cache grows as a vector does, so it holds what is used). The query heads that
//! share a key/value head read it together, and a prompt's queries go four at a time, so each
//! key and value is widened from f16 once for all of them; every query gets exactly the
//! numbers it would get alone (tested), which the prefix cache relies on.

use half::f16;

use crate::cpu::{AttentionKernels, widen};

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
    let kernels = &crate::cpu::kernels().attention;
    let mut out = vec![0f32; queries.len()];
    let work = queries.len() * kv_len * 2;
    let rows = queries.len() / (heads.heads * size).max(1);
    if rows >= 2 * QUERIES_AT_ONCE {
        // A prompt: several queries at a time, each key and value widened once for all of
        // them and all the heads that share it.
        let chunk = QUERIES_AT_ONCE * heads.heads * size;
        crate::parallel::for_each_chunk(&mut out, chunk, work, |c, y| {
            let first_query = c * QUERIES_AT_ONCE;
            let n_queries = y.len() / (heads.heads * size);
            for kv_head in 0..heads.kv_heads {
                attend_block(
                    kernels,
                    heads,
                    queries,
                    cache,
                    position,
                    first_query,
                    n_queries,
                    kv_head,
                    y,
                );
            }
        });
        return out;
    }
    // The query heads that share a key/value head go together: each key and value is widened
    // once for all of them.
    crate::parallel::for_each_chunk(&mut out, group.max(1) * size, work, |c, y| {
        let (query, kv_head) = (c / heads.kv_heads.max(1), c % heads.kv_heads.max(1));
        let at = position + query;
        let start = c * group.max(1) * size;
        let q: Vec<f32> = queries[start..start + y.len()]
            .iter()
            .map(|&v| widen(f16::from_f32(v)))
            .collect();
        let (first, last) = seen(heads, at, kv_len);
        let from = first * stride + kv_head * size;
        let n = last + 1 - first;
        let mut scores = vec![0f32; n * (y.len() / size)];
        (kernels.scores)(&q, size, &cache.keys[from..], stride, &mut scores);
        for row in scores.chunks_exact_mut(n) {
            weights(kernels, row, scale);
        }
        (kernels.weighted_sum)(&scores, &cache.values[from..], stride, y, size);
    });
    out
}

/// Queries that go through the cache together in a prompt.
const QUERIES_AT_ONCE: usize = 4;

/// The first and last cached positions a query at `at` sees.
fn seen(heads: &Heads, at: usize, kv_len: usize) -> (usize, usize) {
    let first = heads.window.map_or(0, |w| (at + 1).saturating_sub(w));
    (first, at.min(kv_len.saturating_sub(1)))
}

/// A row of raw scores made attention weights: scaled softmax, each weight rounded to f16.
fn weights(kernels: &AttentionKernels, row: &mut [f32], scale: f32) {
    (kernels.softmax)(row, scale);
    (kernels.round_to_f16)(row);
}

/// `n_queries` queries from `first_query` on, the heads of key/value head `kv_head`, into their
/// places in `y` (the block's output, `[query][head][value]`). Scores are computed over the
/// positions any of them sees and each query's row keeps its own (the others weigh 0), so each
/// query gets exactly what it gets alone.
#[allow(clippy::too_many_arguments)]
fn attend_block(
    kernels: &AttentionKernels,
    heads: &Heads,
    queries: &[f32],
    cache: &LayerCache,
    position: usize,
    first_query: usize,
    n_queries: usize,
    kv_head: usize,
    y: &mut [f32],
) {
    let size = heads.size;
    let stride = heads.kv_heads * size;
    let kv_len = cache.keys.len() / stride.max(1);
    let group = heads.heads / heads.kv_heads.max(1);
    let scale = 1.0 / (size as f32).sqrt();
    let row_len = heads.heads * size;
    // Rows `[query][head of the group]`.
    let mut q = Vec::with_capacity(n_queries * group * size);
    for t in 0..n_queries {
        let start = (first_query + t) * row_len + kv_head * group * size;
        q.extend(
            queries[start..start + group * size]
                .iter()
                .map(|&v| widen(f16::from_f32(v))),
        );
    }
    let (first, _) = seen(heads, position + first_query, kv_len);
    let (_, last) = seen(heads, position + first_query + n_queries - 1, kv_len);
    let n = last + 1 - first;
    let from = first * stride + kv_head * size;
    let mut scores = vec![0f32; n_queries * group * n];
    (kernels.scores)(&q, size, &cache.keys[from..], stride, &mut scores);
    for (r, row) in scores.chunks_exact_mut(n).enumerate() {
        let (own_first, own_last) = seen(heads, position + first_query + r / group, kv_len);
        let (lo, hi) = (own_first - first, own_last + 1 - first);
        weights(kernels, &mut row[lo..hi], scale);
        row[..lo].fill(0.0);
        row[hi..].fill(0.0);
    }
    let mut sums = vec![0f32; n_queries * group * size];
    (kernels.weighted_sum)(&scores, &cache.values[from..], stride, &mut sums, size);
    for t in 0..n_queries {
        let at = t * row_len + kv_head * group * size;
        y[at..at + group * size].copy_from_slice(&sums[t * group * size..(t + 1) * group * size]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_together_get_what_each_gets_alone() {
        // A prompt's queries go through the cache several at a time; a token decoded alone
        // must get the very same numbers, within a sliding window too.
        let mut state = 0x9E37_79B9_u32;
        let mut noise = || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state % 2000) as f32 / 1000.0 - 1.0
        };
        for window in [None, Some(5)] {
            let heads = Heads {
                heads: 6,
                kv_heads: 2,
                size: 16,
                window,
            };
            let stride = heads.kv_heads * heads.size;
            let mut cache = LayerCache::default();
            let kv: Vec<f32> = (0..2 * 23 * stride).map(|_| noise()).collect();
            cache.append(&kv[..23 * stride], &kv[23 * stride..]);
            let (position, n) = (13, 10);
            let row = heads.heads * heads.size;
            let queries: Vec<f32> = (0..n * row).map(|_| noise()).collect();
            let together = attend(&heads, &queries, &cache, position);
            for t in 0..n {
                let mut alone_cache = LayerCache::default();
                alone_cache.append(
                    &kv[..(position + t + 1) * stride],
                    &kv[23 * stride..(23 + position + t + 1) * stride],
                );
                let alone = attend(
                    &heads,
                    &queries[t * row..(t + 1) * row],
                    &alone_cache,
                    position + t,
                );
                assert_eq!(
                    &together[t * row..(t + 1) * row],
                    alone.as_slice(),
                    "{window:?}, query {t}"
                );
            }
        }
    }
}
