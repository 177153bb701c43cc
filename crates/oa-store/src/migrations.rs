//! Versioned schema migrations, applied in order inside one transaction each.

use rusqlite::{Connection, Transaction};

use crate::{Result, StoreError, lang};

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
    // 2: pinning, feedback, the contribution outbox and full-text search.
    r#"
    ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
    CREATE INDEX conversations_by_pin ON conversations (pinned DESC, updated_at DESC);
    -- Siblings are listed oldest first.
    CREATE INDEX messages_by_parent_created ON messages (parent_id, created_at);

    -- The current value of each kind of feedback on a message; the history lives in the outbox.
    CREATE TABLE feedback (
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        kind       TEXT NOT NULL CHECK (kind IN ('rating', 'labels', 'ranking')),
        value      TEXT NOT NULL CHECK (json_valid(value)),
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (message_id, kind)
    ) STRICT;
    CREATE TABLE reactions (
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        emoji      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (message_id, emoji)
    ) STRICT;

    -- The outbox. subject_id and conversation_id carry no foreign key on purpose: a retraction
    -- must outlive the message it withdraws.
    CREATE TABLE contribution_events (
        id               TEXT PRIMARY KEY NOT NULL,
        kind             TEXT NOT NULL CHECK (kind IN
                             ('message', 'rating', 'labels', 'ranking', 'reaction', 'retraction')),
        subject_id       TEXT NOT NULL,
        conversation_id  TEXT NOT NULL,
        payload          TEXT NOT NULL CHECK (json_valid(payload)),
        state            TEXT NOT NULL DEFAULT 'private' CHECK (state IN
                             ('private', 'queued', 'sent', 'accepted', 'rejected')),
        rejection_reason TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        CHECK ((state = 'rejected') = (rejection_reason IS NOT NULL))
    ) STRICT;
    CREATE INDEX contribution_events_by_state ON contribution_events (state, created_at);
    CREATE INDEX contribution_events_by_conversation ON contribution_events (conversation_id);
    -- What was recorded is never rewritten; only the consent state moves.
    CREATE TRIGGER contribution_events_are_immutable
    BEFORE UPDATE OF id, kind, subject_id, conversation_id, payload, created_at
    ON contribution_events
    BEGIN
        SELECT RAISE(ABORT, 'contribution events are immutable');
    END;

    -- Full-text index over message text. External content: the text is stored once, in
    -- messages, and the index follows it through triggers. It is keyed by the implicit rowid of
    -- messages; a VACUUM may renumber those, so anything that vacuums must rebuild the index.
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text,
        content = 'messages',
        content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TRIGGER messages_fts_after_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
    END;
    CREATE TRIGGER messages_fts_after_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    END;
    CREATE TRIGGER messages_fts_after_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
        INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
    END;
    -- Index the messages written before this version.
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    "#,
    // 3: each message's language (BCP-47), NULL when it could not be told. Messages written
    // before this version are filled in by `after_migration`, in the same transaction.
    r#"
    ALTER TABLE messages ADD COLUMN lang TEXT;
    "#,
    // 4: corrections, and prefix indexes for search-as-you-type.
    r#"
    -- A reply a person wrote in the assistant's place names the reply it corrects (a sibling).
    ALTER TABLE messages ADD COLUMN corrects_id TEXT REFERENCES messages(id) ON DELETE SET NULL;

    -- Corrections are their own kind of contribution. SQLite cannot change a CHECK constraint,
    -- so the outbox is rebuilt with its rows, indexes and trigger.
    CREATE TABLE contribution_events_v4 (
        id               TEXT PRIMARY KEY NOT NULL,
        kind             TEXT NOT NULL CHECK (kind IN
                             ('message', 'correction', 'rating', 'labels', 'ranking', 'reaction',
                              'retraction')),
        subject_id       TEXT NOT NULL,
        conversation_id  TEXT NOT NULL,
        payload          TEXT NOT NULL CHECK (json_valid(payload)),
        state            TEXT NOT NULL DEFAULT 'private' CHECK (state IN
                             ('private', 'queued', 'sent', 'accepted', 'rejected')),
        rejection_reason TEXT,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL,
        CHECK ((state = 'rejected') = (rejection_reason IS NOT NULL))
    ) STRICT;
    INSERT INTO contribution_events_v4
        (id, kind, subject_id, conversation_id, payload, state, rejection_reason, created_at,
         updated_at)
    SELECT id, kind, subject_id, conversation_id, payload, state, rejection_reason, created_at,
           updated_at
    FROM contribution_events;
    DROP TABLE contribution_events;
    ALTER TABLE contribution_events_v4 RENAME TO contribution_events;
    CREATE INDEX contribution_events_by_state ON contribution_events (state, created_at);
    CREATE INDEX contribution_events_by_conversation ON contribution_events (conversation_id);
    CREATE TRIGGER contribution_events_are_immutable
    BEFORE UPDATE OF id, kind, subject_id, conversation_id, payload, created_at
    ON contribution_events
    BEGIN
        SELECT RAISE(ABORT, 'contribution events are immutable');
    END;

    -- The same full-text index with prefix indexes for one to three characters: the last word
    -- typed is searched as a prefix, and without these a short prefix ("i", "th") merges the
    -- lists of thousands of words on every keystroke. The triggers of version 2 keep feeding it.
    DROP TABLE messages_fts;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        text,
        content = 'messages',
        content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2',
        prefix = '1 2 3'
    );
    INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
    "#,
    // 5: what the person chose: a conversation's system prompt and sampler, and the app's own
    // settings (theme, the model to run, whether the welcome was seen), as JSON values; and
    // when each message was last on the path shown, so that going back to a version returns to
    // where the person was in it.
    r#"
    ALTER TABLE messages ADD COLUMN viewed_at INTEGER;
    ALTER TABLE conversations ADD COLUMN settings TEXT
        CHECK (settings IS NULL OR json_valid(settings));
    CREATE TABLE app_settings (
        key   TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL CHECK (json_valid(value))
    ) STRICT;
    "#,
    // 6: what the person redacted before sharing, and the tasks they did or put aside.
    r#"
    -- The payload as it will be sent when the person replaced personal data in it; the
    -- recorded payload itself stays as it was (the immutability trigger does not cover this
    -- column), so the original remains on this computer only.
    ALTER TABLE contribution_events ADD COLUMN redacted_payload TEXT
        CHECK (redacted_payload IS NULL OR json_valid(redacted_payload));
    CREATE TABLE task_log (
        task_key TEXT NOT NULL,
        kind     TEXT NOT NULL,
        outcome  TEXT NOT NULL CHECK (outcome IN ('done', 'skipped')),
        at       INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX task_log_by_time ON task_log (at);
    CREATE INDEX task_log_by_key ON task_log (task_key, outcome);
    "#,
    // 7: tasks leased from the dataset server for offline work, with everything needed to do
    // them, and the task a contribution event completes.
    r#"
    CREATE TABLE leased_tasks (
        id         TEXT PRIMARY KEY NOT NULL,
        task       TEXT NOT NULL CHECK (json_valid(task)),
        expires_at INTEGER NOT NULL,
        leased_at  INTEGER NOT NULL,
        state      TEXT NOT NULL CHECK (state IN ('open', 'done', 'skipped')),
        ended_at   INTEGER
    ) STRICT;
    CREATE INDEX leased_tasks_open ON leased_tasks (state, leased_at);
    ALTER TABLE contribution_events ADD COLUMN task_id TEXT;
    "#,
    // 8: findings the person said are not personal data, so that the same false alarm is not
    // raised again. Kept by kind and a hash of the found text, never the text itself: a
    // dismissal made by mistake must not keep a copy of personal data after its conversation
    // is deleted.
    r#"
    CREATE TABLE dismissed_findings (
        kind         TEXT NOT NULL,
        text_hash    TEXT NOT NULL,
        dismissed_at INTEGER NOT NULL,
        PRIMARY KEY (kind, text_hash)
    ) STRICT;
    "#,
    // 9: where a conversation came from: NULL for the app's own chats, 'api' for one a program
    // held through the local API, so that the list can tell them apart.
    r#"
    ALTER TABLE conversations ADD COLUMN source TEXT
        CHECK (source IS NULL OR length(source) > 0);
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
    upgrade(conn, current, LATEST)
}

/// Applies the migrations from version `from` to version `to`, one transaction each.
fn upgrade(conn: &mut Connection, from: i64, to: i64) -> Result<()> {
    for (index, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(to as usize)
        .skip(from as usize)
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        after_migration(&tx, index as i64 + 1)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Creates a database at `path` at an older schema `version` (1 ..= latest), exactly as that
/// version of the app left it, so that tests can open every older version and migrate it.
#[doc(hidden)]
pub fn create_at_schema_version(path: &std::path::Path, version: i64) -> Result<()> {
    if !(1..=LATEST).contains(&version) {
        return Err(StoreError::InvalidInput(format!(
            "schema version {version} is not between 1 and {LATEST}"
        )));
    }
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    upgrade(&mut conn, 0, version)
}

/// Work a migration needs that SQL cannot do, run in the migration's transaction so that the
/// new version is only recorded once it is done.
fn after_migration(tx: &Transaction<'_>, version: i64) -> Result<()> {
    match version {
        // Language detection lives in Rust; existing messages get their language once, here.
        3 => lang::backfill(tx),
        _ => Ok(()),
    }
}
