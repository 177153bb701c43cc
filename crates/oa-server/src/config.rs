//! The server's tunable settings: Open-Assistant's pipeline parameters, limits, and the cost of
//! password hashing. `main.rs` fills them from flags and environment variables; tests pick small
//! values so that a tree finishes with a handful of contributions.

use std::net::IpAddr;
use std::time::Duration;

/// Everything a running server can be tuned by. [`Config::default`] holds production values.
#[derive(Debug, Clone)]
pub struct Config {
    /// How trees grow, get reviewed and ranked.
    pub tree: TreePolicy,
    /// Request and text limits, rate limits and flood control.
    pub limits: Limits,
    /// Cost of argon2 password hashing.
    pub password: PasswordCost,
    /// How long a device token works.
    pub token_lifetime: Duration,
    /// How long a task lease lasts.
    pub lease_duration: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tree: TreePolicy::default(),
            limits: Limits::default(),
            password: PasswordCost::default(),
            token_lifetime: Duration::from_secs(365 * 24 * 3600),
            lease_duration: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Open-Assistant's tree parameters (their defaults, except where noted).
#[derive(Debug, Clone)]
pub struct TreePolicy {
    /// Reviews an initial prompt needs before the tree grows.
    pub reviews_initial_prompt: u32,
    /// Reviews a reply needs before it counts.
    pub reviews_reply: u32,
    /// Share of positive reviews (1 − mean `spam`) a message needs to be accepted.
    pub acceptance_threshold: f64,
    /// Accepted messages at which a tree stops growing and is ranked.
    pub goal_tree_size: u32,
    /// Deepest message a reply task is handed out for (the root is depth 0).
    pub max_depth: u32,
    /// Deepest reply any path accepts: a person's own shared conversation may run long, but
    /// not without end (every task on the tree carries the whole thread).
    pub max_conversation_depth: u32,
    /// Most replies a message gets through tasks.
    pub max_children: u32,
    /// Rankings a parent needs before its replies' consensus is computed (K).
    pub rankings_per_parent: u32,
    /// Red flags from distinct accounts that hide a message.
    pub red_flags_to_hide: u32,
    /// Troll score (messages hidden by moderation, rankings near the reverse of the consensus)
    /// at which an account is muted: it gets no tasks, and its reviews, red flags and rankings
    /// no longer count.
    pub troll_score_to_mute: f32,
    /// Skips of reply tasks after which a message gets no more reply tasks.
    pub skips_to_stop: u32,
    /// Growing trees below which initial-prompt tasks are handed out.
    pub max_active_trees: u32,
}

impl Default for TreePolicy {
    fn default() -> Self {
        TreePolicy {
            reviews_initial_prompt: 3,
            reviews_reply: 3,
            acceptance_threshold: 0.6,
            goal_tree_size: 12,
            max_depth: 3,
            max_conversation_depth: 200,
            max_children: 3,
            rankings_per_parent: 3,
            red_flags_to_hide: 3,
            troll_score_to_mute: 5.0,
            skips_to_stop: 3,
            max_active_trees: 100,
        }
    }
}

/// Sizes and rates the server accepts.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest message text, in characters.
    pub max_text_chars: usize,
    /// Events one account may send per minute (a token bucket of this size, refilled evenly).
    pub events_per_minute_account: u32,
    /// Events one device may send per minute.
    pub events_per_minute_device: u32,
    /// Accounts one client address may create per hour (a bucket of this size, refilled evenly;
    /// 0 = no limit).
    pub sign_ups_per_hour_per_address: u32,
    /// Sign-in attempts one client address may make per hour; successful ones are given back.
    pub sign_ins_per_hour_per_address: u32,
    /// Failed sign-ins one display name may see per hour, from anywhere: password guessing.
    pub failed_sign_ins_per_hour_per_name: u32,
    /// How long one request may take before it is answered `503` (a slow client or a stuck
    /// query must not hold a connection and its memory for ever).
    pub request_timeout: Duration,
    /// Requests handled at once; more wait their turn (inside `request_timeout`).
    pub max_concurrent_requests: usize,
    /// Open task leases one account may hold; asking for more leases only up to it.
    pub max_open_leases: u32,
    /// Addresses of the reverse proxies in front of the server (nginx, haproxy). Only a request
    /// from one of them has its client taken from `X-Forwarded-For`; with none, a client is the
    /// connection's peer, whatever headers it sends.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Limits {
    /// No sign-up or sign-in throttling: for tests and load generators that create many accounts
    /// from one address, never for a real server.
    pub fn without_account_throttles(self) -> Self {
        Limits {
            sign_ups_per_hour_per_address: 0,
            sign_ins_per_hour_per_address: 0,
            failed_sign_ins_per_hour_per_name: 0,
            ..self
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 4 * 1024 * 1024,
            max_text_chars: 10_000,
            events_per_minute_account: 6_000,
            events_per_minute_device: 3_000,
            sign_ups_per_hour_per_address: 10,
            sign_ins_per_hour_per_address: 60,
            failed_sign_ins_per_hour_per_name: 10,
            request_timeout: Duration::from_secs(30),
            max_concurrent_requests: 512,
            max_open_leases: 100,
            trusted_proxies: Vec::new(),
        }
    }
}

/// argon2id parameters; the default is OWASP's recommendation (19 MiB, 2 passes).
#[derive(Debug, Clone, Copy)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Hashes computed at once (each takes `memory_kib` and a core); further sign-ins wait.
    pub max_parallel: usize,
    /// How long a sign-in waits for a hashing slot before it is answered `503`.
    pub max_wait: Duration,
}

/// Twice the cores: enough to keep every core busy while some hashes wait on memory.
fn default_parallel_hashes() -> usize {
    2 * std::thread::available_parallelism().map_or(1, usize::from)
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost {
            memory_kib: 19 * 1024,
            iterations: 2,
            max_parallel: default_parallel_hashes(),
            max_wait: Duration::from_secs(10),
        }
    }
}

impl PasswordCost {
    /// The cheapest parameters argon2 allows: for tests only, never for real accounts.
    pub fn insecure_fast() -> Self {
        PasswordCost {
            memory_kib: 64,
            iterations: 1,
            ..PasswordCost::default()
        }
    }
}
