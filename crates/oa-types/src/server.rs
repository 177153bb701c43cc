//! The dataset server's wire protocol, shared by `oa-server` and its client `oa-sync`.
//!
//! Every request and response body of the HTTP API is one of these types. Names on the wire are
//! `snake_case` and stable: a client built today must keep understanding a server built later, so
//! new fields are optional and new enum values are only added where a client can skip them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{ContributionEvent, ContributionKind, Role};

/// The version of the ingest format this crate speaks; [`IngestRequest::version`] carries it.
pub const INGEST_VERSION: u32 = 1;

/// The most events one ingest request may carry.
pub const MAX_EVENTS_PER_BATCH: usize = 1000;

/// Whether the server as a whole can serve requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Everything the server needs is reachable.
    Ok,
    /// The server cannot serve; `database` says why.
    Unavailable,
}

/// The body of `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthReport {
    /// Overall verdict; `ok` comes with `200`, `unavailable` with `503`.
    pub status: HealthStatus,
    /// `ok`, or a short reason from a fixed vocabulary (never the database's own error text).
    pub database: String,
    /// The latest applied migration, present when the database is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_version: Option<i64>,
}

/// What an account may do on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AccountRole {
    /// Contributes, reviews, ranks and labels.
    Contributor,
    /// Also halts trees and sees other accounts' standing.
    Moderator,
    /// Also changes roles.
    Admin,
}

impl AccountRole {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountRole::Contributor => "contributor",
            AccountRole::Moderator => "moderator",
            AccountRole::Admin => "admin",
        }
    }

    /// Parses the storage name back.
    pub fn parse(s: &str) -> Option<AccountRole> {
        [
            AccountRole::Contributor,
            AccountRole::Moderator,
            AccountRole::Admin,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// Whether the role may moderate (moderators and admins).
    pub fn can_moderate(self) -> bool {
        matches!(self, AccountRole::Moderator | AccountRole::Admin)
    }
}

/// `Debug` for a type holding a secret: the listed fields as they are, each secret as
/// `<redacted>`, so a password or token never reaches a log through `{:?}`.
macro_rules! debug_without_secrets {
    ($type:ident { $($field:ident),* ; $($secret:ident),+ }) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($field), &self.$field))*
                    $(.field(stringify!($secret), &"<redacted>"))+
                    .finish()
            }
        }
    };
}

debug_without_secrets!(RegisterRequest { display_name, device_name; password });
debug_without_secrets!(LoginRequest { display_name, device_name; password });
debug_without_secrets!(DeviceSession { account_id, device_id, role, expires_at_ms; token });
debug_without_secrets!(LinkAccount { server_url, display_name, create, device_name; password });
debug_without_secrets!(ChangePasswordRequest { ; current_password, new_password });
debug_without_secrets!(DeleteAccountRequest { ; password });

/// `PUT /v1/accounts/me/password`: a new password, given the current one. Every other device of
/// the account is signed out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    /// The password now.
    pub current_password: String,
    /// The new one (at least 10 characters).
    pub new_password: String,
}

/// `DELETE /v1/accounts/me`: deletes the account, given its password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteAccountRequest {
    /// The account's password.
    pub password: String,
}

/// `POST /v1/accounts`: a new account, signed in on its first device.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// Public name on the leaderboard, also the login name; unique regardless of case.
    pub display_name: String,
    /// At least 10 characters.
    pub password: String,
    /// A name for the device, e.g. `laptop`, so that its token can be recognised and revoked.
    pub device_name: String,
}

/// `POST /v1/sessions`: signs an existing account in on a new device.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// The account's display name (any case).
    pub display_name: String,
    /// The account's password.
    pub password: String,
    /// A name for the device.
    pub device_name: String,
}

/// A device signed in to an account: its bearer token is shown once, here, and never again.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceSession {
    /// The account.
    pub account_id: Uuid,
    /// This device.
    pub device_id: Uuid,
    /// The account's role.
    pub role: AccountRole,
    /// Send as `Authorization: Bearer <token>`; the server keeps only its hash.
    pub token: String,
    /// Milliseconds since the Unix epoch when the token stops working.
    pub expires_at_ms: i64,
}

