//! Tools a model may call: how they are described to it and how its calls are read back.
//!
//! A model writes tool calls in the format it was trained on, which its chat template reveals
//! ([`ToolFormat`]). Templates that know no tools get the [generic format](generic_tool_prompt):
//! the tools described in the system message, and calls written as one JSON object.
//!
//! Replies are read by one state machine, [`ToolCallStream`], for whole replies
//! ([`parse_reply`]) and streamed ones alike, so both always agree. A call counts from the
//! moment its opening is read and valid (the format's marker if any, then a JSON object whose
//! `name` is one of the request's tools, up to the first character of its `arguments`): from
//! then on its arguments stream as they come. Text that only looks like a call (no valid
//! opening, a name that is not a tool, JSON that breaks before the arguments start) stays
//! content. A call whose arguments break off after its opening (the reply ran out of tokens,
//! the JSON went wrong) keeps what was read, as OpenAI's own API does for a cut-off reply.
//! Arguments are returned as compact JSON: the model's text with the whitespace between JSON
//! tokens taken out. Whitespace between content and a call is dropped.
//!
//! A forced call ([`ToolChoice::Required`], [`ToolChoice::Named`]) becomes a grammar in
//! llguidance's Lark dialect that writes the model's own call format ([`effective_output`]).

use serde_json::Value;

use crate::OutputConstraint;

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

impl ToolFormat {
    /// The format a chat template's source shows: the marker of a call, or Llama 3's tool
    /// prompt; [`ToolFormat::Generic`] for a template that knows no tools.
    pub fn detect(template_source: &str) -> ToolFormat {
        let has = |s: &str| template_source.contains(s);
        if has("<tool_call>") {
            ToolFormat::Hermes
        } else if has("[TOOL_CALLS]") {
            ToolFormat::Mistral
        } else if has("<|python_tag|>")
            || (has("<|start_header_id|>") && (has("ipython") || has("\"parameters\"")))
        {
            ToolFormat::Llama3
        } else {
            ToolFormat::Generic
        }
    }

    /// The key under which the format writes a call's arguments.
    fn arguments_key(self) -> &'static str {
        match self {
            ToolFormat::Llama3 => "parameters",
            _ => "arguments",
        }
    }

    /// Texts at which a call may begin, in text that is otherwise content.
    fn triggers(self) -> &'static [&'static str] {
        match self {
            ToolFormat::Hermes => &[HERMES_OPEN],
            ToolFormat::Llama3 => &[PYTHON_TAG, "{", FENCE],
            ToolFormat::Mistral => &[MISTRAL_MARKER, "["],
            ToolFormat::Generic => &["{", FENCE],
        }
    }
}

const HERMES_OPEN: &str = "<tool_call>";
const HERMES_CLOSE: &str = "</tool_call>";
const PYTHON_TAG: &str = "<|python_tag|>";
const MISTRAL_MARKER: &str = "[TOOL_CALLS]";
const MISTRAL_ARGS: &str = "[ARGS]";
const FENCE: &str = "```";
/// The key of the generic format's list of calls.
const GENERIC_CALLS_KEY: &str = "tool_calls";
/// Nesting deeper than this is not read as a call's JSON (and cannot overflow the stack).
const MAX_JSON_DEPTH: usize = 128;

