//! Trust: what an account's reviews, red flags and rankings weigh, and the quorums they fill.
//!
//! Trust is earned, not granted. A newcomer starts at [`NEWCOMER_TRUST`], and every judgement the
//! account makes on something it did not write is compared, once decided, with what the others
//! said without it (leave one out): a review with the others' verdict on the message, a ranking
//! (Kendall τ) with the others' consensus on the replies. [`trust`] is the smoothed mean of that
//! agreement, so a few lucky or unlucky judgements do not swing it, and it rises only with a
//! history of agreeing.
//!
//! A need for N votes (reviews of a message, red flags to hide it, K rankings of a parent's
//! replies) is a [`Quorum`]: N distinct accounts whose trust adds up to N times the
//! [`crowd_trust`], the median trust of the server's experienced contributors. A brand-new server,
//! where nobody has a history, has a crowd trust of a newcomer's, so N newcomers decide as before;
//! once contributors have earned trust, a handful of fresh accounts weighs a fraction of one of
//! them and cannot decide anything on its own. So that a need is never open for ever, it is also
//! met by [`QUORUM_CAP`] times N votes whatever their weight.

use std::collections::HashMap;

use oa_types::Uuid;
use sqlx::PgConnection;

use crate::Result;
use crate::config::TreePolicy;

/// How many imagined judgements of [`NEWCOMER_TRUST`] an account's trust starts from.
pub const PRIOR_JUDGEMENTS: f64 = 5.0;
/// A newcomer's trust: the agreement assumed for an account without a history.
pub const NEWCOMER_TRUST: f64 = 0.1;
/// The least weight a vote keeps: even a distrusted account is heard, faintly.
pub const MIN_TRUST: f64 = 0.01;
/// Judgements compared with others after which an account's trust speaks for the crowd.
pub const EXPERIENCED: i32 = 5;
/// A need for N votes is met by this many times N votes whatever their trust.
pub const QUORUM_CAP: u32 = 3;

/// The weight of an account's next vote, from the sum and count of its agreement so far (each
/// between −1 and 1).
pub fn trust(agreement_sum: f64, agreement_count: u32) -> f64 {
    let smoothed = (agreement_sum + PRIOR_JUDGEMENTS * NEWCOMER_TRUST)
        / (f64::from(agreement_count) + PRIOR_JUDGEMENTS);
    smoothed.clamp(MIN_TRUST, 1.0)
}

/// The trust an account is created with.
pub fn newcomer() -> f32 {
    trust(0.0, 0) as f32
}

/// The median trust of the experienced accounts that are not muted, never below a newcomer's:
/// what one established member of the crowd weighs.
pub(crate) async fn crowd_trust(tx: &mut PgConnection, policy: &TreePolicy) -> Result<f64> {
    let median: Option<f32> = sqlx::query_scalar(
        "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY trust) FROM accounts \
         WHERE agreement_count >= $1 AND troll_score < $2 AND deleted_at IS NULL",
    )
    .bind(EXPERIENCED)
    .bind(policy.troll_score_to_mute)
    .fetch_one(&mut *tx)
    .await?;
    Ok(median.map_or(NEWCOMER_TRUST, f64::from).max(NEWCOMER_TRUST))
}

/// [`crowd_trust`], read at most once per transaction, and only when something needs it.
#[derive(Debug, Default)]
pub(crate) struct Crowd(Option<f64>);

impl Crowd {
    /// The crowd's trust, read now if it was not yet.
    pub async fn trust(&mut self, tx: &mut PgConnection, policy: &TreePolicy) -> Result<f64> {
        if let Some(trust) = self.0 {
            return Ok(trust);
        }
        let trust = crowd_trust(tx, policy).await?;
        self.0 = Some(trust);
        Ok(trust)
    }
}

/// A need for `votes` votes, weighed against the crowd's trust.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Quorum {
    /// Distinct votes needed.
    pub votes: u32,
    /// What one established member of the crowd weighs ([`crowd_trust`]).
    pub crowd: f64,
}

impl Quorum {
    /// The trust the votes must add up to (a hair less, so that N newcomers' rounded weights
    /// make N newcomers' weight).
    pub fn weight(self) -> f64 {
        f64::from(self.votes) * self.crowd * SLACK
    }

    /// The votes that meet the need whatever their weight.
    pub fn cap(self) -> i64 {
        i64::from(self.votes) * i64::from(QUORUM_CAP)
    }

    /// Whether `votes` votes of total trust `weight` meet the need.
    pub fn met(self, votes: i64, weight: f64) -> bool {
        votes >= i64::from(self.votes) && (weight >= self.weight() || votes >= self.cap())
    }
}

/// Trust is stored as `real`: a sum of N rounded weights may fall a hair short of N times one.
const SLACK: f64 = 1.0 - 1e-6;

/// [`Quorum::met`] as SQL, over SQL expressions for the votes, their total trust, the votes
/// needed and the crowd's trust.
pub(crate) fn met_sql(votes: &str, weight: &str, needed: &str, crowd: &str) -> String {
    format!(
        "({votes} >= {needed} AND ({weight} >= {needed} * {crowd} * {SLACK} \
          OR {votes} >= {needed} * {QUORUM_CAP}))"
    )
}

/// Agreement to add to accounts: the sum and count of comparisons, and the troll points earned.
#[derive(Debug, Default)]
pub(crate) struct Agreements(HashMap<Uuid, (f64, i32, f32)>);

impl Agreements {
    /// One judgement of `account` compared with the others: `agreement` between −1 and 1.
    pub fn add(&mut self, account: Uuid, agreement: f64, troll: f32) {
        let entry = self.0.entry(account).or_insert((0.0, 0, 0.0));
        entry.0 += agreement;
        entry.1 += 1;
        entry.2 += troll;
    }

