//! The OpenAI wire format the local API speaks: requests as clients send them, answers and
//! stream chunks as the official clients read them. Only data; checks live with the handlers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One string or several (`stop`, a completion's `prompt`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings, in order.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with the usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// The sampler fields both completion endpoints take.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SamplingFields {
    /// Randomness, 0 to 2.
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    pub top_p: Option<f32>,
    /// Only the k likeliest tokens (0: all).
    pub top_k: Option<u32>,
    /// Only tokens at least this likely relative to the likeliest.
    pub min_p: Option<f32>,
    /// Penalty for tokens already used, -2 to 2.
    pub presence_penalty: Option<f32>,
    /// Penalty per use of a token, -2 to 2.
    pub frequency_penalty: Option<f32>,
    /// llama.cpp's multiplicative repeat penalty.
    pub repeat_penalty: Option<f32>,
    /// A seed makes the same request give the same answer.
    pub seed: Option<i64>,
    /// Texts that end the answer (up to 4), not included in it.
    pub stop: Option<OneOrMany>,
    /// How many answers (1 to 8).
    pub n: Option<u32>,
    /// Stream the answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Options of the stream.
    pub stream_options: Option<StreamOptions>,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatCompletionRequest {
    /// The model's id, as `/v1/models` lists it.
    pub model: String,
    /// The conversation.
    pub messages: Vec<WireMessage>,
    /// Most tokens to generate (the older name).
    pub max_tokens: Option<u32>,
    /// Most tokens to generate.
    pub max_completion_tokens: Option<u32>,
    /// Sampling.
    #[serde(flatten)]
    pub sampling: SamplingFields,
    /// Report each token's log-probability.
    #[serde(default)]
    pub logprobs: bool,
    /// And this many alternatives (0 to 20).
    pub top_logprobs: Option<u8>,
    /// The shape of the answer.
    pub response_format: Option<ResponseFormat>,
    /// Functions the model may call.
    #[serde(default)]
    pub tools: Vec<WireTool>,
    /// Whether it must call one.
    pub tool_choice: Option<WireToolChoice>,
    /// Whether it may call several at once.
    pub parallel_tool_calls: Option<bool>,
}

/// One message of a chat request.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum WireMessage {
    /// Instructions.
    System {
        /// The text.
        content: Content,
    },
    /// Instructions (the newer name).
    Developer {
        /// The text.
        content: Content,
    },
    /// The person.
    User {
        /// The text.
        content: Content,
    },
    /// The model, earlier in the conversation.
    Assistant {
        /// The text (absent when it only called tools).
        #[serde(default)]
        content: Option<Content>,
        /// The tools it called.
        #[serde(default)]
        tool_calls: Vec<WireToolCall>,
    },
    /// A tool's result.
    Tool {
        /// The result.
        content: Content,
        /// The call it answers.
        tool_call_id: String,
    },
}

/// A message's content: text, or parts of which only text is understood.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Text.
    Text(String),
    /// Parts.
    Parts(Vec<ContentPart>),
}

/// A part of a message's content.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// Anything else (images, audio): refused with a clear error.
    #[serde(other)]
    Unsupported,
}

/// `response_format`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against a schema.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, Deserialize)]
pub struct JsonSchemaFormat {
    /// The schema's name.
    pub name: String,
    /// The JSON schema (absent: any JSON object).
    pub schema: Option<Value>,
    /// Whether the schema is followed exactly (it always is here).
    #[serde(default)]
    pub strict: Option<bool>,
}

/// A tool in a request.
#[derive(Debug, Clone, Deserialize)]
pub struct WireTool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: WireFunction,
}

/// A function in a request.
#[derive(Debug, Clone, Deserialize)]
pub struct WireFunction {
    /// Its name.
    pub name: String,
    /// What it does.
    pub description: Option<String>,
    /// A JSON schema of its arguments.
    pub parameters: Option<Value>,
}

/// `tool_choice`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum WireToolChoice {
    /// `none`, `auto` or `required`.
    Mode(String),
    /// One function by name.
    Named {
        /// Always `function`.
        #[serde(rename = "type")]
        kind: String,
        /// Which.
        function: NamedFunction,
    },
}

/// The function a named `tool_choice` forces.
#[derive(Debug, Clone, Deserialize)]
pub struct NamedFunction {
    /// Its name.
    pub name: String,
}

/// A tool call, in a request's earlier assistant message or in an answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireToolCall {
    /// The call's id.
    pub id: String,
    /// Always `function`.
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    /// The function and its arguments.
    pub function: WireCalledFunction,
}

fn function_kind() -> String {
    "function".into()
}

/// The function a call names, with its arguments as JSON text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireCalledFunction {
    /// The function's name.
    pub name: String,
    /// Its arguments, JSON text.
    pub arguments: String,
}

/// `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize)]
pub struct CompletionRequest {
    /// The model's id.
    pub model: String,
    /// The text to continue.
    pub prompt: OneOrMany,
    /// Most tokens to generate (16 when absent, as OpenAI).
    pub max_tokens: Option<u32>,
    /// Sampling.
    #[serde(flatten)]
    pub sampling: SamplingFields,
    /// Report this many alternatives per token (0 to 5).
    pub logprobs: Option<u8>,
    /// Repeat the prompt in the answer (not supported).
    #[serde(default)]
    pub echo: bool,
    /// Text after the completion (not supported).
    pub suffix: Option<String>,
}

/// Token counts of an answer.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Usage {
    /// Tokens of the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Both.
    pub total_tokens: u32,
}

