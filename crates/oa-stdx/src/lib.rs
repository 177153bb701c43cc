//! Small extensions of the standard library that several native crates need, written once:
//! writing a private file atomically ([`fs::write_private`]), the sha256 of a file
//! ([`fs::sha256_file`]) and the wall clock in milliseconds ([`time::now_ms`]).
//!
//! The engine, the app and the project's automation all sit above this crate, and it depends on
//! none of them, so any of them can use it without a circle. It holds no domain types (those are
//! `oa-types`) and never reaches the UI. Every failure is the [`std::io::Error`] the system
//! gave, so this crate has no error type of its own: callers add which file and what for.

pub mod fs;
pub mod time;
