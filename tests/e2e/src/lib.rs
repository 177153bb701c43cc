//! End-to-end tests of Open Assistant Desktop: the real app binary, in a real WebKitGTK webview,
//! on a private Xvfb display, driven through WebDriver (`tauri-driver` → `WebKitWebDriver`).
//!
//! The harness needs what `cargo xtask setup` installs (Xvfb, webkit2gtk-driver, tauri-driver,
//! ImageMagick) and what `cargo xtask test` builds. It is configured by environment variables:
//! - `OA_APP_BINARY`: the built desktop app (required);
//! - `OA_MODEL`: the model the app runs (the default model fetched by setup);
//! - `OA_SCREENSHOT_DIR`: where screenshots go (default `target/screenshots`).
//!
//! Every piece is torn down when its guard drops, so a failing test leaves no process behind.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long the app may take to show its first screen (the model loads in the background).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A private X display.
#[derive(Debug)]
pub struct Display {
    number: u32,
    child: Child,
}

impl Display {
    /// Starts Xvfb on the first free display number from 90.
    pub fn start() -> Result<Display> {
        for number in 90..190 {
            let lock = PathBuf::from(format!("/tmp/.X{number}-lock"));
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            if lock.exists() || socket.exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args([
                    "-screen",
                    "0",
                    "1100x760x24",
                    "-nolisten",
                    "tcp",
                    "-noreset",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start Xvfb (run `cargo xtask setup` to install it)")?;
            let mut display = Display { number, child };
            let deadline = Instant::now() + Duration::from_secs(10);
            while !socket.exists() {
                if let Some(status) = display.child.try_wait()? {
                    bail!("Xvfb :{number} exited at start with {status}");
                }
                if Instant::now() > deadline {
                    bail!("Xvfb :{number} did not come up in 10 s");
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(display);
        }
        bail!("no free X display number between 90 and 190")
    }

    /// The `DISPLAY` value.
    pub fn name(&self) -> String {
        format!(":{}", self.number)
    }

    /// Saves a screenshot of the whole screen (the app's real window) as PNG.
    pub fn screenshot(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let status = Command::new("import")
            .args(["-window", "root"])
            .arg(path)
            .env("DISPLAY", self.name())
            .status()
            .context("cannot run ImageMagick's `import`")?;
        if !status.success() {
            bail!("`import` failed with {status}");
        }
        Ok(())
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One running instance of the app under WebDriver, with its own data folder.
#[derive(Debug)]
pub struct AppUnderTest {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
}

/// How to start the app.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The app's data folder (`OA_DATA_DIR`).
    pub data_dir: PathBuf,
    /// The model it runs (`OA_MODEL`).
    pub model: PathBuf,
}

impl Launch {
    /// The default model from `OA_MODEL` (or the checkout's `models/`) and the given data folder.
    pub fn with_default_model(data_dir: &Path) -> Result<Launch> {
        let model = default_model()?;
        Ok(Launch {
            data_dir: data_dir.to_owned(),
            model,
        })
    }
}

/// The default model the tests chat with.
pub fn default_model() -> Result<PathBuf> {
    let model = std::env::var_os("OA_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../models/SmolLM2-135M-Instruct.Q4_1.gguf")
        });
    if !model.exists() {
        bail!("{} is missing: run `cargo xtask setup`", model.display());
    }
    Ok(model)
}

/// The app binary under test.
pub fn app_binary() -> Result<PathBuf> {
    let path = std::env::var_os("OA_APP_BINARY")
        .map(PathBuf::from)
        .context(
            "OA_APP_BINARY is not set: run the end-to-end suite through `cargo xtask test`, \
         which builds the app and points this variable at it",
        )?;
    if !path.is_file() {
        bail!("OA_APP_BINARY={} is not a file", path.display());
    }
    Ok(std::path::absolute(path)?)
}

/// Where screenshots go.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("OA_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots"))
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl AppUnderTest {
    /// Starts `tauri-driver` with the app's environment, opens a session (which starts the app)
    /// and waits until the UI reports that it is ready.
    pub async fn start(display: &Display, launch: &Launch) -> Result<AppUnderTest> {
        let binary = app_binary()?;
        let port = free_port()?;
        let native_port = free_port()?;
        let driver = Command::new(tauri_driver())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .env("DISPLAY", display.name())
            .env("OA_DATA_DIR", &launch.data_dir)
            .env("OA_MODEL", &launch.model)
            .env("LIBGL_ALWAYS_SOFTWARE", "1")
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start tauri-driver (run `cargo xtask setup` to install it)")?;
        let mut guard = DriverGuard(Some(driver));
        let url = format!("http://127.0.0.1:{port}");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("wry"));
        caps.insert("tauri:options".into(), json!({ "application": binary }));
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::native()
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => bail!("cannot open a WebDriver session on {url}: {e}"),
            }
        };
        let app = AppUnderTest {
            client,
            driver: guard.0.take().expect("driver"),
        };
        let ready = app
            .client
            .wait()
            .at_most(STARTUP_TIMEOUT)
            .for_element(Locator::Css("#app[data-ready='true']"))
            .await;
        if let Err(e) = ready {
            // Keep what the window showed, to tell a blank page from an error message.
            let dir = screenshot_dir();
            let _ = display.screenshot(&dir.join("startup-failure.png"));
            let source = app.client.source().await.unwrap_or_default();
            let _ = std::fs::write(dir.join("startup-failure.html"), &source);
            bail!(
                "the app did not become ready ({e}); page source and screenshot in {}",
                dir.display()
            );
        }
        Ok(app)
    }

    /// Waits until `#model-status` leaves the loading state and returns (state, text).
    pub async fn model_state(&self) -> Result<(String, String)> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let status = self.client.find(Locator::Css("#model-status")).await?;
            let state = status.attr("data-state").await?.unwrap_or_default();
            if state != "loading" || Instant::now() > deadline {
                let text = self
                    .text_of("#model-status", Duration::from_secs(5))
                    .await?;
                return Ok((state, text));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the first element matching `css` as the page renders it (`innerText`),
    /// waiting up to `timeout` for such an element with some text to appear. WebKitWebDriver's
    /// own element-text call returns an empty string for some elements, so it is not used.
    pub async fn text_of(&self, css: &str, timeout: Duration) -> Result<String> {
        let script =
            "const el = document.querySelector(arguments[0]); return el ? el.innerText : null;";
        let deadline = Instant::now() + timeout;
        loop {
            let value = self.client.execute(script, vec![json!(css)]).await?;
            match value.as_str() {
                Some(text) if !text.trim().is_empty() => return Ok(text.to_owned()),
                _ if Instant::now() > deadline => {
                    bail!("no element matching {css} showed any text within {timeout:?}")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    /// Ends the session, which closes the app, and stops the driver.
    pub async fn quit(mut self) -> Result<()> {
        let result = self.client.clone().close().await;
        stop_driver(&mut self.driver);
        result.context("closing the WebDriver session")
    }
}

impl Drop for AppUnderTest {
    fn drop(&mut self) {
        stop_driver(&mut self.driver);
    }
}

struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            stop_driver(child);
        }
    }
}

/// SIGTERM, not SIGKILL: tauri-driver then stops WebKitWebDriver (and with it the app) instead
/// of leaving it holding its port.
fn stop_driver(child: &mut Child) {
    if child.try_wait().ok().flatten().is_some() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn tauri_driver() -> PathBuf {
    let installed = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|home| home.join("bin/tauri-driver"));
    installed
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("tauri-driver"))
}
