//! Tasks made from the person's history: which appear, answering and skipping them, progress.

use oa_store::{Store, StoreError};
use oa_types::{Labels, Ranking, Role, TaskAnswer, TaskKind, TextLabel, Thumbs, Uuid, Vote};

fn thumbs(vote: Vote) -> Thumbs {
    Thumbs {
        vote,
        reasons: vec!["wrong".into()],
        comment: None,
    }
}

fn kinds(store: &Store) -> Vec<(TaskKind, Option<Uuid>)> {
    store
        .task_queue(0)
        .unwrap()
        .tasks
        .iter()
        .map(|t| (t.kind, t.context.last().map(|m| m.id)))
        .collect()
}

#[test]
fn tasks_come_from_history_and_go_once_answered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let mut store = Store::open(&path).unwrap();
    // A new person has only the first-prompt task.
    assert_eq!(kinds(&store), [(TaskKind::InitialPrompt, None)]);

    let prompt = store.add_prompt(None, "Capital of Peru?").unwrap();
    let first = store.add_reply(&prompt, "Quito.", None).unwrap();
    let second = store.add_reply(&prompt, "Lima.", None).unwrap();
    store.rate(first.id, &thumbs(Vote::Down)).unwrap();

    let queue = store.task_queue(0).unwrap();
    let got: Vec<_> = queue.tasks.iter().map(|t| t.kind).collect();
    assert_eq!(
        got,
        [
            TaskKind::RankReplies,
            TaskKind::AssistantReply,
            TaskKind::LabelMessage,
            TaskKind::PrompterReply,
            TaskKind::InitialPrompt
        ]
    );
    assert_eq!(queue.progress.open, 5);
    let rank = &queue.tasks[0];
    assert_eq!(rank.title, "Capital of Peru?");
    assert_eq!(
        rank.replies.iter().map(|m| m.id).collect::<Vec<_>>(),
        [first.id, second.id]
    );
    let better = &queue.tasks[1];
    assert_eq!(better.replies[0].id, first.id);
    assert_eq!(better.context.last().map(|m| m.id), Some(prompt.id));
    assert_eq!(better.thumbs.as_ref().map(|t| t.vote), Some(Vote::Down));
    assert_eq!(queue.tasks[3].context.last().map(|m| m.id), Some(second.id));

    // Each answer does what the task asks, and its task goes.
    store
        .complete_task(&TaskAnswer::RankReplies {
            prompt_id: prompt.id,
            ranking: Ranking::Ranked(vec![second.id, first.id]),
        })
        .unwrap();
    assert_eq!(
        store.feedback(prompt.id).unwrap().ranking,
        Some(Ranking::Ranked(vec![second.id, first.id]))
    );
    store
        .complete_task(&TaskAnswer::AssistantReply {
            message_id: first.id,
            text: "Lima is the capital of Peru.".into(),
        })
        .unwrap();
    assert_eq!(store.corrections_of(first.id).unwrap().len(), 1);
    let mut labels = Labels::default();
    labels.0.insert(TextLabel::Quality, 0.25);
    store
        .complete_task(&TaskAnswer::LabelMessage {
            message_id: first.id,
            labels: labels.clone(),
        })
        .unwrap();
    assert_eq!(store.feedback(first.id).unwrap().labels, Some(labels));

    // The correction is now the conversation's leaf: replying to it as the user.
    let leaf = store
        .conversation(prompt.conversation_id)
        .unwrap()
        .messages
        .last()
        .unwrap()
        .id;
    assert_eq!(
        kinds(&store),
        [
            (TaskKind::PrompterReply, Some(leaf)),
            (TaskKind::InitialPrompt, None)
        ]
    );
    store
        .complete_task(&TaskAnswer::PrompterReply {
            message_id: leaf,
            text: "And of Chile?".into(),
        })
        .unwrap();
    let shown = store.conversation(prompt.conversation_id).unwrap().messages;
    let last = shown.last().unwrap();
    assert_eq!(
        (last.role, last.text.as_str()),
        (Role::Prompter, "And of Chile?")
    );
    store
        .complete_task(&TaskAnswer::InitialPrompt {
            text: "How do tides work?".into(),
        })
        .unwrap();
    assert_eq!(store.list_conversations().unwrap().len(), 2);

    drop(store);
    let store = Store::open(&path).unwrap();
    let progress = store.task_progress(0).unwrap();
    assert_eq!(
        (
            progress.done_today,
            progress.done_total,
            progress.streak_days
        ),
        (5, 5, 1)
    );
    assert_eq!(kinds(&store), [(TaskKind::InitialPrompt, None)]);
}

