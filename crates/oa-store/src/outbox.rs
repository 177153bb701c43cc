//! The contribution outbox: every shareable action as an immutable event with a consent state.
//!
//! Events are written by the action's own transaction (see [`record_event`]), so an action and
//! its event exist together or not at all. Only the consent state of an event ever changes, and
//! only along the moves [`ConsentState::can_move_to`] allows.

use oa_types::{
    ConsentState, ContributionEvent, ContributionKind, EventPayload, RetractionPayload, Uuid,
};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::store::{now_ms, parse_uuid};
use crate::{Result, Store, StoreError};

/// The payload read is what would be sent: the redacted one where the person redacted it.
const EVENT_COLUMNS: &str = "id, kind, subject_id, conversation_id,
     coalesce(redacted_payload, payload), state, rejection_reason, created_at,
     redacted_payload IS NOT NULL, task_id";

impl Store {
    /// Events in one consent state, oldest first.
    pub fn events(&self, state: ConsentState) -> Result<Vec<ContributionEvent>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {EVENT_COLUMNS} FROM contribution_events WHERE state = ?1
             ORDER BY created_at, id"
        ))?;
        let rows = stmt.query_map([state.as_str()], event_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// How many events are in each of `states`, together.
    pub fn count_events(&self, states: &[ConsentState]) -> Result<u64> {
        let mut total = 0u64;
        for state in states {
            let n: i64 = self.conn.query_row(
                "SELECT count(*) FROM contribution_events WHERE state = ?1",
                [state.as_str()],
                |r| r.get(0),
            )?;
            total += n as u64;
        }
        Ok(total)
    }

    /// One event.
    pub fn event(&self, id: Uuid) -> Result<ContributionEvent> {
        self.conn
            .query_row(
                &format!("SELECT {EVENT_COLUMNS} FROM contribution_events WHERE id = ?1"),
                [id.to_string()],
                event_from_row,
            )
            .optional()?
            .ok_or_else(|| not_found_event(id))?
    }

    /// Every event, grouped by conversation, oldest first within each.
    pub fn all_events(&self) -> Result<Vec<ContributionEvent>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {EVENT_COLUMNS} FROM contribution_events
             ORDER BY conversation_id, created_at, id"
        ))?;
        let rows = stmt.query_map([], event_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// Replaces what will be sent for an event with `redacted_payload` (the person removed
    /// personal data from it). Only while the server holds no copy: the event has not left the
    /// machine, or the server refused it; otherwise [`StoreError::AlreadySent`]. The check and
    /// the change take the write lock first, so a claim of the same event by the sync agent on
    /// another connection ([`Store::claim_events_to_send`]) is either wholly before (refused) or
    /// wholly after (the redacted bytes are claimed).
    pub fn redact_event(&mut self, id: Uuid, redacted_payload: &str) -> Result<ContributionEvent> {
        serde_json::from_str::<serde_json::Value>(redacted_payload).map_err(|e| {
            StoreError::InvalidInput(format!("a redacted payload must be JSON: {e}"))
        })?;
        self.durably(|s| s.redact_in_place(id, redacted_payload))
    }

    fn redact_in_place(&mut self, id: Uuid, redacted_payload: &str) -> Result<ContributionEvent> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let state = current_state(&tx, id)?;
        if !matches!(
            state,
            ConsentState::Private | ConsentState::Queued | ConsentState::Rejected
        ) {
            return Err(StoreError::AlreadySent { event: id, state });
        }
        tx.execute(
            "UPDATE contribution_events SET redacted_payload = ?1, updated_at = ?2 WHERE id = ?3",
            params![redacted_payload, now_ms(), id.to_string()],
        )?;
        tx.commit()?;
        self.event(id)
    }

    /// Queues every private event of a conversation; returns how many.
    pub fn share_conversation(&mut self, conversation_id: Uuid) -> Result<usize> {
        self.durably(|s| {
            s.move_conversation(conversation_id, ConsentState::Private, ConsentState::Queued)
        })
    }

    /// Takes every queued event of a conversation back to private; returns how many.
    pub fn unshare_conversation(&mut self, conversation_id: Uuid) -> Result<usize> {
        self.durably(|s| {
            s.move_conversation(conversation_id, ConsentState::Queued, ConsentState::Private)
        })
    }

    fn move_conversation(
        &mut self,
        conversation_id: Uuid,
        from: ConsentState,
        to: ConsentState,
    ) -> Result<usize> {
        let moved = self.conn.execute(
            "UPDATE contribution_events SET state = ?1, updated_at = ?2
             WHERE conversation_id = ?3 AND state = ?4",
            params![
                to.as_str(),
                now_ms(),
                conversation_id.to_string(),
                from.as_str()
            ],
        )?;
        Ok(moved)
    }

    /// The person agrees to share a private event: it is queued for the sync client. A refused
    /// event is queued again the same way (its reason is cleared), after the person fixed it or
    /// when the server's refusal may no longer hold (a missing parent arrived since).
    pub fn share_event(&mut self, id: Uuid) -> Result<ContributionEvent> {
        self.durably(|s| s.move_event(id, ConsentState::Queued, None))
    }

    /// The person takes back a queued (or refused) event: it becomes private again.
    pub fn unshare_event(&mut self, id: Uuid) -> Result<ContributionEvent> {
        self.durably(|s| s.move_event(id, ConsentState::Private, None))
    }

    /// Withdraws an event the server may hold (sent or accepted): a retraction is queued for
    /// it, and the event itself is dropped, since its id can never be shared again. Returns
    /// the retraction. Events that never left (private, queued) are unshared instead.
    pub fn withdraw_event(&mut self, id: Uuid) -> Result<ContributionEvent> {
        self.durably(|s| {
            let tx = s.conn.transaction()?;
            let retraction = withdraw_in(&tx, "id", id, now_ms())?.pop().ok_or_else(|| {
                StoreError::InvalidInput(
                    "only a contribution the server may hold (sent or accepted) can be withdrawn"
                        .into(),
                )
            })?;
            tx.commit()?;
            Ok(retraction)
        })
    }

    /// Withdraws every event of a conversation the server may hold ([`Store::withdraw_event`]);
    /// returns the retractions.
    pub fn withdraw_conversation(
        &mut self,
        conversation_id: Uuid,
    ) -> Result<Vec<ContributionEvent>> {
        self.durably(|s| {
            let tx = s.conn.transaction()?;
            let retractions = withdraw_in(&tx, "conversation_id", conversation_id, now_ms())?;
            tx.commit()?;
            Ok(retractions)
        })
    }

    /// The sync client sent a queued event.
    pub fn mark_event_sent(&mut self, id: Uuid) -> Result<ContributionEvent> {
        self.move_event(id, ConsentState::Sent, None)
    }

    /// The server accepted a sent event.
    pub fn mark_event_accepted(&mut self, id: Uuid) -> Result<ContributionEvent> {
        self.move_event(id, ConsentState::Accepted, None)
    }

    /// The server refused a sent event, for `reason` (kept to show the person).
    pub fn mark_event_rejected(&mut self, id: Uuid, reason: &str) -> Result<ContributionEvent> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::InvalidInput(
                "a rejection needs a reason".into(),
            ));
        }
        self.move_event(id, ConsentState::Rejected, Some(reason))
    }

    /// What the sync client sends next, oldest first, at most `limit` events: first those sent
    /// before whose answer never arrived (the app stopped, the connection broke), then queued
    /// ones. Sending an event twice is harmless: the server stores an event id once and answers
    /// `duplicate`.
    pub fn events_to_send(&self, limit: usize) -> Result<Vec<ContributionEvent>> {
        next_to_send(&self.conn, limit)
    }

    /// The next batch to send, at most `limit` events (those left `sent` by a lost answer
    /// first), marked sent by the same transaction that reads them. What is returned is exactly
    /// what is marked: a redaction or an unshare committed before is in it, and one tried after
    /// is refused (a sent event can no longer change), so no other bytes can leave than these.
    pub fn claim_events_to_send(&mut self, limit: usize) -> Result<Vec<ContributionEvent>> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut events = next_to_send(&tx, limit)?;
        for event in &mut events {
            if event.state == ConsentState::Queued {
                move_in(&tx, event.id, ConsentState::Sent, None)?;
                event.state = ConsentState::Sent;
            }
        }
        tx.commit()?;
        Ok(events)
    }

    /// Marks the queued ones among `ids` sent, in one transaction, before they go out: from then
    /// on deleting their subject needs a retraction. Ids already sent stay so.
    pub fn mark_events_sent(&mut self, ids: &[Uuid]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for &id in ids {
            if current_state(&tx, id)? != ConsentState::Sent {
                move_in(&tx, id, ConsentState::Sent, None)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the server's answers to sent events, in one transaction: `None` for accepted (or
    /// already stored), `Some(reason)` for refused.
    pub fn record_server_answers(&mut self, answers: &[(Uuid, Option<String>)]) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (id, refusal) in answers {
            match refusal.as_deref().map(str::trim) {
                None => move_in(&tx, *id, ConsentState::Accepted, None)?,
                Some("") => {
                    return Err(StoreError::InvalidInput(
                        "a rejection needs a reason".into(),
                    ));
                }
                Some(reason) => move_in(&tx, *id, ConsentState::Rejected, Some(reason))?,
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn move_event(
        &mut self,
        id: Uuid,
        to: ConsentState,
        reason: Option<&str>,
    ) -> Result<ContributionEvent> {
        let tx = self.conn.transaction()?;
        move_in(&tx, id, to, reason)?;
        tx.commit()?;
        self.event(id)
    }
}

/// The consent state of event `id`.
fn current_state(tx: &Transaction<'_>, id: Uuid) -> Result<ConsentState> {
    let from: String = tx
        .query_row(
            "SELECT state FROM contribution_events WHERE id = ?1",
            [id.to_string()],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| not_found_event(id))?;
    ConsentState::parse(&from)
        .ok_or_else(|| StoreError::Corrupt(format!("event {id} has state {from:?}")))
}

/// Moves event `id` to `to` inside `tx`, if [`ConsentState::can_move_to`] allows it.
/// The next `limit` events to send: those sent before whose answer never arrived, then queued
/// ones, oldest first.
fn next_to_send(conn: &rusqlite::Connection, limit: usize) -> Result<Vec<ContributionEvent>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {EVENT_COLUMNS} FROM contribution_events WHERE state IN ('sent', 'queued')
         ORDER BY state = 'queued', created_at, id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], event_from_row)?;
    rows.map(|r| r?).collect()
}

fn move_in(tx: &Transaction<'_>, id: Uuid, to: ConsentState, reason: Option<&str>) -> Result<()> {
    let from = current_state(tx, id)?;
    if !from.can_move_to(to) {
        return Err(StoreError::InvalidTransition {
            event: id,
            from,
            to,
        });
    }
    tx.execute(
        "UPDATE contribution_events SET state = ?1, rejection_reason = ?2, updated_at = ?3
         WHERE id = ?4",
        params![to.as_str(), reason, now_ms(), id.to_string()],
    )?;
    Ok(())
}

fn not_found_event(id: Uuid) -> StoreError {
    StoreError::NotFound(format!("contribution event {id}"))
}

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<ContributionEvent>> {
    let id: String = row.get(0)?;
    let kind: String = row.get(1)?;
    let subject: String = row.get(2)?;
    let conversation: String = row.get(3)?;
    let state: String = row.get(5)?;
    let payload: String = row.get(4)?;
    let rejection_reason: Option<String> = row.get(6)?;
    let created_at_ms: i64 = row.get(7)?;
    let redacted: bool = row.get(8)?;
    let task: Option<String> = row.get(9)?;
    Ok((|| {
        Ok(ContributionEvent {
            id: parse_uuid(&id)?,
            kind: ContributionKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("event kind {kind:?}")))?,
            subject_id: parse_uuid(&subject)?,
            conversation_id: parse_uuid(&conversation)?,
            payload,
            state: ConsentState::parse(&state)
                .ok_or_else(|| StoreError::Corrupt(format!("event state {state:?}")))?,
            rejection_reason,
            created_at_ms,
            redacted,
            task_id: task.as_deref().map(parse_uuid).transpose()?,
        })
    })())
}

