//! The tokenizer, built from the GGUF file's own `tokenizer.ggml.*` metadata.
//!
//! A GGUF file carries its vocabulary, merges and pre-tokenizer name. The tokenizer is built from
//! those alone, following llama.cpp's reading of each field, and refuses a pre-tokenizer it does
//! not know instead of guessing — a wrong guess silently changes every token id. Two kinds exist:
//! byte-level BPE (`gpt2`: SmolLM2, Qwen, Llama 3) on the `tokenizers` crate, and
//! SentencePiece-style vocabularies with scores (`llama`: Gemma, Mistral, Phi-3) in [`crate::spm`].

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{AddedToken, PreTokenizerWrapper, Tokenizer};

use crate::gguf::GgufFile;
use crate::spm::{SpmVocab, token_type};
use crate::{EngineError, Result};

/// Kinds of vocabulary (`tokenizer.ggml.model`) this engine reads.
pub const SUPPORTED_TOKENIZER_MODELS: &[&str] = &["gpt2", "llama"];

/// Pre-tokenizers (`tokenizer.ggml.pre`) this engine reproduces exactly.
pub const SUPPORTED_PRE_TOKENIZERS: &[&str] = &["smollm", "gpt2", "default"];

/// A tokenizer plus the special tokens generation needs.
#[derive(Debug, Clone)]
pub struct ModelTokenizer {
    inner: Inner,
    tokens: Vec<String>,
    control: Vec<bool>,
    /// Beginning-of-sequence token, if the file names one.
    pub bos_id: Option<u32>,
    /// End-of-sequence token, if the file names one.
    pub eos_id: Option<u32>,
    /// Whether a prompt starts with the BOS token (`tokenizer.ggml.add_bos_token`).
    pub add_bos: bool,
    /// Turn-ending tokens, found once at load rather than by scanning the vocabulary per request.
    stop_ids: Vec<u32>,
}

#[derive(Debug, Clone)]
enum Inner {
    Bpe(Box<Tokenizer>),
    Spm(Box<SpmVocab>),
}

impl ModelTokenizer {
    /// Builds the tokenizer from the file's metadata.
    pub fn from_gguf(gguf: &GgufFile) -> Result<ModelTokenizer> {
        let model = gguf.get_str("tokenizer.ggml.model")?.unwrap_or("gpt2");
        let tokens: Vec<String> = gguf
            .get_str_array("tokenizer.ggml.tokens")?
            .ok_or_else(|| EngineError::BadMetadata {
                key: "tokenizer.ggml.tokens".into(),
                problem: "missing".into(),
            })?
            .into_iter()
            .map(str::to_owned)
            .collect();
        let types = gguf
            .get_i64_array("tokenizer.ggml.token_type")?
            .unwrap_or_default();
        let control: Vec<bool> = (0..tokens.len())
            .map(|i| types.get(i) == Some(&token_type::CONTROL))
            .collect();
        let id = |key: &str| -> Result<Option<u32>> {
            match gguf.get_u64(key)? {
                None => Ok(None),
                Some(id) if (id as usize) < tokens.len() => Ok(Some(id as u32)),
                Some(id) => Err(EngineError::BadMetadata {
                    key: key.into(),
                    problem: format!("{id}, beyond the vocabulary of {}", tokens.len()),
                }),
            }
        };
        let bos_id = id("tokenizer.ggml.bos_token_id")?;
        let eos_id = id("tokenizer.ggml.eos_token_id")?;
        let inner = match model {
            "gpt2" => Inner::Bpe(Box::new(bpe_tokenizer(gguf, &tokens, &control)?)),
            "llama" => {
                let scores = gguf
                    .get_f32_array("tokenizer.ggml.scores")?
                    .ok_or_else(|| EngineError::BadMetadata {
                        key: "tokenizer.ggml.scores".into(),
                        problem: "missing (a SentencePiece vocabulary needs scores)".into(),
                    })?;
                if scores.len() != tokens.len() {
                    return Err(EngineError::BadMetadata {
                        key: "tokenizer.ggml.scores".into(),
                        problem: format!(
                            "{} long for a vocabulary of {} tokens",
                            scores.len(),
                            tokens.len()
                        ),
                    });
                }
                let add_space_prefix = gguf
                    .get_bool("tokenizer.ggml.add_space_prefix")?
                    .unwrap_or(true);
                Inner::Spm(Box::new(SpmVocab::new(
                    tokens.clone(),
                    types,
                    scores,
                    add_space_prefix,
                    id("tokenizer.ggml.unknown_token_id")?,
                )))
            }
            other => {
                return Err(EngineError::UnsupportedTokenizer(format!(
                    "model `{other}` (tokenizer.ggml.model); supported: {}",
                    SUPPORTED_TOKENIZER_MODELS.join(", ")
                )));
            }
        };
        let add_bos = gguf
            .get_bool("tokenizer.ggml.add_bos_token")?
            .unwrap_or(matches!(inner, Inner::Spm(_)));
        let mut tokenizer = ModelTokenizer {
            inner,
            tokens,
            control,
            bos_id,
            eos_id,
            add_bos,
            stop_ids: Vec::new(),
        };
        tokenizer.stop_ids = tokenizer.find_stop_ids();
        Ok(tokenizer)
    }

