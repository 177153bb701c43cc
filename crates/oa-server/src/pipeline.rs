//! Open-Assistant's tree pipeline: how a tree moves from its first prompt to the export.
//!
//! ```text
//! initial_prompt_review ──root accepted──▶ growing ──goal size, nothing pending──▶ ranking
//!        │ root rejected                                                           │ every parent
//!        ▼                                                                         ▼ has K rankings
//! aborted_low_grade                     ready_for_export ◀──scored── ready_for_scoring
//!                     (halted_by_moderator from any state, by a moderator)
//! ```
//!
//! A message is reviewed by labels from others: once it has the policy's number of reviews it is
//! accepted when the share of positive ones (1 − mean `spam`) reaches the acceptance threshold,
//! else rejected. Scoring merges each parent's rankings by trust-weighted ranked pairs, stores the
//! consensus rank of every reply, scores every ranking's agreement (Kendall τ against the consensus
//! of the other rankings, leave one out) and updates the
//! rankers' trust, then gives the authors of the best three human-written replies their bonus.
//!
//! [`advance`] runs at the end of every ingest transaction for the trees the batch touched, with a
//! fixed number of set-based statements; only trees that are being ranked cost more.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oa_types::{Role, Uuid};
use serde::Serialize;
use sqlx::{AssertSqlSafe, PgConnection};

use crate::auth::Caller;
use crate::body::IdPath;
use crate::config::TreePolicy;
use crate::consensus::{self, Ballot};
use crate::error::ErrorBody;
use crate::openapi::{IdRefused, ServerTrouble, TokenRefused};
use crate::trust::{self, Agreements, Crowd, Quorum};
use crate::{AppState, Error, Result, score};

/// Where a message tree is in Open-Assistant's pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TreeState {
    /// The first prompt waits for its reviews.
    InitialPromptReview,
    /// Replies are being written and reviewed.
    Growing,
    /// Replies are being ranked.
    Ranking,
    /// Every parent has its rankings; consensus is being computed.
    ReadyForScoring,
    /// Finished: part of the export.
    ReadyForExport,
    /// The first prompt was rejected in review.
    AbortedLowGrade,
    /// Stopped by a moderator.
    HaltedByModerator,
}

impl TreeState {
    /// Every state.
    pub const ALL: [TreeState; 7] = [
        TreeState::InitialPromptReview,
        TreeState::Growing,
        TreeState::Ranking,
        TreeState::ReadyForScoring,
        TreeState::ReadyForExport,
        TreeState::AbortedLowGrade,
        TreeState::HaltedByModerator,
    ];

    /// The storage and export name.
    pub fn as_str(self) -> &'static str {
        match self {
            TreeState::InitialPromptReview => "initial_prompt_review",
            TreeState::Growing => "growing",
            TreeState::Ranking => "ranking",
            TreeState::ReadyForScoring => "ready_for_scoring",
            TreeState::ReadyForExport => "ready_for_export",
            TreeState::AbortedLowGrade => "aborted_low_grade",
            TreeState::HaltedByModerator => "halted_by_moderator",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Result<TreeState> {
        TreeState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| Error::Internal(format!("unknown tree state {s:?}")))
    }
}

/// Where reviews may have changed, so that only those are counted again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reviews<'a> {
    /// Messages that were labelled.
    pub messages: &'a [Uuid],
    /// Trees in which something was retracted: all their pending messages.
    pub trees: &'a [Uuid],
}

