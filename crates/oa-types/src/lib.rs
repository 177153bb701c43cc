//! Domain and wire types of Open Assistant Desktop, in Open-Assistant's terms.
//!
//! Every other crate speaks these types: the Leptos UI (compiled to wasm), the app's use cases, the
//! sync client and the central server. The crate therefore holds data only — serde types with no
//! I/O, no async runtime and no native dependency — so that it builds for `wasm32-unknown-unknown`.

mod chat;
mod conversation;
mod error;
mod model;

pub use chat::{ChatEvent, SendMessage, TokenEvent};
pub use conversation::{ConversationDetail, ConversationSummary, Message, Provenance, Role};
pub use error::{AppError, ErrorCode};
pub use model::{ModelInfo, ModelStatus, SamplerParams};
pub use uuid::Uuid;
