//! Findings of personal data the person marked "not personal": remembered by kind and a hash
//! of the found text, so the same false alarm is not raised again, until they take it back.
//!
//! The store does not know how the hash is made; the caller hashes the text the same way when
//! it dismisses a finding and when it checks one.

use std::collections::HashSet;

use rusqlite::params;

use crate::store::now_ms;
use crate::{Result, Store, StoreError};

impl Store {
    /// Remembers that findings of `kind` whose text hashes to `text_hash` are not personal
    /// data. Dismissing the same one again changes nothing.
    pub fn dismiss_finding(&mut self, kind: &str, text_hash: &str) -> Result<()> {
        check(kind, text_hash)?;
        self.conn.execute(
            "INSERT INTO dismissed_findings (kind, text_hash, dismissed_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind, text_hash) DO NOTHING",
            params![kind, text_hash, now_ms()],
        )?;
        Ok(())
    }

    /// Forgets a dismissal, so such findings are raised again; forgetting one that was never
    /// made changes nothing.
    pub fn restore_finding(&mut self, kind: &str, text_hash: &str) -> Result<()> {
        check(kind, text_hash)?;
        self.conn.execute(
            "DELETE FROM dismissed_findings WHERE kind = ?1 AND text_hash = ?2",
            params![kind, text_hash],
        )?;
        Ok(())
    }

    /// Every dismissal, as `(kind, text hash)`.
    pub fn dismissed_findings(&self) -> Result<HashSet<(String, String)>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT kind, text_hash FROM dismissed_findings")?;
        let rows = statement.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

fn check(kind: &str, text_hash: &str) -> Result<()> {
    if kind.trim().is_empty() || text_hash.trim().is_empty() {
        return Err(StoreError::InvalidInput(
            "a dismissed finding needs its kind and its text".into(),
        ));
    }
    Ok(())
}
