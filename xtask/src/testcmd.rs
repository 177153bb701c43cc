//! `cargo xtask test`: every check, in the order CI runs them, stopping at the first failure.

use std::fs;
use std::process::Command;

use anyhow::{Context, Result};

use crate::cargo;
use crate::command;
use crate::desktop;
use crate::models;
use crate::modules;
use crate::project::{
    ARM_TARGET, E2E_PACKAGE, ENGINE_PACKAGE, ENV_APP_BINARY, ENV_MODEL, ENV_SCREENSHOT_DIR,
    Project, UI_PACKAGE, WASM_TARGET,
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
    timings.step("module circles", || modules::check(project))?;
    timings.step("build oa-desktop", || desktop::build(project))?;
    timings.step("tests (workspace)", || {
        command::run(&mut cargo_step(&[
            "test",
            "--workspace",
            "--exclude",
            E2E_PACKAGE,
        ]))
    })?;
    timings.step(&format!("engine on {ARM_TARGET}, emulated"), || {
        engine_on_arm(&cargo_step)
    })?;
    timings.step("end-to-end tests", || end_to_end(project, cargo_step))?;
    Ok(())
}

/// The engine's NEON kernels: clippy for aarch64, then the engine's unit tests built for it
/// and run under `qemu-aarch64`, as a CPU with the dot-product extension and as one without
/// (each picks its kernels at run time; both are held to the plain loops).
fn engine_on_arm(cargo_step: &impl Fn(&[&str]) -> Command) -> Result<()> {
    let cross = |cmd: &mut Command| {
        cmd.env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER",
            "qemu-aarch64 -L /usr/aarch64-linux-gnu",
        );
    };
    let mut clippy = cargo_step(&[
        "clippy",
        "--target",
        ARM_TARGET,
        "-p",
        ENGINE_PACKAGE,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    cross(&mut clippy);
    command::run(&mut clippy)?;
    for cpu in ["max", "cortex-a53"] {
        println!("QEMU_CPU={cpu}");
        let mut test = cargo_step(&[
            "test",
            "--target",
            ARM_TARGET,
            "-p",
            ENGINE_PACKAGE,
            "--lib",
        ]);
        cross(&mut test);
        test.env("QEMU_CPU", cpu);
        command::run(&mut test)
            .with_context(|| format!("the engine's tests failed on an emulated {cpu} CPU"))?;
    }
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
