//! Points for the leaderboard, with Open-Assistant's weights.
//!
//! Every scored action writes a row to `score_events` naming the event it came from, so that a
//! retraction or a superseded label set takes its points away again. Leaderboards sum the rows of
//! a time window and scale the sum by the contributor's current trust.

use oa_types::Uuid;
use sqlx::PgConnection;

use crate::Result;

/// A first prompt of a new tree.
pub const INITIAL_PROMPT: &str = "initial_prompt";
/// A prompter's reply to an assistant message.
pub const PROMPTER_REPLY: &str = "prompter_reply";
/// An assistant reply written by hand.
pub const ASSISTANT_REPLY: &str = "assistant_reply";
/// One or two labels.
pub const LABELS: &str = "labels";
/// Three or more labels: a full labelling task.
pub const FULL_LABELS: &str = "full_labels";
/// A ranking.
pub const RANKING: &str = "ranking";
/// The reply ranked best by consensus.
pub const RANKED_FIRST: &str = "reply_ranked_1";
/// The reply ranked second.
pub const RANKED_SECOND: &str = "reply_ranked_2";
/// The reply ranked third.
pub const RANKED_THIRD: &str = "reply_ranked_3";

/// Points of each kind (Open-Assistant's leaderboard weights).
/// The kind of points a person's message earns: a first prompt, or a reply in either role.
pub fn message_kind(root: bool, role: oa_types::Role) -> &'static str {
    match (root, role) {
        (true, _) => INITIAL_PROMPT,
        (false, oa_types::Role::Prompter) => PROMPTER_REPLY,
        (false, oa_types::Role::Assistant) => ASSISTANT_REPLY,
    }
}

pub fn points(kind: &str) -> f32 {
    match kind {
        INITIAL_PROMPT | PROMPTER_REPLY => 1.0,
        ASSISTANT_REPLY => 4.0,
        LABELS => 1.0,
        FULL_LABELS => 2.0,
        RANKING => 1.0,
        RANKED_FIRST => 9.0,
        RANKED_SECOND => 3.0,
        RANKED_THIRD => 1.0,
        _ => 0.0,
    }
}

/// The bonus kind for a reply's consensus rank (0 is the best), if it earns one.
pub fn rank_bonus(rank: usize) -> Option<&'static str> {
    [RANKED_FIRST, RANKED_SECOND, RANKED_THIRD]
        .get(rank)
        .copied()
}

/// Records points: `(account, event, kind, points)` each.
pub(crate) async fn record(
    tx: &mut PgConnection,
    scores: &[(Uuid, Uuid, &'static str, f32)],
) -> Result<()> {
    if scores.is_empty() {
        return Ok(());
    }
    let accounts: Vec<Uuid> = scores.iter().map(|s| s.0).collect();
    let events: Vec<Uuid> = scores.iter().map(|s| s.1).collect();
    let kinds: Vec<&str> = scores.iter().map(|s| s.2).collect();
    let points: Vec<f32> = scores.iter().map(|s| s.3).collect();
    sqlx::query(
        "INSERT INTO score_events (account_id, event_id, kind, points) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::real[])",
    )
    .bind(&accounts)
    .bind(&events)
    .bind(&kinds)
    .bind(&points)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
