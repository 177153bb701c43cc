//! Contributing in the real app, offline: comparing and ranking several answers, a task from
//! the Contribute page, and Review & Share with personal data flagged and redacted before it
//! is queued; everything still there after a restart.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};

const TEST_TIMEOUT: Duration = Duration::from_secs(420);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);
const SHORT: Duration = Duration::from_secs(10);

/// Sends `prompt` in a new chat with short replies and waits for the answer.
async fn ask(app: &AppUnderTest, prompt: &str) -> Result<()> {
    app.limit_replies(10).await?;
    app.type_into("#composer", prompt).await?;
    app.press(&Key::Enter.to_string()).await?;
    app.wait_for(
        ".message.assistant[data-state='done'] .thumb-down",
        REPLY_TIMEOUT,
    )
    .await?;
    Ok(())
}

/// The ranks the compare page shows, in card order (`0` for an unranked card).
async fn ranks(app: &AppUnderTest) -> Result<Vec<u64>> {
    let value = app
        .client
        .execute(
            "return [...document.querySelectorAll('.rank-cards .rank-card')]
                 .map(c => Number(c.dataset.rank || 0));",
            vec![],
        )
        .await?;
    serde_json::from_value(value).context("reading the ranks")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_answers_are_compared_and_ranked() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, compare_and_rank())
        .await
        .context("test timed out")?
}

async fn compare_and_rank() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    ask(&app, "Name a fruit that is yellow.").await?;

    // Compare: three answers, the one already there and two more.
    app.click(".message.assistant .compare").await?;
    app.wait_for("#compare-page", SHORT).await?;
    app.wait_count(".rank-cards .rank-card", 1, SHORT).await?;
    app.click(".compare-count[data-count='3']").await?;
    app.wait_text("#compare-generate", "Write 2 more answers", SHORT)
        .await?;
    app.click("#compare-generate").await?;
    app.wait_count(".rank-cards .rank-card", 3, REPLY_TIMEOUT)
        .await?;
    app.wait_text("#compare-generate", "All answers written", REPLY_TIMEOUT)
        .await?;
    ensure!(
        app.count(".save-ranking:disabled").await? == 1,
        "a ranking that leaves answers out cannot be saved"
    );

    // Rank C, A, B by clicking, then move B above A with the keyboard: C, B, A.
    app.click(".rank-cards .rank-card:nth-child(3) .rank-pick")
        .await?;
    app.click(".rank-cards .rank-card:nth-child(1) .rank-pick")
        .await?;
    app.click(".rank-cards .rank-card:nth-child(2) .rank-pick")
        .await?;
    ensure!(ranks(&app).await? == [2, 3, 1], "after clicks");
    app.client
        .execute(
            "document.querySelector('.rank-order .rank-row:nth-child(3) .rank-up').focus();",
            vec![],
        )
        .await?;
    app.press(&Key::Enter.to_string()).await?;
    ensure!(
        ranks(&app).await? == [3, 2, 1],
        "after moving B up: {:?}",
        ranks(&app).await?
    );
    app.screenshot(&display, "compare.png").await?;
    app.click(".save-ranking").await?;
    app.wait_text(".ranking-saved", "Ranking saved.", SHORT)
        .await?;

    // The new answers are versions in the chat.
    app.click("#compare-back").await?;
    app.wait_text(".message.assistant .version-label", "3 / 3", SHORT)
        .await?;

    // After a restart the ranking is still there.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("li.conversation").await?;
    app.click(".message.assistant .compare").await?;
    app.wait_text(".ranking-saved", "Ranking saved.", SHORT)
        .await?;
    ensure!(ranks(&app).await? == [3, 2, 1], "after restart");
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_from_the_queue_is_done_offline() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, do_a_task())
        .await
        .context("test timed out")?
}

