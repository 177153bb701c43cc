//! Editing prompts into siblings and switching between branches.

use oa_store::{Store, StoreError};
use oa_types::{Message, Uuid};

fn path_texts(store: &Store, conversation: Uuid) -> Vec<(String, u32, u32)> {
    store
        .conversation_tree_path(conversation)
        .unwrap()
        .messages
        .into_iter()
        .map(|p| (p.message.text, p.sibling_index, p.sibling_count))
        .collect()
}

fn pause() {
    // created_at has millisecond resolution; keep creation order unambiguous.
    std::thread::sleep(std::time::Duration::from_millis(2));
}

/// prompt → reply → follow-up, returned in that order.
fn three(store: &mut Store) -> [Message; 3] {
    let prompt = store.add_prompt(None, "Capital of France?").unwrap();
    pause();
    let reply = store.add_reply(&prompt, "Paris.", None).unwrap();
    pause();
    let follow = store
        .add_prompt(Some(prompt.conversation_id), "And Italy?")
        .unwrap();
    pause();
    [prompt, reply, follow]
}

#[test]
fn editing_a_prompt_adds_a_sibling_and_follows_it() {
    let mut store = Store::open_in_memory().unwrap();
    let [prompt, reply, follow] = three(&mut store);
    let c = prompt.conversation_id;
    let edited = store
        .add_sibling_prompt(c, follow.id, "And Spain?")
        .unwrap();
    assert_eq!(edited.parent_id, Some(reply.id));
    assert_eq!(
        path_texts(&store, c),
        [
            ("Capital of France?".into(), 0, 1),
            ("Paris.".into(), 0, 1),
            ("And Spain?".into(), 1, 2),
        ]
    );
    let siblings: Vec<_> = store
        .siblings(follow.id)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(siblings, [follow.id, edited.id], "oldest first");
    assert_eq!(store.siblings(edited.id).unwrap().len(), 2);
    // The root prompt can be edited too: its sibling is another root of the same tree.
    pause();
    let root2 = store
        .add_sibling_prompt(c, prompt.id, "Capital of Germany?")
        .unwrap();
    assert_eq!(root2.parent_id, None);
    assert_eq!(
        path_texts(&store, c),
        [("Capital of Germany?".into(), 1, 2)]
    );
    assert_eq!(store.conversation(c).unwrap().messages, [root2]);
}

#[test]
fn switching_lands_where_the_person_last_was_in_the_branch() {
    let mut store = Store::open_in_memory().unwrap();
    let [prompt, reply, follow] = three(&mut store);
    let c = prompt.conversation_id;
    let edited = store
        .add_sibling_prompt(c, follow.id, "And Spain?")
        .unwrap();
    pause();
    let spain = store.add_reply(&edited, "Madrid.", None).unwrap();
    pause();
    // Back to the original follow-up: it has no reply, so the path ends there.
    assert_eq!(store.set_current_leaf(c, follow.id).unwrap(), follow.id);
    assert_eq!(
        path_texts(&store, c).last().unwrap(),
        &("And Italy?".into(), 0, 2)
    );
    // Choosing the edited branch again goes down to its reply.
    assert_eq!(store.set_current_leaf(c, edited.id).unwrap(), spain.id);
    // Choosing an ancestor follows the branch that was on screen last below it.
    pause();
    let rome = store.add_reply(&follow, "Rome.", None).unwrap();
    pause();
    store.set_current_leaf(c, edited.id).unwrap();
    pause();
    assert_eq!(store.set_current_leaf(c, reply.id).unwrap(), spain.id);
    pause();
    // Going to the other version of the follow-up lands on its newest reply.
    assert_eq!(store.set_current_leaf(c, follow.id).unwrap(), rome.id);
    pause();
    assert_eq!(store.set_current_leaf(c, reply.id).unwrap(), rome.id);
    // A new prompt continues whatever path is current.
    let next = store.add_prompt(Some(c), "Thanks").unwrap();
    assert_eq!(next.parent_id, Some(rome.id));
}

