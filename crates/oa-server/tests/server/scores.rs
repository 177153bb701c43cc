//! A tree from first prompt to export: leaderboard points scaled by trust, rank bonuses, the
//! oasst files, and a retraction that takes content out of them.

use std::io::Read as _;

use anyhow::{Context as _, Result};
use oa_server::TreePolicy;
use oa_server::testing::TestServer;
use oa_types::{OasstMessage, OasstTree, Role, SubmittedEvent, TaskKind, Uuid};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{
    Contributor, config_with, labels_event, message, message_event, new_prompt, ranking_event,
    register, retraction_event, synthetic,
};
use super::pipeline::{lease, rank_by_task, reply_by_task, tree};

struct Finished {
    server: TestServer,
    alice: Contributor,
    writers: Vec<(Contributor, oa_types::Message, SubmittedEvent)>,
    rankers: Vec<Contributor>,
    prompt: oa_types::Message,
    model_reply: oa_types::Message,
}

/// Alice asks; Bob, Carol and Dave reply by hand and a model replies too; Erin, Frank and Gina
/// label and rank the replies (best: Carol, Bob, model, Dave). The tree ends ready for export.
async fn finished_tree() -> Result<Finished> {
    let server = TestServer::start_with(config_with(TreePolicy {
        reviews_initial_prompt: 0,
        reviews_reply: 0,
        goal_tree_size: 5,
        max_children: 4,
        ..TreePolicy::default()
    }))
    .await?;
    let alice = register(&server, "Alice").await?;
    let prompt = new_prompt("What should I cook tonight?");
    let conversation = prompt.conversation_id;
    alice.ingest_ok(&[message_event(&prompt)]).await?;
    let model_reply = synthetic(
        conversation,
        prompt.id,
        "Pasta with tomatoes and basil is a good choice tonight, because it is quick to make, cheap to buy and almost everybody at the table likes it.",
    );
    alice.ingest_ok(&[message_event(&model_reply)]).await?;
    let mut writers = Vec::new();
    for (name, text) in [
        ("Bob", "A risotto with mushrooms, if you have an hour."),
        ("Carol", "A quick vegetable curry with rice: 30 minutes."),
        ("Dave", "Cereal."),
    ] {
        let writer = register(&server, name).await?;
        let (event, reply) = reply_by_task(&writer, &prompt, Role::Assistant, text).await?;
        writers.push((writer, reply, event));
    }
    assert_eq!(tree(&alice, prompt.id).await?["state"], "ranking");
    let best_first = [
        writers[1].1.id,
        writers[0].1.id,
        model_reply.id,
        writers[2].1.id,
    ];
    let mut rankers = Vec::new();
    for (name, quality) in [("Erin", 1.0), ("Frank", 0.75), ("Gina", 1.0)] {
        let ranker = register(&server, name).await?;
        ranker
            .ingest_ok(&[labels_event(
                &writers[1].1,
                json!({ "quality": quality, "spam": 0 }),
            )])
            .await?;
        rank_by_task(&ranker, &prompt, &best_first).await?;
        rankers.push(ranker);
    }
    let view = tree(&alice, prompt.id).await?;
    assert_eq!(view["state"], "ready_for_export", "{view}");
    Ok(Finished {
        server,
        alice,
        writers,
        rankers,
        prompt,
        model_reply,
    })
}

async fn leaderboard(who: &Contributor, window: &str) -> Result<Value> {
    let (status, body) = who
        .call(
            Method::GET,
            &format!("/v1/leaderboard?window={window}"),
            None,
        )
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "{status} {body}");
    Ok(body)
}

fn score_of(board: &Value, name: &str) -> Option<f64> {
    board["entries"]
        .as_array()?
        .iter()
        .find(|e| e["display_name"] == name)
        .and_then(|e| e["score"].as_f64())
}

