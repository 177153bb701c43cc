//! Measures what the prefix cache saves, and what holding a reply to a JSON schema costs.
//!
//! Builds a conversation of 20 turns (a question and a fixed answer each) and, at turns 5, 10
//! and 20, times reading the prompt for the newest question twice: *warm*, right after the model
//! has read the conversation up to the previous turn (as in a chat, where it just wrote the last
//! answer), and *cold*, from nothing. Warm time should follow the new tokens only; cold time
//! grows with the history. Then, through the engine thread, decode speed (tokens per second
//! after the first) of the same question at temperature 0 with a JSON schema and without, in
//! turns: the schema's masks should cost little beside the model. Writes the measurements as
//! JSON to `--out` (`follow_up_turns`, `constrained_decode`); `cargo xtask bench` runs it in
//! release mode and reports them under `target/bench/engine.json`. `--constrained-only` skips
//! the follow-up turns.
//!
//! ```text
//! cargo run --release -p oa-engine --example engine_bench -- --model M.gguf --out engine.json
//! ```

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use oa_engine::model::LoadedModel;
use oa_engine::{
    ChatMessage, ChatRole, Engine, GenerateRequest, GenerationEvent, OutputConstraint,
};
use oa_types::SamplerParams;
use serde_json::{Value, json};

mod common;
use common::arg;

const TURNS: usize = 20;
const MEASURED_TURNS: [usize; 3] = [5, 10, 20];
const RUNS: usize = 3;
/// Replies timed with and without a schema, each.
const DECODE_RUNS: usize = 3;
const DECODE_TOKENS: u32 = 96;
const DECODE_QUESTION: &str = "Write a long story about a lighthouse keeper and a storm.";

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

/// The schema the constrained replies follow: structure first (an array of objects), then a
/// long free string, as a story with its cast.
fn story_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "title": { "type": "string" },
            "characters": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": { "type": "string" },
                        "age": { "type": "integer" }
                    },
                    "required": ["name", "age"]
                }
            },
            "story": { "type": "string" }
        },
        "required": ["title", "characters", "story"]
    })
}

/// Tokens of one reply and its decode speed: tokens after the first, per second between the
/// first token's event and the last.
fn decode(engine: &Engine, output: OutputConstraint) -> Result<(u32, f64), Box<dyn Error>> {
    let mut request = GenerateRequest::new(
        vec![ChatMessage::new(ChatRole::User, DECODE_QUESTION)],
        SamplerParams {
            temperature: 0.0,
            seed: 1,
            max_tokens: DECODE_TOKENS,
            ..Default::default()
        },
    );
    request.output = output;
    let mut stamps = Vec::new();
    for event in engine.stream(request)? {
        match event {
            GenerationEvent::Token(_) => stamps.push(Instant::now()),
            GenerationEvent::Finished(stats) => {
                let (Some(first), Some(last)) = (stamps.first(), stamps.last()) else {
                    return Err("the reply had no tokens".into());
                };
                let seconds = last.duration_since(*first).as_secs_f64();
                let after_first = stats.completion_tokens.saturating_sub(1);
                if after_first == 0 || seconds <= 0.0 {
                    return Err("the reply was too short to time".into());
                }
                return Ok((stats.completion_tokens, f64::from(after_first) / seconds));
            }
            GenerationEvent::Failed(e) => return Err(e.into()),
        }
    }
    Err("the engine stopped".into())
}

/// Decode speed with the story schema and without, alternating, after one of each to warm up.
fn constrained_decode(model_path: &PathBuf) -> Result<Value, Box<dyn Error>> {
    let engine = Engine::load(model_path)?;
    let schema = OutputConstraint::JsonSchema(story_schema());
    decode(&engine, OutputConstraint::Text)?;
    decode(&engine, schema.clone())?;
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..DECODE_RUNS {
        with.push(decode(&engine, schema.clone())?);
        without.push(decode(&engine, OutputConstraint::Text)?);
    }
    let summary = |runs: &[(u32, f64)]| {
        json!({
            "decode_tokens_per_s": median(runs.iter().map(|r| r.1).collect()),
            "tokens": runs.iter().map(|r| r.0).collect::<Vec<_>>(),
        })
    };
    let ratio =
        median(with.iter().map(|r| r.1).collect()) / median(without.iter().map(|r| r.1).collect());
    eprintln!(
        "engine_bench: decode with a JSON schema {:.1} tok/s, without {:.1} tok/s ({ratio:.3}×)",
        median(with.iter().map(|r| r.1).collect()),
        median(without.iter().map(|r| r.1).collect()),
    );
    Ok(json!({
        "runs": DECODE_RUNS,
        "max_tokens": DECODE_TOKENS,
        "question": DECODE_QUESTION,
        "with_schema": summary(&with),
        "without_schema": summary(&without),
        "decode_speed_ratio": ratio,
        "schema": story_schema(),
    }))
}

fn main() -> Result<(), Box<dyn Error>> {
    let model_path = PathBuf::from(arg("--model")?);
    let out = PathBuf::from(arg("--out")?);
    let constrained_only = std::env::args().any(|a| a == "--constrained-only");
    let mut report = json!({ "benchmark": "engine" });
    if !constrained_only {
        let model = LoadedModel::load(&model_path)?;
        report["model"] = json!(model.info.id);
        report["quantization"] = json!(model.info.quantization);
        report["follow_up_turns"] = follow_up_turns(model)?;
    }
    report["constrained_decode"] = constrained_decode(&model_path)?;
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
    eprintln!("engine_bench: wrote {}", out.display());
    Ok(())
}

/// Warm and cold prompt reading at the measured turns; the model is dropped afterwards, so that
/// the engine of the next part has the memory.
fn follow_up_turns(mut model: LoadedModel) -> Result<Value, Box<dyn Error>> {
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
    Ok(Value::Array(turns))
}
