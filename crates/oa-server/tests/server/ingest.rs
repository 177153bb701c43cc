//! `POST /v1/events`: per-event results, validation, idempotency, body and rate limits.

use anyhow::Result;
use oa_server::testing::TestServer;
use oa_server::{Config, Limits, PasswordCost};
use oa_types::{ContributionKind, EventStatus, RejectionReason, Role, Uuid};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::client::{
    correction_event, event, labels_event, message, message_event, new_prompt, ranking_event,
    rating_event, reaction_event, register, retraction_event, synthetic,
};

async fn count(server: &TestServer, table: &str) -> Result<i64> {
    Ok(
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(server.pool())
            .await?,
    )
}

#[tokio::test]
async fn a_shared_conversation_is_accepted_and_a_replay_changes_nothing() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let prompt = new_prompt("What is the capital of France?");
    let conversation = prompt.conversation_id;
    let a = synthetic(conversation, prompt.id, "Paris.");
    let b = synthetic(conversation, prompt.id, "It is Paris, on the Seine.");
    let batch = vec![
        message_event(&prompt),
        message_event(&a),
        message_event(&b),
        labels_event(&a, json!({ "quality": 0.75, "spam": 0 })),
        ranking_event(&prompt, &[b.id, a.id]),
        rating_event(&a, "+1", &["correct"]),
        reaction_event(&b, "heart_eyes"),
    ];
    let results = alice.ingest(&batch).await?;
    for (result, sent) in results.iter().zip(&batch) {
        assert_eq!(result.id, sent.id);
        assert_eq!(result.status, EventStatus::Accepted, "{result:?}");
    }
    let tables = [
        "contribution_events",
        "messages",
        "labels",
        "rankings",
        "reactions",
        "score_events",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(count(&server, table).await?);
    }
    assert_eq!(before[..5], [7, 3, 1, 1, 2]);
    let (synthetic_count, provenance): (i64, Option<Value>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE synthetic), max(provenance::text)::jsonb FROM messages",
    )
    .fetch_one(server.pool())
    .await?;
    assert_eq!(synthetic_count, 2, "model-written replies are marked");
    assert_eq!(provenance.unwrap()["quantization"], "Q4_1");

    // The same batch again (a retried sync): every event is a duplicate, nothing changes.
    let replay = alice.ingest(&batch).await?;
    assert!(
        replay.iter().all(|r| r.status == EventStatus::Duplicate),
        "{replay:?}"
    );
    for (table, n) in tables.iter().zip(before) {
        assert_eq!(count(&server, table).await?, n, "{table}");
    }
    // Another account cannot reuse those ids.
    let bob = register(&server, "Bob").await?;
    let stolen = bob.ingest(&batch[..1]).await?;
    assert_eq!(stolen[0].reason, Some(RejectionReason::IdConflict));
    Ok(())
}

