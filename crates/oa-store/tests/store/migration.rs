//! A database written by schema version 1 opens intact under the latest schema.

use oa_store::{Store, StoreError};
use oa_types::{ConsentState, EventPayload, Role, TaskAnswer, Uuid};
use rusqlite::params;

/// Schema version 1 exactly as it shipped. Frozen here on purpose: migrations are forward-only
/// and the first one is never edited, so this is what files in the wild look like.
const SCHEMA_V1: &str = r#"
    CREATE TABLE conversations (
        id              TEXT PRIMARY KEY NOT NULL,
        title           TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        current_leaf_id TEXT REFERENCES messages(id) DEFERRABLE INITIALLY DEFERRED
    ) STRICT;
    CREATE TABLE messages (
        id              TEXT PRIMARY KEY NOT NULL,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id       TEXT REFERENCES messages(id) ON DELETE CASCADE,
        role            TEXT NOT NULL CHECK (role IN ('prompter', 'assistant')),
        text            TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        provenance      TEXT CHECK (provenance IS NULL OR json_valid(provenance))
    ) STRICT;
    CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at);
    CREATE INDEX messages_by_parent ON messages (parent_id);
    CREATE INDEX conversations_by_update ON conversations (updated_at DESC);
"#;

#[test]
fn a_version_1_database_is_migrated_with_its_data_intact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let [conversation, prompt, reply] = [1u128, 2, 3].map(Uuid::from_u128);
    let provenance = serde_json::to_string(&super::super::provenance()).unwrap();
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute_batch(SCHEMA_V1).unwrap();
        tx.pragma_update(None, "user_version", 1).unwrap();
        tx.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at, current_leaf_id)
             VALUES (?1, 'Capitals', 1000, 2000, ?2)",
            params![conversation.to_string(), reply.to_string()],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO messages (id, conversation_id, parent_id, role, text, created_at, provenance)
             VALUES (?1, ?2, NULL, 'prompter', 'What is the capital of France?', 1000, NULL),
                    (?3, ?2, ?1, 'assistant', 'Paris is the capital of France, and its largest city by far.', 2000, ?4)",
            params![
                prompt.to_string(),
                conversation.to_string(),
                reply.to_string(),
                provenance
            ],
        )
        .unwrap();
        tx.commit().unwrap();
    }

    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 9, "latest schema");
    let list = store.list_conversation_entries().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].summary.title, "Capitals");
    assert_eq!(list[0].summary.updated_at_ms, 2000);
    assert_eq!(list[0].summary.message_count, 2);
    assert!(!list[0].pinned, "old conversations start unpinned");
    let detail = store.conversation(conversation).unwrap();
    let ids: Vec<_> = detail.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, [prompt, reply]);
    assert_eq!(detail.messages[1].role, Role::Assistant);
    assert_eq!(
        detail.messages[1].provenance,
        Some(super::super::provenance())
    );

    // Messages written before language detection existed have their language.
    assert_eq!(store.message_lang(reply).unwrap().as_deref(), Some("en"));
    // Messages written before the index existed are searchable.
    let hits = store.search("capital", 10).unwrap();
    assert_eq!(hits.len(), 2, "{hits:?}");
    // The old tree keeps growing under the new schema.
    let follow = store
        .add_prompt(Some(conversation), "And of Italy?")
        .unwrap();
    assert_eq!(follow.parent_id, Some(reply));
    assert_eq!(store.events(ConsentState::Private).unwrap().len(), 1);
    drop(store);
    // Opening again runs nothing twice.
    assert_eq!(Store::open(&path).unwrap().schema_version().unwrap(), 9);
}

