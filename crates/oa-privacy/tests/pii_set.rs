//! The detector on the labelled set in `tests/data/pii_set.jsonl` (made by
//! `tests/data/make_pii_set.py`): recall at least 0.95, false-positive rate at most 0.02.

use oa_privacy::evaluation::{Labelled, evaluate};

const SET: &str = include_str!("data/pii_set.jsonl");

#[test]
fn the_detector_finds_personal_data_and_rarely_raises_false_alarms() {
    let set: Vec<Labelled> = SET
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let e = evaluate(&set);
    assert!(
        e.positive_snippets >= 300 && e.negative_snippets >= 300,
        "{} positive and {} negative snippets",
        e.positive_snippets,
        e.negative_snippets
    );
    assert!(
        e.recall >= 0.95,
        "recall {:.3}; per kind {:?}; missed:\n{}",
        e.recall,
        e.per_kind,
        e.misses.join("\n")
    );
    assert!(
        e.false_positive_rate <= 0.02,
        "false-positive rate {:.3}:\n{}",
        e.false_positive_rate,
        e.false_alarm_examples.join("\n")
    );
}