/// A fresh call id: `call_` and 24 random letters and digits, as OpenAI's look.
pub fn new_call_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = String::from("call_");
    while id.len() < 5 + 24 {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        // Bytes 6 and 8 hold the version and variant bits; bytes of 248 and above would make
        // some letters likelier than others.
        for (i, b) in bytes.into_iter().enumerate() {
            if i != 6 && i != 8 && b < 248 && id.len() < 5 + 24 {
                id.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    id
}

// ---------------------------------------------------------------------------------------------
// The generic format.

/// The system text that describes `tools` to a model whose template knows no tools, and how
/// to call them.
///
/// The generic format: to call tools the model replies with only
/// `{"tool_calls": [{"name": "<tool>", "arguments": {…}}, …]}`; otherwise it answers in plain
/// text. A lone call object `{"name": "<tool>", "arguments": {…}}` is read as a call too, and
/// either may stand in a Markdown code fence. Results come back as user messages that begin
/// `Result of <tool> (call <id>):` ([`generic_result_text`]).
pub fn generic_tool_prompt(tools: &[ToolSpec]) -> String {
    let mut text = String::from("You can call these tools (one JSON object per line):\n");
    for tool in tools {
        text.push_str(&format!("{{\"name\": {}", json_string(&tool.name)));
        if let Some(description) = &tool.description {
            text.push_str(&format!(", \"description\": {}", json_string(description)));
        }
        text.push_str(&format!(
            ", \"parameters\": {}}}\n",
            spaced_json(&parameters_schema(tool))
        ));
    }
    text.push_str(
        "\nTo call tools, reply with only a JSON object of this shape and nothing else:\n\
         {\"tool_calls\": [{\"name\": \"<tool name>\", \"arguments\": {<its arguments>}}]}\n\
         List several calls to call several tools at once. To answer without a tool, reply in \
         plain text. The result of each call comes back in a message that begins \
         \"Result of <tool name> (call <id>):\".",
    );
    text
}

/// An earlier reply's calls as the generic format writes them.
pub fn generic_calls_text(calls: &[ToolCall]) -> String {
    let calls: Vec<String> = calls
        .iter()
        .map(|c| {
            let arguments = serde_json::from_str::<Value>(&c.arguments)
                .map(|v| spaced_json(&v))
                .unwrap_or_else(|_| json_string(&c.arguments));
            format!(
                "{{\"name\": {}, \"arguments\": {arguments}}}",
                json_string(&c.name)
            )
        })
        .collect();
    format!("{{\"{GENERIC_CALLS_KEY}\": [{}]}}", calls.join(", "))
}

/// A tool's result as the generic format shows it: a user message that names the call.
pub fn generic_result_text(name: Option<&str>, call_id: Option<&str>, content: &str) -> String {
    match (name, call_id) {
        (Some(name), Some(id)) => format!("Result of {name} (call {id}): {content}"),
        (Some(name), None) => format!("Result of {name}: {content}"),
        (None, Some(id)) => format!("Result of call {id}: {content}"),
        (None, None) => format!("Result of a tool call: {content}"),
    }
}

/// A tool's parameters schema; a tool without one takes an object.
fn parameters_schema(tool: &ToolSpec) -> Value {
    match &tool.parameters {
        Value::Null => serde_json::json!({"type": "object"}),
        other => other.clone(),
    }
}

fn json_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// JSON on one line with a space after `:` and `,`, the way models trained on Python's
/// `json.dumps` write it.
fn spaced_json(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(spaced_json).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(map) => {
            let members: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", json_string(k), spaced_json(v)))
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Forced calls.

/// The shape a request's reply must have once its tool choice is applied: a forced call is a
/// grammar in the model's own call format; otherwise the request's own output shape.
pub fn effective_output(request: &crate::GenerateRequest, format: ToolFormat) -> OutputConstraint {
    let allowed: Vec<&ToolSpec> = match &request.tool_choice {
        ToolChoice::Required => request.tools.iter().collect(),
        ToolChoice::Named(name) => {
            let named: Vec<&ToolSpec> = request.tools.iter().filter(|t| &t.name == name).collect();
            // A name that is not a tool is refused before generation; should one get here,
            // any of the tools is still a call.
            if named.is_empty() {
                request.tools.iter().collect()
            } else {
                named
            }
        }
        ToolChoice::Auto | ToolChoice::None => Vec::new(),
    };
    if allowed.is_empty() {
        return request.output.clone();
    }
    OutputConstraint::Lark(forced_call_grammar(
        format,
        &allowed,
        request.parallel_tool_calls,
    ))
}

/// A Lark grammar (llguidance's dialect) whose every sentence is one call to one of `tools`
/// in `format` (one or more when `parallel`), each call's JSON held to a schema embedded with
/// `%json`.
pub fn forced_call_grammar(format: ToolFormat, tools: &[&ToolSpec], parallel: bool) -> String {
    let call = format!("call: %json {}\n", call_schema(format, tools));
    match format {
        ToolFormat::Hermes => {
            let calls = if parallel {
                "start: hermes_call (\"\\n\" hermes_call)*\n"
            } else {
                "start: hermes_call\n"
            };
            format!("{calls}hermes_call: \"{HERMES_OPEN}\\n\" call \"\\n{HERMES_CLOSE}\"\n{call}")
        }
        ToolFormat::Llama3 => {
            let calls = if parallel {
                "start: call (\"\\n\" call)*\n"
            } else {
                "start: call\n"
            };
            format!("{calls}{call}")
        }
        ToolFormat::Mistral => {
            let calls = if parallel {
                "call (\", \" call)*"
            } else {
                "call"
            };
            format!("start: \"{MISTRAL_MARKER}[\" {calls} \"]\"\n{call}")
        }
        ToolFormat::Generic => {
            let max = if parallel { "" } else { ", \"maxItems\": 1" };
            format!(
                "start: %json {{\"type\": \"object\", \"properties\": {{\"{GENERIC_CALLS_KEY}\": \
                 {{\"type\": \"array\", \"items\": {}, \"minItems\": 1{max}}}}}, \
                 \"required\": [\"{GENERIC_CALLS_KEY}\"], \"additionalProperties\": false, \
                 \"x-guidance\": {}}}\n",
                call_schema_without_options(format, tools),
                JSON_OPTIONS
            )
        }
    }
}

/// llguidance's options for the embedded schemas: one-line JSON with the spacing models are
/// trained on (free whitespace lets a greedy sampler write spaces without end), and keywords
/// it does not know in a tool's schema ignored rather than refused.
const JSON_OPTIONS: &str = "{\"whitespace_flexible\": false, \"key_separator\": \": \", \
                            \"item_separator\": \", \", \"lenient\": true}";

/// The schema of one call: `{"name": <const>, "<arguments key>": <parameters>}`, over the
/// tools, with llguidance's options.
fn call_schema(format: ToolFormat, tools: &[&ToolSpec]) -> String {
    let inner = call_schema_without_options(format, tools);
    // `inner` is an object: the options go in before its closing brace.
    format!(
        "{}, \"x-guidance\": {JSON_OPTIONS}}}",
        &inner[..inner.len() - 1]
    )
}

/// The schema of one call, written by hand so that `name` comes before the arguments
/// whatever order a JSON map keeps (the reader streams a call's arguments only once it knows
/// the name).
fn call_schema_without_options(format: ToolFormat, tools: &[&ToolSpec]) -> String {
    let key = format.arguments_key();
    let one = |tool: &ToolSpec| {
        format!(
            "{{\"type\": \"object\", \"properties\": {{\"name\": {{\"const\": {}}}, \
             \"{key}\": {}}}, \"required\": [\"name\", \"{key}\"], \
             \"additionalProperties\": false}}",
            json_string(&tool.name),
            parameters_schema(tool)
        )
    };
    match tools {
        [tool] => one(tool),
        _ => {
            let each: Vec<String> = tools.iter().map(|t| one(t)).collect();
            format!("{{\"anyOf\": [{}]}}", each.join(", "))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading replies.

/// A reply with its tool calls taken out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedReply {
    /// The text that is not a call.
    pub content: String,
    /// The calls, in order.
    pub tool_calls: Vec<ToolCall>,
}

/// A piece of a reply read while it streams, as OpenAI streams `tool_calls` deltas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyDelta {
    /// Text that is not a call.
    Content(String),
    /// A call begins.
    CallStart {
        /// Which call of the reply, from 0.
        index: usize,
        /// Its id.
        id: String,
        /// The function.
        name: String,
    },
    /// More of a call's arguments; a call's fragments joined are its arguments' JSON.
    CallArguments {
        /// Which call.
        index: usize,
        /// The piece.
        fragment: String,
    },
}

/// Reads the calls out of a whole reply: the content and the calls that
/// [`ToolCallStream`] would stream for it.
pub fn parse_reply(format: ToolFormat, text: &str, tools: &[ToolSpec]) -> ParsedReply {
    let mut stream = ToolCallStream::new(format, tools.to_vec());
    let mut deltas = stream.push(text);
    deltas.extend(stream.finish());
    collect_deltas(deltas)
}

/// Joins streamed pieces into the reply they make.
pub fn collect_deltas(deltas: impl IntoIterator<Item = ReplyDelta>) -> ParsedReply {
    let mut reply = ParsedReply::default();
    for delta in deltas {
        match delta {
            ReplyDelta::Content(text) => reply.content.push_str(&text),
            ReplyDelta::CallStart { id, name, .. } => reply.tool_calls.push(ToolCall {
                id,
                name,
                arguments: String::new(),
            }),
            ReplyDelta::CallArguments { index, fragment } => {
                if let Some(call) = reply.tool_calls.get_mut(index) {
                    call.arguments.push_str(&fragment);
                }
            }
        }
    }
    reply
}

/// Reads tool calls out of a reply while it streams: content passes as it comes, text that may
/// begin a call is held back until it is known, a call's arguments stream once its opening is
/// read.
#[derive(Debug)]
pub struct ToolCallStream {
    format: ToolFormat,
    tools: Vec<ToolSpec>,
    /// The text since the last point at which everything before was settled.
    pending: String,
    /// Whether `pending` starts right after a call (its leading whitespace is dropped).
    after_call: bool,
    /// What was streamed of the items read from `pending`.
    emitted: Vec<Item>,
    /// Calls settled before `pending`.
    call_base: usize,
    /// The id of each call streamed so far.
    ids: Vec<String>,
}

impl ToolCallStream {
    /// A reader for replies in `format` that may call `tools` (with no tools, everything is
    /// content).
    pub fn new(format: ToolFormat, tools: Vec<ToolSpec>) -> ToolCallStream {
        ToolCallStream {
            format,
            tools,
            pending: String::new(),
            after_call: false,
            emitted: Vec::new(),
            call_base: 0,
            ids: Vec::new(),
        }
    }

    /// The pieces that `piece`, the reply's next text, settles.
    pub fn push(&mut self, piece: &str) -> Vec<ReplyDelta> {
        self.pending.push_str(piece);
        self.advance(false)
    }

    /// The pieces still held back, once the reply has ended.
    pub fn finish(mut self) -> Vec<ReplyDelta> {
        self.advance(true)
    }

    fn advance(&mut self, last: bool) -> Vec<ReplyDelta> {
        let reader = Reader {
            text: &self.pending,
            bytes: self.pending.as_bytes(),
            format: self.format,
            tools: &self.tools,
            last,
        };
        let scan = reader.scan(self.after_call);
        let mut out = Vec::new();
        let mut calls = 0;
        for (k, item) in scan.items.iter().enumerate() {
            let before = self.emitted.get(k);
            match (item, before) {
                (Item::Content(text), None) => out.push(ReplyDelta::Content(text.clone())),
                (Item::Content(text), Some(Item::Content(old))) => {
                    if let Some(more) = text.strip_prefix(old.as_str()).filter(|m| !m.is_empty()) {
                        out.push(ReplyDelta::Content(more.to_owned()));
                    }
                }
                (Item::Call { name, arguments }, None) => {
                    let index = self.call_base + calls;
                    let id = new_call_id();
                    self.ids.push(id.clone());
                    out.push(ReplyDelta::CallStart {
                        index,
                        id,
                        name: name.clone(),
                    });
                    if !arguments.is_empty() {
                        out.push(ReplyDelta::CallArguments {
                            index,
                            fragment: arguments.clone(),
                        });
                    }
                }
                (Item::Call { arguments, .. }, Some(Item::Call { arguments: old, .. })) => {
                    if let Some(more) = arguments
                        .strip_prefix(old.as_str())
                        .filter(|m| !m.is_empty())
                    {
                        out.push(ReplyDelta::CallArguments {
                            index: self.call_base + calls,
                            fragment: more.to_owned(),
                        });
                    }
                }
                // The reader never takes back what it settled: no other pairs occur.
                _ => {}
            }
            if matches!(item, Item::Call { .. }) {
                calls += 1;
            }
        }
        let (at, after_call, items_before) = scan.checkpoint;
        self.call_base += scan.items[..items_before]
            .iter()
            .filter(|i| matches!(i, Item::Call { .. }))
            .count();
        self.emitted = scan.items;
        self.emitted.drain(..items_before);
        self.pending.drain(..at);
        self.after_call = after_call;
        out
    }
}

/// What the reader settled: text, or a call with the arguments read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Content(String),
    Call { name: String, arguments: String },
}

/// What a scan of the pending text settled, and the last point before which everything is
/// settled: (byte offset, whether it follows a call, items before it).
struct Scan {
    items: Vec<Item>,
    checkpoint: (usize, bool, usize),
}

/// One reading of the pending text.
struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    format: ToolFormat,
    tools: &'a [ToolSpec],
    /// No more text will come.
    last: bool,
}

/// How a piece of text read as a block of calls.
enum Block {
    /// Not a call: it is content.
    Not,
    /// Could still become a call; nothing is settled.
    Pending,
    /// One or more calls; `end` is where the block's text ends, `None` while it is still open.
    Calls {
        calls: Vec<CallRead>,
        end: Option<usize>,
    },
}

/// A call whose opening was read.
struct CallRead {
    name: String,
    /// The arguments' text read so far (`None`: the call has no arguments, `{}`).
    arguments: Option<(usize, usize)>,
    /// Where the call's text ends, `None` while it is still open.
    end: Option<usize>,
    /// The call broke off (bad JSON after its opening); nothing that follows belongs to it.
    broken: bool,
}

/// How reading a call object went.
enum ObjectRead {
    Not,
    Pending,
    Call(CallRead),
}

/// How much of a literal the text holds at a position.
enum Literal {
    /// All of it; the offset after it.
    Whole(usize),
    /// The text ends inside it.
    Partial,
    No,
}

/// How lexing a JSON value went.
enum Lex {
    /// A whole value; the offset after it.
    Done(usize),
    /// The text ends inside the value.
    More,
    /// The text is not JSON at this offset.
    Bad(usize),
}

impl Reader<'_> {
    fn scan(&self, mut after_call: bool) -> Scan {
        let mut items = Vec::new();
        let mut checkpoint = (0, after_call, 0);
        let mut start = 0;
        let mut search = 0;
        loop {
            let Some(t) = self.next_trigger(search) else {
                self.content(
                    start,
                    self.text.len(),
                    !self.last,
                    &mut after_call,
                    &mut items,
                    &mut checkpoint,
                );
                break;
            };
            match self.block(t) {
                Block::Not => search = t + char_len(self.text, t),
                Block::Pending => {
                    self.content(start, t, true, &mut after_call, &mut items, &mut checkpoint);
                    break;
                }
                Block::Calls { calls, end } => {
                    // Whitespace before a call is not content.
                    self.content(start, t, true, &mut after_call, &mut items, &mut checkpoint);
                    for call in calls {
                        let arguments = match call.arguments {
                            Some((a, b)) => compact_json(&self.text[a..b]),
                            None => "{}".to_owned(),
                        };
                        items.push(Item::Call {
                            name: call.name,
                            arguments,
                        });
                    }
                    match end {
                        Some(e) => {
                            start = e;
                            search = e;
                            after_call = true;
                            checkpoint = (e, true, items.len());
                        }
                        None => break,
                    }
                }
            }
        }
        Scan { items, checkpoint }
    }

    /// Settles `text[start..end]` as content: whitespace right after a call is dropped, and
    /// trailing whitespace is held back (`hold_trailing`) since a call may follow it.
    fn content(
        &self,
        start: usize,
        end: usize,
        hold_trailing: bool,
        after_call: &mut bool,
        items: &mut Vec<Item>,
        checkpoint: &mut (usize, bool, usize),
    ) {
        let mut piece = &self.text[start..end];
        let mut from = start;
        if *after_call {
            let trimmed = piece.trim_start_matches(is_json_ws_char);
            from += piece.len() - trimmed.len();
            piece = trimmed;
        }
        if hold_trailing {
            piece = piece.trim_end_matches(is_json_ws_char);
        }
        if piece.is_empty() {
            return;
        }
        items.push(Item::Content(piece.to_owned()));
        *after_call = false;
        *checkpoint = (from + piece.len(), false, items.len());
    }

    /// The first offset at or after `from` where a call may begin.
    fn next_trigger(&self, from: usize) -> Option<usize> {
        if self.tools.is_empty() {
            return None;
        }
        let triggers = self.format.triggers();
        (from..self.text.len())
            .filter(|&i| self.text.is_char_boundary(i))
            .find(|&i| {
                triggers
                    .iter()
                    .any(|t| !matches!(self.literal(i, t), Literal::No))
            })
    }

    /// Reads the calls that begin at `t`, in the reader's format.
    fn block(&self, t: usize) -> Block {
        match self.format {
            ToolFormat::Hermes => self.hermes(t),
            ToolFormat::Llama3 => self.json_calls(t, Some(PYTHON_TAG), false),
            ToolFormat::Generic => self.json_calls(t, None, true),
            ToolFormat::Mistral => self.mistral(t),
        }
    }

    /// `<tool_call>` object `</tool_call>` (the closing tag may be missing).
    fn hermes(&self, t: usize) -> Block {
        let i = match self.literal(t, HERMES_OPEN) {
            Literal::Whole(i) => self.skip_ws(i),
            Literal::Partial => return Block::Pending,
            Literal::No => return Block::Not,
        };
        let call = match self.call_object(i) {
            ObjectRead::Not => return Block::Not,
            ObjectRead::Pending => return self.pending_or_not(),
            ObjectRead::Call(call) => call,
        };
        let end = self.call_closing(&call, &[HERMES_CLOSE]);
        Block::Calls {
            calls: vec![call],
            end,
        }
    }

    /// Where a call's block ends: after the first of `closings` that follows it (past
    /// whitespace), or right after the call when none does; `None` while that is not known.
    fn call_closing(&self, call: &CallRead, closings: &[&str]) -> Option<usize> {
        let e = call.end?;
        if call.broken {
            return Some(e);
        }
        let i = self.skip_ws(e);
        let mut partial = i == self.text.len() && !self.last;
        for closing in closings {
            match self.literal(i, closing) {
                Literal::Whole(after) => return Some(after),
                Literal::Partial => partial = true,
                Literal::No => {}
            }
        }
        if partial { None } else { Some(e) }
    }

    /// A JSON call object, optionally after `marker` or in a Markdown code fence; with
    /// `wrapper`, also the generic format's `{"tool_calls": [...]}`.
    fn json_calls(&self, t: usize, marker: Option<&str>, wrapper: bool) -> Block {
        let mut i = t;
        if let Some(marker) = marker {
            match self.literal(i, marker) {
                Literal::Whole(after) => i = self.skip_ws(after),
                Literal::Partial => return Block::Pending,
                Literal::No => {}
            }
        }
        let mut fenced = false;
        if i == t {
            match self.literal(i, FENCE) {
                Literal::Whole(after) => {
                    let after = match self.literal(after, "json") {
                        Literal::Whole(after) => after,
                        Literal::Partial => return self.pending_or_not(),
                        Literal::No => after,
                    };
                    fenced = true;
                    i = self.skip_ws(after);
                }
                Literal::Partial => return self.pending_or_not(),
                Literal::No => {}
            }
        }
        if i == self.text.len() {
            return self.pending_or_not();
        }
        if self.bytes[i] != b'{' {
            return Block::Not;
        }
        if wrapper {
            match self.first_key(i) {
                Lex::More => return self.pending_or_not(),
                Lex::Done(k) if &self.text[k..self.string_end(k)] == "\"tool_calls\"" => {
                    return self.generic_wrapper(i, fenced);
                }
                _ => {}
            }
        }
        let call = match self.call_object(i) {
            ObjectRead::Not => return Block::Not,
            ObjectRead::Pending => return self.pending_or_not(),
            ObjectRead::Call(call) => call,
        };
        let closings: &[&str] = if fenced { &[FENCE] } else { &[";"] };
        let end = self.call_closing(&call, closings);
        Block::Calls {
            calls: vec![call],
            end,
        }
    }

    /// The offset of the first key of the object at `i`, once it is whole.
    fn first_key(&self, i: usize) -> Lex {
        let k = self.skip_ws(i + 1);
        if k == self.text.len() {
            return Lex::More;
        }
        if self.bytes[k] != b'"' {
            return Lex::Bad(k);
        }
        match lex_string(self.bytes, k) {
            Lex::Done(_) => Lex::Done(k),
            other => other,
        }
    }

    /// The offset after the string that starts at `k` (which [`Reader::first_key`] found whole).
    fn string_end(&self, k: usize) -> usize {
        match lex_string(self.bytes, k) {
            Lex::Done(e) => e,
            _ => k,
        }
    }

    /// `{"tool_calls": [call, …]}` at `i`.
    fn generic_wrapper(&self, i: usize, fenced: bool) -> Block {
        let Lex::Done(k) = self.first_key(i) else {
            return self.pending_or_not();
        };
        let j = self.skip_ws(self.string_end(k));
        match self.literal(j, ":") {
            Literal::Whole(after) => {
                let j = self.skip_ws(after);
                match self.call_list(j) {
                    Block::Calls {
                        calls,
                        end: Some(e),
                    } => {
                        let mut closings = vec!["}"];
                        if fenced {
                            closings.push(FENCE);
                        }
                        let end = self.closings_after(e, &closings);
                        Block::Calls { calls, end }
                    }
                    other => other,
                }
            }
            Literal::Partial => self.pending_or_not(),
            Literal::No => Block::Not,
        }
    }

    /// Takes each of `closings`, in order and each past whitespace, that follows `e`; `None`
    /// while the text ends where one may still come.
    fn closings_after(&self, mut e: usize, closings: &[&str]) -> Option<usize> {
        for closing in closings {
            let i = self.skip_ws(e);
            if i == self.text.len() && !self.last {
                return None;
            }
            match self.literal(i, closing) {
                Literal::Whole(after) => e = after,
                Literal::Partial => return None,
                Literal::No => break,
            }
        }
        Some(e)
    }

    /// `[call, call, …]` at `i`: a list that breaks after its first call ends there.
    fn call_list(&self, i: usize) -> Block {
        match self.literal(i, "[") {
            Literal::Whole(_) => {}
            Literal::Partial => return self.pending_or_not(),
            Literal::No => return Block::Not,
        }
        let mut calls = Vec::new();
        let mut j = self.skip_ws(i + 1);
        loop {
            let element = j;
            let call = match self.call_object(j) {
                ObjectRead::Call(call) => call,
                ObjectRead::Not if calls.is_empty() => return Block::Not,
                ObjectRead::Pending if calls.is_empty() => return self.pending_or_not(),
                ObjectRead::Not => {
                    return Block::Calls {
                        calls,
                        end: Some(element),
                    };
                }
                ObjectRead::Pending => {
                    return if self.last {
                        Block::Calls {
                            calls,
                            end: Some(element),
                        }
                    } else {
                        Block::Calls { calls, end: None }
                    };
                }
            };
            let (end, broken) = (call.end, call.broken);
            calls.push(call);
            let Some(e) = end else {
                return Block::Calls { calls, end: None };
            };
            if broken {
                return Block::Calls {
                    calls,
                    end: Some(e),
                };
            }
            let k = self.skip_ws(e);
            if k == self.text.len() {
                return if self.last {
                    Block::Calls {
                        calls,
                        end: Some(e),
                    }
                } else {
                    Block::Calls { calls, end: None }
                };
            }
            match self.bytes[k] {
                b',' => j = self.skip_ws(k + 1),
                b']' => {
                    return Block::Calls {
                        calls,
                        end: Some(k + 1),
                    };
                }
                _ => {
                    return Block::Calls {
                        calls,
                        end: Some(e),
                    };
                }
            }
        }
    }

    /// `[TOOL_CALLS]` then a list of calls or `name[ARGS]{…}`; or a bare list of calls (the
    /// marker is a control token that the text may not show).
    fn mistral(&self, t: usize) -> Block {
        let i = match self.literal(t, MISTRAL_MARKER) {
            Literal::Whole(after) => self.skip_ws(after),
            Literal::Partial => return Block::Pending,
            Literal::No => return self.call_list(t),
        };
        if i == self.text.len() {
            return self.pending_or_not();
        }
        if self.bytes[i] == b'[' {
            return self.call_list(i);
        }
        // name[ARGS]{…}
        let name_end = self.text[i..]
            .find(|c: char| !(c.is_alphanumeric() || "_-.".contains(c)))
            .map_or(self.text.len(), |n| i + n);
        let name = &self.text[i..name_end];
        if name_end == self.text.len() {
            let could_be = self.tools.iter().any(|t| t.name.starts_with(name));
            return if could_be {
                self.pending_or_not()
            } else {
                Block::Not
            };
        }
        if !self.is_tool(name) {
            return Block::Not;
        }
        let a = match self.literal(name_end, MISTRAL_ARGS) {
            Literal::Whole(after) => self.skip_ws(after),
            Literal::Partial => return self.pending_or_not(),
            Literal::No => return Block::Not,
        };
        if a == self.text.len() {
            return self.pending_or_not();
        }
        if self.bytes[a] != b'{' {
            return Block::Not;
        }
        let call = self.committed_arguments(name.to_owned(), a);
        let end = call.end;
        Block::Calls {
            calls: vec![call],
            end,
        }
    }

    /// A call whose opening is read and whose arguments begin at `a`: what they hold so far.
    fn committed_arguments(&self, name: String, a: usize) -> CallRead {
        match lex_value(self.bytes, a, 0) {
            Lex::Done(e) => CallRead {
                name,
                arguments: Some((a, e)),
                end: Some(e),
                broken: false,
            },
            Lex::More => CallRead {
                name,
                arguments: Some((a, self.text.len())),
                end: self.last.then_some(self.text.len()),
                broken: self.last,
            },
            Lex::Bad(x) => CallRead {
                name,
                arguments: Some((a, x)),
                end: Some(x),
                broken: true,
            },
        }
    }

    /// A call object at `i`: `{"name": <tool>, "arguments"|"parameters": {…}}`, its members
    /// in any order, `"type"` and `"id"` allowed beside them.
    fn call_object(&self, i: usize) -> ObjectRead {
        if i == self.text.len() {
            return if self.last {
                ObjectRead::Not
            } else {
                ObjectRead::Pending
            };
        }
        if self.bytes[i] != b'{' {
            return ObjectRead::Not;
        }
        let mut name: Option<String> = None;
        let mut arguments: Option<(usize, usize)> = None;
        // Set once the arguments started after a valid name: the call is settled.
        let mut committed = false;
        let mut j = self.skip_ws(i + 1);
        let mut first = true;
        // What to do when the text ends or breaks at `at`.
        let stop = |committed: bool, name: &Option<String>, args, at: usize, bad: bool| {
            if committed {
                ObjectRead::Call(CallRead {
                    name: name.clone().unwrap_or_default(),
                    arguments: args,
                    end: (bad || self.last).then_some(at),
                    broken: true,
                })
            } else if bad || self.last {
                ObjectRead::Not
            } else {
                ObjectRead::Pending
            }
        };
        loop {
            if j == self.text.len() {
                return stop(committed, &name, arguments, j, false);
            }
            if first && self.bytes[j] == b'}' {
                return ObjectRead::Not;
            }
            first = false;
            let key_end = match lex_string_at(self.bytes, j) {
                Lex::Done(e) => e,
                Lex::More => return stop(committed, &name, arguments, j, false),
                Lex::Bad(_) => return stop(committed, &name, arguments, j, true),
            };
            let key: String = serde_json::from_str(&self.text[j..key_end]).unwrap_or_default();
            let k = self.skip_ws(key_end);
            if k == self.text.len() {
                return stop(committed, &name, arguments, j, false);
            }
            if self.bytes[k] != b':' {
                return stop(committed, &name, arguments, j, true);
            }
            let v = self.skip_ws(k + 1);
            if v == self.text.len() {
                return stop(committed, &name, arguments, j, false);
            }
            let value_end = match key.as_str() {
                "name" if name.is_none() => {
                    let e = match lex_string_at(self.bytes, v) {
                        Lex::Done(e) => e,
                        Lex::More => return stop(committed, &name, arguments, j, false),
                        Lex::Bad(_) => return stop(committed, &name, arguments, j, true),
                    };
                    let value: String = serde_json::from_str(&self.text[v..e]).unwrap_or_default();
                    if !self.is_tool(&value) {
                        return stop(committed, &name, arguments, j, true);
                    }
                    name = Some(value);
                    e
                }
                "arguments" | "parameters" if arguments.is_none() => {
                    if self.bytes[v] != b'{' {
                        return stop(committed, &name, arguments, j, true);
                    }
                    if name.is_some() {
                        committed = true;
                    }
                    match lex_value(self.bytes, v, 0) {
                        Lex::Done(e) => {
                            arguments = Some((v, e));
                            e
                        }
                        Lex::More => {
                            let upto = self.text.len();
                            return stop(committed, &name, Some((v, upto)), upto, false);
                        }
                        Lex::Bad(x) => return stop(committed, &name, Some((v, x)), x, true),
                    }
                }
                "type" | "id" => match lex_value(self.bytes, v, 0) {
                    Lex::Done(e) => e,
                    Lex::More => return stop(committed, &name, arguments, j, false),
                    Lex::Bad(_) => return stop(committed, &name, arguments, j, true),
                },
                _ => return stop(committed, &name, arguments, j, true),
            };
            let after = self.skip_ws(value_end);
            if after == self.text.len() {
                return stop(committed, &name, arguments, value_end, false);
            }
            match self.bytes[after] {
                b',' => j = self.skip_ws(after + 1),
                b'}' => {
                    let Some(name) = name else {
                        return stop(committed, &name, arguments, after, true);
                    };
                    return ObjectRead::Call(CallRead {
                        name,
                        arguments,
                        end: Some(after + 1),
                        broken: false,
                    });
                }
                _ => return stop(committed, &name, arguments, value_end, true),
            }
        }
    }

    fn is_tool(&self, name: &str) -> bool {
        self.tools.iter().any(|t| t.name == name)
    }

    /// While more text may come, an open question; at the end of the reply, not a call.
    fn pending_or_not(&self) -> Block {
        if self.last {
            Block::Not
        } else {
            Block::Pending
        }
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while i < self.bytes.len() && is_json_ws(self.bytes[i]) {
            i += 1;
        }
        i
    }

    /// Whether the text at `i` holds `lit`; [`Literal::Partial`] only while more text may come.
    fn literal(&self, i: usize, lit: &str) -> Literal {
        let rest = &self.bytes[i.min(self.bytes.len())..];
        if rest.starts_with(lit.as_bytes()) {
            Literal::Whole(i + lit.len())
        } else if !self.last && lit.as_bytes().starts_with(rest) {
            // The text ends inside the literal (or right before it).
            Literal::Partial
        } else {
            Literal::No
        }
    }
}

fn char_len(text: &str, i: usize) -> usize {
    text[i..].chars().next().map_or(1, char::len_utf8)
}

fn is_json_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_json_ws_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// A JSON string at `i` (which may be past the end).
fn lex_string_at(b: &[u8], i: usize) -> Lex {
    match b.get(i) {
        None => Lex::More,
        Some(b'"') => lex_string(b, i),
        Some(_) => Lex::Bad(i),
    }
}

/// A JSON string whose opening quote is at `i`.
fn lex_string(b: &[u8], i: usize) -> Lex {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'"' => return Lex::Done(j + 1),
            b'\\' => {
                let Some(&e) = b.get(j + 1) else {
                    return Lex::More;
                };
                match e {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => j += 2,
                    b'u' => {
                        for k in j + 2..j + 6 {
                            match b.get(k) {
                                None => return Lex::More,
                                Some(h) if h.is_ascii_hexdigit() => {}
                                Some(_) => return Lex::Bad(k),
                            }
                        }
                        j += 6;
                    }
                    _ => return Lex::Bad(j + 1),
                }
            }
            c if c < 0x20 => return Lex::Bad(j),
            _ => j += 1,
        }
    }
    Lex::More
}

