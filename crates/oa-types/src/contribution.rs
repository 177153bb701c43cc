//! Contribution events: the outbox of things a person may share with the dataset server.
//!
//! Every shareable action (a message, a vote, labels, a ranking, a reaction, a retraction) is
//! recorded as an immutable event. Nothing leaves the machine until the person shares it, so an
//! event starts `private`; sharing queues it, the sync client sends it, and the server accepts or
//! rejects it.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a contribution event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ContributionKind {
    /// A prompt or reply was written.
    Message,
    /// A person wrote a better reply in the assistant's place; the payload is the new message,
    /// whose `corrects` names the reply it corrects.
    Correction,
    /// A thumbs vote.
    Rating,
    /// Text labels.
    Labels,
    /// A ranking of sibling replies.
    Ranking,
    /// An emoji reaction turned on or off.
    Reaction,
    /// Withdraws an event that was already sent.
    Retraction,
}

impl ContributionKind {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ContributionKind::Message => "message",
            ContributionKind::Correction => "correction",
            ContributionKind::Rating => "rating",
            ContributionKind::Labels => "labels",
            ContributionKind::Ranking => "ranking",
            ContributionKind::Reaction => "reaction",
            ContributionKind::Retraction => "retraction",
        }
    }

    /// Parses the storage name back.
    pub fn parse(s: &str) -> Option<ContributionKind> {
        [
            ContributionKind::Message,
            ContributionKind::Correction,
            ContributionKind::Rating,
            ContributionKind::Labels,
            ContributionKind::Ranking,
            ContributionKind::Reaction,
            ContributionKind::Retraction,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Where an event stands on its way to the dataset server.
///
/// The only moves are `private → queued` (share), `queued → private` (unshare),
/// `queued → sent`, `sent → accepted`, `sent → rejected`, and from `rejected` (the server holds
/// no copy) `→ queued` (send again, perhaps redacted) or `→ private` (keep it here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// Kept on this machine only.
    Private,
    /// The person agreed to share it; waiting for the sync client.
    Queued,
    /// Sent to the server, no answer yet.
    Sent,
    /// The server took it.
    Accepted,
    /// The server refused it (the reason is on the event).
    Rejected,
}

impl ConsentState {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Private => "private",
            ConsentState::Queued => "queued",
            ConsentState::Sent => "sent",
            ConsentState::Accepted => "accepted",
            ConsentState::Rejected => "rejected",
        }
    }

    /// Parses the storage name back.
    pub fn parse(s: &str) -> Option<ConsentState> {
        [
            ConsentState::Private,
            ConsentState::Queued,
            ConsentState::Sent,
            ConsentState::Accepted,
            ConsentState::Rejected,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether the move from `self` to `to` is one of the allowed ones.
    pub fn can_move_to(self, to: ConsentState) -> bool {
        use ConsentState::*;
        matches!(
            (self, to),
            (Private, Queued)
                | (Queued, Private)
                | (Queued, Sent)
                | (Sent, Accepted)
                | (Sent, Rejected)
                | (Rejected, Queued)
                | (Rejected, Private)
        )
    }

    /// Whether the server may hold a copy, so that deleting the subject needs a retraction.
    pub fn reached_server(self) -> bool {
        matches!(self, ConsentState::Sent | ConsentState::Accepted)
    }
}

/// One recorded shareable action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionEvent {
    /// UUIDv7, so events sort by creation.
    pub id: Uuid,
    /// What it records.
    pub kind: ContributionKind,
    /// The message it is about (for a retraction, the message of the retracted event).
    pub subject_id: Uuid,
    /// The conversation of that message.
    pub conversation_id: Uuid,
    /// The action as JSON text; never changes after the event is recorded.
    pub payload: String,
    /// Where it stands.
    pub state: ConsentState,
    /// Why the server refused it, when `state` is `rejected`.
    pub rejection_reason: Option<String>,
    /// Milliseconds since the Unix epoch when the action happened.
    pub created_at_ms: i64,
    /// The person replaced personal data in `payload` before sharing it (the original stays on
    /// this computer).
    #[serde(default)]
    pub redacted: bool,
    /// The server task this event completes, for the result of a leased task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<Uuid>,
}
