//! `cargo xtask`: everything a newcomer or CI needs, in Rust rather than shell scripts.
//!
//! `setup` prepares a Debian machine and fetches the reference models, `build-ui` assembles the
//! wasm UI, `run` starts the desktop app, `test` runs every check CI runs, and `bench` measures
//! what the person notices and writes reports under `target/bench`. `gpu-check` builds the
//! engine's GPU tests for CUDA on a machine without a GPU or CUDA toolkit, to be copied to a GPU
//! machine and run there with `target/gpu-check/run.sh`.

mod bench;
mod cargo;
mod command;
mod desktop;
// The toolkit it assembles comes as Linux x86-64 wheels.
#[cfg(target_os = "linux")]
mod gpu;
mod manifest;
mod models;
mod modules;
mod project;
mod setup;
mod step;
mod testcmd;
mod ui;

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[cfg(target_os = "linux")]
use crate::gpu::GpuCheckOptions;
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
    /// Fail if two top-level modules of oa-app or oa-engine import each other, directly or
    /// through others.
    CheckModules,
    /// Run the benchmarks in release mode and write their reports to target/bench (the local
    /// store: 100,000 messages, search and opening a long conversation). Missed goals are
    /// reported, never a failure.
    Bench,
    /// Build the engine's GPU tests for CUDA with a toolkit assembled from PyPI, to run on a GPU
    /// machine: target/gpu-check/run.sh. Needs neither a GPU nor a CUDA toolkit here.
    #[cfg(target_os = "linux")]
    GpuCheck(GpuCheckOptions),
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
        Task::CheckModules => modules::check(&project)?,
        Task::Bench => bench::run(&project)?,
        #[cfg(target_os = "linux")]
        Task::GpuCheck(options) => gpu::run(&project, &options)?,
    }
    Ok(ExitCode::SUCCESS)
}
