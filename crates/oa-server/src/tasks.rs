//! Tasks for offline work: leases of days, with the context needed to do them without the
//! network.
//!
//! `POST /v1/tasks/lease` looks for what trees need — reviews of pending messages, rankings of
//! replies in trees being ranked, replies in growing trees, new prompts while few trees grow —
//! and picks `count` tasks among them at random, weighted as Open-Assistant weighted them
//! (ranking 10, labelling 5, replies 2, initial prompt 1). Nobody gets a task on a message they
//! sent, nor the same task twice. Open leases count against what a message still needs, so days-
//! long leases do not hand the same need to everyone; the result of an expired lease is still
//! used when it arrives while the tree needs it (see `ingest`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oa_types::{LeaseRequest, Role, Task, TaskKind, TaskList, TaskMessage, Uuid};
use rand::seq::SliceRandom as _;
use sqlx::{AssertSqlSafe, PgConnection};

use crate::auth::Caller;
use crate::body::{IdPath, JsonBody};
use crate::error::ErrorBody;
use crate::openapi::{BodyRefused, IdRefused, ServerTrouble, TokenRefused};
use crate::trust;
use crate::{AppState, Error, Result};

/// Most tasks one lease hands out.
pub const MAX_LEASE: u32 = 100;

/// Open-Assistant's weights for choosing the next task's kind.
fn weight(kind: TaskKind) -> u32 {
    match kind {
        TaskKind::RankReplies => 10,
        TaskKind::LabelMessage => 5,
        TaskKind::AssistantReply | TaskKind::PrompterReply => 2,
        TaskKind::InitialPrompt => 1,
    }
}

/// A need found in the trees: its kind and the message it is about.
#[derive(Debug, Clone, Copy)]
struct Need {
    kind: TaskKind,
    tree_id: Option<Uuid>,
    message_id: Option<Uuid>,
}

/// Open leases of `kind` on a message, as SQL over `m.id` (expired leases no longer hold a need).
const OPEN_LEASES: &str = "(SELECT count(*) FROM tasks k WHERE k.message_id = m.id \
     AND k.kind IN ($KIND) AND k.completed_at IS NULL AND k.skipped_at IS NULL \
     AND k.expires_at > now())";

