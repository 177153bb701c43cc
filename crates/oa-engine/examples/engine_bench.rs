//! Measures what the prefix cache saves: reading a follow-up turn of a long conversation.
//!
//! Builds a conversation of 20 turns (a question and a fixed answer each) and, at turns 5, 10
//! and 20, times reading the prompt for the newest question twice: *warm*, right after the model
//! has read the conversation up to the previous turn (as in a chat, where it just wrote the last
//! answer), and *cold*, from nothing. Warm time should follow the new tokens only; cold time
//! grows with the history. Writes the measurements as JSON to `--out`; `cargo xtask bench` runs
//! it in release mode and reports them under `target/bench/engine.json`.
//!
//! ```text
//! cargo run --release -p oa-engine --example engine_bench -- --model M.gguf --out engine.json
//! ```

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use oa_engine::model::LoadedModel;
use oa_engine::{ChatMessage, ChatRole};
use serde_json::json;

mod common;
use common::arg;

const TURNS: usize = 20;
const MEASURED_TURNS: [usize; 3] = [5, 10, 20];
const RUNS: usize = 3;

fn question(turn: usize) -> String {
    format!(
        "Question {turn}: what is a good way to learn topic number {turn}, and which mistake \
         should a beginner avoid?"
    )
}

fn answer(turn: usize) -> String {
    format!(
        "For topic {turn}, start with a short daily routine, write down what you learn, and \
         practise with small projects. Avoid trying to learn everything at once; go step by step."
    )
}

/// The conversation up to and including the question of `turn` (1-based).
fn conversation(turn: usize) -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::new(
        ChatRole::System,
        "You are a helpful assistant.",
    )];
    for t in 1..turn {
        messages.push(ChatMessage::new(ChatRole::User, question(t)));
        messages.push(ChatMessage::new(ChatRole::Assistant, answer(t)));
    }
    messages.push(ChatMessage::new(ChatRole::User, question(turn)));
    messages
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn Error>> {
    let model_path = PathBuf::from(arg("--model")?);
    let out = PathBuf::from(arg("--out")?);
    let mut model = LoadedModel::load(&model_path)?;
    let mut turns = Vec::new();
    for &turn in &MEASURED_TURNS {
        assert!(turn <= TURNS);
        let (previous, _) = model.fit_prompt(&conversation(turn - 1), 1)?;
        let (prompt, dropped) = model.fit_prompt(&conversation(turn), 1)?;
        if dropped > 0 {
            return Err(format!("turn {turn} does not fit the context").into());
        }
        let (mut warm, mut cold, mut reused) = (Vec::new(), Vec::new(), 0);
        for _ in 0..RUNS {
            // The model has just read the conversation up to the previous question.
            model.forward(&previous, 0)?;
            let start = Instant::now();
            let (_, r) = model.prefill(&prompt)?;
            warm.push(start.elapsed().as_secs_f64() * 1000.0);
            reused = r;
            let start = Instant::now();
            model.forward(&prompt, 0)?;
            cold.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        eprintln!(
            "engine_bench: turn {turn}: {} prompt tokens, {} new; warm {:.0} ms, cold {:.0} ms",
            prompt.len(),
            prompt.len() - reused,
            median(warm.clone()),
            median(cold.clone())
        );
        turns.push(json!({
            "turn": turn,
            "prompt_tokens": prompt.len(),
            "new_tokens": prompt.len() - reused,
            "warm_ms": median(warm),
            "cold_ms": median(cold),
        }));
    }
    let report = json!({
        "benchmark": "engine",
        "model": model.info.id,
        "quantization": model.info.quantization,
        "follow_up_turns": turns,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!("engine_bench: wrote {}", out.display());
    Ok(())
}
