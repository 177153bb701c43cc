//! `cargo xtask bench`, app part: how long the desktop app takes to show its window, and how
//! much memory it holds once idle.
//!
//! The UI and the app are built optimised (release wasm, release binary), then started several
//! times on a private Xvfb display, each time with a fresh data folder and the default model.
//! Start-up is the time from spawning the process to the UI's first painted frame: the UI tells
//! the app after the frame that shows it, and the app logs `first paint` with its own clock; the
//! time to that log line, seen from here, is what is reported (the app's own figure is kept
//! beside it). Idle memory is that of the app and every process it started (the webview's web
//! and network processes), read from `/proc` once the model is loaded and the window has been
//! idle a few seconds: the proportional set size (PSS) summed over the processes, so that the
//! libraries they share count once; the plain resident sets are reported beside it. Goals: 1.5 s
//! and 150 MB; a miss is reported, not failed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::bench::{Machine, percentile, verdict};
use crate::command;
use crate::models;
use crate::project::{DESKTOP_BIN, DESKTOP_PACKAGE, ENV_MODEL, Project};
use crate::step::{Timings, headline, ok};
use crate::{cargo, ui};

/// Start-up goal: process start to the first painted frame.
const FIRST_PAINT_GOAL_MS: f64 = 1500.0;
/// Idle memory goal, app and webview processes together.
const IDLE_RSS_GOAL_MB: f64 = 150.0;
/// Starts measured.
const RUNS: usize = 5;
/// How long the window sits idle before its memory is read.
const IDLE: Duration = Duration::from_secs(5);
/// Longest wait for one start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// One start of the app.
struct Start {
    first_paint_ms: f64,
    app_reported_ms: f64,
    app_pss_mb: f64,
    total_pss_mb: f64,
    total_rss_mb: f64,
    processes: usize,
}

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let report_path = dir.join("app.json");
    let model = models::default_model_path(project)?;
    let mut timings = Timings::default();
    timings.step("release UI (wasm)", || ui::build_profile(project, true))?;
    timings.step("release app", || {
        let mut build = command::cargo();
        build
            .args(["build", "--release", "-p", DESKTOP_PACKAGE])
            .current_dir(project.root());
        command::run(&mut build)
    })?;
    let binary = cargo::target_dir(project)?
        .join("release")
        .join(format!("{DESKTOP_BIN}{}", std::env::consts::EXE_SUFFIX));
    let starts = timings.step("start the app under Xvfb", || {
        let display = Xvfb::start()?;
        (0..RUNS)
            .map(|_| start_once(&binary, &model, &display.name()))
            .collect::<Result<Vec<_>>>()
    })?;

    let paint: Vec<f64> = starts.iter().map(|s| s.first_paint_ms).collect();
    let own: Vec<f64> = starts.iter().map(|s| s.app_reported_ms).collect();
    let total: Vec<f64> = starts.iter().map(|s| s.total_pss_mb).collect();
    let app_only: Vec<f64> = starts.iter().map(|s| s.app_pss_mb).collect();
    let rss: Vec<f64> = starts.iter().map(|s| s.total_rss_mb).collect();
    let paint_p50 = percentile(&paint, 50.0);
    let rss_p50 = percentile(&total, 50.0);
    let report = json!({
        "benchmark": "app",
        "machine": Machine::this(),
        "build": "release app, release wasm UI",
        "display": "Xvfb, software rendering",
        "model": model.file_name().map(|n| n.to_string_lossy().into_owned()),
        "runs": RUNS,
        "first_paint_ms": {
            "samples": paint,
            "p50": paint_p50,
            "max": paint.iter().cloned().fold(0.0, f64::max),
            "as_the_app_logs_it_p50": percentile(&own, 50.0),
            "goal": FIRST_PAINT_GOAL_MS,
            "ratio_to_goal": paint_p50 / FIRST_PAINT_GOAL_MS,
            "meets_goal": paint_p50 <= FIRST_PAINT_GOAL_MS,
        },
        "idle_memory_mb": {
            "measure": "PSS summed over the app and its webview processes",
            "samples": total,
            "p50": rss_p50,
            "app_process_pss_p50": percentile(&app_only, 50.0),
            "webview_processes_pss_p50": rss_p50 - percentile(&app_only, 50.0),
            "rss_summed_p50": percentile(&rss, 50.0),
            "processes": starts.first().map_or(0, |s| s.processes),
            "goal": IDLE_RSS_GOAL_MB,
            "ratio_to_goal": rss_p50 / IDLE_RSS_GOAL_MB,
            "meets_goal": rss_p50 <= IDLE_RSS_GOAL_MB,
        },
    });
    fs::write(&report_path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("could not write {}", report_path.display()))?;
    ok(format!("wrote {}", report_path.display()));

    headline("app: start-up and idle memory");
    println!(
        "  first paint   p50 {paint_p50:>7.0} ms  (goal {FIRST_PAINT_GOAL_MS:.0} ms, {})",
        verdict(paint_p50 <= FIRST_PAINT_GOAL_MS)
    );
    println!(
        "  idle memory   p50 {rss_p50:>7.1} MB PSS (goal {IDLE_RSS_GOAL_MB:.0} MB, {}); the app \
         process alone {:.1} MB",
        verdict(rss_p50 <= IDLE_RSS_GOAL_MB),
        percentile(&app_only, 50.0)
    );
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}

