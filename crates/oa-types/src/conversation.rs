//! Conversations as Open-Assistant message trees.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::SamplerParams;

/// Who wrote a message, with Open-Assistant's names: the person asking is the `prompter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person talking to the assistant.
    Prompter,
    /// The assistant: a model (synthetic) or a human writing as the assistant.
    Assistant,
}

impl Role {
    /// The name used in storage and in the oasst export.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Prompter => "prompter",
            Role::Assistant => "assistant",
        }
    }

    /// Parses the storage name back; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "prompter" => Some(Role::Prompter),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// Where a model-written (synthetic) message came from: enough to reproduce it and to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Provenance {
    /// The model's display id (the GGUF `general.name`, or the file stem).
    pub model_id: String,
    /// sha256 of the GGUF file, lowercase hex.
    pub model_sha256: String,
    /// Quantization of the weights, e.g. `Q4_1`.
    pub quantization: String,
    /// Architecture as named in the GGUF file, e.g. `llama`.
    pub architecture: String,
    /// sha256 of the chat template the prompt was rendered with.
    pub chat_template_sha256: String,
    /// Sampler settings used for this reply, seed included.
    pub sampler: SamplerParams,
    /// Version of the inference engine.
    pub engine_version: String,
    /// Tokens of the rendered prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Milliseconds from request to first generated token.
    pub time_to_first_token_ms: u64,
    /// Milliseconds from request to the last token.
    pub total_ms: u64,
    /// The person stopped the reply before the model finished it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stopped: bool,
    /// How many of the oldest messages did not fit the model's context and were left out of
    /// the prompt.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped_messages: u32,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// One message in a conversation tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Message {
    /// Unique id (UUIDv7, so ids sort by creation time).
    pub id: Uuid,
    /// The conversation (tree) this message belongs to.
    pub conversation_id: Uuid,
    /// The message this one replies to; `None` for the tree's root prompt.
    pub parent_id: Option<Uuid>,
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub text: String,
    /// Milliseconds since the Unix epoch.
    pub created_at_ms: i64,
    /// Set for model-written (synthetic) assistant messages.
    pub provenance: Option<Provenance>,
    /// For a reply a person wrote in the assistant's place to correct another reply: the reply
    /// it corrects (a sibling, with the same parent). `None` for every other message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrects: Option<Uuid>,
}

impl Message {
    /// Whether a model wrote this message (Open-Assistant's `synthetic`).
    pub fn is_synthetic(&self) -> bool {
        self.provenance.is_some()
    }

    /// Whether a person wrote this reply in the assistant's place: a correction, or an imported
    /// human-written reply.
    pub fn is_human_written_reply(&self) -> bool {
        self.role == Role::Assistant && self.provenance.is_none()
    }
}

/// A line in the conversation list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: Uuid,
    /// Title shown in the list (the first prompt, shortened, until renamed).
    pub title: String,
    /// Milliseconds since the Unix epoch of the last change.
    pub updated_at_ms: i64,
    /// Number of messages in the tree.
    pub message_count: u32,
}

/// A conversation with the messages on its current path, root first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationDetail {
    /// The list line of this conversation.
    pub summary: ConversationSummary,
    /// Messages from the root prompt to the newest message of the current path.
    pub messages: Vec<Message>,
}

/// A message on a conversation's current path, with where it sits among its siblings, so that
/// the UI can show "2 / 3" and arrows to switch between alternative prompts or replies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PathMessage {
    /// The message.
    pub message: Message,
    /// Its position among the messages with the same parent, oldest first, from 0.
    pub sibling_index: u32,
    /// How many messages share its parent, itself included.
    pub sibling_count: u32,
}

/// A conversation with its current path, each message placed among its siblings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationTreePath {
    /// The list line of this conversation.
    pub summary: ConversationSummary,
    /// Messages from the root prompt to the end of the current path.
    pub messages: Vec<PathMessage>,
}

/// A line in the conversation list with the person's organisation of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationListEntry {
    /// The conversation.
    pub summary: ConversationSummary,
    /// Pinned conversations are listed before the others.
    pub pinned: bool,
    /// Where the conversation came from: `None` for the app's own chats,
    /// [`API_SOURCE`](crate::API_SOURCE) for one a program held through the local API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_use_open_assistant_names_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&Role::Prompter).unwrap(),
            "\"prompter\""
        );
        assert_eq!(
            serde_json::to_string(&Role::Assistant).unwrap(),
            "\"assistant\""
        );
        for role in [Role::Prompter, Role::Assistant] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("user"), None);
    }

    #[test]
    fn a_list_entry_written_before_sources_existed_still_reads() {
        let old = r#"{"summary":{"id":"00000000-0000-0000-0000-000000000001","title":"Moons",
            "updated_at_ms":1000,"message_count":2},"pinned":false}"#;
        let entry: ConversationListEntry = serde_json::from_str(old).unwrap();
        assert_eq!(entry.source, None);
        let api = ConversationListEntry {
            source: Some(crate::API_SOURCE.into()),
            ..entry
        };
        let json = serde_json::to_string(&api).unwrap();
        assert!(json.contains(r#""source":"api""#), "{json}");
        assert_eq!(
            serde_json::from_str::<ConversationListEntry>(&json).unwrap(),
            api
        );
    }
}