    /// Token ids of `text`; control tokens written in the text (from the chat template) become
    /// their single special id.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match &self.inner {
            Inner::Bpe(tokenizer) => {
                let enc = tokenizer
                    .encode(text, false)
                    .map_err(|e| EngineError::Tokenize(e.to_string()))?;
                Ok(enc.get_ids().to_vec())
            }
            Inner::Spm(vocab) => Ok(vocab.encode(text, true)),
        }
    }

    /// Token ids of a rendered chat prompt, with BOS in front when the model wants one and the
    /// template did not write it.
    pub fn encode_prompt(&self, prompt: &str) -> Result<Vec<u32>> {
        let mut ids = self.encode(prompt)?;
        if let Some(bos) = self.bos_id.filter(|_| self.add_bos)
            && ids.first() != Some(&bos)
        {
            ids.insert(0, bos);
        }
        Ok(ids)
    }

    /// Text of `ids`, leaving out control tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        if let Some(&bad) = ids.iter().find(|&&id| id as usize >= self.tokens.len()) {
            return Err(EngineError::Tokenize(format!(
                "token {bad} is beyond the vocabulary of {}",
                self.tokens.len()
            )));
        }
        match &self.inner {
            Inner::Bpe(tokenizer) => tokenizer
                .decode(ids, true)
                .map_err(|e| EngineError::Tokenize(e.to_string())),
            Inner::Spm(vocab) => {
                Ok(String::from_utf8_lossy(&vocab.decode_bytes(ids, false)).into_owned())
            }
        }
    }

    /// The token's text as stored in the vocabulary.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The exact bytes token `id` stands for in text: a byte-level BPE token's characters
    /// mapped back to their bytes, a SentencePiece token with `▁` as a space and `<0xNN>` as
    /// that byte. A control token gives its written form (`<|im_end|>`), which text never
    /// holds: decoding leaves it out. `None` beyond the vocabulary.
    pub fn token_bytes(&self, id: u32) -> Option<Vec<u8>> {
        let text = self.tokens.get(id as usize)?;
        if self.is_control(id) {
            return Some(text.as_bytes().to_vec());
        }
        Some(match &self.inner {
            Inner::Bpe(_) => byte_level_bytes(text),
            Inner::Spm(vocab) => {
                // The vocabulary's own decoding knows byte tokens and user-defined ones; it
                // drops the space that starts a text, which a token in the middle keeps.
                let decoded = vocab.decode_bytes(&[id], true);
                let spaced = text.replace('\u{2581}', " ").into_bytes();
                if spaced.first() == Some(&b' ') && decoded == spaced[1..] {
                    spaced
                } else {
                    decoded
                }
            }
        })
    }

    /// The id of a token given by its exact text.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.tokens.iter().position(|t| t == text).map(|i| i as u32)
    }

    /// Whether `id` is a control token.
    pub fn is_control(&self, id: u32) -> bool {
        self.control.get(id as usize).copied().unwrap_or(false)
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Tokens that end a turn: the end-of-sequence token and the turn-end control tokens of
    /// common chat formats that the vocabulary holds.
    pub fn stop_ids(&self) -> &[u32] {
        &self.stop_ids
    }

    fn find_stop_ids(&self) -> Vec<u32> {
        let mut ids: Vec<u32> = self.eos_id.into_iter().collect();
        for text in [
            "<|im_end|>",
            "<|endoftext|>",
            "<|eot_id|>",
            "<end_of_turn>",
            "<|end|>",
        ] {
            if let Some(id) = self.token_id(text)
                && self.is_control(id)
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        ids
    }
}

/// GPT-2's byte-level alphabet: byte `b` is written as the character `BYTE_CHARS[b]`. Printable
/// bytes stand for themselves; the others (controls, space, and a few Latin-1 ones) take the
/// characters from U+0100 on, in byte order.
fn byte_chars() -> [char; 256] {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || b >= 0xAE;
    let mut chars = ['\0'; 256];
    let mut next = 256u32;
    for (b, c) in chars.iter_mut().enumerate() {
        let b = b as u8;
        *c = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
            next += 1;
            c
        };
    }
    chars
}

