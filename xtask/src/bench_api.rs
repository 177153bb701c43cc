//! `cargo xtask bench`, local API part: what the API costs over the engine itself (time to
//! first token and decode speed, the same answer both ways), and decode speed with a JSON
//! schema against without, through the API.
//!
//! `oa-api`'s `api_bench` example measures (see its header); this module runs it in release
//! mode, judges the figures against the goals and writes `target/bench/api.json`.

use std::fs;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::bench::{Machine, release_example, verdict};
use crate::command;
use crate::models;
use crate::project::Project;
use crate::step::{Timings, headline, ok};

const API_PACKAGE: &str = "oa-api";
const API_BENCH_EXAMPLE: &str = "api_bench";
/// The API may add at most this share to time to first token and take it from decode speed.
const OVERHEAD_GOAL: f64 = 0.05;
/// Decode speed with a schema, as a share of without.
const SCHEMA_GOAL: f64 = 0.8;

fn figure(samples: &Value, part: &str, name: &str) -> Result<f64> {
    samples[part][name]
        .as_f64()
        .with_context(|| format!("the API benchmark gave no {part}.{name}"))
}

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let samples_path = dir.join("api.samples.json");
    let report_path = dir.join("api.json");
    let model = models::default_model_path(project)?;
    let mut timings = Timings::default();
    timings.step("API benchmark (release build, then run)", || {
        let mut cmd = release_example(project, API_PACKAGE, API_BENCH_EXAMPLE);
        cmd.arg("--model")
            .arg(&model)
            .arg("--out")
            .arg(&samples_path);
        command::run(&mut cmd)
    })?;
    let text = fs::read_to_string(&samples_path)
        .with_context(|| format!("could not read {}", samples_path.display()))?;
    let s: Value = serde_json::from_str(&text).context("the API benchmark's output")?;
    let ttft_ratio = figure(&s, "api", "time_to_first_token_ms")?
        / figure(&s, "engine", "time_to_first_token_ms")?;
    let decode_ratio =
        figure(&s, "api", "decode_tokens_per_s")? / figure(&s, "engine", "decode_tokens_per_s")?;
    let schema_ratio = figure(&s, "api_with_schema", "decode_tokens_per_s")?
        / figure(&s, "api_without_schema", "decode_tokens_per_s")?;
    let overhead_met = ttft_ratio <= 1.0 + OVERHEAD_GOAL && decode_ratio >= 1.0 - OVERHEAD_GOAL;
    let schema_met = schema_ratio >= SCHEMA_GOAL;
    let report = json!({
        "benchmark": "api",
        "machine": Machine::this(),
        "model": s["model"],
        "runs": s["runs"],
        "through_api": s["api"],
        "engine_directly": s["engine"],
        "api_vs_engine": {
            "time_to_first_token_ratio": ttft_ratio,
            "decode_speed_ratio": decode_ratio,
            "goal": format!("time to first token at most {:.2}× the engine's, decode speed at least {:.2}×", 1.0 + OVERHEAD_GOAL, 1.0 - OVERHEAD_GOAL),
            "meets_goal": overhead_met,
        },
        "with_schema": s["api_with_schema"],
        "without_schema": s["api_without_schema"],
        "schema_vs_none": {
            "decode_speed_ratio": schema_ratio,
            "goal": format!("decode speed with a JSON schema at least {SCHEMA_GOAL:.2}× without"),
            "meets_goal": schema_met,
        },
        "schema": s["schema"],
    });
    fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("could not write {}", report_path.display()))?;
    ok(format!("wrote {}", report_path.display()));

    headline("local API");
    println!(
        "  time to first token: API {:.1} ms, engine {:.1} ms ({ttft_ratio:.3}×)",
        figure(&s, "api", "time_to_first_token_ms")?,
        figure(&s, "engine", "time_to_first_token_ms")?
    );
    println!(
        "  decode: API {:.1} tok/s, engine {:.1} tok/s ({decode_ratio:.3}×): {}",
        figure(&s, "api", "decode_tokens_per_s")?,
        figure(&s, "engine", "decode_tokens_per_s")?,
        verdict(overhead_met)
    );
    println!(
        "  decode with a JSON schema: {:.1} tok/s against {:.1} without ({schema_ratio:.3}×): {}",
        figure(&s, "api_with_schema", "decode_tokens_per_s")?,
        figure(&s, "api_without_schema", "decode_tokens_per_s")?,
        verdict(schema_met)
    );
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}
