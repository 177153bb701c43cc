//! The language a message is written in, as a BCP-47 tag (`en`, `de`, `zh`, …), guessed
//! locally by [`oa_types::detect_lang`].

use rusqlite::{Transaction, params};

use crate::tree::load_message;
use crate::{Result, Store};

impl Store {
    /// The language a message is written in, as a BCP-47 tag (`en`, `de`, `zh`…), or `None`
    /// when it could not be told reliably (text too short or mixed).
    pub fn message_lang(&self, message_id: oa_types::Uuid) -> Result<Option<String>> {
        load_message(&self.conn, message_id)?;
        Ok(self.conn.query_row(
            "SELECT lang FROM messages WHERE id = ?1",
            [message_id.to_string()],
            |r| r.get(0),
        )?)
    }
}

/// Fills the language of every message stored before the `lang` column existed.
pub(crate) fn backfill(tx: &Transaction<'_>) -> Result<()> {
    let rows: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, text FROM messages WHERE lang IS NULL")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?
    };
    let mut update = tx.prepare("UPDATE messages SET lang = ?1 WHERE id = ?2")?;
    for (id, text) in rows {
        if let Some(lang) = oa_types::detect_lang(&text) {
            update.execute(params![lang, id])?;
        }
    }
    Ok(())
}