#[tokio::test]
async fn each_bad_event_is_rejected_with_its_reason_and_the_rest_accepted() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let bob = register(&server, "Bob").await?;
    let prompt = new_prompt("Tell me a joke about compilers.");
    let conversation = prompt.conversation_id;
    let a = synthetic(
        conversation,
        prompt.id,
        "Why did the compiler quit? Too many errors.",
    );
    let b = synthetic(
        conversation,
        prompt.id,
        "A compiler walks into a bar. Error.",
    );
    // Bob's own conversation: every refusal below is about the event itself.
    bob.ingest_ok(&[message_event(&prompt), message_event(&a), message_event(&b)])
        .await?;

    let mut assistant_root = message(conversation, None, Role::Assistant, "I start.");
    assistant_root.parent_id = None;
    let same_role = message(
        conversation,
        Some(prompt.id),
        Role::Prompter,
        "Me again, hello",
    );
    let orphan = message(
        conversation,
        Some(Uuid::now_v7()),
        Role::Assistant,
        "Lost reply",
    );
    let empty = message(conversation, Some(prompt.id), Role::Assistant, "   ");
    let long = message(
        conversation,
        Some(prompt.id),
        Role::Assistant,
        &"x".repeat(10_001),
    );
    let nul = message(conversation, Some(prompt.id), Role::Assistant, "a\0b");
    let mut wrong_conversation = message(Uuid::now_v7(), Some(prompt.id), Role::Assistant, "hi");
    wrong_conversation.conversation_id = Uuid::now_v7();
    let mut mismatched = message_event(&wrong_conversation);
    mismatched.conversation_id = conversation;
    let stranger = Uuid::now_v7();
    let cases: Vec<(oa_types::SubmittedEvent, RejectionReason)> = vec![
        (
            event(
                ContributionKind::Message,
                prompt.id,
                conversation,
                json!({ "text": 1 }),
            ),
            RejectionReason::MalformedPayload,
        ),
        (
            {
                let mut e = labels_event(&a, json!({ "quality": 1 }));
                e.subject_id = b.id;
                e
            },
            RejectionReason::SubjectMismatch,
        ),
        (mismatched, RejectionReason::SubjectMismatch),
        (message_event(&assistant_root), RejectionReason::InvalidRole),
        (message_event(&same_role), RejectionReason::InvalidRole),
        (message_event(&orphan), RejectionReason::ParentMissing),
        (message_event(&empty), RejectionReason::EmptyText),
        (message_event(&long), RejectionReason::TextTooLong),
        (message_event(&nul), RejectionReason::InvalidText),
        (
            {
                let mut e = labels_event(&a, json!({ "quality": 1 }));
                e.created_at_ms = i64::MAX;
                e
            },
            RejectionReason::MalformedPayload,
        ),
        (
            message_event(&oa_types::Message {
                created_at_ms: -5,
                ..message(
                    conversation,
                    Some(prompt.id),
                    Role::Assistant,
                    "From before 1970",
                )
            }),
            RejectionReason::MalformedPayload,
        ),
        (
            event(
                ContributionKind::Rating,
                a.id,
                conversation,
                json!({ "message_id": a.id, "thumbs": { "vote": "-1", "comment": "a\u{0}b" } }),
            ),
            RejectionReason::InvalidText,
        ),
        (
            labels_event(&a, json!({ "funny": 1 })),
            RejectionReason::UnknownLabel,
        ),
        (
            labels_event(&a, json!({ "spam": 0.5 })),
            RejectionReason::InvalidLabelValue,
        ),
        (
            labels_event(&a, json!({ "quality": "high" })),
            RejectionReason::InvalidLabelValue,
        ),
        (labels_event(&a, json!({})), RejectionReason::NoLabels),
        (
            ranking_event(&prompt, &[a.id]),
            RejectionReason::RankingMissingId,
        ),
        (
            ranking_event(&prompt, &[a.id, b.id, stranger]),
            RejectionReason::RankingForeignId,
        ),
        (
            ranking_event(&prompt, &[a.id, b.id, a.id]),
            RejectionReason::RankingDuplicateId,
        ),
        (ranking_event(&a, &[]), RejectionReason::NothingToRank),
        (
            event(
                ContributionKind::Reaction,
                a.id,
                conversation,
                json!({ "message_id": a.id, "emoji": "smile", "op": "add" }),
            ),
            RejectionReason::UnknownEmoji,
        ),
        (
            event(
                ContributionKind::Rating,
                a.id,
                conversation,
                json!({ "message_id": a.id, "thumbs": { "vote": "+1", "reasons": [" "] } }),
            ),
            RejectionReason::InvalidRating,
        ),
        (
            {
                let mut e = labels_event(&a, json!({ "quality": 1 }));
                e.task_id = Some(Uuid::now_v7());
                e
            },
            RejectionReason::UnknownTask,
        ),
    ];
    let good = labels_event(&a, json!({ "quality": 0.5 }));
    let mut batch: Vec<_> = cases.iter().map(|(e, _)| e.clone()).collect();
    batch.push(good.clone());
    let results = bob.ingest(&batch).await?;
    for ((sent, reason), result) in cases.iter().zip(&results) {
        assert_eq!(result.id, sent.id);
        assert_eq!(result.status, EventStatus::Rejected, "{sent:?}");
        assert_eq!(result.reason, Some(*reason), "{:?}", result.message);
        assert!(!result.message.as_deref().unwrap_or_default().is_empty());
    }
    assert_eq!(results.last().unwrap().status, EventStatus::Accepted);

    // Judging one's own writing, and sending the same text twice.
    let reply = message(
        conversation,
        Some(a.id),
        Role::Prompter,
        "Explain the joke to me, please.",
    );
    bob.ingest_ok(&[message_event(&reply)]).await?;
    let own = bob
        .ingest(&[labels_event(&reply, json!({ "quality": 1 }))])
        .await?;
    assert_eq!(own[0].reason, Some(RejectionReason::OwnMessage));
    let again = message(
        conversation,
        Some(b.id),
        Role::Prompter,
        "explain the JOKE to me,   please.",
    );
    let flood = bob.ingest(&[message_event(&again)]).await?;
    assert_eq!(flood[0].reason, Some(RejectionReason::DuplicateText));
    // Alice cannot retract Bob's events.
    let foreign = alice
        .ingest(&[retraction_event(&message_event(&reply))])
        .await?;
    assert_eq!(
        foreign[0].status,
        EventStatus::Accepted,
        "unknown event ids are remembered"
    );
    let foreign = alice.ingest(&[retraction_event(&good)]).await?;
    assert_eq!(foreign[0].reason, Some(RejectionReason::RetractForeign));
    Ok(())
}

