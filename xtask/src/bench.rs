//! `cargo xtask bench`: measures the parts whose speed the person notices, and writes a report.
//!
//! Ten benchmarks run: the local store (here), the engine (`bench_engine.rs`), its memory
//! against the Models page's estimate (`bench_memory.rs`), the dataset
//! server (`bench_server.rs`), sending from the desktop to it (`bench_sync.rs`), the personal-data detector (`bench_pii.rs`), consensus and trust under adversaries (`bench_quality.rs`), the size of the UI's wasm (`bench_wasm.rs`), the local API (`bench_api.rs`) and the desktop
//! app's start-up and memory (`bench_app.rs`). The store's (`oa-store`'s `store_bench` example) puts 100,000
//! messages in a real SQLite file, then times full-text searches and opening a 1,000-message
//! conversation. The example only measures and writes its raw samples; this module turns them into percentiles,
//! compares them with the goals, writes `target/bench/store.json` in the checkout and prints a
//! table. A missed goal is reported, never a failure: timings depend on the machine.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::command;
use crate::project::{Project, STORE_BENCH_EXAMPLE, STORE_PACKAGE};
use crate::step::{Timings, headline, ok};

/// The dataset server's benchmark (`target/bench/server.json`).
#[path = "bench_server.rs"]
mod server;

/// The engine's follow-up-turn benchmark (`target/bench/engine.json`).
#[path = "bench_engine.rs"]
mod engine;

/// The engine's speed beside llama.cpp's (`engine.json`'s `speed`).
#[path = "bench_speed.rs"]
mod speed;

/// The desktop app's start-up and idle memory (`target/bench/app.json`).
#[path = "bench_app.rs"]
mod app;

/// The Models page's memory estimate against measured memory (`target/bench/memory.json`).
#[path = "bench_memory.rs"]
mod memory;

/// 10,000 events from the desktop to the dataset server (`target/bench/sync.json`).
#[path = "bench_sync.rs"]
mod sync;

/// The personal-data detector's recall and false alarms (`target/bench/pii.json`).
#[path = "bench_pii.rs"]
mod pii;

/// Consensus and trust under a crowd with adversaries (`target/bench/quality.json`).
#[path = "bench_quality.rs"]
mod quality;

/// The local API against the engine, and with a JSON schema (`target/bench/api.json`).
#[path = "bench_api.rs"]
mod api;

/// The size of the UI's release wasm and JS glue, raw and gzip-compressed (`target/bench/wasm.json`).
#[path = "bench_wasm.rs"]
mod wasm;

/// The 95th percentile of a search, in milliseconds, that search-as-you-type should stay under.
pub const SEARCH_P95_GOAL_MS: f64 = 20.0;
/// The 95th percentile of opening a 1,000-message conversation, in milliseconds.
pub const OPEN_1000_GOAL_MS: f64 = 30.0;

pub fn run(project: &Project) -> Result<()> {
    // `OA_BENCH=server`, `engine`, `memory`, `sync`, `pii`, `quality`, `wasm`, `api` or `app` runs only
    // that benchmark.
    match std::env::var("OA_BENCH").as_deref() {
        Ok("server") => return server::run(project),
        Ok("engine") => return engine::run(project),
        Ok("app") => return app::run(project),
        Ok("pii") => return pii::run(project),
        Ok("quality") => return quality::run(project),
        Ok("memory") => return memory::run(project),
        Ok("sync") => return sync::run(project),
        Ok("wasm") => return wasm::run(project),
        Ok("api") => return api::run(project),
        _ => {}
    }
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let samples_path = dir.join("store.samples.json");
    let report_path = dir.join("store.json");

    let mut timings = Timings::default();
    timings.step("store benchmark (release build, then run)", || {
        let mut cmd = command::cargo();
        cmd.args([
            "run",
            "--release",
            "--package",
            STORE_PACKAGE,
            "--example",
            STORE_BENCH_EXAMPLE,
            "--",
            "--out",
        ])
        .arg(&samples_path)
        .current_dir(project.root());
        command::run(&mut cmd)
    })?;
    let report = timings.step("store report", || {
        let samples = read_samples(&samples_path)?;
        let report = StoreReport::new(&samples, Machine::this());
        let json = serde_json::to_string_pretty(&report).context("could not encode the report")?;
        fs::write(&report_path, json + "\n")
            .with_context(|| format!("could not write {}", report_path.display()))?;
        ok(format!("wrote {}", report_path.display()));
        Ok(report)
    })?;

    headline("store");
    print!("{}", report.table());
    headline("time per step");
    print!("{}", timings.summary());
    engine::run(project)?;
    memory::run(project)?;
    server::run(project)?;
    sync::run(project)?;
    pii::run(project)?;
    quality::run(project)?;
    wasm::run(project)?;
    api::run(project)?;
    app::run(project)
}