async fn do_a_task() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    ask(&app, "What is the boiling point of water at sea level?").await?;
    app.click(".message.assistant .thumb-down").await?;
    app.click(".reasons .reason[data-reason='wrong']").await?;
    app.click(".save-rating").await?;
    app.wait_for(".thumb-down.on", SHORT).await?;

    // The thumbs-down asks for a better answer first.
    app.click("#open-contribute").await?;
    app.wait_for(".task-card[data-kind='assistant_reply']", SHORT)
        .await?;
    app.wait_for("#task-progress[data-done-today='0']", SHORT)
        .await?;
    let reasons = app.text_of(".task-reasons", SHORT).await?;
    ensure!(reasons.contains("Wrong"), "reasons shown: {reasons:?}");
    let better = "Water boils at 100 °C (212 °F) at sea level.";
    app.set_value(".task-text", better).await?;
    app.screenshot(&display, "contribute.png").await?;
    app.click(".task-submit").await?;
    app.wait_for("#task-progress[data-done-today='1']", SHORT)
        .await?;
    app.wait_for(".task-saved", SHORT).await?;

    // Next: label the answer that was rated. Skipping puts it aside for good.
    app.wait_for(".task-card[data-kind='label_message']", SHORT)
        .await?;
    app.click(".task-skip").await?;
    app.wait_gone(".task-card[data-kind='label_message']", SHORT)
        .await?;
    app.wait_for(".task-card", SHORT).await?;

    // After a restart: the progress, the skip and the better answer are all kept.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-contribute").await?;
    app.wait_for(
        "#task-progress[data-done-total='1'][data-streak='1']",
        SHORT,
    )
    .await?;
    app.wait_for(".task-card", SHORT).await?;
    ensure!(
        app.count(".task-card[data-kind='label_message']").await? == 0
            && app.count(".task-card[data-kind='assistant_reply']").await? == 0,
        "done and skipped tasks came back"
    );
    app.click("li.conversation").await?;
    app.wait_text(".message.assistant .message-text", better, SHORT)
        .await?;
    app.wait_text(".message.assistant .version-label", "2 / 2", SHORT)
        .await?;
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_redacted_before_sharing_and_unsharing_takes_it_back() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, review_and_share())
        .await
        .context("test timed out")?
}

async fn review_and_share() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    ask(
        &app,
        "Reach me at jane.okafor@example.com or +1 415 555 0142. Say hello.",
    )
    .await?;

    // Everything is private; the prompt is flagged with both findings marked in its payload.
    app.click("#open-review").await?;
    let prompt = ".review-item.flagged[data-kind='message']";
    app.wait_for(prompt, SHORT).await?;
    ensure!(
        app.count(".review-item:not([data-state='private'])")
            .await?
            == 0,
        "something was shared without asking"
    );
    let email = app
        .text_of(&format!("{prompt} mark.pii[data-kind='email']"), SHORT)
        .await?;
    let phone = app
        .text_of(&format!("{prompt} mark.pii[data-kind='phone']"), SHORT)
        .await?;
    ensure!(
        email == "jane.okafor@example.com",
        "email marked: {email:?}"
    );
    ensure!(phone == "+1 415 555 0142", "phone marked: {phone:?}");
    let id = app.attr(prompt, "data-id").await?;
    let item = format!(".review-item[data-id='{id}']");
    app.screenshot(&display, "review.png").await?;

    // Redact, then share: the payload in the queue holds placeholders only.
    app.click(&format!("{item} .redact")).await?;
    app.wait_for(&format!("{item}[data-redacted='true']"), SHORT)
        .await?;
    app.click(&format!("{item} .toggle-payload")).await?;
    let payload = app.text_of(&format!("{item} .payload"), SHORT).await?;
    ensure!(
        payload.contains("[email]") && payload.contains("[phone]"),
        "redacted payload: {payload}"
    );
    ensure!(
        !payload.contains("jane.doe") && !payload.contains("555 0142"),
        "personal data left in: {payload}"
    );
    app.click(&format!("{item} .share-item")).await?;
    app.wait_for(&format!("{item}[data-state='queued']"), SHORT)
        .await?;
    app.wait_text(".summary-count[data-state='queued']", "1 queued", SHORT)
        .await?;

    // Unsharing takes it out of the queue.
    app.click(&format!("{item} .unshare-item")).await?;
    app.wait_for(&format!("{item}[data-state='private']"), SHORT)
        .await?;
    app.wait_text(".summary-count[data-state='queued']", "0 queued", SHORT)
        .await?;

    // After a restart: still private and still redacted; a whole conversation can be shared
    // and taken back at once.
    app.quit().await?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-review").await?;
    app.wait_for(
        &format!("{item}[data-state='private'][data-redacted='true']"),
        SHORT,
    )
    .await?;
    ensure!(
        app.count(&format!("{item} mark.pii")).await? == 0,
        "findings after redaction"
    );
    let items = app.count(".review-item").await?;
    app.click(".share-conversation").await?;
    app.wait_count(".review-item[data-state='queued']", items, SHORT)
        .await?;
    app.click(".unshare-conversation").await?;
    app.wait_count(".review-item[data-state='private']", items, SHORT)
        .await?;
    app.quit().await
}
