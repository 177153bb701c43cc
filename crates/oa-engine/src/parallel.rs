//! Work split over candle's thread pool (`candle_core::utils::barrier_pool`), whose threads
//! wait spinning between calls, so that the engine's own element-wise passes (norms, GELU,
//! softmax) run on every thread as the matrix products do, without a second pool competing
//! for the same cores.

use std::sync::Mutex;

/// Calls `f(i, chunk)` for every `chunk_len`-long chunk `i` of `data` (the last may be
/// shorter), the chunks split over the pool's threads. `work` estimates the operations all
/// the calls take together: small jobs stay on this thread.
pub(crate) fn for_each_chunk(
    data: &mut [f32],
    chunk_len: usize,
    work: usize,
    f: impl Fn(usize, &mut [f32]) + Sync,
) {
    let chunk_len = chunk_len.max(1);
    // Below this much work, waking the other threads costs more than it saves.
    const SERIAL: usize = 16 * 1024;
    if work <= SERIAL || data.len() <= chunk_len {
        for (i, chunk) in data.chunks_mut(chunk_len).enumerate() {
            f(i, chunk);
        }
        return;
    }
    // Each chunk is taken by one thread only, so its lock is never contended.
    let chunks: Vec<Mutex<&mut [f32]>> = data.chunks_mut(chunk_len).map(Mutex::new).collect();
    candle_core::utils::barrier_pool().execute_chunked(chunks.len(), |range| {
        for i in range {
            if let Ok(mut chunk) = chunks[i].lock() {
                f(i, &mut chunk);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_visited_once_with_its_index() {
        for len in [10, 100_000] {
            let mut data = vec![1f32; len];
            for_each_chunk(&mut data, 333, len, |i, chunk| {
                for v in chunk.iter_mut() {
                    *v += i as f32;
                }
            });
            for (j, v) in data.iter().enumerate() {
                assert_eq!(*v, 1.0 + (j / 333) as f32, "value {j} of {len}");
            }
        }
    }
}