/// `POST /v1/tasks/lease`: leases up to `count` tasks to do, possibly offline.
#[utoipa::path(
    post,
    path = "/v1/tasks/lease",
    tag = "tasks",
    request_body = LeaseRequest,
    security(("bearer" = [])),
    responses(
        (
            status = 200,
            description = "The tasks leased, possibly fewer than asked for (none when nothing is \
                needed)",
            body = TaskList,
        ),
        (
            status = 400,
            description = "`invalid_input` (a count outside 1 to 100), or not a `LeaseRequest` \
                (`malformed_json`, `invalid_utf8`, `invalid_body`)",
            body = ErrorBody,
        ),
        (
            status = 409,
            description = "`too_many_open_tasks`: finish or skip some first",
            body = ErrorBody,
        ),
        TokenRefused,
        BodyRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn lease(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<LeaseRequest>,
) -> Result<Json<TaskList>> {
    if !(1..=MAX_LEASE).contains(&request.count) {
        return Err(Error::bad_request(
            "invalid_input",
            format!("count must be between 1 and {MAX_LEASE}"),
        ));
    }
    // Concurrent leases and ingests touch the same messages; one that loses a deadlock or a
    // serialization race sees the winner's result when run again.
    let mut attempt = 1;
    loop {
        match lease_once(&state, &caller, &request).await {
            Err(e) if attempt < LEASE_ATTEMPTS && e.is_transaction_conflict() => {
                tracing::debug!(attempt, error = %e, "lease conflicted with another; retrying");
                attempt += 1;
            }
            outcome => return outcome.map(Json),
        }
    }
}

/// How often a lease that lost a race with another transaction is run again.
const LEASE_ATTEMPTS: u32 = 5;

async fn lease_once(state: &AppState, caller: &Caller, request: &LeaseRequest) -> Result<TaskList> {
    let wants = |kind: TaskKind| request.kinds.is_empty() || request.kinds.contains(&kind);
    let policy = &state.config().tree;
    let me = caller.account_id;
    let mut tx = state.pool().begin().await?;
    // One lease at a time, server-wide: each sees the leases before it, so fifty people asking
    // at once are not all handed the one ranking or reply a message still needs. A lease is a
    // few milliseconds of reads; ingest, the busy path, does not take this lock.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('task_lease', 1))")
        .execute(&mut *tx)
        .await?;
    // A muted account (a troll score past the policy's) gets no work whose result would not
    // count anyway.
    let troll_score: f32 = sqlx::query_scalar("SELECT troll_score FROM accounts WHERE id = $1")
        .bind(me)
        .fetch_one(&mut *tx)
        .await?;
    if troll_score >= policy.troll_score_to_mute {
        return Ok(TaskList { tasks: Vec::new() });
    }
    // Open leases hold needs away from others: one account may hold only so many.
    let open: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM tasks WHERE account_id = $1 AND completed_at IS NULL \
         AND skipped_at IS NULL AND expires_at > now()",
    )
    .bind(me)
    .fetch_one(&mut *tx)
    .await?;
    let room = i64::from(state.config().limits.max_open_leases) - open;
    if room <= 0 {
        return Err(Error::Conflict {
            code: "too_many_open_tasks",
            message: format!(
                "you hold {open} open tasks; finish or skip some before asking for more"
            ),
        });
    }
    let n = i64::from(request.count).min(room);

    let mut pools: Vec<Vec<Need>> = Vec::new();
    // A need is open while its votes and open leases, each lease counted at the crowd's trust,
    // do not make its quorum (see `trust`).
    let unmet = |votes: &str, weight: &str, needed: &str, crowd: &str| {
        format!(
            "NOT {}",
            trust::met_sql(
                &format!("({votes} + open.n)"),
                &format!("({weight} + open.n * {crowd})"),
                needed,
                crowd,
            )
        )
    };
    if wants(TaskKind::RankReplies) {
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT m.id, m.tree_id FROM messages m JOIN message_trees t ON t.id = m.tree_id \
             CROSS JOIN LATERAL (SELECT count(*) AS n, coalesce(sum(r.weight), 0)::float8 AS w \
                 FROM rankings r JOIN accounts a ON a.id = r.account_id \
                 WHERE r.parent_id = m.id AND NOT r.retracted AND r.leased \
                   AND a.troll_score < $4) ranked \
             CROSS JOIN LATERAL (SELECT {} AS n) open \
             WHERE t.state = 'ranking' AND NOT m.deleted \
               AND (SELECT count(*) FROM messages c WHERE c.parent_id = m.id \
                    AND c.review_state = 'accepted' AND NOT c.deleted) >= 2 \
               AND NOT EXISTS (SELECT 1 FROM messages c WHERE c.parent_id = m.id \
                    AND c.account_id = $1) \
               AND NOT EXISTS (SELECT 1 FROM rankings r WHERE r.parent_id = m.id \
                    AND r.account_id = $1 AND NOT r.retracted) \
               AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.message_id = m.id \
                    AND k.account_id = $1 AND k.kind = 'rank_replies') \
               AND {} \
             ORDER BY random() LIMIT $3",
            OPEN_LEASES.replace("$KIND", "'rank_replies'"),
            unmet(
                "ranked.n",
                "ranked.w",
                "$2",
                "coalesce(t.crowd_trust, $5)::float8"
            ),
        )))
        .bind(me)
        .bind(i64::from(policy.rankings_per_parent))
        .bind(n)
        .bind(policy.troll_score_to_mute)
        .bind(trust::NEWCOMER_TRUST)
        .fetch_all(&mut *tx)
        .await?;
        pools.push(needs(TaskKind::RankReplies, rows));
    }
    if wants(TaskKind::LabelMessage) {
        // A message takes the crowd's trust as at its first review; until then, today's.
        let crowd = trust::crowd_trust(&mut tx, policy).await?;
        let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT m.id, m.tree_id FROM messages m JOIN message_trees t ON t.id = m.tree_id \
             CROSS JOIN LATERAL (SELECT {} AS n) open \
             WHERE m.review_state = 'pending' AND NOT m.deleted AND m.account_id <> $1 \
               AND t.state IN ('initial_prompt_review', 'growing') \
               AND NOT EXISTS (SELECT 1 FROM labels l WHERE l.message_id = m.id \
                    AND l.account_id = $1) \
               AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.message_id = m.id \
                    AND k.account_id = $1 AND k.kind = 'label_message') \
               AND {} \
             ORDER BY random() LIMIT $4",
            OPEN_LEASES.replace("$KIND", "'label_message'"),
            unmet(
                "m.review_count",
                "m.review_weight",
                "(CASE WHEN m.parent_id IS NULL THEN $2 ELSE $3 END)",
                "coalesce(m.crowd_trust, $5)::float8"
            ),
        )))
        .bind(me)
        .bind(i64::from(policy.reviews_initial_prompt))
        .bind(i64::from(policy.reviews_reply))
        .bind(n)
        .bind(crowd)
        .fetch_all(&mut *tx)
        .await?;
        pools.push(needs(TaskKind::LabelMessage, rows));
    }
    if wants(TaskKind::AssistantReply) || wants(TaskKind::PrompterReply) {
        let rows: Vec<(Uuid, Uuid, String)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT m.id, m.tree_id, m.role FROM messages m \
             JOIN message_trees t ON t.id = m.tree_id \
             WHERE t.state = 'growing' AND m.review_state = 'accepted' AND NOT m.deleted \
               AND m.account_id <> $1 AND m.depth < $2 AND m.skips < $3 \
               AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.message_id = m.id \
                    AND k.account_id = $1 AND k.kind IN ('assistant_reply', 'prompter_reply')) \
               AND (SELECT count(*) FROM messages c WHERE c.parent_id = m.id AND NOT c.deleted \
                    AND c.review_state <> 'rejected') + {} < $4 \
               AND (SELECT count(*) FROM messages c WHERE c.tree_id = m.tree_id \
                    AND NOT c.deleted AND c.review_state <> 'rejected') \
                 + (SELECT count(*) FROM tasks k WHERE k.tree_id = m.tree_id \
                    AND k.kind IN ('assistant_reply', 'prompter_reply') \
                    AND k.completed_at IS NULL AND k.skipped_at IS NULL \
                    AND k.expires_at > now()) < $6 \
               AND m.role = ANY($7) \
             ORDER BY random() LIMIT $5",
            OPEN_LEASES.replace("$KIND", "'assistant_reply', 'prompter_reply'")
        )))
        .bind(me)
        .bind(policy.max_depth as i32)
        .bind(policy.skips_to_stop as i32)
        .bind(i64::from(policy.max_children))
        .bind(n)
        .bind(i64::from(policy.goal_tree_size))
        // Only parents of the wanted kinds: an assistant replies to the prompter and the other
        // way round. Otherwise the LIMIT could be spent on parents of a kind not asked for.
        .bind(
            [
                (TaskKind::AssistantReply, "prompter"),
                (TaskKind::PrompterReply, "assistant"),
            ]
            .into_iter()
            .filter(|(kind, _)| wants(*kind))
            .map(|(_, role)| role)
            .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
        let (assistant, prompter): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|(_, _, role)| role == "prompter");
        if wants(TaskKind::AssistantReply) {
            pools.push(needs(
                TaskKind::AssistantReply,
                assistant.into_iter().map(|(m, t, _)| (m, t)).collect(),
            ));
        }
        if wants(TaskKind::PrompterReply) {
            pools.push(needs(
                TaskKind::PrompterReply,
                prompter.into_iter().map(|(m, t, _)| (m, t)).collect(),
            ));
        }
    }
    if wants(TaskKind::InitialPrompt) {
        // Prompts leased but not written yet count as trees already, or fifty people asking at
        // once would each start one.
        let active: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM message_trees \
                     WHERE state IN ('initial_prompt_review', 'growing')) \
                  + (SELECT count(*) FROM tasks WHERE kind = 'initial_prompt' \
                     AND completed_at IS NULL AND skipped_at IS NULL AND expires_at > now())",
        )
        .fetch_one(&mut *tx)
        .await?;
        if active < i64::from(policy.max_active_trees) {
            let room = (i64::from(policy.max_active_trees) - active).min(n) as usize;
            pools.push(vec![
                Need {
                    kind: TaskKind::InitialPrompt,
                    tree_id: None,
                    message_id: None,
                };
                room
            ]);
        }
    }

    let chosen = choose(pools, n as usize, &mut rand::rng());
    let lease_s = state.config().lease_duration.as_secs_f64();
    let mut tasks = Vec::with_capacity(chosen.len());
    for need in chosen {
        let id = Uuid::now_v7();
        let mut replies = Vec::new();
        if need.kind == TaskKind::RankReplies {
            let mut ids: Vec<Uuid> = sqlx::query_scalar(
                "SELECT id FROM messages WHERE parent_id = $1 AND review_state = 'accepted' \
                 AND NOT deleted ORDER BY created_at, id",
            )
            .bind(need.message_id)
            .fetch_all(&mut *tx)
            .await?;
            // Shown in a random order, so the position on screen says nothing about quality.
            ids.shuffle(&mut rand::rng());
            replies = ids;
        }
        sqlx::query(
            "INSERT INTO tasks (id, account_id, kind, tree_id, message_id, replies, review, \
                                expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
        )
        .bind(id)
        .bind(me)
        .bind(need.kind.as_str())
        .bind(need.tree_id)
        .bind(need.message_id)
        .bind(&replies)
        .bind(need.kind == TaskKind::LabelMessage)
        .bind(lease_s)
        .execute(&mut *tx)
        .await?;
        tasks.push(load_task(&mut tx, id).await?);
    }
    tx.commit().await?;
    Ok(TaskList { tasks })
}

