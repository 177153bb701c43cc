//! `cargo xtask setup`: everything a fresh Debian machine needs to build, run and test the
//! project. Every step first checks whether its work is done already, so a rerun changes nothing.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::cargo;
use crate::command;
use crate::manifest::Manifest;
use crate::models::{self, ModelStore};
use crate::project::{
    ARM_TARGET, PIP_PACKAGE, PYTHON_PACKAGES, Project, SYSTEM_PACKAGES, TAURI_DRIVER,
    TAURI_DRIVER_VERSION, WASM_BINDGEN_BIN, WASM_BINDGEN_CLI, WASM_BINDGEN_CRATE, WASM_TARGET,
};
use crate::step::{headline, ok};

/// What `setup` should do, from its command-line flags.
#[derive(Debug, Default, clap::Args)]
pub struct SetupOptions {
    /// Only fetch and verify the reference models.
    #[arg(long)]
    pub models_only: bool,
    /// Put the models here instead of `<repo>/models`.
    #[arg(long, value_name = "DIR")]
    pub models_dir: Option<PathBuf>,
    /// Keep verified models here instead of `$XDG_CACHE_HOME/oa-desktop/models`.
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

pub fn run(project: &Project, options: &SetupOptions) -> Result<()> {
    if !options.models_only {
        system_packages()?;
        rust_target(project, WASM_TARGET, "the UI")?;
        rust_target(project, ARM_TARGET, "the engine's NEON kernels")?;
        wasm_bindgen_cli(project)?;
        tauri_driver(project)?;
        python_packages()?;
    }
    reference_models(project, options)
}

fn system_packages() -> Result<()> {
    headline("Debian packages");
    let mut wanted: Vec<&str> = SYSTEM_PACKAGES.to_vec();
    if command::probe(Command::new("python3").args(["-m", "pip", "--version"])).is_some() {
        println!("python3 -m pip works: {PIP_PACKAGE} is not needed");
    } else {
        wanted.push(PIP_PACKAGE);
    }

    let missing = missing_packages(&wanted)?;
    if missing.is_empty() {
        ok(format!("already installed: {}", wanted.join(" ")));
        return Ok(());
    }
    let install_args = ["install", "-y", "--no-install-recommends"];
    if !is_root()? {
        bail!(
            "missing Debian packages: {missing}\ninstall them with:\n  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get {args} {missing}\nthen run `cargo xtask setup` again",
            missing = missing.join(" "),
            args = install_args.join(" "),
        );
    }
    println!("missing: {}", missing.join(" "));
    command::run(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    command::run(
        Command::new("apt-get")
            .args(install_args)
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let still_missing = missing_packages(&wanted)?;
    ensure!(
        still_missing.is_empty(),
        "apt-get finished, but these packages are still not installed: {}",
        still_missing.join(" ")
    );
    ok(format!("installed: {}", missing.join(" ")));
    Ok(())
}

fn missing_packages<'a>(wanted: &[&'a str]) -> Result<Vec<&'a str>> {
    // dpkg-query exits with 1 when a package is unknown; that is an answer, not an error.
    let output = Command::new("dpkg-query")
        .args(["-W", "--showformat=${Package} ${Status}\\n"])
        .args(wanted)
        .output()
        .context(
            "dpkg-query not found: setup installs system packages on Debian and Ubuntu only",
        )?;
    let printed = String::from_utf8_lossy(&output.stdout);
    let installed = installed_packages(&printed);
    Ok(wanted
        .iter()
        .copied()
        .filter(|package| !installed.contains(package))
        .collect())
}

/// Names whose `dpkg-query` status says they are fully installed.
fn installed_packages(dpkg_query: &str) -> HashSet<&str> {
    dpkg_query
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(_, status)| status.trim() == "install ok installed")
        .map(|(name, _)| name)
        .collect()
}

fn is_root() -> Result<bool> {
    let uid = command::stdout(Command::new("id").arg("-u"))?;
    Ok(uid.trim() == "0")
}

