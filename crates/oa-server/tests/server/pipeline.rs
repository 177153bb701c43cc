//! Open-Assistant's pipeline through the API: review, growth, tasks for offline work, moderation.

use anyhow::{Context as _, Result};
use oa_server::testing::TestServer;
use oa_server::{Config, TreePolicy};
use oa_types::{EventStatus, RejectionReason, Role, Task, TaskKind, TaskList, Uuid};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::client::{
    Contributor, config_with, labels_event, message, message_event, new_prompt, register, synthetic,
};

pub(crate) async fn lease(who: &Contributor, count: u32, kinds: &[TaskKind]) -> Result<Vec<Task>> {
    let (status, body) = who
        .call(
            Method::POST,
            "/v1/tasks/lease",
            Some(json!({ "count": count, "kinds": kinds })),
        )
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "lease: {status} {body}");
    Ok(serde_json::from_value::<TaskList>(body)?.tasks)
}

/// Writes a reply to `parent` (in someone else's tree) through a leased reply task, as the
/// pipeline hands such work out; the event sent, and the reply.
pub(crate) async fn reply_by_task(
    who: &Contributor,
    parent: &oa_types::Message,
    role: Role,
    text: &str,
) -> Result<(oa_types::SubmittedEvent, oa_types::Message)> {
    let kind = match role {
        Role::Assistant => TaskKind::AssistantReply,
        Role::Prompter => TaskKind::PrompterReply,
    };
    let leased = lease(who, 1, &[kind]).await?;
    let task = leased
        .iter()
        .find(|t| t.message_id == Some(parent.id))
        .with_context(|| format!("a reply task for the parent, not {leased:?}"))?;
    let reply = message(parent.conversation_id, Some(parent.id), role, text);
    let mut event = message_event(&reply);
    event.task_id = Some(task.id);
    who.ingest_ok(std::slice::from_ref(&event)).await?;
    Ok((event, reply))
}

/// Ranks `parent`'s replies in `order` through a leased ranking task; the event sent.
pub(crate) async fn rank_by_task(
    who: &Contributor,
    parent: &oa_types::Message,
    order: &[Uuid],
) -> Result<oa_types::SubmittedEvent> {
    let task = lease(who, 1, &[TaskKind::RankReplies])
        .await?
        .into_iter()
        .find(|t| t.message_id == Some(parent.id))
        .context("a ranking task for the parent")?;
    let mut event = super::client::ranking_event(parent, order);
    event.task_id = Some(task.id);
    who.ingest_ok(std::slice::from_ref(&event)).await?;
    Ok(event)
}

pub(crate) async fn tree(who: &Contributor, id: Uuid) -> Result<Value> {
    let (status, body) = who
        .call(Method::GET, &format!("/v1/trees/{id}"), None)
        .await?;
    anyhow::ensure!(status == StatusCode::OK, "tree: {status} {body}");
    Ok(body)
}

fn small_policy() -> Config {
    config_with(TreePolicy {
        reviews_initial_prompt: 1,
        reviews_reply: 1,
        goal_tree_size: 3,
        ..TreePolicy::default()
    })
}

