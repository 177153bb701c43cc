//! One speed sample of the engine, beside which `cargo xtask bench` sets llama.cpp's on the same
//! file, token ids and thread count (`xtask/bench/llama_speed.py`).
//!
//! Loads the model, reads the prompt's token ids in one call (batched as a chat does), then
//! decodes `--decode` tokens greedily, one at a time. Writes JSON to `--out`: load time, prompt
//! tokens per second, time to first token (prompt read and first token chosen), decode tokens
//! per second over the tokens after the first, and the process's peak resident memory
//! (`VmHWM`, Linux). The thread count is candle's, from `RAYON_NUM_THREADS` /
//! `CANDLE_NUM_THREADS` as the xtask sets them.
//!
//! ```text
//! cargo run --release -p oa-engine --example speed_bench -- --model M.gguf \
//!     --ids 1,2,3 --decode 64 --out sample.json
//! ```

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use oa_engine::model::LoadedModel;
use serde_json::json;

mod common;
use common::{arg, status_bytes};

fn argmax(logits: &candle_core::Tensor) -> Result<u32, Box<dyn Error>> {
    let values = logits.flatten_all()?.to_vec1::<f32>()?;
    let (best, _) = values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv { (i, v) } else { (bi, bv) }
        });
    Ok(best as u32)
}

fn main() -> Result<(), Box<dyn Error>> {
    let model_path = PathBuf::from(arg("--model")?);
    let out = PathBuf::from(arg("--out")?);
    let decode: usize = arg("--decode")?.parse()?;
    let ids: Vec<u32> = arg("--ids")?
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;

    let start = Instant::now();
    let mut model = LoadedModel::load(&model_path)?;
    let load_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    let logits = model.forward(&ids, 0)?;
    let prompt_s = start.elapsed().as_secs_f64();
    let mut next = argmax(&logits)?;
    let ttft_s = start.elapsed().as_secs_f64();

    let start = Instant::now();
    for i in 0..decode.saturating_sub(1) {
        let logits = model.forward(&[next], ids.len() + i)?;
        next = argmax(&logits)?;
    }
    let decode_s = start.elapsed().as_secs_f64();

    let report = json!({
        "load_s": load_s,
        "prompt_tokens": ids.len(),
        "prompt_tps": ids.len() as f64 / prompt_s,
        "ttft_s": ttft_s,
        "decode_tokens": decode.saturating_sub(1),
        "decode_tps": decode.saturating_sub(1) as f64 / decode_s,
        "peak_rss": status_bytes("VmHWM:")?,
    });
    std::fs::write(&out, serde_json::to_string(&report)? + "\n")?;
    Ok(())
}
