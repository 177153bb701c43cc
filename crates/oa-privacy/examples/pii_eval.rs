//! Measures the detector on labelled sets and writes the report `cargo xtask bench` keeps as
//! `target/bench/pii.json`: recall and false-positive rate per set, per kind and per language,
//! and the scanning speed in milliseconds per KB of text.
//!
//! `cargo run --release -p oa-privacy --example pii_eval -- REPORT.json NAME=SET.jsonl...`
//!
//! What was missed and what was flagged by mistake is listed for every set except one whose
//! name ends in `report`: the report half of the independent set is measured, never read, so
//! that no pattern is ever fitted to it.

use std::time::{Duration, Instant};

use oa_privacy::evaluation::{Labelled, evaluate};
use serde_json::{Value, json};

/// Share of the personal data in the set the detector must find.
const RECALL_GOAL: f64 = 0.95;
/// Largest share of texts without personal data it may flag.
const FALSE_POSITIVE_GOAL: f64 = 0.02;
/// Recall names and addresses must each reach on the independent set.
const NAME_ADDRESS_RECALL_GOAL: f64 = 0.9;
/// Slowest acceptable scan, in milliseconds per KB of text.
const MS_PER_KB_GOAL: f64 = 5.0;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(out_path) = args.next() else {
        return Err("usage: pii_eval REPORT.json NAME=SET.jsonl...".into());
    };
    let mut sets = serde_json::Map::new();
    for arg in args {
        let Some((name, path)) = arg.split_once('=') else {
            return Err(format!("{arg}: expected NAME=SET.jsonl").into());
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let set: Vec<Labelled> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{path}: {e}"))?;
        let report = measure(name, path, &set);
        sets.insert(name.to_owned(), report);
    }
    let report = json!({ "benchmark": "pii", "sets": sets });
    std::fs::write(&out_path, serde_json::to_string_pretty(&report)? + "\n")?;
    Ok(())
}

/// One set's figures, printed and returned for the report.
fn measure(name: &str, path: &str, set: &[Labelled]) -> Value {
    let e = evaluate(set);
    let ms_per_kb = scan_speed(set);
    let long_ms_per_kb = long_text_speed(set);
    let per_kind: serde_json::Map<String, Value> = e
        .per_kind
        .iter()
        .map(|(kind, (expected, found))| {
            let recall = *found as f64 / (*expected).max(1) as f64;
            let flagged = e.false_alarms_per_kind.get(kind).copied().unwrap_or(0);
            (
                kind.clone(),
                json!({ "expected": expected, "found": found, "recall": recall,
                        "negatives_flagged": flagged }),
            )
        })
        .collect();
    let kind_recall = |kind: &str| {
        e.per_kind
            .get(kind)
            .map_or(1.0, |(x, f)| *f as f64 / (*x).max(1) as f64)
    };
    let meets_goal = e.recall >= RECALL_GOAL
        && e.false_positive_rate <= FALSE_POSITIVE_GOAL
        && ms_per_kb.max(long_ms_per_kb) <= MS_PER_KB_GOAL
        && kind_recall("name") >= NAME_ADDRESS_RECALL_GOAL
        && kind_recall("address") >= NAME_ADDRESS_RECALL_GOAL;
    println!(
        "{name}: recall {:.3} (goal ≥ {RECALL_GOAL}), false-positive rate {:.3} (goal ≤ \
         {FALSE_POSITIVE_GOAL}) on {} positive and {} negative snippets, {ms_per_kb:.3} ms/KB \
         ({long_ms_per_kb:.3} ms/KB as one long text)",
        e.recall, e.false_positive_rate, e.positive_snippets, e.negative_snippets
    );
    for (kind, (expected, found)) in &e.per_kind {
        println!("  {kind:<10} {found:>4} of {expected:>4}");
    }
    for (lang, t) in &e.per_language {
        println!(
            "  {lang:<4} recall {:.3} ({} of {}), false-positive rate {:.3} ({} of {})",
            t.recall,
            t.found,
            t.expected,
            t.false_positive_rate,
            t.false_alarms,
            t.negative_snippets
        );
    }
    let hidden = name.ends_with("report");
    let mut report = json!({
        "set": path,
        "positive_snippets": e.positive_snippets,
        "negative_snippets": e.negative_snippets,
        "expected_findings": e.expected,
        "found": e.found,
        "recall": e.recall,
        "recall_goal": RECALL_GOAL,
        "false_alarms": e.false_alarms,
        "false_positive_rate": e.false_positive_rate,
        "false_positive_rate_goal": FALSE_POSITIVE_GOAL,
        "name_and_address_recall_goal": NAME_ADDRESS_RECALL_GOAL,
        "scan_ms_per_kb": ms_per_kb,
        "scan_ms_per_kb_long_text": long_ms_per_kb,
        "scan_ms_per_kb_goal": MS_PER_KB_GOAL,
        "meets_goal": meets_goal,
        "per_kind": per_kind,
        "per_language": e.per_language,
    });
    if !hidden {
        report["misses"] = json!(e.misses);
        report["false_alarm_examples"] = json!(e.false_alarm_examples);
    }
    report
}

/// Milliseconds per KB when the whole set is one long text, as a long conversation is.
fn long_text_speed(set: &[Labelled]) -> f64 {
    let text: String = set
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n\n");
    let started = Instant::now();
    let mut passes = 0u32;
    while started.elapsed() < Duration::from_secs(1) || passes < 3 {
        std::hint::black_box(oa_privacy::scan(std::hint::black_box(&text)));
        passes += 1;
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    ms / (f64::from(passes) * text.len().max(1) as f64 / 1000.0)
}

/// Milliseconds the detector takes per KB (1,000 bytes) of the set's text, over repeated
/// passes of at least a second in all.
fn scan_speed(set: &[Labelled]) -> f64 {
    let bytes: usize = set.iter().map(|l| l.text.len()).sum();
    let started = Instant::now();
    let mut passes = 0u32;
    while started.elapsed() < Duration::from_secs(1) || passes < 3 {
        for item in set {
            std::hint::black_box(oa_privacy::scan(std::hint::black_box(&item.text)));
        }
        passes += 1;
    }
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    ms / (f64::from(passes) * bytes.max(1) as f64 / 1000.0)
}