/// One of an account's devices, as `GET /v1/devices` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    /// The device.
    pub id: Uuid,
    /// The name given when it signed in.
    pub name: String,
    /// Milliseconds since the Unix epoch when it signed in.
    pub created_at_ms: i64,
    /// When its token stops working.
    pub expires_at_ms: i64,
    /// Whether its token was revoked.
    pub revoked: bool,
    /// Whether this is the device making the request.
    pub current: bool,
}

/// `PUT /v1/accounts/{id}/role` (admins only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetRoleRequest {
    /// The new role.
    pub role: AccountRole,
}

/// One contribution event as it travels to the server: the outbox event without its local
/// consent state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmittedEvent {
    /// The client's UUIDv7; the server stores an event id once, so retries are harmless.
    pub id: Uuid,
    /// What it records.
    pub kind: ContributionKind,
    /// The message it is about.
    pub subject_id: Uuid,
    /// The client's conversation of that message.
    pub conversation_id: Uuid,
    /// Milliseconds since the Unix epoch when the action happened.
    pub created_at_ms: i64,
    /// The action as JSON text, exactly as the outbox recorded it.
    #[cfg_attr(feature = "openapi", schema(content_media_type = "application/json"))]
    pub payload: String,
    /// The leased task this event completes, if it is a task's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<Uuid>,
}

impl From<&ContributionEvent> for SubmittedEvent {
    fn from(event: &ContributionEvent) -> Self {
        SubmittedEvent {
            id: event.id,
            kind: event.kind,
            subject_id: event.subject_id,
            conversation_id: event.conversation_id,
            created_at_ms: event.created_at_ms,
            payload: event.payload.clone(),
            task_id: event.task_id,
        }
    }
}

/// `POST /v1/events`: a batch of events, processed in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestRequest {
    /// The format version, [`INGEST_VERSION`].
    pub version: u32,
    /// At most [`MAX_EVENTS_PER_BATCH`] events. An event may refer to one earlier in the batch
    /// (a reply to a prompt sent alongside it).
    pub events: Vec<SubmittedEvent>,
}

/// What became of one submitted event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Stored and used.
    Accepted,
    /// This account sent the event before; nothing changed.
    Duplicate,
    /// Refused; `reason` says why. Sending it again gives the same answer unless the server's
    /// state changed (for example, a missing parent arrived).
    Rejected,
}

/// Why an event was refused, as a stable machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RejectionReason {
    /// The payload is not the JSON this kind of event carries.
    MalformedPayload,
    /// The payload names another message or conversation than the event.
    SubjectMismatch,
    /// A message's text is empty or whitespace.
    EmptyText,
    /// A message's or comment's text is longer than the server accepts.
    TextTooLong,
    /// Text holds a character the server cannot store (NUL).
    InvalidText,
    /// A root message that is not the prompter's, or a reply whose role does not alternate.
    InvalidRole,
    /// The message replied to, labelled, rated or ranked is not on the server.
    ParentMissing,
    /// The parent named belongs to another tree than the conversation's.
    TreeMismatch,
    /// The tree no longer takes new messages (ranking, finished, aborted or halted).
    TreeClosed,
    /// A label name Open-Assistant does not have.
    UnknownLabel,
    /// A label value outside the label's scale.
    InvalidLabelValue,
    /// A labels event without labels.
    NoLabels,
    /// A thumbs vote whose reasons or comment break the rules.
    InvalidRating,
    /// An emoji code Open-Assistant does not have.
    UnknownEmoji,
    /// Fewer than two replies to rank.
    NothingToRank,
    /// A ranking names a reply twice.
    RankingDuplicateId,
    /// A ranking names a message that is not one of the replies.
    RankingForeignId,
    /// A ranking leaves out one of the replies.
    RankingMissingId,
    /// Judging or ranking one's own written message.
    OwnMessage,
    /// The same text was already sent by this account.
    DuplicateText,
    /// The event id is already used by another account.
    IdConflict,
    /// The event was retracted before it arrived.
    Retracted,
    /// A retraction names an event of another account.
    RetractForeign,
    /// The task named is not leased to this account.
    ForeignTask,
    /// The task named does not exist.
    UnknownTask,
    /// The event is not the result the task asked for.
    TaskMismatch,
    /// The task was already completed or skipped.
    TaskClosed,
    /// The result arrived after the tree stopped needing it.
    NoLongerNeeded,
    /// A reply or ranking without a task in someone else's tree: others' trees take them only
    /// through a leased task.
    NotYourTree,
    /// A reply deeper than the server keeps conversations.
    TooDeep,
}

