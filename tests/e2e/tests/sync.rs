//! Sharing from the real app to the real dataset server: sign in under Settings, share a
//! conversation under Review & Share, find it in the server's database, and withdraw it.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};
use oa_server::testing::TestServer;

const TEST_TIMEOUT: Duration = Duration::from_secs(400);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(10);
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_conversation_reaches_the_server_once_signed_in_and_a_private_one_never()
-> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, share())
        .await
        .context("test timed out")?
}

async fn ask(app: &AppUnderTest, question: &str) -> Result<()> {
    app.click("#new-chat").await?;
    app.limit_replies(8).await?;
    app.type_into("#composer", question).await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(".message.assistant[data-state='done']", REPLY_TIMEOUT)
        .await?;
    app.wait_for("#send", REPLY_TIMEOUT).await?;
    Ok(())
}

async fn share() -> Result<()> {
    let server = TestServer::start().await?;
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    let private = "Please keep this one to myself: what rhymes with orange?";
    let shared = "Name a bird that cannot fly.";
    ask(&app, private).await?;
    ask(&app, shared).await?;

    // Share the newest conversation (listed first) before any server is set: it waits.
    app.click("#open-review").await?;
    app.click(".share-conversation").await?;
    app.wait_for(".review-item[data-state='queued']", SHORT)
        .await?;

    // Sign in: the agent sends it without being asked.
    app.click("#open-settings").await?;
    app.set_value("#server-url", &server.base_url()).await?;
    app.set_value("#account-name", "Erin").await?;
    app.set_value("#account-password", "a long enough passphrase")
        .await?;
    app.click("#create-account").await?;
    app.wait_text("#signed-in", "Erin", SHORT).await?;
    let status = app
        .wait_text("#sync-status", "0 waiting", SYNC_TIMEOUT)
        .await?;
    ensure!(status.contains("Online"), "{status:?}");
    app.screenshot(&display, "settings-account.png").await?;

    let texts: Vec<String> = sqlx::query_scalar("SELECT text FROM messages ORDER BY text")
        .fetch_all(server.pool())
        .await?;
    ensure!(
        texts.iter().filter(|t| t.as_str() == shared).count() == 1,
        "the shared prompt once: {texts:?}"
    );
    ensure!(
        !texts.iter().any(|t| t == private),
        "the private conversation never left: {texts:?}"
    );

    // Taking it back: a retraction goes to the server.
    app.press(&Key::Escape.to_string()).await?;
    app.wait_gone("#settings-panel", SHORT).await?;
    app.click("#open-review").await?;
    app.click(".withdraw-conversation").await?;
    app.wait_for(".review-item[data-kind='retraction']", SHORT)
        .await?;
    app.click("#open-settings").await?;
    app.wait_text("#sync-status", "0 waiting", SYNC_TIMEOUT)
        .await?;
    let retracted: i64 = sqlx::query_scalar("SELECT count(*) FROM retractions")
        .fetch_one(server.pool())
        .await?;
    ensure!(
        retracted == 2,
        "the prompt and its reply withdrawn: {retracted}"
    );

    // Logging out forgets the account here.
    app.click("#log-out").await?;
    app.wait_for("#create-account", SHORT).await?;
    app.press(&Key::Escape.to_string()).await?;
    app.quit().await
}
