//! Settings in the real app: where the data is kept, the device section of a CPU-only build, a
//! thread count that applies at the next start, and a model's own sampler defaults.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};

const TEST_TIMEOUT: Duration = Duration::from_secs(400);
const SHORT: Duration = Duration::from_secs(10);

/// What a field holds now (its value property, which the page sets).
async fn value_of(app: &AppUnderTest, css: &str) -> Result<String> {
    app.wait_for(css, SHORT).await?;
    let value = app
        .client
        .execute(
            "return document.querySelector(arguments[0]).value;",
            vec![serde_json::json!(css)],
        )
        .await?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn threads_apply_at_the_next_start_and_a_cpu_only_build_offers_no_gpu() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, threads_and_device())
        .await
        .context("test timed out")?
}

async fn threads_and_device() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-settings").await?;
    let folder = app.text_of("#data-folder", SHORT).await?;
    ensure!(
        folder == data.path().display().to_string(),
        "Settings shows the data folder as {folder:?}"
    );
    let cpu_only = app.text_of("#cpu-only", SHORT).await?;
    ensure!(cpu_only.contains("CPU only"), "{cpu_only:?}");
    ensure!(
        app.count("input[name='device']").await? == 0,
        "a CPU-only build offers no device choice"
    );
    let status = app
        .wait_text("#device-status", "runs on the CPU", SHORT)
        .await?;
    ensure!(!status.contains("with 1 thread."), "{status:?}");
    app.set_value("#threads", "0").await?;
    let error = app
        .text_of("#device-settings ~ label .field-error", SHORT)
        .await?;
    ensure!(error.contains("from 1 to"), "{error:?}");
    app.set_value("#threads", "1").await?;
    app.wait_gone("#device-settings ~ label .field-error", SHORT)
        .await?;
    app.screenshot(&display, "settings-device.png").await?;
    app.press(&Key::Escape.to_string()).await?;
    app.wait_gone("#settings-panel", SHORT).await?;
    app.quit().await?;

    // The next start reads the count before its compute pool exists.
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-settings").await?;
    app.wait_text("#device-status", "runs on the CPU with 1 thread.", SHORT)
        .await?;
    ensure!(value_of(&app, "#threads").await? == "1");
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_defaults_start_every_new_conversation() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, model_defaults())
        .await
        .context("test timed out")?
}

async fn model_defaults() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#chat-settings").await?;
    app.wait_for("#chat-settings-panel", SHORT).await?;
    app.set_value("#sampler-max-tokens", "7").await?;
    app.set_value("#sampler-temperature", "0.3").await?;
    app.click("#save-model-defaults").await?;
    app.wait_text(
        "#chat-settings-panel [role='status']",
        "New conversations",
        SHORT,
    )
    .await?;
    app.press(&Key::Escape.to_string()).await?;
    app.wait_gone("#chat-settings-panel", SHORT).await?;
    app.quit().await?;

    // After a restart, a new conversation starts with them.
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#new-chat").await?;
    app.click("#chat-settings").await?;
    app.wait_for("#chat-settings-panel", SHORT).await?;
    ensure!(value_of(&app, "#sampler-max-tokens").await? == "7");
    ensure!(value_of(&app, "#sampler-temperature").await? == "0.3");
    app.quit().await
}
