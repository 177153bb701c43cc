//! Defences of the account routes: who the client is (its address, through trusted proxies),
//! token buckets per address and per name for sign-ups and sign-ins, and the bounded pool that
//! password hashes run in.
//!
//! argon2id is memory-hard on purpose (19 MiB per hash by default), so unbounded parallel sign-ins
//! would take gigabytes and every core. At most [`PasswordCost::max_parallel`] hashes run at once;
//! a request that waits longer than [`PasswordCost::max_wait`] for a slot is answered `503` with
//! `Retry-After`. Sign-ups per address, sign-ins per address and failed sign-ins per name are
//! each a token bucket; an empty bucket is `429` with `Retry-After`, before any hash is computed.
//! A successful sign-in gives its tokens back, so a household behind one address is not locked
//! out by its own members.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{Limits, PasswordCost};
use crate::{AppState, Error, Result};

/// Buckets kept before idle, full ones are forgotten (bounds the memory a flood of names takes).
const MAX_BUCKETS: usize = 100_000;

/// The address a request came from: the peer, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
///
/// Without a connection address (a router driven in-process by a test) it is `0.0.0.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok());
        Ok(ClientIp(client_ip(
            peer,
            forwarded,
            &state.config().limits.trusted_proxies,
        )))
    }
}

/// The client behind `peer`: `X-Forwarded-For` is read from the right (each proxy appends the
/// address it saw), and only while the hop that wrote it is trusted. A client can write
/// anything into the header; only the entries our own proxies appended are believed.
fn client_ip<'a>(
    peer: IpAddr,
    forwarded: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &[IpAddr],
) -> IpAddr {
    let canonical = |ip: IpAddr| ip.to_canonical();
    let peer = canonical(peer);
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    for header in forwarded.rev() {
        for entry in header.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !trusted.contains(&client) {
                        return client;
                    }
                }
                // A malformed entry ends what can be believed.
                Err(_) => return client,
            }
        }
    }
    client
}

/// Token buckets by key: each holds `capacity` attempts and refills evenly over `period`.
#[derive(Debug)]
pub struct Throttle<K> {
    capacity: f64,
    per_second: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// `capacity` attempts per `period`; a capacity of zero refuses nothing.
    pub fn new(capacity: u32, period: Duration) -> Self {
        Throttle {
            capacity: f64::from(capacity),
            per_second: f64::from(capacity) / period.as_secs_f64().max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one attempt from `key`'s bucket, or says how many seconds until one is there.
    pub fn take(&self, key: &K) -> Result<()> {
        if self.capacity == 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            let capacity = self.capacity;
            let per_second = self.per_second;
            buckets.retain(|_, b| b.level(now, per_second, capacity) < capacity);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.capacity,
            at: now,
        });
        let tokens = bucket.level(now, self.per_second, self.capacity);
        if tokens < 1.0 {
            *bucket = Bucket { tokens, at: now };
            let wait = ((1.0 - tokens) / self.per_second).ceil().max(1.0);
            return Err(Error::TooManyAttempts {
                retry_after_s: wait as u64,
            });
        }
        *bucket = Bucket {
            tokens: tokens - 1.0,
            at: now,
        };
        Ok(())
    }

    /// Returns an attempt taken with [`Throttle::take`] (it succeeded, so it does not count).
    pub fn give_back(&self, key: &K) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bucket) = buckets.get_mut(key) {
            bucket.tokens = (bucket.tokens + 1.0).min(self.capacity);
        }
    }
}

impl Bucket {
    fn level(&self, now: Instant, per_second: f64, capacity: f64) -> f64 {
        (self.tokens + now.duration_since(self.at).as_secs_f64() * per_second).min(capacity)
    }
}

/// The throttles of the account routes.
#[derive(Debug)]
pub struct AccountThrottles {
    /// Sign-ups per client address.
    pub sign_ups: Throttle<IpAddr>,
    /// Sign-in attempts per client address.
    pub sign_ins: Throttle<IpAddr>,
    /// Failed sign-ins per display name (lower-cased): password guessing against one account.
    pub failed_sign_ins: Throttle<String>,
}

