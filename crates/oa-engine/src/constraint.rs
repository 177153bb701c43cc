//! Constrained decoding: a reply held to a JSON schema or a grammar, token by token.
//!
//! llguidance compiles a constraint into a matcher that says, before each token, which tokens of
//! the vocabulary keep the reply on track; the sampler chooses among those only. It works on the
//! bytes each token writes, so the vocabulary is handed to it once per model as a token trie
//! ([`ConstraintCompiler::new`]: SentencePiece spaces and byte tokens and byte-level BPE
//! characters mapped back to bytes, control tokens marked as special so that no text matches
//! them, the model's turn-ending tokens as its end of sequence). Compiling is bounded
//! ([`limits`]) so that a hostile schema costs the person an error, not the engine thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use llguidance::api::{ParserLimits, TopLevelGrammar};
use llguidance::{Matcher, ParserFactory};
use serde_json::{Value, json};
use toktrie::{ApproximateTokEnv, TokRxInfo, TokTrie, TokenizerEnv};

use crate::sampler::AllowedTokens;
use crate::tokenizer::ModelTokenizer;
use crate::{EngineError, Result};

/// What shape a reply must have.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum OutputConstraint {
    /// Any text.
    #[default]
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against a JSON schema.
    JsonSchema(Value),
    /// Text in the language of a Lark grammar (llguidance's dialect, which may embed JSON
    /// schemas with `%json`).
    Lark(String),
}

/// Longest token, in bytes, that constrained replies may use. The token trie cannot hold much
/// longer ones; no real vocabulary has them (a file that does loses only those tokens).
const MAX_TOKEN_BYTES: usize = 512;

/// Deepest nesting of a JSON schema (objects and arrays inside each other) or of a Lark
/// grammar's brackets that is compiled. Compiling recurses along the nesting; real schemas
/// stay far below this.
pub const MAX_NESTING: usize = 64;

/// Longest Lark grammar compiled, in bytes.
pub const MAX_GRAMMAR_BYTES: usize = 256 * 1024;

/// Whitespace between the parts of JSON: any of JSON's four whitespace characters, but at most
/// this many in a row. Without a bound a small model can fill its whole token budget with
/// newlines inside an object it never closes.
const JSON_WHITESPACE: &str = r"[\x20\x0A\x0D\x09]{1,24}";

/// What llguidance may spend on one constraint. Its defaults allow multi-megabyte schemas and
/// about 250,000 lexer states (up to half a gigabyte); these allow what requests need, and
/// bound each token's mask to a few milliseconds of work.
pub fn limits() -> ParserLimits {
    ParserLimits {
        max_items_in_row: 2_000,
        initial_lexer_fuel: 1_000_000,
        step_lexer_fuel: 200_000,
        step_max_items: 50_000,
        max_lexer_states: 50_000,
        max_grammar_size: 200_000,
        precompute_large_lexemes: true,
        verbose_errors: false,
    }
}

/// Compiles output constraints for one model's vocabulary. Built once per loaded model, when
/// the first constrained request comes: building the trie and its lexer slices takes a moment
/// that plain chat need not pay.
pub struct ConstraintCompiler {
    factory: ParserFactory,
    stop_ids: Vec<u32>,
}

impl std::fmt::Debug for ConstraintCompiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConstraintCompiler")
            .field("stop_ids", &self.stop_ids)
            .finish_non_exhaustive()
    }
}

impl ConstraintCompiler {
    /// A compiler for `tokenizer`'s vocabulary. Fails on a vocabulary llguidance cannot hold
    /// (no turn-ending token, more than 16 million tokens).
    pub fn new(tokenizer: &ModelTokenizer) -> Result<ConstraintCompiler> {
        let stop_ids = tokenizer.stop_ids().to_vec();
        let Some(&eos) = stop_ids.first() else {
            return Err(EngineError::ConstraintFailed(
                "this model names no end-of-turn token, so a reply held to a format could \
                 never end"
                    .into(),
            ));
        };
        let vocab_size = tokenizer.vocab_size();
        if vocab_size >= 0xff_ffff {
            return Err(EngineError::ConstraintFailed(format!(
                "this model's vocabulary of {vocab_size} tokens is too large for formats"
            )));
        }
        let words = trie_words(tokenizer);
        let info = TokRxInfo {
            vocab_size: vocab_size as u32,
            tok_eos: eos,
            tok_bos: tokenizer.bos_id,
            tok_pad: None,
            tok_unk: None,
            tok_end_of_turn: None,
        };
        // The trie checks its input with assertions; the checks above keep them true, and a
        // vocabulary that still sets one off costs this feature, not the engine thread.
        let factory = catch_unwind(AssertUnwindSafe(|| {
            let trie = TokTrie::from(&info, &words).with_eos_tokens(&stop_ids);
            let env: Arc<dyn TokenizerEnv + Sync> = Arc::new(ApproximateTokEnv::new(trie));
            ParserFactory::new_simple(&env).map(|mut factory| {
                factory.quiet();
                *factory.limits_mut() = limits();
                factory
            })
        }))
        .map_err(|_| {
            EngineError::ConstraintFailed(
                "this model's vocabulary cannot be used for formats".into(),
            )
        })?
        .map_err(|e| EngineError::ConstraintFailed(format!("preparing formats failed: {e}")))?;
        Ok(ConstraintCompiler { factory, stop_ids })
    }