/// The bytes of a byte-level BPE token's text. A character outside the byte alphabet (a token
/// added as plain text) stands for its own UTF-8 bytes, as the byte-level decoder reads it.
fn byte_level_bytes(text: &str) -> Vec<u8> {
    static BYTES: std::sync::OnceLock<std::collections::HashMap<char, u8>> =
        std::sync::OnceLock::new();
    let bytes = BYTES.get_or_init(|| {
        byte_chars()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect()
    });
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match bytes.get(&c) {
            Some(&b) => out.push(b),
            None => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out
}

/// The byte-level BPE tokenizer of a `gpt2` vocabulary, with the file's pre-tokenizer.
fn bpe_tokenizer(gguf: &GgufFile, tokens: &[String], control: &[bool]) -> Result<Tokenizer> {
    let pre = gguf.get_str("tokenizer.ggml.pre")?.unwrap_or("default");
    let pre_tokenizer: PreTokenizerWrapper = match pre {
        // Digits one by one, then GPT-2's byte-level split without a prefix space.
        "smollm" => Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])
        .into(),
        "gpt2" | "default" => ByteLevel::new(false, true, true).into(),
        other => {
            return Err(EngineError::UnsupportedTokenizer(format!(
                "pre-tokenizer `{other}` (tokenizer.ggml.pre); supported: {}",
                SUPPORTED_PRE_TOKENIZERS.join(", ")
            )));
        }
    };

    let merges = gguf
        .get_str_array("tokenizer.ggml.merges")?
        .ok_or_else(|| EngineError::BadMetadata {
            key: "tokenizer.ggml.merges".into(),
            problem: "missing (a gpt2 tokenizer needs merges)".into(),
        })?;
    let merges = merges
        .iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| EngineError::BadMetadata {
                    key: "tokenizer.ggml.merges".into(),
                    problem: format!("holding `{m}`, not a pair separated by a space"),
                })
        })
        .collect::<Result<Vec<_>>>()?;

    let vocab: Vocab = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), i as u32))
        .collect();
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| EngineError::Tokenize(format!("cannot build BPE: {e}")))?;
    let mut inner = Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(pre_tokenizer));
    inner.with_decoder(Some(ByteLevelDecoder::default()));
    let specials: Vec<AddedToken> = tokens
        .iter()
        .zip(control)
        .filter(|(_, is_control)| **is_control)
        .map(|(t, _)| AddedToken::from(t.clone(), true))
        .collect();
    inner
        .add_special_tokens(specials)
        .map_err(|e| EngineError::Tokenize(format!("cannot add control tokens: {e}")))?;
    Ok(inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_level_alphabet_writes_every_byte_as_its_own_character() {
        let chars = byte_chars();
        let distinct: std::collections::HashSet<char> = chars.iter().copied().collect();
        assert_eq!(distinct.len(), 256);
        assert_eq!(chars[usize::from(b' ')], '\u{120}', "Ġ");
        assert_eq!(chars[usize::from(b'\n')], '\u{10A}', "Ċ");
        assert_eq!(chars[usize::from(b'a')], 'a');
        assert_eq!(byte_level_bytes("\u{120}hello\u{10A}"), b" hello\n");
        // "é" as GPT-2 writes its two UTF-8 bytes, 0xC3 0xA9.
        assert_eq!(byte_level_bytes("\u{C3}\u{A9}"), "é".as_bytes());
        for b in 0..=255u8 {
            assert_eq!(byte_level_bytes(&chars[usize::from(b)].to_string()), [b]);
        }
        // A character outside the alphabet is its own UTF-8.
        assert_eq!(byte_level_bytes("\u{4E2D}"), "中".as_bytes());
    }
}
