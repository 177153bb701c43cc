//! Open-Assistant's dataset export format ("oasst"), so that local conversations can be
//! exchanged with the Open-Assistant dataset tools and read back.
//!
//! The field names, their order and which ones are left out when empty follow the published
//! exports: a `*.messages.jsonl` file holds one [`OasstMessage`] per line, a `*.trees.jsonl` file
//! one [`OasstTree`] per line with the messages nested under their parents in `replies`.
//! Maps are ordered by key, so that the same data always gives the same bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `tree_state` of a finished tree in an export.
pub const TREE_STATE_READY_FOR_EXPORT: &str = "ready_for_export";

/// One message as Open-Assistant exports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OasstMessage {
    /// The message's id.
    pub message_id: Uuid,
    /// The message it replies to; absent for a tree's root prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Uuid>,
    /// The author's account; absent where there is none (a local app has no accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// When it was written, ISO 8601 in UTC with microseconds, e.g.
    /// `2023-02-05T14:23:50.983000+00:00`.
    pub created_date: String,
    /// The text.
    pub text: String,
    /// `prompter` or `assistant`.
    pub role: String,
    /// BCP-47 language tag; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
    /// How many reviews the message had.
    #[serde(default)]
    pub review_count: u32,
    /// The outcome of review; absent when not reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_result: Option<bool>,
    /// Whether moderators deleted it.
    #[serde(default)]
    pub deleted: bool,
    /// Place among its ranked siblings, 0 for the best; absent when not ranked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<u32>,
    /// Whether a model wrote it.
    #[serde(default)]
    pub synthetic: bool,
    /// The model that wrote a synthetic message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// Toxicity scores by name; always written, `null` when not scored.
    #[serde(default)]
    pub detoxify: Option<BTreeMap<String, f64>>,
    /// The tree the message belongs to (only in the messages file; the trees file says it once
    /// per tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_tree_id: Option<Uuid>,
    /// The tree's state (only in the messages file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_state: Option<String>,
    /// Emoji reactions: code (`+1`, `red_flag`, …) to how many people gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emojis: Option<BTreeMap<String, u32>>,
    /// Replies, oldest first (only in the trees file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<Vec<OasstMessage>>,
    /// Labels by name (`spam`, `quality`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, OasstLabel>>,
}

/// A label's value (the mean over everyone who gave it) and how many gave it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OasstLabel {
    /// From 0 to 1.
    pub value: f64,
    /// How many people labelled.
    pub count: u32,
}

/// One conversation tree as Open-Assistant exports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OasstTree {
    /// The tree's id: Open-Assistant uses the root prompt's id.
    pub message_tree_id: Uuid,
    /// The tree's state, `ready_for_export` for finished trees.
    pub tree_state: String,
    /// The root prompt with every reply nested below it.
    pub prompt: OasstMessage,
}

/// What an import added to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OasstImportSummary {
    /// The new conversations, one per tree, in the order of the file.
    pub conversations: Vec<Uuid>,
    /// How many messages were stored.
    pub messages: u32,
}
