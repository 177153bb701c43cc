//! Constrained decoding and log-probabilities against the real default model (SmolLM2-135M-
//! Instruct Q4_1): replies held to JSON schemas and grammars, the errors a person sees for
//! schemas that cannot be used, and the log-probabilities each token carries.

use oa_engine::{
    ChatMessage, ChatRole, Engine, EngineError, FinishReason, GenerateRequest, GenerationEvent,
    GenerationStats, OutputConstraint,
};
use oa_types::{SamplerParams, TokenEvent};
use serde_json::{Value, json};

fn engine() -> Engine {
    Engine::load(oa_engine::testing::default_model()).unwrap()
}

fn ask(text: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::new(ChatRole::User, text)]
}

fn sampled(seed: u64, max_tokens: u32) -> SamplerParams {
    SamplerParams {
        temperature: 0.7,
        seed,
        max_tokens,
        ..Default::default()
    }
}

fn greedy(max_tokens: u32) -> SamplerParams {
    SamplerParams {
        temperature: 0.0,
        repeat_penalty: 1.0,
        max_tokens,
        ..Default::default()
    }
}

fn request(text: &str, params: SamplerParams, output: OutputConstraint) -> GenerateRequest {
    let mut request = GenerateRequest::new(ask(text), params);
    request.output = output;
    request
}

/// Every event of a reply: its token events, and how it finished.
fn events(engine: &Engine, request: GenerateRequest) -> (Vec<TokenEvent>, GenerationStats) {
    let mut tokens = Vec::new();
    for event in engine.stream(request).unwrap() {
        match event {
            GenerationEvent::Token(t) => tokens.push(t),
            GenerationEvent::Finished(stats) => return (tokens, stats),
            GenerationEvent::Failed(e) => panic!("the reply failed: {e}"),
        }
    }
    panic!("the engine stopped before the reply finished")
}

fn schemas() -> Vec<(&'static str, Value)> {
    vec![
        (
            "Describe a person as JSON.",
            json!({
                "type": "object",
                "properties": {
                    "name": { "type": "string", "minLength": 1, "maxLength": 30 },
                    "age": { "type": "integer", "minimum": 0, "maximum": 120 },
                    "address": {
                        "type": "object",
                        "properties": {
                            "city": { "type": "string", "maxLength": 30 },
                            "zip": { "type": "string", "pattern": "^[0-9]{5}$" }
                        },
                        "required": ["city", "zip"],
                        "additionalProperties": false
                    }
                },
                "required": ["name", "age", "address"],
                "additionalProperties": false
            }),
        ),
        (
            "List a few fruits and say how many there are, as JSON.",
            json!({
                "type": "object",
                "properties": {
                    "fruits": {
                        "type": "array",
                        "items": { "type": "string", "minLength": 1, "maxLength": 20 },
                        "minItems": 2,
                        "maxItems": 5
                    },
                    "count": { "type": "integer", "minimum": 2, "maximum": 5 }
                },
                "required": ["fruits", "count"],
                "additionalProperties": false
            }),
        ),
        (
            "Give the weather as JSON.",
            json!({
                "type": "object",
                "properties": {
                    "sky": { "enum": ["sunny", "cloudy", "rainy"] },
                    "temperature": { "type": "number", "minimum": -30, "maximum": 45.5 },
                    "windy": { "type": "boolean" },
                    "readings": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "hour": { "type": "integer", "minimum": 0, "maximum": 23 },
                                "value": { "type": "number", "exclusiveMinimum": 0 }
                            },
                            "required": ["hour", "value"],
                            "additionalProperties": false
                        },
                        "minItems": 1,
                        "maxItems": 3
                    }
                },
                "required": ["sky", "temperature", "windy", "readings"],
                "additionalProperties": false
            }),
        ),
    ]
}

#[test]
fn sampled_replies_follow_json_schemas() {
    let engine = engine();
    for (question, schema) in schemas() {
        let validator = jsonschema::validator_for(&schema).unwrap();
        for seed in [1, 7, 42] {
            let (text, stats) = engine
                .generate(request(
                    question,
                    sampled(seed, 400),
                    OutputConstraint::JsonSchema(schema.clone()),
                ))
                .unwrap();
            assert_eq!(
                stats.finish_reason,
                FinishReason::Stop,
                "seed {seed}: the reply ended early: {text}"
            );
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("seed {seed}: not JSON ({e}): {text}"));
            let errors: Vec<String> = validator
                .iter_errors(&value)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "seed {seed}: {text}\n{errors:?}");
        }
    }
}

#[test]
fn json_object_replies_are_one_object() {
    let engine = engine();
    for seed in [3, 11] {
        let (text, stats) = engine
            .generate(request(
                "Describe your favourite book as JSON.",
                sampled(seed, 300),
                OutputConstraint::JsonObject,
            ))
            .unwrap();
        assert_eq!(stats.finish_reason, FinishReason::Stop, "{text}");
        let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert!(value.is_object(), "{text}");
    }
}

