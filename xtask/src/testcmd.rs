//! `cargo xtask test`: every check, in the order CI runs them, stopping at the first failure.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result};

use crate::cargo;
use crate::command;
use crate::desktop;
use crate::models;
use crate::project::{
    E2E_PACKAGE, ENV_APP_BINARY, ENV_MODEL, ENV_SCREENSHOT_DIR, Project, UI_PACKAGE, WASM_TARGET,
};
use crate::setup::{self, SetupOptions};
use crate::step::{Timings, headline};
use crate::ui;

pub fn run(project: &Project) -> Result<()> {
    let mut timings = Timings::default();
    let outcome = all_steps(project, &mut timings);
    headline("time per step");
    print!("{}", timings.summary());
    outcome
}

fn all_steps(project: &Project, timings: &mut Timings) -> Result<()> {
    let cargo_step = |args: &[&str]| {
        let mut cmd = command::cargo();
        cmd.args(args).current_dir(project.root());
        cmd
    };

    timings.step("setup", || setup::run(project, &SetupOptions::default()))?;
    timings.step("build-ui", || ui::build(project))?;
    timings.step("cargo fmt --all --check", || {
        command::run(&mut cargo_step(&["fmt", "--all", "--check"]))
            .context("the code is not formatted: run `cargo fmt --all`")
    })?;
    timings.step("clippy (workspace)", || {
        command::run(&mut cargo_step(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    timings.step(&format!("clippy ({UI_PACKAGE}, {WASM_TARGET})"), || {
        command::run(&mut cargo_step(&[
            "clippy",
            "-p",
            UI_PACKAGE,
            "--target",
            WASM_TARGET,
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    timings.step("UI native-dependency check", || {
        ui::check_native_dependencies(project)
    })?;
    timings.step("build oa-desktop", || desktop::build(project))?;
    timings.step("tests (workspace)", || {
        command::run(&mut cargo_step(&[
            "test",
            "--workspace",
            "--exclude",
            E2E_PACKAGE,
        ]))
    })?;
    timings.step("end-to-end tests", || end_to_end(project, cargo_step))?;
    Ok(())
}

fn end_to_end(project: &Project, cargo_step: impl Fn(&[&str]) -> Command) -> Result<()> {
    let app = desktop::binary(&cargo::target_dir(project)?);
    let model = models::default_model_path(project)?;
    let screenshots = project.screenshot_dir();
    fs::create_dir_all(&screenshots)
        .with_context(|| format!("could not create {}", screenshots.display()))?;
    println!("{ENV_APP_BINARY}={}", app.display());
    println!("{ENV_MODEL}={}", model.display());
    println!("{ENV_SCREENSHOT_DIR}={}", screenshots.display());
    let mut e2e = cargo_step(&["test", "-p", E2E_PACKAGE, "--", "--test-threads=1"]);
    e2e.env(ENV_APP_BINARY, &app)
        .env(ENV_MODEL, &model)
        .env(ENV_SCREENSHOT_DIR, &screenshots);
    command::run(&mut e2e)
}