#[tokio::test]
async fn the_leaderboard_weighs_work_and_rank_bonuses_by_trust() -> Result<()> {
    let f = finished_tree().await?;
    for window in ["day", "week", "month", "all"] {
        let board = leaderboard(&f.alice, window).await?;
        assert_eq!(board["window"], window);
        // Carol: reply 4 + best reply 9; Bob: 4 + 3; Dave: 4 (ranked 4th); all at a newcomer's
        // trust. Alice: one prompt (the model's reply earns nothing).
        let newcomer = f64::from(oa_server::trust(0.0, 0) as f32);
        let close = |name: &str, expected: f64| {
            let got = score_of(&board, name).unwrap_or(f64::NAN);
            assert!((got - expected).abs() < 1e-4, "{name}: {got} vs {expected}");
        };
        close("Carol", 13.0 * newcomer);
        close("Bob", 7.0 * newcomer);
        close("Dave", 4.0 * newcomer);
        close("Alice", 1.0 * newcomer);
        assert_eq!(board["entries"][0]["display_name"], "Carol");
        assert_eq!(board["entries"][0]["rank"], 1);
        assert_eq!(board["entries"][0]["replies"], 1);
    }
    // The rankers agreed perfectly: their trust rose above the newcomer's, and it scales their
    // points (labels 1 + ranking 1).
    let (_, stats) = f.rankers[0].call(Method::GET, "/v1/me/stats", None).await?;
    assert_eq!(stats["rankings_scored"], 1);
    assert_eq!(stats["agreement"], 1.0);
    assert_eq!(stats["agreement_history"][0]["tau"], 1.0);
    let trust = stats["trust"].as_f64().unwrap();
    assert!(trust > oa_server::trust(0.0, 0), "{stats}");
    let all = &stats["windows"][3];
    assert_eq!(all[0], "all");
    assert_eq!(all[1]["labels"], 1);
    assert_eq!(all[1]["rankings"], 1);
    assert!((all[1]["score"].as_f64().unwrap() - 2.0 * trust).abs() < 1e-4);

    let (status, body) = f
        .alice
        .call(Method::GET, "/v1/leaderboard?window=year", None)
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_input"))
    );
    let (_, fresh) = register(&f.server, "Newcomer")
        .await?
        .call(Method::GET, "/v1/me/stats", None)
        .await?;
    assert_eq!(fresh["windows"][0][1]["rank"], 0);
    assert_eq!(fresh["agreement"], Value::Null);
    Ok(())
}

fn read(path: &std::path::Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text)?;
        Ok(text)
    } else {
        Ok(String::from_utf8(bytes)?)
    }
}

fn lines<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>> {
    text.lines()
        .map(|line| serde_json::from_str(line).context("an oasst record"))
        .collect()
}