/// Moves the given trees as far along the pipeline as their contributions allow.
///
/// `may_move` false says that no tree can change state (only non-root messages of trees in
/// review were touched): then only the reviews are counted.
pub(crate) async fn advance(
    tx: &mut PgConnection,
    policy: &TreePolicy,
    crowd: &mut Crowd,
    trees: &[Uuid],
    reviews: Reviews<'_>,
    may_move: bool,
) -> Result<()> {
    if trees.is_empty() {
        return Ok(());
    }
    if !reviews.messages.is_empty() || !reviews.trees.is_empty() {
        let crowd = crowd.trust(tx, policy).await?;
        review(tx, policy, crowd, reviews).await?;
    }
    if !may_move {
        return Ok(());
    }
    // The root decides whether the tree grows; a root that is gone (retracted, hidden) ends it.
    sqlx::query(
        "UPDATE message_trees t SET updated_at = now(), state = CASE \
             WHEN m.deleted OR m.review_state = 'rejected' THEN 'aborted_low_grade' \
             ELSE 'growing' END \
         FROM messages m \
         WHERE m.id = t.id AND t.id = ANY($1) AND ( \
             (t.state = 'initial_prompt_review' AND (m.review_state <> 'pending' OR m.deleted)) \
             OR (t.state IN ('growing', 'ranking') AND m.deleted))",
    )
    .bind(trees)
    .execute(&mut *tx)
    .await?;
    // Growing trees that reached their size with nothing pending are ranked; with the trees
    // already being ranked, they are the ones that may be ready for scoring.
    // (The main query sees the trees as they were before the update: no tree is listed twice.)
    let ranking: Vec<(Uuid, bool)> = sqlx::query_as(
        "WITH moved AS ( \
             UPDATE message_trees t SET state = 'ranking', updated_at = now() \
             WHERE t.id = ANY($1) AND t.state = 'growing' \
               AND (SELECT count(*) FROM messages m WHERE m.tree_id = t.id \
                    AND m.review_state = 'accepted' AND NOT m.deleted) >= $2 \
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.tree_id = t.id \
                    AND m.review_state = 'pending' AND NOT m.deleted) \
             RETURNING t.id) \
         SELECT id, true FROM moved \
         UNION ALL SELECT id, false FROM message_trees WHERE id = ANY($1) AND state = 'ranking' \
         ORDER BY 1",
    )
    .bind(trees)
    .bind(policy.goal_tree_size as i64)
    .fetch_all(&mut *tx)
    .await?;
    // A tree's rankings are weighed against the crowd's trust as it starts being ranked, and
    // that stays: what its parents still need must not drift under the tasks handed out.
    let moved: Vec<Uuid> = ranking.iter().filter(|r| r.1).map(|r| r.0).collect();
    if !moved.is_empty() {
        sqlx::query("UPDATE message_trees SET crowd_trust = $2 WHERE id = ANY($1)")
            .bind(&moved)
            .bind(crowd.trust(tx, policy).await? as f32)
            .execute(&mut *tx)
            .await?;
    }
    for (tree, _) in ranking {
        score_tree(tx, policy, tree).await?;
    }
    Ok(())
}

