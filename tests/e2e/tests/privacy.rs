//! Personal data in Review & Share as a careful reviewer would mark it: a signature, a Dutch
//! address and a password-reset link are marked, while a version number and a loopback address
//! in a code block are not; "Not personal" dismisses a finding with one click, the choice
//! survives a restart, and "Undo" brings it back.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};
use serde_json::json;

const TEST_TIMEOUT: Duration = Duration::from_secs(420);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(10);

const ADDRESS: &str = "Keizersgracht 123, 1015 CJ Amsterdam";
const RESET_LINK: &str =
    "https://accounts.example-shop.nl/reset?token=f8Kq2LzX9vRt4WmN7pYc3HdJ6sBa1QeU";
const NAME: &str = "Sanne de Vries";

/// A customer e-mail to answer: a signature, an address and a reset link, and a code block
/// whose version numbers and loopback address are not personal.
fn letter() -> String {
    format!(
        "Help me answer this customer e-mail, please.\n\n\
         Our shop is at {ADDRESS}. You can set a new password here: {RESET_LINK}\n\n\
         To try the tool:\n\
         ```\n\
         pip install foo==1.2.3\n\
         curl http://127.0.0.1:8080/health   # build 1.2.3.4\n\
         ```\n\n\
         Met vriendelijke groet,\n\
         {NAME}"
    )
}

/// The texts of the findings marked in `item`'s payload, as (kind, text).
async fn marked(app: &AppUnderTest, item: &str) -> Result<Vec<(String, String)>> {
    let value = app
        .client
        .execute(
            "return [...document.querySelectorAll(arguments[0] + ' mark.pii')]
                 .map(m => [m.dataset.kind, m.innerText]);",
            vec![json!(item)],
        )
        .await?;
    serde_json::from_value(value).context("reading the marked findings")
}

/// Whether the focused element is in `item` and matches `css`.
async fn focus_is(app: &AppUnderTest, item: &str, css: &str) -> Result<bool> {
    let value = app
        .client
        .execute(
            "const el = document.activeElement;
             return !!el && !!el.closest(arguments[0]) && el.matches(arguments[1]);",
            vec![json!(item), json!(css)],
        )
        .await?;
    Ok(value == json!(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_marked_and_a_false_alarm_is_dismissed_for_good() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, mark_and_dismiss())
        .await
        .context("test timed out")?
}

async fn mark_and_dismiss() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.limit_replies(10).await?;
    app.set_value("#composer", &letter()).await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(
        ".message.assistant[data-state='done'] .thumb-down",
        REPLY_TIMEOUT,
    )
    .await?;

    // The prompt's item: all three marked, by kind, and listed by kind with their texts.
    app.click("#open-review").await?;
    let prompt = ".review-item[data-kind='message']:first-child";
    app.wait_text(&format!("{prompt} .item-summary"), "Help me answer", SHORT)
        .await?;
    let id = app.attr(prompt, "data-id").await?;
    let item = format!(".review-item[data-id='{id}']");
    let want = [
        ("address", ADDRESS),
        ("secret_url", RESET_LINK),
        ("name", NAME),
    ];
    let found = marked(&app, &item).await?;
    ensure!(
        found.len() == want.len()
            && want
                .iter()
                .all(|(k, t)| found.iter().any(|f| f.0 == *k && f.1 == *t)),
        "marked: {found:?}"
    );
    ensure!(
        !found
            .iter()
            .any(|(_, t)| t.contains("127.0.0.1") || t.contains("1.2.3")),
        "a version or loopback address was marked: {found:?}"
    );
    let line = app
        .text_of(&format!("{item} .findings-line"), SHORT)
        .await?;
    ensure!(
        line.contains("A person's name (1)") && line.contains("Street address (1)"),
        "findings by kind: {line:?}"
    );
    let name = format!("{item} .finding[data-kind='name']");
    let listed = app.text_of(&format!("{name} .finding-text"), SHORT).await?;
    ensure!(listed == NAME, "name listed as {listed:?}");
    app.screenshot(&display, "review-findings.png").await?;

    // "Not personal": the name is no longer marked, is listed as dismissed, and the keyboard
    // focus stays in the item.
    app.click(&format!("{name} .not-personal")).await?;
    app.wait_gone(&format!("{item} mark.pii[data-kind='name']"), SHORT)
        .await?;
    app.wait_text(
        &format!("{item} .toggle-dismissed"),
        "Dismissed as not personal: 1",
        SHORT,
    )
    .await?;
    ensure!(
        marked(&app, &item).await?.len() == 2,
        "the others stay marked"
    );
    ensure!(
        focus_is(&app, &item, ".not-personal").await?,
        "the focus left the item"
    );

    // After a restart the name is still dismissed and the others still marked.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-review").await?;
    app.wait_for(&format!("{item} mark.pii[data-kind='address']"), SHORT)
        .await?;
    let found = marked(&app, &item).await?;
    ensure!(
        found.len() == 2 && !found.iter().any(|(k, _)| k == "name"),
        "after the restart: {found:?}"
    );

    // Never a dead end: the dismissal is listed and "Undo" marks the name again.
    app.click(&format!("{item} .toggle-dismissed")).await?;
    let dismissed = format!("{item} .dismissed-finding[data-kind='name']");
    let listed = app
        .text_of(&format!("{dismissed} .finding-text"), SHORT)
        .await?;
    ensure!(listed == NAME, "dismissed listed as {listed:?}");
    app.screenshot(&display, "review-dismissed.png").await?;
    app.click(&format!("{dismissed} .restore-finding")).await?;
    app.wait_text(&format!("{item} mark.pii[data-kind='name']"), NAME, SHORT)
        .await?;
    app.wait_gone(&format!("{item} .toggle-dismissed"), SHORT)
        .await?;
    app.quit().await
}