/// Every older schema version, as that version's migrations left it, with a conversation and
/// (from version 2, which added the outbox) events in every consent state.
#[test]
fn every_older_version_migrates_with_its_data_and_outbox_intact() {
    let latest = {
        let store = Store::open_in_memory().unwrap();
        store.schema_version().unwrap()
    };
    for version in 1..latest {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oa.sqlite3");
        oa_store::create_at_schema_version(&path, version).unwrap();
        let [conversation, prompt, reply] = [1u128, 2, 3].map(Uuid::from_u128);
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(&format!(
                "BEGIN;
                 INSERT INTO conversations (id, title, created_at, updated_at, current_leaf_id)
                 VALUES ('{conversation}', 'Moons', 1000, 2000, '{reply}');
                 INSERT INTO messages (id, conversation_id, parent_id, role, text, created_at)
                 VALUES ('{prompt}', '{conversation}', NULL, 'prompter', 'How many moons has Mars?', 1000),
                        ('{reply}', '{conversation}', '{prompt}', 'assistant', 'Mars has two moons, Phobos and Deimos.', 2000);
                 COMMIT;"
            ))
            .unwrap();
            if version >= 2 {
                for (n, state, reason) in [
                    (10u128, "private", None),
                    (11, "queued", None),
                    (12, "sent", None),
                    (13, "accepted", None),
                    (14, "rejected", Some("duplicate")),
                ] {
                    conn.execute(
                        "INSERT INTO contribution_events (id, kind, subject_id, conversation_id,
                             payload, state, rejection_reason, created_at, updated_at)
                         VALUES (?1, 'message', ?2, ?3, '{}', ?4, ?5, 1000, 1000)",
                        params![
                            Uuid::from_u128(n).to_string(),
                            reply.to_string(),
                            conversation.to_string(),
                            state,
                            reason
                        ],
                    )
                    .unwrap();
                }
            }
        }

        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest, "from {version}");
        let detail = store.conversation(conversation).unwrap();
        let texts: Vec<_> = detail.messages.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "How many moons has Mars?",
                "Mars has two moons, Phobos and Deimos."
            ],
            "from {version}"
        );
        assert_eq!(store.search("phob", 10).unwrap().len(), 1, "from {version}");
        if version >= 2 {
            for (state, n) in [
                (ConsentState::Private, 10u128),
                (ConsentState::Queued, 11),
                (ConsentState::Sent, 12),
                (ConsentState::Accepted, 13),
                (ConsentState::Rejected, 14),
            ] {
                let events = store.events(state).unwrap();
                assert_eq!(events.len(), 1, "{state:?} from {version}");
                assert_eq!(events[0].id, Uuid::from_u128(n));
            }
            let rejected = store.event(Uuid::from_u128(14)).unwrap();
            assert_eq!(rejected.rejection_reason.as_deref(), Some("duplicate"));
        }
        // What the new version adds works on the migrated file.
        let correction = store
            .add_correction(conversation, reply, "Mars has two small moons.")
            .unwrap();
        assert_eq!(correction.corrects, Some(reply));
        assert_eq!(
            store.event(Uuid::from_u128(13)).map(|e| e.state).ok(),
            (version >= 2).then_some(ConsentState::Accepted)
        );
        // Schema 6: recorded events read as they were recorded; one not yet sent can be
        // redacted, one sent cannot.
        if version >= 2 {
            let private = Uuid::from_u128(10);
            assert!(!store.event(private).unwrap().redacted, "from {version}");
            let redacted = store
                .redact_event(private, r#"{"text":"[email]"}"#)
                .unwrap();
            assert!(redacted.redacted && redacted.payload.contains("[email]"));
            assert!(matches!(
                store.redact_event(Uuid::from_u128(12), "{}"),
                Err(StoreError::AlreadySent { .. })
            ));
        }
        // Schema 8: findings dismissed as not personal are remembered.
        store.dismiss_finding("name", "hash").unwrap();
        assert_eq!(
            store.dismissed_findings().unwrap().len(),
            1,
            "from {version}"
        );
        // ... and the task log: the correction ends the conversation, so answering it as the
        // user is offered, and doing so counts.
        let queue = store.task_queue(0).unwrap();
        assert_eq!(
            queue.tasks[0].key,
            format!("prompter_reply:{}", correction.id),
            "from {version}"
        );
        store
            .complete_task(&TaskAnswer::PrompterReply {
                message_id: correction.id,
                text: "How big are they?".into(),
            })
            .unwrap();
        assert_eq!(store.task_progress(0).unwrap().done_total, 1);
        // Schema 9: the old conversation is one of the app's own; API answers have a source.
        let entries = store.list_conversation_entries().unwrap();
        assert_eq!(entries[0].source, None, "from {version}");
        let kept = store
            .add_api_exchange(
                "",
                &[(Role::Prompter, "And Jupiter?".to_owned())],
                "Many.",
                super::super::provenance(),
            )
            .unwrap();
        let entries = store.list_conversation_entries().unwrap();
        assert_eq!(entries[0].summary.id, kept.conversation_id);
        assert_eq!(entries[0].source.as_deref(), Some(oa_types::API_SOURCE));
    }
}

