//! Improving answers where they are read, in the real app: a thumbs down with a reason,
//! Open-Assistant labels, and a correction kept beside the model's answer; all still there
//! after a restart.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};

const TEST_TIMEOUT: Duration = Duration::from_secs(300);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thumbs_down_labels_and_a_correction_are_kept() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, rate_and_correct())
        .await
        .context("test timed out")?
}

/// The person's better answer.
const CORRECTION: &str = "Canberra is the capital of Australia (not Sydney).";

async fn rate_and_correct() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.limit_replies(12).await?;
    app.type_into("#composer", "What is the capital of Australia?")
        .await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(
        ".message.assistant[data-state='done'] .thumb-down",
        REPLY_TIMEOUT,
    )
    .await?;
    let model_reply = app
        .text_of(".message.assistant .message-text", SHORT)
        .await?;

    // Thumbs down, with a reason and a comment.
    app.click(".message.assistant .thumb-down").await?;
    app.click(".reasons .reason[data-reason='wrong']").await?;
    app.set_value(".reason-comment", "The capital is Canberra.")
        .await?;
    app.screenshot(&display, "thumbs-down.png").await?;
    app.click(".save-rating").await?;
    app.wait_gone(".reasons", SHORT).await?;
    app.wait_for(".thumb-down.on[aria-pressed='true']", SHORT)
        .await?;

    // Label it: quality 4 of 5, helpful 2 of 5, not spam.
    app.click(".message.assistant .label-message").await?;
    app.wait_for("#labels-panel", SHORT).await?;
    app.click("[data-label='quality'] .label-value[data-value='0.75']")
        .await?;
    app.click("[data-label='helpfulness'] .label-value[data-value='0.25']")
        .await?;
    app.click("[data-label='spam'] .label-value[data-value='0']")
        .await?;
    app.screenshot(&display, "labels.png").await?;
    app.click("#save-labels").await?;
    app.wait_gone("#labels-panel", SHORT).await?;

    // Correct the answer: the person's is shown, the model's is version 1 of 2.
    app.click(".message.assistant .correct").await?;
    app.wait_for(".correct-box", SHORT).await?;
    // Worded unlike any answer the model gives, so that it is a change.
    app.set_value(".correct-box", CORRECTION).await?;
    app.click(".save-correction").await?;
    app.wait_text(".message.assistant .message-text", CORRECTION, SHORT)
        .await?;
    app.wait_text(".message.assistant .version-label", "2 / 2", SHORT)
        .await?;
    let tag = app
        .text_of(".message.assistant .correction-tag", SHORT)
        .await?;
    ensure!(tag == "Written by you", "tag: {tag:?}");
    app.click(".message.assistant .version-prev").await?;
    app.wait_text(".message.assistant .version-label", "1 / 2", SHORT)
        .await?;
    let shown = app
        .text_of(".message.assistant .message-text", SHORT)
        .await?;
    ensure!(shown == model_reply, "the model's answer reads {shown:?}");
    app.wait_for(".thumb-down.on", SHORT).await?;

    // After a restart: the vote is still on the model's answer, the correction beside it.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("li.conversation").await?;
    app.wait_text(".message.assistant .version-label", "1 / 2", SHORT)
        .await?;
    app.wait_for(
        ".message.assistant .thumb-down.on[aria-pressed='true']",
        SHORT,
    )
    .await?;
    // The labels are kept as they were set.
    app.click(".message.assistant .label-message").await?;
    app.wait_for("[data-label='quality'] .label-value.on", SHORT)
        .await?;
    let on = app
        .client
        .execute(
            "return [...document.querySelectorAll('.label-row')]
                 .filter(r => r.querySelector('.label-value.on'))
                 .map(r => r.dataset.label + '=' + r.querySelector('.label-value.on').dataset.value);",
            vec![],
        )
        .await?;
    ensure!(
        on == serde_json::json!(["spam=0", "quality=0.75", "helpfulness=0.25"]),
        "labels after restart: {on:?}"
    );
    app.click(".panel-close").await?;
    app.click(".message.assistant .version-next").await?;
    app.wait_text(".message.assistant .message-text", CORRECTION, SHORT)
        .await?;
    ensure!(
        app.count(".message.assistant .thumb-down.on").await? == 0,
        "the correction has no vote of its own"
    );
    app.quit().await
}