/// Counts the reviews of pending messages in `trees` (a retracted review no longer counts) and
/// decides those that have enough.
async fn review(
    tx: &mut PgConnection,
    policy: &TreePolicy,
    crowd: f64,
    reviews: Reviews<'_>,
) -> Result<()> {
    // The targets: the labelled messages, and every pending message of a tree in which
    // something was retracted. They are looked up by id first (the materialized CTE), and only
    // then checked for being pending: with statistics from when the table was small, the
    // planner otherwise scans the index of pending messages, and on a busy server nearly every
    // message is pending (over 100,000 rows read, 50–130 ms, for ten targets).
    let mut targets = reviews.messages.to_vec();
    if !reviews.trees.is_empty() {
        targets.extend(
            sqlx::query_scalar::<_, Uuid>(
                "SELECT id FROM messages WHERE tree_id = ANY($1) AND review_state = 'pending'",
            )
            .bind(reviews.trees)
            .fetch_all(&mut *tx)
            .await?,
        );
    }
    // Reviews: labels from anyone but the writer (a person judging model output they uploaded
    // is not judging themselves, so synthetic messages take every label), weighed by their
    // reviewers' trust: a message is decided by the policy's number of reviews whose trust
    // adds up to as many of the crowd's (see `trust`), the crowd's as at its first review.
    let met = trust::met_sql("q.n", "q.w", "q.needed", "q.crowd");
    let decided: Vec<(Uuid, Uuid, Uuid, bool, String, bool, String)> =
        sqlx::query_as(AssertSqlSafe(format!(
            "WITH targets AS MATERIALIZED ( \
                 SELECT id, account_id, synthetic, review_state FROM messages \
                 WHERE id = ANY($1)), \
             r AS ( \
                 SELECT m.id AS message_id, count(l.event_id) AS n, \
                        coalesce(sum(a.trust), 0)::float8 AS w, \
                        coalesce(sum(a.trust * (1 - coalesce((l.labels->>'spam')::float8, 0))) \
                                 / nullif(sum(a.trust), 0), 0) AS acceptance \
                 FROM targets m \
                 LEFT JOIN (labels l JOIN accounts a ON a.id = l.account_id \
                            AND a.troll_score < $5) \
                      ON l.message_id = m.id AND NOT l.retracted \
                      AND (l.account_id <> m.account_id OR m.synthetic) \
                 WHERE m.review_state = 'pending' \
                 GROUP BY m.id), \
             q AS ( \
                 SELECT r.*, coalesce(m.crowd_trust, $6) AS crowd, \
                        CASE WHEN m.parent_id IS NULL THEN $2 ELSE $3 END AS needed \
                 FROM r JOIN messages m ON m.id = r.message_id) \
             UPDATE messages m SET review_count = q.n, review_weight = q.w, \
                 crowd_trust = CASE WHEN q.n > 0 THEN q.crowd ELSE m.crowd_trust END, \
                 review_state = CASE \
                     WHEN NOT {met} THEN 'pending' \
                     WHEN q.acceptance >= $4 THEN 'accepted' ELSE 'rejected' END \
             FROM q WHERE m.id = q.message_id \
               AND (m.review_count <> q.n OR m.review_weight <> q.w OR {met}) \
             RETURNING m.id, m.event_id, m.account_id, m.parent_id IS NULL, m.role, \
                       m.synthetic, m.review_state"
        )))
        .bind(&targets)
        .bind(policy.reviews_initial_prompt as i32)
        .bind(policy.reviews_reply as i32)
        .bind(policy.acceptance_threshold)
        .bind(policy.troll_score_to_mute)
        .bind(crowd)
        .fetch_all(&mut *tx)
        .await?;
    let judged: Vec<Uuid> = decided
        .iter()
        .filter(|d| d.6 != "pending")
        .map(|d| d.0)
        .collect();
    reviewers_agreement(tx, policy, &judged).await?;
    // Only pending messages were judged: those accepted now earn their writer's points.
    let earned: Vec<_> = decided
        .into_iter()
        .filter(|d| d.6 == "accepted" && !d.5)
        .map(|(_, event, account, root, role, _, _)| {
            let kind = score::message_kind(root, Role::parse(&role).unwrap_or(Role::Assistant));
            (account, event, kind, score::points(kind))
        })
        .collect();
    score::record(tx, &earned).await?;
    Ok(())
}

/// Compares every counted review of the messages just decided with the verdict of the others
/// (leave one out) and adds the agreement to the reviewers' trust.
async fn reviewers_agreement(
    tx: &mut PgConnection,
    policy: &TreePolicy,
    messages: &[Uuid],
) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let rows: Vec<(Uuid, Uuid, f64, f32)> = sqlx::query_as(
        "SELECT l.message_id, l.account_id, \
                1 - coalesce((l.labels->>'spam')::float8, 0), a.trust \
         FROM labels l JOIN messages m ON m.id = l.message_id \
         JOIN accounts a ON a.id = l.account_id \
         WHERE l.message_id = ANY($1) AND NOT l.retracted \
           AND (l.account_id <> m.account_id OR m.synthetic) AND a.troll_score < $2 \
         ORDER BY l.message_id, l.event_id",
    )
    .bind(messages)
    .bind(policy.troll_score_to_mute)
    .fetch_all(&mut *tx)
    .await?;
    let mut agreements = Agreements::default();
    for reviews in rows.chunk_by(|a, b| a.0 == b.0) {
        let weighed: Vec<(f64, f64)> = reviews
            .iter()
            .map(|(_, _, acceptance, trust)| (*acceptance, f64::from(*trust)))
            .collect();
        let verdicts = trust::review_agreement(&weighed, policy.acceptance_threshold);
        for ((_, account, _, _), verdict) in reviews.iter().zip(verdicts) {
            if let Some(agreement) = verdict {
                agreements.add(*account, agreement, 0.0);
            }
        }
    }
    let found_out = agreements.record(tx).await?;
    reconsider(tx, policy, &found_out).await
}