impl RejectionReason {
    /// The wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::MalformedPayload => "malformed_payload",
            RejectionReason::SubjectMismatch => "subject_mismatch",
            RejectionReason::EmptyText => "empty_text",
            RejectionReason::TextTooLong => "text_too_long",
            RejectionReason::InvalidText => "invalid_text",
            RejectionReason::InvalidRole => "invalid_role",
            RejectionReason::ParentMissing => "parent_missing",
            RejectionReason::TreeMismatch => "tree_mismatch",
            RejectionReason::TreeClosed => "tree_closed",
            RejectionReason::UnknownLabel => "unknown_label",
            RejectionReason::InvalidLabelValue => "invalid_label_value",
            RejectionReason::NoLabels => "no_labels",
            RejectionReason::InvalidRating => "invalid_rating",
            RejectionReason::UnknownEmoji => "unknown_emoji",
            RejectionReason::NothingToRank => "nothing_to_rank",
            RejectionReason::RankingDuplicateId => "ranking_duplicate_id",
            RejectionReason::RankingForeignId => "ranking_foreign_id",
            RejectionReason::RankingMissingId => "ranking_missing_id",
            RejectionReason::OwnMessage => "own_message",
            RejectionReason::DuplicateText => "duplicate_text",
            RejectionReason::IdConflict => "id_conflict",
            RejectionReason::Retracted => "retracted",
            RejectionReason::RetractForeign => "retract_foreign",
            RejectionReason::ForeignTask => "foreign_task",
            RejectionReason::UnknownTask => "unknown_task",
            RejectionReason::TaskMismatch => "task_mismatch",
            RejectionReason::TaskClosed => "task_closed",
            RejectionReason::NoLongerNeeded => "no_longer_needed",
            RejectionReason::NotYourTree => "not_your_tree",
            RejectionReason::TooDeep => "too_deep",
        }
    }
}

/// The server's answer for one event of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventResult {
    /// The event.
    pub id: Uuid,
    /// Accepted, duplicate or rejected.
    pub status: EventStatus,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectionReason>,
    /// The rejection explained for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer to `POST /v1/events`: one result per event, in the request's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IngestResponse {
    /// Per-event results.
    pub results: Vec<EventResult>,
}

/// The kinds of work the server hands out, as in Open-Assistant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Write the first prompt of a new tree.
    InitialPrompt,
    /// Reply as the prompter to an assistant message.
    PrompterReply,
    /// Reply as the assistant to a prompter message.
    AssistantReply,
    /// Rank the replies to a message, best first.
    RankReplies,
    /// Label a message (a review when the message awaits acceptance).
    LabelMessage,
}

impl TaskKind {
    /// The storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::InitialPrompt => "initial_prompt",
            TaskKind::PrompterReply => "prompter_reply",
            TaskKind::AssistantReply => "assistant_reply",
            TaskKind::RankReplies => "rank_replies",
            TaskKind::LabelMessage => "label_message",
        }
    }

    /// Parses the storage name back.
    pub fn parse(s: &str) -> Option<TaskKind> {
        [
            TaskKind::InitialPrompt,
            TaskKind::PrompterReply,
            TaskKind::AssistantReply,
            TaskKind::RankReplies,
            TaskKind::LabelMessage,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// `POST /v1/tasks/lease`: ask for up to `count` tasks to do, possibly offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaseRequest {
    /// How many tasks, 1 to 100.
    pub count: u32,
    /// Only these kinds; empty for any.
    #[serde(default)]
    pub kinds: Vec<TaskKind>,
}

/// A message shown as a task's context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskMessage {
    /// The message.
    pub id: Uuid,
    /// Its parent; `None` for the root prompt.
    pub parent_id: Option<Uuid>,
    /// Who wrote it.
    pub role: Role,
    /// The text.
    pub text: String,
    /// Whether a model wrote it.
    pub synthetic: bool,
}

