//! The contribution outbox: consent states and retractions.

use oa_store::{Store, StoreError};
use oa_types::{ConsentState, ContributionKind, Thumbs, Uuid, Vote};

#[test]
fn every_action_records_a_private_event_in_the_same_transaction() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "hello").unwrap();
    let reply = store
        .add_reply(&prompt, "hi", Some(super::super::provenance()))
        .unwrap();
    let events = store.events(ConsentState::Private).unwrap();
    let kinds: Vec<_> = events.iter().map(|e| (e.kind, e.subject_id)).collect();
    assert_eq!(
        kinds,
        [
            (ContributionKind::Message, prompt.id),
            (ContributionKind::Message, reply.id)
        ]
    );
    let payload: oa_types::Message = serde_json::from_str(&events[1].payload).unwrap();
    assert_eq!(payload, reply, "the payload is the message with provenance");
    // A refused action leaves no event behind.
    assert!(store.add_prompt(Some(Uuid::now_v7()), "lost").is_err());
    assert_eq!(store.events(ConsentState::Private).unwrap().len(), 2);
    assert!(store.events(ConsentState::Queued).unwrap().is_empty());
}

#[test]
fn events_move_only_along_the_consent_path() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "hello").unwrap();
    let id = store.events(ConsentState::Private).unwrap()[0].id;

    assert_eq!(store.share_event(id).unwrap().state, ConsentState::Queued);
    assert_eq!(
        store.unshare_event(id).unwrap().state,
        ConsentState::Private
    );
    store.share_event(id).unwrap();
    assert_eq!(store.events(ConsentState::Queued).unwrap().len(), 1);
    assert_eq!(store.mark_event_sent(id).unwrap().state, ConsentState::Sent);
    let accepted = store.mark_event_accepted(id).unwrap();
    assert_eq!(accepted.state, ConsentState::Accepted);
    assert_eq!(accepted.rejection_reason, None);

    let second = store
        .rate(
            prompt.id,
            &Thumbs {
                vote: Vote::Up,
                reasons: vec![],
                comment: None,
            },
        )
        .unwrap();
    store.share_event(second.id).unwrap();
    store.mark_event_sent(second.id).unwrap();
    assert!(matches!(
        store.mark_event_rejected(second.id, "  "),
        Err(StoreError::InvalidInput(_))
    ));
    let rejected = store.mark_event_rejected(second.id, "duplicate").unwrap();
    assert_eq!(rejected.state, ConsentState::Rejected);
    assert_eq!(rejected.rejection_reason.as_deref(), Some("duplicate"));
    assert_eq!(rejected.payload, second.payload, "payload never changes");

    // The server holds no copy of a refused event: it can be fixed and sent again, or kept.
    let fixed = store
        .redact_event(second.id, r#"{"vote":"up","reasons":[]}"#)
        .unwrap();
    assert!(fixed.redacted);
    let again = store.share_event(second.id).unwrap();
    assert_eq!(again.state, ConsentState::Queued);
    assert_eq!(again.rejection_reason, None, "the old reason is cleared");
    store.mark_event_sent(second.id).unwrap();
    store.mark_event_rejected(second.id, "still wrong").unwrap();
    let kept = store.unshare_event(second.id).unwrap();
    assert_eq!(kept.state, ConsentState::Private);
}

