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

/// Asks `question` in a new chat, replies capped at `tokens`, and waits for the answer.
async fn ask(app: &AppUnderTest, question: &str, tokens: u32) -> Result<()> {
    app.click("#new-chat").await?;
    app.limit_replies(tokens).await?;
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
    ask(&app, private, 8).await?;
    ask(&app, shared, 8).await?;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rated_corrected_and_ranked_chat_ends_up_in_the_oasst_export() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, whole_system())
        .await
        .context("test timed out")?
}

async fn whole_system() -> Result<()> {
    // A server whose trees finish quickly: no reviews needed, ranked once the tree has five
    // messages, one ranking (through a task, as only those count) per parent.
    let server = oa_server::testing::TestServer::start_with(oa_server::Config {
        tree: oa_server::TreePolicy {
            reviews_initial_prompt: 0,
            reviews_reply: 0,
            goal_tree_size: 5,
            rankings_per_parent: 1,
            ..oa_server::TreePolicy::default()
        },
        ..oa_server::testing::load_config()
    })
    .await?;
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    let question = "Which colours are the primary colours of paint?";
    ask(&app, question, 24).await?;
    app.click(".message.assistant .thumb-up").await?;
    app.wait_for(".thumb-up.on", SHORT).await?;

    // Three answers, ranked: the card clicked first is the best.
    app.click(".message.assistant .compare").await?;
    app.wait_for("#compare-page", SHORT).await?;
    app.click(".compare-count[data-count='3']").await?;
    app.click("#compare-generate").await?;
    app.wait_count(".rank-cards .rank-card", 3, REPLY_TIMEOUT)
        .await?;
    app.wait_text("#compare-generate", "All answers written", REPLY_TIMEOUT)
        .await?;
    let mut best_first = Vec::new();
    for card in [2, 3, 1] {
        let css = format!(".rank-cards .rank-card:nth-child({card})");
        best_first.push(app.attr(&css, "data-id").await?);
        app.click(&format!("{css} .rank-pick")).await?;
    }
    app.click(".save-ranking").await?;
    app.wait_text(".ranking-saved", "Ranking saved.", SHORT)
        .await?;
    app.click("#compare-back").await?;
    app.wait_text(".message.assistant .version-label", "3 / 3", SHORT)
        .await?;

    // Labels on the answer shown, then a correction of it.
    app.click(".message.assistant .label-message").await?;
    app.wait_for("#labels-panel", SHORT).await?;
    app.click("[data-label='quality'] .label-value[data-value='0.75']")
        .await?;
    app.click("[data-label='spam'] .label-value[data-value='0']")
        .await?;
    app.click("#save-labels").await?;
    app.wait_gone("#labels-panel", SHORT).await?;
    let correction = "Red, yellow and blue are the traditional primary colours of paint.";
    app.click(".message.assistant .correct").await?;
    app.wait_for(".correct-box", SHORT).await?;
    app.set_value(".correct-box", correction).await?;
    app.click(".save-correction").await?;
    app.wait_text(".message.assistant .message-text", correction, SHORT)
        .await?;

    // Share it, sign in, and watch it go.
    app.click("#open-review").await?;
    app.click(".share-conversation").await?;
    app.wait_for(".review-item[data-state='queued']", SHORT)
        .await?;
    app.press(&Key::Escape.to_string()).await?;
    app.click("#open-settings").await?;
    app.set_value("#server-url", &server.base_url()).await?;
    app.set_value("#account-name", "Iris").await?;
    app.set_value("#account-password", "a long enough passphrase")
        .await?;
    app.click("#create-account").await?;
    let status = app
        .wait_text("#sync-status", "0 waiting", SYNC_TIMEOUT)
        .await?;
    ensure!(!status.contains("refused"), "nothing refused: {status:?}");
    app.press(&Key::Escape.to_string()).await?;
    app.quit().await?;

    // Iris's own ranking reached the server; being her own, it counts toward nothing. Kai, who
    // the server asks to rank the answers, agrees with her, and that finishes the tree.
    let own: i64 = sqlx::query_scalar("SELECT count(*) FROM rankings WHERE NOT leased")
        .fetch_one(server.pool())
        .await?;
    ensure!(own == 1, "Iris's ranking is on the server: {own}");
    let client = oa_sync::ServerClient::new(&server.base_url())?;
    let kai = client
        .register(&oa_types::RegisterRequest {
            display_name: "Kai".into(),
            password: "a long enough passphrase".into(),
            device_name: "laptop".into(),
        })
        .await?;
    let task = client
        .lease_tasks(
            &kai.token,
            &oa_types::LeaseRequest {
                count: 1,
                kinds: vec![oa_types::TaskKind::RankReplies],
            },
        )
        .await?
        .tasks
        .pop()
        .context("a ranking task for the shared chat")?;
    let parent = task.message_id.context("the task names its parent")?;
    let mut order: Vec<oa_types::Uuid> = best_first
        .iter()
        .map(|id| id.parse())
        .collect::<Result<_, _>>()?;
    let rest: Vec<oa_types::Uuid> = task
        .replies
        .iter()
        .map(|r| r.id)
        .filter(|id| !order.contains(id))
        .collect();
    order.extend(rest);
    let ranking = oa_types::EventPayload::Ranking(oa_types::RankingPayload {
        message_id: parent,
        ranking: oa_types::Ranking::Ranked(order),
    });
    let results = client
        .ingest(
            &kai.token,
            &[oa_types::SubmittedEvent {
                id: oa_types::Uuid::now_v7(),
                kind: oa_types::ContributionKind::Ranking,
                subject_id: parent,
                conversation_id: task.tree_id.unwrap_or(parent),
                created_at_ms: 1_764_000_000_000,
                payload: ranking.to_json(),
                task_id: Some(task.id),
            }],
        )
        .await?;
    ensure!(
        results[0].status == oa_types::EventStatus::Accepted,
        "{results:?}"
    );

    // The dataset, as `oa-server export` writes it.
    let out = tempfile::tempdir()?;
    let url = server.database().context("a database")?.url();
    let export = std::process::Command::new(oa_server::testing::server_binary()?)
        .args(["export", "--database-url", &url, "--prefix", "e2e", "--out"])
        .arg(out.path())
        .output()?;
    ensure!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let trees = std::fs::read_to_string(out.path().join("e2e.trees.jsonl"))?;
    let trees: Vec<oa_types::OasstTree> = trees
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let tree = trees
        .iter()
        .find(|t| t.prompt.text == question)
        .with_context(|| format!("the conversation is exported: {trees:?}"))?;
    let root = &tree.prompt;
    ensure!(root.role == "prompter" && !root.synthetic && root.parent_id.is_none());
    let replies = root.replies.as_deref().unwrap_or_default();
    ensure!(
        replies.len() == 4,
        "three answers and the correction: {replies:#?}"
    );
    for reply in replies {
        ensure!(reply.parent_id == Some(root.message_id), "{reply:?}");
    }
    // The flat file links the same messages to the same tree.
    let messages = std::fs::read_to_string(out.path().join("e2e.messages.jsonl"))?;
    let messages: Vec<oa_types::OasstMessage> = messages
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let flat: Vec<_> = messages
        .iter()
        .filter(|m| m.message_tree_id == Some(root.message_id))
        .collect();
    ensure!(
        flat.len() == 5,
        "the prompt and its four replies: {flat:#?}"
    );
    for reply in replies {
        let same = flat.iter().find(|m| m.message_id == reply.message_id);
        ensure!(
            same.is_some_and(|m| m.parent_id == Some(root.message_id) && m.text == reply.text),
            "{reply:?} in the messages file"
        );
    }
    let (model, human): (Vec<_>, Vec<_>) = replies.iter().partition(|m| m.synthetic);
    ensure!(model.len() == 3 && human.len() == 1, "{replies:#?}");
    ensure!(human[0].text == correction && human[0].model_name.is_none());
    for m in &model {
        let name = m.model_name.as_deref().unwrap_or_default().to_lowercase();
        ensure!(name.contains("smollm2"), "provenance kept: {m:?}");
    }
    let ranked: Vec<String> = {
        let mut by_rank: Vec<_> = model.iter().filter_map(|m| Some((m.rank?, m))).collect();
        by_rank.sort_by_key(|(rank, _)| *rank);
        by_rank
            .iter()
            .map(|(_, m)| m.message_id.to_string())
            .collect()
    };
    ensure!(
        ranked == best_first,
        "the ranking is the consensus: {ranked:?} vs {best_first:?}"
    );
    let labelled = model
        .iter()
        .find(|m| m.labels.is_some())
        .context("the labelled answer")?;
    let quality = &labelled.labels.as_ref().unwrap()["quality"];
    ensure!(quality.count == 1 && (quality.value - 0.75).abs() < 1e-9);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_leased_from_the_server_is_done_and_counts_on_the_leaderboard() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, leased_task())
        .await
        .context("test timed out")?
}

