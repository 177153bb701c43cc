//! The desktop side of the dataset server's HTTP protocol.
//!
//! Contributions the user chose to share wait in the local store's outbox; this crate carries them
//! to the central server (`oa-server`). For now it knows how to reach a server and check that it
//! is healthy ([`ServerClient::health`]); draining the outbox in batches with retries, the consent
//! gate and PII redaction build on it.
//!
//! Every failure is an [`Error`] that says whether the user can fix it (a bad URL), whether it will
//! likely pass (the server is unreachable) or what the server answered. The outbox drain will
//! remove an event only after the server confirmed it, so that a failed request loses nothing.

mod client;
mod error;

pub use client::{MAX_RESPONSE_BYTES, ServerClient, ServerHealth};
pub use error::{Error, Result};
