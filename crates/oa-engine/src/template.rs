//! Chat prompts rendered with the model's own chat template (`tokenizer.chat_template`).
//!
//! Templates are Jinja programs written for Python's `transformers`; minijinja with Python
//! compatibility methods (`.strip()`, `.startswith()`…) renders them. Files without a template get
//! ChatML, and the model info says so.
//!
//! A template is a program from the model file, so it runs on a budget: minijinja's fuel (its
//! instructions and the data it makes) and a cap on the text it writes, both a fixed amount plus
//! a share for each message and byte of the conversation. A real template uses a small part of
//! either; a template that loops without end, recurses or blows up its output is stopped with
//! [`EngineError::TemplateRunaway`] in a fraction of a second.

use std::sync::Mutex;

use minijinja::{Environment, Error as JinjaError, ErrorKind, context};
use serde::Serialize;

use crate::gguf::{GgufFile, sha256_str};
use crate::tools::{self, ToolFormat, ToolSpec};
use crate::{ChatMessage, ChatRole, EngineError, Result};

/// The template used when a file has none: ChatML, the most common chat format.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Fuel of any render: real templates use a few thousand for a short chat.
const BASE_FUEL: u64 = 1_000_000;
/// Fuel added per message and per byte of the conversation: real templates spend about one
/// fuel per 64 bytes each time they copy a message's text.
const FUEL_PER_MESSAGE: u64 = 1_000;
const FUEL_PER_BYTE: u64 = 1;
/// Bytes any render may write, and those added per message and per byte of the conversation:
/// a real template writes each message once with a few dozen bytes of markup around it.
const BASE_OUTPUT: usize = 1 << 20;
const OUTPUT_PER_MESSAGE: usize = 1 << 10;
const OUTPUT_PER_BYTE: usize = 4;

/// A message as chat templates expect it, in the shape `transformers` and llama.cpp give
/// templates: `role`, `content`, and for tool use `tool_calls`, `tool_call_id` and `name`
/// (each left out when it has nothing to say, since templates test `'tool_calls' in message`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text.
    pub content: String,
    /// The calls an assistant message made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<TemplateToolCall>,
    /// For a `tool` message, the id of the call it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For a `tool` message, the function that answered, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl TemplateMessage {
    /// A message with the given role and text.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> TemplateMessage {
        TemplateMessage {
            role: role.into(),
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// Bytes the template may copy: the budget of a render grows with them.
    fn size(&self) -> usize {
        self.role.len()
            + self.content.len()
            + self.tool_call_id.as_ref().map_or(0, String::len)
            + self.name.as_ref().map_or(0, String::len)
            + self
                .tool_calls
                .iter()
                .map(|c| c.id.len() + c.function.name.len() + c.function.arguments_len)
                .sum::<usize>()
    }
}

/// A call in an assistant message: `{"id", "type": "function", "function": {"name",
/// "arguments"}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateToolCall {
    /// The call's id.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What was called.
    pub function: TemplateFunctionCall,
}

/// The function of a [`TemplateToolCall`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateFunctionCall {
    /// The function's name.
    pub name: String,
    /// The arguments as a JSON value (templates write them with `| tojson`), or as the text
    /// the caller gave when that is not JSON.
    pub arguments: serde_json::Value,
    #[serde(skip)]
    arguments_len: usize,
}

impl TemplateToolCall {
    /// A call whose arguments are JSON text; text that is not JSON is passed on as a string.
    pub fn new(id: &str, name: &str, arguments: &str) -> TemplateToolCall {
        let value = serde_json::from_str(arguments)
            .unwrap_or_else(|_| serde_json::Value::String(arguments.to_owned()));
        TemplateToolCall {
            id: id.to_owned(),
            kind: "function",
            function: TemplateFunctionCall {
                name: name.to_owned(),
                arguments: value,
                arguments_len: arguments.len(),
            },
        }
    }
}

/// A tool as chat templates expect it: `{"type": "function", "function": {"name",
/// "description", "parameters"}}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateTool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The function.
    pub function: TemplateFunction,
}

/// The function of a [`TemplateTool`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateFunction {
    /// Its name.
    pub name: String,
    /// What it does, when the caller said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema of its arguments.
    pub parameters: serde_json::Value,
}

impl From<&ToolSpec> for TemplateTool {
    fn from(tool: &ToolSpec) -> TemplateTool {
        TemplateTool {
            kind: "function",
            function: TemplateFunction {
                name: tool.name.clone(),
                description: tool.description.clone(),
                parameters: match &tool.parameters {
                    serde_json::Value::Null => serde_json::json!({"type": "object"}),
                    other => other.clone(),
                },
            },
        }
    }
}

