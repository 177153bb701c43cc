//! Getting models in the real app: a catalog download from a local server that answers like
//! the Hugging Face Hub, with a visible progress bar, then switching to the model and chatting
//! with it; importing a local GGUF, where a truncated file is refused in plain words.

#[path = "../../../crates/oa-app/tests/hub/mod.rs"]
mod hub;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch, default_model};

const TEST_TIMEOUT: Duration = Duration::from_secs(300);
const SHORT: Duration = Duration::from_secs(10);
const LONG: Duration = Duration::from_secs(120);

/// The catalog entry served (`models/catalog.toml`): the reference SmolLM2 bytes stand in for
/// its file, and the local Hub gives their checksum.
const ID: &str = "smollm2-135m";
const REPO: &str = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF";
const FILE: &str = "smollm2-135m-instruct-q8_0.gguf";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_model_downloads_with_progress_and_chats() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, download_and_chat())
        .await
        .context("test timed out")?
}

async fn download_and_chat() -> Result<()> {
    let hub = hub::LocalHub::start().await;
    hub.serve(REPO, FILE, std::fs::read(default_model()?)?);
    // Slow enough for the progress bar to be seen and the download paused.
    hub.throttle(8 << 20);
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch {
        hub_endpoint: Some(hub.endpoint()),
        ..Launch::with_default_model(data.path())?
    };
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-models").await?;
    let row = format!(".catalog-row[data-id='{ID}']");
    // Before the download: whether it will fit, and about how much it needs.
    let fit = app.text_of(&format!("{row} .fit"), SHORT).await?;
    ensure!(
        fit.contains("Fits in memory") && fit.contains("MB"),
        "fit badge: {fit:?}"
    );
    app.click_until(
        &format!("{row} .download-model"),
        &format!("{row} progress.download-progress"),
        SHORT,
    )
    .await?;
    let text = app
        .wait_text(&format!("{row} .download-text"), "MB/s", SHORT)
        .await?;
    ensure!(text.contains(" of "), "progress text: {text:?}");
    app.screenshot(&display, "models-download.png").await?;

    // Pause, close the app; the next start shows how far it got and resumes from there.
    app.click(&format!("{row} .pause-download")).await?;
    app.wait_for(&format!("{row} .download[data-state='paused']"), SHORT)
        .await?;
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-models").await?;
    let paused = app
        .wait_text(&format!("{row} .download-text"), "Paused at", SHORT)
        .await?;
    ensure!(paused.contains(" of "), "after restart: {paused:?}");
    let before = hub.served().len();
    let going = [
        "download[data-state='running']",
        "download[data-state='verifying']",
        "installed",
    ]
    .map(|state| format!("{row} .{state}"))
    .join(", ");
    app.click_until(&format!("{row} .resume-download"), &going, SHORT)
        .await?;
    app.wait_for(&format!("{row} .installed"), LONG).await?;
    let resumed_at = hub.served()[before..]
        .iter()
        .filter_map(|s| s.range_start)
        .filter(|start| *start > 0)
        .min()
        .unwrap_or(0);
    ensure!(
        resumed_at > 0,
        "the download started over instead of resuming"
    );

    // It is listed with the installed models; use it and chat.
    let installed = format!(".model-row[data-path$='{FILE}']");
    app.click(&format!("{installed} .use-model")).await?;
    app.wait_for(&format!("{installed}.active"), LONG).await?;
    app.click(".panel-close").await?;
    app.limit_replies(8).await?;
    app.type_into("#composer", "Say hello.").await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(".message.assistant[data-state='done']", LONG)
        .await?;
    let model = app.text_of(".topbar-model", SHORT).await?;
    ensure!(!model.is_empty(), "the top bar names the model");
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_gguf_is_imported_and_a_truncated_one_is_refused() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, import())
        .await
        .context("test timed out")?
}

async fn import() -> Result<()> {
    let data = tempfile::tempdir()?;
    let outside = tempfile::tempdir()?;
    let bytes = std::fs::read(default_model()?)?;
    let truncated = outside.path().join("half.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2])?;
    let good = outside.path().join("my-model.gguf");
    std::fs::write(&good, &bytes)?;

    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-models").await?;
    app.set_value("#import-path", truncated.to_str().unwrap())
        .await?;
    app.click("#import-model").await?;
    let error = app.wait_text(".import-error", "truncated", SHORT).await?;
    ensure!(
        error.contains("cannot run") || error.contains("not a model"),
        "{error}"
    );
    ensure!(
        app.count(".model-row[data-path$='half.gguf']").await? == 0,
        "a refused file is not listed"
    );

    app.set_value("#import-path", good.to_str().unwrap())
        .await?;
    app.click("#import-model").await?;
    app.wait_for(".import-done", SHORT).await?;
    app.wait_for(".model-row[data-path$='my-model.gguf']", SHORT)
        .await?;
    // And it can be deleted again from the list.
    app.click(".model-row[data-path$='my-model.gguf'] .remove-model")
        .await?;
    app.wait_gone(".model-row[data-path$='my-model.gguf']", SHORT)
        .await?;
    app.quit().await
}