#[tokio::test]
async fn batches_that_are_not_well_formed_are_refused_whole() -> Result<()> {
    let server = TestServer::start_with(Config {
        password: PasswordCost::insecure_fast(),
        limits: Limits {
            max_body_bytes: 64 * 1024,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await?;
    let alice = register(&server, "Alice").await?;
    let post = |body: Value| alice.call(Method::POST, "/v1/events", Some(body));

    let (status, body) = post(json!({ "version": 2, "events": [] })).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_version"))
    );
    let (status, body) = post(json!({ "version": 1, "events": "all of them" })).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let (status, body) = post(json!({ "version": 1, "events": [{ "id": "x" }] })).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    let (status, body) = post(json!({ "version": 1, "events": [{
        "id": Uuid::now_v7(), "kind": "gossip", "subject_id": Uuid::now_v7(),
        "conversation_id": Uuid::now_v7(), "created_at_ms": 0, "payload": "{}" }] }))
    .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );

    let prompt = new_prompt("hello there, model");
    let conversation = prompt.conversation_id;
    let many: Vec<_> = (0..1001).map(|_| message_event(&prompt)).collect();
    let (status, body) = post(json!({ "version": 1, "events": many })).await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let few: Vec<_> = (0..1001)
        .map(|_| {
            event(
                ContributionKind::Retraction,
                prompt.id,
                conversation,
                json!({}),
            )
        })
        .collect();
    let compact = serde_json::to_value(oa_types::IngestRequest {
        version: 1,
        events: few,
    })?;
    let server_big = TestServer::start().await?;
    let bob = register(&server_big, "Bob").await?;
    let (status, body) = bob.call(Method::POST, "/v1/events", Some(compact)).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("batch_too_large"))
    );

    // A chunked body without a length is cut off at the limit too.
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
         Connection: close\r\n\r\n",
        alice.session.token
    );
    let mut socket = tokio::net::TcpStream::connect(server.addr()).await?;
    socket.write_all(head.as_bytes()).await?;
    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
    for _ in 0..100 {
        // The server may answer and close before the body is complete.
        if socket.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = socket.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    let (status, body) = alice.call(Method::POST, "/v1/events", None).await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );
    let response = alice
        .request(Method::POST, "/v1/events")
        .header("content-type", "application/json")
        .body(b"{\"version\": 1, \"events\": [\xff]}".to_vec())
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.json::<Value>().await?["code"], "invalid_utf8");
    Ok(())
}

