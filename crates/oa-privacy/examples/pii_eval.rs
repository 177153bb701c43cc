//! Measures the detector on a labelled set and writes the report `cargo xtask bench` keeps as
//! `target/bench/pii.json`.
//!
//! `cargo run --release -p oa-privacy --example pii_eval -- SET.jsonl REPORT.json`

use std::time::Instant;

use oa_privacy::evaluation::{Labelled, evaluate};

/// Share of the personal data in the set the detector must find.
const RECALL_GOAL: f64 = 0.95;
/// Largest share of texts without personal data it may flag.
const FALSE_POSITIVE_GOAL: f64 = 0.02;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(set_path), Some(out_path)) = (args.next(), args.next()) else {
        return Err("usage: pii_eval SET.jsonl REPORT.json".into());
    };
    let text = std::fs::read_to_string(&set_path)?;
    let set: Vec<Labelled> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let e = evaluate(&set);
    let elapsed = started.elapsed();
    let chars: usize = set.iter().map(|l| l.text.chars().count()).sum();
    let report = serde_json::json!({
        "benchmark": "pii",
        "set": set_path,
        "positive_snippets": e.positive_snippets,
        "negative_snippets": e.negative_snippets,
        "expected_findings": e.expected,
        "found": e.found,
        "recall": e.recall,
        "recall_goal": RECALL_GOAL,
        "false_alarms": e.false_alarms,
        "false_positive_rate": e.false_positive_rate,
        "false_positive_rate_goal": FALSE_POSITIVE_GOAL,
        "meets_goal": e.recall >= RECALL_GOAL && e.false_positive_rate <= FALSE_POSITIVE_GOAL,
        "per_kind_expected_found": e.per_kind,
        "scan_chars_per_second": chars as f64 / elapsed.as_secs_f64().max(1e-9),
        "misses": e.misses,
        "false_alarm_examples": e.false_alarm_examples,
    });
    std::fs::write(&out_path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!(
        "recall {:.3} (goal ≥ {RECALL_GOAL}), false-positive rate {:.3} (goal ≤ {FALSE_POSITIVE_GOAL}) \
         on {} positive and {} negative snippets",
        e.recall, e.false_positive_rate, e.positive_snippets, e.negative_snippets
    );
    for (kind, (expected, found)) in &e.per_kind {
        println!("  {kind:<10} {found:>4} of {expected:>4}");
    }
    Ok(())
}
