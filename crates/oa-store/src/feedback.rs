//! Feedback on messages: the current value of each kind, with every change in the outbox.
//!
//! Changing one's mind replaces the current value (what the UI shows) and records a new
//! contribution event, so the history of what was said stays intact for the dataset.

use oa_types::{
    ContributionEvent, Emoji, EventPayload, Labels, LabelsPayload, Message, MessageFeedback,
    Ranking, RankingPayload, RatingPayload, ReactionPayload, Thumbs, Uuid,
};
use rusqlite::{Transaction, params};

use crate::outbox::record_event;
use crate::store::{now_ms, parse_uuid};
use crate::tree::load_message;
use crate::{Result, Store, StoreError};

impl Store {
    /// Records a thumbs vote on a message, replacing an earlier one.
    pub fn rate(&mut self, message_id: Uuid, thumbs: &Thumbs) -> Result<ContributionEvent> {
        thumbs.validate()?;
        let value = to_json(serde_json::to_value(thumbs))?;
        let payload = EventPayload::Rating(RatingPayload {
            message_id,
            thumbs: thumbs.clone(),
        });
        self.set_feedback(message_id, value, payload)
    }

    /// Records labels on a message, replacing the earlier set as a whole.
    pub fn set_labels(&mut self, message_id: Uuid, labels: &Labels) -> Result<ContributionEvent> {
        let tx = self.conn.transaction()?;
        let event = insert_labels(&tx, message_id, labels)?;
        tx.commit()?;
        Ok(event)
    }

    /// Ranks the replies to `parent_id` (best first), or marks them not rankable; replaces an
    /// earlier ranking. The ranking must name every reply exactly once.
    pub fn rank_replies(
        &mut self,
        parent_id: Uuid,
        ranking: &Ranking,
    ) -> Result<ContributionEvent> {
        let tx = self.conn.transaction()?;
        let event = insert_ranking(&tx, parent_id, ranking)?;
        tx.commit()?;
        Ok(event)
    }

    /// Turns an emoji reaction on a message on or off. Returns the recorded event, or `None`
    /// when the reaction already was in that state (nothing changed, nothing to record).
    pub fn set_reaction(
        &mut self,
        message_id: Uuid,
        emoji: Emoji,
        on: bool,
    ) -> Result<Option<ContributionEvent>> {
        let now = now_ms();
        let tx = self.conn.transaction()?;
        let message = load_message(&tx, message_id)?;
        let changed = if on {
            tx.execute(
                "INSERT OR IGNORE INTO reactions (message_id, emoji, created_at) VALUES (?1, ?2, ?3)",
                params![message_id.to_string(), emoji.code(), now],
            )?
        } else {
            tx.execute(
                "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2",
                params![message_id.to_string(), emoji.code()],
            )?
        };
        if changed == 0 {
            return Ok(None);
        }
        let payload = EventPayload::Reaction(ReactionPayload::new(message_id, emoji, on));
        let event = record_event(&tx, message_id, message.conversation_id, &payload, now)?;
        tx.commit()?;
        Ok(Some(event))
    }

