//! `cargo xtask bench`, memory part: is the Models page's memory estimate right?
//!
//! `oa-engine`'s `memory_bench` example loads one model, reads a prompt that fills 2,048
//! positions and reports the process's peak resident memory beside the engine's estimate
//! (`oa_engine::memory::estimate`, which the Models page's fit badge uses). This module runs
//! it once per reference model, each in a process of its own, and writes
//! `target/bench/memory.json`: the goal is an estimate within 15% of the measured peak.

use std::fs;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::bench::{Machine, build_release_example, release_example, verdict};
use crate::command;
use crate::manifest::Manifest;
use crate::project::{ENGINE_PACKAGE, Project};
use crate::step::{Timings, headline, ok};

const CONTEXT: usize = 2048;
/// Largest difference between estimate and measurement, as a fraction of the measurement.
const GOAL: f64 = 0.15;

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let manifest = Manifest::load(&project.models_manifest())?;
    let mut timings = Timings::default();
    timings.step("memory benchmark (release build)", || {
        build_release_example(project, ENGINE_PACKAGE, "memory_bench")
    })?;
    let mut models = Vec::new();
    for model in &manifest.models {
        let path = project.models_dir().join(&model.file);
        let out = dir.join(format!("memory.{}.samples.json", model.file));
        let sample = timings.step(&format!("memory of {}", model.file), || {
            let mut cmd = release_example(project, ENGINE_PACKAGE, "memory_bench");
            cmd.args(["--context", &CONTEXT.to_string(), "--model"])
                .arg(&path)
                .arg("--out")
                .arg(&out);
            command::run(&mut cmd)?;
            let text = fs::read_to_string(&out)
                .with_context(|| format!("could not read {}", out.display()))?;
            serde_json::from_str::<Value>(&text).context("the memory benchmark's output")
        })?;
        models.push(judge(sample)?);
    }
    let meets_goal = models.iter().all(|m| m["meets_goal"] == json!(true));
    let report = json!({
        "benchmark": "memory",
        "machine": Machine::this(),
        "context": CONTEXT,
        "goal": format!("the estimate within {:.0}% of the measured peak RSS", GOAL * 100.0),
        "models": models,
        "meets_goal": meets_goal,
    });
    let report_path = dir.join("memory.json");
    fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("could not write {}", report_path.display()))?;
    ok(format!("wrote {}", report_path.display()));

    headline(&format!("memory at {CONTEXT} tokens of context"));
    for m in &models {
        println!(
            "  {:<36} estimate {:>6.0} MB   measured peak {:>6.0} MB   ratio {:.3}: {}",
            m["file"].as_str().unwrap_or("?"),
            mb(&m["estimate_bytes"]),
            mb(&m["peak_rss_bytes"]),
            m["estimate_over_measured"].as_f64().unwrap_or(f64::NAN),
            verdict(m["meets_goal"] == json!(true))
        );
    }
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}

/// One model's line of the report: the example's numbers and the verdict.
fn judge(sample: Value) -> Result<Value> {
    let estimate = sample["estimate"]["total"]
        .as_u64()
        .context("the memory benchmark's estimate")?;
    let peak = sample["peak_rss"]
        .as_u64()
        .context("the memory benchmark's peak RSS")?;
    let ratio = estimate as f64 / peak.max(1) as f64;
    Ok(json!({
        "file": sample["file"],
        "model": sample["model"],
        "file_bytes": sample["file_bytes"],
        "estimate_bytes": estimate,
        "estimate_parts": sample["estimate"],
        "peak_rss_bytes": peak,
        "rss_after_load_bytes": sample["rss_after_load"],
        "rss_end_bytes": sample["rss_end"],
        "estimate_over_measured": ratio,
        "meets_goal": (ratio - 1.0).abs() <= GOAL,
    }))
}

fn mb(bytes: &Value) -> f64 {
    bytes.as_u64().unwrap_or(0) as f64 / (1 << 20) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_estimate_is_judged_against_the_measured_peak() {
        let sample = |estimate: u64, peak: u64| json!({ "file": "m.gguf", "estimate": { "total": estimate }, "peak_rss": peak });
        assert_eq!(judge(sample(110, 100)).unwrap()["meets_goal"], json!(true));
        assert_eq!(judge(sample(86, 100)).unwrap()["meets_goal"], json!(true));
        assert_eq!(judge(sample(84, 100)).unwrap()["meets_goal"], json!(false));
        assert_eq!(judge(sample(120, 100)).unwrap()["meets_goal"], json!(false));
        assert!(judge(json!({ "file": "m.gguf" })).is_err());
    }
}
