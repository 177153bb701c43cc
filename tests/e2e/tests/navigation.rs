//! Finding and organising conversations, switching models, and the main views in light and
//! dark, in the real app.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};

const TEST_TIMEOUT: Duration = Duration::from_secs(400);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(10);

/// Starts a new chat, asks `prompt` and waits for the reply.
async fn new_chat_asking(app: &AppUnderTest, prompt: &str, tokens: u32) -> Result<()> {
    app.click("#new-chat").await?;
    app.limit_replies(tokens).await?;
    app.type_into("#composer", prompt).await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(".message.assistant[data-state='done']", REPLY_TIMEOUT)
        .await?;
    app.wait_for("#send", REPLY_TIMEOUT).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_a_message_in_another_conversation_and_opens_it() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, search())
        .await
        .context("test timed out")?
}

async fn search() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    new_chat_asking(&app, "What do zebras eat?", 8).await?;
    new_chat_asking(&app, "Tell me about the moon.", 8).await?;
    ensure!(app.count("li.conversation").await? == 2);

    app.press(&(Key::Control + "k")).await?;
    app.type_into("#search", "zebr").await?;
    let hit = app
        .wait_text(".search-hit", "zebras", REPLY_TIMEOUT)
        .await?;
    ensure!(hit.contains("What do zebras eat?"), "hit: {hit:?}");
    let marked = app.text_of(".search-hit mark", SHORT).await?;
    ensure!(
        marked.to_lowercase().starts_with("zebr"),
        "marked: {marked:?}"
    );
    app.screenshot(&display, "search.png").await?;
    app.click(".search-hit").await?;
    app.wait_text(".message.prompter .message-text", "zebras", REPLY_TIMEOUT)
        .await?;
    app.wait_text(".thread-title", "zebras", REPLY_TIMEOUT)
        .await?;
    ensure!(
        app.count("#search").await? == 1 && app.count(".search-hit").await? == 0,
        "the results stay open"
    );
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversations_can_be_renamed_pinned_and_deleted_with_undo() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, organise())
        .await
        .context("test timed out")?
}

async fn titles(app: &AppUnderTest) -> Result<Vec<String>> {
    let value = app
        .client
        .execute(
            "return [...document.querySelectorAll('li.conversation')].map(li => li.innerText.trim());",
            vec![],
        )
        .await?;
    Ok(value
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default())
}

async fn organise() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    new_chat_asking(&app, "First question", 8).await?;
    new_chat_asking(&app, "Second question", 8).await?;
    ensure!(titles(&app).await? == ["Second question", "First question"]);

    // Rename the older one (its actions show on the selected line, as on hover).
    app.click("li.conversation:nth-child(2)").await?;
    app.click("li.conversation:nth-child(2) .rename").await?;
    app.wait_for(".rename-box", SHORT).await?;
    app.set_value(".rename-box", "Kept for later").await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_text(
        "li.conversation:nth-child(2)",
        "Kept for later",
        REPLY_TIMEOUT,
    )
    .await?;

    // Pin it: it moves to the top.
    app.click("li.conversation.active .pin").await?;
    app.wait_text(
        "li.conversation:nth-child(1)",
        "Kept for later",
        REPLY_TIMEOUT,
    )
    .await?;
    ensure!(app.count("li.conversation.pinned").await? == 1);

    // Delete it: it disappears at once and Undo brings it back.
    app.click("li.conversation.pinned .delete").await?;
    app.wait_for("#undo-delete", SHORT).await?;
    ensure!(titles(&app).await? == ["Second question"]);
    app.click("#undo-delete").await?;
    app.wait_text(
        "li.conversation:nth-child(1)",
        "Kept for later",
        REPLY_TIMEOUT,
    )
    .await?;

    // Deleted for good when Undo is not used.
    app.click("li.conversation.pinned").await?;
    app.click("li.conversation.pinned .delete").await?;
    app.wait_gone("#undo-delete", Duration::from_secs(15))
        .await?;
    ensure!(titles(&app).await? == ["Second question"]);

    // All of it holds after a restart.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    ensure!(titles(&app).await? == ["Second question"]);
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_to_gemma_and_back_keeps_the_window_usable() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, switch_models())
        .await
        .context("test timed out")?
}

