//! Where things live in this repository, and every name the automation depends on.
//!
//! Package names, tool versions and paths are collected here so that a rename touches one file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

/// Debian packages the desktop app, its end-to-end tests and the server tests need.
pub const SYSTEM_PACKAGES: &[&str] = &[
    // Tauri 2 on Linux.
    "libwebkit2gtk-4.1-dev",
    "build-essential",
    "pkg-config",
    "libssl-dev",
    "libxdo-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    // The real app headless, driven through WebDriver, with screenshots.
    "xvfb",
    "xauth",
    "webkit2gtk-driver",
    "imagemagick",
    "x11-utils",
    "xdotool",
    "fonts-dejavu-core",
    // The dataset server's tests run their own PostgreSQL cluster, and sync through nginx as a
    // TLS-terminating reverse proxy.
    "postgresql",
    "nginx",
    // The engine's NEON kernels, built for aarch64 and tested under emulation.
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "qemu-user",
    // The local API's tests call it as people do, with curl.
    "curl",
];

/// Installed only when `python3 -m pip` does not work already (pip fetches the models).
pub const PIP_PACKAGE: &str = "python3-pip";

/// Python packages pinned for development, as `(name, version)`.
///
/// llama-cpp-python is the reference the engine is compared with (token ids, logits, greedy
/// text) in `oa-engine`'s tests; it builds llama.cpp from source, about 9 minutes, once.
pub const PYTHON_PACKAGES: &[(&str, &str)] = &[
    ("llama-cpp-python", "0.3.36"),
    // The official client the local API is tested with (`crates/oa-cli/tests/serve.rs`).
    ("openai", "3.63.0"),
];

/// The target the UI is compiled for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The engine's NEON kernels are built for this target and their tests run under
/// `qemu-aarch64` (`cargo xtask test`).
pub const ARM_TARGET: &str = "aarch64-unknown-linux-gnu";

/// The crate whose version `wasm-bindgen-cli` must match exactly, read from `Cargo.lock`.
pub const WASM_BINDGEN_CRATE: &str = "wasm-bindgen";
pub const WASM_BINDGEN_CLI: &str = "wasm-bindgen-cli";
pub const WASM_BINDGEN_BIN: &str = "wasm-bindgen";

pub const TAURI_DRIVER: &str = "tauri-driver";
pub const TAURI_DRIVER_VERSION: &str = "2.1.0";

pub const UI_PACKAGE: &str = "oa-ui";
/// The file name cargo gives the UI's wasm artifact (the library name, with underscores).
pub const UI_WASM_FILE: &str = "oa_ui.wasm";
/// The `--out-name` of wasm-bindgen: `src-ui/static/boot.js` imports `./oa-ui.js`.
pub const UI_OUT_NAME: &str = "oa-ui";

pub const DESKTOP_PACKAGE: &str = "oa-desktop";
pub const DESKTOP_BIN: &str = "oa-desktop";
pub const E2E_PACKAGE: &str = "oa-e2e";
pub const ENGINE_PACKAGE: &str = "oa-engine";

/// The local store's benchmark: an example of the store crate, run in release mode.
pub const STORE_PACKAGE: &str = "oa-store";
pub const STORE_BENCH_EXAMPLE: &str = "store_bench";

/// Crates the UI must never depend on: anything native, and the crates built on them.
/// The UI talks to Rust only through Tauri's IPC and shares nothing but `oa-types`.
pub const UI_FORBIDDEN_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "rusqlite",
    "libsqlite3-sys",
    "candle-core",
    "candle-transformers",
    "tauri",
    "openssl-sys",
    "reqwest",
    "sqlx",
    "oa-stdx",
    "oa-engine",
    "oa-store",
    "oa-app",
    "oa-sync",
    "oa-server",
];

/// Environment variables the app and the end-to-end tests read.
pub const ENV_MODEL: &str = "OA_MODEL";
pub const ENV_APP_BINARY: &str = "OA_APP_BINARY";
pub const ENV_SCREENSHOT_DIR: &str = "OA_SCREENSHOT_DIR";

/// The checkout `cargo xtask` was run in.
#[derive(Debug, Clone)]
pub struct Project {
    root: PathBuf,
}

impl Project {
    /// The repository root: the parent of this crate's folder. `cargo run` names that folder
    /// in the environment; the path compiled in is only a fallback, because checkouts that
    /// share one `CARGO_TARGET_DIR` share `target/debug/xtask` too, and cargo does not copy a
    /// checkout's own build there again when it is already up to date, so the binary may have
    /// been built from another checkout.
    pub fn locate() -> Result<Self> {
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
        let root = manifest_dir
            .parent()
            .context("xtask's manifest folder has no parent")?
            .to_path_buf();
        ensure!(
            root.join("Cargo.toml").is_file(),
            "expected the workspace root at {}, but it has no Cargo.toml",
            root.display()
        );
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn cargo_lock(&self) -> PathBuf {
        self.root.join("Cargo.lock")
    }

    pub fn models_dir(&self) -> PathBuf {
        self.root.join("models")
    }

    /// The list of reference models and their checksums, committed to the repository.
    pub fn models_manifest(&self) -> PathBuf {
        self.models_dir().join("models.toml")
    }

    /// Hand-written files of the UI (index.html, boot.js, style.css), copied into `dist`.
    pub fn ui_static_dir(&self) -> PathBuf {
        self.root.join("src-ui").join("static")
    }

    /// What the desktop shell serves as its frontend (`frontendDist` in tauri.conf.json).
    pub fn ui_dist_dir(&self) -> PathBuf {
        self.root.join("src-ui").join("dist")
    }

    pub fn screenshot_dir(&self) -> PathBuf {
        self.root.join("target").join("screenshots")
    }

    /// Where benchmark reports go: `target/bench` of this checkout, wherever cargo builds.
    pub fn bench_dir(&self) -> PathBuf {
        self.root.join("target").join("bench")
    }
}