#[test]
fn invalid_moves_are_typed_errors_that_change_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    store.add_prompt(None, "hello").unwrap();
    let id = store.events(ConsentState::Private).unwrap()[0].id;
    let refused = |r: Result<oa_types::ContributionEvent, StoreError>| match r {
        Err(StoreError::InvalidTransition { from, to, .. }) => (from, to),
        other => panic!("{other:?}"),
    };
    use ConsentState::*;
    // From private only sharing is allowed.
    assert_eq!(refused(store.unshare_event(id)), (Private, Private));
    assert_eq!(refused(store.mark_event_sent(id)), (Private, Sent));
    assert_eq!(refused(store.mark_event_accepted(id)), (Private, Accepted));
    assert_eq!(
        refused(store.mark_event_rejected(id, "no")),
        (Private, Rejected)
    );
    store.share_event(id).unwrap();
    assert_eq!(refused(store.share_event(id)), (Queued, Queued));
    assert_eq!(refused(store.mark_event_accepted(id)), (Queued, Accepted));
    store.mark_event_sent(id).unwrap();
    // Once sent, consent can no longer be withdrawn by unsharing: deletion retracts instead.
    assert_eq!(refused(store.unshare_event(id)), (Sent, Private));
    assert_eq!(refused(store.share_event(id)), (Sent, Queued));
    store.mark_event_accepted(id).unwrap();
    assert_eq!(
        refused(store.mark_event_rejected(id, "late")),
        (Accepted, Rejected)
    );
    assert_eq!(refused(store.mark_event_sent(id)), (Accepted, Sent));
    let err = store.unshare_event(id).unwrap_err();
    assert!(
        err.to_string()
            .contains("is accepted and cannot become private"),
        "{err}"
    );
    assert_eq!(store.event(id).unwrap().state, Accepted);
    assert!(matches!(
        store.share_event(Uuid::now_v7()),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.event(Uuid::now_v7()),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn deleting_what_was_sent_queues_retractions_and_forgets_the_rest() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "secret plans").unwrap();
    let reply = store.add_reply(&prompt, "noted", None).unwrap();
    let rating = store
        .rate(
            reply.id,
            &Thumbs {
                vote: Vote::Down,
                reasons: vec![],
                comment: None,
            },
        )
        .unwrap();
    let events = store.events(ConsentState::Private).unwrap();
    let (prompt_event, reply_event) = (events[0].id, events[1].id);
    // The prompt was accepted, the reply only sent, the rating queued, nothing else shared.
    for id in [prompt_event, reply_event, rating.id] {
        store.share_event(id).unwrap();
    }
    for id in [prompt_event, reply_event] {
        store.mark_event_sent(id).unwrap();
    }
    store.mark_event_accepted(prompt_event).unwrap();
    let other = store.add_prompt(None, "unrelated").unwrap();

    store.delete_conversation(prompt.conversation_id).unwrap();
    let queued = store.events(ConsentState::Queued).unwrap();
    assert_eq!(
        queued.len(),
        2,
        "one retraction per event the server may hold"
    );
    for (event, (retracted, subject)) in queued
        .iter()
        .zip([(prompt_event, prompt.id), (reply_event, reply.id)])
    {
        assert_eq!(event.kind, ContributionKind::Retraction);
        assert_eq!(event.subject_id, subject);
        let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
        assert_eq!(payload["retracts"], retracted.to_string());
        assert!(
            !event.payload.contains("secret"),
            "no deleted text survives"
        );
    }
    assert!(store.events(ConsentState::Sent).unwrap().is_empty());
    assert!(store.events(ConsentState::Accepted).unwrap().is_empty());
    let private = store.events(ConsentState::Private).unwrap();
    assert_eq!(private.len(), 1);
    assert_eq!(
        private[0].subject_id, other.id,
        "other conversations keep theirs"
    );
    // Retractions go through the same consent path.
    store.mark_event_sent(queued[0].id).unwrap();
}

#[test]
fn deleting_what_never_left_queues_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "draft").unwrap();
    let id = store.events(ConsentState::Private).unwrap()[0].id;
    store.share_event(id).unwrap();
    store.delete_conversation(prompt.conversation_id).unwrap();
    for state in [ConsentState::Private, ConsentState::Queued] {
        assert!(store.events(state).unwrap().is_empty());
    }
}

#[test]
fn recorded_events_cannot_be_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let mut store = Store::open(&path).unwrap();
    store.add_prompt(None, "hello").unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let err = conn
        .execute("UPDATE contribution_events SET payload = '{}'", [])
        .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
}

#[test]
fn a_sync_round_moves_each_batch_in_one_transaction() {
    let mut store = Store::open_in_memory().unwrap();
    for text in ["first question", "second question", "kept to myself"] {
        store.add_prompt(None, text).unwrap();
    }
    let all: Vec<Uuid> = store
        .events(ConsentState::Private)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let (first, second, private) = (all[0], all[1], all[2]);
    store.share_event(first).unwrap();
    store.share_event(second).unwrap();
    let state = |store: &Store, id| store.event(id).unwrap().state;

    // A batch that holds an event nobody shared is refused whole, and nothing moves.
    assert!(matches!(
        store.mark_events_sent(&[first, private]),
        Err(StoreError::InvalidTransition { .. })
    ));
    assert_eq!(state(&store, first), ConsentState::Queued);

    // An event whose answer was lost is sent first next time, and marking it again is fine.
    store.mark_events_sent(&[second]).unwrap();
    let next: Vec<Uuid> = store
        .events_to_send(10)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(next, vec![second, first]);
    assert_eq!(store.events_to_send(1).unwrap().len(), 1);
    store.mark_events_sent(&[second, first]).unwrap();

    // A refusal without a reason is bad input: the whole set of answers is refused.
    assert!(matches!(
        store.record_server_answers(&[(first, None), (second, Some("  ".into()))]),
        Err(StoreError::InvalidInput(_))
    ));
    assert_eq!(state(&store, first), ConsentState::Sent);
    store
        .record_server_answers(&[(first, None), (second, Some("duplicate_text".into()))])
        .unwrap();
    assert_eq!(state(&store, first), ConsentState::Accepted);
    let refused = store.event(second).unwrap();
    assert_eq!(refused.state, ConsentState::Rejected);
    assert_eq!(refused.rejection_reason.as_deref(), Some("duplicate_text"));
    assert!(store.events_to_send(10).unwrap().is_empty());
    assert_eq!(state(&store, private), ConsentState::Private);
}

