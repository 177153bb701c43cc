//! `cargo xtask bench`, sync part: 10,000 queued events from the desktop's outbox to the real
//! dataset server over loopback, which should take at most 15 s.
//!
//! `oa-app`'s `sync_bench` example does the work in a process of its own (server, throw-away
//! PostgreSQL cluster, app database) and writes its figures; this module builds and runs it and
//! writes `target/bench/sync.json` with the ratio to the goal. A missed goal is reported, never
//! a failure.

use std::fs;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::bench::{Machine, release_example, verdict};
use crate::command;
use crate::project::Project;
use crate::step::{Timings, headline, ok};

/// Seconds for 10,000 events.
const GOAL_SECONDS: f64 = 15.0;

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let samples = dir.join("sync.samples.json");
    let mut timings = Timings::default();
    let sample = timings.step("sync benchmark (release build, then run)", || {
        let mut cmd = release_example(project, "oa-app", "sync_bench");
        cmd.arg("--out").arg(&samples);
        command::run(&mut cmd)?;
        let text = fs::read_to_string(&samples)
            .with_context(|| format!("could not read {}", samples.display()))?;
        serde_json::from_str::<Value>(&text).context("the sync benchmark's output")
    })?;
    let report = judge(&sample, Machine::this())?;
    let path = dir.join("sync.json");
    fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("could not write {}", path.display()))?;
    ok(format!("wrote {}", path.display()));

    headline("sync over loopback");
    println!(
        "  {} events in {:.2} s ({:.0} events/s), goal ≤ {GOAL_SECONDS} s: {}",
        report["events"],
        report["seconds"].as_f64().unwrap_or(f64::NAN),
        report["events_per_second"].as_f64().unwrap_or(f64::NAN),
        verdict(report["meets_goal"] == json!(true))
    );
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}

/// The report: the example's figures, the goal and the ratio of the time to it.
fn judge(sample: &Value, machine: Machine) -> Result<Value> {
    let seconds = sample["seconds"]
        .as_f64()
        .context("the sync benchmark's seconds")?;
    Ok(json!({
        "benchmark": "sync",
        "machine": machine,
        "events": sample["events"],
        "batches": sample["batches"],
        "seconds": seconds,
        "events_per_second": sample["events_per_second"],
        "server_events": sample["server_events"],
        "goal_seconds": GOAL_SECONDS,
        "seconds_over_goal": seconds / GOAL_SECONDS,
        "meets_goal": seconds <= GOAL_SECONDS,
        "note": "server rate limits lifted; with its defaults (3,000 events a minute per device) \
                 the limit sets the time",
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_is_judged_against_fifteen_seconds() {
        let machine = Machine::this();
        let sample = json!({"events": 10000, "batches": 20, "seconds": 1.5,
                            "events_per_second": 6666.7, "server_events": 10000});
        let report = judge(&sample, machine.clone()).unwrap();
        assert_eq!(report["meets_goal"], json!(true));
        assert_eq!(report["seconds_over_goal"], json!(0.1));
        let slow = json!({"events": 10000, "seconds": 16.0});
        assert_eq!(judge(&slow, machine).unwrap()["meets_goal"], json!(false));
        assert!(judge(&json!({}), Machine::this()).is_err());
    }
}