/// One ranking of a parent's replies.
#[derive(sqlx::FromRow)]
struct Vote {
    event_id: Uuid,
    parent_id: Uuid,
    account_id: Uuid,
    ranking: Vec<Uuid>,
    not_rankable: bool,
    /// The ranker's trust now: the ballot's weight in the consensus.
    trust: f32,
    /// The ranker's trust when the ranking arrived: what it added to the parent's quorum.
    weight: f32,
}

impl Vote {
    fn ballot(&self) -> Ballot {
        Ballot {
            order: self.ranking.clone(),
            weight: f64::from(self.trust),
        }
    }
}

/// A tree in `ranking`: when every parent with two or more replies has its quorum of K rankings
/// (only rankings a task asked for count, against the crowd's trust when the tree started being
/// ranked), computes the consensus, agreement and trust, and finishes the tree.
async fn score_tree(tx: &mut PgConnection, policy: &TreePolicy, tree: Uuid) -> Result<()> {
    let parents: Vec<(Uuid, Vec<Uuid>)> = sqlx::query_as(
        "SELECT parent_id, array_agg(id ORDER BY created_at, id) FROM messages \
         WHERE tree_id = $1 AND parent_id IS NOT NULL AND review_state = 'accepted' \
           AND NOT deleted \
         GROUP BY parent_id HAVING count(*) >= 2",
    )
    .bind(tree)
    .fetch_all(&mut *tx)
    .await?;
    let parent_ids: Vec<Uuid> = parents.iter().map(|p| p.0).collect();
    let votes: Vec<Vote> = sqlx::query_as(
        "SELECT r.event_id, r.parent_id, r.account_id, r.ranking, r.not_rankable, a.trust, \
                r.weight \
         FROM rankings r JOIN accounts a ON a.id = r.account_id \
         WHERE r.parent_id = ANY($1) AND NOT r.retracted AND r.leased AND a.troll_score < $2 \
         ORDER BY r.created_at, r.event_id",
    )
    .bind(&parent_ids)
    .bind(policy.troll_score_to_mute)
    .fetch_all(&mut *tx)
    .await?;
    let mut by_parent: HashMap<Uuid, Vec<Vote>> = HashMap::new();
    for vote in votes {
        by_parent.entry(vote.parent_id).or_default().push(vote);
    }
    let quorum = Quorum {
        votes: policy.rankings_per_parent,
        crowd: tree_crowd(tx, tree).await?,
    };
    let unmet = |parent: &Uuid| {
        let votes = by_parent.get(parent).map_or(&[][..], Vec::as_slice);
        let weight = votes.iter().map(|v| f64::from(v.weight)).sum();
        !quorum.met(votes.len() as i64, weight)
    };
    if parents.iter().any(|(parent, _)| unmet(parent)) {
        return Ok(());
    }
    set_state(tx, tree, TreeState::ReadyForScoring).await?;

    let mut rank_ids = Vec::new();
    let mut rank_values = Vec::new();
    let mut tau_events = Vec::new();
    let mut tau_values = Vec::new();
    let mut agreements = Agreements::default();
    for (parent, replies) in &parents {
        let counted: Vec<&Vote> = by_parent[parent]
            .iter()
            .filter(|v| !v.not_rankable)
            .collect();
        let ballots: Vec<Ballot> = counted.iter().map(|v| v.ballot()).collect();
        if ballots.is_empty() {
            // Everyone found these replies not rankable: they stay unranked.
            continue;
        }
        let consensus = consensus::ranked_pairs(replies, &ballots);
        for (rank, id) in consensus.iter().enumerate() {
            rank_ids.push(*id);
            rank_values.push(rank as i32);
        }
        // Agreement is measured against the others alone (leave one out): a ranking inside the
        // consensus it is compared with would agree with itself, and two accounts would
        // certify each other.
        for (index, vote) in counted.iter().enumerate() {
            let others: Vec<Ballot> = counted
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != index)
                .map(|(_, v)| v.ballot())
                .collect();
            if others.is_empty() {
                // Nobody else ranked these replies: nothing to agree with.
                continue;
            }
            let without = consensus::ranked_pairs(replies, &others);
            if let Some(tau) = consensus::kendall_tau(&vote.ranking, &without) {
                tau_events.push(vote.event_id);
                tau_values.push(tau);
                // Ranking close to the reverse of everyone else is what trolls do.
                agreements.add(vote.account_id, tau, if tau <= -0.5 { 1.0 } else { 0.0 });
            }
        }
    }
    set_ranks(tx, &rank_ids, &rank_values).await?;
    sqlx::query(
        "UPDATE rankings r SET tau = x.t FROM UNNEST($1::uuid[], $2::float8[]) AS x(e, t) \
         WHERE r.event_id = x.e",
    )
    .bind(&tau_events)
    .bind(&tau_values)
    .execute(&mut *tx)
    .await?;
    award_rank_bonuses(tx, tree, None).await?;
    let found_out = agreements.record(tx).await?;
    reconsider(tx, policy, &found_out).await?;
    set_state(tx, tree, TreeState::ReadyForExport).await?;
    tracing::info!(tree = %tree, "tree scored and ready for export");
    Ok(())
}

