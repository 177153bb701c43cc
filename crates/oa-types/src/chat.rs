//! The chat exchange between the UI and the app.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{AppError, ConversationSettings, Message, SamplerParams};

/// A request to send a prompt and get a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendMessage {
    /// The conversation to continue; `None` starts a new one.
    pub conversation_id: Option<Uuid>,
    /// What the person typed.
    pub text: String,
    /// Sampler settings for this reply only; `None` uses the conversation's (or the model's
    /// defaults).
    #[serde(default)]
    pub sampler: Option<SamplerParams>,
    /// An edit: the text becomes a new version of this prompt (its sibling), starting a branch;
    /// the original and what followed it stay in the tree.
    #[serde(default)]
    pub edit_of: Option<Uuid>,
    /// Settings to keep with the conversation before the reply is generated (how a new chat
    /// gets the system prompt and sampler chosen before its first message).
    #[serde(default)]
    pub settings: Option<ConversationSettings>,
}

/// A request for another reply to a prompt that has one: a new sibling of the replies, shown
/// as the newest version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regenerate {
    /// The conversation.
    pub conversation_id: Uuid,
    /// The prompt to answer again.
    pub prompt_id: Uuid,
    /// Sampler settings for this reply only; `None` uses the conversation's with a new seed.
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
    /// The token's log-probability and the likeliest alternatives, when they were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<TokenLogprobs>,
}

/// How likely the model found a generated token, and the tokens it found likeliest there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprobs {
    /// The chosen token.
    pub chosen: TokenLogprob,
    /// The likeliest tokens at that place, most likely first.
    pub top: Vec<TokenLogprob>,
}

/// One token and its log-probability (natural log, under the model's own distribution before
/// any sampling setting).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// The token's text (lossy where the token is part of a multi-byte character).
    pub token: String,
    /// The token's bytes.
    pub bytes: Vec<u8>,
    /// ln p(token).
    pub logprob: f32,
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
