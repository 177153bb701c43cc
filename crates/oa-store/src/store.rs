//! Reading and writing conversations.

use std::path::Path;
use std::time::Duration;

pub(crate) use oa_stdx::time::now_ms;
use oa_types::{
    ConversationDetail, ConversationListEntry, ConversationSummary, EventPayload, Message,
    Provenance, Role, Uuid,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::outbox::{queue_retractions, record_event};
use crate::{Result, StoreError, migrations};

/// Longest title derived from a first prompt, in characters.
const TITLE_CHARS: usize = 60;

/// Longest title a person may give a conversation, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// Columns of `messages m`, in the order [`message_from_row`] reads them.
pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.conversation_id, m.parent_id, m.role, m.text, m.created_at, m.provenance, m.corrects_id";

/// How many columns [`MESSAGE_COLUMNS`] lists: the index of a column selected after them.
pub(crate) const MESSAGE_COLUMN_COUNT: usize = 8;

/// An open local database.
#[derive(Debug)]
pub struct Store {
    pub(crate) conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to the latest schema.
    pub fn open(path: &Path) -> Result<Store> {
        let open_err = |reason: String| StoreError::Open {
            path: path.to_owned(),
            reason,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
        }
        let result = Connection::open(path)
            .map_err(StoreError::from)
            .and_then(Store::from_connection);
        result.map_err(|e| match e {
            // SQLite says only "unable to open database file" when it cannot create its journal
            // next to the database; say what a person can fix.
            StoreError::Sqlite(_) | StoreError::ReadOnly if !folder_is_writable(path) => {
                StoreError::ReadOnly
            }
            StoreError::Sqlite(e) => open_err(e.to_string()),
            other => other,
        })
    }

    /// An in-memory database, for tests and previews.
    pub fn open_in_memory() -> Result<Store> {
        Store::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(mut conn: Connection) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL: readers never block the writer, and a crash mid-write leaves the last commit intact.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        migrations::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// Runs `f` with `synchronous = FULL`: its commits reach the disk before they return, so a
    /// power cut right after cannot undo them. For the person's consent (share, unshare,
    /// redact) and withdrawals, whose loss would send what they took back; everything else
    /// keeps WAL's `NORMAL` (durable across a crash of the app, not of the machine).
    pub(crate) fn durably<T>(&mut self, f: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let outcome = f(self);
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        outcome
    }

    /// Schema version of the open database.
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Stores what the person typed. With no conversation, starts a new one titled after the
    /// prompt; otherwise the prompt continues the conversation's current path.
    pub fn add_prompt(&mut self, conversation_id: Option<Uuid>, text: &str) -> Result<Message> {
        let tx = self.conn.transaction()?;
        let place = match conversation_id {
            Some(id) => PromptPlace::AfterLeafOf(id),
            None => PromptPlace::NewConversation,
        };
        let message = insert_prompt(&tx, place, text)?;
        tx.commit()?;
        Ok(message)
    }

    /// Stores a reply to `parent` and makes it the end of the conversation's current path.
    pub fn add_reply(
        &mut self,
        parent: &Message,
        text: &str,
        provenance: Option<Provenance>,
    ) -> Result<Message> {
        let message = Message {
            id: Uuid::now_v7(),
            conversation_id: parent.conversation_id,
            parent_id: Some(parent.id),
            role: Role::Assistant,
            text: text.to_owned(),
            created_at_ms: now_ms(),
            provenance,
            corrects: None,
        };
        let tx = self.conn.transaction()?;
        insert_message(&tx, &message)?;
        tx.commit()?;
        Ok(message)
    }

    /// Conversations, pinned ones first, then the most recently changed first.
    pub fn list_conversations(&self) -> Result<Vec<ConversationSummary>> {
        Ok(self
            .list_conversation_entries()?
            .into_iter()
            .map(|e| e.summary)
            .collect())
    }

    /// Conversations with whether each is pinned, in the order of [`Store::list_conversations`].
    pub fn list_conversation_entries(&self) -> Result<Vec<ConversationListEntry>> {
        let mut stmt = self.conn.prepare(
            "SELECT c.id, c.title, c.updated_at,
                    (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id),
                    c.pinned, c.source
             FROM conversations c ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((summary_from_row(row)?, row.get(4)?, row.get(5)?))
        })?;
        rows.map(|r| {
            let (raw, pinned, source) = r?;
            Ok(ConversationListEntry {
                summary: raw.into_summary()?,
                pinned,
                source,
            })
        })
        .collect()
    }

    /// Gives a conversation the title the person typed (trimmed). Renaming is not a change of
    /// the conversation's content, so it does not move it up the list.
    pub fn rename(&mut self, conversation_id: Uuid, title: &str) -> Result<()> {
        let title = title.trim();
        if title.is_empty() {
            return Err(StoreError::InvalidInput("a title cannot be empty".into()));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(StoreError::InvalidInput(format!(
                "a title can be at most {MAX_TITLE_CHARS} characters long"
            )));
        }
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE conversations SET title = ?1 WHERE id = ?2",
            params![title, conversation_id.to_string()],
        )?;
        if n == 0 {
            return Err(not_found_conversation(conversation_id));
        }
        tx.commit()?;
        Ok(())
    }

    /// Pins a conversation to the top of the list, or unpins it.
    pub fn set_pinned(&mut self, conversation_id: Uuid, pinned: bool) -> Result<()> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE conversations SET pinned = ?1 WHERE id = ?2",
            params![pinned, conversation_id.to_string()],
        )?;
        if n == 0 {
            return Err(not_found_conversation(conversation_id));
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes a conversation with all its messages, feedback and unsent contribution events.
    /// Events the server may already hold (sent or accepted) are replaced by queued retractions,
    /// so that the deletion reaches the dataset too; the retractions carry no text.
    pub fn delete_conversation(&mut self, conversation_id: Uuid) -> Result<()> {
        // Its retractions are withdrawals: durable like every other.
        self.durably(|s| {
            let tx = s.conn.transaction()?;
            queue_retractions(&tx, conversation_id, now_ms())?;
            let n = tx.execute(
                "DELETE FROM conversations WHERE id = ?1",
                [conversation_id.to_string()],
            )?;
            if n == 0 {
                return Err(not_found_conversation(conversation_id));
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// A conversation with the messages on its current path, root first.
    pub fn conversation(&self, id: Uuid) -> Result<ConversationDetail> {
        let summary = self
            .conn
            .query_row(
                "SELECT c.id, c.title, c.updated_at,
                        (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id)
                 FROM conversations c WHERE c.id = ?1",
                [id.to_string()],
                summary_from_row,
            )
            .optional()?
            .ok_or_else(|| not_found_conversation(id))?
            .into_summary()?;
        let messages = path_up_from(
            &self.conn,
            "SELECT current_leaf_id, 0 FROM conversations WHERE id = ?1",
            id,
        )?;
        Ok(ConversationDetail { summary, messages })
    }
}

/// The messages from the root down to the message `start` selects (a query of `id, 0` with
/// `?1` bound to `id`), root first.
pub(crate) fn path_up_from(conn: &Connection, start: &str, id: Uuid) -> Result<Vec<Message>> {
    let mut stmt = conn.prepare(&format!(
        "WITH RECURSIVE path(id, depth) AS (
             {start}
             UNION ALL
             SELECT m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.id
             WHERE m.parent_id IS NOT NULL
         )
         SELECT {MESSAGE_COLUMNS}
         FROM path JOIN messages m ON m.id = path.id ORDER BY path.depth DESC"
    ))?;
    stmt.query_map([id.to_string()], message_from_row)?
        .map(|r| r?.into_message())
        .collect()
}

pub(crate) fn not_found_conversation(id: Uuid) -> StoreError {
    StoreError::NotFound(format!("conversation {id}"))
}

/// Whether a file can be created next to the database (the journal lives there).
fn folder_is_writable(db: &Path) -> bool {
    let dir = match db.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let probe = dir.join(format!(".oa-write-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            true
        }
        Err(_) => false,
    }
}

fn current_leaf(tx: &Transaction<'_>, conversation: Uuid) -> Result<Option<Uuid>> {
    let leaf: Option<Option<String>> = tx
        .query_row(
            "SELECT current_leaf_id FROM conversations WHERE id = ?1",
            [conversation.to_string()],
            |r| r.get(0),
        )
        .optional()?;
    match leaf {
        None => Err(not_found_conversation(conversation)),
        Some(leaf) => leaf.map(|s| parse_uuid(&s)).transpose(),
    }
}

/// Inserts a message, makes it the conversation's current leaf and records its (private)
/// contribution event, all in the caller's transaction.
pub(crate) fn insert_message(tx: &Transaction<'_>, m: &Message) -> Result<()> {
    let provenance = m
        .provenance
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| StoreError::InvalidInput(format!("provenance: {e}")))?;
    tx.execute(
        "INSERT INTO messages
             (id, conversation_id, parent_id, role, text, created_at, provenance, lang, corrects_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            m.id.to_string(),
            m.conversation_id.to_string(),
            m.parent_id.map(|p| p.to_string()),
            m.role.as_str(),
            m.text,
            m.created_at_ms,
            provenance,
            oa_types::detect_lang(&m.text),
            m.corrects.map(|c| c.to_string()),
        ],
    )?;
    let updated = tx.execute(
        "UPDATE conversations SET current_leaf_id = ?1, updated_at = ?2 WHERE id = ?3",
        params![
            m.id.to_string(),
            m.created_at_ms,
            m.conversation_id.to_string()
        ],
    )?;
    if updated == 0 {
        return Err(not_found_conversation(m.conversation_id));
    }
    // A correction when it corrects another reply.
    let payload = EventPayload::message(m.clone());
    record_event(tx, m.id, m.conversation_id, &payload, m.created_at_ms)?;
    Ok(())
}

/// Where a new prompt goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PromptPlace {
    /// It starts a conversation titled after it.
    NewConversation,
    /// It continues the conversation's current path.
    AfterLeafOf(Uuid),
    /// It answers this assistant message.
    After(Uuid),
}

/// Stores a prompt the person wrote, in the caller's transaction, and makes it the end of its
/// conversation's current path.
pub(crate) fn insert_prompt(
    tx: &Transaction<'_>,
    place: PromptPlace,
    text: &str,
) -> Result<Message> {
    if text.trim().is_empty() {
        return Err(StoreError::InvalidInput("a message cannot be empty".into()));
    }
    let now = now_ms();
    let (conversation_id, parent_id) = match place {
        PromptPlace::AfterLeafOf(id) => (id, current_leaf(tx, id)?),
        PromptPlace::After(parent) => {
            let parent = crate::tree::load_message(tx, parent)?;
            if parent.role != Role::Assistant {
                return Err(StoreError::InvalidInput(
                    "a prompt answers an assistant reply, not another prompt".into(),
                ));
            }
            (parent.conversation_id, Some(parent.id))
        }
        PromptPlace::NewConversation => {
            let id = Uuid::now_v7();
            tx.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
                params![id.to_string(), title_from(text), now],
            )?;
            (id, None)
        }
    };
    let message = Message {
        id: Uuid::now_v7(),
        conversation_id,
        parent_id,
        role: Role::Prompter,
        text: text.to_owned(),
        created_at_ms: now,
        provenance: None,
        corrects: None,
    };
    insert_message(tx, &message)?;
    Ok(message)
}

