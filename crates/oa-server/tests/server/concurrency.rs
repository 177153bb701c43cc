//! Many devices at once: concurrent batches on the same trees, and the same batch sent twice at
//! the same moment.

use anyhow::{Context as _, Result};
use oa_server::TreePolicy;
use oa_server::testing::TestServer;
use oa_types::{EventStatus, RejectionReason, TaskKind};

use super::client::{config_with, message_event, new_prompt, ranking_event, register, synthetic};
use super::pipeline::lease;

#[tokio::test]
async fn concurrent_rankers_score_each_tree_once_and_a_doubled_batch_is_stored_once() -> Result<()>
{
    let server = TestServer::start_with(config_with(TreePolicy {
        reviews_initial_prompt: 0,
        reviews_reply: 0,
        goal_tree_size: 4,
        ..TreePolicy::default()
    }))
    .await?;
    let creator = register(&server, "Creator").await?;
    let mut trees = Vec::new();
    let mut uploads = Vec::new();
    for i in 0..10 {
        let prompt = new_prompt(&format!("Concurrent question {i}, please answer."));
        uploads.push(message_event(&prompt));
        let mut replies = Vec::new();
        for r in 0..3 {
            let reply = synthetic(prompt.conversation_id, prompt.id, &format!("reply {r}"));
            uploads.push(message_event(&reply));
            replies.push(reply.id);
        }
        trees.push((prompt, replies));
    }
    creator.ingest_ok(&uploads).await?;

    let mut rankers = Vec::new();
    for i in 0..6 {
        rankers.push(register(&server, &format!("ranker-{i}")).await?);
    }
    // They lease first (one after the other, as the server serialises leases anyway): K = 3
    // rankings per parent, so three of them get the ten tasks and the others none.
    let mut handles = Vec::new();
    let mut leased_rankers = 0;
    for (i, ranker) in rankers.iter().enumerate() {
        let tasks = lease(ranker, 10, &[TaskKind::RankReplies]).await?;
        if tasks.is_empty() {
            continue;
        }
        leased_rankers += 1;
        // Rankers disagree a little, so that agreement differs between them.
        let mut batch = Vec::new();
        for task in tasks {
            let (prompt, replies) = trees
                .iter()
                .find(|(prompt, _)| Some(prompt.id) == task.message_id)
                .context("a task for one of the trees")?;
            let mut order = replies.clone();
            order.rotate_left(i % 2);
            let mut event = ranking_event(prompt, &order);
            event.task_id = Some(task.id);
            batch.push(event);
        }
        // The first ranker's device sends its batch twice at once (a retry racing the original).
        let copies = if i == 0 { 2 } else { 1 };
        for _ in 0..copies {
            let (ranker, batch) = (ranker.clone(), batch.clone());
            handles.push(tokio::spawn(async move { ranker.ingest(&batch).await }));
        }
    }
    assert_eq!(leased_rankers, 3);
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await??);
    }
    let (first, second) = (&outcomes[0], &outcomes[1]);
    let accepted = |r: &[oa_types::EventResult]| {
        r.iter()
            .filter(|e| e.status == EventStatus::Accepted)
            .map(|e| e.id)
            .collect::<Vec<_>>()
    };
    // The doubled batch: no event stored twice.
    let twice: Vec<_> = accepted(first)
        .into_iter()
        .filter(|id| accepted(second).contains(id))
        .collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    let stored: usize = accepted(first).len()
        + outcomes[1..]
            .iter()
            .map(|o| accepted(o).len())
            .sum::<usize>();
    assert_eq!(stored, 30, "three rankings for each of ten parents");
    assert!(
        outcomes
            .iter()
            .flatten()
            .all(|e| matches!(e.status, EventStatus::Accepted | EventStatus::Duplicate))
    );

    for (prompt, replies) in &trees {
        let state: String = sqlx::query_scalar("SELECT state FROM message_trees WHERE id = $1")
            .bind(prompt.id)
            .fetch_one(server.pool())
            .await?;
        assert_eq!(state, "ready_for_export");
        let mut ranks: Vec<i32> =
            sqlx::query_scalar("SELECT rank FROM messages WHERE id = ANY($1) AND rank IS NOT NULL")
                .bind(replies)
                .fetch_all(server.pool())
                .await?;
        ranks.sort();
        assert_eq!(ranks, [0, 1, 2]);
    }
    // Every scored ranking was counted into its ranker's agreement exactly once.
    let (scored, counted): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM rankings WHERE tau IS NOT NULL), \
                (SELECT sum(agreement_count)::int8 FROM accounts)",
    )
    .fetch_one(server.pool())
    .await?;
    assert_eq!(scored, counted);
    assert_eq!(scored, 30, "K = 3 rankings per parent, ten parents");
    Ok(())
}

#[tokio::test]
async fn two_accounts_sending_the_same_event_ids_at_once_are_both_answered() -> Result<()> {
    // Event ids are the desktop's UUIDv7s, so this takes a copied outbox or a hostile client,
    // but it must still be answered: the id goes to whoever committed first, the other gets
    // `id_conflict`, and nobody gets a server error.
    let server = TestServer::start_with(config_with(TreePolicy::default())).await?;
    let alice = register(&server, "Alice").await?;
    let mallory = register(&server, "Mallory").await?;
    for round in 0..12 {
        let batch: Vec<_> = (0..5)
            .map(|i| message_event(&new_prompt(&format!("Round {round}, question {i}: why?"))))
            .collect();
        let (a, m) = tokio::join!(alice.ingest(&batch), mallory.ingest(&batch));
        let (a, m) = (a?, m?);
        for (mine, theirs) in a.iter().zip(&m) {
            let statuses = [mine.status, theirs.status];
            assert!(
                statuses.contains(&EventStatus::Accepted)
                    && statuses.contains(&EventStatus::Rejected),
                "round {round}: {mine:?} / {theirs:?}"
            );
            let loser = if mine.status == EventStatus::Rejected {
                mine
            } else {
                theirs
            };
            assert_eq!(loser.reason, Some(RejectionReason::IdConflict));
        }
    }
    Ok(())
}
