//! `cargo xtask bench`, engine speed beside llama.cpp: the same GGUF file, the same prompt token
//! ids and the same thread count for both, runs alternating (ours, llama.cpp, ours, …) so that a
//! busy moment of the machine hits both alike.
//!
//! Ours is `oa-engine`'s `speed_bench` example (release build, portable: no target-cpu flag);
//! llama.cpp's is `xtask/bench/llama_speed.py` through llama-cpp-python (installed by setup).
//! Each run is a fresh process that loads the model, reads the prompt, and decodes greedily;
//! the medians of the runs and the ratios ours / llama.cpp go into `engine.json`'s `speed`.
//! Besides the reference models, a random-weight llama-shaped model of about a billion
//! parameters in Q4_K_M, written once into `target/bench/` (`write_bench_model` example), shows
//! the speeds where the weights no longer fit in any cache.
//! The goals (issue: engine speed) are reported, never asserted.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::bench::{build_release_example, percentile, release_example, verdict};
use crate::command;
use crate::manifest::Manifest;
use crate::project::{ENGINE_PACKAGE, Project};
use crate::step::{Timings, headline};

/// Runs per side and setting.
const RUNS: usize = 5;
/// Prompt tokens read in one call.
const PROMPT_TOKENS: usize = 128;
/// Tokens decoded after the prompt.
const DECODE_TOKENS: usize = 64;
/// Thread counts compared, with the least ratio ours / llama.cpp each should reach.
const THREADS: [(usize, f64); 2] = [(2, 1.0), (1, 0.9)];
/// Largest peak-memory ratio ours / llama.cpp.
const RSS_GOAL: f64 = 1.1;

/// The figures of one run, as both sides write them.
const FIGURES: [&str; 5] = ["prompt_tps", "decode_tps", "ttft_s", "load_s", "peak_rss"];

/// The same ordinary token ids for both sides, spread over the first 9,000 ids of the
/// vocabulary (every reference model has more).
fn prompt_ids() -> String {
    ids((0..PROMPT_TOKENS).map(|i| 100 + (i * 7919) % 9000))
}

/// Prompt ids for the written model, whose byte-level vocabulary has 265 tokens.
fn byte_prompt_ids() -> String {
    ids((0..PROMPT_TOKENS).map(|i| (11 + i * 37) % 256))
}

