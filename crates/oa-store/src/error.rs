//! Errors of the local store.

/// What can go wrong reading or writing the local database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database file or its folder could not be created or opened.
    #[error("cannot open the database at {path}: {reason}")]
    Open {
        /// The database file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// The disk holding the database is full; the action was not saved, earlier ones are intact.
    #[error("the disk is full")]
    DiskFull,
    /// The database or its folder cannot be written (read-only disk or permissions).
    #[error("the database cannot be written: it or its folder is read-only")]
    ReadOnly,
    /// SQLite reported another error (locked, I/O…).
    #[error("database error: {0}")]
    Sqlite(rusqlite::Error),
    /// The database was written by a newer version of the app.
    #[error(
        "the database has schema version {found}, newer than this app's {supported}; update the app"
    )]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// A conversation or message that does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The caller passed something the store refuses (an empty message, for one).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Feedback that breaks Open-Assistant's rules (an unknown label, a value off the scale, a
    /// ranking that does not cover exactly the sibling replies…).
    #[error("invalid feedback: {0}")]
    Feedback(#[from] oa_types::FeedbackError),
    /// A contribution event cannot move from its consent state to the one asked for.
    #[error("contribution {event} is {} and cannot become {}", .from.as_str(), .to.as_str())]
    InvalidTransition {
        /// The event.
        event: oa_types::Uuid,
        /// Its state.
        from: oa_types::ConsentState,
        /// The refused target state.
        to: oa_types::ConsentState,
    },
    /// A contribution that has left this device (sent, or answered by the server) cannot be
    /// changed any more: what the server may hold is what was sent. Only a withdrawal reaches
    /// it.
    #[error(
        "this contribution was already sent and can no longer be changed; withdraw it to take \
         it back"
    )]
    AlreadySent {
        /// The event.
        event: oa_types::Uuid,
        /// Its state: sent or accepted.
        state: oa_types::ConsentState,
    },
    /// A stored row could not be read back (damaged by another program).
    #[error("damaged row: {0}")]
    Corrupt(String),
    /// An export could not be written (disk full, closed pipe…).
    #[error("cannot write the export: {0}")]
    Export(String),
    /// A line of an oasst file was refused; nothing of the file was imported.
    #[error("line {line} of the oasst file: {problem}; nothing was imported")]
    Import {
        /// The refused line, from 1.
        line: usize,
        /// What is wrong with it.
        problem: ImportProblem,
    },
}

/// What is wrong with a line of an oasst trees file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportProblem {
    /// The line could not be read (not JSON, or not shaped like an oasst tree).
    #[error("not an oasst tree: {0}")]
    Malformed(String),
    /// The file could not be read at all.
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    /// A role other than `prompter` and `assistant`.
    #[error("message {message} has the unknown role {role:?}")]
    UnknownRole {
        /// The message.
        message: oa_types::Uuid,
        /// Its role.
        role: String,
    },
    /// A message whose parent is neither in the file nor the message it is nested under.
    #[error("the parent of message {message} is missing ({parent:?})")]
    MissingParent {
        /// The message.
        message: oa_types::Uuid,
        /// The parent it names, if any.
        parent: Option<oa_types::Uuid>,
    },
    /// A message id seen earlier in the file or already in the store.
    #[error("message {0} appears twice")]
    DuplicateMessage(oa_types::Uuid),
    /// A message with no text.
    #[error("message {0} is empty")]
    EmptyText(oa_types::Uuid),
    /// A `created_date` that is not an ISO 8601 date and time.
    #[error("message {message} has the unreadable date {date:?}")]
    BadDate {
        /// The message.
        message: oa_types::Uuid,
        /// The date as written.
        date: String,
    },
    /// A prompt marked as written by a model: the store keeps model text only as replies.
    #[error("message {0} is a prompt marked synthetic")]
    SyntheticPrompt(oa_types::Uuid),
    /// The tree nests deeper than the importer follows.
    #[error("the tree is nested more than {0} levels deep")]
    TooDeep(usize),
    /// Feedback (labels, emojis, ranks) that breaks Open-Assistant's rules.
    #[error("feedback on message {message}: {error}")]
    Feedback {
        /// The message the feedback is on (the parent, for ranks).
        message: oa_types::Uuid,
        /// What is wrong.
        error: oa_types::FeedbackError,
    },
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<rusqlite::Error> for StoreError {
    /// Disk full and read-only get their own variants: they are the failures a person can fix.
    fn from(e: rusqlite::Error) -> StoreError {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::DiskFull,
            Some(rusqlite::ErrorCode::ReadOnly) => StoreError::ReadOnly,
            _ => StoreError::Sqlite(e),
        }
    }
}
