//! Measuring the detector on a labelled set: what share of the personal data it finds (recall),
//! and how often it raises an alarm on a text with none (false-positive rate), overall, per kind
//! and per language.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{PiiKind, scan};

/// One labelled snippet: the text and every piece of personal data in it.
#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    /// The snippet's language (ISO 639-1), where the set says.
    #[serde(default)]
    pub lang: Option<String>,
    /// The snippet.
    pub text: String,
    /// What it holds (empty for a snippet without personal data).
    pub pii: Vec<Expected>,
}

/// A piece of personal data a snippet holds.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// Its kind.
    pub kind: PiiKind,
    /// Its exact text in the snippet.
    pub text: String,
}

/// How the detector did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Evaluation {
    /// Snippets holding personal data.
    pub positive_snippets: usize,
    /// Snippets holding none.
    pub negative_snippets: usize,
    /// Pieces of personal data in the set.
    pub expected: usize,
    /// Those found: a finding of the same kind overlaps them.
    pub found: usize,
    /// `found / expected`.
    pub recall: f64,
    /// Negative snippets with at least one finding.
    pub false_alarms: usize,
    /// `false_alarms / negative_snippets`.
    pub false_positive_rate: f64,
    /// Recall per kind: (expected, found).
    pub per_kind: BTreeMap<String, (usize, usize)>,
    /// Kinds of the findings in negative snippets: how many negatives each flagged.
    pub false_alarms_per_kind: BTreeMap<String, usize>,
    /// Recall and false alarms per language, for sets that name it.
    pub per_language: BTreeMap<String, Tally>,
    /// What was missed, and what was flagged in negatives (up to 400 each), to improve on.
    pub misses: Vec<String>,
    /// Findings in negative snippets.
    pub false_alarm_examples: Vec<String>,
}

/// Recall and false alarms on part of a set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Pieces of personal data.
    pub expected: usize,
    /// Those found.
    pub found: usize,
    /// `found / expected`.
    pub recall: f64,
    /// Snippets without personal data.
    pub negative_snippets: usize,
    /// Those with at least one finding.
    pub false_alarms: usize,
    /// `false_alarms / negative_snippets`.
    pub false_positive_rate: f64,
}

/// Runs the detector over `set`.
pub fn evaluate(set: &[Labelled]) -> Evaluation {
    let mut e = Evaluation::default();
    for item in set {
        let findings = scan(&item.text);
        let mut language = item
            .lang
            .as_ref()
            .map(|lang| e.per_language.entry(lang.clone()).or_default());
        if item.pii.is_empty() {
            e.negative_snippets += 1;
            if let Some(tally) = language.as_mut() {
                tally.negative_snippets += 1;
                tally.false_alarms += usize::from(!findings.is_empty());
            }
            let mut kinds: Vec<PiiKind> = findings.iter().map(|f| f.kind).collect();
            kinds.dedup();
            kinds.sort();
            kinds.dedup();
            for kind in kinds {
                *e.false_alarms_per_kind
                    .entry(kind.as_str().to_owned())
                    .or_default() += 1;
            }
            if !findings.is_empty() {
                e.false_alarms += 1;
                if e.false_alarm_examples.len() < 400 {
                    let what: Vec<String> = findings
                        .iter()
                        .map(|f| format!("{}: {:?}", f.kind.as_str(), f.text))
                        .collect();
                    e.false_alarm_examples
                        .push(format!("{:?} → {}", item.text, what.join(", ")));
                }
            }
            continue;
        }
        e.positive_snippets += 1;
        for expected in &item.pii {
            e.expected += 1;
            let entry = e
                .per_kind
                .entry(expected.kind.as_str().to_owned())
                .or_default();
            entry.0 += 1;
            let hit = item.text.match_indices(&expected.text).any(|(start, _)| {
                let end = start + expected.text.len();
                findings
                    .iter()
                    .any(|f| f.kind == expected.kind && f.start < end && start < f.end)
            });
            if let Some(tally) = language.as_mut() {
                tally.expected += 1;
                tally.found += usize::from(hit);
            }
            if hit {
                e.found += 1;
                entry.1 += 1;
            } else if e.misses.len() < 400 {
                e.misses.push(format!(
                    "{} {:?} in {:?}",
                    expected.kind.as_str(),
                    expected.text,
                    item.text
                ));
            }
        }
    }
    for tally in e.per_language.values_mut() {
        tally.recall = tally.found as f64 / tally.expected.max(1) as f64;
        tally.false_positive_rate =
            tally.false_alarms as f64 / tally.negative_snippets.max(1) as f64;
    }
    e.recall = e.found as f64 / e.expected.max(1) as f64;
    e.false_positive_rate = e.false_alarms as f64 / e.negative_snippets.max(1) as f64;
    e
}