async fn leased_task() -> Result<()> {
    // No first-prompt tasks: the only work is reviewing Kim's prompt.
    let server = oa_server::testing::TestServer::start_with(oa_server::Config {
        tree: oa_server::TreePolicy {
            max_active_trees: 0,
            ..oa_server::TreePolicy::default()
        },
        ..oa_server::testing::load_config()
    })
    .await?;
    // Someone else's prompt waits for reviews.
    let client = oa_sync::ServerClient::new(&server.base_url())?;
    let kim = client
        .register(&oa_types::RegisterRequest {
            display_name: "Kim".into(),
            password: "a long enough passphrase".into(),
            device_name: "laptop".into(),
        })
        .await?;
    let prompt = oa_types::Message {
        id: oa_types::Uuid::now_v7(),
        conversation_id: oa_types::Uuid::now_v7(),
        parent_id: None,
        role: oa_types::Role::Prompter,
        text: "Why do onions make people cry?".into(),
        created_at_ms: 1_764_000_000_000,
        provenance: None,
        corrects: None,
    };
    client
        .ingest(
            &kim.token,
            &[oa_types::SubmittedEvent {
                id: oa_types::Uuid::now_v7(),
                kind: oa_types::ContributionKind::Message,
                subject_id: prompt.id,
                conversation_id: prompt.conversation_id,
                created_at_ms: prompt.created_at_ms,
                payload: serde_json::to_string(&prompt)?,
                task_id: None,
            }],
        )
        .await?;

    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let app = AppUnderTest::start_ready(&display, &launch).await?;

    // Not signed in: asking for tasks says what to do.
    app.click("#open-contribute").await?;
    app.click("#lease-tasks").await?;
    app.wait_text(".field-error", "sign in", SHORT).await?;

    app.click("#open-settings").await?;
    app.set_value("#server-url", &server.base_url()).await?;
    app.set_value("#account-name", "Lee").await?;
    app.set_value("#account-password", "a long enough passphrase")
        .await?;
    app.click("#create-account").await?;
    app.wait_text("#signed-in", "Lee", SHORT).await?;
    app.press(&Key::Escape.to_string()).await?;
    app.wait_gone("#settings-panel", SHORT).await?;

    // The server's review task comes first, with the prompt to label and its lease.
    app.click("#open-contribute").await?;
    app.click("#lease-tasks").await?;
    app.wait_for(".task-card[data-kind='label_message'] .task-lease", SHORT)
        .await?;
    let context = app.text_of(".task-card .task-context", SHORT).await?;
    ensure!(context.contains(&prompt.text), "context: {context:?}");
    let lease = app.text_of(".task-card .task-lease", SHORT).await?;
    ensure!(lease.contains("leased for"), "lease: {lease:?}");
    app.click("[data-label='spam'] .label-value[data-value='0']")
        .await?;
    app.click("[data-label='quality'] .label-value[data-value='0.75']")
        .await?;
    app.screenshot(&display, "leased-task.png").await?;
    app.click(".task-submit").await?;
    app.wait_for(".task-saved", SHORT).await?;

    // Sent without asking, and the server counts the task done.
    let deadline = std::time::Instant::now() + SYNC_TIMEOUT;
    loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM tasks t JOIN labels l ON l.event_id = t.result_event_id
             WHERE t.completed_at IS NOT NULL AND l.message_id = $1",
        )
        .bind(prompt.id)
        .fetch_one(server.pool())
        .await?;
        if done == 1 {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the result never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The leaderboard shows Lee with the points for it.
    app.click("#open-review").await?;
    app.click("#open-contribute").await?;
    app.click(".standing-window[data-window='all']").await?;
    app.wait_text(".standing-table tr.me", "Lee", SHORT).await?;
    app.wait_text("#my-standing", "You are #", SHORT).await?;
    app.screenshot(&display, "leaderboard.png").await?;
    app.quit().await
}
