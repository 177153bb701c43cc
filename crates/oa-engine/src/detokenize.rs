//! Streaming detokenization: text leaves the engine one token at a time, but never half a
//! character. Byte-level tokens can end in the middle of a UTF-8 sequence (emoji, CJK); such
//! pieces are held back until the character is complete.

use crate::Result;
use crate::tokenizer::ModelTokenizer;

/// Turns a stream of token ids into a stream of complete text pieces.
#[derive(Debug, Default)]
pub struct Detokenizer {
    ids: Vec<u32>,
    /// Start of the window that is decoded again for each new token: decoding a token alone
    /// loses the spaces and byte sequences it shares with its neighbours.
    prefix_start: usize,
    /// End of the part of the window already emitted.
    emitted_end: usize,
}

impl Detokenizer {
    /// A detokenizer with no tokens yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a token and returns the text it completes (possibly empty).
    pub fn push(&mut self, tokenizer: &ModelTokenizer, id: u32) -> Result<String> {
        let before = tokenizer.decode(&self.ids[self.prefix_start..self.emitted_end])?;
        self.ids.push(id);
        let now = tokenizer.decode(&self.ids[self.prefix_start..])?;
        if now.len() > before.len() && !now.ends_with('\u{FFFD}') && now.starts_with(&before) {
            let piece = now[before.len()..].to_owned();
            self.prefix_start = self.emitted_end;
            self.emitted_end = self.ids.len();
            Ok(piece)
        } else {
            Ok(String::new())
        }
    }

    /// Text still held back at the end of the stream. A character cut off by the end of the
    /// reply (the token budget ran out in the middle of an emoji) is dropped rather than shown
    /// as a replacement character.
    pub fn finish(&mut self, tokenizer: &ModelTokenizer) -> Result<String> {
        let before = tokenizer.decode(&self.ids[self.prefix_start..self.emitted_end])?;
        let now = tokenizer.decode(&self.ids[self.prefix_start..])?;
        self.prefix_start = self.ids.len();
        self.emitted_end = self.ids.len();
        let rest = now.strip_prefix(&before).unwrap_or_default();
        Ok(rest.trim_end_matches('\u{FFFD}').to_owned())
    }
}
