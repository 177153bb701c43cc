//! The engine against the real default model (SmolLM2-135M-Instruct Q4_1, fetched by
//! `cargo xtask setup`) and against broken files a user could point it at.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use oa_engine::gguf::GgufFile;
use oa_engine::model::LoadedModel;
use oa_engine::tokenizer::ModelTokenizer;
use oa_engine::{
    ChatMessage, ChatRole, Engine, EngineError, FinishReason, GenerateRequest, GenerationEvent,
};
use oa_types::SamplerParams;

fn model_path() -> PathBuf {
    oa_engine::testing::default_model()
}

fn greedy(max_tokens: u32) -> SamplerParams {
    SamplerParams {
        temperature: 0.0,
        repeat_penalty: 1.0,
        max_tokens,
        ..Default::default()
    }
}

fn ask(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::new(ChatRole::User, text)]
}

#[test]
fn reads_the_facts_of_the_default_model() {
    let gguf = GgufFile::open(&model_path()).unwrap();
    assert_eq!(gguf.architecture().unwrap(), "llama");
    assert_eq!(gguf.quantization(), "Q4_1");
    assert!(gguf.context_length().unwrap() >= 2048);
}

#[test]
fn tokenizer_splits_digits_and_keeps_control_tokens_whole() {
    let gguf = GgufFile::open(&model_path()).unwrap();
    let tok = ModelTokenizer::from_gguf(&gguf).unwrap();
    // SmolLM2's pre-tokenizer writes every digit as its own token.
    let ids = tok.encode("12345").unwrap();
    assert_eq!(ids.len(), 5, "{ids:?}");
    // Control tokens written by the chat template are one id each, not their characters.
    let im_start = tok.token_id("<|im_start|>").unwrap();
    let ids = tok.encode("<|im_start|>user\nHi").unwrap();
    assert_eq!(ids[0], im_start);
    assert!(
        tok.stop_ids()
            .contains(&tok.token_id("<|im_end|>").unwrap())
    );
    for text in [
        "Hello, world!",
        "  spaces   and\ttabs\n",
        "naïve café 😀 東京",
        "fn main() {}",
    ] {
        assert_eq!(tok.decode(&tok.encode(text).unwrap()).unwrap(), text);
    }
}

#[test]
fn answers_a_simple_request_correctly() {
    let engine = Engine::load(model_path()).unwrap();
    let (text, stats) = engine
        .generate(GenerateRequest::new(
            ask("Say hello in Spanish."),
            greedy(16),
        ))
        .unwrap();
    assert!(text.contains("Hola"), "reply: {text:?}");
    assert!(stats.completion_tokens > 0 && stats.prompt_tokens > 5);
    assert_eq!(engine.info().quantization, "Q4_1");
    assert_eq!(engine.info().sha256.len(), 64);
}

#[test]
fn streams_tokens_one_at_a_time_and_same_seed_gives_same_text() {
    let engine = Engine::load(model_path()).unwrap();
    let params = SamplerParams {
        temperature: 0.8,
        seed: 7,
        max_tokens: 24,
        ..Default::default()
    };
    let rx = engine
        .stream(GenerateRequest::new(
            ask("Tell me a story."),
            params.clone(),
        ))
        .unwrap();
    let mut pieces = Vec::new();
    let mut finished = None;
    for event in rx {
        match event {
            GenerationEvent::Token(t) => pieces.push(t),
            GenerationEvent::Finished(s) => finished = Some(s),
            GenerationEvent::Failed(e) => panic!("{e}"),
        }
    }
    let stats = finished.expect("a Finished event");
    assert!(pieces.len() > 5, "got {} pieces", pieces.len());
    let first: String = pieces.iter().map(|t| t.text.as_str()).collect();
    // A fresh engine: this one would continue from its cache, whose sums were taken in other
    // batches and may differ in the last bits (see `prefill`).
    let (again, _) = Engine::load(model_path())
        .unwrap()
        .generate(GenerateRequest::new(ask("Tell me a story."), params))
        .unwrap();
    assert_eq!(first, again, "same seed, same text");
    // One event per generated token, in order.
    let per_token: Vec<u32> = pieces
        .iter()
        .map(|t| t.index)
        .filter(|i| *i < stats.completion_tokens)
        .collect();
    assert_eq!(per_token, (0..stats.completion_tokens).collect::<Vec<_>>());
}

