//! The engine against llama.cpp (llama-cpp-python, installed by `cargo xtask setup`) on both
//! reference models: the same token ids for varied text.

use std::path::Path;

use oa_engine::gguf::GgufFile;
use oa_engine::testing::{default_model, gemma_model, llama_cpp};
use oa_engine::tokenizer::ModelTokenizer;
use serde_json::json;

/// Text of every kind a person types or pastes: prose, code, emoji, CJK, digits, whitespace runs,
/// accents, control-looking markup and special tokens written out.
const TEXTS: &[&str] = &[
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and trailing spaces   ",
    "tabs\tand\t\tmore tabs\n\n\nand blank lines\n",
    "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n",
    "def add(a, b):\n    return a + b  # sum\n",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name;",
    "3.14159 + 2.71828 = 5.85987; 1000000 / 7 ≈ 142857.142857",
    "Phone: +1 (555) 012-3456, 2026-11-26T11:00:00Z",
    "Emoji: 😀🎉👍🏽 and a family 👨‍👩‍👧‍👦 with flags 🇫🇷🇯🇵",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "Ünïcödé àccénts: café, naïve, Øresund, Straße, ﬁ ligature",
    "Русский текст и ελληνικά γράμματα",
    "مرحبا بالعالم — עברית",
    "<div class=\"note\"><p>HTML &amp; entities</p></div>",
    "{\"key\": [1, 2, 3], \"nested\": {\"ok\": true, \"none\": null}}",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "    \n        \n\t\t\n",
    "https://example.com/path?query=1&other=two#fragment",
    "Mixed CASE words, ALLCAPS, camelCase, snake_case and kebab-case.",
    "Line one\r\nLine two\r\n",
    "10 000 000 and 1,234,567.89 and 0x1F and 1e-9",
];

fn tokenizer(path: &Path) -> ModelTokenizer {
    ModelTokenizer::from_gguf(&GgufFile::open(path).unwrap()).unwrap()
}

fn ids(value: &serde_json::Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect()
}

fn same_token_ids_as_llama_cpp(model: &Path, extra: &[&str]) {
    let tokenizer = tokenizer(model);
    let texts: Vec<&str> = TEXTS.iter().chain(extra).copied().collect();
    let answer = llama_cpp(&json!({ "model": model, "tokenize": texts }));
    let expected = answer["tokens"].as_array().unwrap();
    assert_eq!(expected.len(), texts.len());
    let mut wrong = Vec::new();
    for (text, expected) in texts.iter().zip(expected) {
        let ours = tokenizer.encode(text).unwrap();
        let theirs = ids(expected);
        if ours != theirs {
            wrong.push(format!(
                "{text:?}\n  ours:      {ours:?}\n  llama.cpp: {theirs:?}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} texts tokenize differently:\n{}",
        wrong.len(),
        texts.len(),
        wrong.join("\n")
    );
}

#[test]
fn smollm2_token_ids_equal_llama_cpps() {
    same_token_ids_as_llama_cpp(
        &default_model(),
        &["<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"],
    );
}

#[test]
fn gemma3_token_ids_equal_llama_cpps() {
    same_token_ids_as_llama_cpp(
        &gemma_model(),
        &["<start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"],
    );
}