impl AccountThrottles {
    /// The throttles `limits` asks for.
    pub fn new(limits: &Limits) -> Self {
        let hour = Duration::from_secs(3600);
        AccountThrottles {
            sign_ups: Throttle::new(limits.sign_ups_per_hour_per_address, hour),
            sign_ins: Throttle::new(limits.sign_ins_per_hour_per_address, hour),
            failed_sign_ins: Throttle::new(limits.failed_sign_ins_per_hour_per_name, hour),
        }
    }
}

/// The bounded pool password hashes run in.
#[derive(Debug)]
pub struct HashPool {
    slots: Arc<Semaphore>,
    max_wait: Duration,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

/// A slot of the [`HashPool`], held while one hash runs. It is owned, so it moves onto the
/// blocking thread with the hash and is freed when the hash ends, not when a request that timed
/// out stops waiting for it.
pub struct HashSlot {
    running: Arc<AtomicUsize>,
    _permit: OwnedSemaphorePermit,
}

impl HashPool {
    /// A pool of `cost.max_parallel` slots (at least one).
    pub fn new(cost: &PasswordCost) -> Self {
        HashPool {
            slots: Arc::new(Semaphore::new(cost.max_parallel.max(1))),
            max_wait: cost.max_wait,
            running: Arc::default(),
            peak: Arc::default(),
        }
    }

    /// Waits for a free slot, at most the configured wait; then [`Error::Busy`].
    pub async fn slot(&self) -> Result<HashSlot> {
        let permit = tokio::time::timeout(self.max_wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Error::Busy {
                retry_after_s: self.max_wait.as_secs().max(1),
            })?
            .map_err(|_| Error::Internal("the password-hash pool was closed".into()))?;
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(running, Ordering::SeqCst);
        Ok(HashSlot {
            running: self.running.clone(),
            _permit: permit,
        })
    }

    /// Hashes running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// The most hashes that ever ran at once in this process.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for HashSlot {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy = ip("127.0.0.1");
        let trusted = [proxy];
        // Straight from a client: its header is ignored.
        assert_eq!(
            client_ip(ip("203.0.113.9"), ["198.51.100.1"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        // Through our proxy: the address it appended, not what the client wrote before it.
        assert_eq!(
            client_ip(proxy, ["10.9.9.9, 198.51.100.7"].into_iter(), &trusted),
            ip("198.51.100.7")
        );
        // Two of our proxies in a row.
        assert_eq!(
            client_ip(
                proxy,
                ["198.51.100.7", "127.0.0.1"].into_iter(),
                &[proxy, ip("127.0.0.1")]
            ),
            ip("198.51.100.7")
        );
        // A proxy with no header, or garbage: the proxy itself.
        assert_eq!(client_ip(proxy, [].into_iter(), &trusted), proxy);
        assert_eq!(client_ip(proxy, ["not-an-ip"].into_iter(), &trusted), proxy);
        // IPv4-mapped IPv6 peers are the IPv4 address.
        assert_eq!(
            client_ip(
                ip("::ffff:127.0.0.1"),
                ["198.51.100.7"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_bucket_refuses_when_empty_and_a_success_gives_its_token_back() {
        let throttle = Throttle::new(2, Duration::from_secs(3600));
        let key = ip("198.51.100.7");
        throttle.take(&key).unwrap();
        throttle.take(&key).unwrap();
        match throttle.take(&key) {
            Err(Error::TooManyAttempts { retry_after_s }) => {
                assert!((1..=1800).contains(&retry_after_s), "{retry_after_s}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Another address has its own bucket.
        throttle.take(&ip("198.51.100.8")).unwrap();
        throttle.give_back(&key);
        throttle.take(&key).unwrap();
        // Zero means no limit.
        let open = Throttle::new(0, Duration::from_secs(1));
        for _ in 0..100 {
            open.take(&key).unwrap();
        }
    }
}