fn read_samples(path: &Path) -> Result<StoreSamples> {
    let text =
        fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not the store benchmark's output", path.display()))
}

/// What the store benchmark measured, as its example writes it.
#[derive(Debug, Deserialize)]
pub struct StoreSamples {
    pub messages: u64,
    pub conversations: u64,
    pub fill_seconds: f64,
    pub db_bytes: u64,
    pub searches: Vec<SearchSample>,
    pub open_long_conversation_ms: Vec<f64>,
}

#[derive(Debug, Deserialize)]
pub struct SearchSample {
    pub query: String,
    pub ms: f64,
}

/// The machine the numbers come from; they mean little without it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub os: String,
}

/// How a goal came out, as the tables print it.
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// `cargo build --release --package PACKAGE --example EXAMPLE`, in the checkout: built before
/// its runs are timed.
pub fn build_release_example(project: &Project, package: &str, example: &str) -> Result<()> {
    let mut cmd = command::cargo();
    cmd.args([
        "build",
        "--release",
        "--package",
        package,
        "--example",
        example,
    ])
    .current_dir(project.root());
    command::run(&mut cmd)
}

/// `cargo run --quiet --release --package PACKAGE --example EXAMPLE --`, in the checkout:
/// the benchmarks that run in a process of their own. Arguments for the example follow.
pub fn release_example(project: &Project, package: &str, example: &str) -> std::process::Command {
    let mut cmd = command::cargo();
    cmd.args([
        "run",
        "--quiet",
        "--release",
        "--package",
        package,
        "--example",
        example,
        "--",
    ])
    .current_dir(project.root());
    cmd
}

impl Machine {
    /// This machine (the benchmark runs here too).
    pub fn this() -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            os: std::env::consts::OS.to_owned(),
        }
    }
}

/// `target/bench/store.json`.
#[derive(Debug, Serialize)]
pub struct StoreReport {
    pub benchmark: &'static str,
    pub machine: Machine,
    pub messages: u64,
    pub conversations: u64,
    pub search_ms: SearchStats,
    pub open_1000_ms: OpenStats,
    pub fill_seconds: f64,
    pub db_bytes: u64,
    pub goals: Goals,
    pub meets_goals: MeetsGoals,
}

#[derive(Debug, Serialize)]
pub struct SearchStats {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub queries: usize,
    /// The query behind `max`.
    pub slowest_query: String,
}

#[derive(Debug, Serialize)]
pub struct OpenStats {
    pub p50: f64,
    pub p95: f64,
    pub runs: usize,
}

#[derive(Debug, Serialize)]
pub struct Goals {
    pub search_p95_ms: f64,
    pub open_1000_ms: f64,
}

/// Whether each goal was met; the open goal is judged on the 95th percentile.
#[derive(Debug, Serialize)]
pub struct MeetsGoals {
    pub search_p95_ms: bool,
    pub open_1000_ms: bool,
}

