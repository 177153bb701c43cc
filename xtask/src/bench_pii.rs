//! `cargo xtask bench`, privacy part: the on-device personal-data detector on its labelled set
//! (`crates/oa-privacy/tests/data/pii_set.jsonl`): recall and false-positive rate next to the
//! goals (≥ 0.95, ≤ 0.02), per kind, in `target/bench/pii.json`.

use std::fs;

use anyhow::{Context, Result};

use crate::command;
use crate::project::Project;
use crate::step::{Timings, headline, ok};

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let report = dir.join("pii.json");
    let set = project
        .root()
        .join("crates/oa-privacy/tests/data/pii_set.jsonl");
    let mut timings = Timings::default();
    headline("privacy: the personal-data detector on its labelled set");
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
        .arg(&set)
        .arg(&report)
        .current_dir(project.root());
        command::run(&mut cmd)
    })?;
    ok(format!("wrote {}", report.display()));
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}