/// Records a private event for an action, in the action's transaction.
pub(crate) fn record_event(
    tx: &Transaction<'_>,
    subject_id: Uuid,
    conversation_id: Uuid,
    payload: &EventPayload,
    now: i64,
) -> Result<ContributionEvent> {
    let event = ContributionEvent {
        id: Uuid::now_v7(),
        kind: payload.kind(),
        subject_id,
        conversation_id,
        payload: payload.to_json(),
        state: ConsentState::Private,
        rejection_reason: None,
        created_at_ms: now,
        redacted: false,
        task_id: None,
    };
    insert_event(tx, event)
}

/// Writes `event` as it is, in the caller's transaction.
pub(crate) fn insert_event(
    tx: &Transaction<'_>,
    event: ContributionEvent,
) -> Result<ContributionEvent> {
    tx.execute(
        "INSERT INTO contribution_events
             (id, kind, subject_id, conversation_id, payload, state, created_at, updated_at,
              task_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)",
        params![
            event.id.to_string(),
            event.kind.as_str(),
            event.subject_id.to_string(),
            event.conversation_id.to_string(),
            event.payload,
            event.state.as_str(),
            event.created_at_ms,
            event.task_id.map(|t| t.to_string()),
        ],
    )?;
    Ok(event)
}

/// Before a conversation is deleted: drops its events, and queues a retraction for each one the
/// server may already hold. The retracted events themselves go too, since they hold the text the
/// person asked to delete; a retraction names the event it withdraws, not its content. Events
/// that are private or queued never left the machine and simply disappear.
pub(crate) fn queue_retractions(
    tx: &Transaction<'_>,
    conversation_id: Uuid,
    now: i64,
) -> Result<Vec<ContributionEvent>> {
    let retractions = withdraw_in(tx, "conversation_id", conversation_id, now)?;
    tx.execute(
        "DELETE FROM contribution_events WHERE conversation_id = ?1 AND kind != 'retraction'",
        [conversation_id.to_string()],
    )?;
    Ok(retractions)
}

