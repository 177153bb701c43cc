//! What the person chose: per conversation (system prompt, sampler) and for the whole app.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::SamplerParams;

/// Most CPU threads the engine may be told to use.
pub const MAX_THREADS: u32 = 256;

/// Longest system prompt a conversation keeps, in characters.
pub const MAX_SYSTEM_PROMPT_CHARS: usize = 8_000;

/// Largest seed a conversation keeps: the largest integer JavaScript numbers (the UI's)
/// hold exactly.
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// Settings kept with one conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConversationSettings {
    /// Instructions given to the model before the conversation (empty: none).
    #[serde(default)]
    pub system_prompt: String,
    /// Sampler settings for its replies; `None` uses the model's defaults.
    #[serde(default)]
    pub sampler: Option<SamplerParams>,
}

impl ConversationSettings {
    /// Why these settings cannot be kept, in words for the person; `None` when they can.
    pub fn problem(&self) -> Option<String> {
        let chars = self.system_prompt.chars().count();
        if chars > MAX_SYSTEM_PROMPT_CHARS {
            return Some(format!(
                "a system prompt can be at most {MAX_SYSTEM_PROMPT_CHARS} characters long \
                 (this one has {chars})"
            ));
        }
        let sampler = self.sampler.as_ref()?;
        let finite = [
            sampler.temperature,
            sampler.top_p,
            sampler.repeat_penalty,
            sampler.min_p,
            sampler.presence_penalty,
            sampler.frequency_penalty,
        ]
        .iter()
        .all(|v| v.is_finite());
        if !finite || sampler.temperature < 0.0 || !(0.0..=1.0).contains(&sampler.top_p) {
            return Some(
                "sampler settings need a temperature of 0 or more and a top-p between 0 and 1"
                    .into(),
            );
        }
        if sampler.max_tokens == 0 {
            return Some("a reply needs room for at least one token".into());
        }
        if sampler.seed > MAX_SEED {
            return Some(format!("a seed can be at most {MAX_SEED}"));
        }
        None
    }
}

/// The colour scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the system's light or dark preference.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

/// Settings of the whole app, kept in the local database.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AppSettings {
    /// The colour scheme.
    #[serde(default)]
    pub theme: Theme,
    /// The welcome was shown and dismissed.
    #[serde(default)]
    pub welcomed: bool,
    /// Where models run.
    #[serde(default)]
    pub device: ComputeDevice,
    /// CPU threads for inference; `None` uses one per physical core. Read when the app
    /// starts: the compute pool is made once per process.
    #[serde(default)]
    pub threads: Option<u32>,
    /// Sampler settings a model's new conversations start with, by model file name; a model
    /// not named here uses the app's defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_samplers: BTreeMap<String, SamplerParams>,
}

impl AppSettings {
    /// Why these settings cannot be kept, in words for the person; `None` when they can.
    pub fn problem(&self) -> Option<String> {
        if let Some(threads) = self.threads
            && !(1..=MAX_THREADS).contains(&threads)
        {
            return Some(format!(
                "the thread count must be between 1 and {MAX_THREADS}"
            ));
        }
        self.model_samplers.values().find_map(|sampler| {
            ConversationSettings {
                system_prompt: String::new(),
                sampler: Some(sampler.clone()),
            }
            .problem()
        })
    }
}

/// Where models run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComputeDevice {
    /// The GPU when this build has a GPU backend and the computer a usable GPU, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// The GPU; loading fails with the reason when there is none.
    Gpu,
}

/// What this build and computer can run models on, for the Settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSupport {
    /// The GPU backend this build was made with (`CUDA`, `Metal`); `None` for a CPU-only
    /// build.
    pub gpu_backend: Option<String>,
    /// The GPU found, by name; `None` when there is none.
    pub gpu_name: Option<String>,
    /// Why no GPU can be used, when the build has a backend but the computer no usable GPU.
    pub gpu_problem: Option<String>,
    /// Threads used when the setting is left empty: one per physical core.
    pub default_threads: u32,
    /// Threads the engine of this run uses.
    pub threads_in_use: u32,
    /// Whether the loaded model runs on the GPU.
    pub model_on_gpu: bool,
}