/// A parsed chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    /// Behind a lock because the fuel of a render is set on the environment.
    env: Mutex<Environment<'static>>,
    source_sha256: String,
    fallback: bool,
    bos_token: String,
    eos_token: String,
    tool_format: ToolFormat,
}

impl ChatTemplate {
    /// The file's template, or ChatML when it has none.
    pub fn from_gguf(gguf: &GgufFile, bos_token: &str, eos_token: &str) -> Result<ChatTemplate> {
        let (source, fallback) = match gguf.get_str("tokenizer.chat_template")? {
            Some(t) if !t.trim().is_empty() => (t.to_owned(), false),
            _ => (CHATML_TEMPLATE.to_owned(), true),
        };
        ChatTemplate::new(source, fallback, bos_token, eos_token)
    }

    /// Parses a template source.
    pub fn new(
        source: String,
        fallback: bool,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<ChatTemplate> {
        let source_sha256 = sha256_str(&source);
        let tool_format = ToolFormat::detect(&source);
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, JinjaError> {
                Err(JinjaError::new(ErrorKind::InvalidOperation, msg))
            },
        );
        env.add_template_owned("chat", source)
            .map_err(|e| EngineError::Template(format!("cannot parse the chat template: {e}")))?;
        Ok(ChatTemplate {
            env: Mutex::new(env),
            source_sha256,
            fallback,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
            tool_format,
        })
    }

    /// Renders a conversation and the tools it may call in the way the model knows
    /// ([`ChatTemplate::tool_format`]): a template that knows tools gets them and the tool
    /// messages as they are; any other gets the generic format, the tools described in the
    /// system message, earlier calls as their JSON and results as user messages.
    pub fn render_chat(&self, messages: &[ChatMessage], tools: &[ToolSpec]) -> Result<String> {
        let (messages, tools) = self.template_messages(messages, tools);
        self.render_with_tools(&messages, &tools)
    }

    /// The messages and tools a conversation gives the template, in the model's tool format.
    pub fn template_messages(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
    ) -> (Vec<TemplateMessage>, Vec<TemplateTool>) {
        match self.tool_format {
            ToolFormat::Generic => (generic_messages(messages, tools), Vec::new()),
            format => (
                native_messages(messages, format),
                tools.iter().map(TemplateTool::from).collect(),
            ),
        }
    }

    /// Renders `messages` followed by the assistant's turn opening, within the budget of
    /// fuel and output that the conversation's size allows.
    pub fn render(&self, messages: &[TemplateMessage]) -> Result<String> {
        self.render_with_tools(messages, &[])
    }

    /// As [`ChatTemplate::render`], with `tools` in the template's `tools` variable (`none`
    /// when there are none, as `transformers` gives it).
    pub fn render_with_tools(
        &self,
        messages: &[TemplateMessage],
        tools: &[TemplateTool],
    ) -> Result<String> {
        let tools_bytes = if tools.is_empty() {
            0
        } else {
            serde_json::to_string(tools).map_or(0, |t| t.len())
        };
        let bytes: usize = messages.iter().map(TemplateMessage::size).sum::<usize>() + tools_bytes;
        let fuel = BASE_FUEL
            .saturating_add(FUEL_PER_MESSAGE.saturating_mul(messages.len() as u64))
            .saturating_add(FUEL_PER_BYTE.saturating_mul(bytes as u64));
        let cap = BASE_OUTPUT
            .saturating_add(OUTPUT_PER_MESSAGE.saturating_mul(messages.len()))
            .saturating_add(OUTPUT_PER_BYTE.saturating_mul(bytes));
        let mut env = self.env.lock().unwrap_or_else(|p| p.into_inner());
        env.set_fuel(Some(fuel));
        let template = env
            .get_template("chat")
            .map_err(|e| EngineError::Template(e.to_string()))?;
        let mut out = BoundedOutput {
            text: Vec::new(),
            cap,
            overflowed: false,
        };
        let rendered = template
            .render_captured_to(
                context! {
                    messages => minijinja::Value::from(minijinja::value::Serde(messages)),
                    tools => (!tools.is_empty())
                        .then(|| minijinja::Value::from(minijinja::value::Serde(tools))),
                    add_generation_prompt => true,
                    bos_token => self.bos_token.as_str(),
                    eos_token => self.eos_token.as_str(),
                },
                &mut out,
            )
            .map(drop);
        let conversation = match messages.len() {
            1 => format!("one message of {bytes} bytes"),
            n => format!("{n} messages of {bytes} bytes"),
        };
        match rendered {
            _ if out.overflowed => Err(EngineError::TemplateRunaway(format!(
                "it wrote more than {cap} bytes for {conversation}"
            ))),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(EngineError::TemplateRunaway(
                format!("it took more than {fuel} steps for {conversation}"),
            )),
            Err(e) => Err(EngineError::Template(format!(
                "cannot render the chat template: {e}"
            ))),
            Ok(()) => String::from_utf8(out.text).map_err(|_| {
                EngineError::Template("the chat template wrote text that is not UTF-8".into())
            }),
        }
    }

