//! `cargo xtask bench`, engine part: what a follow-up turn costs with the prefix cache.
//!
//! `oa-engine`'s `engine_bench` example reads a 20-turn conversation with the default model and
//! times the prompt of a follow-up question warm (the model has just read the conversation so
//! far) and cold (from nothing) at turns 5, 10 and 20. This module runs it in release mode, adds
//! the machine and the verdict, and writes `target/bench/engine.json`: warm time should follow
//! the new tokens (about the same at turn 20 as at turn 5), cold time the whole history.
//! `engine.json`'s `speed` sets prompt and decode speed, time to first token, load time and
//! peak memory beside llama.cpp's (`bench_speed.rs`).

use std::fs;

use anyhow::{Context, Result};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bench::Machine;
use crate::command;
use crate::models;
use crate::project::{ENGINE_PACKAGE, Project};
use crate::step::{Timings, headline, ok};

const ENGINE_BENCH_EXAMPLE: &str = "engine_bench";
/// Whether warm time follows the new tokens rather than the history, from turn 5 to turn 20:
/// its growth must be nearer (as a ratio) to the growth of the new tokens (about 1×) than to
/// the growth of the history (about 4×), i.e. below their geometric mean. Some growth is
/// inherent: every new token still attends to every earlier position, as in llama.cpp; reading
/// the history again is what the prefix cache avoids.
fn follows_new_tokens(warm_growth: f64, new_growth: f64, history_growth: f64) -> (bool, f64) {
    let limit = (new_growth * history_growth).sqrt();
    (warm_growth < limit, limit)
}

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
    let new_growth = last.new_tokens as f64 / first.new_tokens.max(1) as f64;
    let history_growth = last.prompt_tokens as f64 / first.prompt_tokens.max(1) as f64;
    let (meets_goal, limit) = follows_new_tokens(warm_growth, new_growth, history_growth);
    let speed = super::speed::compare(project, &mut timings)?;
    let report = json!({
        "benchmark": "engine",
        "machine": Machine::this(),
        "model": samples["model"],
        "quantization": samples["quantization"],
        "follow_up_turns": samples["follow_up_turns"],
        "warm_growth_turn_20_vs_5": warm_growth,
        "cold_growth_turn_20_vs_5": cold_growth,
        "history_growth_turn_20_vs_5": history_growth,
        "new_token_growth_turn_20_vs_5": new_growth,
        "goal": format!(
            "warm time from turn {} to {} grows less than {limit:.2}×, the geometric mean of the \
             new tokens' and the history's growth",
            first.turn, last.turn
        ),
        "meets_goal": meets_goal,
        "speed": speed,
        "constrained_decode": samples["constrained_decode"],
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
        "  from turn {} to {}: new tokens {new_growth:.2}×, history {history_growth:.2}×; warm \
         {warm_growth:.2}×, cold {cold_growth:.2}×: {}",
        first.turn,
        last.turn,
        if meets_goal {
            format!("follows the new tokens (below {limit:.2}×, met)")
        } else {
            format!("grows with the history (not below {limit:.2}×, MISSED)")
        }
    );
    let constrained = &samples["constrained_decode"];
    if let Some(ratio) = constrained["decode_speed_ratio"].as_f64() {
        println!(
            "  decode with a JSON schema {:.1} tok/s, without {:.1} tok/s ({ratio:.3}×, goal 0.8×: {})",
            constrained["with_schema"]["decode_tokens_per_s"]
                .as_f64()
                .unwrap_or(0.0),
            constrained["without_schema"]["decode_tokens_per_s"]
                .as_f64()
                .unwrap_or(0.0),
            crate::bench::verdict(ratio >= 0.8)
        );
    }
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::follows_new_tokens;

    #[test]
    fn warm_time_is_judged_by_which_growth_it_is_nearer() {
        // Same new tokens, history ×4: ×1.6 is nearer to ×1 than to ×4; ×3 is not.
        assert!(follows_new_tokens(1.6, 1.0, 4.0).0);
        assert!(!follows_new_tokens(3.0, 1.0, 4.0).0);
        assert_eq!(follows_new_tokens(1.0, 1.0, 4.0).1, 2.0);
    }
}