#[tokio::test]
async fn the_export_has_ranks_labels_and_loses_what_is_retracted() -> Result<()> {
    let f = finished_tree().await?;
    // An unfinished tree is not exported.
    let unfinished = message(
        Uuid::now_v7(),
        None,
        Role::Prompter,
        "Still growing, this one.",
    );
    f.alice.ingest_ok(&[message_event(&unfinished)]).await?;

    let dir = tempfile::tempdir()?;
    let summary = oa_server::export(f.server.pool(), dir.path(), "oasst", true).await?;
    assert_eq!((summary.trees, summary.messages), (1, 5));
    assert!(summary.trees_path.ends_with("oasst.trees.jsonl.gz"));
    let trees: Vec<OasstTree> = lines(&read(&summary.trees_path)?)?;
    let messages: Vec<OasstMessage> = lines(&read(&summary.messages_path)?)?;
    assert_eq!(trees.len(), 1);
    assert_eq!(messages.len(), 5);
    let root = &trees[0].prompt;
    assert_eq!(trees[0].message_tree_id, f.prompt.id);
    assert_eq!(trees[0].tree_state, "ready_for_export");
    assert_eq!(root.text, f.prompt.text);
    // Languages are guessed from the text on arrival, as the desktop guesses them.
    let model = messages
        .iter()
        .find(|m| m.message_id == f.model_reply.id)
        .context("the model's reply")?;
    assert_eq!(model.lang.as_deref(), Some("en"), "{:?}", model.text);
    assert!(root.created_date.ends_with("+00:00") && root.created_date.contains('T'));
    let replies = root.replies.as_ref().context("replies")?;
    assert_eq!(replies.len(), 4);
    let by_id = |id: Uuid| replies.iter().find(|m| m.message_id == id).unwrap();
    assert_eq!(by_id(f.writers[1].1.id).rank, Some(0));
    assert_eq!(by_id(f.writers[0].1.id).rank, Some(1));
    assert_eq!(by_id(f.model_reply.id).rank, Some(2));
    assert_eq!(by_id(f.writers[2].1.id).rank, Some(3));
    let model = by_id(f.model_reply.id);
    assert!(model.synthetic);
    assert_eq!(model.model_name.as_deref(), Some("SmolLM2 135M Instruct"));
    let labels = by_id(f.writers[1].1.id).labels.as_ref().context("labels")?;
    assert_eq!(labels["quality"].count, 3);
    assert!((labels["quality"].value - 2.75 / 3.0).abs() < 1e-9);
    assert_eq!(labels["spam"].value, 0.0);
    assert!(
        messages
            .iter()
            .all(|m| m.message_tree_id == Some(f.prompt.id))
    );
    assert!(messages.iter().all(|m| m.replies.is_none()));
    // Contributors are pseudonymous: no account id (the leaderboard's) appears, one person's
    // messages share an id within this export, and the next export uses other ids.
    let accounts: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM accounts")
        .fetch_all(f.server.pool())
        .await?;
    assert!(
        messages
            .iter()
            .all(|m| m.user_id.is_some_and(|u| !accounts.contains(&u))),
        "an account id is in the export"
    );
    let exported_text = read(&summary.messages_path)?;
    for account in &accounts {
        assert!(!exported_text.contains(&account.to_string()));
    }
    let author = |id: Uuid| {
        messages
            .iter()
            .find(|m| m.message_id == id)
            .and_then(|m| m.user_id)
    };
    // Alice wrote the prompt and uploaded the model's reply; Bob, Carol and Dave one each.
    assert_eq!(author(f.prompt.id), author(f.model_reply.id));
    let authors: std::collections::HashSet<Uuid> =
        messages.iter().filter_map(|m| m.user_id).collect();
    assert_eq!(authors.len(), 4, "four authors, four ids");

    // Bob deletes his reply on his desktop: the retraction removes it from the next export and
    // takes his points away.
    let (bob, bobs_reply, bobs_event) = &f.writers[0];
    bob.ingest_ok(&[retraction_event(bobs_event)]).await?;
    let plain = tempfile::tempdir()?;
    let summary = oa_server::export(f.server.pool(), plain.path(), "after", false).await?;
    assert_eq!((summary.trees, summary.messages), (1, 4));
    let later: Vec<OasstMessage> = lines(&read(&summary.messages_path)?)?;
    let root_id = |ms: &[OasstMessage]| {
        ms.iter()
            .find(|m| m.parent_id.is_none())
            .and_then(|m| m.user_id)
    };
    assert_ne!(
        root_id(&later),
        root_id(&messages),
        "another export, another id"
    );
    let trees_text = read(&summary.trees_path)?;
    let messages_text = read(&summary.messages_path)?;
    for text in [&trees_text, &messages_text] {
        assert!(!text.contains(&bobs_reply.text), "retracted text is gone");
        assert!(
            !text.contains(&bobs_reply.id.to_string()),
            "and so is its id"
        );
    }
    let stored: String =
        sqlx::query_scalar("SELECT payload::text FROM contribution_events WHERE id = $1")
            .bind(bobs_event.id)
            .fetch_one(f.server.pool())
            .await?;
    assert!(
        !stored.contains(&bobs_reply.text),
        "the raw event is emptied: {stored}"
    );
    let board = leaderboard(&f.alice, "all").await?;
    assert_eq!(score_of(&board, "Bob"), None, "{board}");
    // A replay of the retracted message is refused, not resurrected.
    let replay = bob.ingest(std::slice::from_ref(bobs_event)).await?;
    assert_eq!(replay[0].status, oa_types::EventStatus::Duplicate);
    let text: String = sqlx::query_scalar("SELECT text FROM messages WHERE id = $1")
        .bind(bobs_reply.id)
        .fetch_one(f.server.pool())
        .await?;
    assert_eq!(text, "");
    Ok(())
}

#[tokio::test]
async fn the_export_command_writes_both_files() -> Result<()> {
    let f = finished_tree().await?;
    let dir = tempfile::tempdir()?;
    let url = f.server.database().context("a database")?.url().to_owned();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_oa-server"))
        .args([
            "export",
            "--database-url",
            &url,
            "--prefix",
            "nightly",
            "--out",
        ])
        .arg(dir.path())
        .output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let trees = read(&dir.path().join("nightly.trees.jsonl"))?;
    let messages = read(&dir.path().join("nightly.messages.jsonl"))?;
    assert_eq!(trees.lines().count(), 1);
    assert_eq!(messages.lines().count(), 5);
    Ok(())
}

