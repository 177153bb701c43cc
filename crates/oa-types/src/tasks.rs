//! Tasks made from the person's own history, done offline on the Contribute page, and the
//! compare view of one prompt's replies.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Labels, Message, Ranking, TaskKind, Thumbs};

/// The app's event when the task queue may have changed (a reply stored, a task done, leases
/// fetched or sent); its payload is a count that grows with each change, and the UI reads the
/// queue again.
pub const TASK_QUEUE_EVENT: &str = "task-queue";

/// One task in the local queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalTask {
    /// Stable name of the task (`<kind>:<message id>`, or `initial_prompt`), used to skip it.
    pub key: String,
    /// What it asks.
    pub kind: TaskKind,
    /// The conversation it comes from; `None` for a new conversation.
    pub conversation_id: Option<Uuid>,
    /// That conversation's title.
    pub title: String,
    /// The conversation from its root to the task's subject.
    pub context: Vec<Message>,
    /// For ranking, the replies to rank (oldest first); for a better answer, the reply to
    /// improve.
    pub replies: Vec<Message>,
    /// The person's vote on the subject, where it led to the task.
    pub thumbs: Option<Thumbs>,
    /// For a task leased from the dataset server: its lease. The context then comes from the
    /// server, and the answer is sent as the task's result.
    #[serde(default)]
    pub lease: Option<TaskLease>,
}

/// A task leased from the dataset server for offline work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLease {
    /// The server's task id.
    pub task_id: Uuid,
    /// Milliseconds since the Unix epoch when the lease ends.
    pub expires_at_ms: i64,
    /// The lease ended: the result is still sent, and used if the tree still needs it.
    pub expired: bool,
    /// For labelling: the labels decide whether the message is accepted.
    pub review: bool,
}

/// The answer to a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskAnswer {
    /// A first prompt: a new conversation.
    InitialPrompt {
        /// What the person wrote.
        text: String,
    },
    /// What the user says next to an assistant reply.
    PrompterReply {
        /// The assistant reply answered.
        message_id: Uuid,
        /// What the person wrote.
        text: String,
    },
    /// A better answer in place of an assistant reply (kept beside it as a correction).
    AssistantReply {
        /// The reply it improves.
        message_id: Uuid,
        /// What the person wrote.
        text: String,
    },
    /// A ranking of a prompt's replies.
    RankReplies {
        /// The prompt.
        prompt_id: Uuid,
        /// Best first, or not rankable.
        ranking: Ranking,
    },
    /// Labels on a reply.
    LabelMessage {
        /// The reply.
        message_id: Uuid,
        /// The labels.
        labels: Labels,
    },
}

/// How the person is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProgress {
    /// Tasks done since local midnight.
    pub done_today: u32,
    /// Tasks done ever.
    pub done_total: u32,
    /// Consecutive local days with a task done, ending today (or yesterday, when none is done
    /// yet today).
    pub streak_days: u32,
    /// Tasks waiting.
    pub open: u32,
}

/// The local task queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskQueue {
    /// Tasks in the order offered.
    pub tasks: Vec<LocalTask>,
    /// Progress.
    pub progress: TaskProgress,
}

/// A prompt with all its replies, for comparing and ranking them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareSet {
    /// The prompt.
    pub prompt: Message,
    /// Its replies, oldest first.
    pub replies: Vec<Message>,
    /// Their ranking, if the person gave one.
    pub ranking: Option<Ranking>,
}
