//! Local inference for GGUF chat models.
//!
//! `oa-engine` turns a GGUF file into a chat partner: it opens and validates the file
//! ([`gguf`]), builds the tokenizer from the file's own metadata ([`tokenizer`]), renders prompts
//! with the file's chat template ([`template`]), runs the model on candle tensors ([`model`]),
//! samples tokens ([`sampler`]), and streams text back without ever splitting a UTF-8 character
//! ([`detokenize`]). The loaded model lives on one OS thread ([`Engine`]); callers talk to it
//! through a channel, so inference never runs on an async runtime.

pub mod arch;
mod attention;
pub mod constraint;
mod cpu;
pub mod detokenize;
pub mod device;
mod engine;
mod error;
mod file_hash;
pub mod gguf;
mod mapped;
pub mod memory;
pub mod model;
mod parallel;
mod qmatmul;
pub mod sampler;
pub mod spm;
pub mod template;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tokenizer;
pub mod tools;
mod transformer;

pub use constraint::OutputConstraint;
pub use engine::{
    ChatMessage, ChatRole, Engine, EventSink, FinishReason, GenerateRequest, GenerationEvent,
    GenerationStats, Job,
};
pub use error::{EngineError, Result};
pub use tools::{ToolCall, ToolChoice, ToolFormat, ToolSpec};

/// File name of the default model (SmolLM2-135M-Instruct, Q4_1), as `cargo xtask setup` saves it.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Version of the engine, recorded in every reply's provenance.
pub const ENGINE_VERSION: &str = concat!("oa-engine/", env!("CARGO_PKG_VERSION"));
