//! Review & Share and the sending of what the person shared: the outbox as the person reviews
//! it (exact payloads with their personal data, see `review.rs`), consent per item or per
//! conversation, and the agent that sends what was shared to the dataset server.
//!
//! The agent ([`Sharing::run_agent`]) runs on the async runtime and only awaits network and
//! `spawn_blocking` store calls, so it never holds up the UI or the engine. It sends whenever
//! something is shared (it is woken), and otherwise looks every [`IDLE`]; a failed round is
//! retried after an exponential backoff with jitter (1 s doubling up to 5 min), or after the
//! wait a rate-limit answer names. Delivery is at least once ([`Sharing::sync_now`] marks a
//! batch sent before the request); the server stores an event id once, which makes it exactly
//! once.

use std::sync::Arc;
use std::time::Duration;

use oa_stdx::time::now_ms;
use oa_store::Store;
use oa_sync::ServerClient;
use oa_types::{ConsentState, EventStatus, ReviewGroup, SubmittedEvent, SyncStatus, Uuid};

use crate::account::Account;
use crate::error::capitalize;
use crate::review::{self, Dismissed};
use crate::state::{State, SyncChanges};
use crate::{Error, Result};

/// How often the agent looks for work when nothing wakes it.
pub const IDLE: Duration = Duration::from_secs(30);
/// The first retry after a failure; each further failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The sharing area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Sharing<'a> {
    state: &'a Arc<State>,
}