    /// How the model writes tool calls, read from the template's source.
    pub fn tool_format(&self) -> ToolFormat {
        self.tool_format
    }

    /// sha256 of the template source, recorded in provenance.
    pub fn sha256(&self) -> &str {
        &self.source_sha256
    }

    /// True when the file had no template and ChatML is used.
    pub fn is_fallback(&self) -> bool {
        self.fallback
    }
}

/// A conversation for a template that knows tools: the messages as they are, each tool
/// result with the name of the function whose call it answers.
fn native_messages(messages: &[ChatMessage], format: ToolFormat) -> Vec<TemplateMessage> {
    // Mistral's templates refuse call ids that are not nine letters and digits.
    let id = |id: &str| match format {
        ToolFormat::Mistral => mistral_call_id(id),
        _ => id.to_owned(),
    };
    let mut out: Vec<TemplateMessage> = Vec::with_capacity(messages.len());
    for m in messages {
        let mut message = TemplateMessage::new(m.role.as_str(), m.content.as_str());
        message.tool_calls = m
            .tool_calls
            .iter()
            .map(|c| TemplateToolCall::new(&id(&c.id), &c.name, &c.arguments))
            .collect();
        if m.role == ChatRole::Tool {
            message.name = m
                .tool_call_id
                .as_deref()
                .and_then(|call| call_name(messages, call));
            message.tool_call_id = m.tool_call_id.as_deref().map(id);
        }
        out.push(message);
    }
    out
}

/// A conversation for a template that knows no tools (Gemma's, for one, refuses any role but
/// user and assistant in turn): the tools described in the system message, earlier calls as
/// the generic format's JSON, and results as user messages that name their call, joined with
/// the user messages next to them so that user and assistant still alternate.
fn generic_messages(messages: &[ChatMessage], tools: &[ToolSpec]) -> Vec<TemplateMessage> {
    let mut out: Vec<TemplateMessage> = Vec::with_capacity(messages.len() + 1);
    let mut rest = messages;
    if !tools.is_empty() {
        let prompt = tools::generic_tool_prompt(tools);
        let system = match messages.first() {
            Some(first) if first.role == ChatRole::System => {
                rest = &messages[1..];
                if first.content.trim().is_empty() {
                    prompt
                } else {
                    format!("{}\n\n{prompt}", first.content)
                }
            }
            _ => prompt,
        };
        out.push(TemplateMessage::new("system", system));
    }
    // Whether the last message of `out` holds a tool's result.
    let mut last_is_result = false;
    for m in rest {
        let (role, content, result) = match m.role {
            ChatRole::Assistant if !m.tool_calls.is_empty() => {
                let calls = tools::generic_calls_text(&m.tool_calls);
                let content = if m.content.trim().is_empty() {
                    calls
                } else {
                    format!("{}\n{calls}", m.content)
                };
                ("assistant", content, false)
            }
            ChatRole::Tool => {
                let call = m.tool_call_id.as_deref();
                let name = call.and_then(|c| call_name(messages, c));
                let text = tools::generic_result_text(name.as_deref(), call, &m.content);
                ("user", text, true)
            }
            role => (role.as_str(), m.content.clone(), false),
        };
        match out.last_mut() {
            Some(last) if last.role == "user" && role == "user" && (result || last_is_result) => {
                last.content.push_str("\n\n");
                last.content.push_str(&content);
            }
            _ => out.push(TemplateMessage::new(role, content)),
        }
        last_is_result = result;
    }
    out
}

/// The function of the call `id` among the calls of `messages`.
fn call_name(messages: &[ChatMessage], id: &str) -> Option<String> {
    messages
        .iter()
        .flat_map(|m| &m.tool_calls)
        .find(|c| c.id == id)
        .map(|c| c.name.clone())
}

/// A call id as Mistral's templates take it: nine letters and digits, the same for the call
/// and its result.
fn mistral_call_id(id: &str) -> String {
    if id.len() == 9 && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        id.to_owned()
    } else {
        sha256_str(id)[..9].to_owned()
    }
}

