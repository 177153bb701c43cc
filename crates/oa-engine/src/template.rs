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
use crate::{EngineError, Result};

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

/// A message as chat templates expect it: `role` is `system`, `user` or `assistant`.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateMessage<'a> {
    /// `system`, `user` or `assistant`.
    pub role: &'a str,
    /// The text.
    pub content: &'a str,
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
        })
    }

    /// Renders `messages` followed by the assistant's turn opening, within the budget of
    /// fuel and output that the conversation's size allows.
    pub fn render(&self, messages: &[TemplateMessage<'_>]) -> Result<String> {
        let bytes: usize = messages
            .iter()
            .map(|m| m.content.len() + m.role.len())
            .sum();
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
    pub fn tool_format(&self) -> crate::ToolFormat {
        crate::ToolFormat::Generic
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
                TemplateMessage {
                    role: "user",
                    content: "Hi",
                },
                TemplateMessage {
                    role: "assistant",
                    content: "Hello!",
                },
                TemplateMessage {
                    role: "user",
                    content: "Bye",
                },
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
            .render(&[TemplateMessage {
                role: "assistant",
                content: "x",
            }])
            .unwrap_err();
        assert!(err.to_string().contains("first must be user"), "{err}");
    }

    #[test]
    fn python_string_methods_work() {
        let src = "{{ messages[0]['content'].strip() }}";
        let t = ChatTemplate::new(src.into(), false, "", "").unwrap();
        assert_eq!(
            t.render(&[TemplateMessage {
                role: "user",
                content: "  x  "
            }])
            .unwrap(),
            "x"
        );
    }

    #[test]
    fn a_broken_template_is_a_typed_error() {
        let err = ChatTemplate::new("{% for %}".into(), false, "", "").unwrap_err();
        assert!(matches!(err, EngineError::Template(_)), "{err:?}");
    }

    fn user(content: &str) -> TemplateMessage<'_> {
        TemplateMessage {
            role: "user",
            content,
        }
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
        let messages: Vec<TemplateMessage<'_>> = (0..2_000)
            .map(|i| TemplateMessage {
                role: if i % 2 == 0 { "user" } else { "assistant" },
                content: &text,
            })
            .collect();
        let t = ChatTemplate::new(CHATML_TEMPLATE.into(), true, "", "").unwrap();
        let out = t.render(&messages).unwrap();
        assert!(out.len() > 2_000 * text.len(), "{}", out.len());
    }
}
