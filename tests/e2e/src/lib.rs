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
                if !left_by_a_dead_server(&lock) {
                    continue;
                }
                // A server killed without cleaning up (a test run cut short) left these.
                let _ = std::fs::remove_file(&lock);
                let _ = std::fs::remove_file(&socket);
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

/// Whether an X lock file names a process that no longer runs.
fn left_by_a_dead_server(lock: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(lock) else {
        return false;
    };
    match text.trim().parse::<u32>() {
        Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
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
    /// Where it downloads models from (`HF_ENDPOINT`); `None` leaves the real Hub, which the
    /// tests never reach.
    pub hub_endpoint: Option<String>,
}

impl Launch {
    /// The default model from `OA_MODEL` (or the checkout's `models/`) and the given data folder.
    pub fn with_default_model(data_dir: &Path) -> Result<Launch> {
        let model = default_model()?;
        Ok(Launch {
            data_dir: data_dir.to_owned(),
            model,
            hub_endpoint: None,
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
        let mut driver = Command::new(tauri_driver());
        if let Some(endpoint) = &launch.hub_endpoint {
            driver.env("HF_ENDPOINT", endpoint);
        }
        let driver = driver
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

    /// Waits for an element matching `css` to exist.
    pub async fn wait_for(
        &self,
        css: &str,
        timeout: Duration,
    ) -> Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(timeout)
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("nothing matched {css} within {timeout:?}"))
    }

    /// Waits until no element matches `css`.
    pub async fn wait_gone(&self, css: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.count(css).await? > 0 {
            if Instant::now() > deadline {
                bail!("{css} was still there after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Waits until exactly `want` elements match `css`.
    pub async fn wait_count(&self, css: &str, want: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.count(css).await?;
            if got == want {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{got} elements matched {css} after {timeout:?}, not {want}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An attribute of the first element matching `css` (waiting up to 10 s for it).
    pub async fn attr(&self, css: &str, name: &str) -> Result<String> {
        self.wait_for(css, Duration::from_secs(10))
            .await?
            .attr(name)
            .await?
            .with_context(|| format!("{css} has no {name}"))
    }

    /// How many elements match `css`.
    pub async fn count(&self, css: &str) -> Result<usize> {
        let value = self
            .client
            .execute(
                "return document.querySelectorAll(arguments[0]).length;",
                vec![json!(css)],
            )
            .await?;
        Ok(value.as_u64().unwrap_or(0) as usize)
    }

    /// Clicks the first element matching `css`, waiting up to 10 s for it to be there and
    /// enabled: a click on a disabled button is silently dropped, and a button enabled by the
    /// text just typed is only enabled once the page has reacted to that text.
    pub async fn click(&self, css: &str) -> Result<()> {
        let timeout = Duration::from_secs(10);
        let deadline = Instant::now() + timeout;
        let element = self.wait_for(css, timeout).await?;
        while !element.is_enabled().await? {
            if Instant::now() > deadline {
                bail!("{css} is still disabled after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        element
            .click()
            .await
            .with_context(|| format!("clicking {css}"))?;
        Ok(())
    }

    /// Clicks the first element matching `css` until something matches `effect`. A click that
    /// lands while the page renders the element anew is lost (the button is still there and
    /// nothing happened); it is clicked again only then, while `css` still matches and `effect`
    /// does not, so an action that took effect is never repeated.
    pub async fn click_until(
        &self,
        css: &str,
        effect: &str,
        timeout: Duration,
    ) -> Result<fantoccini::elements::Element> {
        let deadline = Instant::now() + timeout;
        self.click(css).await?;
        loop {
            if let Ok(found) = self.wait_for(effect, Duration::from_secs(3)).await {
                return Ok(found);
            }
            if Instant::now() > deadline {
                bail!("clicking {css} did not lead to {effect} within {timeout:?}");
            }
            if self.count(css).await? > 0 && self.count(effect).await? == 0 {
                eprintln!("{css}: the click had no effect, clicking again");
                self.click(css).await?;
            }
        }
    }

    /// Types into the first element matching `css`, as a person would.
    pub async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        self.wait_for(css, Duration::from_secs(10))
            .await?
            .send_keys(text)
            .await
            .with_context(|| format!("typing into {css}"))?;
        Ok(())
    }

    /// Replaces the value of a text field and lets the page know, as typing would.
    pub async fn set_value(&self, css: &str, text: &str) -> Result<()> {
        let script = "const el = document.querySelector(arguments[0]);
            if (!el) return false;
            el.focus();
            el.value = arguments[1];
            el.dispatchEvent(new Event('input', { bubbles: true }));
            el.dispatchEvent(new Event('change', { bubbles: true }));
            return true;";
        let found = self
            .client
            .execute(script, vec![json!(css), json!(text)])
            .await?;
        if found != json!(true) {
            bail!("no field matches {css}");
        }
        Ok(())
    }

    /// Sends keys to whatever has the focus (shortcuts such as `Key::Control + "k"`, Enter,
    /// Escape); modifier keys are released at the end.
    pub async fn press(&self, keys: &str) -> Result<()> {
        self.client
            .active_element()
            .await
            .context("finding the focused element")?
            .send_keys(keys)
            .await
            .context("pressing keys")?;
        Ok(())
    }

    /// `document.activeElement.id`.
    pub async fn focused_id(&self) -> Result<String> {
        let value = self
            .client
            .execute(
                "return document.activeElement ? document.activeElement.id : '';",
                vec![],
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Saves a screenshot of the window once what the page shows has been painted: two
    /// animation frames, then a moment for the compositor to reach the X server.
    pub async fn screenshot(&self, display: &Display, name: &str) -> Result<()> {
        let _ = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
                vec![],
            )
            .await;
        tokio::time::sleep(Duration::from_millis(400)).await;
        display.screenshot(&screenshot_dir().join(name))
    }

    /// Starts the app past the first-run welcome and waits until its model is ready.
    pub async fn start_ready(display: &Display, launch: &Launch) -> Result<AppUnderTest> {
        let app = AppUnderTest::start(display, launch).await?;
        app.past_welcome().await?;
        let (state, text) = app.model_state().await?;
        if state != "ready" {
            bail!("model not ready: {state} {text}");
        }
        Ok(app)
    }

    /// Caps the replies of the chat on screen through its settings panel, as a person would,
    /// so that tests do not wait for long answers.
    pub async fn limit_replies(&self, tokens: u32) -> Result<()> {
        let short = Duration::from_secs(10);
        self.click("#chat-settings").await?;
        self.wait_for("#chat-settings-panel", short).await?;
        self.set_value("#sampler-max-tokens", &tokens.to_string())
            .await?;
        self.click("#save-chat-settings").await?;
        self.wait_gone("#chat-settings-panel", short).await
    }

    /// Waits until the text of the first element matching `css` contains `want`; returns it.
    pub async fn wait_text(&self, css: &str, want: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.text_of(css, timeout).await.unwrap_or_default();
            if got.contains(want) {
                return Ok(got);
            }
            if Instant::now() > deadline {
                bail!("{css} reads {got:?}, not {want:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Dismisses the first-run welcome if it is shown; says whether it was.
    pub async fn past_welcome(&self) -> Result<bool> {
        if self.count("#welcome").await? == 0 {
            return Ok(false);
        }
        self.click("#start-chatting").await?;
        self.wait_gone("#welcome", Duration::from_secs(10)).await?;
        Ok(true)
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
