//! Rate limits: a token bucket per account and one per device.
//!
//! Each bucket holds a minute's allowance of events and refills evenly. A batch that does not fit
//! is refused as a whole with `429` and the seconds until it would fit, so an honest client that
//! syncs a large backlog slows down instead of losing events. The buckets live in the process: with
//! several server instances behind a load balancer, each enforces its own share (see the README).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use oa_types::Uuid;

use crate::{Error, Result};

/// The per-account and per-device buckets of one server process.
#[derive(Debug)]
pub struct RateLimiter {
    per_account: f64,
    per_device: f64,
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl RateLimiter {
    /// Allows `per_account` and `per_device` events a minute.
    pub fn new(per_account: u32, per_device: u32) -> Self {
        RateLimiter {
            per_account: f64::from(per_account),
            per_device: f64::from(per_device),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes `events` from both buckets, or from neither when either is short.
    pub fn take(&self, account: Uuid, device: Uuid, events: u32) -> Result<()> {
        let now = Instant::now();
        let wanted = f64::from(events);
        let mut buckets = self
            .buckets
            .lock()
            .map_err(|_| Error::Internal("rate limiter lock poisoned".into()))?;
        let mut wait_s: f64 = 0.0;
        let mut refilled = Vec::with_capacity(2);
        for (key, capacity) in [(account, self.per_account), (device, self.per_device)] {
            let bucket = buckets.get(&key).copied().unwrap_or(Bucket {
                tokens: capacity,
                at: now,
            });
            let rate = capacity / 60.0;
            let tokens =
                (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * rate).min(capacity);
            if tokens < wanted {
                // A batch larger than the whole bucket waits for a full bucket.
                let missing = wanted.min(capacity) - tokens;
                wait_s = wait_s.max((missing / rate).max(1.0));
            }
            refilled.push((key, tokens));
        }
        if wait_s > 0.0 {
            for (key, tokens) in refilled {
                buckets.insert(key, Bucket { tokens, at: now });
            }
            return Err(Error::RateLimited {
                retry_after_s: wait_s.ceil() as u64,
            });
        }
        for (key, tokens) in refilled {
            buckets.insert(
                key,
                Bucket {
                    tokens: tokens - wanted,
                    at: now,
                },
            );
        }
        // Forget idle buckets now and then, so the map does not grow with every device ever seen.
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now.duration_since(b.at).as_secs() < 120);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_minute_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(100, 60);
        let (account, device) = (Uuid::from_u128(1), Uuid::from_u128(2));
        assert!(limiter.take(account, device, 60).is_ok());
        match limiter.take(account, device, 10) {
            Err(Error::RateLimited { retry_after_s }) => assert!(retry_after_s >= 1),
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // Another device of the same account still has the account's remaining 40.
        assert!(limiter.take(account, Uuid::from_u128(3), 40).is_ok());
        assert!(limiter.take(account, Uuid::from_u128(4), 10).is_err());
    }
}