/// A JSON value at `i`, nested at most [`MAX_JSON_DEPTH`] deep.
fn lex_value(b: &[u8], i: usize, depth: usize) -> Lex {
    if depth > MAX_JSON_DEPTH {
        return Lex::Bad(i);
    }
    let Some(&c) = b.get(i) else {
        return Lex::More;
    };
    match c {
        b'"' => lex_string(b, i),
        b'{' => lex_container(b, i, depth, b'}', true),
        b'[' => lex_container(b, i, depth, b']', false),
        b't' => lex_word(b, i, b"true"),
        b'f' => lex_word(b, i, b"false"),
        b'n' => lex_word(b, i, b"null"),
        b'-' | b'0'..=b'9' => lex_number(b, i),
        _ => Lex::Bad(i),
    }
}

fn lex_word(b: &[u8], i: usize, word: &[u8]) -> Lex {
    for (k, &w) in word.iter().enumerate() {
        match b.get(i + k) {
            None => return Lex::More,
            Some(&c) if c == w => {}
            Some(_) => return Lex::Bad(i + k),
        }
    }
    Lex::Done(i + word.len())
}

/// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`. A number that
/// reaches the end of the text may go on: [`Lex::More`].
fn lex_number(b: &[u8], i: usize) -> Lex {
    let mut j = i;
    let at = |j: usize| b.get(j).copied();
    let digits = |mut j: usize| {
        while at(j).is_some_and(|c| c.is_ascii_digit()) {
            j += 1;
        }
        j
    };
    if at(j) == Some(b'-') {
        j += 1;
    }
    match at(j) {
        None => return Lex::More,
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j = digits(j),
        Some(_) => return Lex::Bad(j),
    }
    if at(j) == Some(b'.') {
        j += 1;
        match at(j) {
            None => return Lex::More,
            Some(c) if c.is_ascii_digit() => j = digits(j),
            Some(_) => return Lex::Bad(j),
        }
    }
    if matches!(at(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(at(j), Some(b'+' | b'-')) {
            j += 1;
        }
        match at(j) {
            None => return Lex::More,
            Some(c) if c.is_ascii_digit() => j = digits(j),
            Some(_) => return Lex::Bad(j),
        }
    }
    if j == b.len() {
        Lex::More
    } else {
        Lex::Done(j)
    }
}

/// An object (`{"key": value, …}`) or array (`[value, …]`) at `i`.
fn lex_container(b: &[u8], i: usize, depth: usize, close: u8, object: bool) -> Lex {
    let ws = |mut j: usize| {
        while b.get(j).is_some_and(|&c| is_json_ws(c)) {
            j += 1;
        }
        j
    };
    let mut j = ws(i + 1);
    match b.get(j) {
        None => return Lex::More,
        Some(&c) if c == close => return Lex::Done(j + 1),
        Some(_) => {}
    }
    loop {
        if object {
            j = match lex_string_at(b, j) {
                Lex::Done(e) => ws(e),
                other => return other,
            };
            match b.get(j) {
                None => return Lex::More,
                Some(b':') => j = ws(j + 1),
                Some(_) => return Lex::Bad(j),
            }
        }
        j = match lex_value(b, j, depth + 1) {
            Lex::Done(e) => ws(e),
            other => return other,
        };
        match b.get(j) {
            None => return Lex::More,
            Some(b',') => j = ws(j + 1),
            Some(&c) if c == close => return Lex::Done(j + 1),
            Some(_) => return Lex::Bad(j),
        }
    }
}

/// JSON text with the whitespace between its tokens taken out.
fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !is_json_ws_char(c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn weather() -> ToolSpec {
        ToolSpec {
            name: "get_weather".into(),
            description: Some("Current weather in a city".into()),
            parameters: json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"enum": ["C", "F"]}},
                "required": ["city"]
            }),
        }
    }

    fn time() -> ToolSpec {
        ToolSpec {
            name: "get_time".into(),
            description: None,
            parameters: Value::Null,
        }
    }

    fn tools() -> Vec<ToolSpec> {
        vec![weather(), time()]
    }

    fn calls(reply: &ParsedReply) -> Vec<(&str, &str)> {
        reply
            .tool_calls
            .iter()
            .map(|c| (c.name.as_str(), c.arguments.as_str()))
            .collect()
    }

    /// The reply read whole, and checked against the same reply streamed in pieces split at
    /// every offset (and in one-character pieces).
    fn read(format: ToolFormat, text: &str) -> ParsedReply {
        let whole = parse_reply(format, text, &tools());
        let strip =
            |r: &ParsedReply| (r.content.clone(), calls(r).len(), format!("{:?}", calls(r)));
        let boundaries: Vec<usize> = (0..=text.len())
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        for &at in &boundaries {
            let mut stream = ToolCallStream::new(format, tools());
            let mut deltas = stream.push(&text[..at]);
            deltas.extend(stream.push(&text[at..]));
            deltas.extend(stream.finish());
            let streamed = collect_deltas(deltas);
            assert_eq!(strip(&streamed), strip(&whole), "split at {at} of {text:?}");
        }
        let mut stream = ToolCallStream::new(format, tools());
        let mut deltas = Vec::new();
        for c in text.chars() {
            deltas.extend(stream.push(&c.to_string()));
        }
        deltas.extend(stream.finish());
        let streamed = collect_deltas(deltas);
        assert_eq!(strip(&streamed), strip(&whole), "char by char: {text:?}");
        for call in &whole.tool_calls {
            assert!(
                call.id.starts_with("call_") && call.id.len() == 29,
                "{}",
                call.id
            );
        }
        whole
    }

    #[test]
    fn formats_are_detected_from_template_sources() {
        let cases = [
            (
                "{% for tool in tools %}{{ tool | tojson }}{% endfor %}<tool_call>",
                ToolFormat::Hermes,
            ),
            (
                "{{ '<|python_tag|>' + tool_call.function.name }}",
                ToolFormat::Llama3,
            ),
            (
                "<|start_header_id|>ipython<|end_header_id|>{\"name\": function name, \"parameters\": …}",
                ToolFormat::Llama3,
            ),
            (
                "[AVAILABLE_TOOLS]{{ tools }}[/AVAILABLE_TOOLS][TOOL_CALLS]",
                ToolFormat::Mistral,
            ),
            (
                "<|start_header_id|>{{ message.role }}<|end_header_id|>",
                ToolFormat::Generic,
            ),
            (crate::template::CHATML_TEMPLATE, ToolFormat::Generic),
        ];
        for (source, format) in cases {
            assert_eq!(ToolFormat::detect(source), format, "{source}");
        }
    }

    #[test]
    fn hermes_calls_are_read_with_the_text_around_them() {
        let text = "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"C\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";
        let reply = read(ToolFormat::Hermes, text);
        assert_eq!(reply.content, "Let me check.");
        assert_eq!(
            calls(&reply),
            [
                ("get_weather", r#"{"city":"Paris","unit":"C"}"#),
                ("get_time", "{}")
            ]
        );
        assert_ne!(reply.tool_calls[0].id, reply.tool_calls[1].id);
    }

    #[test]
    fn llama3_calls_are_read_bare_or_after_the_python_tag() {
        let reply = read(
            ToolFormat::Llama3,
            r#"{"name": "get_weather", "parameters": {"city": "Oslo"}}"#,
        );
        assert_eq!(
            (reply.content.as_str(), calls(&reply)),
            ("", vec![("get_weather", r#"{"city":"Oslo"}"#)])
        );
        let reply = read(
            ToolFormat::Llama3,
            "<|python_tag|>{\"type\": \"function\", \"name\": \"get_time\", \"parameters\": {}}",
        );
        assert_eq!(calls(&reply), [("get_time", "{}")]);
        // A call with no arguments at all takes none.
        let reply = read(ToolFormat::Llama3, r#"{"name": "get_time"}"#);
        assert_eq!(calls(&reply), [("get_time", "{}")]);
    }

    #[test]
    fn mistral_calls_are_read_as_a_list_or_name_and_args() {
        let reply = read(
            ToolFormat::Mistral,
            r#"[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Rome"}}, {"name": "get_time", "arguments": {}, "id": "a1b2c3d4e"}]"#,
        );
        assert_eq!(reply.content, "");
        assert_eq!(
            calls(&reply),
            [("get_weather", r#"{"city":"Rome"}"#), ("get_time", "{}")]
        );
        let reply = read(
            ToolFormat::Mistral,
            r#"[TOOL_CALLS]get_weather[ARGS]{"city": "Lima"}[TOOL_CALLS]get_time[ARGS]{}"#,
        );
        assert_eq!(
            calls(&reply),
            [("get_weather", r#"{"city":"Lima"}"#), ("get_time", "{}")]
        );
        // The marker is a control token that decoded text may leave out.
        let reply = read(
            ToolFormat::Mistral,
            r#"[{"name": "get_time", "arguments": {}}]"#,
        );
        assert_eq!(calls(&reply), [("get_time", "{}")]);
    }

    #[test]
    fn generic_calls_are_read_from_the_documented_object_and_the_fallback() {
        let reply = read(
            ToolFormat::Generic,
            r#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Kyiv"}}]}"#,
        );
        assert_eq!(
            (reply.content.as_str(), calls(&reply)),
            ("", vec![("get_weather", r#"{"city":"Kyiv"}"#)])
        );
        let reply = read(
            ToolFormat::Generic,
            "Sure!\n```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Quito\"}}\n```",
        );
        assert_eq!(reply.content, "Sure!");
        assert_eq!(calls(&reply), [("get_weather", r#"{"city":"Quito"}"#)]);
    }

    #[test]
    fn text_that_only_looks_like_a_call_stays_content() {
        let cases = [
            (ToolFormat::Hermes, "<tool_call>not json</tool_call>"),
            (
                ToolFormat::Hermes,
                "<tool_call>{\"name\": \"launch_rockets\", \"arguments\": {}}</tool_call>",
            ),
            (ToolFormat::Hermes, "I will use <tool_call> tags"),
            (
                ToolFormat::Generic,
                "Use {braces} and {\"name\": \"Bob\", \"age\": 3} freely.",
            ),
            (
                ToolFormat::Generic,
                "{\"tool_calls\": [{\"name\": \"nope\", \"arguments\": {}}]}",
            ),
            (ToolFormat::Generic, "{\"name\": \"get_weather\", \"argu"),
            (ToolFormat::Llama3, "fn main() { println!(\"{}\", 1); }"),
            (ToolFormat::Mistral, "A list: [1, 2, 3] and [\"a\"]."),
            (ToolFormat::Mistral, "[TOOL_CALLS]unknown[ARGS]{}"),
            (ToolFormat::Generic, "```python\nprint({})\n```\n"),
        ];
        for (format, text) in cases {
            let reply = read(format, text);
            assert_eq!(reply.content, text, "{format:?}");
            assert!(reply.tool_calls.is_empty(), "{format:?} {text}");
        }
    }

    #[test]
    fn without_tools_everything_is_content() {
        let text = r#"<tool_call>{"name": "get_time", "arguments": {}}</tool_call>"#;
        let reply = parse_reply(ToolFormat::Hermes, text, &[]);
        assert_eq!(reply.content, text);
        assert!(reply.tool_calls.is_empty());
    }

    #[test]
    fn a_call_cut_off_after_its_opening_keeps_what_was_read() {
        let reply = read(
            ToolFormat::Hermes,
            "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par",
        );
        assert_eq!(calls(&reply), [("get_weather", r#"{"city":"Par"#)]);
        // JSON that goes wrong after the opening ends the call; the rest is content.
        let reply = read(
            ToolFormat::Hermes,
            "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"x\": oops}} after",
        );
        assert_eq!(calls(&reply), [("get_time", r#"{"x":"#)]);
        assert_eq!(reply.content, "oops}} after");
    }

    #[test]
    fn arguments_stream_in_fragments_that_join_to_the_arguments() {
        let text = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"São Paulo\", \"unit\": \"C\"}}\n</tool_call>";
        let mut stream = ToolCallStream::new(ToolFormat::Hermes, tools());
        let mut deltas = Vec::new();
        let mut fragments_before_end = 0;
        for (i, c) in text.char_indices() {
            let d = stream.push(&c.to_string());
            if i < text.find('}').unwrap() {
                fragments_before_end += d
                    .iter()
                    .filter(|d| matches!(d, ReplyDelta::CallArguments { .. }))
                    .count();
            }
            deltas.extend(d);
        }
        deltas.extend(stream.finish());
        assert!(fragments_before_end > 5, "{deltas:?}");
        assert!(
            matches!(&deltas[0], ReplyDelta::CallStart { index: 0, name, .. } if name == "get_weather")
        );
        let joined: String = deltas
            .iter()
            .filter_map(|d| match d {
                ReplyDelta::CallArguments { fragment, .. } => Some(fragment.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(joined, r#"{"city":"São Paulo","unit":"C"}"#);
        assert!(!deltas.iter().any(|d| matches!(d, ReplyDelta::Content(_))));
    }

    #[test]
    fn content_streams_at_once_and_only_a_possible_marker_is_held() {
        let mut stream = ToolCallStream::new(ToolFormat::Hermes, tools());
        assert_eq!(stream.push("Hello"), [ReplyDelta::Content("Hello".into())]);
        assert_eq!(stream.push(" <tool"), []);
        assert_eq!(
            stream.push("box> ok"),
            [ReplyDelta::Content(" <toolbox> ok".into())]
        );
        assert_eq!(stream.finish(), []);
    }

    #[test]
    fn plain_text_passes_unchanged() {
        for format in [
            ToolFormat::Hermes,
            ToolFormat::Llama3,
            ToolFormat::Mistral,
            ToolFormat::Generic,
        ] {
            let text = "  Hello, {world} [1] `x` <b>!\n\n";
            assert_eq!(read(format, text).content, text);
        }
    }

    #[test]
    fn streamed_and_whole_readings_agree_on_mixed_replies() {
        // Replies stitched from the pieces calls and prose are made of, by a fixed
        // pseudo-random sequence, each read whole and split everywhere.
        let pieces = [
            "Hi ",
            "\n",
            "  ",
            "<tool_call>",
            "</tool_call>",
            "<|python_tag|>",
            "[TOOL_CALLS]",
            "[ARGS]",
            "```json\n",
            "```",
            "{",
            "}",
            "[",
            "]",
            ", ",
            "\"name\": ",
            "\"get_time\"",
            "\"get_weather\"",
            "\"arguments\": ",
            "\"parameters\": ",
            "{\"city\": \"Nîmes\"}",
            "{\"tool_calls\": [",
            "get_time",
            "12",
            "\"",
            "\\",
            ": ",
            "ok.",
            "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Nîmes\"}}",
            "{\"name\": \"get_time\", \"parameters\": {\"a\": [1, {\"b\": null}]}}",
            "{\"name\": \"get_time\", \"arguments\": {\"a\": [1, {\"b\": -2.5e3}]}}",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut calls = 0;
        for _ in 0..150 {
            let len = 1 + next(12);
            let text: String = (0..len).map(|_| pieces[next(pieces.len())]).collect();
            for format in [
                ToolFormat::Hermes,
                ToolFormat::Llama3,
                ToolFormat::Mistral,
                ToolFormat::Generic,
            ] {
                calls += read(format, &text).tool_calls.len();
            }
        }
        assert!(calls > 50, "{calls}");
    }

    #[test]
    fn call_ids_are_fresh_and_alphanumeric() {
        let a = new_call_id();
        let b = new_call_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 29);
        assert!(a[5..].chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
    }

    #[test]
    fn compact_json_keeps_whitespace_in_strings() {
        assert_eq!(
            compact_json("{ \"a b\" : [ 1 , \"x \\\" y\" ] }"),
            r#"{"a b":[1,"x \" y"]}"#
        );
    }

    #[test]
    fn the_generic_prompt_describes_the_tools_and_the_call_shape() {
        let prompt = generic_tool_prompt(&tools());
        assert!(prompt.contains(r#"{"name": "get_weather", "description": "Current weather in a city", "parameters": {"#), "{prompt}");
        assert!(
            prompt.contains(r#"{"name": "get_time", "parameters": {"type": "object"}}"#),
            "{prompt}"
        );
        assert!(prompt.contains(
            r#"{"tool_calls": [{"name": "<tool name>", "arguments": {<its arguments>}}]}"#
        ));
        let text = generic_calls_text(&[ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: r#"{"city":"Paris"}"#.into(),
        }]);
        assert_eq!(
            text,
            r#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}"#
        );
        // What the history shows is what the reader reads.
        let reply = parse_reply(ToolFormat::Generic, &text, &tools());
        assert_eq!(calls(&reply), [("get_weather", r#"{"city":"Paris"}"#)]);
        assert_eq!(
            generic_result_text(Some("get_weather"), Some("call_1"), "12 °C"),
            "Result of get_weather (call call_1): 12 °C"
        );
    }

    fn request(choice: ToolChoice, parallel: bool) -> crate::GenerateRequest {
        let mut r = crate::GenerateRequest::new(Vec::new(), Default::default());
        r.tools = tools();
        r.tool_choice = choice;
        r.parallel_tool_calls = parallel;
        r.output = OutputConstraint::JsonObject;
        r
    }

    fn grammar(choice: ToolChoice, parallel: bool, format: ToolFormat) -> String {
        match effective_output(&request(choice, parallel), format) {
            OutputConstraint::Lark(g) => g,
            other => panic!("not a grammar: {other:?}"),
        }
    }

    /// The `%json` schemas of a grammar, parsed.
    fn schemas(grammar: &str) -> Vec<Value> {
        grammar
            .match_indices("%json ")
            .map(|(i, _)| {
                let mut values =
                    serde_json::Deserializer::from_str(&grammar[i + 6..]).into_iter::<Value>();
                values.next().unwrap().unwrap()
            })
            .collect()
    }

    #[test]
    fn free_choices_keep_the_requested_output() {
        for choice in [ToolChoice::Auto, ToolChoice::None] {
            assert_eq!(
                effective_output(&request(choice, true), ToolFormat::Hermes),
                OutputConstraint::JsonObject
            );
        }
        let mut no_tools = request(ToolChoice::Required, true);
        no_tools.tools.clear();
        assert_eq!(
            effective_output(&no_tools, ToolFormat::Hermes),
            OutputConstraint::JsonObject
        );
    }

    #[test]
    fn a_forced_call_is_a_grammar_in_the_models_format() {
        let g = grammar(ToolChoice::Required, false, ToolFormat::Hermes);
        assert!(g.starts_with("start: hermes_call\nhermes_call: \"<tool_call>\\n\" call \"\\n</tool_call>\"\ncall: %json {"), "{g}");
        let [schema] = &schemas(&g)[..] else {
            panic!("{g}")
        };
        let any: Vec<&Value> = schema["anyOf"].as_array().unwrap().iter().collect();
        assert_eq!(any.len(), 2);
        assert_eq!(
            any[0]["properties"]["name"],
            json!({"const": "get_weather"})
        );
        assert_eq!(any[0]["properties"]["arguments"], weather().parameters);
        assert_eq!(any[0]["required"], json!(["name", "arguments"]));
        assert_eq!(any[0]["additionalProperties"], json!(false));
        assert_eq!(any[1]["properties"]["arguments"], json!({"type": "object"}));
        assert_eq!(schema["x-guidance"]["whitespace_flexible"], json!(false));
        // `name` comes first in the text, so a forced call streams.
        assert!(g.find("\"name\"").unwrap() < g.find("\"arguments\"").unwrap());

        let g = grammar(
            ToolChoice::Named("get_time".into()),
            true,
            ToolFormat::Hermes,
        );
        assert!(
            g.starts_with("start: hermes_call (\"\\n\" hermes_call)*\n"),
            "{g}"
        );
        let [schema] = &schemas(&g)[..] else {
            panic!("{g}")
        };
        assert_eq!(schema["properties"]["name"], json!({"const": "get_time"}));

        let g = grammar(
            ToolChoice::Named("get_weather".into()),
            false,
            ToolFormat::Llama3,
        );
        assert!(g.starts_with("start: call\ncall: %json {"), "{g}");
        assert_eq!(schemas(&g)[0]["required"], json!(["name", "parameters"]));

        let g = grammar(ToolChoice::Required, true, ToolFormat::Mistral);
        assert!(
            g.starts_with("start: \"[TOOL_CALLS][\" call (\", \" call)* \"]\"\n"),
            "{g}"
        );

        let g = grammar(ToolChoice::Required, false, ToolFormat::Generic);
        let [schema] = &schemas(&g)[..] else {
            panic!("{g}")
        };
        assert_eq!(schema["required"], json!(["tool_calls"]));
        assert_eq!(schema["properties"]["tool_calls"]["maxItems"], json!(1));
        assert_eq!(
            schema["properties"]["tool_calls"]["items"]["anyOf"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn what_a_forced_grammar_allows_is_read_as_calls() {
        // Sentences of each grammar, as the constrained model writes them.
        let cases = [
            (
                ToolFormat::Hermes,
                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>",
            ),
            (
                ToolFormat::Llama3,
                "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}\n{\"name\": \"get_time\", \"parameters\": {}}",
            ),
            (
                ToolFormat::Mistral,
                "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"get_time\", \"arguments\": {}}]",
            ),
            (
                ToolFormat::Generic,
                "{\"tool_calls\": [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"get_time\", \"arguments\": {}}]}",
            ),
        ];
        for (format, text) in cases {
            let reply = read(format, text);
            assert_eq!(reply.content, "", "{format:?}");
            assert_eq!(
                calls(&reply),
                [("get_weather", r#"{"city":"Paris"}"#), ("get_time", "{}")],
                "{format:?}"
            );
        }
    }

    #[test]
    fn deep_or_odd_json_is_content_not_a_crash() {
        let deep = format!(
            "<tool_call>{{\"name\": \"get_time\", \"arguments\": {}{}}}</tool_call>",
            "{\"a\":".repeat(500),
            "}".repeat(500)
        );
        let reply = parse_reply(ToolFormat::Hermes, &deep, &tools());
        assert_eq!(reply.tool_calls.len(), 1);
        for text in [
            "{",
            "[",
            "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"a\": -}}",
            "{\"name\": 1e}",
            "\u{0}{\"\\u12",
        ] {
            for format in [
                ToolFormat::Hermes,
                ToolFormat::Llama3,
                ToolFormat::Mistral,
                ToolFormat::Generic,
            ] {
                read(format, text);
            }
        }
    }
}