/// Collects a render's output up to `cap` bytes, and fails the render beyond it.
struct BoundedOutput {
    text: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl std::io::Write for BoundedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.text.len() + buf.len() > self.cap {
            self.overflowed = true;
            return Err(std::io::Error::other(
                "the chat template's output cap was reached",
            ));
        }
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_fallback_renders_turns_and_generation_prompt() {
        let t = ChatTemplate::new(CHATML_TEMPLATE.into(), true, "", "").unwrap();
        let out = t
            .render(&[
                TemplateMessage::new("user", "Hi"),
                TemplateMessage::new("assistant", "Hello!"),
                TemplateMessage::new("user", "Bye"),
            ])
            .unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n\
             <|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn raise_exception_in_a_template_is_an_error_not_a_panic() {
        let src = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first must be user') }}{% endif %}";
        let t = ChatTemplate::new(src.into(), false, "", "").unwrap();
        let err = t
            .render(&[TemplateMessage::new("assistant", "x")])
            .unwrap_err();
        assert!(err.to_string().contains("first must be user"), "{err}");
    }

    #[test]
    fn python_string_methods_work() {
        let src = "{{ messages[0]['content'].strip() }}";
        let t = ChatTemplate::new(src.into(), false, "", "").unwrap();
        assert_eq!(
            t.render(&[TemplateMessage::new("user", "  x  ")]).unwrap(),
            "x"
        );
    }

    #[test]
    fn a_broken_template_is_a_typed_error() {
        let err = ChatTemplate::new("{% for %}".into(), false, "", "").unwrap_err();
        assert!(matches!(err, EngineError::Template(_)), "{err:?}");
    }

    fn user(content: &str) -> TemplateMessage {
        TemplateMessage::new("user", content)
    }

    #[test]
    fn a_runaway_template_is_stopped_with_a_typed_error() {
        let line = "x".repeat(64);
        // (case, template, what the error must say)
        let cases = [
            (
                "loops that write without end",
                format!(
                    "{{% for i in range(100000) %}}{{% for j in range(100000) %}}{line}\
                     {{% endfor %}}{{% endfor %}}"
                ),
                "wrote more than",
            ),
            (
                "loops that never finish",
                "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
                    .into(),
                "steps",
            ),
            (
                "a recursion that doubles",
                "{% macro f(n) %}{% if n < 60 %}{{ f(n + 1) }}{{ f(n + 1) }}{% endif %}\
                 {% endmacro %}{{ f(0) }}"
                    .into(),
                "steps",
            ),
            (
                "a string that doubles",
                "{% set ns = namespace(s='x') %}{% for i in range(100) %}\
                 {% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"
                    .into(),
                "steps",
            ),
        ];
        for (case, source, says) in cases {
            let t = ChatTemplate::new(source, false, "", "").unwrap();
            let started = std::time::Instant::now();
            let err = t.render(&[user("Hi")]).unwrap_err();
            println!("{case}: stopped after {:?}: {err}", started.elapsed());
            assert!(
                matches!(&err, EngineError::TemplateRunaway(m) if m.contains(says)),
                "{case}: {err:?}"
            );
        }
    }

    #[test]
    fn a_long_conversation_fits_the_budget_it_brings() {
        let text = "word ".repeat(400);
        let messages: Vec<TemplateMessage> = (0..2_000)
            .map(|i| TemplateMessage::new(if i % 2 == 0 { "user" } else { "assistant" }, &text))
            .collect();
        let t = ChatTemplate::new(CHATML_TEMPLATE.into(), true, "", "").unwrap();
        let out = t.render(&messages).unwrap();
        assert!(out.len() > 2_000 * text.len(), "{}", out.len());
    }

    fn tool(name: &str) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: Some(format!("Does {name}")),
            parameters: serde_json::json!({"type": "object", "properties": {"q": {"type": "string"}}}),
        }
    }

    /// A conversation with a call, its result and a follow-up.
    fn conversation() -> Vec<ChatMessage> {
        let mut call = ChatMessage::new(ChatRole::Assistant, "");
        call.tool_calls = vec![crate::ToolCall {
            id: "call_abc".into(),
            name: "search".into(),
            arguments: r#"{"q":"rust"}"#.into(),
        }];
        let mut result = ChatMessage::new(ChatRole::Tool, "3 hits");
        result.tool_call_id = Some("call_abc".into());
        vec![
            ChatMessage::new(ChatRole::System, "Be brief."),
            ChatMessage::new(ChatRole::User, "Find rust"),
            call,
            result,
            ChatMessage::new(ChatRole::User, "Thanks"),
        ]
    }

    /// Each message as `role: content`, with its calls, result id and name: what the template
    /// is given.
    const DUMP: &str = "{% for m in messages %}{{ m.role }}: {{ m.content }}\
        {% if 'tool_calls' in m %} calls={% for c in m.tool_calls %}{{ c.id }}/{{ c.type }}/\
        {{ c.function.name }}/{{ c.function.arguments.q }}{% endfor %}{% endif %}\
        {% if m.tool_call_id is defined %} id={{ m.tool_call_id }} name={{ m.name }}{% endif %}\n\
        {% endfor %}tools={% if tools %}{% for t in tools %}{{ t.type }}:{{ t.function.name }} \
        {% endfor %}{% else %}none={{ tools is none }}{% endif %}";

    #[test]
    fn a_template_that_knows_tools_gets_them_and_the_tool_messages() {
        let t = ChatTemplate::new(format!("{DUMP}<tool_call>"), false, "", "").unwrap();
        assert_eq!(t.tool_format(), ToolFormat::Hermes);
        let out = t.render_chat(&conversation(), &[tool("search")]).unwrap();
        assert_eq!(
            out,
            "system: Be brief.\nuser: Find rust\n\
             assistant:  calls=call_abc/function/search/rust\n\
             tool: 3 hits id=call_abc name=search\nuser: Thanks\n\
             tools=function:search <tool_call>"
        );
        // Without tools the variable is none, as transformers gives it.
        let out = t.render_chat(&conversation()[..2], &[]).unwrap();
        assert!(out.ends_with("tools=none=True<tool_call>"), "{out}");
    }

    #[test]
    fn mistral_templates_get_call_ids_of_nine_characters() {
        let t = ChatTemplate::new(format!("{DUMP}[TOOL_CALLS]"), false, "", "").unwrap();
        assert_eq!(t.tool_format(), ToolFormat::Mistral);
        let (messages, _) = t.template_messages(&conversation(), &[tool("search")]);
        let call_id = &messages[2].tool_calls[0].id;
        assert_eq!(call_id.len(), 9);
        assert_eq!(messages[3].tool_call_id.as_ref(), Some(call_id));
    }

    #[test]
    fn a_template_that_knows_no_tools_gets_the_generic_format() {
        // Like Gemma's: roles must alternate after an optional system message.
        let strict = "{% for m in messages %}{% if m.role != 'system' and \
            (m.role == 'user') != (loop.index0 % 2 == 1) %}\
            {{ raise_exception('roles must alternate') }}{% endif %}\
            [{{ m.role }}] {{ m.content }}\n{% endfor %}";
        let t = ChatTemplate::new(strict.into(), false, "", "").unwrap();
        assert_eq!(t.tool_format(), ToolFormat::Generic);
        let mut messages = conversation();
        // Two results in a row, as parallel calls give.
        let mut second = messages[3].clone();
        second.content = "no more".into();
        messages.insert(4, second);
        let out = t.render_chat(&messages, &[tool("search")]).unwrap();
        assert!(
            out.starts_with("[system] Be brief.\n\nYou can call these tools"),
            "{out}"
        );
        assert!(
            out.contains(r#"{"name": "search", "description": "Does search""#),
            "{out}"
        );
        assert!(
            out.contains(
                "[assistant] {\"tool_calls\": [{\"name\": \"search\", \"arguments\": {\"q\": \"rust\"}}]}\n\
                 [user] Result of search (call call_abc): 3 hits\n\n\
                 Result of search (call call_abc): no more\n\nThanks\n"
            ),
            "{out}"
        );
        // No tools and no tool messages: the conversation as it is.
        let plain = [
            ChatMessage::new(ChatRole::System, "S"),
            ChatMessage::new(ChatRole::User, "Hi"),
        ];
        assert_eq!(
            t.render_chat(&plain, &[]).unwrap(),
            "[system] S\n[user] Hi\n"
        );
    }

    #[test]
    fn tools_count_toward_the_render_budget() {
        // Tools bigger than the fixed output budget, written twice as a template may (the
        // system prompt and a reminder), stay within the budget that their size brings.
        let t = ChatTemplate::new(
            "{% for i in range(2) %}{% for t in tools %}{{ t | tojson }}{% endfor %}{% endfor %}\
             <tool_call>"
                .into(),
            false,
            "",
            "",
        )
        .unwrap();
        let mut big = tool("big");
        big.description = Some("x".repeat(2 << 20));
        assert!(
            t.render_chat(&[ChatMessage::new(ChatRole::User, "Hi")], &[big])
                .is_ok()
        );
    }
}
