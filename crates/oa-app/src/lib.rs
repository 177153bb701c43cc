//! The use cases of Open Assistant Desktop.
//!
//! The desktop shell, the CLI and the local API all call this crate and nothing below it: it
//! ties the local store ([`oa_store`]) to the inference engine ([`oa_engine`]). It keeps the
//! threading rules in one place — SQLite is only touched on blocking threads, inference only on
//! the engine thread — so that callers can be plain `async` code.

mod app;
mod community;
mod downloads;
mod error;
mod models;
mod review;
mod sync_agent;
mod sync_state;

pub use app::{App, AppConfig, SyncReport};
pub use downloads::{
    DownloadError, DownloadHandle, DownloadJob, HubSettings, StopKind, Stopped, catalog,
    import_model, partial_download, remove_model, start_download,
};
pub use error::{Error, Result};
pub use models::{SystemMemory, installed_models};
pub use sync_agent::retry_wait;
pub use sync_state::SyncChanges;
