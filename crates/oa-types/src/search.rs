//! Full-text search results over the local conversations.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Marks the start of a matched term in [`SearchHit::snippet`]. A control character, so that it
/// never collides with what people type and the UI can split on it without escaping rules.
pub const HIGHLIGHT_START: char = '\u{2}';
/// Marks the end of a matched term in [`SearchHit::snippet`].
pub const HIGHLIGHT_END: char = '\u{3}';

/// A message that matches a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The conversation holding the message.
    pub conversation_id: Uuid,
    /// The matching message.
    pub message_id: Uuid,
    /// The conversation's title.
    pub title: String,
    /// An excerpt of the message with matched terms between [`HIGHLIGHT_START`] and
    /// [`HIGHLIGHT_END`].
    pub snippet: String,
    /// Relevance score (BM25); smaller is more relevant.
    pub rank: f64,
}

impl SearchHit {
    /// The snippet split into pieces, each flagged `true` when it is a matched term.
    pub fn snippet_parts(&self) -> Vec<(bool, &str)> {
        let mut parts = Vec::new();
        let mut rest = self.snippet.as_str();
        while let Some(start) = rest.find(HIGHLIGHT_START) {
            if start > 0 {
                parts.push((false, &rest[..start]));
            }
            let after = &rest[start + HIGHLIGHT_START.len_utf8()..];
            let end = after.find(HIGHLIGHT_END).unwrap_or(after.len());
            parts.push((true, &after[..end]));
            rest = after
                .get(end + HIGHLIGHT_END.len_utf8()..)
                .unwrap_or_default();
        }
        if !rest.is_empty() {
            parts.push((false, rest));
        }
        parts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_split_at_the_markers() {
        let hit = SearchHit {
            conversation_id: Uuid::nil(),
            message_id: Uuid::nil(),
            title: String::new(),
            snippet: "the \u{2}capital\u{3} of \u{2}France\u{3}".into(),
            rank: -1.0,
        };
        assert_eq!(
            hit.snippet_parts(),
            [
                (false, "the "),
                (true, "capital"),
                (false, " of "),
                (true, "France")
            ]
        );
    }
}