impl StoreReport {
    pub fn new(samples: &StoreSamples, machine: Machine) -> StoreReport {
        let search: Vec<f64> = samples.searches.iter().map(|s| s.ms).collect();
        let slowest_query = samples
            .searches
            .iter()
            .max_by(|a, b| a.ms.total_cmp(&b.ms))
            .map(|s| s.query.clone())
            .unwrap_or_default();
        let search_ms = SearchStats {
            p50: rounded(percentile(&search, 50.0)),
            p95: rounded(percentile(&search, 95.0)),
            p99: rounded(percentile(&search, 99.0)),
            max: rounded(percentile(&search, 100.0)),
            queries: search.len(),
            slowest_query,
        };
        let open = &samples.open_long_conversation_ms;
        let open_1000_ms = OpenStats {
            p50: rounded(percentile(open, 50.0)),
            p95: rounded(percentile(open, 95.0)),
            runs: open.len(),
        };
        let meets_goals = MeetsGoals {
            search_p95_ms: !search.is_empty() && search_ms.p95 <= SEARCH_P95_GOAL_MS,
            open_1000_ms: !open.is_empty() && open_1000_ms.p95 <= OPEN_1000_GOAL_MS,
        };
        StoreReport {
            benchmark: "store",
            machine,
            messages: samples.messages,
            conversations: samples.conversations,
            search_ms,
            open_1000_ms,
            fill_seconds: rounded(samples.fill_seconds),
            db_bytes: samples.db_bytes,
            goals: Goals {
                search_p95_ms: SEARCH_P95_GOAL_MS,
                open_1000_ms: OPEN_1000_GOAL_MS,
            },
            meets_goals,
        }
    }

    /// The short table printed after a run.
    pub fn table(&self) -> String {
        let s = &self.search_ms;
        let o = &self.open_1000_ms;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{} messages in {} conversations, {} CPUs, {}",
            self.messages, self.conversations, self.machine.cpus, self.machine.os
        );
        let _ = writeln!(
            text,
            "  fill         {:>9.1} s     ({:.0} messages/s, one transaction each)",
            self.fill_seconds,
            self.messages as f64 / self.fill_seconds.max(f64::MIN_POSITIVE)
        );
        let _ = writeln!(
            text,
            "  database     {:>9.1} MiB",
            self.db_bytes as f64 / (1024.0 * 1024.0)
        );
        let _ = writeln!(
            text,
            "  search       p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms  ({} queries)",
            s.p50, s.p95, s.p99, s.max, s.queries
        );
        let _ = writeln!(text, "               slowest: {:?}", s.slowest_query);
        let _ = writeln!(
            text,
            "  open 1,000   p50 {:>7.2} ms  p95 {:>7.2} ms  ({} runs)",
            o.p50, o.p95, o.runs
        );
        let _ = writeln!(
            text,
            "  goals        search p95 <= {} ms: {}; open 1,000 p95 <= {} ms: {}",
            self.goals.search_p95_ms,
            verdict(self.meets_goals.search_p95_ms),
            self.goals.open_1000_ms,
            verdict(self.meets_goals.open_1000_ms)
        );
        text
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100) of `samples`, in any order: the smallest
/// sample that at least `p` percent of the samples are less than or equal to. `NaN` when there
/// are no samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    // Multiplying first keeps whole ranks exact (0.95 has no exact binary form).
    let rank = (p * sorted.len() as f64 / 100.0).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Three decimals are plenty for milliseconds and seconds, and keep the report readable.