/// Most parents ranked again in one transaction because their rankers were found out.
const RECONSIDER_LIMIT: i64 = 200;

/// Parents already ranked with the help of accounts now found out (see
/// [`Agreements::record`]) are ranked again with every ranker's trust as it is now: a clique or
/// a sybil found out late loses the weight it had while it was new, and the rank bonuses follow.
async fn reconsider(tx: &mut PgConnection, policy: &TreePolicy, accounts: &[Uuid]) -> Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let parents: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT DISTINCT m.tree_id, r.parent_id FROM rankings r \
         JOIN messages m ON m.id = r.parent_id JOIN message_trees t ON t.id = m.tree_id \
         WHERE r.account_id = ANY($1) AND r.leased AND NOT r.retracted \
           AND t.state IN ('ready_for_scoring', 'ready_for_export') \
         ORDER BY 1, 2 LIMIT $2",
    )
    .bind(accounts)
    .bind(RECONSIDER_LIMIT)
    .fetch_all(&mut *tx)
    .await?;
    for (tree, parent) in parents {
        rerank_parent(tx, policy, tree, parent).await?;
    }
    Ok(())
}

/// The crowd's trust a tree's rankings are weighed against (a newcomer's for trees that were
/// being ranked before it was kept).
async fn tree_crowd(tx: &mut PgConnection, tree: Uuid) -> Result<f64> {
    let crowd: Option<f32> =
        sqlx::query_scalar("SELECT crowd_trust FROM message_trees WHERE id = $1")
            .bind(tree)
            .fetch_one(&mut *tx)
            .await?;
    Ok(crowd.map_or(trust::NEWCOMER_TRUST, f64::from))
}

