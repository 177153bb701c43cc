//! The thread in the real app: stop a reply, answer again and move between versions, edit a
//! prompt into a branch, keyboard shortcuts, and what a restart keeps.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};

const TEST_TIMEOUT: Duration = Duration::from_secs(400);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(10);

/// Types a prompt, sends it with Enter and waits for the reply to finish.
async fn ask(app: &AppUnderTest, prompt: &str) -> Result<()> {
    let before = app.count(".message.assistant[data-state='done']").await?;
    app.type_into("#composer", prompt).await?;
    app.press(&Key::Enter.to_string()).await?;
    wait_done(app, before + 1).await
}

/// Waits until `n` assistant replies are finished and none is streaming.
async fn wait_done(app: &AppUnderTest, n: usize) -> Result<()> {
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        let done = app.count(".message.assistant[data-state='done']").await?;
        let streaming = app
            .count(".message.assistant[data-state='streaming']")
            .await?;
        if done >= n && streaming == 0 && app.count("#send").await? == 1 {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "{done} of {n} replies done after {REPLY_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text(app: &AppUnderTest, css: &str) -> Result<String> {
    app.text_of(css, SHORT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_a_reply_keeps_what_it_wrote_marked_stopped() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, stop_mid_reply())
        .await
        .context("test timed out")?
}

async fn stop_mid_reply() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;

    app.type_into(
        "#composer",
        "Write a very long story about a dragon and a knight.",
    )
    .await?;
    app.press(&Key::Enter.to_string()).await?;
    // While the reply streams, Send becomes Stop.
    app.wait_for("#stop", SHORT).await?;
    let deadline = std::time::Instant::now() + REPLY_TIMEOUT;
    loop {
        let chars = app
            .client
            .execute(
                "const el = document.querySelector('.message.assistant .message-text');
                 return el ? Number(el.dataset.chars || 0) : 0;",
                vec![],
            )
            .await?
            .as_u64()
            .unwrap_or(0);
        if chars >= 40 {
            break;
        }
        ensure!(std::time::Instant::now() < deadline, "the reply never grew");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Esc stops it, wherever the focus is.
    app.press(&Key::Escape.to_string()).await?;
    let stopped = app
        .wait_for(
            ".message.assistant[data-state='done'][data-stopped='true']",
            REPLY_TIMEOUT,
        )
        .await
        .context("the reply was not marked stopped")?;
    let _ = stopped;
    app.wait_for("#send", SHORT).await?;
    let kept = text(&app, ".message.assistant .message-text").await?;
    ensure!(kept.split_whitespace().count() >= 5, "kept: {kept:?}");
    let tag = text(&app, ".message.assistant .stopped-tag").await?;
    ensure!(tag == "Stopped", "tag: {tag:?}");
    // Nothing more arrives after the stop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = text(&app, ".message.assistant .message-text").await?;
    ensure!(later == kept, "text changed after stopping");

    // The stored reply is the partial one, still marked, after a restart.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("li.conversation").await?;
    let stored = text(
        &app,
        ".message.assistant[data-stopped='true'] .message-text",
    )
    .await?;
    ensure!(stored == kept, "after restart: {stored:?} vs {kept:?}");
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerate_edit_and_versions_survive_a_restart() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, versions())
        .await
        .context("test timed out")?
}