#[tokio::test]
async fn a_flood_is_rate_limited_per_device_with_a_retry_hint() -> Result<()> {
    let server = TestServer::start_with(Config {
        password: PasswordCost::insecure_fast(),
        limits: Limits {
            events_per_minute_account: 1000,
            events_per_minute_device: 5,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await?;
    let alice = register(&server, "Alice").await?;
    let conversation = Uuid::now_v7();
    let prompts: Vec<_> = (0..6)
        .map(|i| {
            message_event(&message(
                conversation,
                None,
                Role::Prompter,
                &format!("prompt {i}"),
            ))
        })
        .collect();
    alice.ingest_ok(&prompts[..5]).await?;
    let response = alice
        .request(Method::POST, "/v1/events")
        .json(&json!({ "version": 1, "events": [prompts[5]] }))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str()?.parse()?;
    assert!(retry >= 1);
    assert_eq!(response.json::<Value>().await?["code"], "rate_limited");
    Ok(())
}

#[tokio::test]
async fn changing_ones_mind_replaces_labels_and_votes_without_double_points() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let bob = register(&server, "Bob").await?;
    let prompt = new_prompt("Is a tomato a fruit or not?");
    let conversation = prompt.conversation_id;
    let reply = synthetic(conversation, prompt.id, "Botanically, yes.");
    alice
        .ingest_ok(&[message_event(&prompt), message_event(&reply)])
        .await?;
    let vote = |v: &str| rating_event(&reply, v, &[]);
    bob.ingest_ok(&[labels_event(&reply, json!({ "quality": 0.25 })), vote("+1")])
        .await?;
    // Later, in one batch, two new label sets and the opposite vote.
    bob.ingest_ok(&[
        labels_event(&reply, json!({ "quality": 0.5 })),
        labels_event(&reply, json!({ "quality": 1, "helpfulness": 1 })),
        vote("-1"),
    ])
    .await?;
    let active: Vec<Value> =
        sqlx::query_scalar("SELECT labels FROM labels WHERE account_id = $1 AND NOT retracted")
            .bind(bob.account())
            .fetch_all(server.pool())
            .await?;
    assert_eq!(active, [json!({ "quality": 1, "helpfulness": 1 })]);
    let points: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM score_events WHERE account_id = $1 AND kind = 'labels'",
    )
    .bind(bob.account())
    .fetch_one(server.pool())
    .await?;
    assert_eq!(points, 1, "only the label set in force earns points");
    let votes: Vec<String> =
        sqlx::query_scalar("SELECT emoji FROM reactions WHERE account_id = $1")
            .bind(bob.account())
            .fetch_all(server.pool())
            .await?;
    assert_eq!(votes, ["-1"]);
    Ok(())
}

#[tokio::test]
async fn a_correction_stands_beside_the_reply_it_corrects() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let prompt = new_prompt("What is the capital of Australia?");
    let conversation = prompt.conversation_id;
    let model = synthetic(conversation, prompt.id, "Sydney.");
    alice
        .ingest_ok(&[message_event(&prompt), message_event(&model)])
        .await?;
    let correction_event = |corrects: Option<Uuid>, parent: Uuid| {
        correction_event(conversation, parent, corrects, "Canberra.")
    };
    let good = correction_event(Some(model.id), prompt.id);
    let results = alice
        .ingest(&[
            good.clone(),
            correction_event(None, prompt.id),
            correction_event(Some(Uuid::now_v7()), prompt.id),
            correction_event(Some(prompt.id), prompt.id),
        ])
        .await?;
    let reasons: Vec<_> = results.iter().map(|r| (r.status, r.reason)).collect();
    assert_eq!(
        reasons,
        [
            (EventStatus::Accepted, None),
            (
                EventStatus::Rejected,
                Some(RejectionReason::MalformedPayload)
            ),
            (EventStatus::Rejected, Some(RejectionReason::ParentMissing)),
            (EventStatus::Rejected, Some(RejectionReason::InvalidRole)),
        ]
    );
    let human: bool = sqlx::query_scalar("SELECT NOT synthetic FROM messages WHERE id = $1")
        .bind(good.subject_id)
        .fetch_one(server.pool())
        .await?;
    assert!(human, "a correction is stored as written by a person");

    // A ranking from the desktop orders the model's answers; the correction beside them is not
    // one of them, whether it arrived earlier or in the same batch.
    let second = synthetic(conversation, prompt.id, "Perth, I think.");
    let results = alice
        .ingest(&[
            message_event(&second),
            ranking_event(&prompt, &[model.id, second.id]),
        ])
        .await?;
    assert!(
        results.iter().all(|r| r.status == EventStatus::Accepted),
        "{results:?}"
    );
    let with_the_correction = alice
        .ingest(&[ranking_event(
            &prompt,
            &[good.subject_id, model.id, second.id],
        )])
        .await?;
    assert_eq!(
        with_the_correction[0].reason,
        Some(RejectionReason::RankingForeignId)
    );
    Ok(())
}

