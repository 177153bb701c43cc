//! The desktop shell: building it and running it with the default model.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::Result;

use crate::cargo;
use crate::command;
use crate::models;
use crate::project::{DESKTOP_BIN, DESKTOP_PACKAGE, ENV_MODEL, Project};
use crate::step::{headline, ok};

pub fn build(project: &Project) -> Result<()> {
    headline(&format!("build {DESKTOP_PACKAGE}"));
    let mut build = command::cargo();
    build
        .args(["build", "-p", DESKTOP_PACKAGE])
        .current_dir(project.root());
    command::run(&mut build)
}

/// The debug binary `cargo build -p oa-desktop` produces.
pub fn binary(target_dir: &Path) -> PathBuf {
    target_dir
        .join("debug")
        .join(format!("{DESKTOP_BIN}{}", std::env::consts::EXE_SUFFIX))
}

/// Starts the built app and waits for it. `OA_MODEL` points at the default model unless the
/// caller chose one; every other `OA_*` variable passes through untouched.
pub fn launch(project: &Project) -> Result<ExitCode> {
    let binary = binary(&cargo::target_dir(project)?);
    headline(&format!("run {}", binary.display()));
    let mut app = Command::new(&binary);
    app.current_dir(project.root());
    match std::env::var_os(ENV_MODEL) {
        Some(chosen) => println!(
            "{ENV_MODEL}={} (set by the caller)",
            chosen.to_string_lossy()
        ),
        None => {
            let model = models::default_model_path(project)?;
            println!("{ENV_MODEL}={}", model.display());
            app.env(ENV_MODEL, model);
        }
    }
    let status = command::status(&mut app)?;
    ok(format!("the app exited ({status})"));
    // A signal has no exit code; report it as a failure.
    let code = status
        .code()
        .map_or(1, |code| u8::try_from(code).unwrap_or(1));
    Ok(ExitCode::from(code))
}
