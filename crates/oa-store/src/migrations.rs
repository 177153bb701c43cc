//! Versioned schema migrations, applied in order inside one transaction each.

use rusqlite::Connection;

use crate::{Result, StoreError};

/// Each entry upgrades the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: conversations as message trees, with the current path remembered by its leaf.
    r#"
    CREATE TABLE conversations (
        id              TEXT PRIMARY KEY NOT NULL,
        title           TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        current_leaf_id TEXT REFERENCES messages(id) DEFERRABLE INITIALLY DEFERRED
    ) STRICT;
    CREATE TABLE messages (
        id              TEXT PRIMARY KEY NOT NULL,
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        parent_id       TEXT REFERENCES messages(id) ON DELETE CASCADE,
        role            TEXT NOT NULL CHECK (role IN ('prompter', 'assistant')),
        text            TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        provenance      TEXT CHECK (provenance IS NULL OR json_valid(provenance))
    ) STRICT;
    CREATE INDEX messages_by_conversation ON messages (conversation_id, created_at);
    CREATE INDEX messages_by_parent ON messages (parent_id);
    CREATE INDEX conversations_by_update ON conversations (updated_at DESC);
    "#,
];

/// Newest schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Brings the database to the latest schema; refuses a database from a newer app.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(StoreError::TooNew {
            found: current,
            supported: LATEST,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}
