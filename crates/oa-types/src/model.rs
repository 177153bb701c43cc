//! What the app knows about the loaded model and how it samples.

use serde::{Deserialize, Serialize};

/// Sampler settings for one reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SamplerParams {
    /// Softmax temperature; `0` means greedy (always the most likely token).
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability sums to `top_p`.
    pub top_p: f32,
    /// Keep only the `top_k` most likely tokens (`0` = no limit).
    pub top_k: u32,
    /// Penalty for tokens seen in the last `repeat_last_n` tokens (`1.0` = none).
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    pub repeat_last_n: u32,
    /// Most tokens to generate for one reply.
    pub max_tokens: u32,
    /// Random seed: the same seed, prompt and model give the same text.
    pub seed: u64,
    /// Drop tokens less likely than `min_p` times the most likely one (`0` = off).
    #[serde(default)]
    pub min_p: f32,
    /// Subtracted once from the logit of every token seen in the last `repeat_last_n` tokens
    /// (`0` = off; OpenAI's `presence_penalty`).
    #[serde(default)]
    pub presence_penalty: f32,
    /// Subtracted from a token's logit once per time it occurs in the last `repeat_last_n`
    /// tokens (`0` = off; OpenAI's `frequency_penalty`).
    #[serde(default)]
    pub frequency_penalty: f32,
    /// The reply ends before the first occurrence of any of these texts, which is not shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

impl Default for SamplerParams {
    fn default() -> Self {
        SamplerParams {
            temperature: 0.7,
            top_p: 0.9,
            top_k: 40,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            max_tokens: 512,
            seed: 42,
            min_p: 0.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            stop: Vec::new(),
        }
    }
}

/// Facts about a GGUF model file that the UI shows and provenance records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Display id: `general.name` from the file, or the file stem.
    pub id: String,
    /// Absolute path of the GGUF file.
    pub path: String,
    /// sha256 of the file, lowercase hex.
    pub sha256: String,
    /// Architecture as named in the file, e.g. `llama`.
    pub architecture: String,
    /// Quantization of most weights, e.g. `Q4_1`.
    pub quantization: String,
    /// Context length the file declares.
    pub context_length: u32,
    /// File size in bytes.
    pub file_size: u64,
    /// sha256 of the chat template used for prompts.
    pub chat_template_sha256: String,
    /// True when the file has no chat template and the ChatML fallback is used.
    pub chat_template_fallback: bool,
}

/// The name of the desktop event that carries each new [`ModelStatus`] to the UI.
pub const MODEL_STATUS_EVENT: &str = "model-status";

/// The state of the engine as the UI sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelStatus {
    /// The model is being loaded.
    Loading {
        /// Path being loaded.
        path: String,
    },
    /// Ready to chat.
    Ready {
        /// The loaded model.
        info: ModelInfo,
    },
    /// No usable model: the message says why and what to do.
    Unavailable {
        /// What went wrong, in words a user can act on.
        error: crate::AppError,
    },
}

/// Whether a model fits the computer's memory, judged from the memory it needs (weights, KV
/// cache and working memory for its context) and the memory the system reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemoryFit {
    /// Fits with room to spare.
    Fits,
    /// Fits, but leaves little for other programs.
    Tight,
    /// Needs more memory than the computer has.
    TooLarge,
    /// The system did not say how much memory it has.
    Unknown,
}

/// A GGUF file the app found on this computer, read from its header only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstalledModel {
    /// Absolute path of the file.
    pub path: String,
    /// Display name (the file's `general.name`, or its stem).
    pub name: String,
    /// Architecture as named in the file; empty when the header cannot be read.
    pub architecture: String,
    /// Quantization of most weights, e.g. `Q4_1`.
    pub quantization: String,
    /// Context length the file declares.
    pub context_length: u32,
    /// File size in bytes.
    pub file_size: u64,
    /// Whether it fits this computer's memory.
    pub memory_fit: MemoryFit,
    /// Memory it needs, in bytes: weights, cache and working memory for `fit_context` tokens,
    /// and the program; 0 when the file cannot be read.
    #[serde(default)]
    pub memory_needed: u64,
    /// The conversation length, in tokens, `memory_needed` is for.
    #[serde(default)]
    pub fit_context: u32,
    /// It is the model the app runs (or is loading) now.
    pub active: bool,
    /// Why the app cannot run it, when it cannot.
    pub problem: Option<String>,
    /// It lives in the app's own models folder, so the app may delete it.
    #[serde(default)]
    pub removable: bool,
}

