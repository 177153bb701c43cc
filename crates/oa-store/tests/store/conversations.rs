//! Renaming, pinning and deleting conversations.

use oa_store::{MAX_TITLE_CHARS, Store, StoreError};
use oa_types::Uuid;

fn titles(store: &Store) -> Vec<(String, bool)> {
    store
        .list_conversation_entries()
        .unwrap()
        .into_iter()
        .map(|e| (e.summary.title, e.pinned))
        .collect()
}

#[test]
fn renaming_changes_the_title_but_not_the_order() {
    let mut store = Store::open_in_memory().unwrap();
    let a = store.add_prompt(None, "first").unwrap().conversation_id;
    std::thread::sleep(std::time::Duration::from_millis(3));
    store.add_prompt(None, "second").unwrap();
    store.rename(a, "  Trip planning  ").unwrap();
    assert_eq!(
        titles(&store),
        [("second".into(), false), ("Trip planning".into(), false)]
    );
    assert_eq!(
        store.conversation(a).unwrap().summary.title,
        "Trip planning"
    );
}

#[test]
fn bad_titles_and_unknown_conversations_are_refused() {
    let mut store = Store::open_in_memory().unwrap();
    let a = store.add_prompt(None, "first").unwrap().conversation_id;
    assert!(matches!(
        store.rename(a, " \t"),
        Err(StoreError::InvalidInput(_))
    ));
    let long = "x".repeat(MAX_TITLE_CHARS + 1);
    assert!(matches!(
        store.rename(a, &long),
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(titles(&store), [("first".into(), false)], "unchanged");
    let unknown = Uuid::now_v7();
    assert!(matches!(
        store.rename(unknown, "x"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_pinned(unknown, true),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_conversation(unknown),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn pinned_conversations_come_first() {
    let mut store = Store::open_in_memory().unwrap();
    let old = store.add_prompt(None, "old").unwrap().conversation_id;
    std::thread::sleep(std::time::Duration::from_millis(3));
    store.add_prompt(None, "new").unwrap();
    store.set_pinned(old, true).unwrap();
    assert_eq!(
        titles(&store),
        [("old".into(), true), ("new".into(), false)]
    );
    let plain: Vec<_> = store
        .list_conversations()
        .unwrap()
        .into_iter()
        .map(|c| c.title)
        .collect();
    assert_eq!(
        plain,
        ["old", "new"],
        "the plain list follows the same order"
    );
    store.set_pinned(old, false).unwrap();
    assert_eq!(
        titles(&store),
        [("new".into(), false), ("old".into(), false)]
    );
}

#[test]
fn deleting_removes_the_whole_tree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let prompt = store.add_prompt(None, "delete me please").unwrap();
    let reply = store.add_reply(&prompt, "sure", None).unwrap();
    let keep = store.add_prompt(None, "keep me").unwrap();
    store.delete_conversation(prompt.conversation_id).unwrap();
    assert!(matches!(
        store.conversation(prompt.conversation_id),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.siblings(reply.id),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(titles(&store), [("keep me".into(), false)]);
    assert!(store.search("delete", 10).unwrap().is_empty(), "unindexed");
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE conversation_id = ?1",
            [prompt.conversation_id.to_string()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    assert_ne!(keep.conversation_id, prompt.conversation_id);
}