fn needs(kind: TaskKind, rows: Vec<(Uuid, Uuid)>) -> Vec<Need> {
    rows.into_iter()
        .map(|(message_id, tree_id)| Need {
            kind,
            tree_id: Some(tree_id),
            message_id: Some(message_id),
        })
        .collect()
}

/// Draws up to `count` needs: each draw picks a non-empty pool with probability proportional to
/// its kind's weight, then that pool's next need.
fn choose(mut pools: Vec<Vec<Need>>, count: usize, rng: &mut impl rand::Rng) -> Vec<Need> {
    let mut chosen = Vec::with_capacity(count);
    while chosen.len() < count {
        let total: u32 = pools
            .iter()
            .filter_map(|p| p.first().map(|n| weight(n.kind)))
            .sum();
        if total == 0 {
            break;
        }
        let mut pick = rng.random_range(0..total);
        for pool in pools.iter_mut().filter(|p| !p.is_empty()) {
            let w = weight(pool[0].kind);
            if pick < w {
                chosen.push(pool.remove(0));
                break;
            }
            pick -= w;
        }
    }
    chosen
}

/// A leased task with its context, as the client receives it.
async fn load_task(tx: &mut PgConnection, id: Uuid) -> Result<Task> {
    let (kind, tree_id, message_id, replies, review, expires_at_ms): (
        String,
        Option<Uuid>,
        Option<Uuid>,
        Vec<Uuid>,
        bool,
        i64,
    ) = sqlx::query_as(
        "SELECT kind, tree_id, message_id, replies, review, \
                (extract(epoch FROM expires_at) * 1000)::bigint FROM tasks WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let kind = TaskKind::parse(&kind)
        .ok_or_else(|| Error::Internal(format!("unknown task kind {kind:?}")))?;
    let conversation = match message_id {
        Some(message_id) => thread(tx, message_id).await?,
        None => Vec::new(),
    };
    let mut shown = Vec::with_capacity(replies.len());
    if !replies.is_empty() {
        let rows = task_messages(
            sqlx::query_as(
                "SELECT id, parent_id, role, text, synthetic FROM messages WHERE id = ANY($1)",
            )
            .bind(&replies)
            .fetch_all(&mut *tx)
            .await?,
        );
        for reply in &replies {
            if let Some(message) = rows.iter().find(|m| m.id == *reply) {
                shown.push(message.clone());
            }
        }
    }
    Ok(Task {
        id,
        kind,
        tree_id,
        message_id,
        conversation,
        replies: shown,
        review,
        expires_at_ms,
    })
}

type MessageRow = (Uuid, Option<Uuid>, String, String, bool);

fn task_messages(rows: Vec<MessageRow>) -> Vec<TaskMessage> {
    rows.into_iter()
        .map(|(id, parent_id, role, text, synthetic)| TaskMessage {
            id,
            parent_id,
            role: Role::parse(&role).unwrap_or(Role::Prompter),
            text,
            synthetic,
        })
        .collect()
}

/// The messages from the root down to `message_id`.
async fn thread(tx: &mut PgConnection, message_id: Uuid) -> Result<Vec<TaskMessage>> {
    let rows: Vec<MessageRow> = sqlx::query_as(
        "WITH RECURSIVE up AS ( \
             SELECT id, parent_id, role, text, synthetic, depth FROM messages WHERE id = $1 \
             UNION ALL \
             SELECT m.id, m.parent_id, m.role, m.text, m.synthetic, m.depth \
             FROM messages m JOIN up ON m.id = up.parent_id) \
         SELECT id, parent_id, role, text, synthetic FROM up ORDER BY depth",
    )
    .bind(message_id)
    .fetch_all(&mut *tx)
    .await?;
    Ok(task_messages(rows))
}

/// `GET /v1/tasks`: the caller's open leases (not completed or skipped, expired ones included,
/// since their results are still welcome).
#[utoipa::path(
    get,
    path = "/v1/tasks",
    tag = "tasks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's open leases, oldest first", body = TaskList),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<TaskList>> {
    let mut conn = state.pool().acquire().await?;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM tasks WHERE account_id = $1 AND completed_at IS NULL \
         AND skipped_at IS NULL ORDER BY leased_at, id LIMIT 1000",
    )
    .bind(caller.account_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut tasks = Vec::with_capacity(ids.len());
    for id in ids {
        tasks.push(load_task(&mut conn, id).await?);
    }
    Ok(Json(TaskList { tasks }))
}