    /// A matcher for one reply held to `constraint`; `None` for free text. A schema or grammar
    /// that llguidance refuses, or that is too large or deep to compile, is
    /// [`EngineError::InvalidRequest`] with llguidance's reason.
    pub fn matcher(&self, constraint: &OutputConstraint) -> Result<Option<TokenConstraint>> {
        let grammar = match constraint {
            OutputConstraint::Text => return Ok(None),
            OutputConstraint::JsonObject => json_grammar(json!({ "type": "object" })),
            OutputConstraint::JsonSchema(schema) => {
                check_schema(schema)?;
                json_grammar(schema.clone())
            }
            OutputConstraint::Lark(text) => {
                check_grammar(text)?;
                TopLevelGrammar::from_lark(text.clone())
            }
        };
        let what = match constraint {
            OutputConstraint::Lark(_) => "grammar",
            _ => "JSON schema",
        };
        let refused = |reason: String| {
            EngineError::InvalidRequest(format!("the {what} cannot be used: {reason}"))
        };
        let parser = catch_unwind(AssertUnwindSafe(|| self.factory.create_parser(grammar)))
            .map_err(|_| refused("compiling it failed unexpectedly".into()))?
            .map_err(|e| refused(clean(&e.to_string())))?;
        let matcher = Matcher::new(Ok(parser));
        if let Some(e) = matcher.get_error() {
            return Err(refused(clean(&e)));
        }
        Ok(Some(TokenConstraint {
            matcher,
            stop_ids: self.stop_ids.clone(),
        }))
    }
}

/// What a constraint lets come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextTokens {
    /// The reply is complete: nothing but the end of the turn may follow.
    Finished,
    /// These tokens may follow (the turn-ending tokens among them when the reply may end
    /// here).
    Allowed(AllowedTokens),
}

/// One reply's constraint: which tokens may come next, advanced by each token chosen.
pub struct TokenConstraint {
    matcher: Matcher,
    stop_ids: Vec<u32>,
}

impl std::fmt::Debug for TokenConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConstraint")
            .field("stopped", &self.matcher.is_stopped())
            .finish_non_exhaustive()
    }
}

impl TokenConstraint {
    /// The tokens that may come next. A matcher that fails (its grammar ran out of the fuel a
    /// token may use) is [`EngineError::ConstraintFailed`].
    pub fn next_tokens(&mut self) -> Result<NextTokens> {
        if self.matcher.is_stopped() {
            return self.failure().map_or(Ok(NextTokens::Finished), Err);
        }
        let mask = self.matcher.compute_mask().map_err(|e| failed(&e))?;
        let allowed = AllowedTokens::from_words(mask.as_slice().to_vec());
        if allowed.ids().all(|id| self.stop_ids.contains(&id)) && allowed.count() > 0 {
            return Ok(NextTokens::Finished);
        }
        Ok(NextTokens::Allowed(allowed))
    }

    /// Advances past token `id`, which [`TokenConstraint::next_tokens`] allowed.
    pub fn accept(&mut self, id: u32) -> Result<()> {
        self.matcher.consume_token(id).map_err(|e| failed(&e))
    }

    fn failure(&self) -> Option<EngineError> {
        self.matcher
            .get_error()
            .map(|e| EngineError::ConstraintFailed(clean(&e)))
    }
}

fn failed(e: &impl std::fmt::Display) -> EngineError {
    EngineError::ConstraintFailed(clean(&e.to_string()))
}

/// llguidance's message without the marker it appends to short errors.
fn clean(message: &str) -> String {
    message
        .trim_end()
        .trim_end_matches("<non-verbose/>")
        .trim_end()
        .to_owned()
}