#[test]
fn cancelling_stops_generation_early() {
    let engine = Engine::load(model_path()).unwrap();
    let request = GenerateRequest::new(ask("Write a long essay about the sea."), greedy(200));
    let cancel = request.cancel.clone();
    let rx = engine.stream(request).unwrap();
    let mut tokens = 0;
    let stats = loop {
        match rx.recv().unwrap() {
            GenerationEvent::Token(_) => {
                tokens += 1;
                if tokens == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
            GenerationEvent::Finished(s) => break s,
            GenerationEvent::Failed(e) => panic!("{e}"),
        }
    };
    assert_eq!(stats.finish_reason, FinishReason::Cancelled);
    assert!(stats.completion_tokens < 10, "{stats:?}");
    // The engine keeps serving after a cancel, and a dropped receiver does not wedge it.
    drop(
        engine
            .stream(GenerateRequest::new(ask("Hi"), greedy(100)))
            .unwrap(),
    );
    let (text, _) = engine
        .generate(GenerateRequest::new(ask("Say hello."), greedy(8)))
        .unwrap();
    assert!(!text.is_empty());
}

#[test]
fn a_request_cancelled_while_it_waits_is_never_run() {
    let engine = Engine::load(model_path()).unwrap();
    let first = engine
        .stream(GenerateRequest::new(ask("Count to ten."), greedy(24)))
        .unwrap();
    let waiting = GenerateRequest::new(ask("Write a long essay about the sea."), greedy(200));
    waiting.cancel.store(true, Ordering::Relaxed);
    let second = engine.stream(waiting).unwrap();
    assert!(
        first
            .iter()
            .any(|e| matches!(e, GenerationEvent::Finished(_)))
    );
    let events: Vec<GenerationEvent> = second.iter().collect();
    assert!(
        matches!(
            events.as_slice(),
            [GenerationEvent::Finished(s)]
                if s.finish_reason == FinishReason::Cancelled && s.completion_tokens == 0
        ),
        "{events:?}"
    );
    // The cancelled prompt was never read: the model still holds the first conversation, so
    // asking it again reads only its last token.
    let again = engine
        .stream(GenerateRequest::new(ask("Count to ten."), greedy(1)))
        .unwrap();
    let stats = again
        .iter()
        .find_map(|e| match e {
            GenerationEvent::Finished(s) => Some(s),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        stats.reused_prompt_tokens + 1,
        stats.prompt_tokens,
        "{stats:?}"
    );
}

#[test]
fn requests_queue_behind_each_other_instead_of_failing() {
    let engine = Engine::load(model_path()).unwrap();
    let a = engine
        .stream(GenerateRequest::new(ask("Count to five."), greedy(12)))
        .unwrap();
    let b = engine
        .stream(GenerateRequest::new(ask("Name a colour."), greedy(12)))
        .unwrap();
    for rx in [a, b] {
        let finished = rx.iter().any(|e| matches!(e, GenerationEvent::Finished(_)));
        assert!(finished);
    }
}

#[test]
fn long_conversations_drop_the_oldest_turns_and_say_so() {
    // The policy is checked on the prompt alone: running 10,000 tokens through the model would
    // only make the test slow. SmolLM2 declares 8,192 tokens of context.
    let model = LoadedModel::load(&model_path()).unwrap();
    assert_eq!(model.context_length, 8192);
    let filler = "word ".repeat(400);
    let mut messages = vec![ChatMessage::new(ChatRole::System, "Be brief.")];
    for _ in 0..24 {
        messages.push(ChatMessage::new(ChatRole::User, filler.clone()));
        messages.push(ChatMessage::new(ChatRole::Assistant, "ok"));
    }
    messages.push(ChatMessage::new(ChatRole::User, "What is 2+2?"));
    let (ids, dropped) = model.fit_prompt(&messages, 64).unwrap();
    assert!(
        dropped > 0 && dropped % 2 == 0,
        "whole turns are dropped: {dropped}"
    );
    assert!(ids.len() + 64 <= model.context_length);
    let text = model.tokenizer.decode(&ids).unwrap();
    assert!(
        text.contains("Be brief.") && text.contains("What is 2+2?"),
        "system prompt and question kept"
    );

    let (_, dropped) = model.fit_prompt(&messages[..3], 64).unwrap();
    assert_eq!(dropped, 0, "a short conversation is sent whole");

    let huge = "word ".repeat(20_000);
    let err = model.fit_prompt(&ask(&huge), 64).unwrap_err();
    assert!(
        matches!(err, EngineError::ContextOverflow { .. }),
        "{err:?}"
    );
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let err = Engine::load("/nonexistent/model.gguf").unwrap_err();
    assert!(matches!(err, EngineError::ModelNotFound(_)), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/model.gguf"));
}

#[test]
fn broken_files_are_typed_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::read(model_path()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "random",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                .collect(),
        ),
        ("header only", real[..64].to_vec()),
        ("truncated weights", real[..real.len() / 2].to_vec()),
        ("truncated metadata", real[..200_000].to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(format!("{}.gguf", name.replace(' ', "_")));
        std::fs::write(&path, bytes).unwrap();
        match Engine::load(&path) {
            Err(EngineError::InvalidGguf { .. } | EngineError::BadMetadata { .. }) => {}
            other => panic!("{name}: expected a typed invalid-file error, got {other:?}"),
        }
    }
}

#[test]
fn streamed_text_never_holds_half_a_character() {
    let gguf = GgufFile::open(&model_path()).unwrap();
    let tok = ModelTokenizer::from_gguf(&gguf).unwrap();
    let text = "Emoji 😀🎉, CJK 東京都, accents naïve café, and ASCII.";
    let mut detok = oa_engine::detokenize::Detokenizer::new();
    let mut out = String::new();
    let mut pieces = 0;
    for id in tok.encode(text).unwrap() {
        let piece = detok.push(&tok, id).unwrap();
        assert!(!piece.contains('\u{FFFD}'), "half a character in {piece:?}");
        pieces += usize::from(!piece.is_empty());
        out.push_str(&piece);
    }
    out.push_str(&detok.finish(&tok).unwrap());
    assert_eq!(out, text);
    assert!(pieces > 10);
}

#[test]
fn a_follow_up_turn_reuses_the_conversation_so_far() {
    let engine = Engine::load(model_path()).unwrap();
    let mut messages = ask("Name a large mammal.");
    let (reply, first) = engine
        .generate(GenerateRequest::new(messages.clone(), greedy(8)))
        .unwrap();
    assert_eq!(first.reused_prompt_tokens, 0, "nothing to reuse at first");
    messages.push(ChatMessage::new(ChatRole::Assistant, reply));
    messages.push(ChatMessage::new(ChatRole::User, "How much does it weigh?"));
    let (_, second) = engine
        .generate(GenerateRequest::new(messages, greedy(8)))
        .unwrap();
    assert!(
        second.reused_prompt_tokens >= first.prompt_tokens,
        "only {} of the {} tokens of the first turn were reused",
        second.reused_prompt_tokens,
        first.prompt_tokens
    );
}

#[test]
fn a_stop_string_ends_the_reply_before_it() {
    let engine = Engine::load(model_path()).unwrap();
    let request = |stop: Vec<String>| {
        GenerateRequest::new(
            ask("Count from one to ten in words, separated by commas."),
            SamplerParams { stop, ..greedy(48) },
        )
    };
    let (full, _) = engine.generate(request(Vec::new())).unwrap();
    // A stop string from the middle of what the model writes without one.
    let middle = (full.len() / 2..full.len().saturating_sub(3))
        .find(|&i| full.is_char_boundary(i) && full.is_char_boundary(i + 3))
        .unwrap_or_else(|| panic!("reply too short: {full:?}"));
    let stop = full[middle..middle + 3].to_owned();
    let at = full.find(&stop).unwrap();
    let (cut, stats) = engine.generate(request(vec![stop])).unwrap();
    assert_eq!(
        cut,
        full[..at],
        "the reply ends just before the stop string"
    );
    assert_eq!(stats.finish_reason, FinishReason::Stop);
}

#[cfg(not(any(feature = "cuda", feature = "metal")))]
#[test]
fn a_cpu_only_build_says_so_when_a_gpu_is_asked_for_and_automatic_uses_the_cpu() {
    assert_eq!(oa_engine::device::gpu_backend(), None);
    let err = Engine::load_on(model_path(), oa_types::ComputeDevice::Gpu).unwrap_err();
    assert!(
        matches!(&err, EngineError::NoGpu(reason) if reason.contains("CPU only")),
        "{err}"
    );
    let engine = Engine::load_on(model_path(), oa_types::ComputeDevice::Auto).unwrap();
    assert!(!engine.on_gpu());
    let (text, _) = engine
        .generate(GenerateRequest::new(ask("Hi"), greedy(4)))
        .unwrap();
    assert!(!text.is_empty());
}

#[test]
fn the_memory_estimate_counts_weights_once_and_the_cache_per_position() {
    let gguf = GgufFile::open(&model_path()).unwrap();
    let short = oa_engine::memory::estimate(&gguf, 1024).unwrap();
    let long = oa_engine::memory::estimate(&gguf, 2048).unwrap();
    // SmolLM2: 30 layers × 3 KV heads × (64 + 64) values × 2 bytes per position.
    assert_eq!(long.kv_cache - short.kv_cache, 1024 * 30 * 3 * 128 * 2);
    assert_eq!(long.weights, short.weights);
    // Held as stored, once: the file's bytes less its metadata (a tied table counted twice
    // would pass the file's size).
    assert!(long.weights > gguf.file_size * 8 / 10 && long.weights <= gguf.file_size);
    // A context beyond the file's is the file's.
    let beyond = oa_engine::memory::estimate(&gguf, 1 << 20).unwrap();
    let whole = oa_engine::memory::estimate(&gguf, 8192).unwrap();
    assert_eq!(beyond, whole);
}

#[test]
fn a_catalog_models_estimate_is_near_the_one_from_its_file() {
    // The default model described as the catalog describes models not yet downloaded.
    let described = oa_types::CatalogModel {
        id: "smollm2-135m".into(),
        name: "SmolLM2 135M Instruct".into(),
        repo: "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF".into(),
        file: "x.gguf".into(),
        quantization: "Q4_1".into(),
        parameters: 135_000_000,
        architecture: "llama".into(),
        context_length: 8192,
        license: "apache-2.0".into(),
        description: String::new(),
        layers: 30,
        heads: 9,
        kv_heads: 3,
        head_size: 64,
        vocab: 49152,
        tied_embeddings: true,
    };
    let from_catalog = oa_engine::memory::estimate_catalog(&described, 2048).unwrap();
    let from_file =
        oa_engine::memory::estimate(&GgufFile::open(&model_path()).unwrap(), 2048).unwrap();
    let ratio = from_catalog.total() as f64 / from_file.total() as f64;
    assert!(
        (0.85..=1.15).contains(&ratio),
        "{from_catalog:?} vs {from_file:?}"
    );
    assert_eq!(from_catalog.kv_cache, from_file.kv_cache);
    let unknown = oa_types::CatalogModel {
        layers: 0,
        ..described
    };
    assert_eq!(oa_engine::memory::estimate_catalog(&unknown, 2048), None);
}