/// `POST /v1/tasks/{id}/skip`: gives a task back. Skipping a reply task counts against the
/// message, as Open-Assistant's skips do.
#[utoipa::path(
    post,
    path = "/v1/tasks/{id}/skip",
    tag = "tasks",
    params(("id" = Uuid, Path, description = "The task")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Given back"),
        IdRefused,
        (status = 403, description = "`forbidden`: another account's task", body = ErrorBody),
        (status = 404, description = "`not_found`: no such task", body = ErrorBody),
        (
            status = 409,
            description = "`task_closed`: already completed or skipped",
            body = ErrorBody,
        ),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn skip(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(task): IdPath,
) -> Result<StatusCode> {
    let mut tx = state.pool().begin().await?;
    let row: Option<(Uuid, String, Option<Uuid>, bool)> = sqlx::query_as(
        "SELECT account_id, kind, message_id, completed_at IS NOT NULL OR skipped_at IS NOT NULL \
         FROM tasks WHERE id = $1 FOR UPDATE",
    )
    .bind(task)
    .fetch_optional(&mut *tx)
    .await?;
    let (owner, kind, message_id, closed) = row.ok_or(Error::NotFound)?;
    if owner != caller.account_id {
        return Err(Error::Forbidden);
    }
    if closed {
        return Err(Error::Conflict {
            code: "task_closed",
            message: "this task was already completed or skipped".into(),
        });
    }
    sqlx::query("UPDATE tasks SET skipped_at = now() WHERE id = $1")
        .bind(task)
        .execute(&mut *tx)
        .await?;
    if kind == TaskKind::AssistantReply.as_str() || kind == TaskKind::PrompterReply.as_str() {
        sqlx::query("UPDATE messages SET skips = skips + 1 WHERE id = $1")
            .bind(message_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn choice_follows_open_assistants_weights() {
        let pool = |kind, n| {
            vec![
                Need {
                    kind,
                    tree_id: None,
                    message_id: None,
                };
                n
            ]
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut ranked = 0;
        let mut labelled = 0;
        let mut replied = 0;
        for _ in 0..2000 {
            let pools = vec![
                pool(TaskKind::RankReplies, 5),
                pool(TaskKind::LabelMessage, 5),
                pool(TaskKind::AssistantReply, 5),
            ];
            match choose(pools, 1, &mut rng)[0].kind {
                TaskKind::RankReplies => ranked += 1,
                TaskKind::LabelMessage => labelled += 1,
                _ => replied += 1,
            }
        }
        // Expected 10:5:2 of 2000 draws: about 1176, 588 and 235.
        assert!((1050..1300).contains(&ranked), "{ranked}");
        assert!((480..700).contains(&labelled), "{labelled}");
        assert!((160..320).contains(&replied), "{replied}");
    }

    #[test]
    fn choice_stops_when_the_needs_run_out() {
        let pools = vec![vec![Need {
            kind: TaskKind::LabelMessage,
            tree_id: None,
            message_id: None,
        }]];
        assert_eq!(choose(pools, 5, &mut rand::rng()).len(), 1);
    }
}
