//! Navigating and growing the message tree: alternative prompts, corrections, switching
//! branches.
//!
//! Open-Assistant conversations are trees: editing a prompt, regenerating a reply or correcting
//! one adds a sibling rather than overwriting, so every version stays available. The
//! conversation remembers one leaf; the path from the root to it is what the person sees.

use oa_types::{ConversationTreePath, Message, PathMessage, Role, Uuid};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::store::{
    MESSAGE_COLUMNS, RawMessage, insert_message, message_from_row, not_found_conversation, now_ms,
    parse_uuid, path_up_from,
};
use crate::{Result, Store, StoreError};

impl Store {
    /// Stores an edited version of the prompt `edited_of` as its sibling (same parent) and makes
    /// it the end of the current path; the original and everything after it stay in the tree.
    pub fn add_sibling_prompt(
        &mut self,
        conversation_id: Uuid,
        edited_of: Uuid,
        text: &str,
    ) -> Result<Message> {
        if text.trim().is_empty() {
            return Err(StoreError::InvalidInput("a message cannot be empty".into()));
        }
        let tx = self.conn.transaction()?;
        let original = message_in(&tx, conversation_id, edited_of)?;
        if original.role != Role::Prompter {
            return Err(StoreError::InvalidInput(
                "only a prompt can be edited; regenerate a reply instead".into(),
            ));
        }
        let message = sibling_of(&original, text, None);
        insert_message(&tx, &message)?;
        tx.commit()?;
        Ok(message)
    }

    /// Stores a reply the person wrote in the assistant's place, as a better version of the
    /// assistant reply `corrected`: a sibling of it (same parent), marked as human-written and
    /// linked to what it corrects, and made the end of the current path. The corrected reply
    /// stays in the tree unchanged, so the pair can be compared and shared as a correction.
    pub fn add_correction(
        &mut self,
        conversation_id: Uuid,
        corrected: Uuid,
        text: &str,
    ) -> Result<Message> {
        let tx = self.conn.transaction()?;
        let message = insert_correction(&tx, conversation_id, corrected, text)?;
        tx.commit()?;
        Ok(message)
    }

