//! `cargo xtask`: everything a newcomer or CI needs, in Rust rather than shell scripts.
//!
//! `setup` prepares a Debian machine and fetches the reference models, `build-ui` assembles the
//! wasm UI, `run` starts the desktop app, `test` runs every check CI runs, and `bench` measures
//! what the person notices and writes reports under `target/bench`.

mod bench;
mod cargo;
mod command;
mod desktop;
mod manifest;
mod models;
mod project;
mod setup;
mod step;
mod testcmd;
mod ui;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::project::Project;
use crate::setup::SetupOptions;

#[derive(Debug, Parser)]
#[command(
    bin_name = "cargo xtask",
    about = "Project automation for Open Assistant Desktop"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install system packages, the wasm target and tools, and fetch and verify the reference
    /// models. Safe to rerun: work already done is only checked.
    Setup(SetupOptions),
    /// Build the UI to wasm and assemble src-ui/dist.
    BuildUi,
    /// Set up, build, and run the desktop app with the default model.
    Run,
    /// Run every check CI runs: format, lints, the UI dependency check, all tests, end-to-end.
    Test,
    /// Fail if the UI's wasm dependency tree holds a native crate.
    CheckUiDeps,
    /// Run the benchmarks in release mode and write their reports to target/bench (the local
    /// store: 100,000 messages, search and opening a long conversation). Missed goals are
    /// reported, never a failure.
    Bench,
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let project = Project::locate()?;
    match cli.task {
        Task::Setup(options) => setup::run(&project, &options)?,
        Task::BuildUi => ui::build(&project)?,
        Task::Run => {
            setup::run(&project, &SetupOptions::default())?;
            ui::build(&project)?;
            desktop::build(&project)?;
            return desktop::launch(&project);
        }
        Task::Test => testcmd::run(&project)?,
        Task::CheckUiDeps => ui::check_native_dependencies(&project)?,
        Task::Bench => bench::run(&project)?,
    }
    Ok(ExitCode::SUCCESS)
}