#[tokio::test]
async fn a_chain_of_a_hundred_thousand_replies_is_exported_without_recursion() -> Result<()> {
    const DEPTH: i64 = 100_000;
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let pool = server.pool();
    // Written straight into the tables (the pipeline's depth limit would stop it at the door),
    // as a database restored from elsewhere or an older server could hold it.
    let id = |what: &str| format!("md5({what}::text || 'deep')::uuid");
    let root = id("0");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO message_trees (id, state) VALUES ({root}, 'ready_for_export')"
    )))
    .execute(pool)
    .await?;
    sqlx::query(
        "INSERT INTO contribution_events (id, account_id, device_id, kind, payload) \
         SELECT md5(i::text || 'event')::uuid, $1, $2, 'message', '{}'::jsonb \
         FROM generate_series(0, $3 - 1) AS i",
    )
    .bind(alice.account())
    .bind(alice.session.device_id)
    .bind(DEPTH)
    .execute(pool)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO messages (id, tree_id, parent_id, event_id, account_id, role, text, depth, \
                               synthetic, created_at, review_state) \
         SELECT {me}, {root}, CASE WHEN i = 0 THEN NULL ELSE {parent} END, \
                md5(i::text || 'event')::uuid, $1, \
                CASE WHEN i % 2 = 0 THEN 'prompter' ELSE 'assistant' END, \
                'turn ' || i, i, false, now(), 'accepted' \
         FROM generate_series(0, $2 - 1) AS i",
        me = id("i"),
        parent = id("(i - 1)"),
    )))
    .bind(alice.account())
    .bind(DEPTH)
    .execute(pool)
    .await?;

    let dir = tempfile::tempdir()?;
    let summary = oa_server::export(pool, dir.path(), "deep", false).await?;
    assert_eq!((summary.trees, summary.messages), (1, DEPTH as u64));
    let messages = std::fs::read_to_string(&summary.messages_path)?;
    assert_eq!(messages.lines().count(), DEPTH as usize);
    let last: OasstMessage = serde_json::from_str(messages.lines().last().unwrap_or_default())?;
    assert_eq!(last.text, format!("turn {}", DEPTH - 1));
    // The tree is one line nesting every reply in the one before; balanced to the end.
    let trees = std::fs::read_to_string(&summary.trees_path)?;
    assert_eq!(trees.lines().count(), 1);
    assert_eq!(trees.matches("\"replies\":[").count(), DEPTH as usize - 1);
    let (mut depth, mut deepest) = (0i64, 0i64);
    for byte in trees.bytes() {
        match byte {
            b'[' => depth += 1,
            b']' => depth -= 1,
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    assert_eq!((depth, deepest), (0, DEPTH - 1));
    Ok(())
}

/// A tree whose messages need no reviews and that is ranked at `goal_tree_size` messages:
/// these tests are about what happens after.
fn unreviewed(goal_tree_size: u32) -> TreePolicy {
    TreePolicy {
        reviews_initial_prompt: 0,
        reviews_reply: 0,
        goal_tree_size,
        ..TreePolicy::default()
    }
}

/// Alice asks `question` in a tree of her own; each named writer answers it through a reply
/// task. Alice, her prompt and the replies in order.
async fn asked_and_answered(
    server: &TestServer,
    question: &str,
    answers: [(&str, &str); 2],
) -> Result<(Contributor, oa_types::Message, Vec<oa_types::Message>)> {
    let alice = register(server, "Alice").await?;
    let prompt = new_prompt(question);
    alice.ingest_ok(&[message_event(&prompt)]).await?;
    let mut replies = Vec::new();
    for (name, text) in answers {
        let writer = register(server, name).await?;
        replies.push(
            reply_by_task(&writer, &prompt, Role::Assistant, text)
                .await?
                .1,
        );
    }
    Ok((alice, prompt, replies))
}

/// The rank bonuses (`reply_ranked_*` points) a message earned.
async fn rank_bonuses(server: &TestServer, message: Uuid) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT kind FROM score_events WHERE message_id = $1 AND kind LIKE 'reply_ranked_%' \
         ORDER BY kind",
    )
    .bind(message)
    .fetch_all(server.pool())
    .await?)
}