/// A chat model the app offers to download from the Hugging Face Hub (`models/catalog.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogModel {
    /// Stable short name, e.g. `qwen2.5-0.5b`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Hub repository, e.g. `Qwen/Qwen2.5-0.5B-Instruct-GGUF`.
    pub repo: String,
    /// The GGUF file in it.
    pub file: String,
    /// Quantization of most weights, e.g. `Q4_K_M`.
    pub quantization: String,
    /// Number of parameters.
    pub parameters: u64,
    /// Architecture as the engine names it.
    pub architecture: String,
    /// Context length the file declares.
    pub context_length: u32,
    /// Licence identifier.
    pub license: String,
    /// One line for a person choosing.
    pub description: String,
    /// Transformer blocks (0: not given), for the memory estimate before the file is here.
    #[serde(default)]
    pub layers: u32,
    /// Query heads.
    #[serde(default)]
    pub heads: u32,
    /// Key/value heads.
    #[serde(default)]
    pub kv_heads: u32,
    /// Values per head.
    #[serde(default)]
    pub head_size: u32,
    /// Vocabulary entries.
    #[serde(default)]
    pub vocab: u32,
    /// The output layer reuses the token embedding.
    #[serde(default)]
    pub tied_embeddings: bool,
}

/// A catalog model with its state on this computer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// The model.
    pub model: CatalogModel,
    /// Its file is in the models folder.
    pub installed: bool,
    /// It is downloading now.
    pub downloading: bool,
    /// What an earlier, paused or interrupted download of it left (the next start resumes).
    #[serde(default)]
    pub partial: Option<PartialDownload>,
    /// Memory it would need, in bytes, for a conversation of `fit_context` tokens (from
    /// its parameter count, format and shape: an approximation until the file is here); 0
    /// when the catalog does not give its shape.
    #[serde(default)]
    pub memory_needed: u64,
    /// The conversation length `memory_needed` is for.
    #[serde(default)]
    pub fit_context: u32,
    /// Whether it would fit this computer's memory.
    #[serde(default = "unknown_fit")]
    pub memory_fit: MemoryFit,
}

fn unknown_fit() -> MemoryFit {
    MemoryFit::Unknown
}

/// How far a paused or interrupted download got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartialDownload {
    /// Bytes kept.
    pub done_bytes: u64,
    /// Bytes in the file.
    pub total_bytes: u64,
}

/// Where a model download stands; streamed while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DownloadEvent {
    /// The Hub answered: how big the file is and how much an earlier attempt already fetched.
    Started {
        /// Bytes in the file.
        total_bytes: u64,
        /// Bytes kept from an earlier, interrupted attempt.
        resumed_from: u64,
    },
    /// More bytes arrived.
    Progress {
        /// Bytes on disk so far.
        done_bytes: u64,
        /// Bytes in the file.
        total_bytes: u64,
        /// Recent speed.
        bytes_per_second: u64,
        /// Seconds left at that speed, when it can be told.
        eta_seconds: Option<u64>,
    },
    /// Every byte is in; its checksum is being compared with the Hub's.
    Verifying,
    /// The model is installed.
    Finished {
        /// Where it is now.
        path: String,
    },
    /// Paused on request: what was fetched is kept, and the next start resumes from it.
    Paused,
    /// Cancelled on request: nothing of it is left on disk.
    Cancelled,
    /// It failed; what was fetched is kept when the download can resume.
    Failed {
        /// What went wrong, for the person.
        error: crate::AppError,
    },
}
