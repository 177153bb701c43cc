//! Reviewing what may leave the machine: each outbox event with the exact content that would be
//! sent and the personal data found in it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ContributionEvent;

/// Personal data found in an item's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadFinding {
    /// What kind of data, by its wire name (`email`, `phone`, …).
    pub kind: String,
    /// The kind, described for a person ("e-mail address").
    pub description: String,
    /// Byte offset in [`ReviewItem::payload_json`] where it starts.
    pub start: usize,
    /// Byte offset in [`ReviewItem::payload_json`] just past it.
    pub end: usize,
    /// The text found, as the person wrote it (the payload shows it JSON-escaped); a
    /// dismissal is remembered for this text.
    pub text: String,
}

/// One event in the outbox, as the person reviews it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// The event (its payload already redacted where the person asked).
    pub event: ContributionEvent,
    /// Exactly what is sent for it, pretty-printed, with the action's payload shown as JSON.
    pub payload_json: String,
    /// Personal data found in its free text, in payload order.
    pub findings: Vec<PayloadFinding>,
    /// What was found but the person dismissed as not personal (here or wherever the same
    /// text was found as the same kind): not marked, not redacted, and restorable.
    #[serde(default)]
    pub dismissed: Vec<PayloadFinding>,
}

/// The events of one conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewGroup {
    /// The conversation.
    pub conversation_id: Uuid,
    /// Its title, or "Deleted conversation".
    pub title: String,
    /// Its events, oldest first.
    pub items: Vec<ReviewItem>,
}