/// A JSON schema's grammar, with bounded whitespace unless the schema sets its own
/// (`x-guidance`).
fn json_grammar(mut schema: Value) -> TopLevelGrammar {
    if let Value::Object(map) = &mut schema
        && !map.contains_key("x-guidance")
    {
        map.insert(
            "x-guidance".into(),
            json!({ "whitespace_pattern": JSON_WHITESPACE }),
        );
    }
    TopLevelGrammar::from_json_schema(schema)
}

/// Refuses a schema nested deeper than [`MAX_NESTING`], walked without recursion.
fn check_schema(schema: &Value) -> Result<()> {
    let mut stack = vec![(schema, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_NESTING {
            return Err(EngineError::InvalidRequest(format!(
                "the JSON schema is nested more than {MAX_NESTING} levels deep"
            )));
        }
        match value {
            Value::Object(map) => stack.extend(map.values().map(|v| (v, depth + 1))),
            Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
            _ => {}
        }
    }
    Ok(())
}

/// Refuses a grammar longer than [`MAX_GRAMMAR_BYTES`] or whose brackets nest deeper than
/// [`MAX_NESTING`] (counted outside its quoted strings).
fn check_grammar(text: &str) -> Result<()> {
    if text.len() > MAX_GRAMMAR_BYTES {
        return Err(EngineError::InvalidRequest(format!(
            "the grammar is {} bytes long; at most {MAX_GRAMMAR_BYTES} are accepted",
            text.len()
        )));
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(EngineError::InvalidRequest(format!(
                        "the grammar's brackets nest more than {MAX_NESTING} levels deep"
                    )));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Each token's bytes as llguidance reads them: the text it writes, a control token as its
/// name after toktrie's special-token marker (0xFF, a byte no text holds), an overlong token
/// as nothing (never allowed).
fn trie_words(tokenizer: &ModelTokenizer) -> Vec<Vec<u8>> {
    (0..tokenizer.vocab_size() as u32)
        .map(|id| {
            let bytes = tokenizer.token_bytes(id).unwrap_or_default();
            if bytes.len() > MAX_TOKEN_BYTES {
                Vec::new()
            } else if tokenizer.is_control(id) {
                let mut special = Vec::with_capacity(bytes.len() + 1);
                special.push(TokTrie::SPECIAL_TOKEN_MARKER);
                special.extend_from_slice(&bytes);
                special
            } else {
                bytes
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::GgufFile;

    fn tokenizer(path: std::path::PathBuf) -> ModelTokenizer {
        ModelTokenizer::from_gguf(&GgufFile::open(&path).unwrap()).unwrap()
    }

    fn smollm2() -> ModelTokenizer {
        tokenizer(crate::testing::default_model())
    }

    /// The trie's bytes of the tokens that encode each text are that text, and control
    /// tokens are marked special.
    fn check_words(tok: &ModelTokenizer, texts: &[&str], control: &str) {
        let words = trie_words(tok);
        assert_eq!(words.len(), tok.vocab_size());
        for text in texts {
            let ids = tok.encode(text).unwrap();
            let bytes: Vec<u8> = ids
                .iter()
                .flat_map(|&id| words[id as usize].clone())
                .collect();
            assert_eq!(String::from_utf8_lossy(&bytes), *text, "{ids:?}");
        }
        let id = tok.token_id(control).unwrap();
        assert!(tok.is_control(id));
        let mut marked = vec![TokTrie::SPECIAL_TOKEN_MARKER];
        marked.extend_from_slice(control.as_bytes());
        assert_eq!(words[id as usize], marked);
        assert_eq!(tok.token_bytes(id).unwrap(), control.as_bytes());
    }

    #[test]
    fn byte_level_vocabularies_map_back_to_their_bytes() {
        let tok = smollm2();
        check_words(
            &tok,
            &[
                "Hello, world!",
                " leading space\nand\ttabs  ",
                "naïve café 😀 東京",
                "{\"a\": [1, 2]}",
            ],
            "<|im_end|>",
        );
        let id = tok.encode(" hello").unwrap();
        assert_eq!(id.len(), 1);
        assert_eq!(tok.token(id[0]), Some("\u{120}hello"));
        assert_eq!(tok.token_bytes(id[0]).unwrap(), b" hello");
    }

    #[test]
    fn sentencepiece_vocabularies_map_spaces_and_byte_tokens() {
        let tok = tokenizer(crate::testing::gemma_model());
        check_words(
            &tok,
            &["Hello, world! two  spaces", "naïve café 😀 東京\n\n"],
            "<start_of_turn>",
        );
        let space_word = tok.token_id("\u{2581}world").unwrap();
        assert_eq!(tok.token_bytes(space_word).unwrap(), b" world");
        let newline = tok.token_id("<0x0A>").unwrap();
        assert_eq!(tok.token_bytes(newline).unwrap(), b"\n");
    }

    fn compiler() -> (ModelTokenizer, ConstraintCompiler) {
        let tok = smollm2();
        let compiler = ConstraintCompiler::new(&tok).unwrap();
        (tok, compiler)
    }

    fn allowed(c: &mut TokenConstraint) -> AllowedTokens {
        match c.next_tokens().unwrap() {
            NextTokens::Allowed(a) => a,
            NextTokens::Finished => panic!("finished too early"),
        }
    }

    #[test]
    fn a_grammar_allows_only_its_own_tokens_and_then_ends() {
        let (tok, compiler) = compiler();
        let mut c = compiler
            .matcher(&OutputConstraint::Lark(r#"start: "yes" | "no""#.into()))
            .unwrap()
            .unwrap();
        let first = allowed(&mut c);
        let id = |t: &str| tok.token_id(t).unwrap();
        assert!(first.contains(id("yes")) && first.contains(id("no")));
        assert!(first.contains(id("y")), "a prefix of an answer");
        assert!(!first.contains(id("maybe")) && !first.contains(id("\u{120}yes")));
        assert!(tok.stop_ids().iter().all(|&s| !first.contains(s)));
        c.accept(id("yes")).unwrap();
        assert_eq!(c.next_tokens().unwrap(), NextTokens::Finished);
        assert!(matches!(
            compiler.matcher(&OutputConstraint::Text),
            Ok(None)
        ));
    }

    #[test]
    fn a_json_object_may_end_only_once_it_is_closed() {
        let (tok, compiler) = compiler();
        let mut c = compiler
            .matcher(&OutputConstraint::JsonObject)
            .unwrap()
            .unwrap();
        let first = allowed(&mut c);
        assert!(first.contains(tok.token_id("{").unwrap()));
        assert!(!first.contains(tok.token_id("[").unwrap()));
        assert!(tok.stop_ids().iter().all(|&s| !first.contains(s)));
        for id in tok.encode("{\"a\": 1").unwrap() {
            assert!(allowed(&mut c).contains(id));
            c.accept(id).unwrap();
        }
        assert!(!allowed(&mut c).contains(tok.stop_ids()[0]));
        let close = tok.token_id("}").unwrap();
        assert!(allowed(&mut c).contains(close));
        c.accept(close).unwrap();
        assert_eq!(c.next_tokens().unwrap(), NextTokens::Finished);
    }

    #[test]
    fn whitespace_between_json_parts_is_bounded() {
        let (tok, compiler) = compiler();
        let mut c = compiler
            .matcher(&OutputConstraint::JsonObject)
            .unwrap()
            .unwrap();
        let space = tok.encode(" ").unwrap()[0];
        let open = tok.token_id("{").unwrap();
        assert!(
            !allowed(&mut c).contains(space),
            "nothing before the object"
        );
        c.accept(open).unwrap();
        let mut spaces = 0;
        while allowed(&mut c).contains(space) {
            c.accept(space).unwrap();
            spaces += 1;
            assert!(spaces < 100, "whitespace without end");
        }
        assert!(spaces > 0 && spaces <= 24, "{spaces}");
    }

    #[test]
    fn refused_inputs_say_why() {
        let (_, compiler) = compiler();
        let err = |c: OutputConstraint| match compiler.matcher(&c) {
            Err(EngineError::InvalidRequest(m)) => m,
            other => panic!("expected InvalidRequest, got {other:?}"),
        };
        assert!(
            err(OutputConstraint::JsonSchema(json!({ "type": "text" }))).contains("JSON schema")
        );
        assert!(err(OutputConstraint::Lark("start: (".into())).contains("grammar"));
        let long = format!("start: \"{}\"", "a".repeat(MAX_GRAMMAR_BYTES));
        assert!(err(OutputConstraint::Lark(long)).contains("bytes long"));
        // Brackets inside quoted strings do not count as nesting.
        let quoted = format!("start: \"{}\"", "(".repeat(200));
        assert!(compiler.matcher(&OutputConstraint::Lark(quoted)).is_ok());
    }
}