/// What made the answer and how: the provenance the app records with every reply.
#[derive(Debug, Clone, Serialize)]
pub struct WireProvenance {
    /// The model's id in the API.
    pub model: String,
    /// sha256 of the model file.
    pub model_sha256: String,
    /// Quantization of most weights.
    pub quantization: String,
    /// Architecture.
    pub architecture: String,
    /// sha256 of the chat template.
    pub chat_template_sha256: String,
    /// The sampler as applied, the seed included.
    pub sampler: oa_types::SamplerParams,
    /// The engine's version.
    pub engine_version: String,
}

/// One token's log-probability in a chat answer.
#[derive(Debug, Clone, Serialize)]
pub struct WireLogprob {
    /// The token.
    pub token: String,
    /// ln p.
    pub logprob: f32,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The likeliest tokens there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<Vec<WireTopLogprob>>,
}

/// An alternative token.
#[derive(Debug, Clone, Serialize)]
pub struct WireTopLogprob {
    /// The token.
    pub token: String,
    /// ln p.
    pub logprob: f32,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// `choices[].logprobs` of a chat answer.
#[derive(Debug, Clone, Serialize)]
pub struct ChoiceLogprobs {
    /// Per token.
    pub content: Vec<WireLogprob>,
}

/// The assistant's message in an answer.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerMessage {
    /// Always `assistant`.
    pub role: &'static str,
    /// The text (null when the model only called tools).
    pub content: Option<String>,
    /// The calls it made.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<WireToolCall>,
}

/// One answer of a chat completion.
#[derive(Debug, Clone, Serialize)]
pub struct ChatChoice {
    /// Which answer.
    pub index: u32,
    /// The message.
    pub message: AnswerMessage,
    /// Log-probabilities, when asked for.
    pub logprobs: Option<ChoiceLogprobs>,
    /// `stop`, `length` or `tool_calls`.
    pub finish_reason: &'static str,
}

/// `chat.completion`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatCompletion {
    /// The answer's id.
    pub id: String,
    /// Always `chat.completion`.
    pub object: &'static str,
    /// Seconds since the epoch.
    pub created: u64,
    /// The model's id.
    pub model: String,
    /// The answers.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    pub usage: Usage,
    /// The engine and model that made it.
    pub system_fingerprint: String,
    /// How it was made.
    pub x_provenance: WireProvenance,
}

/// A function call's piece in a stream.
#[derive(Debug, Clone, Serialize)]
pub struct ToolCallDelta {
    /// Which call of the answer.
    pub index: u32,
    /// Its id, in its first piece.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `function`, in its first piece.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// The name (first piece) and a fragment of the arguments.
    pub function: FunctionDelta,
}

/// The function's piece in a [`ToolCallDelta`].
#[derive(Debug, Clone, Serialize)]
pub struct FunctionDelta {
    /// The name, in the first piece.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A fragment of the arguments' JSON text.
    pub arguments: String,
}

/// What a chunk adds to the message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delta {
    /// `assistant`, in an answer's first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// More text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Pieces of calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallDelta>,
}

/// One answer's piece in a chunk.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkChoice {
    /// Which answer.
    pub index: u32,
    /// What it adds.
    pub delta: Delta,
    /// Log-probabilities of the tokens it adds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<ChoiceLogprobs>,
    /// Set in the answer's last chunk.
    pub finish_reason: Option<&'static str>,
}

/// `chat.completion.chunk`.
#[derive(Debug, Clone, Serialize)]
pub struct ChatChunk {
    /// The answer's id (the same in every chunk).
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: &'static str,
    /// Seconds since the epoch.
    pub created: u64,
    /// The model's id.
    pub model: String,
    /// The pieces.
    pub choices: Vec<ChunkChoice>,
    /// In the last chunk, when `stream_options.include_usage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The engine and model that made it.
    pub system_fingerprint: String,
    /// How it was made, in the last chunk of each answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_provenance: Option<WireProvenance>,
}

/// A completion's log-probabilities, in the older format.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompletionLogprobs {
    /// The tokens.
    pub tokens: Vec<String>,
    /// ln p of each.
    pub token_logprobs: Vec<f32>,
    /// The likeliest alternatives at each.
    pub top_logprobs: Vec<serde_json::Map<String, Value>>,
    /// Where each token starts in the text.
    pub text_offset: Vec<u32>,
}

/// One answer of a completion.
#[derive(Debug, Clone, Serialize)]
pub struct CompletionChoice {
    /// The text (or, in a chunk, the next piece).
    pub text: String,
    /// Which answer.
    pub index: u32,
    /// Log-probabilities, when asked for.
    pub logprobs: Option<CompletionLogprobs>,
    /// `stop` or `length`; null until the last chunk.
    pub finish_reason: Option<&'static str>,
}

/// `text_completion`.
#[derive(Debug, Clone, Serialize)]
pub struct Completion {
    /// The answer's id.
    pub id: String,
    /// Always `text_completion`.
    pub object: &'static str,
    /// Seconds since the epoch.
    pub created: u64,
    /// The model's id.
    pub model: String,
    /// The answers.
    pub choices: Vec<CompletionChoice>,
    /// Token counts (in a stream, only in the usage chunk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The engine and model that made it.
    pub system_fingerprint: String,
    /// How it was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x_provenance: Option<WireProvenance>,
}

/// A model in `GET /v1/models`.
#[derive(Debug, Clone, Serialize)]
pub struct WireModel {
    /// The id requests name.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Seconds since the epoch (the file's modification time).
    pub created: u64,
    /// Always `local`.
    pub owned_by: &'static str,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, Serialize)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<WireModel>,
}
