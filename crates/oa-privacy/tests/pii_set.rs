//! The detector on its labelled sets: the generator's (`tests/data/pii_set.jsonl`, made by
//! `tests/data/make_pii_set.py`) and the tune half of the independent set
//! (`tests/data/independent/`): recall at least 0.95, false-positive rate at most 0.02. The
//! report half is only checked for being well formed; its figures come from `cargo xtask bench`.

use std::collections::HashSet;

use oa_privacy::evaluation::{Labelled, evaluate};

const SET: &str = include_str!("data/pii_set.jsonl");
const TUNE: &str = include_str!("data/independent/tune.jsonl");
const REPORT: &str = include_str!("data/independent/report.jsonl");

fn parse(text: &str) -> Vec<Labelled> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_independent_set_is_well_formed_and_its_halves_are_disjoint() {
    let ids = |text: &str| -> HashSet<String> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["id"].as_str().unwrap().to_owned()
            })
            .collect()
    };
    assert!(ids(TUNE).is_disjoint(&ids(REPORT)));
    for half in [TUNE, REPORT] {
        let set = parse(half);
        assert!(set.len() >= 700, "{} records", set.len());
        let languages: HashSet<_> = set.iter().filter_map(|l| l.lang.clone()).collect();
        assert!(languages.len() >= 8, "{languages:?}");
        for item in &set {
            for p in &item.pii {
                assert!(
                    item.text.contains(&p.text),
                    "{:?} not in {:?}",
                    p.text,
                    item.text
                );
            }
        }
    }
}

#[test]
fn the_detector_meets_its_goals_on_the_tune_half_of_the_independent_set() {
    let e = evaluate(&parse(TUNE));
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

#[test]
fn the_detector_finds_personal_data_and_rarely_raises_false_alarms() {
    let e = evaluate(&parse(SET));
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