/// Outbox rows exactly as the first outbox (schema 2) wrote them, one of every kind it had, and
/// a correction as schema 5 wrote it: after the migrations each still reads as an
/// [`EventPayload`] of its kind, and writing that payload again gives the same bytes as the
/// version that wrote it.
#[test]
fn old_outbox_rows_read_as_typed_payloads() {
    const M: &str = "00000000-0000-0000-0000-000000000003";
    const C: &str = "00000000-0000-0000-0000-000000000001";
    const P: &str = "00000000-0000-0000-0000-000000000002";
    let rows: Vec<(u128, &str, String)> = vec![
        (
            20,
            "message",
            format!(
                r#"{{"conversation_id":"{C}","created_at_ms":2000,"id":"{M}","parent_id":"{P}","provenance":{{"architecture":"llama","chat_template_sha256":"cd","completion_tokens":3,"engine_version":"0.1.0","model_id":"tiny","model_sha256":"ab","prompt_tokens":5,"quantization":"Q4_1","sampler":{{"max_tokens":512,"repeat_last_n":64,"repeat_penalty":1.100000023841858,"seed":42,"temperature":0.699999988079071,"top_k":40,"top_p":0.8999999761581421}},"time_to_first_token_ms":8,"total_ms":90}},"role":"assistant","text":"Mars has two moons, \"Phobos\" and Deimos."}}"#
            ),
        ),
        (
            21,
            "rating",
            format!(
                r#"{{"message_id":"{M}","thumbs":{{"comment":"Mail me: a@b.org","reasons":["wrong"],"vote":"-1"}}}}"#
            ),
        ),
        (
            22,
            "labels",
            format!(r#"{{"labels":{{"quality":0.75,"spam":0.0}},"message_id":"{M}"}}"#),
        ),
        (
            23,
            "ranking",
            format!(
                r#"{{"message_id":"{P}","ranking":{{"ranking":["{M}","{C}"],"type":"ranked"}}}}"#
            ),
        ),
        (
            24,
            "reaction",
            format!(r#"{{"emoji":"red_flag","message_id":"{M}","op":"add"}}"#),
        ),
        (
            25,
            "retraction",
            format!(r#"{{"kind":"message","retracts":"{M}"}}"#),
        ),
    ];
    let correction = (
        26,
        "correction",
        format!(
            r#"{{"conversation_id":"{C}","corrects":"{M}","created_at_ms":3000,"id":"{M}","parent_id":"{P}","provenance":null,"role":"assistant","text":"Two: Phobos and Deimos."}}"#
        ),
    );
    for version in [2, 5] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("oa.sqlite3");
        oa_store::create_at_schema_version(&path, version).unwrap();
        let mut written = rows.clone();
        if version >= 5 {
            written.push(correction.clone());
        }
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for (n, kind, payload) in &written {
                conn.execute(
                    "INSERT INTO contribution_events (id, kind, subject_id, conversation_id,
                         payload, state, rejection_reason, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'queued', NULL, 1000, 1000)",
                    params![Uuid::from_u128(*n).to_string(), kind, M, C, payload],
                )
                .unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        for (n, kind, payload) in &written {
            let event = store.event(Uuid::from_u128(*n)).unwrap();
            assert_eq!(&event.payload, payload, "kept as written, from {version}");
            let typed = EventPayload::parse(event.kind, &event.payload)
                .unwrap_or_else(|e| panic!("{e}, from {version}"));
            assert_eq!(typed.kind().as_str(), *kind);
            // Written again, the same bytes: except the first outbox's model-written
            // message, which gains the sampler settings added since, at their defaults. What is
            // sent is the row as written, never a payload written again.
            if *n != 20 {
                assert_eq!(&typed.to_json(), payload, "the same bytes, from {version}");
            }
        }
        let rating = store.event(Uuid::from_u128(21)).unwrap();
        let typed = EventPayload::parse(rating.kind, &rating.payload).unwrap();
        let free: Vec<&str> = typed
            .free_text(&rating.payload)
            .into_iter()
            .map(|(range, _)| &rating.payload[range])
            .collect();
        assert_eq!(free, ["Mail me: a@b.org", "wrong"]);
    }
}
