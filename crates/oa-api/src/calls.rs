//! Tool calls read out of an answer, whole or while it streams (the model's own format, as the
//! engine knows it).

use oa_engine::{ToolCall, ToolFormat, ToolSpec};

/// A piece of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyDelta {
    /// Text.
    Content(String),
    /// A call begins.
    CallStart {
        /// Which call.
        index: usize,
        /// Its id.
        id: String,
        /// The function.
        name: String,
    },
    /// More of a call's arguments.
    CallArguments {
        /// Which call.
        index: usize,
        /// The piece.
        fragment: String,
    },
}

/// An answer with its calls taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReply {
    /// The text.
    pub content: String,
    /// The calls.
    pub tool_calls: Vec<ToolCall>,
}

/// Reads the calls out of a whole answer.
pub fn parse_reply(_format: ToolFormat, text: &str, _tools: &[ToolSpec]) -> ParsedReply {
    ParsedReply {
        content: text.to_owned(),
        tool_calls: Vec::new(),
    }
}

/// Reads calls out of an answer while it streams.
#[derive(Debug)]
pub struct ToolCallStream;

impl ToolCallStream {
    /// A reader for `format`.
    pub fn new(_format: ToolFormat, _tools: Vec<ToolSpec>) -> ToolCallStream {
        ToolCallStream
    }
    /// The pieces `piece` completes.
    pub fn push(&mut self, piece: &str) -> Vec<ReplyDelta> {
        vec![ReplyDelta::Content(piece.to_owned())]
    }
    /// The pieces still held.
    pub fn finish(self) -> Vec<ReplyDelta> {
        Vec::new()
    }
}
