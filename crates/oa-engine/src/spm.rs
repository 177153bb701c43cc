//! SentencePiece-style tokenization of `tokenizer.ggml.model = "llama"` vocabularies (Gemma,
//! Llama 2, Mistral), as llama.cpp does it.
//!
//! These files carry no merges, only a score per token. Text is split into UTF-8 characters and
//! adjacent pieces are merged, highest-scoring resulting token first (leftmost on ties), for as
//! long as the merged text is a token. A piece that is not a token falls back to its bytes
//! (`<0xAB>` tokens). Spaces are written as `▁`. Before that, the text is cut at special tokens:
//! user-defined tokens always (Gemma's runs of newlines and tabs, HTML tags), control tokens when
//! asked to (the chat template's `<start_of_turn>`), the longest token first.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

/// llama.cpp's token types.
pub(crate) mod token_type {
    pub const NORMAL: i64 = 1;
    pub const UNKNOWN: i64 = 2;
    pub const CONTROL: i64 = 3;
    pub const USER_DEFINED: i64 = 4;
    pub const BYTE: i64 = 6;
}

/// SentencePiece writes spaces as this character.
const SPACE: char = '\u{2581}';

/// A SentencePiece vocabulary with scores.
#[derive(Debug, Clone)]
pub struct SpmVocab {
    tokens: Vec<String>,
    types: Vec<i64>,
    scores: Vec<f32>,
    ids: HashMap<String, u32>,
    byte_ids: [Option<u32>; 256],
    /// Special tokens in the order they cut the text: longest first.
    specials: Vec<u32>,
    add_space_prefix: bool,
    unknown_id: Option<u32>,
}

/// A piece of the input: text still to tokenize, or a special token already found.
enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

#[derive(Debug, PartialEq)]
struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    len: usize,
}

impl Eq for Bigram {}

impl Ord for Bigram {
    /// Highest score first, then leftmost.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

impl SpmVocab {
    /// A vocabulary from the file's token texts, types and scores.
    pub fn new(
        tokens: Vec<String>,
        types: Vec<i64>,
        scores: Vec<f32>,
        add_space_prefix: bool,
        unknown_id: Option<u32>,
    ) -> SpmVocab {
        let ids: HashMap<String, u32> = tokens
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        let mut byte_ids = [None; 256];
        for (byte, slot) in byte_ids.iter_mut().enumerate() {
            *slot = ids.get(&format!("<0x{byte:02X}>")).copied();
        }
        let mut specials: Vec<u32> = (0..tokens.len() as u32)
            .filter(|&i| {
                matches!(
                    types.get(i as usize),
                    Some(&token_type::CONTROL | &token_type::USER_DEFINED)
                ) && !tokens[i as usize].is_empty()
            })
            .collect();
        specials.sort_by(|&a, &b| {
            tokens[b as usize]
                .len()
                .cmp(&tokens[a as usize].len())
                .then(a.cmp(&b))
        });
        SpmVocab {
            tokens,
            types,
            scores,
            ids,
            byte_ids,
            specials,
            add_space_prefix,
            unknown_id,
        }
    }

    fn token_type(&self, id: u32) -> i64 {
        self.types
            .get(id as usize)
            .copied()
            .unwrap_or(token_type::NORMAL)
    }

    /// Token ids of `text`. With `parse_special`, control tokens written in the text become
    /// their ids; user-defined tokens always do.
    pub fn encode(&self, text: &str, parse_special: bool) -> Vec<u32> {
        let mut output = Vec::new();
        let mut previous_was_special = true;
        for fragment in self.partition(text, parse_special) {
            match fragment {
                Fragment::Token(id) => {
                    output.push(id);
                    previous_was_special = true;
                }
                Fragment::Text(raw) => {
                    let mut text = String::with_capacity(raw.len() + 3);
                    if self.add_space_prefix && previous_was_special {
                        text.push(' ');
                    }
                    text.push_str(raw);
                    let text = text.replace(' ', &SPACE.to_string());
                    self.encode_piece(&text, &mut output);
                    previous_was_special = false;
                }
            }
        }
        output
    }

    /// Cuts `text` at special tokens, longest first, as llama.cpp does.
    fn partition<'a>(&self, text: &'a str, parse_special: bool) -> Vec<Fragment<'a>> {
        let mut fragments = vec![Fragment::Text(text)];
        for &id in &self.specials {
            if !parse_special && self.token_type(id) == token_type::CONTROL {
                continue;
            }
            let special = self.tokens[id as usize].as_str();
            if !text.contains(special) {
                continue;
            }
            let mut next = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                let Fragment::Text(mut rest) = fragment else {
                    next.push(fragment);
                    continue;
                };
                while let Some(at) = rest.find(special) {
                    if at > 0 {
                        next.push(Fragment::Text(&rest[..at]));
                    }
                    next.push(Fragment::Token(id));
                    rest = &rest[at + special.len()..];
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            fragments = next;
        }
        fragments
    }