struct RawSummary {
    id: String,
    title: String,
    updated_at_ms: i64,
    message_count: i64,
}

impl RawSummary {
    fn into_summary(self) -> Result<ConversationSummary> {
        Ok(ConversationSummary {
            id: parse_uuid(&self.id)?,
            title: self.title,
            updated_at_ms: self.updated_at_ms,
            message_count: u32::try_from(self.message_count).unwrap_or(u32::MAX),
        })
    }
}

fn summary_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawSummary> {
    Ok(RawSummary {
        id: row.get(0)?,
        title: row.get(1)?,
        updated_at_ms: row.get(2)?,
        message_count: row.get(3)?,
    })
}

/// Reads the columns of [`MESSAGE_COLUMNS`].
pub(crate) fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawMessage> {
    Ok(RawMessage {
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        parent_id: row.get(2)?,
        role: row.get(3)?,
        text: row.get(4)?,
        created_at_ms: row.get(5)?,
        provenance: row.get(6)?,
        corrects_id: row.get(7)?,
    })
}

/// A message row as stored, before its ids and JSON are checked.
pub(crate) struct RawMessage {
    id: String,
    conversation_id: String,
    parent_id: Option<String>,
    role: String,
    text: String,
    created_at_ms: i64,
    provenance: Option<String>,
    corrects_id: Option<String>,
}