/// One leased task with everything needed to do it offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    /// Send as the result event's `task_id`.
    pub id: Uuid,
    /// What to do.
    pub kind: TaskKind,
    /// The tree; `None` for an initial prompt.
    pub tree_id: Option<Uuid>,
    /// The message to reply to, to label, or whose replies to rank.
    pub message_id: Option<Uuid>,
    /// The thread from the root prompt down to `message_id`.
    pub conversation: Vec<TaskMessage>,
    /// For ranking: the replies to rank, in the order to show them.
    #[serde(default)]
    pub replies: Vec<TaskMessage>,
    /// For labelling: the message awaits review, so the labels decide whether it is accepted.
    #[serde(default)]
    pub review: bool,
    /// Milliseconds since the Unix epoch when the lease ends. A later result is still used if
    /// the tree still needs it.
    pub expires_at_ms: i64,
}

/// The answer to `POST /v1/tasks/lease` and `GET /v1/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskList {
    /// The tasks, possibly fewer than asked for.
    pub tasks: Vec<Task>,
}

/// The time span a leaderboard covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LeaderboardWindow {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
    /// Everything.
    All,
}

impl LeaderboardWindow {
    /// The query-string name.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaderboardWindow::Day => "day",
            LeaderboardWindow::Week => "week",
            LeaderboardWindow::Month => "month",
            LeaderboardWindow::All => "all",
        }
    }

    /// Every window, shortest first.
    pub const ALL: [LeaderboardWindow; 4] = [
        LeaderboardWindow::Day,
        LeaderboardWindow::Week,
        LeaderboardWindow::Month,
        LeaderboardWindow::All,
    ];
}

/// One contributor's line on a leaderboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeaderboardEntry {
    /// 1 for the best.
    pub rank: u32,
    /// The contributor.
    pub account_id: Uuid,
    /// Their public name.
    pub display_name: String,
    /// Points in the window, scaled by the contributor's trust.
    pub score: f64,
    /// Prompts written (initial prompts and prompter replies).
    pub prompts: u32,
    /// Assistant replies written by hand.
    pub replies: u32,
    /// Label sets given.
    pub labels: u32,
    /// Rankings given.
    pub rankings: u32,
}

/// The answer to `GET /v1/leaderboard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Leaderboard {
    /// The window the scores cover.
    pub window: LeaderboardWindow,
    /// Best first.
    pub entries: Vec<LeaderboardEntry>,
}

/// The answer to `GET /v1/me/stats`: a contributor's own standing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContributorStats {
    /// The contributor.
    pub account_id: Uuid,
    /// Their public name.
    pub display_name: String,
    /// Their role.
    pub role: AccountRole,
    /// From 0 to 1: how much their reviews, red flags and rankings weigh, earned by agreeing
    /// with others on what they did not write; a newcomer's is low.
    pub trust: f64,
    /// Mean agreement of their judgements with the others' (a ranking's Kendall τ against the
    /// others' consensus, a review's +1 or −1 against the others' verdict); `None` before any.
    pub agreement: Option<f64>,
    /// How many of their judgements (rankings and reviews) were compared with the others'.
    pub rankings_scored: u32,
    /// Grows with red flags on their messages and rankings opposite to consensus.
    pub troll_score: f64,
    /// Their line for each window (rank 0 when they have no points in it).
    pub windows: Vec<(LeaderboardWindow, LeaderboardEntry)>,
    /// Agreement of their latest scored rankings, newest first (at most 50): how their
    /// agreement developed over time.
    #[serde(default)]
    pub agreement_history: Vec<AgreementPoint>,
}

/// The leaderboard and the person's own standing, as the app shows them: fresh from the
/// server, or the copy kept from the last time it answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standing {
    /// The leaderboard of the window asked for.
    pub leaderboard: Leaderboard,
    /// The person's own numbers.
    pub stats: ContributorStats,
    /// Milliseconds since the Unix epoch when the server sent these.
    pub fetched_at_ms: i64,
    /// `None` when fresh; else why the server could not be asked (this is the kept copy).
    #[serde(default)]
    pub stale_because: Option<String>,
}