fn ids(ids: impl Iterator<Item = usize>) -> String {
    ids.map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

/// The file name of the written billion-parameter model in `target/bench/`.
const LARGE_MODEL: &str = "random-1b-llama-q4_k_m.gguf";

/// Writes the billion-parameter model unless an earlier run did.
fn large_model(project: &Project, timings: &mut Timings) -> Result<std::path::PathBuf> {
    let path = project.bench_dir().join(LARGE_MODEL);
    if !path.exists() {
        timings.step("write the random 1B-parameter Q4_K_M model", || {
            build_release_example(project, ENGINE_PACKAGE, "write_bench_model")?;
            let mut cmd = release_example(project, ENGINE_PACKAGE, "write_bench_model");
            cmd.arg("--out").arg(&path);
            command::run(&mut cmd)
        })?;
    }
    Ok(path)
}

/// Measures every reference model at every thread count; returns `engine.json`'s `speed`.
pub fn compare(project: &Project, timings: &mut Timings) -> Result<Value> {
    let dir = project.bench_dir();
    let manifest = Manifest::load(&project.models_manifest())?;
    timings.step("speed benchmark (release build)", || {
        build_release_example(project, ENGINE_PACKAGE, "speed_bench")
    })?;
    let script = project
        .root()
        .join("xtask")
        .join("bench")
        .join("llama_speed.py");
    let mut files: Vec<(std::path::PathBuf, String, String)> = manifest
        .models
        .iter()
        .map(|m| {
            (
                project.models_dir().join(&m.file),
                m.file.clone(),
                prompt_ids(),
            )
        })
        .collect();
    files.push((
        large_model(project, timings)?,
        LARGE_MODEL.to_owned(),
        byte_prompt_ids(),
    ));
    let mut models = Vec::new();
    for (path, file, ids) in &files {
        for (threads, goal) in THREADS {
            let label = format!("{file} with {threads} thread(s)");
            let (ours, theirs) = timings.step(&format!("speed of {label}"), || {
                let mut ours = Vec::new();
                let mut theirs = Vec::new();
                for run in 0..RUNS {
                    let out = dir.join(format!("speed.{file}.{threads}.{run}.json"));
                    let mut cmd = release_example(project, ENGINE_PACKAGE, "speed_bench");
                    cmd.arg("--model")
                        .arg(path)
                        .args(["--ids", ids, "--decode", &DECODE_TOKENS.to_string()])
                        .arg("--out")
                        .arg(&out)
                        .env("RAYON_NUM_THREADS", threads.to_string())
                        .env("CANDLE_NUM_THREADS", threads.to_string());
                    ours.push(run_sample(&mut cmd, &out)?);
                    let mut cmd = Command::new("python3");
                    cmd.arg(&script)
                        .arg(path)
                        .args([ids, &DECODE_TOKENS.to_string(), &threads.to_string()])
                        .arg(&out);
                    theirs.push(run_sample(&mut cmd, &out)?);
                }
                Ok((ours, theirs))
            })?;
            models.push(judge(file, threads, goal, &ours, &theirs));
        }
    }
    let speed = json!({
        "runs": RUNS,
        "prompt_tokens": PROMPT_TOKENS,
        "decode_tokens": DECODE_TOKENS,
        "reference": "llama.cpp through llama-cpp-python, same file, ids and threads",
        "goal": format!(
            "ours / llama.cpp ≥ 1.0 for prompt and decode tok/s with 2 threads, ≥ 0.9 with 1; \
             peak RSS ≤ {RSS_GOAL}×"
        ),
        "models": models,
    });
    print_table(&speed);
    Ok(speed)
}

/// Runs one side once and reads what it wrote.
fn run_sample(cmd: &mut Command, out: &Path) -> Result<Value> {
    let _ = fs::remove_file(out);
    command::run(cmd)?;
    let text =
        fs::read_to_string(out).with_context(|| format!("could not read {}", out.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a speed sample", out.display()))
}

/// The medians of both sides, their ratios and the verdicts for one model and thread count.
fn judge(file: &str, threads: usize, goal: f64, ours: &[Value], theirs: &[Value]) -> Value {
    let median = |samples: &[Value], figure: &str| {
        let values: Vec<f64> = samples.iter().filter_map(|s| s[figure].as_f64()).collect();
        percentile(&values, 50.0)
    };
    let side = |samples: &[Value]| {
        FIGURES
            .iter()
            .map(|f| ((*f).to_owned(), json!(median(samples, f))))
            .collect::<serde_json::Map<_, _>>()
    };
    let ratio = |figure: &str| median(ours, figure) / median(theirs, figure);
    let (prompt, decode, rss) = (ratio("prompt_tps"), ratio("decode_tps"), ratio("peak_rss"));
    json!({
        "file": file,
        "threads": threads,
        "ours": side(ours),
        "llama_cpp": side(theirs),
        "ratio": {
            "prompt_tps": prompt,
            "decode_tps": decode,
            "ttft_s": ratio("ttft_s"),
            "load_s": ratio("load_s"),
            "peak_rss": rss,
        },
        "meets_goal": {
            "prompt": prompt >= goal,
            "decode": decode >= goal,
            "peak_rss": rss <= RSS_GOAL,
        },
    })
}

fn print_table(speed: &Value) {
    headline("engine speed beside llama.cpp (medians; ratio ours / llama.cpp)");
    for m in speed["models"].as_array().into_iter().flatten() {
        let f = |side: &str, figure: &str| m[side][figure].as_f64().unwrap_or(f64::NAN);
        let r = |figure: &str| m["ratio"][figure].as_f64().unwrap_or(f64::NAN);
        let met = |what: &str| verdict(m["meets_goal"][what] == json!(true));
        println!(
            "  {} ({} thread(s))\n    prompt {:>7.1} vs {:>7.1} tok/s  {:.2}× {}\n    decode \
             {:>7.1} vs {:>7.1} tok/s  {:.2}× {}\n    first token {:.3} vs {:.3} s, load {:.2} vs \
             {:.2} s, peak RSS {:.0} vs {:.0} MB  {:.2}× {}",
            m["file"].as_str().unwrap_or("?"),
            m["threads"],
            f("ours", "prompt_tps"),
            f("llama_cpp", "prompt_tps"),
            r("prompt_tps"),
            met("prompt"),
            f("ours", "decode_tps"),
            f("llama_cpp", "decode_tps"),
            r("decode_tps"),
            met("decode"),
            f("ours", "ttft_s"),
            f("llama_cpp", "ttft_s"),
            f("ours", "load_s"),
            f("llama_cpp", "load_s"),
            f("ours", "peak_rss") / 1e6,
            f("llama_cpp", "peak_rss") / 1e6,
            r("peak_rss"),
            met("peak_rss"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(prompt: f64, decode: f64, rss: f64) -> Value {
        json!({"prompt_tps": prompt, "decode_tps": decode, "ttft_s": 0.5, "load_s": 0.2,
               "peak_rss": rss})
    }

    #[test]
    fn medians_are_compared_and_judged_against_the_goals() {
        let ours = [
            sample(100.0, 40.0, 110.0),
            sample(90.0, 38.0, 110.0),
            sample(300.0, 1.0, 110.0),
        ];
        let theirs: [Value; 3] = std::array::from_fn(|_| sample(100.0, 20.0, 100.0));
        let line = judge("m.gguf", 2, 1.0, &ours, &theirs);
        assert_eq!(
            line["ours"]["prompt_tps"],
            json!(100.0),
            "the median, not the mean"
        );
        assert_eq!(line["ratio"]["decode_tps"], json!(1.9));
        assert_eq!(line["meets_goal"]["prompt"], json!(true));
        assert_eq!(line["meets_goal"]["peak_rss"], json!(true));
        let slower = judge("m.gguf", 1, 0.9, &[sample(80.0, 10.0, 200.0)], &theirs[..1]);
        assert_eq!(slower["meets_goal"]["prompt"], json!(false));
        assert_eq!(slower["meets_goal"]["peak_rss"], json!(false));
    }

    #[test]
    fn both_sides_read_the_same_ids() {
        let ids = prompt_ids();
        assert_eq!(ids.split(',').count(), PROMPT_TOKENS);
        assert!(
            ids.split(',')
                .all(|i| (100..9100).contains(&i.parse::<usize>().unwrap()))
        );
    }
}