impl<'a> Sharing<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Sharing<'a> {
        Sharing { state }
    }

    /// Everything recorded for sharing, grouped by conversation (the one with the newest event
    /// first), each event with exactly what would be sent and the personal data found in it.
    pub async fn review_queue(self) -> Result<Vec<ReviewGroup>> {
        self.state.with_store(review_queue_of).await
    }

    /// Replaces the personal data found in an event's free text with placeholders in what will
    /// be sent (the local conversation keeps the original); only before it is sent. Once a sync
    /// round has claimed it (even with its request still on the way) the redaction is refused
    /// with [`oa_store::StoreError::AlreadySent`], and the queue shows the bytes that left.
    pub async fn redact_event(self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.state
            .with_store(move |s| {
                let event = s.event(id)?;
                let dismissed = Dismissed::new(s.dismissed_findings()?);
                if let Some(redacted) = review::redacted_payload(&event, &dismissed) {
                    s.redact_event(id, &redacted)?;
                }
                review_queue_of(s)
            })
            .await
    }

    /// Marks a finding as not personal data: from now on, also after a restart, a finding of
    /// `kind` with this text is neither marked nor redacted, in any item.
    pub async fn dismiss_finding(self, kind: String, text: String) -> Result<Vec<ReviewGroup>> {
        self.state
            .with_store(move |s| {
                s.dismiss_finding(&kind, &review::dismissal_key(&kind, &text)?)?;
                review_queue_of(s)
            })
            .await
    }

    /// Takes a dismissal back: such findings are marked, and redacted on request, again.
    pub async fn restore_finding(self, kind: String, text: String) -> Result<Vec<ReviewGroup>> {
        self.state
            .with_store(move |s| {
                s.restore_finding(&kind, &review::dismissal_key(&kind, &text)?)?;
                review_queue_of(s)
            })
            .await
    }

    /// Queues one private event for sending; the sync agent sends it when signed in.
    pub async fn share_event(self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| Ok(s.share_event(id).map(drop)?))
            .await
    }

    /// Withdraws a contribution the server may hold: a retraction is queued (and sent by the
    /// agent) and the event leaves the outbox.
    pub async fn withdraw_event(self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| Ok(s.withdraw_event(id).map(drop)?))
            .await
    }

    /// Withdraws every contribution of a conversation the server may hold.
    pub async fn withdraw_conversation(self, conversation_id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| {
            Ok(s.withdraw_conversation(conversation_id).map(drop)?)
        })
        .await
    }

    /// Takes one queued event back: it stays private.
    pub async fn unshare_event(self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(false, move |s| Ok(s.unshare_event(id).map(drop)?))
            .await
    }

    /// Queues every private event of a conversation; the sync agent sends them when signed in.
    pub async fn share_conversation(self, conversation_id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| {
            Ok(s.share_conversation(conversation_id).map(drop)?)
        })
        .await
    }

    /// Takes every queued event of a conversation back.
    pub async fn unshare_conversation(self, conversation_id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(false, move |s| {
            Ok(s.unshare_conversation(conversation_id).map(drop)?)
        })
        .await
    }

    /// Changes the outbox with `change` and returns it prepared for review; with `send`, the
    /// sync agent is woken to send what the change queued.
    async fn change_outbox(
        self,
        send: bool,
        change: impl FnOnce(&mut Store) -> Result<()> + Send + 'static,
    ) -> Result<Vec<ReviewGroup>> {
        let groups = self
            .state
            .with_store(move |s| {
                change(s)?;
                review_queue_of(s)
            })
            .await?;
        self.state.sync.outbox_changed();
        if send {
            self.state.sync.wake();
        }
        Ok(groups)
    }

    /// Sends what the person chose to share to the dataset server, batch by batch, and records
    /// the server's answer to each event: accepted (also when the server already had it) or
    /// rejected with its reason. Events sent before whose answer never arrived go first;
    /// sending them again is harmless, the server stores an event id once. A failure stops the
    /// round with nothing lost: what was not answered stays queued or sent, for the next round.
    pub async fn sync_now(self, client: &ServerClient, token: &str) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let total =
            self.state
                .with_store(|s| {
                    Ok(s.count_events(&[
                        oa_types::ConsentState::Queued,
                        oa_types::ConsentState::Sent,
                    ])?)
                })
                .await?;
        self.state.sync.update(|s| {
            s.round_done = 0;
            s.round_total = total;
        });
        loop {
            // Read and marked sent in one transaction: these bytes, and no others, leave.
            let batch = self
                .state
                .with_store(|s| Ok(s.claim_events_to_send(SYNC_BATCH_EVENTS)?))
                .await?;
            if batch.is_empty() {
                return Ok(report);
            }
            let submitted: Vec<SubmittedEvent> = batch.iter().map(SubmittedEvent::from).collect();
            let results = client.ingest(token, &submitted).await?;
            let answers: Vec<(Uuid, Option<String>)> = results
                .iter()
                .map(|r| match r.status {
                    EventStatus::Accepted | EventStatus::Duplicate => (r.id, None),
                    EventStatus::Rejected => (r.id, Some(rejection_text(r))),
                })
                .collect();
            report.batches += 1;
            report.accepted += answers.iter().filter(|(_, r)| r.is_none()).count();
            report.rejected += answers.iter().filter(|(_, r)| r.is_some()).count();
            // An answer to a leased task's result may change what the queue shows.
            self.state
                .with_store_changing_tasks(move |s| Ok(s.record_server_answers(&answers)?))
                .await?;
            let done = (report.accepted + report.rejected) as u64;
            // What was shared while the round ran joins its whole.
            self.state.sync.update(|s| {
                s.round_done = done;
                s.round_total = s.round_total.max(done);
            });
        }
    }

    /// Tells of every change of what [`Sharing::status`] reports, from now on.
    pub fn changes(self) -> SyncChanges {
        self.state.sync.subscribe()
    }

    /// Where sending stands: the agent's last outcome and the outbox's counts.
    pub async fn status(self) -> Result<SyncStatus> {
        let (waiting, rejected) = self
            .state
            .with_store(|s| {
                Ok((
                    s.count_events(&[ConsentState::Queued, ConsentState::Sent])?,
                    s.count_events(&[ConsentState::Rejected])?,
                ))
            })
            .await?;
        let linked = Account::new(self.state).linked()?;
        Ok(SyncStatus {
            linked,
            waiting,
            rejected,
            ..self.state.sync.snapshot()
        })
    }

    /// Asks the agent to send now.
    pub fn sync_soon(self) {
        self.state.sync.wake();
    }

    /// The background agent: runs until the app ends. Spawn it once on the async runtime; it
    /// holds the app's state, not this view, so it can outlive it.
    pub fn run_agent(self) -> impl Future<Output = ()> + Send + 'static {
        let state = Arc::clone(self.state);
        async move { Sharing::new(&state).agent().await }
    }

    async fn agent(self) {
        let mut failures = 0u32;
        loop {
            let wait = match self.sync_round().await {
                Ok(()) => {
                    failures = 0;
                    IDLE
                }
                Err(e) => {
                    failures += 1;
                    // Signing in again (or any new share) wakes the agent.
                    let wait = retry_wait(&e, failures, MAX_BACKOFF).unwrap_or(IDLE);
                    let message = capitalize(&oa_types::AppError::from(e).message);
                    tracing::info!(error = %message, retry_in_ms = wait.as_millis() as u64, "sync failed");
                    self.state.sync.update(|s| {
                        s.sending = false;
                        s.last_error = Some(message);
                        s.retry_at_ms = Some(now_ms() + wait.as_millis() as i64);
                    });
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.state.sync.woken() => {}
            }
        }
    }

    /// One look: sends everything waiting when signed in, else only checks the server is up.
    async fn sync_round(self) -> Result<()> {
        match self.sync_once().await {
            Ok(_) | Err(Error::NotSignedIn) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends everything shared that waits, with the stored account, and records the outcome in
    /// [`Sharing::status`]. When nothing waits it only checks that the server answers.
    /// [`Error::NotSignedIn`] when no server is set or this device is signed out.
    pub async fn sync_once(self) -> Result<SyncReport> {
        let (client, session) = Account::new(self.state).signed_in()?;
        self.state.sync.update(|s| s.sending = true);
        let outcome = match self.sync_now(&client, &session.token).await {
            Ok(report) if report.batches == 0 => {
                client.health().await.map(|_| report).map_err(Error::from)
            }
            Ok(report) => Ok(report),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(report) => {
                self.state.sync.update(|s| {
                    s.sending = false;
                    s.online = Some(true);
                    s.last_sync_ms = Some(now_ms());
                    s.last_error = None;
                    s.retry_at_ms = None;
                    s.round_done = 0;
                    s.round_total = 0;
                });
                Ok(report)
            }
            Err(e) => {
                let reached = !matches!(e, Error::Sync(oa_sync::Error::Unreachable { .. }));
                self.state.sync.update(|s| {
                    s.sending = false;
                    s.online = Some(reached);
                    s.round_done = 0;
                    s.round_total = 0;
                });
                Err(e)
            }
        }
    }
}

/// The outbox prepared for review.
fn review_queue_of(store: &mut Store) -> Result<Vec<ReviewGroup>> {
    let titles = store
        .list_conversations()?
        .into_iter()
        .map(|c| (c.id, c.title))
        .collect();
    let dismissed = Dismissed::new(store.dismissed_findings()?);
    Ok(review::review_groups(
        store.all_events()?,
        &titles,
        &dismissed,
    ))
}

/// Events per request when syncing: well under the server's limit, so that one request stays
/// short on a slow link.
const SYNC_BATCH_EVENTS: usize = 500;

/// What one [`Sharing::sync_now`] round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Requests sent.
    pub batches: usize,
    /// Events the server holds now (newly or already).
    pub accepted: usize,
    /// Events the server refused, each kept with its reason.
    pub rejected: usize,
}

/// The reason a refused event is kept with: the server's explanation, else its reason code.
fn rejection_text(result: &oa_types::EventResult) -> String {
    result
        .message
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| result.reason.map(|r| format!("{r:?}")))
        .unwrap_or_else(|| "refused by the server".to_owned())
}

/// The wait after `failures` failed rounds in a row: 1 s doubling up to 5 min, each wait
/// shortened by up to half at random so that many devices do not retry in step.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled
        .min(MAX_BACKOFF)
        .mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// How long to wait before trying again after `failures` failed rounds in a row, the last
/// ending in `error`: the wait a rate-limit answer names, else `backoff` with jitter, at most
/// `longest`. `None` when trying again cannot help until the person acts (signed out, token
/// revoked, the local database failing).
pub fn retry_wait(error: &Error, failures: u32, longest: Duration) -> Option<Duration> {
    match error {
        Error::Sync(oa_sync::Error::RateLimited { retry_after, .. }) => Some(*retry_after),
        Error::NotSignedIn | Error::Sync(oa_sync::Error::Unauthorized { .. }) | Error::Store(_) => {
            None
        }
        _ => Some(backoff(failures, jitter()).min(longest)),
    }
}

/// A number in [0, 1) that differs from call to call.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes_and_jitter_only_shortens() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 0.0), Duration::from_secs(16));
        assert_eq!(backoff(40, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(3, 1.0), Duration::from_secs(2));
        assert!(backoff(3, 0.3) < backoff(3, 0.0));
    }
}