    /// The feedback currently on a message.
    pub fn feedback(&self, message_id: Uuid) -> Result<MessageFeedback> {
        load_message(&self.conn, message_id)?;
        let mut feedback = MessageFeedback {
            message_id,
            ..MessageFeedback::default()
        };
        let mut stmt = self
            .conn
            .prepare("SELECT kind, value FROM feedback WHERE message_id = ?1")?;
        let rows = stmt.query_map([message_id.to_string()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (kind, value) = row?;
            let corrupt = |e: serde_json::Error| {
                StoreError::Corrupt(format!("{kind} feedback on {message_id}: {e}"))
            };
            match kind.as_str() {
                "rating" => feedback.thumbs = Some(serde_json::from_str(&value).map_err(corrupt)?),
                "labels" => feedback.labels = Some(serde_json::from_str(&value).map_err(corrupt)?),
                "ranking" => {
                    feedback.ranking = Some(serde_json::from_str(&value).map_err(corrupt)?)
                }
                other => return Err(StoreError::Corrupt(format!("feedback kind {other:?}"))),
            }
        }
        let mut stmt = self
            .conn
            .prepare("SELECT emoji FROM reactions WHERE message_id = ?1")?;
        let codes = stmt.query_map([message_id.to_string()], |r| r.get::<_, String>(0))?;
        for code in codes {
            let code = code?;
            feedback.reactions.push(
                Emoji::parse(&code)
                    .map_err(|_| StoreError::Corrupt(format!("reaction {code:?}")))?,
            );
        }
        feedback.reactions.sort();
        Ok(feedback)
    }

    /// Replaces the current value of one kind of feedback and records the event, in one
    /// transaction.
    fn set_feedback(
        &mut self,
        message_id: Uuid,
        value: serde_json::Value,
        payload: EventPayload,
    ) -> Result<ContributionEvent> {
        let now = now_ms();
        let tx = self.conn.transaction()?;
        let message = load_message(&tx, message_id)?;
        let event = write_feedback(&tx, &message, value, &payload, now)?;
        tx.commit()?;
        Ok(event)
    }
}

/// Stores a ranking of the replies to `parent_id`, in the caller's transaction (see
/// [`Store::rank_replies`]).
pub(crate) fn insert_ranking(
    tx: &Transaction<'_>,
    parent_id: Uuid,
    ranking: &Ranking,
) -> Result<ContributionEvent> {
    let now = now_ms();
    // Read the replies in the same transaction that stores the ranking, so the check and the
    // write see the same tree.
    let parent = load_message(tx, parent_id)?;
    let replies = reply_ids(tx, parent_id)?;
    ranking.validate_against(&replies)?;
    let value = to_json(serde_json::to_value(ranking))?;
    let payload = EventPayload::Ranking(RankingPayload {
        message_id: parent_id,
        ranking: ranking.clone(),
    });
    write_feedback(tx, &parent, value, &payload, now)
}

/// Stores labels on a message, in the caller's transaction (see [`Store::set_labels`]).
pub(crate) fn insert_labels(
    tx: &Transaction<'_>,
    message_id: Uuid,
    labels: &Labels,
) -> Result<ContributionEvent> {
    labels.validate()?;
    let value = to_json(serde_json::to_value(labels))?;
    let message = load_message(tx, message_id)?;
    let payload = EventPayload::Labels(LabelsPayload::new(message_id, labels));
    write_feedback(tx, &message, value, &payload, now_ms())
}

/// The ids of the replies to a message, oldest first.
pub(crate) fn reply_ids(conn: &rusqlite::Connection, parent_id: Uuid) -> Result<Vec<Uuid>> {
    let mut stmt =
        conn.prepare("SELECT id FROM messages WHERE parent_id = ?1 ORDER BY created_at, id")?;
    let ids = stmt
        .query_map([parent_id.to_string()], |r| r.get::<_, String>(0))?
        .map(|id| parse_uuid(&id?))
        .collect::<Result<_>>()?;
    Ok(ids)
}

/// Replaces the current value of the payload's kind of feedback and records the event, in the
/// caller's transaction.
fn write_feedback(
    tx: &Transaction<'_>,
    message: &Message,
    value: serde_json::Value,
    payload: &EventPayload,
    now: i64,
) -> Result<ContributionEvent> {
    let kind = payload.kind();
    tx.execute(
        "INSERT INTO feedback (message_id, kind, value, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (message_id, kind) DO UPDATE SET value = excluded.value,
                                                      updated_at = excluded.updated_at",
        params![
            message.id.to_string(),
            kind.as_str(),
            value.to_string(),
            now
        ],
    )?;
    record_event(tx, message.id, message.conversation_id, payload, now)
}

/// Feedback types are plain data, so this cannot fail in practice; if it ever does, it is the
/// caller's value that could not be written.
fn to_json(value: serde_json::Result<serde_json::Value>) -> Result<serde_json::Value> {
    value.map_err(|e| StoreError::InvalidInput(format!("feedback: {e}")))
}