#[test]
fn a_redacted_payload_is_what_leaves_and_only_before_it_is_sent() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "write to jane@example.com").unwrap();
    let id = store.events(ConsentState::Private).unwrap()[0].id;
    let redacted = serde_json::json!({ "id": prompt.id, "text": "write to [email]" }).to_string();

    assert!(matches!(
        store.redact_event(id, "not json"),
        Err(StoreError::InvalidInput(_))
    ));
    let event = store.redact_event(id, &redacted).unwrap();
    assert!(event.redacted);
    assert_eq!(event.payload, redacted);
    store.share_event(id).unwrap();
    // What the sync client takes is the redacted version; the message itself is untouched.
    let outgoing = store.events_to_send(10).unwrap();
    assert_eq!(outgoing[0].payload, redacted);
    assert_eq!(
        store.conversation(prompt.conversation_id).unwrap().messages[0].text,
        "write to jane@example.com"
    );
    // A queued event can still be redacted again; a sent one cannot.
    store.redact_event(id, &redacted).unwrap();
    store.mark_event_sent(id).unwrap();
    assert!(matches!(
        store.redact_event(id, &redacted),
        Err(StoreError::AlreadySent { event, state: ConsentState::Sent }) if event == id
    ));
}

#[test]
fn sharing_a_conversation_queues_its_private_events_and_nothing_else() {
    let mut store = Store::open_in_memory().unwrap();
    let first = store.add_prompt(None, "one").unwrap();
    let reply = store.add_reply(&first, "two", None).unwrap();
    store
        .rate(
            reply.id,
            &Thumbs {
                vote: Vote::Up,
                reasons: vec![],
                comment: None,
            },
        )
        .unwrap();
    let other = store.add_prompt(None, "elsewhere").unwrap();
    let sent = store.events(ConsentState::Private).unwrap()[0].id;
    store.share_event(sent).unwrap();
    store.mark_event_sent(sent).unwrap();

    assert_eq!(store.share_conversation(first.conversation_id).unwrap(), 2);
    let queued: Vec<_> = store
        .events(ConsentState::Queued)
        .unwrap()
        .iter()
        .map(|e| e.conversation_id)
        .collect();
    assert_eq!(queued, [first.conversation_id; 2]);
    assert_eq!(
        store.events(ConsentState::Sent).unwrap().len(),
        1,
        "sent stays sent"
    );
    assert_eq!(
        store.events(ConsentState::Private).unwrap()[0].conversation_id,
        other.conversation_id
    );
    assert_eq!(
        store.unshare_conversation(first.conversation_id).unwrap(),
        2
    );
    assert!(store.events(ConsentState::Queued).unwrap().is_empty());
    assert_eq!(store.all_events().unwrap().len(), 4);
}

#[test]
fn a_claimed_batch_is_exactly_what_is_marked_sent_and_cannot_change_after() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open-assistant.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let prompt = store
        .add_prompt(None, "my number is +31 6 1234 5678")
        .unwrap();
    let id = store.events(ConsentState::Private).unwrap()[0].id;
    store.share_event(id).unwrap();
    let redacted =
        serde_json::json!({ "id": prompt.id, "text": "my number is [phone]" }).to_string();
    // The person redacts in the app's window (another connection to the same file) while the
    // sync agent claims its batch: either the redaction lands first and is in the batch, or it
    // comes after and is refused. Never the old bytes sent with the redaction reported done.
    let mut window = Store::open(&path).unwrap();
    window.redact_event(id, &redacted).unwrap();
    let batch = store.claim_events_to_send(10).unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].payload, redacted);
    assert_eq!(batch[0].state, ConsentState::Sent);
    assert_eq!(
        store.events(ConsentState::Sent).unwrap()[0].payload,
        redacted
    );
    assert!(matches!(
        window.redact_event(id, &redacted),
        Err(StoreError::AlreadySent { event, state: ConsentState::Sent }) if event == id
    ));
    assert!(
        window.unshare_event(id).is_err(),
        "a sent event cannot be taken back silently"
    );
    // A lost answer leaves it sent: the next claim sends the same bytes again, first.
    let again = store.claim_events_to_send(10).unwrap();
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].payload, redacted);
}