#[tokio::test]
async fn a_prompt_is_reviewed_by_others_through_leased_tasks_then_grows() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let prompt = new_prompt("How do tides work, roughly?");
    let conversation = prompt.conversation_id;
    alice.ingest_ok(&[message_event(&prompt)]).await?;
    assert_eq!(
        tree(&alice, prompt.id).await?["state"],
        "initial_prompt_review"
    );

    // Nobody gets tasks on their own messages.
    let own = lease(&alice, 10, &[TaskKind::LabelMessage]).await?;
    assert!(own.is_empty(), "{own:?}");

    let mut reviewers = Vec::new();
    for name in ["Bob", "Carol", "Dave", "Erin"] {
        reviewers.push(register(&server, name).await?);
    }
    // Three reviews are needed (OA's default); the fourth reviewer finds nothing left to do,
    // because open leases count against the need.
    let mut tasks = Vec::new();
    for reviewer in &reviewers[..3] {
        let leased = lease(reviewer, 5, &[TaskKind::LabelMessage]).await?;
        assert_eq!(leased.len(), 1, "{leased:?}");
        let task = leased.into_iter().next().unwrap();
        assert!(task.review);
        assert_eq!(task.message_id, Some(prompt.id));
        assert_eq!(task.conversation.len(), 1, "the context is the thread");
        assert_eq!(task.conversation[0].text, prompt.text);
        assert!(task.expires_at_ms > 1_700_000_000_000 + 6 * 24 * 3600 * 1000);
        tasks.push(task);
    }
    assert!(
        lease(&reviewers[3], 5, &[TaskKind::LabelMessage])
            .await?
            .is_empty()
    );

    // The results come back later, from offline devices.
    for (reviewer, task) in reviewers.iter().zip(&tasks) {
        let mut result = labels_event(&prompt, json!({ "spam": 0, "quality": 0.75 }));
        result.task_id = Some(task.id);
        reviewer.ingest_ok(&[result]).await?;
        // A task is completed once.
        let mut again = labels_event(&prompt, json!({ "spam": 0 }));
        again.task_id = Some(task.id);
        assert_eq!(
            reviewer.ingest(&[again]).await?[0].reason,
            Some(RejectionReason::TaskClosed)
        );
    }
    let view = tree(&alice, prompt.id).await?;
    assert_eq!(view["state"], "growing", "{view}");
    assert_eq!(view["messages"][0]["review_state"], "accepted");
    assert_eq!(view["messages"][0]["review_count"], 3);

    // Now the tree needs replies: an assistant reply task with the prompt as context.
    let reply_tasks = lease(&reviewers[3], 5, &[TaskKind::AssistantReply]).await?;
    assert_eq!(reply_tasks.len(), 1);
    assert_eq!(reply_tasks[0].kind, TaskKind::AssistantReply);
    let mut reply = message(
        conversation,
        Some(prompt.id),
        Role::Assistant,
        "The moon pulls.",
    );
    reply.conversation_id = conversation;
    let mut event = message_event(&reply);
    event.task_id = Some(reply_tasks[0].id);
    reviewers[3].ingest_ok(&[event]).await?;
    Ok(())
}

#[tokio::test]
async fn a_spam_prompt_is_aborted_low_grade() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let prompt = message(
        Uuid::now_v7(),
        None,
        Role::Prompter,
        "Buy cheap watches now!!!",
    );
    alice.ingest_ok(&[message_event(&prompt)]).await?;
    for name in ["Bob", "Carol", "Dave"] {
        let reviewer = register(&server, name).await?;
        reviewer
            .ingest_ok(&[labels_event(&prompt, json!({ "spam": 1 }))])
            .await?;
    }
    let view = tree(&alice, prompt.id).await?;
    assert_eq!(view["state"], "aborted_low_grade");
    assert_eq!(view["messages"][0]["review_state"], "rejected");
    // An aborted tree takes no more messages.
    let late = synthetic(
        prompt.conversation_id,
        prompt.id,
        "Sure, here are some watches.",
    );
    let result = alice.ingest(&[message_event(&late)]).await?;
    assert_eq!(result[0].reason, Some(RejectionReason::TreeClosed));
    Ok(())
}