    /// The score-driven merge of one stretch of text (spaces already written as `▁`).
    fn encode_piece(&self, text: &str, output: &mut Vec<u32>) {
        let mut symbols: Vec<Symbol> = Vec::with_capacity(text.len());
        for (index, (start, c)) in text.char_indices().enumerate() {
            symbols.push(Symbol {
                start,
                len: c.len_utf8(),
                prev: index.checked_sub(1),
                next: None,
            });
        }
        let count = symbols.len();
        for (i, symbol) in symbols.iter_mut().enumerate() {
            symbol.next = (i + 1 < count).then_some(i + 1);
        }
        let mut queue = BinaryHeap::new();
        let try_add = |queue: &mut BinaryHeap<Bigram>, symbols: &[Symbol], left: usize| {
            let Some(right) = symbols[left].next else {
                return;
            };
            let (l, r) = (symbols[left], symbols[right]);
            let merged = &text[l.start..r.start + r.len];
            if let Some(&id) = self.ids.get(merged) {
                queue.push(Bigram {
                    left,
                    right,
                    score: self.scores.get(id as usize).copied().unwrap_or(0.0),
                    len: merged.len(),
                });
            }
        };
        for left in 0..count.saturating_sub(1) {
            try_add(&mut queue, &symbols, left);
        }
        while let Some(bigram) = queue.pop() {
            let (l, r) = (symbols[bigram.left], symbols[bigram.right]);
            // Skip pairs one of whose sides has merged since the pair was queued.
            if l.len == 0
                || r.len == 0
                || l.len + r.len != bigram.len
                || l.next != Some(bigram.right)
            {
                continue;
            }
            symbols[bigram.left].len += r.len;
            symbols[bigram.right].len = 0;
            symbols[bigram.left].next = r.next;
            if let Some(next) = r.next {
                symbols[next].prev = Some(bigram.left);
            }
            if let Some(prev) = l.prev {
                try_add(&mut queue, &symbols, prev);
            }
            try_add(&mut queue, &symbols, bigram.left);
        }
        let mut at = (count > 0).then_some(0);
        while let Some(i) = at {
            let symbol = symbols[i];
            let piece = &text[symbol.start..symbol.start + symbol.len];
            match self.ids.get(piece) {
                Some(&id) => output.push(id),
                None => {
                    for byte in piece.bytes() {
                        if let Some(id) = self.byte_ids[byte as usize].or(self.unknown_id) {
                            output.push(id);
                        }
                    }
                }
            }
            at = symbol.next;
        }
    }

    /// The bytes `ids` stand for; control and unknown tokens are left out unless `special`.
    pub fn decode_bytes(&self, ids: &[u32], special: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            let Some(text) = self.tokens.get(id as usize) else {
                continue;
            };
            match self.token_type(id) {
                token_type::CONTROL | token_type::UNKNOWN => {
                    if special {
                        out.extend_from_slice(text.as_bytes());
                    }
                }
                token_type::USER_DEFINED => out.extend_from_slice(text.as_bytes()),
                token_type::BYTE => {
                    if let Some(byte) = text
                        .strip_prefix("<0x")
                        .and_then(|t| t.strip_suffix('>'))
                        .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                    {
                        out.push(byte);
                    }
                }
                _ => out.extend_from_slice(text.replace(SPACE, " ").as_bytes()),
            }
        }
        if self.add_space_prefix && out.first() == Some(&b' ') {
            out.remove(0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> SpmVocab {
        let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>", "<turn>", "\n\n"]
            .map(String::from)
            .to_vec();
        let mut types = vec![2, 3, 3, 3, 4];
        let mut scores = vec![0.0; 5];
        for byte in 0..=255u8 {
            tokens.push(format!("<0x{byte:02X}>"));
            types.push(token_type::BYTE);
            scores.push(0.0);
        }
        for (text, score) in [
            ("▁", -1.0),
            ("h", -2.0),
            ("e", -2.0),
            ("l", -2.0),
            ("o", -2.0),
            ("he", -3.0),
            ("ll", -3.0),
            ("llo", -4.0),
            ("hello", -5.0),
            ("▁hello", -6.0),
            ("lo", -2.5),
        ] {
            tokens.push(text.into());
            types.push(token_type::NORMAL);
            scores.push(score);
        }
        SpmVocab::new(tokens, types, scores, false, Some(0))
    }

    fn texts(v: &SpmVocab, ids: &[u32]) -> Vec<String> {
        ids.iter().map(|&i| v.tokens[i as usize].clone()).collect()
    }

    #[test]
    fn merges_follow_scores_and_unknown_characters_fall_back_to_bytes() {
        let v = vocab();
        assert_eq!(texts(&v, &v.encode(" hello", false)), ["▁hello"]);
        // "é" is not a token: its two UTF-8 bytes.
        assert_eq!(texts(&v, &v.encode("hé", false)), ["h", "<0xC3>", "<0xA9>"]);
        let ids = v.encode("hé", false);
        assert_eq!(v.decode_bytes(&ids, false), "hé".as_bytes());
    }

    #[test]
    fn specials_cut_the_text_and_control_tokens_only_when_asked() {
        let v = vocab();
        assert_eq!(
            texts(&v, &v.encode("<turn>hello\n\nhe", true)),
            ["<turn>", "hello", "\n\n", "he"]
        );
        let plain = texts(&v, &v.encode("<turn>", false));
        assert!(plain.iter().all(|t| t.starts_with("<0x")), "{plain:?}");
        let ids = v.encode("<turn>hello", true);
        assert_eq!(v.decode_bytes(&ids, false), b"hello");
        assert_eq!(v.decode_bytes(&ids, true), b"<turn>hello");
    }
}
