//! Work split over candle's thread pool (`candle_core::utils::barrier_pool`), whose threads
//! wait spinning between calls, so that the engine's own element-wise passes (norms, GELU,
//! softmax) run on every thread as the matrix products do, without a second pool competing
//! for the same cores.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// Calls `f` on ranges that together cover `0..n` once each, over the pool's threads. Each
/// thread takes a share of what is left as it goes, large at first and one item at the end,
/// so that the threads finish together: with equal shares taken at the start, a pass waited
/// on its last share, one sixteenth of it at two threads.
pub(crate) fn for_each_range(n: usize, f: impl Fn(Range<usize>) + Sync) {
    let pool = candle_core::utils::barrier_pool();
    let threads = pool.n_workers() + 1;
    if threads == 1 || n <= 1 {
        if n > 0 {
            f(0..n);
        }
        return;
    }
    let next = AtomicUsize::new(0);
    pool.execute(|_| {
        let mut start = next.load(Ordering::Relaxed);
        while start < n {
            let take = ((n - start) / (2 * threads)).max(1);
            match next.compare_exchange_weak(
                start,
                start + take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    f(start..start + take);
                    start = next.load(Ordering::Relaxed);
                }
                Err(now) => start = now,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_in_one_range() {
        for n in [0, 1, 2, 7, 1000] {
            let seen: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            for_each_range(n, |range| {
                for i in range {
                    seen[i].fetch_add(1, Ordering::Relaxed);
                }
            });
            assert!(
                seen.iter().all(|s| s.load(Ordering::Relaxed) == 1),
                "{n} items"
            );
        }
    }

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
