//! `cargo xtask bench`, privacy part: the on-device personal-data detector on its labelled sets,
//! the generator's (`crates/oa-privacy/tests/data/pii_set.jsonl`), the report half of the
//! independent set (`crates/oa-privacy/tests/data/independent/report.jsonl`) and the small
//! hand-written one beside it (`handwritten.jsonl`): recall and false-positive rate per kind and
//! per language, and milliseconds per KB of text, next to the goals, in `target/bench/pii.json`.

use std::fs;

use anyhow::{Context, Result};

use crate::command;
use crate::project::Project;
use crate::step::{Timings, headline, ok};

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let report = dir.join("pii.json");
    let data = project.root().join("crates/oa-privacy/tests/data");
    let mut timings = Timings::default();
    headline("privacy: the personal-data detector on its labelled sets");
    timings.step("detector evaluation (release build, then run)", || {
        let mut cmd = command::cargo();
        cmd.args([
            "run",
            "--release",
            "--package",
            "oa-privacy",
            "--example",
            "pii_eval",
            "--",
        ])
        .arg(&report)
        .arg(format!(
            "generator={}",
            data.join("pii_set.jsonl").display()
        ))
        .arg(format!(
            "independent_report={}",
            data.join("independent/report.jsonl").display()
        ))
        .arg(format!(
            "handwritten_report={}",
            data.join("independent/handwritten.jsonl").display()
        ))
        .current_dir(project.root());
        command::run(&mut cmd)
    })?;
    ok(format!("wrote {}", report.display()));
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}
