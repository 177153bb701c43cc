//! The Leptos UI: compiled to wasm, bound with wasm-bindgen, assembled into `src-ui/dist`, and
//! checked to stay free of native dependencies.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};

use crate::cargo;
use crate::command;
use crate::project::{
    Project, UI_FORBIDDEN_CRATES, UI_OUT_NAME, UI_PACKAGE, UI_WASM_FILE, WASM_BINDGEN_BIN,
    WASM_TARGET,
};
use crate::step::{headline, ok};

/// `cargo xtask build-ui`: wasm build, wasm-bindgen, then the static files.
pub fn build(project: &Project) -> Result<()> {
    build_profile(project, false)
}

/// The same, optimised (`--release`): what the benchmark measures.
pub fn build_profile(project: &Project, release: bool) -> Result<()> {
    let target_dir = cargo::target_dir(project)?;
    let dist = project.ui_dist_dir();

    headline(&format!("build {UI_PACKAGE} for {WASM_TARGET}"));
    let mut build = command::cargo();
    build
        .args(["build", "-p", UI_PACKAGE, "--target", WASM_TARGET])
        .current_dir(project.root());
    if release {
        build.arg("--release");
    }
    command::run(&mut build)?;

    headline(&format!("{WASM_BINDGEN_BIN} into {}", dist.display()));
    // A clean folder: files the UI no longer has must not linger in what the app serves.
    if dist.exists() {
        fs::remove_dir_all(&dist).with_context(|| format!("could not empty {}", dist.display()))?;
    }
    let wasm = target_dir
        .join(WASM_TARGET)
        .join(if release { "release" } else { "debug" })
        .join(UI_WASM_FILE);
    let mut bindgen = Command::new(WASM_BINDGEN_BIN);
    bindgen
        .args(["--target", "web", "--no-typescript", "--out-dir"])
        .arg(&dist)
        .args(["--out-name", UI_OUT_NAME])
        .arg(&wasm);
    command::run(&mut bindgen).context("`cargo xtask setup` installs the matching wasm-bindgen")?;
    ok(format!("bound {} into {}", wasm.display(), dist.display()));

    headline("static files");
    let static_dir = project.ui_static_dir();
    ensure!(
        static_dir.is_dir(),
        "{} is missing: it holds the UI's index.html, boot.js and style.css",
        static_dir.display()
    );
    let copied = copy_tree(&static_dir, &dist)?;
    ok(format!(
        "copied {copied} files from {} into {}",
        static_dir.display(),
        dist.display()
    ));
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<usize> {
    fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
    let mut copied = 0;
    for entry in fs::read_dir(from).with_context(|| format!("could not list {}", from.display()))? {
        let entry = entry?;
        let (source, destination) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copied += copy_tree(&source, &destination)?;
        } else {
            fs::copy(&source, &destination).with_context(|| {
                format!(
                    "could not copy {} to {}",
                    source.display(),
                    destination.display()
                )
            })?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// `cargo xtask check-ui-deps`: the UI's wasm dependency tree must hold no native crate and
/// none of the crates built on them.
pub fn check_native_dependencies(project: &Project) -> Result<()> {
    headline(&format!("native dependencies of {UI_PACKAGE}"));
    let mut tree = command::cargo();
    tree.args([
        "tree",
        "-p",
        UI_PACKAGE,
        "--target",
        WASM_TARGET,
        "-e",
        "normal,build",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ])
    .current_dir(project.root());
    println!("$ {}", command::display(&tree));
    let printed = command::stdout(&mut tree)?;
    // Guard against a vacuous pass: the tree must be the UI's.
    ensure!(
        printed.starts_with(&format!("{UI_PACKAGE} v")),
        "`{}` did not print the tree of {UI_PACKAGE}:\n{printed}",
        command::display(&tree)
    );
    let offenders = forbidden_crates(&printed);
    if !offenders.is_empty() {
        bail!(
            "{UI_PACKAGE} must not depend on native crates, but its {WASM_TARGET} dependency tree holds: {}\n\
             see who pulls one in with `cargo tree -p {UI_PACKAGE} --target {WASM_TARGET} -i <crate>`",
            offenders.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    let crates: BTreeSet<&str> = printed.lines().filter_map(package_name).collect();
    ok(format!(
        "none of {} crates in the tree of {UI_PACKAGE} is native",
        crates.len()
    ));
    Ok(())
}

/// The forbidden packages in `cargo tree --prefix none --format {p}` output, as `name vX.Y.Z`.
fn forbidden_crates(tree: &str) -> BTreeSet<String> {
    tree.lines()
        .filter(|line| package_name(line).is_some_and(|name| UI_FORBIDDEN_CRATES.contains(&name)))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect()
}

/// The package name at the start of a `{p}` line: `tokio v1.47.1 (*)` → `tokio`.
fn package_name(line: &str) -> Option<&str> {
    line.split_whitespace().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "\
oa-ui v0.1.0 (/work/main/src-ui)
js-sys v0.3.107
wasm-bindgen v0.2.130
tokio-macros v2.7.2 (proc-macro)
oa-types v0.1.0 (/work/main/crates/oa-types)
serde v1.0.229
oa-types v0.1.0 (/work/main/crates/oa-types) (*)
";

    #[test]
    fn a_tree_of_wasm_crates_is_clean() {
        // `tokio-macros` shares a prefix with `tokio` but is not it.
        assert!(forbidden_crates(CLEAN).is_empty());
    }

    #[test]
    fn tokio_in_the_tree_is_named_with_its_version() {
        let tree = format!("{CLEAN}tokio v1.54.1\nmio v1.1.0 (*)\n");
        let offenders: Vec<String> = forbidden_crates(&tree).into_iter().collect();
        assert_eq!(offenders, ["mio v1.1.0", "tokio v1.54.1"]);
    }

    #[test]
    fn a_workspace_crate_built_on_native_code_is_caught() {
        let tree = format!("{CLEAN}oa-store v0.1.0 (/work/main/crates/oa-store)\n");
        let offenders: Vec<String> = forbidden_crates(&tree).into_iter().collect();
        assert_eq!(offenders, ["oa-store v0.1.0"]);
    }

    #[test]
    fn static_files_are_copied_with_their_folders() {
        let from = tempfile::tempdir().unwrap();
        let to = tempfile::tempdir().unwrap();
        fs::write(from.path().join("index.html"), "<html>").unwrap();
        fs::create_dir(from.path().join("fonts")).unwrap();
        fs::write(from.path().join("fonts").join("a.woff2"), "font").unwrap();

        assert_eq!(copy_tree(from.path(), to.path()).unwrap(), 2);
        assert_eq!(fs::read(to.path().join("index.html")).unwrap(), b"<html>");
        assert_eq!(
            fs::read(to.path().join("fonts").join("a.woff2")).unwrap(),
            b"font"
        );
    }
}