#[tokio::test]
async fn task_results_are_checked_against_the_task_and_its_owner() -> Result<()> {
    let server = TestServer::start_with(small_policy()).await?;
    let alice = register(&server, "Alice").await?;
    let bob = register(&server, "Bob").await?;
    let carol = register(&server, "Carol").await?;
    let prompt = new_prompt("Name three prime numbers.");
    let conversation = prompt.conversation_id;
    alice.ingest_ok(&[message_event(&prompt)]).await?;
    let bobs = lease(&bob, 1, &[TaskKind::LabelMessage]).await?;
    let task = bobs.first().context("a review task")?;

    // Carol sends a result for Bob's task.
    let mut stolen = labels_event(&prompt, json!({ "spam": 0 }));
    stolen.task_id = Some(task.id);
    assert_eq!(
        carol.ingest(&[stolen]).await?[0].reason,
        Some(RejectionReason::ForeignTask)
    );
    let (status, body) = carol
        .call(Method::POST, &format!("/v1/tasks/{}/skip", task.id), None)
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );

    // Bob answers his label task with a reply: the wrong kind of result.
    let mut wrong = message_event(&message(
        conversation,
        Some(prompt.id),
        Role::Assistant,
        "2",
    ));
    wrong.task_id = Some(task.id);
    assert_eq!(
        bob.ingest(&[wrong]).await?[0].reason,
        Some(RejectionReason::TaskMismatch)
    );

    // The lease ran out while Bob was offline: the result is still used, the tree needs it.
    sqlx::query("UPDATE tasks SET expires_at = now() - interval '1 day' WHERE id = $1")
        .bind(task.id)
        .execute(server.pool())
        .await?;
    let (_, open) = bob.call(Method::GET, "/v1/tasks", None).await?;
    assert_eq!(open["tasks"].as_array().map(Vec::len), Some(1), "{open}");
    let mut late = labels_event(&prompt, json!({ "spam": 0 }));
    late.task_id = Some(task.id);
    bob.ingest_ok(&[late]).await?;
    assert_eq!(tree(&alice, prompt.id).await?["state"], "growing");
    let (_, open) = bob.call(Method::GET, "/v1/tasks", None).await?;
    assert_eq!(open["tasks"], json!([]));

    // A reply task whose tree stopped growing meanwhile: the late reply is no longer needed.
    let replies = lease(&carol, 1, &[TaskKind::AssistantReply]).await?;
    let reply_task = replies.first().context("a reply task")?;
    let moderator = register(&server, "Mod").await?;
    oa_server::set_account_role(
        server.pool(),
        moderator.account(),
        oa_types::AccountRole::Moderator,
    )
    .await?;
    let halt = format!("/v1/trees/{}/halt", prompt.id);
    let (status, _) = carol.call(Method::POST, &halt, None).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = moderator.call(Method::POST, &halt, None).await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        tree(&alice, prompt.id).await?["state"],
        "halted_by_moderator"
    );
    let mut reply = message_event(&message(
        conversation,
        Some(prompt.id),
        Role::Assistant,
        "2, 3, 5",
    ));
    reply.task_id = Some(reply_task.id);
    assert_eq!(
        carol.ingest(&[reply]).await?[0].reason,
        Some(RejectionReason::NoLongerNeeded)
    );
    // The refusal gave the lease back at once: it is no longer Carol's open task, and there is
    // nothing left to skip.
    let (_, open) = carol.call(Method::GET, "/v1/tasks", None).await?;
    assert_eq!(open["tasks"], json!([]), "{open}");
    let (status, body) = carol
        .call(
            Method::POST,
            &format!("/v1/tasks/{}/skip", reply_task.id),
            None,
        )
        .await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("task_closed"))
    );
    Ok(())
}

#[tokio::test]
async fn lease_requests_are_validated() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    for body in [json!({ "count": 0 }), json!({ "count": 101 })] {
        let (status, answer) = alice
            .call(Method::POST, "/v1/tasks/lease", Some(body))
            .await?;
        assert_eq!(
            (status, answer["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_input"))
        );
    }
    let (status, answer) = alice
        .call(
            Method::POST,
            "/v1/tasks/lease",
            Some(json!({ "count": 1, "kinds": ["dance"] })),
        )
        .await?;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_body"))
    );
    // With no trees at all, the only need is new prompts.
    let tasks = lease(&alice, 3, &[]).await?;
    assert_eq!(tasks.len(), 3);
    assert!(tasks.iter().all(|t| t.kind == TaskKind::InitialPrompt));
    let prompt = message(Uuid::now_v7(), None, Role::Prompter, "Why is the sky blue?");
    let mut event = message_event(&prompt);
    event.task_id = Some(tasks[0].id);
    alice.ingest_ok(&[event]).await?;
    let (_, unknown) = alice
        .call(Method::GET, &format!("/v1/trees/{}", Uuid::now_v7()), None)
        .await?;
    assert_eq!(unknown["code"], "not_found");
    Ok(())
}

