//! The walking skeleton in the real app: type a question, watch the reply stream in, restart,
//! find the conversation again; and a clear message when there is no model.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use fantoccini::Locator;
use oa_e2e::{AppUnderTest, Display, Launch};

const TEST_TIMEOUT: Duration = Duration::from_secs(300);
const REPLY_TIMEOUT: Duration = Duration::from_secs(180);

/// Records every change of the newest assistant bubble, with a timestamp: how many characters
/// of the reply have arrived (`data-chars`) and the text shown (Markdown rendered).
const RECORD_STREAM: &str = r#"
    window.__oaSnapshots = [];
    const record = () => {
        const bubbles = document.querySelectorAll('.message.assistant .message-text');
        const last = bubbles[bubbles.length - 1];
        if (!last) return;
        const chars = Number(last.dataset.chars || 0);
        const shots = window.__oaSnapshots;
        if (shots.length === 0 || shots[shots.length - 1].chars !== chars) {
            shots.push({ chars, text: last.textContent, at: performance.now() });
        }
    };
    new MutationObserver(record).observe(document.getElementById('app'),
        { subtree: true, childList: true, characterData: true });
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_gets_a_streamed_reply_that_is_there_after_a_restart() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, chat_and_restart())
        .await
        .context("test timed out")?
}

async fn chat_and_restart() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start(&display, &launch).await?;
    let (state, text) = app.model_state().await?;
    ensure!(state == "ready", "model not ready: {state} {text}");

    // A first start explains local-first and privacy, then goes straight into chat.
    let welcome = app.text_of("#welcome", Duration::from_secs(5)).await?;
    ensure!(
        welcome.contains("Runs on your computer") && welcome.contains("Private by default"),
        "welcome: {welcome:?}"
    );
    app.screenshot(&display, "welcome.png").await?;
    ensure!(app.past_welcome().await?, "the welcome was not shown");

    // The cursor waits in the composer: a person can type as soon as the window opens.
    let focused = app
        .client
        .execute(
            "return document.activeElement && document.activeElement.id;",
            vec![],
        )
        .await?;
    ensure!(
        focused == "composer",
        "focus is on {focused}, not the composer"
    );

    let prompt = "Tell me a fun fact about cats.";
    app.client.execute(RECORD_STREAM, vec![]).await?;
    let composer = app.client.find(Locator::Css("#composer")).await?;
    composer.send_keys(prompt).await?;
    app.client
        .find(Locator::Css("#send"))
        .await?
        .click()
        .await?;

    app.client
        .wait()
        .at_most(REPLY_TIMEOUT)
        .for_element(Locator::Css(".message.assistant[data-state='done']"))
        .await
        .context("the reply did not finish")?;
    let reply = app
        .text_of(
            ".message.assistant[data-state='done'] .message-text",
            Duration::from_secs(5),
        )
        .await?;
    let shots = app
        .client
        .execute("return window.__oaSnapshots;", vec![])
        .await?;
    let shots: Vec<(u64, String, f64)> = shots
        .as_array()
        .context("snapshots")?
        .iter()
        .map(|s| {
            (
                s["chars"].as_u64().unwrap_or(0),
                s["text"].as_str().unwrap_or_default().to_owned(),
                s["at"].as_f64().unwrap_or(0.0),
            )
        })
        .filter(|(chars, _, _)| *chars > 0)
        .collect();

    // Tokens arrive one by one: the bubble grows through many intermediate states, each
    // longer than the last and showing text, over a visible stretch of time.
    ensure!(
        shots.len() >= 5,
        "the reply appeared in {} steps, not streamed: {shots:?}",
        shots.len()
    );
    for pair in shots.windows(2) {
        ensure!(pair[1].0 > pair[0].0, "the reply shrank: {pair:?}");
        ensure!(
            !pair[1].1.trim().is_empty(),
            "a step showed no text: {pair:?}"
        );
    }
    let span = shots.last().map(|s| s.2).unwrap_or_default() - shots[0].2;
    ensure!(span > 100.0, "all text arrived within {span} ms");

    // The reply is English text.
    let words: Vec<&str> = reply.split_whitespace().collect();
    ensure!(words.len() >= 3, "reply too short: {reply:?}");
    let letters = reply.chars().filter(|c| c.is_ascii_alphabetic()).count();
    let visible = reply.chars().filter(|c| !c.is_whitespace()).count();
    ensure!(
        letters * 10 >= visible * 7,
        "reply is not English text: {reply:?}"
    );
    let common = [
        "the", "a", "is", "are", "and", "of", "to", "in", "cats", "cat", "they", "can",
    ];
    ensure!(
        words.iter().any(|w| common.contains(
            &w.trim_matches(|c: char| !c.is_alphabetic())
                .to_lowercase()
                .as_str()
        )),
        "reply has no common English word: {reply:?}"
    );
    app.screenshot(&display, "chat.png").await?;
    app.quit().await?;

    // Restart on the same data folder: no welcome again; the conversation is listed and opens
    // with both messages.
    let app = AppUnderTest::start(&display, &launch).await?;
    ensure!(!app.past_welcome().await?, "the welcome came back");
    let title = app
        .text_of("li.conversation", Duration::from_secs(20))
        .await?;
    ensure!(title.contains(prompt), "listed title {title:?}");
    app.client
        .find(Locator::Css("li.conversation"))
        .await?
        .click()
        .await?;
    let stored = app
        .text_of(".message.assistant .message-text", Duration::from_secs(20))
        .await?;
    ensure!(
        stored == reply,
        "after restart the reply reads {stored:?}, not {reply:?}"
    );
    let question = app
        .text_of(".message.prompter .message-text", Duration::from_secs(5))
        .await?;
    ensure!(question == prompt);
    app.screenshot(&display, "chat-after-restart.png").await?;
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_model_file_the_app_says_what_to_do() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, missing_model())
        .await
        .context("test timed out")?
}

