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
    /// SQLite reported an error (disk full, read-only file, locked…).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    /// A stored row could not be read back (damaged by another program).
    #[error("damaged row: {0}")]
    Corrupt(String),
}

/// Result of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
