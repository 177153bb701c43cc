//! The use cases of Open Assistant Desktop.
//!
//! The desktop shell and the CLI call this crate and nothing below it: it ties the local store
//! ([`oa_store`]) to the inference engine ([`oa_engine`]), the personal-data finder
//! ([`oa_privacy`]) and the dataset server's client ([`oa_sync`]). Callers hold one [`App`] and
//! reach its use cases through its areas — [`App::chat`], [`App::feedback`], [`App::sharing`],
//! [`App::account`], [`App::tasks`], [`App::models`], [`App::settings`], [`App::api`] — each a module of its
//! own over the state they share (`state.rs`), which imports none of them. The crate keeps the
//! threading rules in one place — SQLite is only touched on blocking threads, inference only on
//! the engine thread — so that callers can be plain `async` code.

mod account;
mod api;
mod app;
mod chat;
mod config;
mod downloads;
mod error;
mod feedback;
mod installed;
mod models;
mod review;
mod settings;
mod sharing;
mod standing;
mod state;
mod tasks;

pub use account::Account;
pub use api::{Api, ApiClaim, ApiExchange, model_id};
pub use app::App;
pub use chat::Chat;
pub use config::AppConfig;
pub use downloads::{
    DownloadError, DownloadHandle, DownloadJob, HubSettings, StopKind, Stopped, catalog,
    import_model, partial_download, remove_model, start_download,
};
pub use error::{Error, ModelRefusal, Result};
pub use feedback::Feedback;
pub use installed::{SystemMemory, installed_models};
pub use models::Models;
pub use settings::Settings;
pub use sharing::{Sharing, SyncReport, retry_wait};
pub use state::SyncChanges;
pub use tasks::Tasks;