    /// The corrections written for a reply, oldest first.
    pub fn corrections_of(&self, message_id: Uuid) -> Result<Vec<Message>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.corrects_id = ?1
             ORDER BY m.created_at, m.id"
        ))?;
        let rows = stmt.query_map([message_id.to_string()], message_from_row)?;
        rows.map(|r| r?.into_message()).collect()
    }

    /// Switches the current path to go through `message_id`: below it, the path follows at
    /// each step the version that was on screen last (or, never shown, written last), so the
    /// person lands where they were in that branch. The path ends at a leaf; returns it. The
    /// messages on the new path are remembered as the last viewed.
    pub fn set_current_leaf(&mut self, conversation_id: Uuid, message_id: Uuid) -> Result<Uuid> {
        let tx = self.conn.transaction()?;
        message_in(&tx, conversation_id, message_id)?;
        let leaf: String = tx.query_row(
            "WITH RECURSIVE down(id, depth) AS (
                 SELECT ?1, 0
                 UNION ALL
                 SELECT (SELECT c.id FROM messages c WHERE c.parent_id = down.id
                         ORDER BY coalesce(c.viewed_at, c.created_at) DESC, c.created_at DESC,
                                  c.id DESC
                         LIMIT 1),
                        down.depth + 1
                 FROM down WHERE down.id IS NOT NULL
             )
             SELECT id FROM down WHERE id IS NOT NULL ORDER BY depth DESC LIMIT 1",
            [message_id.to_string()],
            |r| r.get(0),
        )?;
        // Viewing another branch is not a change of the conversation: updated_at stays.
        tx.execute(
            "UPDATE conversations SET current_leaf_id = ?1 WHERE id = ?2",
            params![leaf, conversation_id.to_string()],
        )?;
        tx.execute(
            "WITH RECURSIVE up(id) AS (
                 SELECT ?1
                 UNION ALL
                 SELECT m.parent_id FROM messages m JOIN up ON m.id = up.id
                 WHERE m.parent_id IS NOT NULL
             )
             UPDATE messages SET viewed_at = ?2 WHERE id IN (SELECT id FROM up)",
            params![leaf, now_ms()],
        )?;
        tx.commit()?;
        parse_uuid(&leaf)
    }

    /// The messages from the root prompt down to `message_id`, root first: the history a reply
    /// to it is generated from, whichever branch is shown.
    pub fn path_to(&self, message_id: Uuid) -> Result<Vec<Message>> {
        let messages = path_up_from(&self.conn, "SELECT ?1, 0", message_id)?;
        if messages.is_empty() {
            return Err(not_found_message(message_id));
        }
        Ok(messages)
    }

    /// The message and its siblings (the messages with the same parent), oldest first.
    pub fn siblings(&self, message_id: Uuid) -> Result<Vec<Message>> {
        let (conversation, parent): (String, Option<String>) = self
            .conn
            .query_row(
                "SELECT conversation_id, parent_id FROM messages WHERE id = ?1",
                [message_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| not_found_message(message_id))?;
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             WHERE m.conversation_id = ?1 AND m.parent_id IS ?2
             ORDER BY m.created_at, m.id"
        ))?;
        let rows = stmt.query_map(params![conversation, parent], message_from_row)?;
        rows.map(|r| r?.into_message()).collect()
    }

    /// Like [`Store::conversation`], with each message's place among its siblings.
    pub fn conversation_tree_path(&self, id: Uuid) -> Result<ConversationTreePath> {
        let detail = self.conversation(id)?;
        let mut stmt = self.conn.prepare(
            "SELECT
                 (SELECT count(*) FROM messages s
                  WHERE s.conversation_id = m.conversation_id AND s.parent_id IS m.parent_id
                    AND (s.created_at, s.id) < (m.created_at, m.id)),
                 (SELECT count(*) FROM messages s
                  WHERE s.conversation_id = m.conversation_id AND s.parent_id IS m.parent_id)
             FROM messages m WHERE m.id = ?1",
        )?;
        let messages = detail
            .messages
            .into_iter()
            .map(|message| {
                let (index, count): (i64, i64) =
                    stmt.query_row([message.id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(PathMessage {
                    message,
                    sibling_index: u32::try_from(index).unwrap_or(u32::MAX),
                    sibling_count: u32::try_from(count).unwrap_or(u32::MAX),
                })
            })
            .collect::<Result<_>>()?;
        Ok(ConversationTreePath {
            summary: detail.summary,
            messages,
        })
    }
}

/// Stores a correction of the assistant reply `corrected`, in the caller's transaction (see
/// [`Store::add_correction`]).
pub(crate) fn insert_correction(
    tx: &Transaction<'_>,
    conversation_id: Uuid,
    corrected: Uuid,
    text: &str,
) -> Result<Message> {
    if text.trim().is_empty() {
        return Err(StoreError::InvalidInput(
            "a correction cannot be empty".into(),
        ));
    }
    let original = message_in(tx, conversation_id, corrected)?;
    if original.role != Role::Assistant {
        return Err(StoreError::InvalidInput(
            "only an assistant reply can be corrected; edit a prompt instead".into(),
        ));
    }
    if original.text == text {
        return Err(StoreError::InvalidInput(
            "a correction must differ from the reply it corrects".into(),
        ));
    }
    let message = sibling_of(&original, text, Some(corrected));
    insert_message(tx, &message)?;
    Ok(message)
}

/// A new message a person wrote beside `original`: same conversation, parent and role.
fn sibling_of(original: &Message, text: &str, corrects: Option<Uuid>) -> Message {
    Message {
        id: Uuid::now_v7(),
        conversation_id: original.conversation_id,
        parent_id: original.parent_id,
        role: original.role,
        text: text.to_owned(),
        created_at_ms: now_ms(),
        provenance: None,
        corrects,
    }
}

pub(crate) fn not_found_message(id: Uuid) -> StoreError {
    StoreError::NotFound(format!("message {id}"))
}

/// Loads a message, refusing one that is not in `conversation_id`.
fn message_in(conn: &Connection, conversation_id: Uuid, message_id: Uuid) -> Result<Message> {
    let message = load_message(conn, message_id)?;
    if message.conversation_id != conversation_id {
        // Only reachable with ids from two conversations mixed up; the conversation may not
        // exist at all, so say which one was asked for.
        let exists: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM conversations WHERE id = ?1)",
            [conversation_id.to_string()],
            |r| r.get(0),
        )?;
        return Err(if exists {
            StoreError::NotFound(format!(
                "message {message_id} in conversation {conversation_id}"
            ))
        } else {
            not_found_conversation(conversation_id)
        });
    }
    Ok(message)
}

/// Loads one message by id.
pub(crate) fn load_message(conn: &Connection, message_id: Uuid) -> Result<Message> {
    conn.query_row(
        &format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?1"),
        [message_id.to_string()],
        message_from_row,
    )
    .optional()?
    .map(RawMessage::into_message)
    .transpose()?
    .ok_or_else(|| not_found_message(message_id))
}
