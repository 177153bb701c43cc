//! Tasks leased from the dataset server: kept with their context, answered offline, their
//! results queued naming the task.

use oa_store::{Store, StoreError, leased_task_id};
use oa_types::{
    ConsentState, ContributionKind, Ranking, Role, Task, TaskAnswer, TaskKind, TaskMessage, Uuid,
};

fn ranking_task(expires_at_ms: i64) -> Task {
    let prompt = TaskMessage {
        id: Uuid::now_v7(),
        parent_id: None,
        role: Role::Prompter,
        text: "Name a prime number.".into(),
        synthetic: false,
    };
    let reply = |text: &str| TaskMessage {
        id: Uuid::now_v7(),
        parent_id: Some(prompt.id),
        role: Role::Assistant,
        text: text.into(),
        synthetic: true,
    };
    Task {
        id: Uuid::now_v7(),
        kind: TaskKind::RankReplies,
        tree_id: Some(prompt.id),
        message_id: Some(prompt.id),
        replies: vec![reply("Seven."), reply("Nine.")],
        conversation: vec![prompt],
        review: false,
        expires_at_ms,
    }
}

#[test]
fn a_leased_ranking_is_answered_offline_and_queued_with_its_task() {
    let mut store = Store::open_in_memory().unwrap();
    let task = ranking_task(i64::MAX);
    let ended = ranking_task(1);
    assert_eq!(
        store
            .keep_leased_tasks(&[task.clone(), ended.clone()])
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .keep_leased_tasks(std::slice::from_ref(&task))
            .unwrap(),
        0,
        "kept once"
    );

    let queue = store.task_queue(0).unwrap();
    assert_eq!(queue.tasks[0].lease.map(|l| l.task_id), Some(task.id));
    assert_eq!(queue.tasks[1].lease.map(|l| l.expired), Some(true));
    assert_eq!(leased_task_id(&queue.tasks[0].key), Some(task.id));
    assert_eq!(queue.tasks[0].replies.len(), 2);

    let prompt_id = task.conversation[0].id;
    let [good, bad] = [task.replies[0].id, task.replies[1].id];
    let partial = TaskAnswer::RankReplies {
        prompt_id,
        ranking: Ranking::Ranked(vec![good]),
    };
    assert!(matches!(
        store.complete_leased_task(task.id, &partial),
        Err(StoreError::Feedback(_))
    ));
    let other_kind = TaskAnswer::InitialPrompt {
        text: "Hello".into(),
    };
    assert!(matches!(
        store.complete_leased_task(task.id, &other_kind),
        Err(StoreError::InvalidInput(_))
    ));
    let answer = TaskAnswer::RankReplies {
        prompt_id,
        ranking: Ranking::Ranked(vec![good, bad]),
    };
    let event = store.complete_leased_task(task.id, &answer).unwrap();
    assert_eq!(event.kind, ContributionKind::Ranking);
    assert_eq!(event.state, ConsentState::Queued);
    assert_eq!(event.task_id, Some(task.id));
    let stored = store.event(event.id).unwrap();
    assert_eq!(stored.task_id, Some(task.id), "the task id is kept");
    assert!(matches!(
        store.complete_leased_task(task.id, &answer),
        Err(StoreError::InvalidInput(_))
    ));

    // Skipping the ended one by its queue key empties the leased part of the queue.
    let key = store.task_queue(0).unwrap().tasks[0].key.clone();
    store.skip_task(&key).unwrap();
    let queue = store.task_queue(0).unwrap();
    assert!(queue.tasks.iter().all(|t| t.lease.is_none()));
    assert_eq!(queue.progress.done_today, 1);
}
