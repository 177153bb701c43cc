//! The one error shape that crosses the app boundary (Tauri commands, the local API).

use serde::{Deserialize, Serialize};

/// A machine-readable error kind, stable across versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// No model file where the app looked for one.
    ModelMissing,
    /// The model file exists but cannot be used (corrupt, unsupported).
    ModelInvalid,
    /// The model is still loading.
    ModelLoading,
    /// Inference failed.
    Inference,
    /// The local database could not be read or written.
    Storage,
    /// The request itself was invalid (empty prompt, unknown conversation).
    InvalidRequest,
    /// Sharing with the dataset server failed for now (offline, server down, signed out,
    /// asked to wait); what is queued stays queued.
    Sync,
    /// Downloading a model failed (offline, not on the Hub, no room, damaged on the way); what
    /// was fetched is kept where the download can resume.
    Download,
    /// Something unexpected; the message has details.
    Internal,
}

/// An error the UI can show as is: `message` is written for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    /// What kind of error it is.
    pub code: ErrorCode,
    /// What went wrong and what to do about it.
    pub message: String,
}

impl AppError {
    /// Builds an error from a code and a user-facing message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}
