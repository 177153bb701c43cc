//! Tool calls end to end: tools and calls rendered through chat templates (a Hermes-style one,
//! SmolLM2's and Gemma 3's), each model family's call format read whole and streamed, the
//! requests the engine refuses, and a forced call from the real default model.

use oa_engine::constraint::{ConstraintCompiler, NextTokens};
use oa_engine::gguf::GgufFile;
use oa_engine::model::LoadedModel;
use oa_engine::template::ChatTemplate;
use oa_engine::tokenizer::ModelTokenizer;
use oa_engine::tools::{
    ParsedReply, ReplyDelta, ToolCallStream, collect_deltas, effective_output, parse_reply,
};
use oa_engine::{
    ChatMessage, ChatRole, Engine, EngineError, GenerateRequest, OutputConstraint, ToolCall,
    ToolChoice, ToolFormat, ToolSpec,
};
use oa_types::SamplerParams;
use serde_json::{Value, json};

/// A template modelled on Qwen 2.5's: the tools as JSON lines in the system message, calls
/// in `<tool_call>` tags, results in `<tool_response>` tags inside a user turn.
const HERMES_TEMPLATE: &str = r#"{%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if messages[0]['role'] == 'system' %}{{- messages[0]['content'] }}{%- else %}{{- 'You are a helpful assistant.' }}{%- endif %}
{{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n<tools>" }}
{%- for tool in tools %}{{- "\n" }}{{- tool | tojson }}{%- endfor %}
{{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- elif messages[0]['role'] == 'system' %}
{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
{%- elif message.role == "assistant" %}
{{- '<|im_start|>' + message.role }}
{%- if message.content %}{{- '\n' + message.content }}{%- endif %}
{%- for tool_call in message.tool_calls %}
{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}
{{- '\n<tool_call>\n{"name": "' }}{{- tool_call.name }}{{- '", "arguments": ' }}
{%- if tool_call.arguments is string %}{{- tool_call.arguments }}{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}
{{- '}\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- elif message.role == "tool" %}
{%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\n<tool_response>\n' }}{{- message.content }}{{- '\n</tool_response>' }}
{%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}{{- '<|im_end|>\n' }}{%- endif %}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}
"#;

/// Gemma 3's instruction template: a system message joins the first user turn, and any role
/// out of the user/assistant alternation is an exception.
const GEMMA3_TEMPLATE: &str = r#"{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\n\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\n\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\n'}}
{%- endif -%}
"#;

fn weather() -> ToolSpec {
    ToolSpec {
        name: "get_weather".into(),
        description: Some("The current weather in a city".into()),
        parameters: json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city's name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}
            },
            "required": ["city"],
            "additionalProperties": false
        }),
    }
}

fn time() -> ToolSpec {
    ToolSpec {
        name: "get_time".into(),
        description: Some("The time now in a time zone".into()),
        parameters: json!({"type": "object", "properties": {"zone": {"type": "string"}}}),
    }
}

fn tools() -> Vec<ToolSpec> {
    vec![weather(), time()]
}

/// A conversation in which the assistant called two tools at once and got both results.
fn tool_conversation() -> Vec<ChatMessage> {
    let mut calls = ChatMessage::new(ChatRole::Assistant, "");
    calls.tool_calls = vec![
        ToolCall {
            id: "call_w1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris","unit":"celsius"}"#.into(),
        },
        ToolCall {
            id: "call_t1".into(),
            name: "get_time".into(),
            arguments: r#"{"zone":"Europe/Paris"}"#.into(),
        },
    ];
    let result = |id: &str, text: &str| {
        let mut m = ChatMessage::new(ChatRole::Tool, text);
        m.tool_call_id = Some(id.into());
        m
    };
    vec![
        ChatMessage::new(ChatRole::System, "You are terse."),
        ChatMessage::new(ChatRole::User, "Weather and time in Paris?"),
        calls,
        result("call_w1", "18 degrees, sunny"),
        result("call_t1", "14:05"),
    ]
}

fn call_pairs(reply: &ParsedReply) -> Vec<(String, String)> {
    reply
        .tool_calls
        .iter()
        .map(|c| (c.name.clone(), c.arguments.clone()))
        .collect()
}

#[test]
fn a_hermes_template_gets_the_tools_calls_and_results() {
    let t = ChatTemplate::new(HERMES_TEMPLATE.into(), false, "", "<|im_end|>").unwrap();
    assert_eq!(t.tool_format(), ToolFormat::Hermes);
    let prompt = t.render_chat(&tool_conversation(), &tools()).unwrap();
    println!("{prompt}");
    assert!(prompt.starts_with("<|im_start|>system\nYou are terse.\n\n# Tools"));
    // Each tool as {"type": "function", "function": {...}}, written by the template's tojson.
    assert!(
        prompt.contains(
            r#"{"type": "function", "function": {"name": "get_weather", "description": "The current weather in a city", "parameters": {"#
        ),
        "{prompt}"
    );
    assert!(prompt.contains(r#"{"type": "function", "function": {"name": "get_time", "#));
    // The calls, their arguments written with `tojson` from the parsed object.
    assert!(
        prompt.contains(
            "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \
             {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n\
             {\"name\": \"get_time\", \"arguments\": {\"zone\": \"Europe/Paris\"}}\n</tool_call><|im_end|>"
        ),
        "{prompt}"
    );
    // Both results in one user turn.
    assert!(prompt.contains(
        "<|im_start|>user\n<tool_response>\n18 degrees, sunny\n</tool_response>\n\
         <tool_response>\n14:05\n</tool_response><|im_end|>\n<|im_start|>assistant\n"
    ));
    // What the model writes back in that format is read as calls.
    let reply = parse_reply(
        t.tool_format(),
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lyon\"}}\n</tool_call>",
        &tools(),
    );
    assert_eq!(
        call_pairs(&reply),
        [("get_weather".into(), r#"{"city":"Lyon"}"#.into())]
    );
}

#[test]
fn call_formats_are_detected_from_real_looking_templates() {
    let llama = "{%- if tools is not none %}{{- '<|start_header_id|>user<|end_header_id|>\\n\\n' }}\
        {{- 'Given the following functions, please respond with a JSON for a function call with its proper arguments.' }}\
        {{- 'Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.' }}\
        {%- endif %}{%- if message.role == 'tool' or message.role == 'ipython' %}\
        {{- '<|start_header_id|>ipython<|end_header_id|>\\n\\n' }}{%- endif %}";
    let mistral = "{%- for message in loop_messages %}{%- if message.tool_calls is defined %}\
        {{- '[TOOL_CALLS][' }}{%- for tool_call in message.tool_calls %}{{- tool_call.function | tojson }}\
        {%- endfor %}{{- ']' + eos_token }}{%- endif %}{%- endfor %}";
    let cases = [
        (HERMES_TEMPLATE, ToolFormat::Hermes),
        (llama, ToolFormat::Llama3),
        (mistral, ToolFormat::Mistral),
        (GEMMA3_TEMPLATE, ToolFormat::Generic),
        (oa_engine::template::CHATML_TEMPLATE, ToolFormat::Generic),
    ];
    for (source, format) in cases {
        let t = ChatTemplate::new(source.into(), false, "<s>", "</s>").unwrap();
        assert_eq!(t.tool_format(), format, "{source}");
    }
}

/// A reply in a format, the content and the (name, arguments) calls read from it.
type ReplyCase = (
    ToolFormat,
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

#[test]
fn each_family_s_calls_are_read_from_real_looking_replies() {
    // (format, reply, content, calls)
    let cases: [ReplyCase; 6] = [
        (
            ToolFormat::Hermes,
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"zone\": \"Europe/Paris\"}}\n</tool_call>",
            "",
            vec![
                ("get_weather", r#"{"city":"Paris","unit":"celsius"}"#),
                ("get_time", r#"{"zone":"Europe/Paris"}"#),
            ],
        ),
        (
            ToolFormat::Llama3,
            "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"San Francisco, CA\"}}",
            "",
            vec![("get_weather", r#"{"city":"San Francisco, CA"}"#)],
        ),
        (
            ToolFormat::Llama3,
            "<|python_tag|>{\"type\": \"function\", \"name\": \"get_time\", \"parameters\": {\"zone\": \"UTC\"}}",
            "",
            vec![("get_time", r#"{"zone":"UTC"}"#)],
        ),
        (
            ToolFormat::Mistral,
            "[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"Ab3dE5gH9\"}]",
            "",
            vec![("get_weather", r#"{"city":"Paris"}"#)],
        ),
        (
            ToolFormat::Mistral,
            "[TOOL_CALLS]get_time[ARGS]{\"zone\": \"Asia/Tokyo\"}",
            "",
            vec![("get_time", r#"{"zone":"Asia/Tokyo"}"#)],
        ),
        (
            ToolFormat::Generic,
            "I'll look that up.\n{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]}",
            "I'll look that up.",
            vec![("get_weather", r#"{"city":"Oslo"}"#)],
        ),
    ];
    for (format, text, content, calls) in cases {
        let reply = parse_reply(format, text, &tools());
        assert_eq!(reply.content, content, "{format:?}: {text}");
        let got: Vec<(&str, &str)> = reply
            .tool_calls
            .iter()
            .map(|c| (c.name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(got, calls, "{format:?}: {text}");
        for call in &reply.tool_calls {
            assert!(call.id.starts_with("call_"));
            serde_json::from_str::<Value>(&call.arguments).unwrap();
        }
    }
    // A name that is not a tool, or a call that does not parse, stays text.
    for text in [
        "<tool_call>\n{\"name\": \"rm_rf\", \"arguments\": {}}\n</tool_call>",
        "<tool_call>\n{\"name\": \"get_weather\" \"arguments\": {}}\n</tool_call>",
    ] {
        let reply = parse_reply(ToolFormat::Hermes, text, &tools());
        assert_eq!(reply.content, text);
        assert!(reply.tool_calls.is_empty());
    }
}

#[test]
fn streamed_deltas_join_to_the_whole_reading_at_every_split() {
    let replies = [
        (
            ToolFormat::Hermes,
            "Checking both.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
        ),
        (
            ToolFormat::Generic,
            "```json\n{\"tool_calls\": [{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nice\"}}]}\n```",
        ),
        (
            ToolFormat::Mistral,
            "[TOOL_CALLS][{\"name\": \"get_time\", \"arguments\": {\"zone\": \"UTC\"}}]",
        ),
        (ToolFormat::Llama3, "No call here, just {braces}."),
    ];
    for (format, text) in replies {
        let whole = parse_reply(format, text, &tools());
        let bounds: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        for (n, &a) in bounds.iter().enumerate() {
            // Three pieces: at `a` and at a second point further on.
            let b = bounds[(n + n / 2 + 1).min(bounds.len() - 1)];
            let mut stream = ToolCallStream::new(format, tools());
            let mut deltas = stream.push(&text[..a]);
            deltas.extend(stream.push(&text[a..b]));
            deltas.extend(stream.push(&text[b..]));
            deltas.extend(stream.finish());
            // Indexes count up from 0 and each call starts before its arguments.
            let mut started = 0;
            for d in &deltas {
                match d {
                    ReplyDelta::CallStart { index, .. } => {
                        assert_eq!(*index, started);
                        started += 1;
                    }
                    ReplyDelta::CallArguments { index, .. } => assert!(*index < started),
                    ReplyDelta::Content(c) => assert!(!c.is_empty()),
                }
            }
            let streamed = collect_deltas(deltas);
            assert_eq!(streamed.content, whole.content, "{format:?} split {a}/{b}");
            assert_eq!(
                call_pairs(&streamed),
                call_pairs(&whole),
                "{format:?} split {a}/{b}"
            );
        }
    }
}

#[test]
fn gemma_3_s_template_takes_a_tool_conversation_in_the_generic_format() {
    let t = ChatTemplate::new(GEMMA3_TEMPLATE.into(), false, "<bos>", "<eos>").unwrap();
    assert_eq!(t.tool_format(), ToolFormat::Generic);
    let mut messages = tool_conversation();
    messages.push(ChatMessage::new(
        ChatRole::Assistant,
        "18 degrees and sunny; it is 14:05.",
    ));
    messages.push(ChatMessage::new(ChatRole::User, "And in Rome?"));
    let prompt = t.render_chat(&messages, &tools()).unwrap();
    println!("{prompt}");
    assert!(
        prompt.starts_with("<bos><start_of_turn>user\nYou are terse.\n\nYou can call these tools")
    );
    assert!(prompt.contains(
        "<start_of_turn>model\n{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {"
    ));
    assert!(prompt.contains(
        "<start_of_turn>user\nResult of get_weather (call call_w1): 18 degrees, sunny\n\n\
         Result of get_time (call call_t1): 14:05<end_of_turn>"
    ));
    assert!(prompt.ends_with("And in Rome?<end_of_turn>\n<start_of_turn>model\n"));
    // The template itself still refuses a history out of turn, as a typed error.
    let err = t
        .render_chat(
            &[
                ChatMessage::new(ChatRole::Assistant, "Hi"),
                ChatMessage::new(ChatRole::User, "?"),
            ],
            &[],
        )
        .unwrap_err();
    assert!(matches!(err, EngineError::Template(_)), "{err:?}");
}

#[test]
fn the_gemma_reference_model_fits_a_tool_conversation() {
    let model = LoadedModel::load(&oa_engine::testing::gemma_model()).unwrap();
    assert_eq!(model.template.tool_format(), ToolFormat::Generic);
    let mut request = GenerateRequest::new(tool_conversation(), params(0, 64));
    request.tools = tools();
    let (ids, dropped) = model.fit_request(&request).unwrap();
    assert_eq!(dropped, 0);
    let prompt = model.tokenizer.decode(&ids).unwrap();
    assert!(
        prompt.contains("Result of get_time (call call_t1): 14:05"),
        "{prompt}"
    );
}

fn params(seed: u64, max_tokens: u32) -> SamplerParams {
    SamplerParams {
        seed,
        max_tokens,
        ..Default::default()
    }
}

#[test]
fn smollm2_s_template_takes_tools_in_the_generic_format() {
    let model = LoadedModel::load(&oa_engine::testing::default_model()).unwrap();
    assert_eq!(model.template.tool_format(), ToolFormat::Generic);
    let mut request = GenerateRequest::new(tool_conversation(), params(0, 64));
    request.tools = tools();
    let (ids, dropped) = model.fit_request(&request).unwrap();
    assert_eq!(dropped, 0);
    let prompt = model
        .template
        .render_chat(&request.messages, &request.tools)
        .unwrap();
    assert_eq!(ids, model.tokenizer.encode_prompt(&prompt).unwrap());
    println!("{prompt}");
    assert!(prompt.starts_with("<|im_start|>system\nYou are terse.\n\nYou can call these tools"));
    assert!(prompt.contains(
        "{\"name\": \"get_weather\", \"description\": \"The current weather in a city\""
    ));
    assert!(prompt.contains(
        "<|im_start|>assistant\n{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {"
    ));
    assert!(prompt.ends_with(
        "<|im_start|>user\nResult of get_weather (call call_w1): 18 degrees, sunny\n\n\
         Result of get_time (call call_t1): 14:05<|im_end|>\n<|im_start|>assistant\n"
    ));
}

#[test]
fn raw_prompts_are_sent_as_they_are_or_refused_when_too_long() {
    let model = LoadedModel::load(&oa_engine::testing::default_model()).unwrap();
    let mut request = GenerateRequest::new(Vec::new(), params(0, 16));
    request.raw_prompt = Some("Once upon a time".into());
    let (ids, dropped) = model.fit_request(&request).unwrap();
    assert_eq!(dropped, 0);
    assert_eq!(
        ids,
        model.tokenizer.encode_prompt("Once upon a time").unwrap()
    );
    assert_eq!(model.tokenizer.decode(&ids).unwrap(), "Once upon a time");

    request.raw_prompt = Some("word ".repeat(9_000));
    let err = model.fit_request(&request).unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::ContextOverflow {
                available: 8192,
                ..
            }
        ),
        "{err:?}"
    );
    // The reserve for the reply counts too.
    let fits = "word ".repeat(3_000);
    request.raw_prompt = Some(fits);
    assert!(model.fit_request(&request).is_ok());
    request.params.max_tokens = 6_000;
    request.raw_prompt = Some("word ".repeat(4_500));
    assert!(matches!(
        model.fit_request(&request),
        Err(EngineError::ContextOverflow { .. })
    ));
}

#[test]
fn tool_choices_that_cannot_be_met_are_refused() {
    let model = LoadedModel::load(&oa_engine::testing::default_model()).unwrap();
    let mut request =
        GenerateRequest::new(vec![ChatMessage::new(ChatRole::User, "Hi")], params(0, 16));
    request.tools = tools();
    request.tool_choice = ToolChoice::Named("launch".into());
    let err = model.fit_request(&request).unwrap_err();
    assert!(
        matches!(&err, EngineError::InvalidRequest(m) if m.contains("`launch`")),
        "{err:?}"
    );
    request.tools.clear();
    request.tool_choice = ToolChoice::Required;
    let err = model.fit_request(&request).unwrap_err();
    assert!(matches!(err, EngineError::InvalidRequest(_)), "{err:?}");
}

#[test]
fn a_dropped_question_takes_its_calls_and_results_with_it() {
    let model = LoadedModel::load(&oa_engine::testing::default_model()).unwrap();
    let filler = "word ".repeat(400);
    let mut messages = vec![ChatMessage::new(ChatRole::System, "Be brief.")];
    for i in 0..24 {
        messages.push(ChatMessage::new(ChatRole::User, filler.clone()));
        let mut call = ChatMessage::new(ChatRole::Assistant, "");
        call.tool_calls = vec![ToolCall {
            id: format!("call_{i}"),
            name: "get_time".into(),
            arguments: "{}".into(),
        }];
        messages.push(call);
        let mut result = ChatMessage::new(ChatRole::Tool, "12:00");
        result.tool_call_id = Some(format!("call_{i}"));
        messages.push(result);
        messages.push(ChatMessage::new(ChatRole::Assistant, "It is noon."));
    }
    messages.push(ChatMessage::new(ChatRole::User, "What is 2+2?"));
    let (ids, dropped) = model.fit_chat(&messages, &tools(), 64).unwrap();
    assert!(dropped > 0 && dropped % 4 == 0, "whole turns go: {dropped}");
    assert!(ids.len() + 64 <= model.context_length);
    // The prompt is the system message and the conversation from a question on.
    let first = 1 + dropped as usize;
    assert_eq!(messages[first].role, ChatRole::User);
    let kept: Vec<ChatMessage> = messages[..1]
        .iter()
        .chain(&messages[first..])
        .cloned()
        .collect();
    let prompt = model.template.render_chat(&kept, &tools()).unwrap();
    assert_eq!(ids, model.tokenizer.encode_prompt(&prompt).unwrap());
}

fn forced_request(seed: u64) -> GenerateRequest {
    let mut request = GenerateRequest::new(
        vec![ChatMessage::new(
            ChatRole::User,
            "What's the weather like in Paris today?",
        )],
        SamplerParams {
            seed,
            temperature: 0.8,
            max_tokens: 96,
            ..Default::default()
        },
    );
    request.tools = vec![weather()];
    request.tool_choice = ToolChoice::Required;
    request.parallel_tool_calls = false;
    request
}

/// Checks `arguments` against [`weather`]'s schema: an object with a string `city`, and
/// `unit` one of its two values if present, and nothing else.
fn valid_weather_arguments(arguments: &str) -> bool {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(arguments) else {
        return false;
    };
    map.keys().all(|k| k == "city" || k == "unit")
        && map.get("city").is_some_and(Value::is_string)
        && map
            .get("unit")
            .is_none_or(|u| u == "celsius" || u == "fahrenheit")
}

#[test]
fn a_required_call_is_a_grammar_in_the_model_s_format() {
    let request = forced_request(1);
    let OutputConstraint::Lark(grammar) = effective_output(&request, ToolFormat::Generic) else {
        panic!("a forced call is a grammar");
    };
    assert!(grammar.starts_with("start: %json {"), "{grammar}");
    assert!(
        grammar.contains(r#""name": {"const": "get_weather"}"#),
        "{grammar}"
    );
    let mut free = request.clone();
    free.tool_choice = ToolChoice::Auto;
    assert_eq!(
        effective_output(&free, ToolFormat::Generic),
        OutputConstraint::Text
    );
}

#[test]
fn smollm2_forced_to_call_writes_a_call_that_reads_back_and_fits_the_schema() {
    let engine = Engine::load(oa_engine::testing::default_model()).unwrap();
    assert_eq!(engine.tool_format(), ToolFormat::Generic);
    for seed in [1, 2, 3, 4] {
        let request = forced_request(seed);
        let tools = request.tools.clone();
        let (text, _) = engine.generate(request).unwrap();
        println!("seed {seed}: {text}");
        let reply = parse_reply(engine.tool_format(), &text, &tools);
        assert_eq!(reply.tool_calls.len(), 1, "seed {seed}: {text}");
        assert_eq!(reply.content, "", "seed {seed}: {text}");
        let call = &reply.tool_calls[0];
        assert_eq!(call.name, "get_weather");
        assert!(
            valid_weather_arguments(&call.arguments),
            "seed {seed}: {}",
            call.arguments
        );
    }
}

#[test]
fn every_format_s_forced_grammar_compiles_and_takes_a_call_in_that_format() {
    let gguf = GgufFile::open(&oa_engine::testing::default_model()).unwrap();
    let tokenizer = ModelTokenizer::from_gguf(&gguf).unwrap();
    let compiler = ConstraintCompiler::new(&tokenizer).unwrap();
    let call = r#"{"name": "get_weather", "arguments": {"city": "Paris"}}"#;
    let cases = [
        (
            ToolFormat::Hermes,
            format!("<tool_call>\n{call}\n</tool_call>"),
        ),
        (
            ToolFormat::Llama3,
            r#"{"name": "get_weather", "parameters": {"city": "Paris"}}"#.to_owned(),
        ),
        (ToolFormat::Mistral, format!("[TOOL_CALLS][{call}]")),
        (ToolFormat::Generic, format!("{{\"tool_calls\": [{call}]}}")),
    ];
    for (format, text) in cases {
        let output = effective_output(&forced_request(1), format);
        let mut constraint = compiler.matcher(&output).unwrap().unwrap();
        for id in tokenizer.encode(&text).unwrap() {
            let NextTokens::Allowed(allowed) = constraint.next_tokens().unwrap() else {
                panic!("{format:?}: the grammar ended early in {text}");
            };
            assert!(
                allowed.contains(id),
                "{format:?}: token {id} refused in {text}"
            );
            constraint.accept(id).unwrap();
        }
        assert_eq!(
            constraint.next_tokens().unwrap(),
            NextTokens::Finished,
            "{format:?}"
        );
        // And what the grammar wrote reads back as the call.
        let reply = parse_reply(format, &text, &[weather()]);
        assert_eq!(
            call_pairs(&reply),
            [("get_weather".into(), r#"{"city":"Paris"}"#.into())]
        );
    }
}