async fn switch_models() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;

    app.click("#open-models").await?;
    app.wait_for("#models-panel .model-row[data-arch='gemma3']", SHORT)
        .await?;
    let row = app.text_of(".model-row[data-arch='gemma3']", SHORT).await?;
    ensure!(
        row.contains("Q4_K_M") && row.contains("Fits in memory") && row.contains("MB"),
        "gemma row: {row:?}"
    );
    let current = app.text_of(".model-row.active", SHORT).await?;
    ensure!(
        current.contains("In use") && current.contains("Q4_1"),
        "{current:?}"
    );
    app.screenshot(&display, "models.png").await?;

    app.click(".model-row[data-arch='gemma3'] .use-model")
        .await?;
    app.click(".panel-close").await?;
    // The window stays usable while it loads: typing works.
    app.type_into("#composer", "The capital of France is")
        .await?;
    app.wait_text(".topbar-model", "Gemma", REPLY_TIMEOUT)
        .await?;
    let (state, text) = app.model_state().await?;
    ensure!(
        state == "ready" && text.contains("Q4_K_M"),
        "{state}: {text}"
    );
    app.limit_replies(8).await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(".message.assistant[data-state='done']", REPLY_TIMEOUT)
        .await?;

    // And back to the default model.
    app.click(".topbar-model").await?;
    app.click(".model-row[data-arch='llama'] .use-model")
        .await?;
    app.click(".panel-close").await?;
    app.wait_text(".topbar-model", "135M", REPLY_TIMEOUT)
        .await?;
    let (state, _) = app.model_state().await?;
    ensure!(state == "ready");
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_views_in_light_and_dark() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, screenshots())
        .await
        .context("test timed out")?
}

/// The page's background colour, to tell the themes apart.
async fn background(app: &AppUnderTest) -> Result<String> {
    let value = app
        .client
        .execute(
            "return getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await?;
    Ok(value.as_str().unwrap_or_default().to_owned())
}

async fn screenshots() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    new_chat_asking(
        &app,
        "Show a Python function that adds two numbers, in a code block.",
        160,
    )
    .await?;
    new_chat_asking(&app, "Give me three tips for sleeping well.", 160).await?;

    for theme in ["light", "dark"] {
        app.click("#open-settings").await?;
        app.click(&format!("input[name='theme'][value='{theme}']"))
            .await?;
        let want = if theme == "dark" {
            "rgb(23, 24, 28)"
        } else {
            "rgb(255, 255, 255)"
        };
        let deadline = std::time::Instant::now() + SHORT;
        while background(&app).await? != want {
            ensure!(
                std::time::Instant::now() < deadline,
                "{theme} theme not applied"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        app.screenshot(&display, &format!("settings-{theme}.png"))
            .await?;
        app.press(&Key::Escape.to_string()).await?;
        app.wait_gone("#settings-panel", SHORT).await?;

        app.click("li.conversation:nth-child(2)").await?;
        app.wait_for(".message.assistant[data-state='done']", SHORT)
            .await?;
        app.screenshot(&display, &format!("chat-{theme}.png"))
            .await?;

        app.click("#open-models").await?;
        app.wait_for(".model-row.active", SHORT).await?;
        app.screenshot(&display, &format!("models-{theme}.png"))
            .await?;
        app.press(&Key::Escape.to_string()).await?;

        app.click("#chat-settings").await?;
        app.wait_for("#system-prompt", SHORT).await?;
        app.screenshot(&display, &format!("chat-settings-{theme}.png"))
            .await?;
        app.press(&Key::Escape.to_string()).await?;

        app.click("#new-chat").await?;
        app.screenshot(&display, &format!("new-chat-{theme}.png"))
            .await?;
    }

    // Down to an 800×600 window nothing overflows sideways and the composer stays in view.
    app.client.set_window_rect(0, 0, 800, 600).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fits = app
        .client
        .execute(
            "const root = document.documentElement;
             const composer = document.getElementById('composer').getBoundingClientRect();
             return [root.scrollWidth <= root.clientWidth, window.innerWidth,
                     composer.bottom <= window.innerHeight && composer.width > 200];",
            vec![],
        )
        .await?;
    ensure!(
        fits[0] == true && fits[2] == true && fits[1].as_u64().unwrap_or(0) <= 800,
        "at 800×600: {fits:?}"
    );
    app.screenshot(&display, "small-window-dark.png").await?;

    // The choice is kept.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    ensure!(
        background(&app).await? == "rgb(23, 24, 28)",
        "dark was not kept"
    );
    app.quit().await
}
