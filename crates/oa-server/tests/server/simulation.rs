//! A crowd of simulated contributors ranking replies through the real API: 48 honest ones whose
//! rankings follow a hidden true order with noise, and 12 adversaries (20%) of mixed kinds:
//! random rankers, inverters, a clique of three that pushes the worst reply of every parent to
//! the top, and one person with four accounts pushing the second worst through their tasks and
//! trying the side doors too (rankings without a task in others' trees, one ad posted from every
//! account). Run under two models of honest noise: Thurstone (Gaussian noise on each reply's
//! quality, the same skill for all) and Plackett–Luce (replies drawn best-first with
//! probabilities from their quality, each ranker with a skill of their own).
//!
//! The trees arrive in waves, as prompts reach a live server, so trust is earned while they do.
//!
//! Asserted: consensus recovers the true orders (mean τ ≥ 0.9) and is within 2% of what the
//! honest ballots alone give (weighed by trust as the server weighs them), 90% of the
//! adversaries end below every honest contributor by trust, none reaches the leaderboard's top
//! half, and no top reply is one the adversaries pushed where the honest ballots alone would
//! not have put it. Reported (and
//! written to `$OA_QUALITY_REPORT` when set, as `cargo xtask bench` does for
//! `target/bench/quality.json`): the mean τ beside the τ the honest ballots alone give on the
//! same parents, the share of adversaries flagged, adversaries in the leaderboard's top half,
//! and the parents whose top reply the clique or the sybils moved.

use std::collections::{HashMap, HashSet};

use anyhow::{Context as _, Result};
use oa_server::testing::TestServer;
use oa_server::{Ballot, Config, PasswordCost, TreePolicy, kendall_tau, ranked_pairs};
use oa_types::{EventStatus, Role, TaskKind, Uuid};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{
    Contributor, message, message_event, new_prompt, ranking_event, register, synthetic,
};
use super::pipeline::{lease, tree};

const PROMPTS: usize = 200;
/// What the sybils' owner advertises.
const AD: &str = "Earn 500 euros a day from home, write to easy-money at example dot com now!";
const REPLIES: usize = 5;
/// Prompts that arrive each round.
const WAVE: usize = 20;
/// Open-Assistant's K: rankings a parent needs before its consensus is computed.
const RANKINGS_PER_PARENT: u32 = 3;
const HONEST: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Behaviour {
    Honest,
    Random,
    Inverted,
    /// Three accounts that agree to put the worst reply first.
    Clique,
    /// One person's four accounts, each putting the second-worst reply first.
    Sybil,
}

impl Behaviour {
    fn adversarial(self) -> bool {
        self != Behaviour::Honest
    }
}

/// How honest rankers stray from the truth.
#[derive(Debug, Clone, Copy)]
enum Noise {
    /// Each reply's true place plus Gaussian noise of this spread, then sorted.
    Thurstone(f64),
    /// Replies drawn best first with weight `exp(-skill · true place)`, each ranker's skill
    /// drawn uniformly from this range.
    PlackettLuce(f64, f64),
}

impl Noise {
    fn name(self) -> &'static str {
        match self {
            Noise::Thurstone(_) => "thurstone",
            Noise::PlackettLuce(..) => "plackett_luce",
        }
    }
}

/// A standard normal sample (Box–Muller), so the test needs no distribution crate.
fn gaussian(rng: &mut StdRng) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    let v: f64 = rng.random_range(0.0..1.0);
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// An honest ranker's order of `shown`, given the true order.
fn honest_order(
    shown: &[Uuid],
    truth: &[Uuid],
    noise: Noise,
    skill: f64,
    rng: &mut StdRng,
) -> Vec<Uuid> {
    let place = |id: &Uuid| truth.iter().position(|t| t == id).unwrap_or(0) as f64;
    match noise {
        Noise::Thurstone(spread) => {
            let mut noisy: Vec<(f64, Uuid)> = shown
                .iter()
                .map(|id| (place(id) + spread * gaussian(rng), *id))
                .collect();
            noisy.sort_by(|a, b| a.0.total_cmp(&b.0));
            noisy.into_iter().map(|(_, id)| id).collect()
        }
        Noise::PlackettLuce(..) => {
            let mut left: Vec<Uuid> = shown.to_vec();
            let mut order = Vec::with_capacity(left.len());
            while !left.is_empty() {
                let weights: Vec<f64> = left.iter().map(|id| (-skill * place(id)).exp()).collect();
                let mut pick = rng.random_range(0.0..weights.iter().sum::<f64>());
                let mut chosen = left.len() - 1;
                for (i, w) in weights.iter().enumerate() {
                    if pick < *w {
                        chosen = i;
                        break;
                    }
                    pick -= w;
                }
                order.push(left.remove(chosen));
            }
            order
        }
    }
}

