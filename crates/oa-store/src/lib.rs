//! The local SQLite store of Open Assistant Desktop.
//!
//! Everything a person writes and every model reply lives here first, offline, as
//! Open-Assistant message trees: each message has a parent, and a conversation remembers the
//! leaf of the path the person last viewed. The file is opened in WAL mode with foreign keys on;
//! each user action is one transaction, so a crash never leaves half an action behind.
//! Feedback (votes, labels, rankings, reactions) is kept with its current value, and every
//! shareable action is also recorded in an outbox of contribution events that leave the machine
//! only with the person's consent. Message text is indexed for full-text search (FTS5).
//! Each message's language is detected locally and kept as a BCP-47 tag. Conversations can be
//! exported in Open-Assistant's oasst format and imported back ([`oasst`]). Findings of
//! personal data the person dismissed as "not personal" are remembered by a hash of their text.
//! Conversations a program held through the local API are kept under their own source.
//! The schema is versioned (`PRAGMA user_version`) and migrated forward on open.

mod api;
mod dismissals;
mod error;
mod feedback;
mod lang;
mod leases;
mod migrations;
mod oasst;
mod outbox;
mod search;
mod settings;
mod store;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod tree;

pub use error::{ImportProblem, Result, StoreError};
pub use leases::leased_task_id;
pub use migrations::create_at_schema_version;
pub use oasst::IMPORTED_ENGINE_VERSION;
pub use search::{MAX_SEARCH_HITS, RANKED_MATCHES};
pub use store::{MAX_TITLE_CHARS, Store};
