//! Constrained decoding: a reply held to a JSON schema or a grammar, token by token.

use serde_json::Value;

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
