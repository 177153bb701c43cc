//! `cargo xtask bench`, quality part: the dataset server's consensus and trust under a crowd with
//! 20% adversaries of mixed kinds (random rankers, inverters, a clique, one person's sybil
//! accounts), under two models of honest noise. It is `oa-server`'s simulation test, run with
//! `OA_QUALITY_REPORT` so that it writes its figures to `target/bench/quality.json`: per noise
//! model `mean_tau`, `honest_only_tau` (the τ the honest ballots alone give on the same parents),
//! their ratio beside the 0.98 goal, `adversaries_flagged` (the share below every honest
//! contributor by trust), adversaries in the leaderboard's top half and the parents whose top
//! reply the clique or the sybils moved. A missed goal is reported, never a failure here.

use std::fs;

use anyhow::{Context, Result};

use crate::command;
use crate::project::Project;
use crate::step::{Timings, headline, ok};

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let report = dir.join("quality.json");
    let mut timings = Timings::default();
    headline("quality: consensus and trust under a crowd with adversaries");
    timings.step("crowd simulation (real server and PostgreSQL)", || {
        let mut cmd = command::cargo();
        cmd.args([
            "test",
            "--package",
            "oa-server",
            "--test",
            "server",
            "simulation",
            "--",
            "--nocapture",
        ])
        .env("OA_QUALITY_REPORT", &report)
        .current_dir(project.root());
        command::run(&mut cmd)
    })?;
    let figures = fs::read_to_string(&report)
        .with_context(|| format!("the simulation wrote no {}", report.display()))?;
    print!("{figures}");
    ok(format!("wrote {}", report.display()));
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}
