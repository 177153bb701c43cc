//! The leaderboard and a contributor's own standing.
//!
//! Scores are the sum of a window's `score_events` (Open-Assistant's weights, see `score`) times
//! the contributor's current trust, so points earned by voting against everyone else count for
//! little. Computed on request from an index on `(at, account_id)`; a large deployment would
//! refresh a materialised view instead (see the README).

use axum::Json;
use axum::extract::{RawQuery, State};
use oa_types::{
    AgreementPoint, ContributorStats, Leaderboard, LeaderboardEntry, LeaderboardWindow, Uuid,
};
use sqlx::{AssertSqlSafe, PgConnection};

use crate::auth::{Caller, parse_role};
use crate::error::ErrorBody;
use crate::openapi::{ServerTrouble, TokenRefused};
use crate::{AppState, Error, Result, score};

/// Most entries a leaderboard lists.
pub const MAX_ENTRIES: i64 = 100;

fn window_days(window: LeaderboardWindow) -> Option<f64> {
    match window {
        LeaderboardWindow::Day => Some(1.0),
        LeaderboardWindow::Week => Some(7.0),
        LeaderboardWindow::Month => Some(30.0),
        LeaderboardWindow::All => None,
    }
}

type EntryRow = (Uuid, String, f64, i64, i64, i64, i64);

const ENTRY_SQL: &str = "\
    SELECT a.id, a.display_name, (sum(s.points) * a.trust)::float8 AS score, \
           count(*) FILTER (WHERE s.kind IN ($3, $4)), \
           count(*) FILTER (WHERE s.kind = $5), \
           count(*) FILTER (WHERE s.kind IN ($6, $7)), \
           count(*) FILTER (WHERE s.kind = $8) \
    FROM score_events s JOIN accounts a ON a.id = s.account_id \
    WHERE ($1::float8 IS NULL OR s.at >= now() - make_interval(days => $1::int)) \
      AND ($2::uuid IS NULL OR a.id = $2) \
      AND a.deleted_at IS NULL \
    GROUP BY a.id, a.display_name, a.trust";

fn entry(rank: u32, row: EntryRow) -> LeaderboardEntry {
    let (account_id, display_name, score, prompts, replies, labels, rankings) = row;
    LeaderboardEntry {
        rank,
        account_id,
        display_name,
        score,
        prompts: prompts as u32,
        replies: replies as u32,
        labels: labels as u32,
        rankings: rankings as u32,
    }
}

/// Binds the window, the account filter and the score kinds: `$1` to `$8` of [`ENTRY_SQL`].
fn bind_entry_params<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    window: LeaderboardWindow,
    account: Option<Uuid>,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(window_days(window))
        .bind(account)
        .bind(score::INITIAL_PROMPT)
        .bind(score::PROMPTER_REPLY)
        .bind(score::ASSISTANT_REPLY)
        .bind(score::LABELS)
        .bind(score::FULL_LABELS)
        .bind(score::RANKING)
}

async fn rows(
    conn: &mut PgConnection,
    window: LeaderboardWindow,
    account: Option<Uuid>,
    limit: i64,
) -> Result<Vec<EntryRow>> {
    let query = sqlx::query_as(AssertSqlSafe(format!(
        "{ENTRY_SQL} ORDER BY score DESC, a.display_name LIMIT $9"
    )));
    Ok(bind_entry_params(query, window, account)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?)
}

fn parse_window(query: Option<&str>) -> Result<LeaderboardWindow> {
    let mut window = LeaderboardWindow::All;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "window" {
            window = LeaderboardWindow::ALL
                .into_iter()
                .find(|w| w.as_str() == value)
                .ok_or_else(|| {
                    Error::bad_request("invalid_input", "window is one of day, week, month, all")
                })?;
        }
    }
    Ok(window)
}

/// `GET /v1/leaderboard?window=day|week|month|all`: the best contributors, best first.
#[utoipa::path(
    get,
    path = "/v1/leaderboard",
    tag = "scores",
    params((
        "window" = Option<LeaderboardWindow>,
        Query,
        description = "The time span; `all` when left out",
    )),
    security(("bearer" = [])),
    responses(
        (
            status = 200,
            description = "The best contributors of the window, best first",
            body = Leaderboard,
        ),
        (status = 400, description = "`invalid_input`: not a window", body = ErrorBody),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn leaderboard(
    State(state): State<AppState>,
    _caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Leaderboard>> {
    let window = parse_window(query.as_deref())?;
    let mut conn = state.pool().acquire().await?;
    let entries = rows(&mut conn, window, None, MAX_ENTRIES)
        .await?
        .into_iter()
        .enumerate()
        .map(|(i, row)| entry(i as u32 + 1, row))
        .collect();
    Ok(Json(Leaderboard { window, entries }))
}

/// `GET /v1/me/stats`: the caller's trust, agreement and their line in every window.
#[utoipa::path(
    get,
    path = "/v1/me/stats",
    tag = "scores",
    security(("bearer" = [])),
    responses(
        (
            status = 200,
            description = "The caller's trust, agreement and line in every window",
            body = ContributorStats,
        ),
        TokenRefused,
        ServerTrouble,
    )
)]
pub(crate) async fn my_stats(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<ContributorStats>> {
    let mut conn = state.pool().acquire().await?;
    let (display_name, role, trust, sum, count, troll): (String, String, f32, f64, i32, f32) =
        sqlx::query_as(
            "SELECT display_name, role, trust, agreement_sum, agreement_count, troll_score \
             FROM accounts WHERE id = $1",
        )
        .bind(caller.account_id)
        .fetch_one(&mut *conn)
        .await?;
    let mut windows = Vec::new();
    for window in LeaderboardWindow::ALL {
        let mine = rows(&mut conn, window, Some(caller.account_id), 1).await?;
        let line = match mine.into_iter().next() {
            Some(row) => {
                let score = row.2;
                let query = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT count(*) FROM ({ENTRY_SQL}) AS board WHERE board.score > $9"
                )));
                let (better,): (i64,) = bind_entry_params(query, window, None)
                    .bind(score)
                    .fetch_one(&mut *conn)
                    .await?;
                entry(better as u32 + 1, row)
            }
            None => LeaderboardEntry {
                rank: 0,
                account_id: caller.account_id,
                display_name: display_name.clone(),
                score: 0.0,
                prompts: 0,
                replies: 0,
                labels: 0,
                rankings: 0,
            },
        };
        windows.push((window, line));
    }
    let history: Vec<(i64, f64)> = sqlx::query_as(
        "SELECT (extract(epoch FROM created_at) * 1000)::bigint, tau FROM rankings \
         WHERE account_id = $1 AND tau IS NOT NULL ORDER BY created_at DESC, event_id LIMIT 50",
    )
    .bind(caller.account_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Json(ContributorStats {
        account_id: caller.account_id,
        display_name,
        role: parse_role(&role)?,
        trust: f64::from(trust),
        agreement: (count > 0).then(|| sum / f64::from(count)),
        rankings_scored: count as u32,
        troll_score: f64::from(troll),
        windows,
        agreement_history: history
            .into_iter()
            .map(|(at_ms, tau)| AgreementPoint { at_ms, tau })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_comes_from_the_query_string() {
        assert_eq!(parse_window(None).unwrap(), LeaderboardWindow::All);
        assert_eq!(
            parse_window(Some("window=week")).unwrap(),
            LeaderboardWindow::Week
        );
        assert_eq!(
            parse_window(Some("window=year")).unwrap_err().code(),
            "invalid_input"
        );
    }
}
