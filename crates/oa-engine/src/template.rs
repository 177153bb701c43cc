//! Chat prompts rendered with the model's own chat template (`tokenizer.chat_template`).
//!
//! Templates are Jinja programs written for Python's `transformers`; minijinja with Python
//! compatibility methods (`.strip()`, `.startswith()`…) renders them. Files without a template get
//! ChatML, and the model info says so.

use minijinja::{Environment, Error as JinjaError, ErrorKind, context};
use serde::Serialize;

use crate::gguf::{GgufFile, sha256_str};
use crate::{EngineError, Result};

/// The template used when a file has none: ChatML, the most common chat format.
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

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
    env: Environment<'static>,
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
            env,
            source_sha256,
            fallback,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        })
    }

    /// Renders `messages` followed by the assistant's turn opening.
    pub fn render(&self, messages: &[TemplateMessage<'_>]) -> Result<String> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| EngineError::Template(e.to_string()))?;
        template
            .render(context! {
                messages => minijinja::Value::from(minijinja::value::Serde(messages)),
                add_generation_prompt => true,
                bos_token => self.bos_token.as_str(),
                eos_token => self.eos_token.as_str(),
            })
            .map_err(|e| EngineError::Template(format!("cannot render the chat template: {e}")))
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
}
