//! Fifty contributors leasing and answering tasks at the same moment, as a busy server sees
//! them: no answer is a server error (conflicts and deadlocks are run again), and the pipeline's
//! limits hold however the requests interleave.

use std::collections::HashMap;

use anyhow::Result;
use oa_server::TreePolicy;
use oa_server::testing::TestServer;
use oa_types::{ContributionKind, Role, SubmittedEvent, Task, TaskKind, Uuid};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{
    Contributor, config_with, event, message, message_event, new_prompt, register,
};

const CROWD: usize = 50;
const ROUNDS: usize = 10;

/// The result event of a task, as a diligent contributor would send it.
fn answer(task: &Task, tag: &str) -> Option<SubmittedEvent> {
    let conversation = task.tree_id.unwrap_or_else(Uuid::now_v7);
    let mut result = match task.kind {
        TaskKind::InitialPrompt => message_event(&new_prompt(&format!(
            "Question {tag}: how do I start learning to paint with watercolours?"
        ))),
        TaskKind::AssistantReply | TaskKind::PrompterReply => {
            let role = if task.kind == TaskKind::AssistantReply {
                Role::Assistant
            } else {
                Role::Prompter
            };
            message_event(&message(
                conversation,
                task.message_id,
                role,
                &format!("Answer {tag}: start small, with cheap paper and three colours."),
            ))
        }
        TaskKind::LabelMessage => {
            let id = task.message_id?;
            event(
                ContributionKind::Labels,
                id,
                conversation,
                json!({ "message_id": id, "labels": { "spam": 0, "quality": 0.75 } }),
            )
        }
        TaskKind::RankReplies => {
            let id = task.message_id?;
            let order: Vec<Uuid> = task.replies.iter().map(|r| r.id).collect();
            event(
                ContributionKind::Ranking,
                id,
                conversation,
                json!({ "message_id": id, "ranking": { "type": "ranked", "ranking": order } }),
            )
        }
    };
    result.task_id = Some(task.id);
    Some(result)
}

/// One contributor's rounds; every status it met.
async fn work(who: usize, contributor: Contributor) -> Result<Vec<StatusCode>> {
    let mut statuses = Vec::new();
    for round in 0..ROUNDS {
        let (status, body) = contributor
            .call(
                Method::POST,
                "/v1/tasks/lease",
                Some(json!({ "count": 4, "kinds": [] })),
            )
            .await?;
        statuses.push(status);
        if status != StatusCode::OK {
            continue;
        }
        let tasks: Vec<Task> = serde_json::from_value(body["tasks"].clone())?;
        let events: Vec<SubmittedEvent> = tasks
            .iter()
            .enumerate()
            .filter_map(|(n, t)| answer(t, &format!("{who}-{round}-{n}")))
            .collect();
        if events.is_empty() {
            continue;
        }
        let (status, body) = contributor
            .call(
                Method::POST,
                "/v1/events",
                Some(json!({ "version": oa_types::INGEST_VERSION, "events": events })),
            )
            .await?;
        anyhow::ensure!(
            status.is_success() || status.is_client_error(),
            "{status} {body}"
        );
        statuses.push(status);
    }
    Ok(statuses)
}

#[tokio::test]
async fn fifty_contributors_at_once_meet_no_server_error_and_no_limit_is_overrun() -> Result<()> {
    let policy = TreePolicy {
        reviews_initial_prompt: 1,
        reviews_reply: 1,
        goal_tree_size: 6,
        max_active_trees: 10,
        ..TreePolicy::default()
    };
    let server = TestServer::start_with(config_with(policy.clone())).await?;
    let mut crowd = Vec::new();
    for i in 0..CROWD {
        crowd.push(register(&server, &format!("crowd-{i}")).await?);
    }
    let runs = crowd
        .into_iter()
        .enumerate()
        .map(|(who, contributor)| tokio::spawn(work(who, contributor)));
    let mut counts: HashMap<u16, usize> = HashMap::new();
    for run in futures_util::future::join_all(runs).await {
        for status in run?? {
            *counts.entry(status.as_u16()).or_default() += 1;
        }
    }
    println!("statuses: {counts:?}");
    assert!(
        counts.keys().all(|s| *s < 500),
        "server errors under concurrency: {counts:?}"
    );
    assert!(counts.get(&200).copied().unwrap_or(0) > CROWD, "{counts:?}");

    let pool = server.pool();
    let trees: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, count(*) FROM message_trees GROUP BY state ORDER BY state")
            .fetch_all(pool)
            .await?;
    let (messages, labels, rankings): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM labels), \
                (SELECT count(*) FROM rankings)",
    )
    .fetch_one(pool)
    .await?;
    println!("trees {trees:?}; {messages} messages, {labels} label sets, {rankings} rankings");
    // A refused result gave its lease back: nothing is left leased once everyone is done.
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasks WHERE completed_at IS NULL AND skipped_at IS NULL",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(open, 0, "tasks left leased by refused results");
    // No more trees grew at once than allowed, however many asked for a new one at once.
    let active: i64 = trees
        .iter()
        .filter(|(state, _)| state == "initial_prompt_review" || state == "growing")
        .map(|(_, n)| n)
        .sum();
    assert!(
        active <= i64::from(policy.max_active_trees),
        "{active} trees grow at once: {trees:?}"
    );
    // The crowd got through the whole pipeline, not only its first step.
    assert!(
        rankings > 0 && labels > 0 && trees.iter().any(|(s, _)| s == "ready_for_export"),
        "{trees:?}"
    );
    // No parent got more replies through tasks than it may have.
    let most_children: Option<i64> = sqlx::query_scalar(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM messages m JOIN contribution_events e \
         ON e.id = m.event_id WHERE e.task_id IS NOT NULL AND m.parent_id IS NOT NULL \
         GROUP BY m.parent_id) c",
    )
    .fetch_one(pool)
    .await?;
    assert!(
        most_children.unwrap_or(0) <= i64::from(policy.max_children),
        "{most_children:?} replies under one parent"
    );
    // No parent was ranked more often than its quorum allows: K rankings, more only while their
    // rankers' trust falls short of the crowd's, never past the cap.
    let most_rankings: Option<i64> = sqlx::query_scalar(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM rankings WHERE NOT retracted \
         GROUP BY parent_id) c",
    )
    .fetch_one(pool)
    .await?;
    assert!(
        most_rankings.unwrap_or(0) <= i64::from(policy.rankings_per_parent * oa_server::QUORUM_CAP),
        "{most_rankings:?} rankings of one parent"
    );
    // No tree grew past its goal size.
    let largest: Option<i64> = sqlx::query_scalar(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM messages \
         WHERE review_state <> 'rejected' AND NOT deleted GROUP BY tree_id) c",
    )
    .fetch_one(pool)
    .await?;
    assert!(
        largest.unwrap_or(0) <= i64::from(policy.goal_tree_size),
        "a tree of {largest:?} messages"
    );
    Ok(())
}
