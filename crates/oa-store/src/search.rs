//! Full-text search over every message, through the FTS5 index kept by migration 2.

use oa_types::{HIGHLIGHT_END, HIGHLIGHT_START, SearchHit};
use rusqlite::params;

use crate::store::parse_uuid;
use crate::{Result, Store};

/// Most hits one search returns, whatever the caller asks for.
pub const MAX_SEARCH_HITS: usize = 200;

/// Tokens of context around the matches in a snippet.
const SNIPPET_TOKENS: i64 = 12;

impl Store {
    /// Messages matching what the person typed, most relevant first, then newest first.
    ///
    /// Every word must occur (the last one may be the start of a word, for search-as-you-type).
    /// The input is never read as FTS5 syntax: quotes, `*`, `AND`, `NEAR`, parentheses and
    /// column filters are searched for as plain words, so no input can cause a syntax error.
    /// Input with no word in it finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(expression) = match_expression(query) else {
            return Ok(Vec::new());
        };
        let limit = limit.min(MAX_SEARCH_HITS);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare(
            "SELECT m.conversation_id, m.id, c.title,
                    snippet(messages_fts, 0, ?2, ?3, '…', ?4),
                    bm25(messages_fts) AS rank
             FROM messages_fts
             JOIN messages m ON m.rowid = messages_fts.rowid
             JOIN conversations c ON c.id = m.conversation_id
             WHERE messages_fts MATCH ?1
             ORDER BY rank, m.created_at DESC, m.id DESC
             LIMIT ?5",
        )?;
        let rows = stmt.query_map(
            params![
                expression,
                HIGHLIGHT_START.to_string(),
                HIGHLIGHT_END.to_string(),
                SNIPPET_TOKENS,
                limit as i64
            ],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, f64>(4)?,
                ))
            },
        )?;
        rows.map(|row| {
            let (conversation, message, title, snippet, rank) = row?;
            Ok(SearchHit {
                conversation_id: parse_uuid(&conversation)?,
                message_id: parse_uuid(&message)?,
                title,
                snippet,
                rank,
            })
        })
        .collect()
    }
}

/// Turns typed text into an FTS5 expression that only ever means "these words".
///
/// Each whitespace-separated word becomes a quoted string (inner quotes doubled), which FTS5
/// reads as a phrase and never as an operator. Words without a letter or digit are dropped: the
/// tokenizer would make empty phrases of them. The last word gets a prefix `*` outside its quotes.
fn match_expression(query: &str) -> Option<String> {
    let words: Vec<String> = query
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return None;
    }
    Some(format!("{}*", words.join(" ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_becomes_quoted_words() {
        assert_eq!(
            match_expression(r#"say "hi" AND *"#).as_deref(),
            Some(r#""say" """hi""" "AND"*"#)
        );
        assert_eq!(match_expression("  ( * \" - "), None);
    }
}