async fn missing_model() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let missing = data.path().join("models/missing.gguf");
    let launch = Launch {
        data_dir: data.path().to_owned(),
        model: missing.clone(),
        hub_endpoint: None,
    };
    let app = AppUnderTest::start(&display, &launch).await?;
    app.past_welcome().await?;
    let (state, text) = app.model_state().await?;
    ensure!(state == "unavailable", "state {state}: {text}");
    ensure!(text.contains("No model file"), "status text: {text:?}");
    ensure!(
        text.contains(&missing.display().to_string()),
        "status text: {text:?}"
    );
    let send = app.client.find(Locator::Css("#send")).await?;
    app.client
        .find(Locator::Css("#composer"))
        .await?
        .send_keys("Hello?")
        .await?;
    ensure!(
        send.attr("disabled").await?.is_some(),
        "send is enabled without a model"
    );
    app.screenshot(&display, "no-model.png").await?;
    // The way out is one click away: the Models panel says where model files go.
    app.click("#choose-model").await?;
    let folder = app
        .text_of("#models-folder", Duration::from_secs(10))
        .await?;
    ensure!(
        folder == data.path().join("models").display().to_string(),
        "models folder shown: {folder:?}"
    );
    let list = app.text_of(".model-list", Duration::from_secs(10)).await?;
    ensure!(list.contains("No model files found"), "list: {list:?}");
    app.quit().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_folder_that_cannot_be_used_is_explained_in_the_window() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, unusable_data_folder())
        .await
        .context("test timed out")?
}

async fn unusable_data_folder() -> Result<()> {
    let root = tempfile::tempdir()?;
    // A file where the data folder should be: no database can be created below it.
    let blocker = root.path().join("not-a-folder");
    std::fs::write(&blocker, "")?;
    let display = Display::start()?;
    let launch = Launch {
        data_dir: blocker.join("data"),
        ..Launch::with_default_model(root.path())?
    };
    let app = AppUnderTest::start(&display, &launch).await?;
    // The window opens and says what is wrong, instead of the app vanishing.
    let notice = app
        .text_of(".notice .notice-text", Duration::from_secs(20))
        .await?;
    ensure!(
        notice.contains("Could not save or read your conversations")
            && notice.contains("not-a-folder"),
        "notice: {notice:?}"
    );
    // Sending says it again rather than losing the message silently.
    let (state, text) = app.model_state().await?;
    ensure!(state == "ready", "model not ready: {state} {text}");
    app.client
        .find(Locator::Css(".notice-close"))
        .await?
        .click()
        .await?;
    app.client
        .find(Locator::Css("#composer"))
        .await?
        .send_keys("Hello?")
        .await?;
    app.client
        .find(Locator::Css("#send"))
        .await?
        .click()
        .await?;
    let again = app
        .text_of(".notice .notice-text", Duration::from_secs(20))
        .await?;
    ensure!(again == notice, "after sending: {again:?}");
    app.screenshot(&display, "storage-error.png").await?;
    app.quit().await
}