/// `shown` with `favourite` moved to the front.
fn pushed(shown: &[Uuid], favourite: Uuid) -> Vec<Uuid> {
    let mut order = vec![favourite];
    order.extend(shown.iter().copied().filter(|id| *id != favourite));
    order
}

/// The figures of one run.
struct Figures {
    mean_tau: f64,
    honest_only_tau: f64,
    /// The same, each honest ballot weighed by its ranker's trust as the server weighs it.
    honest_weighed_tau: f64,
    adversaries_flagged: f64,
    adversaries_in_top_half: usize,
    tops_moved: usize,
    /// Rankings the sybils sent without a task into others' trees that were accepted.
    side_rankings_accepted: usize,
    /// Copies of the sybils' ad that were accepted.
    ads_accepted: usize,
}

async fn run(noise: Noise, seed: u64) -> Result<Figures> {
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
    let mut rng = StdRng::seed_from_u64(seed);

    // One person uploads the trees: each prompt with five model-written replies whose true
    // order (best first) only the test knows.
    let creator = register(&server, "Creator").await?;
    let mut truth: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    // The replies as the server lists them (oldest first), which is how it breaks ties.
    let mut listed: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
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
        listed.insert(prompt.id, replies.clone());
        replies.shuffle(&mut rng);
        truth.insert(prompt.id, replies);
    }
    // The trees arrive over time, a wave each round, as prompts reach a live server.
    let mut waves = batch.chunks(WAVE * (REPLIES + 1));
    creator.ingest_ok(waves.next().context("a wave")?).await?;
    let first_tree = batch[0].subject_id;
    assert_eq!(tree(&creator, first_tree).await?["state"], "ranking");

    let mut crowd: Vec<(Contributor, Behaviour, f64)> = Vec::new();
    for i in 0..HONEST {
        let skill = match noise {
            Noise::Thurstone(_) => 0.0,
            Noise::PlackettLuce(low, high) => rng.random_range(low..high),
        };
        crowd.push((
            register(&server, &format!("honest-{i}")).await?,
            Behaviour::Honest,
            skill,
        ));
    }
    for (i, behaviour) in [
        Behaviour::Random,
        Behaviour::Random,
        Behaviour::Random,
        Behaviour::Inverted,
        Behaviour::Inverted,
        Behaviour::Clique,
        Behaviour::Clique,
        Behaviour::Clique,
        Behaviour::Sybil,
        Behaviour::Sybil,
        Behaviour::Sybil,
        Behaviour::Sybil,
    ]
    .into_iter()
    .enumerate()
    {
        crowd.push((
            register(&server, &format!("adversary-{i}")).await?,
            behaviour,
            0.0,
        ));
    }

    // Rounds of offline work: a wave of new trees arrives, then everyone, in a random order,
    // leases two ranking tasks and sends the results back in one batch, until every wave arrived
    // and no parent needs rankings any more.
    let mut order: Vec<usize> = (0..crowd.len()).collect();
    let mut prompts: Vec<Uuid> = truth.keys().copied().collect();
    prompts.sort();
    // Rankings without a task and copies of the ad that got in.
    let mut side_doors = (0, 0);
    loop {
        let wave = waves.next();
        if let Some(wave) = wave {
            creator.ingest_ok(wave).await?;
        }
        order.shuffle(&mut rng);
        let mut handed_out = 0;
        for &who in &order {
            let (contributor, behaviour, skill) = &crowd[who];
            let tasks = lease(contributor, 2, &[TaskKind::RankReplies]).await?;
            handed_out += tasks.len();
            let mut results = Vec::new();
            for task in tasks {
                let parent = task.message_id.context("a ranking task names its parent")?;
                let shown: Vec<Uuid> = task.replies.iter().map(|m| m.id).collect();
                let true_order = &truth[&parent];
                let ranked = match behaviour {
                    Behaviour::Honest => honest_order(&shown, true_order, noise, *skill, &mut rng),
                    Behaviour::Random => {
                        let mut random = shown.clone();
                        random.shuffle(&mut rng);
                        random
                    }
                    Behaviour::Inverted => true_order.iter().rev().copied().collect(),
                    Behaviour::Clique => pushed(&shown, true_order[REPLIES - 1]),
                    Behaviour::Sybil => pushed(&shown, true_order[REPLIES - 2]),
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
            if *behaviour == Behaviour::Sybil {
                // The person behind the sybils also tries the side doors: a ranking without a
                // task in a tree that is not theirs, and their ad posted from every account.
                let parent = prompts[rng.random_range(0..prompts.len())];
                let parent_message = oa_types::Message {
                    id: parent,
                    conversation_id: Uuid::nil(),
                    ..message(Uuid::nil(), None, Role::Prompter, "")
                };
                let target = truth[&parent][REPLIES - 2];
                let side = [
                    ranking_event(&parent_message, &pushed(&listed[&parent], target)),
                    message_event(&new_prompt(&AD.to_lowercase())),
                ];
                let results = contributor.ingest(&side).await?;
                side_doors.0 += usize::from(results[0].status == EventStatus::Accepted);
                side_doors.1 += usize::from(results[1].status == EventStatus::Accepted);
            }
        }
        if handed_out == 0 && wave.is_none() {
            break;
        }
    }

    // Consensus against the hidden truth, beside what the honest ballots alone give.
    let honest_accounts: HashSet<Uuid> = crowd
        .iter()
        .filter(|(_, b, _)| !b.adversarial())
        .map(|(c, _, _)| c.account())
        .collect();
    let mut taus = Vec::new();
    let mut honest_taus = Vec::new();
    let mut honest_weighed_taus = Vec::new();
    let mut tops_moved = 0;
    for (prompt, true_order) in &truth {
        let view = tree(&creator, *prompt).await?;
        assert_eq!(view["state"], "ready_for_export", "{view}");
        let mut ranked: Vec<(i64, Uuid)> = view["messages"]
            .as_array()
            .context("messages")?
            .iter()
            .filter(|m| m["parent_id"] == Value::String(prompt.to_string()))
            .map(|m| {
                (
                    m["rank"].as_i64().unwrap_or(i64::MAX),
                    m["id"]
                        .as_str()
                        .unwrap_or_default()
                        .parse()
                        .unwrap_or_default(),
                )
            })
            .collect();
        ranked.sort();
        let consensus: Vec<Uuid> = ranked.into_iter().map(|(_, id)| id).collect();
        taus.push(kendall_tau(&consensus, true_order).context("tau")?);
        // The ballots that count (leased), with their rankers' trust as it ended.
        let ballots: Vec<(Uuid, Vec<Uuid>, f32)> = sqlx::query_as(
            "SELECT r.account_id, r.ranking, a.trust FROM rankings r \
             JOIN accounts a ON a.id = r.account_id \
             WHERE r.parent_id = $1 AND NOT r.retracted AND r.leased",
        )
        .bind(prompt)
        .fetch_all(server.pool())
        .await?;
        let honest = |weighed: bool| -> Vec<Ballot> {
            ballots
                .iter()
                .filter(|(account, _, _)| honest_accounts.contains(account))
                .map(|(_, order, trust)| Ballot {
                    order: order.clone(),
                    weight: if weighed { f64::from(*trust) } else { 1.0 },
                })
                .collect()
        };
        if honest(false).is_empty() {
            continue;
        }
        // Ties broken as the server breaks them, not in the truth's favour: the honest ballots
        // alone counted alike, and weighed by trust as the server weighs them.
        let honest_only = ranked_pairs(&listed[prompt], &honest(false));
        honest_taus.push(kendall_tau(&honest_only, true_order).context("tau")?);
        let honest_weighed = ranked_pairs(&listed[prompt], &honest(true));
        honest_weighed_taus.push(kendall_tau(&honest_weighed, true_order).context("tau")?);
        // A top the adversaries moved: the consensus puts a reply they pushed first, where the
        // honest ballots alone, weighed the same way, would not.
        let targets = [true_order[REPLIES - 1], true_order[REPLIES - 2]];
        if consensus.first() != honest_weighed.first()
            && consensus.first().is_some_and(|top| targets.contains(top))
        {
            tops_moved += 1;
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;

    // Trust as each contributor sees it.
    let mut honest_trust = Vec::new();
    let mut adversary_trust = Vec::new();
    for (contributor, behaviour, _) in &crowd {
        let (_, stats) = contributor.call(Method::GET, "/v1/me/stats", None).await?;
        let trust = stats["trust"].as_f64().context("trust")?;
        if *behaviour == Behaviour::Inverted {
            // Ranking the reverse of everyone else is what trolls do.
            assert!(
                stats["troll_score"].as_f64().unwrap_or_default() > 0.0,
                "{stats}"
            );
        }
        if behaviour.adversarial() {
            adversary_trust.push((trust, *behaviour));
        } else {
            honest_trust.push(trust);
        }
    }
    let least_honest = honest_trust.iter().copied().fold(f64::INFINITY, f64::min);
    let sunk = adversary_trust
        .iter()
        .filter(|(t, _)| *t < least_honest)
        .count();

    // The leaderboard's top half.
    let (_, board) = creator
        .call(Method::GET, "/v1/leaderboard?window=all", None)
        .await?;
    let entries = board["entries"].as_array().context("entries")?;
    let adversary_names: HashSet<String> = crowd
        .iter()
        .filter(|(_, b, _)| b.adversarial())
        .map(|(c, _, _)| c.name.clone())
        .collect();
    let adversaries_in_top_half = entries
        .iter()
        .take(entries.len() / 2)
        .filter(|e| {
            e["display_name"]
                .as_str()
                .is_some_and(|n| adversary_names.contains(n))
        })
        .count();
    println!(
        "{}: mean consensus tau {:.3} (honest ballots alone {:.3}, weighed by trust {:.3}) over {} \
         parents; least honest \
         trust {least_honest:.3}; adversaries {adversary_trust:?}; {sunk} of {} below every \
         honest contributor; {adversaries_in_top_half} in the leaderboard's top half; \
         {tops_moved} tops moved; side doors: {} rankings without a task and {} copies of the ad \
         accepted",
        noise.name(),
        mean(&taus),
        mean(&honest_taus),
        mean(&honest_weighed_taus),
        taus.len(),
        adversary_trust.len(),
        side_doors.0,
        side_doors.1,
    );
    Ok(Figures {
        mean_tau: mean(&taus),
        honest_only_tau: mean(&honest_taus),
        honest_weighed_tau: mean(&honest_weighed_taus),
        adversaries_flagged: sunk as f64 / adversary_trust.len() as f64,
        adversaries_in_top_half,
        tops_moved,
        side_rankings_accepted: side_doors.0,
        ads_accepted: side_doors.1,
    })
}

#[tokio::test]
async fn consensus_recovers_the_truth_and_trust_sinks_the_adversaries() -> Result<()> {
    let mut report = serde_json::Map::new();
    for (noise, seed) in [
        (Noise::Thurstone(0.5), 20_261_126),
        (Noise::PlackettLuce(0.8, 2.0), 20_261_207),
    ] {
        let f = run(noise, seed).await?;
        report.insert(
            noise.name().to_owned(),
            json!({
                "mean_tau": f.mean_tau,
                "honest_only_tau": f.honest_only_tau,
                "tau_ratio": f.mean_tau / f.honest_only_tau,
                "honest_weighed_tau": f.honest_weighed_tau,
                "tau_ratio_weighed": f.mean_tau / f.honest_weighed_tau,
                "tau_ratio_goal": 0.98,
                "adversaries_flagged": f.adversaries_flagged,
                "adversaries_flagged_goal": 0.9,
                "adversaries_in_top_half": f.adversaries_in_top_half,
                "tops_moved": f.tops_moved,
                "tops_moved_goal": 0,
                "side_rankings_accepted": f.side_rankings_accepted,
                "ads_accepted": f.ads_accepted,
            }),
        );
        assert!(
            f.mean_tau >= 0.9 || noise.name() != "thurstone",
            "mean τ {}",
            f.mean_tau
        );
        // Adversaries cost almost nothing: the consensus is as good as what the honest ballots
        // alone give, weighed as the server weighs them. (Beside counting them alike it is
        // reported; trust weighs honest rankers unevenly too, which moves that ratio by ±2%
        // from run to run under Plackett–Luce.)
        assert!(
            f.mean_tau >= 0.98 * f.honest_weighed_tau,
            "{}: τ {:.3} against {:.3} from the honest ballots alone",
            noise.name(),
            f.mean_tau,
            f.honest_weighed_tau
        );
        assert!(
            f.adversaries_flagged >= 0.9,
            "only {:.0}% of the adversaries below every honest contributor",
            f.adversaries_flagged * 100.0
        );
        assert_eq!(f.adversaries_in_top_half, 0, "{}", noise.name());
        assert_eq!(f.tops_moved, 0, "{}: tops moved", noise.name());
        assert_eq!(
            f.side_rankings_accepted, 0,
            "rankings without a task got in"
        );
        assert!(
            f.ads_accepted <= 1,
            "{} copies of one ad accepted",
            f.ads_accepted
        );
    }
    if let Some(path) = std::env::var_os("OA_QUALITY_REPORT") {
        let json = serde_json::to_string_pretty(&Value::Object(report))?;
        std::fs::write(&path, json + "\n")?;
    }
    Ok(())
}