#[tokio::test]
async fn red_flags_from_several_people_hide_a_message_and_mark_its_writer() -> Result<()> {
    let server = TestServer::start_with(small_policy()).await?;
    let troll = register(&server, "Troll").await?;
    let prompt = message(
        Uuid::now_v7(),
        None,
        Role::Prompter,
        "Something rude and hateful.",
    );
    troll.ingest_ok(&[message_event(&prompt)]).await?;
    for name in ["Bob", "Carol", "Dave"] {
        let flagger = register(&server, name).await?;
        let results = flagger
            .ingest(&[super::client::reaction_event(&prompt, "red_flag")])
            .await?;
        assert_eq!(results[0].status, EventStatus::Accepted);
    }
    let view = tree(&troll, prompt.id).await?;
    assert_eq!(view["messages"][0]["deleted"], true, "{view}");
    assert_eq!(view["state"], "aborted_low_grade");
    let (_, stats) = troll.call(Method::GET, "/v1/me/stats", None).await?;
    assert!(stats["troll_score"].as_f64().unwrap() >= 1.0, "{stats}");
    Ok(())
}

#[tokio::test]
async fn a_message_everyone_skips_stops_getting_reply_tasks() -> Result<()> {
    let server = TestServer::start_with(config_with(TreePolicy {
        reviews_initial_prompt: 0,
        ..TreePolicy::default()
    }))
    .await?;
    let alice = register(&server, "Alice").await?;
    let prompt = new_prompt("Write a limerick about a database index.");
    alice.ingest_ok(&[message_event(&prompt)]).await?;
    assert_eq!(tree(&alice, prompt.id).await?["state"], "growing");
    for name in ["Bob", "Carol", "Dave"] {
        let skipper = register(&server, name).await?;
        let tasks = lease(&skipper, 1, &[TaskKind::AssistantReply]).await?;
        assert_eq!(tasks.len(), 1, "{name} gets the reply task");
        let (status, _) = skipper
            .call(
                Method::POST,
                &format!("/v1/tasks/{}/skip", tasks[0].id),
                None,
            )
            .await?;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let erin = register(&server, "Erin").await?;
    assert!(
        lease(&erin, 5, &[TaskKind::AssistantReply])
            .await?
            .is_empty(),
        "three skips stop the message's reply tasks"
    );
    Ok(())
}

#[tokio::test]
async fn a_retracted_review_no_longer_counts() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let bob = register(&server, "Bob").await?;
    let prompt = new_prompt("What is the boiling point of water on Everest?");
    alice.ingest_ok(&[message_event(&prompt)]).await?;
    let review = labels_event(&prompt, json!({ "spam": 0, "quality": 1 }));
    bob.ingest_ok(std::slice::from_ref(&review)).await?;
    assert_eq!(
        tree(&alice, prompt.id).await?["messages"][0]["review_count"],
        1
    );
    bob.ingest_ok(&[super::client::retraction_event(&review)])
        .await?;
    let view = tree(&alice, prompt.id).await?;
    assert_eq!(view["messages"][0]["review_count"], 0, "{view}");
    assert_eq!(view["state"], "initial_prompt_review");
    Ok(())
}

