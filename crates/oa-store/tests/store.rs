//! The store on real SQLite files in temp dirs.

mod store {
    mod api;
    mod conversations;
    mod crash;
    mod dismissals;
    mod feedback;
    mod lang;
    mod leases;
    mod migration;
    mod oasst;
    mod outbox;
    mod search;
    mod settings;
    mod tasks;
    mod tree;
}

use oa_store::{Store, StoreError};
use oa_types::{Provenance, Role, SamplerParams, Uuid};

pub(crate) fn provenance() -> Provenance {
    Provenance {
        model_id: "SmolLM2 135M Instruct".into(),
        model_sha256: "b".repeat(64),
        quantization: "Q4_1".into(),
        architecture: "llama".into(),
        chat_template_sha256: "c".repeat(64),
        sampler: SamplerParams::default(),
        engine_version: "oa-engine/0.1.0".into(),
        prompt_tokens: 30,
        completion_tokens: 12,
        time_to_first_token_ms: 800,
        total_ms: 1500,
        stopped: false,
        dropped_messages: 0,
    }
}

#[test]
fn a_conversation_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/oa.sqlite3");
    let conversation = {
        let mut store = Store::open(&path).unwrap();
        let prompt = store
            .add_prompt(None, "What is the capital of France?")
            .unwrap();
        let reply = store
            .add_reply(&prompt, "Paris.", Some(provenance()))
            .unwrap();
        assert_eq!(reply.parent_id, Some(prompt.id));
        let follow = store
            .add_prompt(Some(prompt.conversation_id), "And of Italy?")
            .unwrap();
        assert_eq!(
            follow.parent_id,
            Some(reply.id),
            "a follow-up continues the current path"
        );
        prompt.conversation_id
    };
    let store = Store::open(&path).unwrap();
    let list = store.list_conversations().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title, "What is the capital of France?");
    assert_eq!(list[0].message_count, 3);
    let detail = store.conversation(conversation).unwrap();
    let texts: Vec<_> = detail.messages.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        ["What is the capital of France?", "Paris.", "And of Italy?"]
    );
    assert_eq!(detail.messages[1].role, Role::Assistant);
    assert_eq!(
        detail.messages[1].provenance,
        Some(provenance()),
        "provenance is kept exactly"
    );
    assert!(detail.messages[1].is_synthetic() && !detail.messages[0].is_synthetic());
}

#[test]
fn the_newest_conversation_is_listed_first() {
    let mut store = Store::open_in_memory().unwrap();
    let a = store.add_prompt(None, "first").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    store.add_prompt(None, "second").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(3));
    store.add_reply(&a, "reply to first", None).unwrap();
    let titles: Vec<_> = store
        .list_conversations()
        .unwrap()
        .into_iter()
        .map(|c| c.title)
        .collect();
    assert_eq!(titles, ["first", "second"]);
}

#[test]
fn bad_input_is_refused_with_a_typed_error() {
    let mut store = Store::open_in_memory().unwrap();
    assert!(matches!(
        store.add_prompt(None, "  \n "),
        Err(StoreError::InvalidInput(_))
    ));
    let unknown = Uuid::now_v7();
    assert!(matches!(
        store.add_prompt(Some(unknown), "hi"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.conversation(unknown),
        Err(StoreError::NotFound(_))
    ));
    assert!(
        store.list_conversations().unwrap().is_empty(),
        "nothing half-written"
    );
}

#[test]
fn a_database_from_a_newer_app_is_refused_not_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    Store::open(&path).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 999, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("update the app"));
}

#[test]
fn an_unwritable_location_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"not a directory").unwrap();
    let err = Store::open(&blocker.join("oa.sqlite3")).unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("cannot open the database"));
}

#[test]
fn reopening_keeps_the_schema_and_uses_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let v = Store::open(&path).unwrap().schema_version().unwrap();
    assert_eq!(Store::open(&path).unwrap().schema_version().unwrap(), v);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}
