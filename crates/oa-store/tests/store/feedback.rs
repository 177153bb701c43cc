//! Votes, labels, rankings and reactions, with Open-Assistant's vocabulary.

use oa_store::{Store, StoreError};
use oa_types::{
    ConsentState, ContributionKind, Emoji, FeedbackError, Labels, Message, Ranking, TextLabel,
    Thumbs, Uuid, Vote,
};

/// A prompt with three replies, oldest first.
fn replies(store: &mut Store) -> (Message, [Message; 3]) {
    let prompt = store.add_prompt(None, "Tell me a joke").unwrap();
    let r = ["A", "B", "C"].map(|t| {
        std::thread::sleep(std::time::Duration::from_millis(2));
        store.add_reply(&prompt, t, None).unwrap()
    });
    (prompt, r)
}

fn thumbs(vote: Vote) -> Thumbs {
    Thumbs {
        vote,
        reasons: vec![],
        comment: None,
    }
}

#[test]
fn changing_ones_mind_replaces_the_value_and_adds_an_event() {
    let mut store = Store::open_in_memory().unwrap();
    let (_, [a, ..]) = replies(&mut store);
    let first = store.rate(a.id, &thumbs(Vote::Up)).unwrap();
    let down = Thumbs {
        vote: Vote::Down,
        reasons: vec!["not funny".into()],
        comment: Some("heard it before".into()),
    };
    let second = store.rate(a.id, &down).unwrap();
    assert_eq!(store.feedback(a.id).unwrap().thumbs, Some(down));
    assert_ne!(first.id, second.id);
    let ratings: Vec<_> = store
        .events(ConsentState::Private)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == ContributionKind::Rating)
        .collect();
    assert_eq!(ratings, [first.clone(), second]);
    let payload: serde_json::Value = serde_json::from_str(&first.payload).unwrap();
    assert_eq!(
        payload["thumbs"]["vote"], "+1",
        "Open-Assistant's vote codes"
    );
    assert_eq!(payload["message_id"], a.id.to_string());
}

#[test]
fn labels_are_stored_in_open_assistants_shape() {
    let mut store = Store::open_in_memory().unwrap();
    let (_, [a, ..]) = replies(&mut store);
    let labels = Labels(
        [
            (TextLabel::Spam, 0.0),
            (TextLabel::Pii, 1.0),
            (TextLabel::Humor, 0.75),
        ]
        .into(),
    );
    let event = store.set_labels(a.id, &labels).unwrap();
    assert_eq!(event.kind, ContributionKind::Labels);
    let payload: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
    assert_eq!(
        payload["labels"],
        serde_json::json!({"spam": 0.0, "pii": 1.0, "humor": 0.75})
    );
    let replaced = Labels([(TextLabel::Quality, 0.5)].into());
    store.set_labels(a.id, &replaced).unwrap();
    assert_eq!(store.feedback(a.id).unwrap().labels, Some(replaced));
}

#[test]
fn invalid_feedback_is_refused_with_a_typed_error_and_nothing_stored() {
    let mut store = Store::open_in_memory().unwrap();
    let (_, [a, ..]) = replies(&mut store);
    let before = store.events(ConsentState::Private).unwrap().len();
    let off_scale = Labels([(TextLabel::Quality, 0.6)].into());
    assert!(matches!(
        store.set_labels(a.id, &off_scale),
        Err(StoreError::Feedback(FeedbackError::InvalidLabelValue {
            label: TextLabel::Quality,
            ..
        }))
    ));
    let not_yes_no = Labels([(TextLabel::FailsTask, 0.5)].into());
    let err = store.set_labels(a.id, &not_yes_no).unwrap_err();
    assert!(err.to_string().contains("0 or 1"), "{err}");
    assert!(matches!(
        store.set_labels(a.id, &Labels::default()),
        Err(StoreError::Feedback(FeedbackError::NoLabels))
    ));
    let blank = Thumbs {
        comment: Some("   ".into()),
        ..thumbs(Vote::Down)
    };
    assert!(matches!(
        store.rate(a.id, &blank),
        Err(StoreError::Feedback(FeedbackError::BlankText("comment")))
    ));
    assert!(matches!(
        store.rate(Uuid::now_v7(), &thumbs(Vote::Up)),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_reaction(Uuid::now_v7(), Emoji::RedFlag, true),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.feedback(a.id).unwrap().labels, None);
    assert_eq!(store.feedback(a.id).unwrap().thumbs, None);
    assert_eq!(store.events(ConsentState::Private).unwrap().len(), before);
}

#[test]
fn rankings_cover_exactly_the_sibling_replies() {
    let mut store = Store::open_in_memory().unwrap();
    let (prompt, [a, b, c]) = replies(&mut store);
    let ranking = Ranking::Ranked(vec![c.id, a.id, b.id]);
    let event = store.rank_replies(prompt.id, &ranking).unwrap();
    assert_eq!(
        (event.kind, event.subject_id),
        (ContributionKind::Ranking, prompt.id)
    );
    assert_eq!(store.feedback(prompt.id).unwrap().ranking, Some(ranking));
    store
        .rank_replies(prompt.id, &Ranking::NotRankable)
        .unwrap();
    assert_eq!(
        store.feedback(prompt.id).unwrap().ranking,
        Some(Ranking::NotRankable)
    );

    let mut err = |r: Ranking| match store.rank_replies(prompt.id, &r) {
        Err(StoreError::Feedback(e)) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(Ranking::Ranked(vec![a.id, b.id])),
        FeedbackError::Unranked(c.id)
    );
    assert_eq!(
        err(Ranking::Ranked(vec![a.id, b.id, c.id, b.id])),
        FeedbackError::RankedTwice(b.id)
    );
    assert_eq!(
        err(Ranking::Ranked(vec![a.id, b.id, c.id, prompt.id])),
        FeedbackError::NotASibling(prompt.id)
    );
    // A reply with a single answer below it has nothing to rank.
    let only = store
        .add_prompt(Some(prompt.conversation_id), "more")
        .unwrap();
    store.add_reply(&only, "one", None).unwrap();
    assert!(matches!(
        store.rank_replies(only.id, &Ranking::NotRankable),
        Err(StoreError::Feedback(FeedbackError::NothingToRank {
            replies: 1
        }))
    ));
    assert!(matches!(
        store.rank_replies(Uuid::now_v7(), &Ranking::NotRankable),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.feedback(prompt.id).unwrap().ranking,
        Some(Ranking::NotRankable),
        "refused rankings leave the last good one"
    );
}

#[test]
fn reactions_toggle_and_record_only_changes() {
    let mut store = Store::open_in_memory().unwrap();
    let (_, [a, ..]) = replies(&mut store);
    let on = store
        .set_reaction(a.id, Emoji::Hundred, true)
        .unwrap()
        .unwrap();
    assert!(on.payload.contains(r#""emoji":"100""#), "{}", on.payload);
    assert!(
        store
            .set_reaction(a.id, Emoji::Hundred, true)
            .unwrap()
            .is_none(),
        "already on"
    );
    store.set_reaction(a.id, Emoji::SkipRanking, true).unwrap();
    assert_eq!(
        store.feedback(a.id).unwrap().reactions,
        [Emoji::Hundred, Emoji::SkipRanking]
    );
    let off = store
        .set_reaction(a.id, Emoji::Hundred, false)
        .unwrap()
        .unwrap();
    assert!(off.payload.contains(r#""op":"remove""#));
    assert!(
        store
            .set_reaction(a.id, Emoji::Hundred, false)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.feedback(a.id).unwrap().reactions,
        [Emoji::SkipRanking]
    );
}