/// Starts the app once, waits for its first paint and its model, lets it idle, reads its
/// memory and closes it.
fn start_once(binary: &Path, model: &Path, display: &str) -> Result<Start> {
    let data = tempfile::tempdir()?;
    let spawned = Instant::now();
    let mut child = Command::new(binary)
        .env("DISPLAY", display)
        .env("OA_DATA_DIR", data.path())
        .env(ENV_MODEL, model)
        .env("LIBGL_ALWAYS_SOFTWARE", "1")
        .env("NO_AT_BRIDGE", "1")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let guard = KillOnDrop(&mut child);
    let stderr = guard.0.stderr.take().context("the app's log")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let mut first_paint = None;
    let mut model_loaded = false;
    let deadline = spawned + START_TIMEOUT;
    while first_paint.is_none() || !model_loaded {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((at, line)) = rx.recv_timeout(left) else {
            bail!("the app did not paint and load its model within {START_TIMEOUT:?}");
        };
        if line.contains("first paint") {
            let own = logged_ms(&line).unwrap_or(f64::NAN);
            first_paint = Some((at.duration_since(spawned).as_secs_f64() * 1000.0, own));
        } else if line.contains("model loaded") {
            model_loaded = true;
        } else if line.contains("model could not be loaded") {
            bail!("the app could not load {}: {line}", model.display());
        }
    }
    std::thread::sleep(IDLE);
    let pid = guard.0.id();
    let tree = process_tree(pid);
    let app_pss = memory_kib(pid, "smaps_rollup", "Pss:").context("the app's memory")?;
    let total_pss: u64 = tree
        .iter()
        .filter_map(|p| memory_kib(*p, "smaps_rollup", "Pss:"))
        .sum();
    let total_rss: u64 = tree
        .iter()
        .filter_map(|p| memory_kib(*p, "status", "VmRSS:"))
        .sum();
    let (first_paint_ms, app_reported_ms) = first_paint.unwrap_or_default();
    Ok(Start {
        first_paint_ms,
        app_reported_ms,
        app_pss_mb: app_pss as f64 / 1024.0,
        total_pss_mb: total_pss as f64 / 1024.0,
        total_rss_mb: total_rss as f64 / 1024.0,
        processes: tree.len(),
    })
}

/// `ms=123` in a log line.
fn logged_ms(line: &str) -> Option<f64> {
    let start = line.find("ms=")? + 3;
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `pid` and every process below it.
fn process_tree(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        let children = fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        tree.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
        i += 1;
    }
    tree
}

/// A `Name:   123 kB` field of `/proc/<pid>/<file>`, in KiB.
fn memory_kib(pid: u32, file: &str, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct KillOnDrop<'a>(&'a mut Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let pid = self.0.id();
        // SIGTERM lets the app close its webview processes; they go with it.
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A private X display for the benchmark.
struct Xvfb {
    number: u32,
    child: Child,
}

impl Xvfb {
    fn start() -> Result<Xvfb> {
        for number in 200..300 {
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            if socket.exists() || Path::new(&format!("/tmp/.X{number}-lock")).exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args(["-screen", "0", "1100x760x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start Xvfb (run `cargo xtask setup`)")?;
            let mut display = Xvfb { number, child };
            let deadline = Instant::now() + Duration::from_secs(10);
            while !socket.exists() {
                if display.child.try_wait()?.is_some() || Instant::now() > deadline {
                    bail!("Xvfb :{number} did not come up");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(display);
        }
        bail!("no free X display between 200 and 300")
    }

    fn name(&self) -> String {
        format!(":{}", self.number)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_apps_own_figure_is_read_from_its_log_line() {
        let line = "2026-11-26T16:00:00Z  INFO oa_desktop_lib::commands: first paint ms=842";
        assert_eq!(logged_ms(line), Some(842.0));
        assert_eq!(logged_ms("model loaded"), None);
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let me = std::process::id();
        let rss = memory_kib(me, "status", "VmRSS:").unwrap();
        let pss = memory_kib(me, "smaps_rollup", "Pss:").unwrap();
        assert!(rss > 0 && pss > 0 && pss <= rss, "rss {rss} pss {pss}");
        assert_eq!(process_tree(me)[0], me);
    }
}
