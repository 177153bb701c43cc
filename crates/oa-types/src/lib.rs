//! Domain and wire types of Open Assistant Desktop, in Open-Assistant's terms.
//!
//! Every other crate speaks these types: the Leptos UI (compiled to wasm), the app's use cases, the
//! sync client and the central server. The crate therefore holds data only — serde types (and
//! `serde_json` for the JSON text of event payloads) with no I/O, no async runtime and no native
//! dependency — so that it builds for `wasm32-unknown-unknown`.

mod api;
mod chat;
mod commands;
mod contribution;
mod conversation;
mod error;
mod feedback;
#[cfg(feature = "lang")]
mod lang;
mod model;
mod oasst;
mod payload;
mod review;
mod search;
mod server;
mod settings;
mod tasks;

pub use api::{API_SOURCE, ApiSettings, ApiStatus, DEFAULT_API_PORT, origin_problem};
pub use chat::{ChatEvent, Regenerate, SendMessage, TokenEvent, TokenLogprob, TokenLogprobs};
pub use commands::COMMANDS;
pub use contribution::{ConsentState, ContributionEvent, ContributionKind};
pub use conversation::{
    ConversationDetail, ConversationListEntry, ConversationSummary, ConversationTreePath, Message,
    PathMessage, Provenance, Role,
};
pub use error::{AppError, ErrorCode};
pub use feedback::{
    Emoji, FeedbackError, LIKERT_STEPS, LabelScale, Labels, MAX_FEEDBACK_TEXT_CHARS,
    MessageFeedback, Ranking, TextLabel, Thumbs, Vote,
};
#[cfg(feature = "lang")]
pub use lang::detect_lang;
pub use model::{
    CatalogEntry, CatalogModel, DownloadEvent, InstalledModel, MODEL_STATUS_EVENT, MemoryFit,
    ModelInfo, ModelStatus, PartialDownload, SamplerParams,
};
pub use oasst::{
    OasstImportSummary, OasstLabel, OasstMessage, OasstTree, TREE_STATE_READY_FOR_EXPORT,
};
pub use payload::{
    EventPayload, FreeTextField, LabelsPayload, PayloadError, RankingPayload, RatingPayload,
    ReactionOp, ReactionPayload, RetractionPayload,
};
pub use review::{PayloadFinding, ReviewGroup, ReviewItem};
pub use search::{HIGHLIGHT_END, HIGHLIGHT_START, SearchHit};
pub use server::{
    AccountRole, AccountStatus, AgreementPoint, ChangePasswordRequest, ContributorStats,
    DeleteAccountRequest, DeviceInfo, DeviceSession, EventResult, EventStatus, HealthReport,
    HealthStatus, INGEST_VERSION, IngestRequest, IngestResponse, Leaderboard, LeaderboardEntry,
    LeaderboardWindow, LeaseRequest, LinkAccount, LoginRequest, MAX_EVENTS_PER_BATCH,
    RegisterRequest, RejectionReason, SYNC_STATUS_EVENT, SetRoleRequest, Standing, SubmittedEvent,
    SyncStatus, Task, TaskKind, TaskList, TaskMessage,
};
pub use settings::{
    AppSettings, ComputeDevice, ConversationSettings, DeviceSupport, MAX_SYSTEM_PROMPT_CHARS,
    MAX_THREADS, Theme,
};
pub use tasks::{
    CompareSet, LocalTask, TASK_QUEUE_EVENT, TaskAnswer, TaskLease, TaskProgress, TaskQueue,
};
pub use uuid::Uuid;