    /// Adds the agreement to the accounts and sets their trust from their whole history.
    /// Returns the accounts whose past votes deserve another look: those found out (their trust
    /// fell, to below a newcomer's) and those whose history just reached [`EXPERIENCED`]
    /// judgements or doubled since (their trust now speaks from a longer history).
    pub async fn record(self, tx: &mut PgConnection) -> Result<Vec<Uuid>> {
        if self.0.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<_> = self.0.into_iter().collect();
        rows.sort_by_key(|(account, _)| *account);
        let accounts: Vec<Uuid> = rows.iter().map(|(a, _)| *a).collect();
        let sums: Vec<f64> = rows.iter().map(|(_, v)| v.0).collect();
        let counts: Vec<i32> = rows.iter().map(|(_, v)| v.1).collect();
        let trolls: Vec<f32> = rows.iter().map(|(_, v)| v.2).collect();
        // Rows are locked in id order first: two transactions judging different things with the
        // same accounts would otherwise lock them in opposite orders and deadlock.
        let before: Vec<(Uuid, f32, i32)> = sqlx::query_as(
            "SELECT id, trust, agreement_count FROM accounts WHERE id = ANY($1) \
             ORDER BY id FOR UPDATE",
        )
        .bind(&accounts)
        .fetch_all(&mut *tx)
        .await?;
        let after: Vec<(Uuid, f32, i32)> = sqlx::query_as(
            "UPDATE accounts a SET agreement_sum = a.agreement_sum + x.s, \
                 agreement_count = a.agreement_count + x.c, \
                 troll_score = a.troll_score + x.t, \
                 trust = GREATEST($5, LEAST(1.0, \
                     (a.agreement_sum + x.s + $6 * $7) / (a.agreement_count + x.c + $6))) \
             FROM UNNEST($1::uuid[], $2::float8[], $3::int4[], $4::real[]) AS x(id, s, c, t) \
             WHERE a.id = x.id RETURNING a.id, a.trust, a.agreement_count",
        )
        .bind(&accounts)
        .bind(&sums)
        .bind(&counts)
        .bind(&trolls)
        .bind(MIN_TRUST)
        .bind(PRIOR_JUDGEMENTS)
        .bind(NEWCOMER_TRUST)
        .fetch_all(&mut *tx)
        .await?;
        let before: HashMap<Uuid, (f32, i32)> =
            before.into_iter().map(|(id, t, n)| (id, (t, n))).collect();
        let mut changed: Vec<Uuid> = after
            .into_iter()
            .filter(|(account, trust, count)| {
                let Some((was, count_was)) = before.get(account) else {
                    return false;
                };
                let found_out = *trust < newcomer() && trust < was;
                // Each doubling of the history from the first mark on.
                let now_experienced = (0..8)
                    .map(|doubling| EXPERIENCED << doubling)
                    .any(|mark| *count_was < mark && *count >= mark);
                found_out || now_experienced
            })
            .map(|(account, _, _)| account)
            .collect();
        changed.sort();
        Ok(changed)
    }
}

/// Leave-one-out verdicts of the reviews of one message: for each review (its acceptance,
/// 1 − spam, and its reviewer's trust), +1 when it falls on the same side of `threshold` as
/// the trust-weighted acceptance of the others, −1 when not; `None` for a lone review.
pub(crate) fn review_agreement(reviews: &[(f64, f64)], threshold: f64) -> Vec<Option<f64>> {
    let total: f64 = reviews.iter().map(|(a, w)| a * w).sum();
    let weight: f64 = reviews.iter().map(|(_, w)| w).sum();
    reviews
        .iter()
        .map(|(acceptance, w)| {
            let others = weight - w;
            if reviews.len() < 2 || others <= 0.0 {
                return None;
            }
            let others_accept = (total - acceptance * w) / others >= threshold;
            Some(if (*acceptance >= threshold) == others_accept {
                1.0
            } else {
                -1.0
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_starts_low_and_is_earned_by_agreeing() {
        assert_eq!(trust(0.0, 0), NEWCOMER_TRUST);
        assert!(trust(3.0, 4) < 0.5, "a few agreements are not a history");
        assert!(trust(18.0, 20) > 0.7);
        assert_eq!(trust(-10.0, 10), MIN_TRUST);
        assert!(
            trust(0.0, 20) < NEWCOMER_TRUST,
            "random judgements earn nothing"
        );
    }

    #[test]
    fn a_quorum_needs_the_votes_and_the_crowds_weight() {
        let fresh_server = Quorum {
            votes: 3,
            crowd: NEWCOMER_TRUST,
        };
        let newcomer = f64::from(newcomer());
        assert!(fresh_server.met(3, 3.0 * newcomer), "newcomers bootstrap");
        assert!(!fresh_server.met(2, 1.0));
        let established = Quorum {
            votes: 3,
            crowd: 0.7,
        };
        assert!(
            !established.met(3, 3.0 * newcomer),
            "three fresh accounts decide nothing"
        );
        assert!(established.met(3, 2.1));
        assert!(established.met(4, 0.3 + 2.0 * 0.9));
        assert!(established.met(9, 9.0 * newcomer), "the cap ends the wait");
    }

    #[test]
    fn a_review_agrees_with_the_others_verdict_without_it() {
        let verdicts = review_agreement(&[(1.0, 0.8), (1.0, 0.7), (0.0, 0.1)], 0.6);
        assert_eq!(verdicts, vec![Some(1.0), Some(1.0), Some(-1.0)]);
        assert_eq!(review_agreement(&[(1.0, 0.5)], 0.6), vec![None]);
    }
}
