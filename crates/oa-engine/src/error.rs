//! Errors of the engine, each naming what is wrong in words a user can act on.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or generating text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// No file at the given path.
    #[error("no model file at {0}")]
    ModelNotFound(PathBuf),
    /// The file could not be read.
    #[error("cannot read model file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a GGUF file, or a damaged one.
    #[error("{path} is not a valid GGUF model file: {reason}")]
    InvalidGguf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A metadata key the architecture needs is missing or has a wrong value.
    #[error("GGUF metadata `{key}` is {problem}")]
    BadMetadata {
        /// The GGUF metadata key.
        key: String,
        /// What is wrong with its value.
        problem: String,
    },
    /// The file's architecture is not one the engine runs.
    #[error("model architecture `{0}` is not supported")]
    UnsupportedArchitecture(String),
    /// The file's tokenizer is of a kind the engine does not know.
    #[error("tokenizer {0} is not supported")]
    UnsupportedTokenizer(String),
    /// The chat template could not be parsed or rendered.
    #[error("chat template error: {0}")]
    Template(String),
    /// The chat template did more work, or wrote more text, than any real template needs for
    /// the conversation (a loop without end, a runaway recursion): it was stopped.
    #[error("the model's chat template was stopped: {0}")]
    TemplateRunaway(String),
    /// Tokenizing or detokenizing text failed.
    #[error("tokenizer error: {0}")]
    Tokenize(String),
    /// The prompt does not fit the model's context window even after dropping older turns.
    #[error("the prompt needs {needed} tokens but the model's context holds {available}")]
    ContextOverflow {
        /// Tokens the prompt and the reply budget need.
        needed: usize,
        /// Tokens the context holds.
        available: usize,
    },
    /// The request itself is invalid (for example no messages).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The reply's output constraint (JSON schema or grammar) could not be followed: it allowed
    /// no token at some point, or its matcher failed part-way (a grammar too costly to follow).
    #[error("the reply's required format could not be followed: {0}")]
    ConstraintFailed(String),
    /// A tensor operation failed during inference.
    #[error("inference failed: {0}")]
    Inference(#[from] candle_core::Error),
    /// A GPU was asked for and none can be used: the build has no GPU backend, or the
    /// computer no usable GPU.
    #[error("{0}")]
    NoGpu(String),
    /// Loading the model failed in a way the file's checks did not foresee (a bug the file
    /// set off); the thread that loaded it reported it instead of dying.
    #[error("loading {path} failed unexpectedly: {reason}")]
    LoadPanicked {
        /// The file.
        path: PathBuf,
        /// What the failure said.
        reason: String,
    },
    /// The engine thread is gone (it panicked or was shut down).
    #[error("the engine thread has stopped")]
    EngineStopped,
}

impl EngineError {
    /// The error for a panic, with payload `panic`, while loading the model at `path`.
    pub fn load_panicked(path: &std::path::Path, panic: &(dyn std::any::Any + Send)) -> Self {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "it stopped without saying why".into());
        EngineError::LoadPanicked {
            path: path.to_owned(),
            reason,
        }
    }
}

/// Result of engine operations.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_while_loading_says_what_it_said() {
        let path = std::path::Path::new("m.gguf");
        let said = |payload: Box<dyn std::any::Any + Send>| {
            EngineError::load_panicked(path, payload.as_ref()).to_string()
        };
        let formatted = std::panic::catch_unwind(|| -> u8 { panic!("index {} too big", 7) });
        assert_eq!(
            said(formatted.unwrap_err()),
            "loading m.gguf failed unexpectedly: index 7 too big"
        );
        let plain = std::panic::catch_unwind(|| -> u8 { panic!("attempt to divide by zero") });
        assert!(said(plain.unwrap_err()).ends_with("attempt to divide by zero"));
        let other = std::panic::catch_unwind(|| -> u8 { std::panic::panic_any(7) });
        assert!(said(other.unwrap_err()).contains("without saying why"));
    }
}
