//! Fresh accounts working together against a server whose contributors have earned their trust:
//! three of them, each doing exactly what its leased task allows, cannot accept, reject or hide
//! a message, nor move a consensus. On a brand-new server, where nobody has a history, the same
//! three newcomers decide as the policy says: the quorum is measured against the crowd.

use anyhow::{Context as _, Result};
use oa_server::testing::TestServer;
use oa_server::{Config, TreePolicy};
use oa_types::{Role, TaskKind};
use serde_json::json;

use super::client::{
    Contributor, config_with, labels_event, message_event, new_prompt, reaction_event, register,
};
use super::pipeline::{lease, rank_by_task, reply_by_task, tree};

/// Accounts that have been contributing for a while: twenty judgements, most of them agreeing
/// with everyone else. (Earning it through the API is what the crowd simulation shows.)
async fn established(server: &TestServer, names: &[&str]) -> Result<Vec<Contributor>> {
    let mut accounts = Vec::new();
    for name in names {
        let account = register(server, name).await?;
        sqlx::query(
            "UPDATE accounts SET agreement_sum = 16, agreement_count = 20, trust = $2 \
             WHERE id = $1",
        )
        .bind(account.account())
        .bind(oa_server::trust(16.0, 20) as f32)
        .execute(server.pool())
        .await?;
        accounts.push(account);
    }
    Ok(accounts)
}

async fn fresh(server: &TestServer, names: &[&str]) -> Result<Vec<Contributor>> {
    let mut accounts = Vec::new();
    for name in names {
        accounts.push(register(server, name).await?);
    }
    Ok(accounts)
}

/// Reviews `message` through a leased label task: `spam` 1 to reject, 0 to accept.
async fn review_by_task(who: &Contributor, message: &oa_types::Message, spam: u8) -> Result<()> {
    let task = lease(who, 5, &[TaskKind::LabelMessage])
        .await?
        .into_iter()
        .find(|t| t.message_id == Some(message.id))
        .with_context(|| format!("{} gets no review task for the message", who.name))?;
    let mut event = labels_event(message, json!({ "spam": spam, "quality": 0.5 }));
    event.task_id = Some(task.id);
    who.ingest_ok(&[event]).await
}

fn reviewed(votes: u32) -> Config {
    config_with(TreePolicy {
        reviews_initial_prompt: votes,
        reviews_reply: votes,
        red_flags_to_hide: votes,
        ..TreePolicy::default()
    })
}

#[tokio::test]
async fn three_fresh_accounts_can_neither_accept_nor_reject_nor_hide() -> Result<()> {
    let server = TestServer::start_with(reviewed(3)).await?;
    let crowd = established(&server, &["Ada", "Ben", "Cleo", "Dev"]).await?;
    let clique = fresh(&server, &["Mallory", "Mal2", "Mal3"]).await?;

    // A good question from an established contributor: the clique tries to reject it.
    let good = new_prompt("How do I keep basil alive on a windowsill?");
    crowd[3].ingest_ok(&[message_event(&good)]).await?;
    for member in &clique {
        review_by_task(member, &good, 1).await?;
    }
    let view = tree(&crowd[3], good.id).await?;
    assert_eq!(view["messages"][0]["review_count"], 3);
    assert_eq!(
        (&view["messages"][0]["review_state"], &view["state"]),
        (&json!("pending"), &json!("initial_prompt_review")),
        "three fresh accounts rejected it: {view}"
    );
    // The prompt still needs reviews, so the crowd is asked, and the crowd decides.
    for reviewer in &crowd[..3] {
        review_by_task(reviewer, &good, 0).await?;
    }
    let view = tree(&crowd[3], good.id).await?;
    assert_eq!(view["messages"][0]["review_state"], "accepted", "{view}");
    assert_eq!(view["state"], "growing");

    // An ad from one of the clique: the other two and a third fresh account vouch for it.
    let ad = new_prompt("Buy cheap followers at followers-4-you dot example, best prices!!!");
    clique[0].ingest_ok(&[message_event(&ad)]).await?;
    let helper = register(&server, "Mal4").await?;
    for member in [&clique[1], &clique[2], &helper] {
        review_by_task(member, &ad, 0).await?;
    }
    let view = tree(&crowd[3], ad.id).await?;
    assert_eq!(
        view["messages"][0]["review_state"], "pending",
        "three fresh accounts accepted it: {view}"
    );
    for reviewer in &crowd[..3] {
        review_by_task(reviewer, &ad, 1).await?;
    }
    let view = tree(&crowd[3], ad.id).await?;
    assert_eq!(view["messages"][0]["review_state"], "rejected", "{view}");
    assert_eq!(view["state"], "aborted_low_grade");

    // Red flags on the good question: three fresh flaggers hide nothing, the crowd's flags do.
    for member in &clique {
        member
            .ingest_ok(&[reaction_event(&good, "red_flag")])
            .await?;
    }
    let view = tree(&crowd[3], good.id).await?;
    assert_eq!(view["messages"][0]["deleted"], false, "{view}");
    for flagger in &crowd[..3] {
        flagger
            .ingest_ok(&[reaction_event(&good, "red_flag")])
            .await?;
    }
    let view = tree(&crowd[3], good.id).await?;
    assert_eq!(view["messages"][0]["deleted"], true, "{view}");

    // Having voted against everyone else, the clique's trust fell below a newcomer's.
    let (_, stats) = clique[0]
        .call(reqwest::Method::GET, "/v1/me/stats", None)
        .await?;
    assert!(
        stats["trust"].as_f64().context("trust")? < oa_server::trust(0.0, 0),
        "{stats}"
    );
    Ok(())
}