#[tokio::test]
async fn withdrawn_labels_and_rankings_leave_the_consensus_the_points_and_the_export() -> Result<()>
{
    let server = TestServer::start_with(config_with(unreviewed(3))).await?;
    let (alice, prompt, replies) = asked_and_answered(
        &server,
        "How do I keep basil alive on a windowsill?",
        [
            (
                "Bob",
                "Water it when the soil is dry and pinch off the flowers.",
            ),
            (
                "Carol",
                "Give it six hours of sun and a pot that drains well.",
            ),
        ],
    )
    .await?;
    let (bob, carol) = (replies[0].id, replies[1].id);
    // Erin and Frank put Bob first, Gina Carol; Erin also labels Bob's reply.
    let mut withdrawn = Vec::new();
    let mut erins_label = None;
    for (name, order) in [
        ("Erin", [bob, carol]),
        ("Frank", [bob, carol]),
        ("Gina", [carol, bob]),
    ] {
        let ranker = register(&server, name).await?;
        if name == "Erin" {
            let label = labels_event(&replies[0], json!({ "quality": 1.0, "spam": 0 }));
            erins_label = Some(label.clone());
            ranker.ingest_ok(&[label]).await?;
        }
        let ranking = rank_by_task(&ranker, &prompt, &order).await?;
        if name != "Gina" {
            withdrawn.push((ranker, ranking));
        }
    }
    assert_eq!(tree(&alice, prompt.id).await?["state"], "ready_for_export");
    assert_eq!(rank_bonuses(&server, bob).await?, ["reply_ranked_1"]);
    let dir = tempfile::tempdir()?;
    let before = oa_server::export(server.pool(), dir.path(), "before", false).await?;
    let exported: Vec<OasstMessage> = lines(&read(&before.messages_path)?)?;
    let of = |ms: &[OasstMessage], id: Uuid| ms.iter().find(|m| m.message_id == id).cloned();
    assert_eq!(of(&exported, bob).and_then(|m| m.rank), Some(0));
    assert!(of(&exported, bob).and_then(|m| m.labels).is_some());

    // Erin takes back her label and her ranking, Frank his ranking: only Gina's order is left.
    let erin = &withdrawn[0].0;
    let label = erins_label.context("Erin labelled")?;
    erin.ingest_ok(&[retraction_event(&label), retraction_event(&withdrawn[0].1)])
        .await?;
    withdrawn[1]
        .0
        .ingest_ok(&[retraction_event(&withdrawn[1].1)])
        .await?;

    let after = oa_server::export(server.pool(), dir.path(), "after", false).await?;
    let exported: Vec<OasstMessage> = lines(&read(&after.messages_path)?)?;
    assert_eq!(of(&exported, carol).and_then(|m| m.rank), Some(0));
    assert_eq!(of(&exported, bob).and_then(|m| m.rank), Some(1));
    assert!(
        of(&exported, bob).and_then(|m| m.labels).is_none(),
        "the withdrawn label is not exported"
    );
    assert_eq!(rank_bonuses(&server, carol).await?, ["reply_ranked_1"]);
    assert_eq!(rank_bonuses(&server, bob).await?, ["reply_ranked_2"]);
    // Their ranking points are gone too.
    let points: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM score_events WHERE account_id = $1 ORDER BY kind")
            .bind(erin.account())
            .fetch_all(server.pool())
            .await?;
    assert!(points.is_empty(), "{points:?}");
    Ok(())
}

#[tokio::test]
async fn a_reply_earns_its_points_when_accepted_and_none_when_rejected() -> Result<()> {
    let server = TestServer::start_with(config_with(TreePolicy {
        reviews_initial_prompt: 0,
        reviews_reply: 1,
        ..TreePolicy::default()
    }))
    .await?;
    let (alice, _prompt, replies) = asked_and_answered(
        &server,
        "What is a good first programming language?",
        [
            ("Bob", "Python: readable, and it runs everywhere."),
            (
                "Spammer",
                "Visit my shop for cheap watches, best prices online!",
            ),
        ],
    )
    .await?;
    // Pending: nobody has points for a reply yet.
    let board = leaderboard(&alice, "all").await?;
    assert_eq!(score_of(&board, "Bob"), None, "{board}");
    assert_eq!(score_of(&board, "Spammer"), None, "{board}");

    let carol = register(&server, "Carol").await?;
    carol
        .ingest_ok(&[
            labels_event(&replies[0], json!({ "spam": 0, "quality": 0.75 })),
            labels_event(&replies[1], json!({ "spam": 1 })),
        ])
        .await?;
    let board = leaderboard(&alice, "all").await?;
    assert!(score_of(&board, "Bob").is_some_and(|s| s > 0.0), "{board}");
    assert_eq!(
        score_of(&board, "Spammer"),
        None,
        "a rejected reply earns nothing: {board}"
    );
    Ok(())
}

