//! The local SQLite store of Open Assistant Desktop.
//!
//! Everything a person writes and every model reply lives here first, offline, as
//! Open-Assistant message trees: each message has a parent, and a conversation remembers the
//! leaf of the path the person last viewed. The file is opened in WAL mode with foreign keys on;
//! each user action is one transaction, so a crash never leaves half an action behind.
//! The schema is versioned (`PRAGMA user_version`) and migrated forward on open.

mod error;
mod migrations;
mod store;

pub use error::{Result, StoreError};
pub use store::Store;