/// Gives each message of `ids` the rank at the same place of `ranks` (0 for the best).
async fn set_ranks(tx: &mut PgConnection, ids: &[Uuid], ranks: &[i32]) -> Result<()> {
    sqlx::query(
        "UPDATE messages m SET rank = x.r FROM UNNEST($1::uuid[], $2::int4[]) AS x(id, r) \
         WHERE m.id = x.id",
    )
    .bind(ids)
    .bind(ranks)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Bonuses for the best three human-written replies of each parent in `tree` (or of `parent`
/// alone), after taking back the rank bonuses those replies had.
async fn award_rank_bonuses(tx: &mut PgConnection, tree: Uuid, parent: Option<Uuid>) -> Result<()> {
    let kinds = [0, 1, 2].map(|r| score::rank_bonus(r).unwrap_or_default());
    sqlx::query(
        "DELETE FROM score_events s USING messages m \
         WHERE s.message_id = m.id AND m.tree_id = $1 \
           AND ($2::uuid IS NULL OR m.parent_id = $2) AND s.kind = ANY($3)",
    )
    .bind(tree)
    .bind(parent)
    .bind(kinds.as_slice())
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO score_events (account_id, message_id, kind, points) \
         SELECT m.account_id, m.id, b.kind, b.points \
         FROM messages m JOIN UNNEST($2::int4[], $3::text[], $4::real[]) AS b(r, kind, points) \
              ON b.r = m.rank \
         WHERE m.tree_id = $1 AND ($5::uuid IS NULL OR m.parent_id = $5) \
           AND NOT m.synthetic AND NOT m.deleted",
    )
    .bind(tree)
    .bind([0i32, 1, 2].as_slice())
    .bind(kinds.as_slice())
    .bind(kinds.map(score::points).as_slice())
    .bind(parent)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A ranking withdrawn after its tree was scored: the parent's replies are ranked again from
/// the ballots that remain (unranked when none does), and the rank bonuses follow the new
/// order. Before scoring nothing is needed: the withdrawn ranking simply no longer counts.
async fn rerank_parent(
    tx: &mut PgConnection,
    policy: &TreePolicy,
    tree: Uuid,
    parent: Uuid,
) -> Result<()> {
    let state: String = sqlx::query_scalar("SELECT state FROM message_trees WHERE id = $1")
        .bind(tree)
        .fetch_one(&mut *tx)
        .await?;
    if state != TreeState::ReadyForExport.as_str() && state != TreeState::ReadyForScoring.as_str() {
        return Ok(());
    }
    let replies: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM messages WHERE parent_id = $1 AND review_state = 'accepted' \
           AND NOT deleted ORDER BY created_at, id",
    )
    .bind(parent)
    .fetch_all(&mut *tx)
    .await?;
    let ballots: Vec<Ballot> = sqlx::query_as::<_, (Vec<Uuid>, f32)>(
        "SELECT r.ranking, a.trust FROM rankings r JOIN accounts a ON a.id = r.account_id \
         WHERE r.parent_id = $1 AND NOT r.retracted AND NOT r.not_rankable AND r.leased \
           AND a.troll_score < $2 \
         ORDER BY r.created_at, r.event_id",
    )
    .bind(parent)
    .bind(policy.troll_score_to_mute)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(order, trust)| Ballot {
        order,
        weight: f64::from(trust),
    })
    .collect();
    let order = if ballots.is_empty() || replies.len() < 2 {
        Vec::new()
    } else {
        consensus::ranked_pairs(&replies, &ballots)
    };
    let ranks: Vec<i32> = (0..order.len() as i32).collect();
    sqlx::query("UPDATE messages SET rank = NULL WHERE parent_id = $1")
        .bind(parent)
        .execute(&mut *tx)
        .await?;
    set_ranks(tx, &order, &ranks).await?;
    award_rank_bonuses(tx, tree, Some(parent)).await
}