/// Adds the Rust standard library for `target`, which `what` is compiled for.
fn rust_target(project: &Project, target: &str, what: &str) -> Result<()> {
    headline(&format!("Rust target {target}"));
    let mut list = Command::new("rustup");
    list.args(["target", "list", "--installed"])
        .current_dir(project.root());
    let installed = command::stdout(&mut list).with_context(|| {
        format!("rustup is needed to add the Rust target {what} is compiled for")
    })?;
    if installed.lines().any(|line| line.trim() == target) {
        ok("already installed");
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args(["target", "add", target])
        .current_dir(project.root());
    command::run(&mut add).with_context(|| {
        format!(
            "could not add the Rust target {target}, without which {what} cannot be built; \
             check that rustup can reach its server"
        )
    })?;
    ok(format!("installed {target}"));
    Ok(())
}

fn wasm_bindgen_cli(project: &Project) -> Result<()> {
    // The CLI must match the `wasm-bindgen` crate the UI links, to the patch version.
    let version = cargo::locked_version(&project.cargo_lock(), WASM_BINDGEN_CRATE)?;
    headline(&format!("{WASM_BINDGEN_CLI} {version}"));
    let found = installed_wasm_bindgen();
    if found.as_deref() == Some(version.as_str()) {
        ok(format!(
            "already installed: `{WASM_BINDGEN_BIN} --version` prints {version}"
        ));
        return Ok(());
    }
    match &found {
        Some(other) => println!("found {WASM_BINDGEN_BIN} {other}, need {version}"),
        None => println!("{WASM_BINDGEN_BIN} not found"),
    }
    // No `--locked`: the lock file published with 0.2.130 names a crate version that the
    // registry does not have.
    let mut install = command::cargo();
    install.args(["install", WASM_BINDGEN_CLI, "--version", &version]);
    command::run(&mut install)?;
    let now = installed_wasm_bindgen();
    ensure!(
        now.as_deref() == Some(version.as_str()),
        "installed {WASM_BINDGEN_CLI} {version}, but `{WASM_BINDGEN_BIN} --version` on PATH reports {}; \
         put cargo's bin folder ({}) first in PATH",
        now.as_deref().unwrap_or("nothing"),
        cargo::install_bin_dir()
            .map(|dir| dir.display().to_string())
            .unwrap_or_else(|| "~/.cargo/bin".into()),
    );
    ok(format!("installed {WASM_BINDGEN_CLI} {version}"));
    Ok(())
}

fn installed_wasm_bindgen() -> Option<String> {
    let printed = command::probe(Command::new(WASM_BINDGEN_BIN).arg("--version"))?;
    tool_version(&printed, WASM_BINDGEN_BIN)
}

/// The version in a `<program> <version>` line, as `wasm-bindgen --version` prints it.
fn tool_version(printed: &str, program: &str) -> Option<String> {
    let mut words = printed.lines().next()?.split_whitespace();
    (words.next()? == program).then_some(())?;
    words.next().map(str::to_owned)
}

fn tauri_driver(project: &Project) -> Result<()> {
    headline(&format!("{TAURI_DRIVER} {TAURI_DRIVER_VERSION}"));
    // tauri-driver has no `--version` flag; cargo's own record of what it installed says which
    // version the binary in cargo's bin folder is.
    let binary = cargo::install_bin_dir().map(|dir| dir.join(TAURI_DRIVER));
    let mut list = command::cargo();
    list.args(["install", "--list"]).current_dir(project.root());
    let installed = command::stdout(&mut list)?;
    if let Some(binary) = binary.as_ref().filter(|binary| binary.is_file())
        && cargo::installed_version_matches(&installed, TAURI_DRIVER, TAURI_DRIVER_VERSION)
    {
        ok(format!(
            "already installed: {} (version {TAURI_DRIVER_VERSION} per `cargo install --list`)",
            binary.display()
        ));
        return Ok(());
    }
    let mut install = command::cargo();
    install.args([
        "install",
        TAURI_DRIVER,
        "--version",
        TAURI_DRIVER_VERSION,
        "--locked",
    ]);
    command::run(&mut install)?;
    ok(format!("installed {TAURI_DRIVER} {TAURI_DRIVER_VERSION}"));
    Ok(())
}

fn python_packages() -> Result<()> {
    headline("Python packages");
    if PYTHON_PACKAGES.is_empty() {
        ok("none pinned yet (PYTHON_PACKAGES in xtask/src/project.rs)");
        return Ok(());
    }
    for (name, version) in PYTHON_PACKAGES {
        let shown = command::probe(Command::new("python3").args(["-m", "pip", "show", name]));
        if shown.as_deref().and_then(pip_show_version) == Some(*version) {
            ok(format!("already installed: {name}=={version}"));
            continue;
        }
        command::run(Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            &format!("{name}=={version}"),
        ]))?;
        ok(format!("installed {name}=={version}"));
    }
    Ok(())
}

/// The `Version:` field of `pip show`.
fn pip_show_version(pip_show: &str) -> Option<&str> {
    pip_show
        .lines()
        .find_map(|line| line.strip_prefix("Version:"))
        .map(str::trim)
}

fn reference_models(project: &Project, options: &SetupOptions) -> Result<()> {
    let manifest = Manifest::load(&project.models_manifest())?;
    let dir = options
        .models_dir
        .clone()
        .unwrap_or_else(|| project.models_dir());
    let cache = options.cache_dir.clone().or_else(models::default_cache_dir);
    ModelStore::new(dir, cache).ensure_all(&manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_fully_installed_packages_count() {
        let printed = "xvfb install ok installed\n\
                       postgresql deinstall ok config-files\n\
                       xauth install ok half-configured\n\
                       pkg-config install ok installed\n";
        let installed = installed_packages(printed);
        assert_eq!(installed, HashSet::from(["xvfb", "pkg-config"]));
    }

    #[test]
    fn wasm_bindgen_version_is_read_from_its_version_line() {
        assert_eq!(
            tool_version("wasm-bindgen 0.2.130\n", "wasm-bindgen").as_deref(),
            Some("0.2.130")
        );
        assert_eq!(tool_version("something-else 0.2.130", "wasm-bindgen"), None);
        assert_eq!(tool_version("", "wasm-bindgen"), None);
    }

    #[test]
    fn pip_show_version_field() {
        let printed = "Name: llama_cpp_python\nVersion: 0.3.36\nSummary: Python bindings\n";
        assert_eq!(pip_show_version(printed), Some("0.3.36"));
        assert_eq!(pip_show_version("WARNING: Package(s) not found"), None);
    }
}
