//! Markdown in a reply, in the real webview: a code block with its language, highlighting and
//! Copy button, a table, a link and an image, and hostile HTML and links from the text shown
//! as text, never run. The text is a correction written in the assistant's place, so it is
//! exactly what the test wrote, whatever the model says.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};
use serde_json::{Value, json};

const TEST_TIMEOUT: Duration = Duration::from_secs(300);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(10);

/// The code in the reply's code block.
const CODE: &str = "fn main() {\n    println!(\"<b>{}</b>\", 1 & 2);\n}";

/// A reply with every kind of block the renderer writes, and attacks that must stay text.
fn reply() -> String {
    format!(
        "Here is the fix:\n\n\
         ```rust\n{CODE}\n```\n\n\
         | name | qty |\n|:-----|----:|\n| a | 1 |\n\n\
         - [x] done\n- [ ] todo\n\n\
         See [the docs](https://example.com/docs) or [this](javascript:window.pwned=3).\n\n\
         ![a logo](https://example.com/logo.png)\n\n\
         <script>window.pwned = 1</script>\n\n\
         Inline <img src=x onerror=\"window.pwned = 2\"> too."
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markdown_renders_code_tables_and_links_and_keeps_html_as_text() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, markdown_reply())
        .await
        .context("test timed out")?
}

/// Runs `script` in the page and returns its answer.
async fn page(app: &AppUnderTest, script: &str) -> Result<Value> {
    Ok(app.client.execute(script, vec![]).await?)
}

async fn markdown_reply() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.limit_replies(8).await?;
    app.type_into("#composer", "Show me some Rust.").await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(
        ".message.assistant[data-state='done'] .correct",
        REPLY_TIMEOUT,
    )
    .await?;
    app.click(".message.assistant .correct").await?;
    app.wait_for(".correct-box", SHORT).await?;
    app.set_value(".correct-box", &reply()).await?;
    app.click(".save-correction").await?;

    let text = ".message.assistant .message-text";
    app.wait_for(&format!("{text} .code-block"), SHORT).await?;
    app.screenshot(&display, "markdown.png").await?;

    // The code block: its language, highlighted tokens, and exactly the code as its text.
    let lang = app.text_of(&format!("{text} .code-lang"), SHORT).await?;
    ensure!(lang == "rust", "language label {lang:?}");
    let code = page(
        &app,
        "return document.querySelector('.message.assistant .code-block code').textContent;",
    )
    .await?;
    ensure!(code == json!(CODE), "code block text {code:?}");
    ensure!(
        app.count(&format!("{text} .code-block .tok-kw")).await? > 0,
        "no highlighted keyword"
    );
    app.click(&format!("{text} .copy-code")).await?;
    app.wait_for(&format!("{text} .copy-code.copied"), SHORT)
        .await?;

    // The table, the task list, the one link kept and the image's alt text.
    ensure!(
        app.count(&format!("{text} .table-wrap th.align-left"))
            .await?
            == 1
            && app.count(&format!("{text} td.align-right")).await? == 1,
        "table cells lost their alignment"
    );
    ensure!(
        app.count(&format!("{text} li.task-item input.task-check[disabled]"))
            .await?
            == 2,
        "task list"
    );
    let links = page(
        &app,
        "return [...document.querySelectorAll('.message.assistant .message-text a')]
             .map(a => [a.className, a.getAttribute('href'), a.rel]);",
    )
    .await?;
    ensure!(
        links == json!([["md-link", "https://example.com/docs", "noopener noreferrer"]]),
        "links: {links:?}"
    );
    let alt = app.text_of(&format!("{text} .md-image-alt"), SHORT).await?;
    ensure!(alt == "a logo", "image alt text {alt:?}");

    // The hostile parts are text on the page: nothing ran and nothing loads.
    ensure!(
        app.count(&format!("{text} script, {text} img, {text} [onerror]"))
            .await?
            == 0,
        "markup from the reply reached the page"
    );
    let shown = app.text_of(text, SHORT).await?;
    for part in [
        "<script>window.pwned = 1</script>",
        "<img src=x onerror=\"window.pwned = 2\">",
        "this",
    ] {
        ensure!(shown.contains(part), "{part:?} is not shown in {shown:?}");
    }
    let pwned = page(&app, "return window.pwned === undefined;").await?;
    ensure!(pwned == json!(true), "a script from the reply ran");
    app.quit().await
}
