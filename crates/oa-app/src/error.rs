//! Errors of the use cases, and their user-facing form.

use oa_engine::EngineError;
use oa_store::StoreError;
use oa_types::{AppError, ErrorCode};

/// What a use case can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The model is still loading.
    #[error("the model is still loading; try again in a moment")]
    ModelLoading,
    /// No usable model.
    #[error("{}", .0.message)]
    ModelUnavailable(AppError),
    /// Inference failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Talking to the dataset server failed; nothing queued was lost.
    #[error(transparent)]
    Sync(#[from] oa_sync::Error),
    /// A failure already put in words for the user (and already streamed to them).
    #[error("{}", .0.message)]
    Reported(AppError),
    /// A model download, import or removal failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Sending needs a dataset server and a signed-in device.
    #[error(
        "this device is not signed in to a dataset server; set one and sign in (Settings, or \
         `oa account login`)"
    )]
    NotSignedIn,
    /// A local API request named a model it cannot have.
    #[error(transparent)]
    ApiModel(#[from] ModelRefusal),
    /// A blocking task died (a bug): reported, never a crash.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Why a request cannot have the model it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelRefusal {
    /// No installed model has that id.
    #[error("there is no model {requested:?} on this computer; the models are: {}", .available.join(", "))]
    Unknown {
        /// What the request named.
        requested: String,
        /// The ids that exist.
        available: Vec<String>,
    },
    /// The model needs more memory than the computer has.
    #[error(
        "{model} needs about {} MB of memory and this computer has about {} MB; choose a smaller model",
        .needed / 1_000_000, .total / 1_000_000
    )]
    TooLarge {
        /// The model's id.
        model: String,
        /// Bytes it needs.
        needed: u64,
        /// Bytes the computer has.
        total: u64,
    },
    /// The model is installed but cannot be used (its file is broken, say).
    #[error("{model} cannot be used: {reason}")]
    Unusable {
        /// The model's id.
        model: String,
        /// Why, in words a person can act on.
        reason: String,
    },
}

/// Result of use cases.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for AppError {
    fn from(e: Error) -> AppError {
        match e {
            Error::ModelLoading => AppError::new(ErrorCode::ModelLoading, e.to_string()),
            Error::ModelUnavailable(err) | Error::Reported(err) => err,
            Error::Engine(e) => engine_error(e),
            Error::Store(StoreError::InvalidInput(m)) => {
                AppError::new(ErrorCode::InvalidRequest, capitalize(&m))
            }
            Error::Store(
                e @ (StoreError::Feedback(_)
                | StoreError::InvalidTransition { .. }
                | StoreError::AlreadySent { .. }),
            ) => AppError::new(ErrorCode::InvalidRequest, capitalize(&e.to_string())),
            Error::Store(StoreError::DiskFull) => AppError::new(
                ErrorCode::Storage,
                "Your disk is full, so this was not saved. Free some space and try again; \
                 nothing saved earlier was lost.",
            ),
            Error::Store(StoreError::ReadOnly) => AppError::new(
                ErrorCode::Storage,
                "Your conversations cannot be saved: the data folder is read-only. Check that the \
                 disk is writable and the folder belongs to you; nothing saved earlier was lost.",
            ),
            Error::Store(StoreError::NotFound(what)) => AppError::new(
                ErrorCode::InvalidRequest,
                capitalize(&format!("{what} does not exist")),
            ),
            Error::Store(e) => AppError::new(
                ErrorCode::Storage,
                format!(
                    "Could not save or read your conversations: {e}. Nothing already saved was lost."
                ),
            ),
            Error::Sync(e) => AppError::new(
                ErrorCode::Sync,
                format!(
                    "{}. Your shared contributions stay queued and are sent later.",
                    capitalize(&e.to_string())
                ),
            ),
            Error::Download(e) => AppError::from(e),
            Error::NotSignedIn => AppError::new(ErrorCode::Sync, capitalize(&e.to_string())),
            Error::Internal(m) => AppError::new(ErrorCode::Internal, m),
            Error::ApiModel(e) => {
                AppError::new(ErrorCode::ModelMissing, capitalize(&e.to_string()))
            }
        }
    }
}

/// The user-facing form of an engine error: what happened and what to do.
pub(crate) fn engine_error(e: EngineError) -> AppError {
    match &e {
        EngineError::ModelNotFound(path) => AppError::new(
            ErrorCode::ModelMissing,
            format!(
                "No model file at {}. Run `cargo xtask setup` to fetch the default model, \
                 or set OA_MODEL to the path of a GGUF file.",
                path.display()
            ),
        ),
        EngineError::InvalidGguf { .. }
        | EngineError::BadMetadata { .. }
        | EngineError::UnsupportedArchitecture(_)
        | EngineError::UnsupportedTokenizer(_)
        | EngineError::LoadPanicked { .. }
        | EngineError::TemplateRunaway(_)
        | EngineError::Io { .. } => AppError::new(
            ErrorCode::ModelInvalid,
            format!("The model cannot be used: {e}. Choose another model file."),
        ),
        EngineError::NoGpu(reason) => AppError::new(
            ErrorCode::ModelInvalid,
            format!(
                "The model cannot run on the GPU: {reason}. Choose the CPU (or Automatic) \
                 under Settings → Device."
            ),
        ),
        EngineError::InvalidRequest(_) | EngineError::ContextOverflow { .. } => {
            AppError::new(ErrorCode::InvalidRequest, capitalize(&e.to_string()))
        }
        _ => AppError::new(ErrorCode::Inference, capitalize(&e.to_string())),
    }
}

/// `s` with its first letter in upper case, as messages shown to a person start.
pub(crate) fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Why a download stopped.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DownloadError {
    /// The request names something that cannot be a model file.
    #[error("{0}")]
    InvalidRequest(String),
    /// The Hub has no such repository or file.
    #[error("the Hub has no file {file} in {repo}")]
    NotOnHub {
        /// Repository.
        repo: String,
        /// File.
        file: String,
    },
    /// The Hub could not be reached or broke off; what arrived is kept.
    #[error("the download was interrupted ({0}); start it again to resume where it stopped")]
    Interrupted(String),
    /// The Hub's answer lacked something the download needs.
    #[error("the Hub's answer was not understood: {0}")]
    BadAnswer(String),
    /// Not enough free disk space.
    #[error(
        "not enough disk space: the model needs {needed} MB and {available} MB are free in {folder}"
    )]
    NoRoom {
        /// Megabytes needed.
        needed: u64,
        /// Megabytes free.
        available: u64,
        /// The folder checked.
        folder: String,
    },
    /// The bytes do not match the Hub's checksum; the file was removed.
    #[error(
        "the downloaded file is damaged (its checksum does not match the Hub's); it was removed, try again"
    )]
    Corrupt,
    /// The file arrived intact but the engine cannot use it; it was removed.
    #[error("the downloaded file is not a model this app can run: {0}")]
    Unusable(String),
    /// A file of that name is already installed.
    #[error("{0} is already installed")]
    AlreadyInstalled(String),
    /// Reading or writing the disk failed.
    #[error("could not write the model to disk: {0}")]
    Disk(String),
}

impl From<DownloadError> for AppError {
    fn from(e: DownloadError) -> AppError {
        let code = match e {
            DownloadError::InvalidRequest(_) | DownloadError::AlreadyInstalled(_) => {
                ErrorCode::InvalidRequest
            }
            _ => ErrorCode::Download,
        };
        AppError::new(code, capitalize(&e.to_string()))
    }
}