#[tokio::test]
async fn a_muted_troll_gets_no_tasks_and_its_rankings_and_reviews_stop_counting() -> Result<()> {
    let server = TestServer::start_with(config_with(unreviewed(3))).await?;
    let (alice, prompt, replies) = asked_and_answered(
        &server,
        "Which houseplants survive a dark flat?",
        [
            (
                "Bob",
                "A snake plant or a ZZ plant: both take little light.",
            ),
            (
                "Carol",
                "Pothos, and water it only when the top soil is dry.",
            ),
        ],
    )
    .await?;
    let (bob, carol) = (replies[0].id, replies[1].id);
    // Troy leases the ranking task, then his earlier work gets him flagged past the policy's
    // limit before he sends it.
    let troy = register(&server, "Troy").await?;
    let troys_task = lease(&troy, 1, &[TaskKind::RankReplies])
        .await?
        .pop()
        .context("a ranking task")?;
    sqlx::query("UPDATE accounts SET troll_score = $2 WHERE id = $1")
        .bind(troy.account())
        .bind(TreePolicy::default().troll_score_to_mute)
        .execute(server.pool())
        .await?;
    let (status, body) = troy
        .call(
            Method::POST,
            "/v1/tasks/lease",
            Some(json!({ "count": 5, "kinds": [] })),
        )
        .await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["tasks"], json!([]), "a muted account gets no work");

    // Troy ranks Carol first; two honest rankers put Bob first. Troy's ranking is stored but
    // does not count: after the two, the parent still waits for a third real one.
    let mut troys = ranking_event(&prompt, &[carol, bob]);
    troys.task_id = Some(troys_task.id);
    troy.ingest_ok(&[troys]).await?;
    for name in ["Erin", "Frank"] {
        let ranker = register(&server, name).await?;
        rank_by_task(&ranker, &prompt, &[bob, carol]).await?;
    }
    assert_eq!(tree(&alice, prompt.id).await?["state"], "ranking");
    let gina = register(&server, "Gina").await?;
    rank_by_task(&gina, &prompt, &[carol, bob]).await?;
    assert_eq!(tree(&alice, prompt.id).await?["state"], "ready_for_export");
    // Bob 2 : 1 Carol among the counted ballots; with Troy's it would have been a tie.
    let rank: Option<i32> = sqlx::query_scalar("SELECT rank FROM messages WHERE id = $1")
        .bind(bob)
        .fetch_one(server.pool())
        .await?;
    assert_eq!(rank, Some(0));
    Ok(())
}

#[tokio::test]
async fn a_ranking_is_not_measured_against_a_consensus_that_holds_itself() -> Result<()> {
    // Two rankings per parent that disagree: with each compared to a consensus it is part of,
    // whichever won the tie-break would agree with itself and gain trust.
    let server = TestServer::start_with(config_with(TreePolicy {
        rankings_per_parent: 2,
        ..unreviewed(3)
    }))
    .await?;
    let (alice, prompt, replies) = asked_and_answered(
        &server,
        "How long should I boil an egg for a runny yolk?",
        [
            ("Bob", "Six minutes from boiling water, then cold water."),
            ("Carol", "Ten minutes, so that it is safe."),
        ],
    )
    .await?;
    let (bob, carol) = (replies[0].id, replies[1].id);
    let mut rankers = Vec::new();
    for (name, order) in [("Erin", [bob, carol]), ("Frank", [carol, bob])] {
        let ranker = register(&server, name).await?;
        rank_by_task(&ranker, &prompt, &order).await?;
        rankers.push(ranker);
    }
    assert_eq!(tree(&alice, prompt.id).await?["state"], "ready_for_export");
    let sums: Vec<f64> = sqlx::query_scalar(
        "SELECT agreement_sum FROM accounts WHERE id = ANY($1) ORDER BY display_name",
    )
    .bind([rankers[0].account(), rankers[1].account()].as_slice())
    .fetch_all(server.pool())
    .await?;
    assert_eq!(sums, [-1.0, -1.0], "each disagrees with the other");
    Ok(())
}
