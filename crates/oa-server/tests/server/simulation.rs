//! A crowd of simulated contributors ranking replies through the real API: 50 honest ones whose
//! rankings follow a hidden true order with noise, and 10 adversaries (random, inverted, always
//! the first reply shown). Consensus must recover the true orders, and trust must sink the
//! adversaries below every honest contributor.

use std::collections::HashMap;

use anyhow::{Context as _, Result};
use oa_server::testing::TestServer;
use oa_server::{Config, PasswordCost, TreePolicy, kendall_tau};
use oa_types::{Role, TaskKind, Uuid};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use reqwest::Method;
use serde_json::Value;

use super::client::{Contributor, message, message_event, ranking_event, register, synthetic};
use super::pipeline::{lease, tree};

const PROMPTS: usize = 300;
const REPLIES: usize = 5;
/// Open-Assistant's K: rankings a parent needs before its consensus is computed.
const RANKINGS_PER_PARENT: u32 = 3;
const HONEST: usize = 50;
/// How far an honest ranker's sense of a reply's quality strays, in steps between true ranks.
const HONEST_NOISE: f64 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Honest,
    Random,
    Inverted,
    AlwaysFirst,
}

/// A standard normal sample (Box–Muller), so the test needs no distribution crate.
fn gaussian(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

#[tokio::test]
async fn consensus_recovers_the_truth_and_trust_sinks_the_adversaries() -> Result<()> {
    let server = TestServer::start_with(Config {
        password: PasswordCost::insecure_fast(),
        tree: TreePolicy {
            // Replies are accepted as they arrive: this test is about ranking.
            reviews_initial_prompt: 0,
            reviews_reply: 0,
            goal_tree_size: (REPLIES + 1) as u32,
            rankings_per_parent: RANKINGS_PER_PARENT,
            ..TreePolicy::default()
        },
        limits: oa_server::Limits {
            events_per_minute_account: 1_000_000,
            events_per_minute_device: 1_000_000,
            ..oa_server::Limits::default().without_account_throttles()
        },
        ..Config::default()
    })
    .await?;
    let mut rng = StdRng::seed_from_u64(20_261_126);

    // One person uploads the trees: each prompt with five model-written replies whose true
    // order (best first) only the test knows.
    let creator = register(&server, "Creator").await?;
    let mut truth: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    let mut batch = Vec::new();
    for i in 0..PROMPTS {
        let conversation = Uuid::now_v7();
        let prompt = message(
            conversation,
            None,
            Role::Prompter,
            &format!("Question number {i}: explain something interesting."),
        );
        batch.push(message_event(&prompt));
        let mut replies = Vec::new();
        for r in 0..REPLIES {
            let reply = synthetic(conversation, prompt.id, &format!("Answer {r} to {i}"));
            batch.push(message_event(&reply));
            replies.push(reply.id);
        }
        replies.shuffle(&mut rng);
        truth.insert(prompt.id, replies);
    }
    for chunk in batch.chunks(600) {
        creator.ingest_ok(chunk).await?;
    }
    let some_tree = *truth.keys().next().unwrap();
    assert_eq!(tree(&creator, some_tree).await?["state"], "ranking");

    let mut crowd: Vec<(Contributor, Behaviour)> = Vec::new();
    for i in 0..HONEST {
        crowd.push((
            register(&server, &format!("honest-{i}")).await?,
            Behaviour::Honest,
        ));
    }
    for (i, behaviour) in [
        Behaviour::Random,
        Behaviour::Random,
        Behaviour::Random,
        Behaviour::Random,
        Behaviour::Inverted,
        Behaviour::Inverted,
        Behaviour::Inverted,
        Behaviour::AlwaysFirst,
        Behaviour::AlwaysFirst,
        Behaviour::AlwaysFirst,
    ]
    .into_iter()
    .enumerate()
    {
        crowd.push((
            register(&server, &format!("adversary-{i}")).await?,
            behaviour,
        ));
    }

    // Rounds of offline work: everyone, in a random order, leases two ranking tasks and sends
    // the results back in one batch, until no parent needs rankings any more.
    let mut order: Vec<usize> = (0..crowd.len()).collect();
    loop {
        order.shuffle(&mut rng);
        let mut handed_out = 0;
        for &who in &order {
            let (contributor, behaviour) = &crowd[who];
            let tasks = lease(contributor, 2, &[TaskKind::RankReplies]).await?;
            handed_out += tasks.len();
            let mut results = Vec::new();
            for task in tasks {
                let parent = task.message_id.context("a ranking task names its parent")?;
                let shown: Vec<Uuid> = task.replies.iter().map(|m| m.id).collect();
                let true_order = &truth[&parent];
                let ranked = match behaviour {
                    Behaviour::Honest => {
                        let mut noisy: Vec<(f64, Uuid)> = shown
                            .iter()
                            .map(|id| {
                                let position = true_order.iter().position(|t| t == id).unwrap();
                                (position as f64 + HONEST_NOISE * gaussian(&mut rng), *id)
                            })
                            .collect();
                        noisy.sort_by(|a, b| a.0.total_cmp(&b.0));
                        noisy.into_iter().map(|(_, id)| id).collect()
                    }
                    Behaviour::Random => {
                        let mut random = shown.clone();
                        random.shuffle(&mut rng);
                        random
                    }
                    Behaviour::Inverted => true_order.iter().rev().copied().collect(),
                    Behaviour::AlwaysFirst => shown.clone(),
                };
                let parent_message = oa_types::Message {
                    id: parent,
                    conversation_id: Uuid::nil(),
                    ..message(Uuid::nil(), None, Role::Prompter, "")
                };
                let mut event = ranking_event(&parent_message, &ranked);
                event.task_id = Some(task.id);
                results.push(event);
            }
            if !results.is_empty() {
                contributor.ingest_ok(&results).await?;
            }
        }
        if handed_out == 0 {
            break;
        }
    }

    // Consensus against the hidden truth.
    let mut taus = Vec::new();
    for (prompt, true_order) in &truth {
        let view = tree(&creator, *prompt).await?;
        assert_eq!(view["state"], "ready_for_export", "{view}");
        let mut ranked: Vec<(i64, Uuid)> = view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["parent_id"] == Value::String(prompt.to_string()))
            .map(|m| {
                (
                    m["rank"].as_i64().expect("every reply is ranked"),
                    m["id"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        ranked.sort();
        let consensus: Vec<Uuid> = ranked.into_iter().map(|(_, id)| id).collect();
        taus.push(kendall_tau(&consensus, true_order).unwrap());
    }
    let mean_tau = taus.iter().sum::<f64>() / taus.len() as f64;

    // Trust as each contributor sees it.
    let mut honest_trust = Vec::new();
    let mut adversary_trust = Vec::new();
    for (contributor, behaviour) in &crowd {
        let (_, stats) = contributor.call(Method::GET, "/v1/me/stats", None).await?;
        let trust = stats["trust"].as_f64().context("trust")?;
        if *behaviour == Behaviour::Inverted {
            // Ranking the reverse of everyone else is what trolls do.
            assert!(stats["troll_score"].as_f64().unwrap() > 0.0, "{stats}");
        }
        assert!(stats["rankings_scored"].as_u64().unwrap() > 0, "{stats}");
        if *behaviour == Behaviour::Honest {
            honest_trust.push(trust);
        } else {
            adversary_trust.push((trust, *behaviour));
        }
    }
    let least_honest = honest_trust.iter().copied().fold(f64::INFINITY, f64::min);
    let sunk = adversary_trust
        .iter()
        .filter(|(t, _)| *t < least_honest)
        .count();
    println!(
        "mean consensus tau {mean_tau:.3} over {} parents; least honest trust {least_honest:.3}; \
         adversaries {adversary_trust:?}; {sunk} of 10 below every honest contributor",
        taus.len()
    );
    assert!(mean_tau >= 0.9, "mean consensus tau {mean_tau}");
    assert!(
        sunk >= 9,
        "only {sunk} adversaries below every honest contributor"
    );
    Ok(())
}