#[tokio::test]
async fn others_trees_take_replies_and_rankings_only_through_tasks() -> Result<()> {
    let server = TestServer::start_with(config_with(TreePolicy {
        reviews_initial_prompt: 0,
        reviews_reply: 0,
        goal_tree_size: 5,
        ..TreePolicy::default()
    }))
    .await?;
    let alice = register(&server, "Alice").await?;
    let mallory = register(&server, "Mallory").await?;
    let prompt = new_prompt("What is the boiling point of water at altitude?");
    let model = synthetic(
        prompt.conversation_id,
        prompt.id,
        "Lower: about 90 °C at 3,000 m.",
    );
    alice
        .ingest_ok(&[message_event(&prompt), message_event(&model)])
        .await?;

    // Mallory writes straight into Alice's tree, and ranks in it, without being asked.
    let pushed = message(
        prompt.conversation_id,
        Some(prompt.id),
        Role::Assistant,
        "Buy my altitude cooker!",
    );
    let results = mallory.ingest(&[message_event(&pushed)]).await?;
    assert_eq!(results[0].reason, Some(RejectionReason::NotYourTree));
    // Through a leased task the same kind of work is welcome.
    let (_, reply) = reply_by_task(
        &mallory,
        &prompt,
        Role::Assistant,
        "It drops about one degree per 300 metres.",
    )
    .await?;
    let results = mallory
        .ingest(&[super::client::ranking_event(&prompt, &[reply.id, model.id])])
        .await?;
    assert_eq!(results[0].reason, Some(RejectionReason::NotYourTree));
    // Alice's own tree takes her replies and rankings without tasks, as the desktop sends them.
    let follow_up = message(
        prompt.conversation_id,
        Some(model.id),
        Role::Prompter,
        "And at sea level?",
    );
    alice.ingest_ok(&[message_event(&follow_up)]).await?;
    Ok(())
}

#[tokio::test]
async fn a_conversation_deeper_than_the_limit_is_refused_at_the_door() -> Result<()> {
    let server = TestServer::start_with(config_with(TreePolicy {
        max_conversation_depth: 4,
        ..TreePolicy::default()
    }))
    .await?;
    let alice = register(&server, "Alice").await?;
    let prompt = new_prompt("Let us talk for a long, long time, shall we?");
    let mut chain = vec![prompt.clone()];
    for depth in 1..=5 {
        let parent = chain.last().context("a parent")?;
        let role = if depth % 2 == 1 {
            Role::Assistant
        } else {
            Role::Prompter
        };
        chain.push(message(
            prompt.conversation_id,
            Some(parent.id),
            role,
            &format!("turn {depth} of a conversation that goes on and on"),
        ));
    }
    let events: Vec<_> = chain.iter().map(message_event).collect();
    let results = alice.ingest(&events).await?;
    let refused: Vec<_> = results.iter().map(|r| r.reason).collect();
    assert_eq!(
        refused,
        [None, None, None, None, None, Some(RejectionReason::TooDeep)]
    );
    Ok(())
}

#[tokio::test]
async fn personal_data_is_flagged_for_moderators_and_never_refused() -> Result<()> {
    let server = TestServer::start_with(small_policy()).await?;
    let bob = register(&server, "Bob").await?;
    let prompt = new_prompt(
        "Please write to me at bob.miller@example.com or call +44 20 7946 0958 about the flat.",
    );
    bob.ingest_ok(&[message_event(&prompt)]).await?;
    let moderator = register(&server, "Mod").await?;
    oa_server::set_account_role(
        server.pool(),
        moderator.account(),
        oa_types::AccountRole::Moderator,
    )
    .await?;
    let seen = tree(&moderator, prompt.id).await?;
    assert_eq!(
        seen["messages"][0]["personal_data"],
        json!(["email", "phone"]),
        "{seen}"
    );
    // Everyone else sees the tree without the flags.
    let seen = tree(&bob, prompt.id).await?;
    assert!(seen["messages"][0].get("personal_data").is_none(), "{seen}");
    Ok(())
}