/// One scored ranking's agreement with the consensus.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AgreementPoint {
    /// Milliseconds since the Unix epoch when the ranking arrived.
    pub at_ms: i64,
    /// Kendall τ against the consensus, from −1 to 1.
    pub tau: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let session = DeviceSession {
            account_id: Uuid::nil(),
            device_id: Uuid::nil(),
            role: AccountRole::Contributor,
            token: "oa_secret-token".into(),
            expires_at_ms: 1,
        };
        let login = LoginRequest {
            display_name: "Alice".into(),
            password: "hunter2-hunter2".into(),
            device_name: "laptop".into(),
        };
        let change = ChangePasswordRequest {
            current_password: "old-secret-1".into(),
            new_password: "new-secret-2".into(),
        };
        let shown = format!("{session:?} {login:?} {change:?}");
        for secret in ["secret-token", "hunter2", "old-secret", "new-secret"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("Alice") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn enums_use_stable_snake_case_codes() {
        for reason in [
            RejectionReason::MalformedPayload,
            RejectionReason::RankingForeignId,
            RejectionReason::NoLongerNeeded,
        ] {
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        for kind in [TaskKind::RankReplies, TaskKind::LabelMessage] {
            assert_eq!(TaskKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(AccountRole::parse("admin"), Some(AccountRole::Admin));
        assert_eq!(AccountRole::parse("root"), None);
    }

    #[test]
    fn a_submitted_event_leaves_the_local_state_behind() {
        let event = ContributionEvent {
            id: Uuid::from_u128(1),
            kind: ContributionKind::Labels,
            subject_id: Uuid::from_u128(2),
            conversation_id: Uuid::from_u128(3),
            payload: "{}".into(),
            state: crate::ConsentState::Sent,
            rejection_reason: None,
            created_at_ms: 7,
            redacted: false,
            task_id: None,
        };
        let json = serde_json::to_value(SubmittedEvent::from(&event)).unwrap();
        assert!(json.get("state").is_none());
        assert!(json.get("task_id").is_none());
        assert_eq!(json["kind"], "labels");
    }
}

/// The desktop's link to a dataset server, as Settings shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountStatus {
    /// The server's base URL; `None` until the person sets one (nothing is ever sent before).
    pub server_url: Option<String>,
    /// The account's display name, while this device is signed in.
    pub display_name: Option<String>,
}

/// Signing this device in to a dataset server, with a new account or an existing one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkAccount {
    /// The server's base URL, e.g. `https://data.example.org`.
    pub server_url: String,
    /// The account's display name (also the login name).
    pub display_name: String,
    /// Its password (at least 10 characters for a new account).
    pub password: String,
    /// Create the account rather than sign in to an existing one.
    pub create: bool,
    /// The name this device shows in the account's device list, as the person chose it; empty
    /// for a neutral default (never the computer's host name, which often holds a real name).
    #[serde(default)]
    pub device_name: String,
}

/// The name of the desktop event that carries each new [`SyncStatus`] to the UI.
pub const SYNC_STATUS_EVENT: &str = "sync-status";

/// Where sending shared contributions stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// This device is signed in to a server.
    pub linked: bool,
    /// Whether the server answered the last attempt; `None` before the first.
    pub online: Option<bool>,
    /// Milliseconds since the Unix epoch of the last round that reached the server.
    pub last_sync_ms: Option<i64>,
    /// Shared events waiting to be sent (queued, or sent without an answer yet).
    pub waiting: u64,
    /// Events the server refused, each kept with its reason.
    pub rejected: u64,
    /// A round is sending now.
    pub sending: bool,
    /// While a round sends: events answered so far in this round.
    #[serde(default)]
    pub round_done: u64,
    /// While a round sends: events the round set out to send (the progress bar's whole).
    #[serde(default)]
    pub round_total: u64,
    /// Why the last attempt failed, in words for the person.
    pub last_error: Option<String>,
    /// Milliseconds since the Unix epoch of the next attempt after a failure.
    pub retry_at_ms: Option<i64>,
}
