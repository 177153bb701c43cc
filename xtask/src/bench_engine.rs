//! `cargo xtask bench`, engine part: what a follow-up turn costs with the prefix cache.
//!
//! `oa-engine`'s `engine_bench` example reads a 20-turn conversation with the default model and
//! times the prompt of a follow-up question warm (the model has just read the conversation so
//! far) and cold (from nothing) at turns 5, 10 and 20. This module runs it in release mode, adds
//! the machine and the verdict, and writes `target/bench/engine.json`: warm time should follow
//! the new tokens (about the same at turn 20 as at turn 5), cold time the whole history.

use std::fs;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bench::Machine;
use crate::command;
use crate::models;
use crate::project::Project;
use crate::step::{Timings, headline, ok};

const ENGINE_PACKAGE: &str = "oa-engine";
const ENGINE_BENCH_EXAMPLE: &str = "engine_bench";
/// Warm time at turn 20 may be at most this multiple of warm time at turn 5 (same number of
/// new tokens, four times the history) to count as following the new tokens.
const WARM_GROWTH_LIMIT: f64 = 1.5;

#[derive(Debug, Deserialize)]
struct Turn {
    turn: u64,
    prompt_tokens: u64,
    new_tokens: u64,
    warm_ms: f64,
    cold_ms: f64,
}

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let samples_path = dir.join("engine.samples.json");
    let report_path = dir.join("engine.json");
    let model = models::default_model_path(project)?;
    let mut timings = Timings::default();
    timings.step("engine benchmark (release build, then run)", || {
        let mut cmd = command::cargo();
        cmd.args([
            "run",
            "--release",
            "--package",
            ENGINE_PACKAGE,
            "--example",
            ENGINE_BENCH_EXAMPLE,
            "--",
            "--model",
        ])
        .arg(&model)
        .arg("--out")
        .arg(&samples_path)
        .current_dir(project.root());
        command::run(&mut cmd)
    })?;
    let text = fs::read_to_string(&samples_path)
        .with_context(|| format!("could not read {}", samples_path.display()))?;
    let samples: Value = serde_json::from_str(&text).context("the engine benchmark's output")?;
    let turns: Vec<Turn> = serde_json::from_value(samples["follow_up_turns"].clone())
        .context("the engine benchmark's turns")?;
    let (first, last) = (
        turns.first().context("no turns measured")?,
        turns.last().context("no turns measured")?,
    );
    let warm_growth = last.warm_ms / first.warm_ms;
    let cold_growth = last.cold_ms / first.cold_ms;
    let report = json!({
        "benchmark": "engine",
        "machine": Machine::this(),
        "model": samples["model"],
        "quantization": samples["quantization"],
        "follow_up_turns": samples["follow_up_turns"],
        "warm_growth_turn_20_vs_5": warm_growth,
        "cold_growth_turn_20_vs_5": cold_growth,
        "history_growth_turn_20_vs_5": last.prompt_tokens as f64 / first.prompt_tokens as f64,
        "goal": format!("warm time at turn {} at most {WARM_GROWTH_LIMIT}× turn {}", last.turn, first.turn),
        "meets_goal": warm_growth <= WARM_GROWTH_LIMIT,
    });
    fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("could not write {}", report_path.display()))?;
    ok(format!("wrote {}", report_path.display()));

    headline("engine: a follow-up turn");
    for t in &turns {
        println!(
            "  turn {:>2}  {:>5} prompt tokens, {:>3} new   warm {:>8.0} ms   cold {:>8.0} ms",
            t.turn, t.prompt_tokens, t.new_tokens, t.warm_ms, t.cold_ms
        );
    }
    println!(
        "  warm grows {warm_growth:.2}×, cold {cold_growth:.2}× from turn {} to {}: {}",
        first.turn,
        last.turn,
        if warm_growth <= WARM_GROWTH_LIMIT {
            "follows the new tokens (met)"
        } else {
            "grows with the history (MISSED)"
        }
    );
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}