async fn set_state(tx: &mut PgConnection, tree: Uuid, state: TreeState) -> Result<()> {
    sqlx::query("UPDATE message_trees SET state = $2, updated_at = now() WHERE id = $1")
        .bind(tree)
        .bind(state.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Applies a retraction by `account` of its event `target`: the content is removed from the
/// server (message text emptied and hidden from exports, labels and rankings no longer counted,
/// reactions removed, points taken back, the raw payload emptied). Returns the tree touched.
///
/// A retraction that arrives before its target is remembered, and the target is refused later.
pub(crate) async fn retract(
    tx: &mut PgConnection,
    policy: &TreePolicy,
    account: Uuid,
    retraction: Uuid,
    target: Uuid,
) -> Result<Option<Uuid>> {
    sqlx::query(
        "INSERT INTO retractions (retracted_event_id, event_id, account_id) VALUES ($1, $2, $3) \
         ON CONFLICT (retracted_event_id) DO NOTHING",
    )
    .bind(target)
    .bind(retraction)
    .bind(account)
    .execute(&mut *tx)
    .await?;
    let kind: Option<String> = sqlx::query_scalar(
        "UPDATE contribution_events SET payload = '{}'::jsonb, retracted_at = now() \
         WHERE id = $1 AND account_id = $2 AND retracted_at IS NULL RETURNING kind",
    )
    .bind(target)
    .bind(account)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(kind) = kind else {
        return Ok(None);
    };
    // The points for the event, and a retracted reply's rank bonus.
    sqlx::query(
        "DELETE FROM score_events WHERE event_id = $1 \
            OR message_id IN (SELECT id FROM messages WHERE event_id = $1)",
    )
    .bind(target)
    .execute(&mut *tx)
    .await?;
    let tree: Option<Uuid> = match kind.as_str() {
        // A correction is a message written in the model's place: it goes the same way.
        "message" | "correction" => {
            sqlx::query_scalar(
                "UPDATE messages SET deleted = true, text = '', provenance = NULL, \
                     model_name = NULL, text_sha256 = NULL \
                 WHERE event_id = $1 RETURNING tree_id",
            )
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?
        }
        "labels" => {
            sqlx::query_scalar(
                "UPDATE labels l SET retracted = true FROM messages m \
                 WHERE l.event_id = $1 AND m.id = l.message_id RETURNING m.tree_id",
            )
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?
        }
        "ranking" => {
            let ranked: Option<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE rankings r SET retracted = true FROM messages m \
                 WHERE r.event_id = $1 AND m.id = r.parent_id RETURNING m.tree_id, m.id",
            )
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((tree, parent)) = ranked {
                rerank_parent(tx, policy, tree, parent).await?;
            }
            ranked.map(|(tree, _)| tree)
        }
        _ => {
            sqlx::query_scalar(
                "DELETE FROM reactions r USING messages m \
                 WHERE r.event_id = $1 AND m.id = r.message_id RETURNING m.tree_id",
            )
            .bind(target)
            .fetch_optional(&mut *tx)
            .await?
        }
    };
    Ok(tree)
}

/// Open-Assistant's auto-moderation for messages that got reactions: counts red flags and skips,
/// hides a message once enough distinct accounts flagged it, and raises its writer's troll score.
/// Returns the trees of hidden messages.
pub(crate) async fn moderate(
    tx: &mut PgConnection,
    policy: &TreePolicy,
    crowd: &mut Crowd,
    messages: &[Uuid],
) -> Result<Vec<Uuid>> {
    sqlx::query(
        "UPDATE messages m SET \
             red_flags = (SELECT count(*) FROM reactions r \
                          JOIN accounts a ON a.id = r.account_id \
                          WHERE r.message_id = m.id AND r.emoji = 'red_flag' \
                            AND a.troll_score < $2), \
             skips = (SELECT count(*) FROM reactions r \
                      WHERE r.message_id = m.id AND r.emoji LIKE '\\_skip%') \
         WHERE m.id = ANY($1)",
    )
    .bind(messages)
    .bind(policy.troll_score_to_mute)
    .execute(&mut *tx)
    .await?;
    // Red flags are a quorum like reviews: as many flags as the policy's, whose flaggers' trust
    // adds up to as many of the crowd's.
    let flagged: Vec<(Uuid, i32, f64)> = sqlx::query_as(
        "SELECT m.id, m.red_flags, \
                (SELECT coalesce(sum(a.trust), 0)::float8 FROM reactions r \
                 JOIN accounts a ON a.id = r.account_id \
                 WHERE r.message_id = m.id AND r.emoji = 'red_flag' AND a.troll_score < $3) \
         FROM messages m WHERE m.id = ANY($1) AND NOT m.deleted AND m.red_flags >= $2",
    )
    .bind(messages)
    .bind(policy.red_flags_to_hide as i32)
    .bind(policy.troll_score_to_mute)
    .fetch_all(&mut *tx)
    .await?;
    let mut to_hide = Vec::new();
    if !flagged.is_empty() {
        let quorum = Quorum {
            votes: policy.red_flags_to_hide,
            crowd: crowd.trust(tx, policy).await?,
        };
        to_hide.extend(
            flagged
                .into_iter()
                .filter(|(_, flags, weight)| quorum.met(i64::from(*flags), *weight))
                .map(|(id, _, _)| id),
        );
    }
    let hidden: Vec<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "UPDATE messages SET deleted = true WHERE id = ANY($1) AND NOT deleted \
         RETURNING account_id, tree_id, event_id",
    )
    .bind(&to_hide)
    .fetch_all(&mut *tx)
    .await?;
    // A hidden message keeps no points, nor its rank bonus.
    let hidden_events: Vec<Uuid> = hidden.iter().map(|(_, _, event)| *event).collect();
    if !hidden_events.is_empty() {
        sqlx::query(
            "DELETE FROM score_events WHERE event_id = ANY($1) \
                OR message_id IN (SELECT id FROM messages WHERE event_id = ANY($1))",
        )
        .bind(&hidden_events)
        .execute(&mut *tx)
        .await?;
    }
    let mut writers: Vec<Uuid> = hidden.iter().map(|(account, _, _)| *account).collect();
    writers.sort();
    for account in writers {
        sqlx::query("UPDATE accounts SET troll_score = troll_score + 1 WHERE id = $1")
            .bind(account)
            .execute(&mut *tx)
            .await?;
    }
    Ok(hidden.into_iter().map(|(_, tree, _)| tree).collect())
}

