//! Mangled events in bulk: whatever a broken or hostile client sends, each event gets an answer
//! and no batch fails as a whole.

use anyhow::Result;
use oa_server::testing::TestServer;
use oa_types::{ContributionKind, EventStatus, Role, SubmittedEvent, Uuid};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{
    labels_event, message, message_event, new_prompt, ranking_event, rating_event, reaction_event,
    register, retraction_event, synthetic,
};

/// Replaces one value somewhere in `value` with something of another type or an odd string.
fn mangle(value: &mut Value, rng: &mut StdRng) {
    let odd = [
        json!(null),
        json!(-1),
        json!(1e300),
        json!("\u{0}"),
        json!("🦀".repeat(3)),
        json!([]),
        json!({}),
        json!(true),
        json!("00000000-0000-0000-0000-000000000000"),
        json!(i64::MAX),
        json!("x".repeat(20_000)),
    ];
    match value {
        Value::Object(map) if !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = keys.choose(rng).cloned().unwrap_or_default();
            match rng.random_range(0..4) {
                0 => {
                    map.remove(&key);
                }
                1 => {
                    if let Some(inner) = map.get_mut(&key) {
                        mangle(inner, rng);
                    }
                }
                _ => {
                    map.insert(key, odd.choose(rng).cloned().unwrap_or_default());
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            mangle(&mut items[i], rng);
        }
        other => *other = odd.choose(rng).cloned().unwrap_or_default(),
    }
}

#[tokio::test]
async fn mangled_events_are_each_answered_and_never_fail_a_batch() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let bob = register(&server, "Bob").await?;
    let prompt = new_prompt("A prompt for the fuzzing test, long enough.");
    let conversation = prompt.conversation_id;
    let a = synthetic(conversation, prompt.id, "Reply A");
    let b = synthetic(conversation, prompt.id, "Reply B");
    alice
        .ingest_ok(&[message_event(&prompt), message_event(&a), message_event(&b)])
        .await?;

    let mut rng = StdRng::seed_from_u64(8);
    let templates: Vec<SubmittedEvent> = vec![
        message_event(&message(conversation, Some(a.id), Role::Prompter, "Why A?")),
        labels_event(&a, json!({ "quality": 0.5, "spam": 0 })),
        ranking_event(&prompt, &[a.id, b.id]),
        rating_event(&b, "-1", &["wrong"]),
        reaction_event(&b, "red_flag"),
        retraction_event(&labels_event(&a, json!({ "quality": 1 }))),
    ];
    let mut answered = 0;
    for round in 0..20 {
        let mut batch = Vec::new();
        for _ in 0..25 {
            let mut e = templates.choose(&mut rng).cloned().unwrap();
            e.id = Uuid::now_v7();
            let mut payload: Value = serde_json::from_str(&e.payload)?;
            // Fresh ids for messages, so that not everything is an id conflict.
            if e.kind == ContributionKind::Message {
                let id = Uuid::now_v7();
                payload["id"] = json!(id);
                e.subject_id = id;
            }
            for _ in 0..rng.random_range(0..3) {
                mangle(&mut payload, &mut rng);
            }
            e.payload = if rng.random_bool(0.1) {
                "not json at all {".to_owned()
            } else {
                payload.to_string()
            };
            if rng.random_bool(0.1) {
                e.kind = *[ContributionKind::Labels, ContributionKind::Ranking]
                    .choose(&mut rng)
                    .unwrap();
            }
            batch.push(e);
        }
        let who = if round % 2 == 0 { &alice } else { &bob };
        let (status, body) = who
            .call(
                Method::POST,
                "/v1/events",
                Some(json!({ "version": 1, "events": batch })),
            )
            .await?;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        let results = body["results"].as_array().unwrap();
        assert_eq!(results.len(), batch.len());
        for (result, sent) in results.iter().zip(&batch) {
            assert_eq!(result["id"], json!(sent.id));
            let status: EventStatus = serde_json::from_value(result["status"].clone())?;
            if status == EventStatus::Rejected {
                assert!(result["reason"].is_string(), "{result}");
            }
            answered += 1;
        }
    }
    assert_eq!(answered, 500);
    // The server is still healthy afterwards.
    let (status, _) = alice.call(Method::GET, "/v1/me/stats", None).await?;
    assert_eq!(status, StatusCode::OK);
    Ok(())
}