impl RawMessage {
    pub(crate) fn into_message(self) -> Result<Message> {
        Ok(Message {
            id: parse_uuid(&self.id)?,
            conversation_id: parse_uuid(&self.conversation_id)?,
            parent_id: self.parent_id.as_deref().map(parse_uuid).transpose()?,
            role: Role::parse(&self.role)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown role {:?}", self.role)))?,
            text: self.text,
            created_at_ms: self.created_at_ms,
            provenance: self
                .provenance
                .map(|p| serde_json::from_str(&p))
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("provenance of {}: {e}", self.id)))?,
            corrects: self.corrects_id.as_deref().map(parse_uuid).transpose()?,
        })
    }
}

pub(crate) fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| StoreError::Corrupt(format!("bad id {s:?}")))
}

/// A conversation's first title: the prompt's first line, shortened at a word boundary.
pub(crate) fn title_from(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim();
    if line.chars().count() <= TITLE_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(TITLE_CHARS).collect();
    let cut = cut
        .rsplit_once(' ')
        .map(|(head, _)| head)
        .filter(|h| h.len() > 20)
        .unwrap_or(&cut);
    format!("{}…", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous(store: &Store) -> i64 {
        store
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn consent_changes_commit_with_full_sync_and_the_rest_stays_normal() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("db.sqlite3")).unwrap();
        // 1 = NORMAL, 2 = FULL.
        assert_eq!(synchronous(&store), 1);
        let inside = store.durably(|s| Ok(synchronous(s))).unwrap();
        assert_eq!(inside, 2);
        assert_eq!(synchronous(&store), 1);
        let failed: Result<()> = store.durably(|_| Err(StoreError::InvalidInput("refused".into())));
        assert!(failed.is_err());
        assert_eq!(synchronous(&store), 1, "restored after a failure too");
    }

    #[test]
    fn titles_are_the_first_line_shortened_at_a_word() {
        assert_eq!(title_from("  Hello there\nsecond line"), "Hello there");
        let long = "word ".repeat(30);
        let t = title_from(&long);
        assert!(
            t.ends_with('…') && t.chars().count() <= TITLE_CHARS + 1,
            "{t}"
        );
    }
}