#[tokio::test]
async fn one_poisoned_event_is_refused_alone_and_the_rest_of_its_batch_is_stored() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let first = new_prompt("How do tides work?");
    let third = new_prompt("Why do cats purr?");
    // A lone surrogate hidden in a field the server does not read: valid for a lenient parser,
    // refused by PostgreSQL's jsonb.
    let mut poisoned = message_event(&new_prompt("What is a lone surrogate?"));
    poisoned.payload = poisoned
        .payload
        .replacen('{', r#"{"note":"\ud800 alone","#, 1);
    let batch = [message_event(&first), poisoned, message_event(&third)];

    let results = alice.ingest(&batch).await?;
    let statuses: Vec<EventStatus> = results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            EventStatus::Accepted,
            EventStatus::Rejected,
            EventStatus::Accepted
        ],
        "{results:?}"
    );
    assert_eq!(results[1].reason, Some(RejectionReason::MalformedPayload));
    assert_eq!(count(&server, "messages").await?, 2);
    // Sent again, the good ones are duplicates and the bad one is refused again, not a 500.
    let again = alice.ingest(&batch).await?;
    assert_eq!(again[1].status, EventStatus::Rejected);
    Ok(())
}

#[tokio::test]
async fn a_withdrawn_correction_leaves_no_text_on_the_server() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let prompt = new_prompt("What is the capital of Australia?");
    let conversation = prompt.conversation_id;
    let model = synthetic(conversation, prompt.id, "Sydney.");
    alice
        .ingest_ok(&[message_event(&prompt), message_event(&model)])
        .await?;
    let correction_event = correction_event(
        conversation,
        prompt.id,
        Some(model.id),
        "Canberra, as my neighbour Jane Doe at 12 Elm Street told me.",
    );
    alice
        .ingest_ok(std::slice::from_ref(&correction_event))
        .await?;
    alice
        .ingest_ok(&[retraction_event(&correction_event)])
        .await?;

    let (text, deleted): (String, bool) =
        sqlx::query_as("SELECT text, deleted FROM messages WHERE id = $1")
            .bind(correction_event.subject_id)
            .fetch_one(server.pool())
            .await?;
    assert_eq!((text.as_str(), deleted), ("", true));
    let raw: String =
        sqlx::query_scalar("SELECT payload::text FROM contribution_events WHERE id = $1")
            .bind(correction_event.id)
            .fetch_one(server.pool())
            .await?;
    assert!(!raw.contains("Jane Doe"), "{raw}");
    Ok(())
}
