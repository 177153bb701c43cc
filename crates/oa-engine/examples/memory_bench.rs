//! Measures a model's memory at a given context and sets it beside the engine's estimate
//! ([`oa_engine::memory::estimate`]), which the Models page uses to say whether a model fits.
//!
//! Loads the model, reads a prompt that fills `--context` positions (in batches, as a chat
//! does) and one more token, then reports the process's peak resident memory (`VmHWM`) and
//! its resident memory at the end (`VmRSS`), with the estimate's parts, as JSON to `--out`.
//! One process per model, so that nothing else is counted. Linux only (reads `/proc`).
//!
//! ```text
//! cargo run --release -p oa-engine --example memory_bench -- --model M.gguf --context 2048 --out m.json
//! ```

use std::error::Error;
use std::path::PathBuf;

use oa_engine::gguf::GgufFile;
use oa_engine::model::LoadedModel;
use serde_json::json;

mod common;
use common::{arg, status_bytes};

fn main() -> Result<(), Box<dyn Error>> {
    let model_path = PathBuf::from(arg("--model")?);
    let out = PathBuf::from(arg("--out")?);
    let context: usize = arg("--context")?.parse()?;
    let before = status_bytes("VmRSS:")?;
    let estimate = oa_engine::memory::estimate(&GgufFile::open(&model_path)?, context)?;
    let mut model = LoadedModel::load(&model_path)?;
    let loaded = status_bytes("VmRSS:")?;
    let vocab = model.tokenizer.vocab_size() as u32;
    // Ordinary token ids spread over the vocabulary; what they say does not matter here.
    let prompt: Vec<u32> = (0..context as u32 - 1)
        .map(|i| 100 + (i * 7919) % (vocab - 200))
        .collect();
    model.forward(&prompt, 0)?;
    model.forward(&[prompt[0]], prompt.len())?;
    let report = json!({
        "model": model.info.id,
        "file": model_path.file_name().map(|n| n.to_string_lossy().into_owned()),
        "file_bytes": model.info.file_size,
        "context": context,
        "estimate": {
            "weights": estimate.weights,
            "kv_cache": estimate.kv_cache,
            "working": estimate.working,
            "runtime": estimate.runtime,
            "total": estimate.total(),
        },
        "rss_before_load": before,
        "rss_after_load": loaded,
        "rss_end": status_bytes("VmRSS:")?,
        "peak_rss": status_bytes("VmHWM:")?,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("{report}");
    Ok(())
}