#[test]
fn skipped_tasks_stay_away_and_bad_answers_change_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "hi").unwrap();
    let reply = store.add_reply(&prompt, "hello", None).unwrap();
    store.rate(reply.id, &thumbs(Vote::Up)).unwrap();
    let key = store.task_queue(0).unwrap().tasks[0].key.clone();
    assert_eq!(key, format!("label_message:{}", reply.id));
    store.skip_task(&key).unwrap();
    assert_eq!(
        kinds(&store),
        [
            (TaskKind::PrompterReply, Some(reply.id)),
            (TaskKind::InitialPrompt, None)
        ]
    );
    // Skipping the first-prompt task only moves on: it is always there.
    store.skip_task("initial_prompt").unwrap();
    assert_eq!(kinds(&store).last(), Some(&(TaskKind::InitialPrompt, None)));

    for bad in [
        TaskAnswer::InitialPrompt { text: "  ".into() },
        TaskAnswer::PrompterReply {
            message_id: prompt.id,
            text: "a prompt cannot answer a prompt".into(),
        },
        TaskAnswer::AssistantReply {
            message_id: reply.id,
            text: "hello".into(),
        },
        TaskAnswer::LabelMessage {
            message_id: Uuid::now_v7(),
            labels: Labels::default(),
        },
    ] {
        let err = store.complete_task(&bad).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidInput(_) | StoreError::NotFound(_) | StoreError::Feedback(_)
            ),
            "{bad:?}: {err:?}"
        );
    }
    let progress = store.task_progress(0).unwrap();
    assert_eq!(progress.done_total, 0, "a refused answer is not counted");
    assert_eq!(store.list_conversations().unwrap().len(), 1);
}

#[test]
fn streaks_count_consecutive_local_days() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let mut store = Store::open(&path).unwrap();
    for text in ["one", "two", "three"] {
        store
            .complete_task(&TaskAnswer::InitialPrompt { text: text.into() })
            .unwrap();
    }
    // Spread them over yesterday, the day before and three days ago.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let day = 24 * 60 * 60 * 1000_i64;
    conn.execute_batch(&format!(
        "UPDATE task_log SET at = at - {day} WHERE rowid = 1;
         UPDATE task_log SET at = at - 2 * {day} WHERE rowid = 2;
         UPDATE task_log SET at = at - 4 * {day} WHERE rowid = 3;"
    ))
    .unwrap();
    let progress = store.task_progress(0).unwrap();
    // Nothing today yet: the streak still counts up to yesterday.
    assert_eq!(
        (
            progress.done_today,
            progress.streak_days,
            progress.done_total
        ),
        (0, 2, 3)
    );
    store
        .complete_task(&TaskAnswer::InitialPrompt {
            text: "four".into(),
        })
        .unwrap();
    let progress = store.task_progress(0).unwrap();
    assert_eq!((progress.done_today, progress.streak_days), (1, 3));
    // Local days: in a zone 13 hours ahead of UTC the same moments fall on other days, but the
    // one just done is always today.
    let far_east = store.task_progress(-13 * 60).unwrap();
    assert_eq!(far_east.done_today, 1);
}

#[test]
fn today_is_the_persons_local_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let mut store = Store::open(&path).unwrap();
    store
        .complete_task(&TaskAnswer::InitialPrompt {
            text: "late night".into(),
        })
        .unwrap();
    // It was done two hours ago.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE task_log SET at = at - 2 * 60 * 60 * 1000", [])
        .unwrap();
    let utc_minutes = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            / 60_000,
    )
    .unwrap()
    .rem_euclid(24 * 60);
    // The offset (JavaScript's `getTimezoneOffset`: UTC minus local time, whole hours) of a
    // zone whose clocks now show `hour` o'clock.
    let zone_at = |hour: i64| {
        let offset = (utc_minutes - hour * 60).div_euclid(60) * 60;
        i32::try_from(if offset > 12 * 60 {
            offset - 24 * 60
        } else {
            offset
        })
        .unwrap()
    };
    // Where it is now past 1 o'clock, it was done yesterday: nothing today, the streak holds.
    let at_one = store.task_progress(zone_at(1)).unwrap();
    assert_eq!(
        (at_one.done_today, at_one.streak_days, at_one.done_total),
        (0, 1, 1)
    );
    // Where it is now past 3 o'clock, it was done today.
    let at_three = store.task_progress(zone_at(3)).unwrap();
    assert_eq!(
        (
            at_three.done_today,
            at_three.streak_days,
            at_three.done_total
        ),
        (1, 1, 1)
    );
}

#[test]
fn compare_sets_hold_every_reply_and_the_ranking() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "pick a colour").unwrap();
    let a = store.add_reply(&prompt, "red", None).unwrap();
    let b = store.add_reply(&prompt, "blue", None).unwrap();
    assert!(matches!(
        store.compare_set(a.id),
        Err(StoreError::InvalidInput(_))
    ));
    let set = store.compare_set(prompt.id).unwrap();
    assert_eq!(
        set.replies.iter().map(|m| m.id).collect::<Vec<_>>(),
        [a.id, b.id]
    );
    assert_eq!(set.ranking, None);
    store
        .rank_replies(prompt.id, &Ranking::NotRankable)
        .unwrap();
    assert_eq!(
        store.compare_set(prompt.id).unwrap().ranking,
        Some(Ranking::NotRankable)
    );
}
