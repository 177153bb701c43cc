//! The chat exchange between the UI and the app.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AppError, Message, SamplerParams};

/// A request to send a prompt and get a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    /// The conversation to continue; `None` starts a new one.
    pub conversation_id: Option<Uuid>,
    /// What the person typed.
    pub text: String,
    /// Sampler settings; `None` uses the defaults.
    #[serde(default)]
    pub sampler: Option<SamplerParams>,
}

/// One generated piece of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenEvent {
    /// Text to append to the reply (may be empty while a multi-byte character is incomplete).
    pub text: String,
    /// Index of the token in the reply, from 0.
    pub index: u32,
    /// Milliseconds since the request began.
    pub elapsed_ms: u64,
}

/// What the app streams back while a reply is generated, in this order:
/// `Started`, any number of `Token`, then `Finished` or `Failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ChatEvent {
    /// The prompt was stored; generation begins.
    Started {
        /// The stored prompt (its `conversation_id` tells a new conversation's id).
        prompt: Message,
    },
    /// A piece of the reply.
    Token(TokenEvent),
    /// The reply was stored with its provenance.
    Finished {
        /// The stored reply.
        reply: Message,
    },
    /// Generation failed; the prompt stays stored.
    Failed {
        /// What went wrong.
        error: AppError,
    },
}