#[tokio::test]
async fn three_fresh_accounts_cannot_move_a_consensus() -> Result<()> {
    let server = TestServer::start_with(config_with(TreePolicy {
        reviews_initial_prompt: 0,
        reviews_reply: 0,
        goal_tree_size: 3,
        ..TreePolicy::default()
    }))
    .await?;
    let crowd = established(&server, &["Ada", "Ben", "Cleo", "Dev"]).await?;
    let clique = fresh(&server, &["Mallory", "Mal2", "Mal3"]).await?;
    let prompt = new_prompt("What is a good first programming language?");
    crowd[3].ingest_ok(&[message_event(&prompt)]).await?;
    let writers = fresh(&server, &["Wes", "Xena"]).await?;
    let (_, careful) = reply_by_task(
        &writers[0],
        &prompt,
        Role::Assistant,
        "Python: readable, forgiving, and useful well beyond the first lesson.",
    )
    .await?;
    let (_, pushed) = reply_by_task(
        &writers[1],
        &prompt,
        Role::Assistant,
        "Whatever. Just google it.",
    )
    .await?;
    assert_eq!(tree(&crowd[3], prompt.id).await?["state"], "ranking");

    // K = 3 rankings from the clique, each through its own task: not a quorum here.
    for member in &clique {
        rank_by_task(member, &prompt, &[pushed.id, careful.id]).await?;
    }
    assert_eq!(
        tree(&crowd[3], prompt.id).await?["state"],
        "ranking",
        "three fresh accounts made the consensus"
    );
    for ranker in &crowd[..3] {
        rank_by_task(ranker, &prompt, &[careful.id, pushed.id]).await?;
    }
    let view = tree(&crowd[3], prompt.id).await?;
    assert_eq!(view["state"], "ready_for_export", "{view}");
    let rank_of = |id: oa_types::Uuid| {
        view["messages"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["id"] == json!(id)))
            .map(|m| m["rank"].clone())
    };
    assert_eq!(rank_of(careful.id), Some(json!(0)), "{view}");
    assert_eq!(rank_of(pushed.id), Some(json!(1)), "{view}");
    Ok(())
}

#[tokio::test]
async fn on_a_new_server_three_newcomers_decide() -> Result<()> {
    let server = TestServer::start_with(reviewed(3)).await?;
    let reviewers = fresh(&server, &["Ada", "Ben", "Cleo"]).await?;
    let author = register(&server, "Dev").await?;
    let prompt = new_prompt("Which knot should I learn first for sailing?");
    author.ingest_ok(&[message_event(&prompt)]).await?;
    for reviewer in &reviewers {
        review_by_task(reviewer, &prompt, 0).await?;
    }
    let view = tree(&author, prompt.id).await?;
    assert_eq!(view["messages"][0]["review_state"], "accepted", "{view}");
    assert_eq!(view["state"], "growing");
    Ok(())
}

#[tokio::test]
async fn one_persons_accounts_cannot_post_the_same_ad_twice() -> Result<()> {
    let server = TestServer::start_with(reviewed(3)).await?;
    let sybils = fresh(&server, &["Seller", "Seller2", "Seller3"]).await?;
    let ad = "Best watches at unbeatable prices, visit watches-cheap dot example today!";
    let first = new_prompt(ad);
    sybils[0].ingest_ok(&[message_event(&first)]).await?;
    // The same text again from the other accounts, spacing and case changed: refused as copies.
    for sybil in &sybils[1..] {
        let copy = new_prompt(&ad.to_uppercase().replace(' ', "  "));
        let results = sybil.ingest(&[message_event(&copy)]).await?;
        assert_eq!(
            results[0].status,
            oa_types::EventStatus::Rejected,
            "{results:?}"
        );
        assert_eq!(
            results[0].reason,
            Some(oa_types::RejectionReason::DuplicateText)
        );
    }
    // Two people asking the same short everyday question is no copy.
    let question = "What is the capital of France?";
    for person in &sybils[1..] {
        person
            .ingest_ok(&[message_event(&new_prompt(question))])
            .await?;
    }
    Ok(())
}