#[test]
fn bad_tree_operations_are_refused() {
    let mut store = Store::open_in_memory().unwrap();
    let [prompt, reply, follow] = three(&mut store);
    let c = prompt.conversation_id;
    let other = store.add_prompt(None, "elsewhere").unwrap();
    assert!(matches!(
        store.add_sibling_prompt(c, reply.id, "edited reply"),
        Err(StoreError::InvalidInput(m)) if m.contains("only a prompt")
    ));
    assert!(matches!(
        store.add_sibling_prompt(c, follow.id, "  "),
        Err(StoreError::InvalidInput(_))
    ));
    assert!(matches!(
        store.add_sibling_prompt(c, Uuid::now_v7(), "x"),
        Err(StoreError::NotFound(m)) if m.starts_with("message")
    ));
    assert!(matches!(
        store.add_sibling_prompt(other.conversation_id, follow.id, "x"),
        Err(StoreError::NotFound(m)) if m.contains("in conversation")
    ));
    assert!(matches!(
        store.set_current_leaf(Uuid::now_v7(), follow.id),
        Err(StoreError::NotFound(m)) if m.starts_with("conversation")
    ));
    assert!(matches!(
        store.set_current_leaf(c, other.id),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.siblings(Uuid::now_v7()),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.conversation_tree_path(Uuid::now_v7()),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(path_texts(&store, c).len(), 3, "nothing changed");
}

#[test]
fn a_correction_is_a_human_written_sibling_linked_to_the_reply_it_corrects() {
    let mut store = Store::open(&tempfile::tempdir().unwrap().path().join("c.sqlite3")).unwrap();
    let prompt = store.add_prompt(None, "Capital of Australia?").unwrap();
    pause();
    let model = store
        .add_reply(&prompt, "Sydney.", Some(super::super::provenance()))
        .unwrap();
    pause();
    let correction = store
        .add_correction(prompt.conversation_id, model.id, "Canberra.")
        .unwrap();
    assert_eq!(correction.parent_id, Some(prompt.id));
    assert_eq!(correction.corrects, Some(model.id));
    assert!(correction.is_human_written_reply() && !correction.is_synthetic());

    // The correction is what the person now sees; the model's reply is still there, unchanged.
    let path = path_texts(&store, prompt.conversation_id);
    assert_eq!(
        path,
        [
            ("Capital of Australia?".to_owned(), 0, 1),
            ("Canberra.".to_owned(), 1, 2)
        ]
    );
    let siblings = store.siblings(model.id).unwrap();
    assert_eq!(siblings[0], model);
    assert_eq!(siblings[1], correction);
    assert_eq!(
        store.corrections_of(model.id).unwrap(),
        std::slice::from_ref(&correction)
    );

    // It is recorded as a correction for sharing, with what it corrects.
    let event = store
        .events(oa_types::ConsentState::Private)
        .unwrap()
        .into_iter()
        .find(|e| e.subject_id == correction.id)
        .unwrap();
    assert_eq!(event.kind, oa_types::ContributionKind::Correction);
    let payload: Message = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(payload.corrects, Some(model.id));
}

#[test]
fn only_assistant_replies_can_be_corrected_and_only_with_new_text() {
    let mut store = Store::open_in_memory().unwrap();
    let [prompt, reply, _] = three(&mut store);
    let conversation = prompt.conversation_id;
    for (target, text) in [
        (prompt.id, "Capital of Spain?"),
        (reply.id, "   "),
        (reply.id, "Paris."),
    ] {
        let err = store
            .add_correction(conversation, target, text)
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
    }
    let err = store
        .add_correction(conversation, Uuid::now_v7(), "Rome.")
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert_eq!(store.conversation(conversation).unwrap().messages.len(), 3);
}

#[test]
fn the_path_to_a_message_in_another_branch_ends_at_it() {
    let mut store = Store::open_in_memory().unwrap();
    let [prompt, reply, follow] = three(&mut store);
    let conversation = prompt.conversation_id;
    pause();
    let edited = store
        .add_sibling_prompt(conversation, follow.id, "And Spain?")
        .unwrap();
    // The shown path now goes through the edit; the original follow-up's history is intact.
    let texts =
        |messages: Vec<Message>| -> Vec<String> { messages.into_iter().map(|m| m.text).collect() };
    assert_eq!(
        texts(store.path_to(follow.id).unwrap()),
        ["Capital of France?", "Paris.", "And Italy?"]
    );
    assert_eq!(
        texts(store.path_to(edited.id).unwrap()),
        ["Capital of France?", "Paris.", "And Spain?"]
    );
    assert_eq!(texts(store.path_to(reply.id).unwrap()).len(), 2);
    assert!(matches!(
        store.path_to(Uuid::now_v7()),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn going_back_to_a_version_returns_to_where_the_person_was_in_it() {
    let mut store = Store::open_in_memory().unwrap();
    let [prompt, reply, follow] = three(&mut store);
    let c = prompt.conversation_id;
    // Another answer to the first prompt, written after everything else.
    let other = store.add_reply(&prompt, "Lyon.", None).unwrap();
    pause();
    // The person goes back to the first answer (and what followed it), then edits the prompt.
    assert_eq!(store.set_current_leaf(c, reply.id).unwrap(), follow.id);
    pause();
    store
        .add_sibling_prompt(c, prompt.id, "Capital of Spain?")
        .unwrap();
    pause();
    // Returning to the original prompt shows the answer last on screen, not the newest one.
    assert_eq!(store.set_current_leaf(c, prompt.id).unwrap(), follow.id);
    assert_eq!(
        path_texts(&store, c),
        [
            ("Capital of France?".to_owned(), 0, 2),
            ("Paris.".to_owned(), 0, 2),
            ("And Italy?".to_owned(), 0, 1)
        ]
    );
    // Choosing the other answer makes it the one to return to.
    assert_eq!(store.set_current_leaf(c, other.id).unwrap(), other.id);
    pause();
    let edited = store.siblings(prompt.id).unwrap()[1].id;
    store.set_current_leaf(c, edited).unwrap();
    pause();
    assert_eq!(store.set_current_leaf(c, prompt.id).unwrap(), other.id);
}
