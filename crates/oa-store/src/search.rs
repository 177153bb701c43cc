//! Full-text search over every message, through the FTS5 index kept by migration 2.

use oa_types::{HIGHLIGHT_END, HIGHLIGHT_START, SearchHit};
use rusqlite::params;

use crate::store::parse_uuid;
use crate::{Result, Store};

/// Most hits one search returns, whatever the caller asks for.
pub const MAX_SEARCH_HITS: usize = 200;

/// How many of the newest matching messages are ranked by relevance. A word that occurs in
/// most messages ("the") would otherwise have every one of them scored and sorted on each
/// keystroke; with this window, a search costs the same at 100,000 messages as at 2,000, and
/// the newest matches win, which is what a person looking back through their chats expects.
/// Rarer words have fewer matches than this, so all of them are ranked.
pub const RANKED_MATCHES: usize = 2_000;

/// Tokens of context around the matches in a snippet.
const SNIPPET_TOKENS: i64 = 12;

impl Store {
    /// Messages matching what the person typed, most relevant first, then newest first.
    ///
    /// Every word must occur (the last one may be the start of a word, for search-as-you-type).
    /// The input is never read as FTS5 syntax: quotes, `*`, `AND`, `NEAR`, parentheses and
    /// column filters are searched for as plain words, so no input can cause a syntax error.
    /// Input with no word in it finds nothing. Relevance (bm25) is measured among the
    /// [`RANKED_MATCHES`] newest matches.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>> {
        let Some(expression) = match_expression(query) else {
            return Ok(Vec::new());
        };
        let limit = limit.min(MAX_SEARCH_HITS);
        if limit == 0 {
            return Ok(Vec::new());
        }
        // First the best rows by relevance among the newest matches: index work only.
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, relevance FROM (
                 SELECT rowid, bm25(messages_fts) AS relevance FROM messages_fts
                 WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2
             )
             ORDER BY relevance, rowid DESC LIMIT ?3",
        )?;
        let best = stmt
            .query_map(
                params![expression, RANKED_MATCHES as i64, limit as i64],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, f64>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (Some(low), Some(high)) = (
            best.iter().map(|(rowid, _)| *rowid).min(),
            best.iter().map(|(rowid, _)| *rowid).max(),
        ) else {
            return Ok(Vec::new());
        };
        // Then snippets for those rows only, in one pass over the match limited to their rowid
        // range. Looking each row up on its own would evaluate the match again per row, which
        // for a prefix means merging the lists of every word it starts.
        let rowids = serde_json::to_string(&best.iter().map(|(r, _)| *r).collect::<Vec<_>>())
            .map_err(|e| crate::StoreError::InvalidInput(format!("search: {e}")))?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT f.rowid, m.conversation_id, m.id, c.title,
                    snippet(messages_fts, 0, ?2, ?3, '…', ?4)
             FROM messages_fts f
             CROSS JOIN messages m ON m.rowid = f.rowid
             CROSS JOIN conversations c ON c.id = m.conversation_id
             WHERE messages_fts MATCH ?1 AND f.rowid BETWEEN ?5 AND ?6
               AND +f.rowid IN (SELECT value FROM json_each(?7))",
        )?;
        let mut found = std::collections::HashMap::with_capacity(best.len());
        let rows = stmt.query_map(
            params![
                expression,
                HIGHLIGHT_START.to_string(),
                HIGHLIGHT_END.to_string(),
                SNIPPET_TOKENS,
                low,
                high,
                rowids
            ],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    (
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ),
                ))
            },
        )?;
        for row in rows {
            let (rowid, hit) = row?;
            found.insert(rowid, hit);
        }
        best.into_iter()
            .filter_map(|(rowid, rank)| found.remove(&rowid).map(|hit| (hit, rank)))
            .map(|((conversation, message, title, snippet), rank)| {
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
