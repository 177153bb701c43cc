//! Answers of the local API kept in the history: one transaction, their own source, shaped into
//! a tree like any chat.

use oa_store::{Store, StoreError};
use oa_types::{API_SOURCE, ConsentState, Role, Thumbs, Vote};

fn turn(role: Role, text: &str) -> (Role, String) {
    (role, text.to_owned())
}

#[test]
fn an_exchange_is_a_conversation_of_the_api_source_with_its_reply_last() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let chat = store.add_prompt(None, "A chat of the app's own").unwrap();
    let reply = store
        .add_api_exchange(
            "You answer briefly.",
            &[
                turn(Role::Prompter, "Name a moon of Mars."),
                turn(Role::Assistant, "Phobos."),
                turn(Role::Prompter, "Another one?"),
                turn(Role::Prompter, "Just the name."),
            ],
            "Deimos.",
            super::super::provenance(),
        )
        .unwrap();
    drop(store);

    let store = Store::open(&path).unwrap();
    let entries = store.list_conversation_entries().unwrap();
    assert_eq!(entries.len(), 2);
    let api = &entries[0];
    assert_eq!(api.summary.id, reply.conversation_id, "the newest is first");
    assert_eq!(api.source.as_deref(), Some(API_SOURCE));
    assert_eq!(api.summary.title, "Name a moon of Mars.");
    assert_eq!(api.summary.message_count, 4);
    assert_eq!(entries[1].summary.id, chat.conversation_id);
    assert_eq!(
        entries[1].source, None,
        "the app's own chats have no source"
    );

    let detail = store.conversation(reply.conversation_id).unwrap();
    let turns: Vec<_> = detail
        .messages
        .iter()
        .map(|m| (m.role, m.text.as_str()))
        .collect();
    assert_eq!(
        turns,
        [
            (Role::Prompter, "Name a moon of Mars."),
            (Role::Assistant, "Phobos."),
            (Role::Prompter, "Another one?\n\nJust the name."),
            (Role::Assistant, "Deimos."),
        ]
    );
    assert_eq!(detail.messages[3].id, reply.id);
    assert_eq!(
        detail.messages[3].provenance,
        Some(super::super::provenance())
    );
    assert_eq!(
        store
            .conversation_settings(reply.conversation_id)
            .unwrap()
            .system_prompt,
        "You answer briefly."
    );
    // Every message is recorded for sharing, privately, like a chat's.
    let private = store.events(ConsentState::Private).unwrap();
    assert_eq!(private.len(), 5, "{private:?}");
}

#[test]
fn a_kept_reply_is_rated_and_searched_like_any_other() {
    let mut store = Store::open_in_memory().unwrap();
    let reply = store
        .add_api_exchange(
            "",
            &[turn(Role::Prompter, "Which planet has Phobos?")],
            "Mars has Phobos.",
            super::super::provenance(),
        )
        .unwrap();
    store
        .rate(
            reply.id,
            &Thumbs {
                vote: Vote::Up,
                reasons: Vec::new(),
                comment: None,
            },
        )
        .unwrap();
    assert_eq!(
        store.feedback(reply.id).unwrap().thumbs.map(|t| t.vote),
        Some(Vote::Up)
    );
    assert_eq!(store.search("phobos", 10).unwrap().len(), 2);
}

#[test]
fn an_exchange_without_a_prompt_to_answer_is_refused_and_nothing_is_kept() {
    let mut store = Store::open_in_memory().unwrap();
    for turns in [
        vec![],
        vec![turn(Role::Prompter, "  ")],
        vec![turn(Role::Assistant, "Hello.")],
        vec![
            turn(Role::Prompter, "Hi."),
            turn(Role::Assistant, "Go on: "),
        ],
    ] {
        let err = store
            .add_api_exchange("", &turns, "An answer.", super::super::provenance())
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{turns:?}");
        assert!(err.to_string().contains("prompt"), "{err}");
    }
    assert!(store.list_conversation_entries().unwrap().is_empty());
    assert!(store.events(ConsentState::Private).unwrap().is_empty());
}

#[test]
fn a_system_prompt_longer_than_a_person_may_type_is_kept_whole() {
    let mut store = Store::open_in_memory().unwrap();
    let long = "Use the tools. ".repeat(1_000);
    assert!(long.chars().count() > oa_types::MAX_SYSTEM_PROMPT_CHARS);
    let reply = store
        .add_api_exchange(
            &long,
            &[turn(Role::Prompter, "Hi.")],
            "Hello.",
            super::super::provenance(),
        )
        .unwrap();
    assert_eq!(
        store
            .conversation_settings(reply.conversation_id)
            .unwrap()
            .system_prompt,
        long
    );
}