/// Queues a retraction for every event whose `column` (`id` or `conversation_id`) is `value`
/// and that the server may hold, and drops those events. Retractions are never retracted.
fn withdraw_in(
    tx: &Transaction<'_>,
    column: &'static str,
    value: Uuid,
    now: i64,
) -> Result<Vec<ContributionEvent>> {
    let reached: Vec<(String, String, String, String)> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT id, kind, subject_id, conversation_id FROM contribution_events
             WHERE {column} = ?1 AND state IN ('sent', 'accepted') AND kind != 'retraction'
             ORDER BY created_at, id"
        ))?;
        stmt.query_map([value.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<rusqlite::Result<_>>()?
    };
    reached
        .into_iter()
        .map(|(id, kind, subject, conversation)| {
            let retracted = ContributionKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("event kind {kind:?}")))?;
            let payload = EventPayload::Retraction(RetractionPayload {
                retracts: parse_uuid(&id)?,
                kind: Some(retracted),
            });
            tx.execute("DELETE FROM contribution_events WHERE id = ?1", [&id])?;
            insert_event(
                tx,
                ContributionEvent {
                    id: Uuid::now_v7(),
                    kind: ContributionKind::Retraction,
                    subject_id: parse_uuid(&subject)?,
                    conversation_id: parse_uuid(&conversation)?,
                    payload: payload.to_json(),
                    // Queued, not private: the person consented to sharing what is retracted,
                    // and the retraction is what honours taking it back on the server.
                    state: ConsentState::Queued,
                    rejection_reason: None,
                    created_at_ms: now,
                    redacted: false,
                    task_id: None,
                },
            )
        })
        .collect()
}