fn rounded(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn percentile_is_the_nearest_rank() {
        let hundred: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50.0), 50.0);
        assert_eq!(percentile(&hundred, 95.0), 95.0);
        assert_eq!(percentile(&hundred, 99.0), 99.0);
        assert_eq!(percentile(&hundred, 100.0), 100.0);
        assert_eq!(percentile(&hundred, 0.5), 1.0);

        let few = [30.0, 10.0, 20.0];
        assert_eq!(percentile(&few, 50.0), 20.0);
        assert_eq!(percentile(&few, 95.0), 30.0);
        assert_eq!(percentile(&[7.5], 99.0), 7.5);
        assert!(percentile(&[], 50.0).is_nan());
    }

    fn samples(search_ms: &[f64], open_ms: &[f64]) -> StoreSamples {
        let searches: Vec<Value> = search_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| json!({ "query": format!("word{i}"), "ms": ms, "hits": 3 }))
            .collect();
        let json = json!({
            "benchmark": "store",
            "messages": 100_000,
            "conversations": 4_800,
            "long_conversation_messages": 1_000,
            "fill_seconds": 41.5,
            "db_bytes": 123_456_789,
            "search_limit": 200,
            "searches": searches,
            "open_long_conversation_ms": open_ms,
        });
        serde_json::from_value(json).unwrap()
    }

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            os: "linux".into(),
        }
    }

    #[test]
    fn report_has_the_agreed_shape() {
        let search: Vec<f64> = (1..=200).map(|i| f64::from(i) / 10.0).collect();
        let open: Vec<f64> = (1..=50).map(f64::from).collect();
        let report = StoreReport::new(&samples(&search, &open), machine());
        let value = serde_json::to_value(&report).unwrap();

        assert_eq!(
            value,
            json!({
                "benchmark": "store",
                "machine": { "cpus": 2, "os": "linux" },
                "messages": 100_000,
                "conversations": 4_800,
                "search_ms": {
                    "p50": 10.0, "p95": 19.0, "p99": 19.8, "max": 20.0,
                    "queries": 200, "slowest_query": "word199"
                },
                "open_1000_ms": { "p50": 25.0, "p95": 48.0, "runs": 50 },
                "fill_seconds": 41.5,
                "db_bytes": 123_456_789,
                "goals": { "search_p95_ms": 20.0, "open_1000_ms": 30.0 },
                "meets_goals": { "search_p95_ms": true, "open_1000_ms": false },
            })
        );
    }

    #[test]
    fn no_samples_meet_no_goal_and_still_encode() {
        let report = StoreReport::new(&samples(&[], &[]), machine());
        assert!(!report.meets_goals.search_p95_ms);
        assert!(!report.meets_goals.open_1000_ms);
        // NaN becomes null in JSON rather than an encoding error.
        let value = serde_json::to_value(&report).unwrap();
        assert_eq!(value["search_ms"]["p95"], Value::Null);
    }

    #[test]
    fn table_names_every_figure_and_the_missed_goal() {
        let report = StoreReport::new(&samples(&[1.0, 2.0, 40.0], &[5.0, 6.0]), machine());
        let table = report.table();
        assert!(table.starts_with("100000 messages in 4800 conversations, 2 CPUs, linux\n"));
        assert!(table.contains(" 41.5 s "), "{table}");
        assert!(table.contains("max   40.00 ms  (3 queries)"), "{table}");
        assert!(table.contains("slowest: \"word2\""), "{table}");
        assert!(table.contains("p95    6.00 ms  (2 runs)"), "{table}");
        assert!(
            table.contains("search p95 <= 20 ms: MISSED; open 1,000 p95 <= 30 ms: met"),
            "{table}"
        );
    }

    #[test]
    fn reports_go_to_the_checkout_whatever_the_target_dir() {
        let project = Project::locate().unwrap();
        assert_eq!(
            project.bench_dir(),
            project.root().join("target").join("bench")
        );
    }

    #[test]
    fn samples_written_by_the_example_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.samples.json");
        fs::write(
            &path,
            r#"{"messages": 10, "conversations": 2, "fill_seconds": 0.5, "db_bytes": 4096,
                "searches": [{"query": "tea", "ms": 0.25, "hits": 1}],
                "open_long_conversation_ms": [1.5]}"#,
        )
        .unwrap();
        let samples = read_samples(&path).unwrap();
        assert_eq!(samples.searches[0].query, "tea");
        assert_eq!(samples.open_long_conversation_ms, [1.5]);

        fs::write(&path, r#"{"messages": 10}"#).unwrap();
        let err = read_samples(&path).unwrap_err();
        assert!(
            format!("{err:#}").contains("is not the store benchmark's output"),
            "{err:#}"
        );
    }
}