async fn versions() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.limit_replies(16).await?;
    ask(&app, "Name one colour.").await?;
    let first = text(&app, ".message.assistant .message-text").await?;
    ensure!(
        app.count(".versions").await? == 0,
        "a single reply shows no versions"
    );

    // Regenerate: a second reply, shown as 2 / 2.
    app.click(".message.assistant .regenerate").await?;
    // A short reply may be done before its streaming is seen: wait for the second version.
    app.wait_text(".message.assistant .version-label", "2 / 2", SHORT)
        .await
        .context("regenerate adds a second version")?;
    wait_done(&app, 1).await?;
    let label = text(&app, ".message.assistant .version-label").await?;
    ensure!(label == "2 / 2", "label after regenerate: {label:?}");
    ensure!(
        app.count(".message").await? == 2,
        "regenerating replaced the reply, it did not add a message"
    );
    // Back to the first reply, then forward again.
    app.click(".message.assistant .version-prev").await?;
    app.wait_text(".message.assistant .version-label", "1 / 2", SHORT)
        .await
        .context("‹ on the reply shows the first version")?;
    let shown = text(&app, ".message.assistant .message-text").await?;
    ensure!(shown == first, "version 1 shows {shown:?}, not {first:?}");
    app.click(".message.assistant .version-next").await?;
    app.wait_text(".message.assistant .version-label", "2 / 2", SHORT)
        .await
        .context("› shows the second version again")?;
    app.click(".message.assistant .version-prev").await?;
    app.wait_text(".message.assistant .version-label", "1 / 2", SHORT)
        .await
        .context("‹ goes back to the first version")?;

    // Edit the prompt: a new branch with its own reply; the prompt shows 2 / 2.
    app.click(".message.prompter .edit-message").await?;
    app.wait_for(".edit-box", SHORT).await?;
    app.set_value(".edit-box", "Name one fruit.").await?;
    app.click(".edit-save").await?;
    // The new branch is on screen once the prompt reads the edit; a short reply may already be
    // done by then, so its streaming is not waited for (on a busy machine it was missed).
    app.wait_text(".message.prompter .message-text", "Name one fruit.", SHORT)
        .await
        .context("the edited prompt is shown")?;
    wait_done(&app, 1).await?;
    let prompt = text(&app, ".message.prompter .message-text").await?;
    ensure!(prompt == "Name one fruit.", "prompt after edit: {prompt:?}");
    app.wait_text(".message.prompter .version-label", "2 / 2", SHORT)
        .await
        .context("the edited prompt is version 2 of 2")?;
    app.screenshot(&display, "versions.png").await?;

    // Back on the first prompt, its branch is where it was left: reply 1 of 2.
    app.click(".message.prompter .version-prev").await?;
    app.wait_text(".message.prompter .version-label", "1 / 2", SHORT)
        .await
        .context("‹ on the prompt shows the original")?;
    app.wait_text(".message.assistant .version-label", "1 / 2", SHORT)
        .await
        .context("the original prompt's branch shows the reply last seen")?;
    let shown = text(&app, ".message.assistant .message-text").await?;
    ensure!(shown == first, "the first branch shows {shown:?}");

    // A restart keeps the branch on screen.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("li.conversation").await?;
    app.wait_text(".message.prompter .version-label", "1 / 2", SHORT)
        .await
        .context("after a restart the prompt shown is the original")?;
    app.wait_text(".message.assistant .version-label", "1 / 2", SHORT)
        .await
        .context("after a restart the reply shown is the first")?;
    let prompt = text(&app, ".message.prompter .message-text").await?;
    ensure!(prompt == "Name one colour.", "after restart: {prompt:?}");
    let shown = text(&app, ".message.assistant .message-text").await?;
    ensure!(shown == first, "after restart the reply reads {shown:?}");
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keyboard_reaches_everything() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, keyboard())
        .await
        .context("test timed out")?
}

async fn keyboard() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    ensure!(
        app.focused_id().await? == "composer",
        "focus starts in the composer"
    );
    app.limit_replies(8).await?;

    // Shift+Enter is a new line, Enter sends.
    app.type_into("#composer", "Line one").await?;
    app.press(&(Key::Shift + &Key::Enter.to_string())).await?;
    app.type_into("#composer", "line two").await?;
    let draft = app
        .client
        .execute("return document.getElementById('composer').value;", vec![])
        .await?;
    ensure!(
        draft.as_str() == Some("Line one\nline two"),
        "draft: {draft:?}"
    );
    ensure!(app.count(".message").await? == 0, "Shift+Enter sent");
    app.press(&Key::Enter.to_string()).await?;
    wait_done(&app, 1).await?;
    let sent = text(&app, ".message.prompter .message-text").await?;
    ensure!(sent == "Line one\nline two", "sent: {sent:?}");

    // Ctrl+N: a new, empty chat with the cursor in the composer.
    app.press(&(Key::Control + "n")).await?;
    app.wait_text(".thread-title", "New chat", SHORT)
        .await
        .context("Ctrl+N opens a new chat")?;
    ensure!(
        app.count(".message").await? == 0,
        "the new chat is not empty"
    );
    ensure!(app.focused_id().await? == "composer");

    // Ctrl+K: the cursor goes to search; Esc leaves it for the composer again.
    app.press(&(Key::Control + "k")).await?;
    ensure!(
        app.focused_id().await? == "search",
        "Ctrl+K did not focus search"
    );
    app.press(&Key::Escape.to_string()).await?;
    ensure!(app.focused_id().await? == "composer");
    app.quit().await
}