#[test]
fn lark_grammars_hold_the_reply_to_their_language() {
    let engine = engine();
    let grammar = OutputConstraint::Lark(r#"start: "yes" | "no""#.into());
    for seed in [1, 2, 3, 4] {
        let (text, stats) = engine
            .generate(request(
                "Is the sky blue? Answer yes or no.",
                sampled(seed, 20),
                grammar.clone(),
            ))
            .unwrap();
        assert!(text == "yes" || text == "no", "{text:?}");
        assert_eq!(stats.finish_reason, FinishReason::Stop);
    }
    // A grammar with a repetition, and a JSON schema inside it.
    let grammar = OutputConstraint::Lark(
        r#"
        start: "Colours: " colour (", " colour)* "\n" answer
        colour: "red" | "green" | "blue"
        answer: %json { "type": "object", "properties": { "n": { "type": "integer", "minimum": 1, "maximum": 3 } }, "required": ["n"], "additionalProperties": false }
        "#
        .into(),
    );
    let (text, stats) = engine
        .generate(request("Name some colours.", sampled(5, 120), grammar))
        .unwrap();
    assert_eq!(stats.finish_reason, FinishReason::Stop, "{text}");
    let (colours, answer) = text.split_once('\n').unwrap();
    let colours = colours.strip_prefix("Colours: ").unwrap();
    assert!(
        colours
            .split(", ")
            .all(|c| ["red", "green", "blue"].contains(&c)),
        "{text}"
    );
    let n = serde_json::from_str::<Value>(answer).unwrap()["n"]
        .as_i64()
        .unwrap();
    assert!((1..=3).contains(&n), "{text}");
}

#[test]
fn a_stop_string_or_the_token_budget_may_still_cut_a_constrained_reply() {
    let engine = engine();
    let schema = OutputConstraint::JsonSchema(json!({
        "type": "object",
        "properties": { "story": { "type": "string", "minLength": 200 } },
        "required": ["story"]
    }));
    let (text, stats) = engine
        .generate(request(
            "Tell a story as JSON.",
            sampled(1, 8),
            schema.clone(),
        ))
        .unwrap();
    assert_eq!(stats.finish_reason, FinishReason::Length, "{text}");
    assert_eq!(stats.completion_tokens, 8);
    assert!(text.starts_with('{'), "{text}");
    // The schema makes the model write the key; the stop string ends the reply before it.
    let mut params = sampled(1, 40);
    params.stop = vec!["story".into()];
    let (text, stats) = engine
        .generate(request("Tell a story as JSON.", params, schema))
        .unwrap();
    assert_eq!(stats.finish_reason, FinishReason::Stop, "{text}");
    assert!(text.starts_with('{') && !text.contains("story"), "{text}");
}

fn refused(engine: &Engine, output: OutputConstraint) -> String {
    match engine.generate(request("Hi", greedy(8), output)) {
        Err(EngineError::InvalidRequest(message)) => message,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

#[test]
fn schemas_and_grammars_that_cannot_be_used_are_refused_with_the_reason() {
    let engine = engine();
    let message = refused(
        &engine,
        OutputConstraint::JsonSchema(json!({ "type": "nonsense" })),
    );
    assert!(message.contains("JSON schema"), "{message}");
    assert!(message.contains("nonsense"), "{message}");

    let message = refused(
        &engine,
        OutputConstraint::JsonSchema(json!({ "type": "integer", "minimum": 5, "maximum": 1 })),
    );
    assert!(message.contains("JSON schema"), "{message}");

    let message = refused(&engine, OutputConstraint::Lark("start: (".into()));
    assert!(message.contains("grammar"), "{message}");

    let message = refused(
        &engine,
        OutputConstraint::Lark("start: missing_rule".into()),
    );
    assert!(message.contains("missing_rule"), "{message}");

    // Nesting deeper than the engine compiles.
    let mut deep = json!({ "type": "string" });
    for _ in 0..70 {
        deep = json!({ "type": "array", "items": deep });
    }
    let message = refused(&engine, OutputConstraint::JsonSchema(deep));
    assert!(message.contains("nested"), "{message}");
    let deep = format!("start: {}\"x\"{}", "(".repeat(100), ")".repeat(100));
    let message = refused(&engine, OutputConstraint::Lark(deep));
    assert!(message.contains("nest"), "{message}");

    // The engine still answers afterwards.
    let (text, _) = engine
        .generate(GenerateRequest::new(ask("Say hi."), greedy(4)))
        .unwrap();
    assert!(!text.is_empty());
}

#[test]
fn costly_and_deep_schemas_do_not_wedge_the_engine() {
    let engine = engine();
    // Tens of thousands of required items, and a regex whose full lexer would be huge:
    // llguidance builds both lazily, within its fuel, so each is either refused or followed
    // until the token budget runs out.
    for schema in [
        json!({ "type": "array", "items": { "type": "integer" }, "minItems": 100000 }),
        json!({ "type": "string", "pattern": "^(a|b|c|d)*a(a|b|c|d){40}$" }),
    ] {
        match engine.generate(request(
            "Hi",
            greedy(4),
            OutputConstraint::JsonSchema(schema),
        )) {
            Err(EngineError::InvalidRequest(_)) | Err(EngineError::ConstraintFailed(_)) => {}
            Ok((text, stats)) => {
                // A schema llguidance can follow after all must still be followed.
                assert_eq!(stats.finish_reason, FinishReason::Length, "{text}");
            }
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    // Nesting just within the limit compiles on the engine thread without overflowing it.
    let mut arrays = json!({ "type": "integer" });
    for _ in 0..62 {
        arrays = json!({ "type": "array", "items": arrays, "minItems": 1, "maxItems": 1 });
    }
    let mut objects = json!({ "type": "integer" });
    for _ in 0..31 {
        objects = json!({
            "type": "object",
            "properties": { "a": objects },
            "required": ["a"],
            "additionalProperties": false
        });
    }
    for (deep, first) in [(arrays, '['), (objects, '{')] {
        let (text, _) = engine
            .generate(request(
                "Hi",
                greedy(40),
                OutputConstraint::JsonSchema(deep),
            ))
            .unwrap();
        assert!(text.starts_with(first), "{text}");
    }
    let (text, _) = engine
        .generate(GenerateRequest::new(ask("Say hi."), greedy(4)))
        .unwrap();
    assert!(!text.is_empty());
}

#[test]
fn greedy_tokens_carry_their_log_probabilities() {
    let engine = engine();
    let mut req = GenerateRequest::new(ask("What is the capital of France?"), greedy(24));
    req.logprobs = Some(5);
    let (tokens, stats) = events(&engine, req);
    let with_logprobs: Vec<_> = tokens.iter().filter(|t| t.logprobs.is_some()).collect();
    // One event per generated token, each with its log-probabilities, even where its text
    // was held back.
    assert_eq!(with_logprobs.len(), stats.completion_tokens as usize);
    let mut bytes = Vec::new();
    for t in &with_logprobs {
        let lp = t.logprobs.as_ref().unwrap();
        assert_eq!(lp.top.len(), 5);
        // At temperature 0 without penalties the chosen token is the likeliest.
        assert_eq!(lp.top[0], lp.chosen, "token {}", t.index);
        assert!(lp.chosen.logprob <= 0.0);
        assert!(lp.top.windows(2).all(|w| w[0].logprob >= w[1].logprob));
        assert!(lp.top.iter().all(|e| e.logprob <= 0.0));
        let mass: f32 = lp.top.iter().map(|e| e.logprob.exp()).sum();
        assert!(mass <= 1.0 + 1e-4, "{mass}");
        assert_eq!(lp.chosen.token, String::from_utf8_lossy(&lp.chosen.bytes));
        bytes.extend_from_slice(&lp.chosen.bytes);
    }
    // The chosen tokens' bytes are exactly the reply.
    let text: String = tokens.iter().map(|t| t.text.as_str()).collect();
    assert_eq!(String::from_utf8(bytes).unwrap(), text);
}

#[test]
fn log_probabilities_are_the_models_own_under_sampling_and_formats() {
    let engine = engine();
    // Only the chosen token, when no alternatives are asked for.
    let mut req = GenerateRequest::new(ask("Hi"), sampled(9, 6));
    req.logprobs = Some(0);
    let (tokens, _) = events(&engine, req);
    for t in tokens.iter().filter_map(|t| t.logprobs.as_ref()) {
        assert!(t.top.is_empty());
        assert!(t.chosen.logprob <= 0.0 && t.chosen.logprob.is_finite());
    }
    // Under a grammar the chosen token may be one the model found unlikely; the reported
    // figures are still the model's own, so the likeliest is at least as likely.
    let mut req = request(
        "Is fire cold? Answer yes or no.",
        greedy(8),
        OutputConstraint::Lark(r#"start: "maybe" | "nope""#.into()),
    );
    req.logprobs = Some(3);
    let (tokens, stats) = events(&engine, req);
    assert_eq!(stats.finish_reason, FinishReason::Stop);
    let text: String = tokens.iter().map(|t| t.text.as_str()).collect();
    assert!(text == "maybe" || text == "nope", "{text}");
    for t in tokens.iter().filter_map(|t| t.logprobs.as_ref()) {
        assert!(t.top[0].logprob >= t.chosen.logprob);
    }
    // More alternatives than OpenAI reports are refused.
    let mut req = GenerateRequest::new(ask("Hi"), greedy(4));
    req.logprobs = Some(21);
    assert!(matches!(
        engine.generate(req),
        Err(EngineError::InvalidRequest(_))
    ));
}