/// A message of a tree as `GET /v1/trees/{id}` shows it, read as the row it is.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TreeMessageView {
    /// The message.
    pub id: Uuid,
    /// Its parent.
    pub parent_id: Option<Uuid>,
    /// `prompter` or `assistant`.
    pub role: String,
    /// Whether a model wrote it.
    pub synthetic: bool,
    /// `pending`, `accepted` or `rejected`.
    pub review_state: String,
    /// Reviews so far.
    pub review_count: i32,
    /// Consensus rank among its siblings, 0 for the best.
    pub rank: Option<i32>,
    /// Retracted or hidden by moderation.
    pub deleted: bool,
    /// The kinds of personal data found in its text at ingest (`email`, `phone`, …); shown to
    /// moderators only, empty for everyone else.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[sqlx(rename = "pii_kinds")]
    pub personal_data: Vec<String>,
}

/// The body of `GET /v1/trees/{id}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TreeView {
    /// The tree (its root prompt's id).
    pub id: Uuid,
    /// Its state.
    pub state: TreeState,
    /// Its messages, oldest first, without their text.
    pub messages: Vec<TreeMessageView>,
}

/// `GET /v1/trees/{id}`: a tree's state and its messages' standing.
#[utoipa::path(
    get,
    path = "/v1/trees/{id}",
    tag = "contributions",
    params(("id" = Uuid, Path, description = "The tree: its root prompt's id")),
    security(("bearer" = [])),
    responses(
        (
            status = 200,
            description = "The tree's state and its messages, without their text",
            body = TreeView,
        ),
        IdRefused,
        (status = 404, description = "`not_found`: no such tree", body = ErrorBody),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn show_tree(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(tree): IdPath,
) -> Result<Json<TreeView>> {
    let moderator = caller.role.can_moderate();
    let tree_state: Option<String> =
        sqlx::query_scalar("SELECT state FROM message_trees WHERE id = $1")
            .bind(tree)
            .fetch_optional(state.pool())
            .await?;
    let tree_state = TreeState::parse(&tree_state.ok_or(Error::NotFound)?)?;
    let mut messages: Vec<TreeMessageView> = sqlx::query_as(
        "SELECT id, parent_id, role, synthetic, review_state, review_count, rank, deleted, \
                pii_kinds \
             FROM messages WHERE tree_id = $1 ORDER BY created_at, id",
    )
    .bind(tree)
    .fetch_all(state.pool())
    .await?;
    if !moderator {
        for message in &mut messages {
            message.personal_data.clear();
        }
    }
    Ok(Json(TreeView {
        id: tree,
        state: tree_state,
        messages,
    }))
}

/// `POST /v1/trees/{id}/halt`: a moderator stops a tree; it is never exported.
#[utoipa::path(
    post,
    path = "/v1/trees/{id}/halt",
    tag = "contributions",
    params(("id" = Uuid, Path, description = "The tree: its root prompt's id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Halted: it takes nothing more and is never exported"),
        IdRefused,
        (
            status = 403,
            description = "`forbidden`: the caller is not a moderator or an admin",
            body = ErrorBody,
        ),
        (status = 404, description = "`not_found`: no such tree", body = ErrorBody),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn halt_tree(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(tree): IdPath,
) -> Result<StatusCode> {
    if !caller.role.can_moderate() {
        return Err(Error::Forbidden);
    }
    let updated = sqlx::query(
        "UPDATE message_trees SET state = 'halted_by_moderator', updated_at = now() WHERE id = $1",
    )
    .bind(tree)
    .execute(state.pool())
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(Error::NotFound);
    }
    tracing::info!(tree = %tree, by = %caller.account_id, "tree halted by a moderator");
    Ok(StatusCode::NO_CONTENT)
}
