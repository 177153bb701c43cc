//! `POST /v1/chat/completions`: a conversation (with tools and their results) in, one or more
//! answers out — whole, or streamed as OpenAI streams them, tool calls included.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use oa_engine::sampler::MAX_TOP_LOGPROBS;
use oa_engine::tools::{ReplyDelta, ToolCallStream, parse_reply};
use oa_engine::{
    ChatMessage, ChatRole, Engine, GenerateRequest, GenerationEvent, OutputConstraint, ToolCall,
    ToolChoice, ToolFormat, ToolSpec,
};
use oa_types::TokenLogprobs;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::generate::{self, Running};
use crate::server::Ctx;
use crate::wire::*;

/// A checked request, ready for the engine.
struct Plan {
    model: String,
    engine: Arc<Engine>,
    request: GenerateRequest,
    n: u32,
    stream: bool,
    include_usage: bool,
    /// Tool calls are read out of the answers.
    read_calls: bool,
    format: ToolFormat,
}

/// The handler.
pub async fn completions(State(ctx): State<Arc<Ctx>>, body: Bytes) -> Response {
    let permit = match ctx.admit() {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let request: ChatCompletionRequest = match crate::server::parse(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let plan = match plan(&ctx, request).await {
        Ok(plan) => plan,
        Err(e) => return e.into_response(),
    };
    if plan.stream {
        let (tx, events) = generate::sse();
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            stream(ctx, plan, tx).await;
        });
        events.into_response()
    } else {
        let _permit = permit;
        match whole(&ctx, plan).await {
            Ok(answer) => axum::Json(answer).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

async fn plan(ctx: &Ctx, r: ChatCompletionRequest) -> Result<Plan, ApiError> {
    if r.messages.is_empty() {
        return Err(ApiError::invalid(
            Some("messages".into()),
            "messages must hold at least one message",
        ));
    }
    let messages = r
        .messages
        .iter()
        .enumerate()
        .map(|(i, m)| message(i, m))
        .collect::<Result<Vec<_>, _>>()?;
    let tools = r
        .tools
        .iter()
        .enumerate()
        .map(|(i, t)| tool(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let tool_choice = match &r.tool_choice {
        None => ToolChoice::Auto,
        Some(WireToolChoice::Mode(m)) => match m.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            other => {
                return Err(ApiError::invalid(
                    Some("tool_choice".into()),
                    format!(
                        "tool_choice must be \"auto\", \"none\", \"required\" or a named \
                         function, not {other:?}"
                    ),
                ));
            }
        },
        Some(WireToolChoice::Named { function, .. }) => {
            if !tools.iter().any(|t| t.name == function.name) {
                return Err(ApiError::invalid(
                    Some("tool_choice".into()),
                    format!(
                        "tool_choice names {:?}, which is not among the tools",
                        function.name
                    ),
                ));
            }
            ToolChoice::Named(function.name.clone())
        }
    };
    if tools.is_empty() && matches!(tool_choice, ToolChoice::Required | ToolChoice::Named(_)) {
        return Err(ApiError::invalid(
            Some("tool_choice".into()),
            "tool_choice asks for a tool call, but the request has no tools",
        ));
    }
    let output = match &r.response_format {
        None | Some(ResponseFormat::Text) => OutputConstraint::Text,
        Some(ResponseFormat::JsonObject) => OutputConstraint::JsonObject,
        Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
            Some(schema) if schema.is_object() || schema.is_boolean() => {
                OutputConstraint::JsonSchema(schema.clone())
            }
            Some(_) => {
                return Err(ApiError::invalid(
                    Some("response_format.json_schema.schema".into()),
                    "the schema must be a JSON object",
                ));
            }
            None => OutputConstraint::JsonObject,
        },
    };
    let top = match (r.logprobs, r.top_logprobs) {
        (_, Some(n)) if usize::from(n) > MAX_TOP_LOGPROBS => {
            return Err(ApiError::invalid(
                Some("top_logprobs".into()),
                format!("top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}"),
            ));
        }
        (false, Some(n)) if n > 0 => {
            return Err(ApiError::invalid(
                Some("top_logprobs".into()),
                "top_logprobs needs logprobs set to true",
            ));
        }
        (true, n) => Some(n.unwrap_or(0)),
        (false, _) => None,
    };
    let n = generate::answers(r.sampling.n)?;
    let engine = ctx.app.api().engine(&r.model).await?;
    let base = ctx.app.models().default_sampler().await;
    let max = r.max_completion_tokens.or(r.max_tokens);
    let params = generate::sampler(base, &r.sampling, max, engine.context_length())?;
    let format = engine.tool_format();
    let read_calls = !tools.is_empty() && tool_choice != ToolChoice::None;
    let mut request = GenerateRequest::new(messages, params);
    request.tools = tools;
    request.tool_choice = tool_choice;
    request.parallel_tool_calls = r.parallel_tool_calls.unwrap_or(true);
    request.output = output;
    request.logprobs = top;
    Ok(Plan {
        model: r.model,
        engine,
        request,
        n,
        stream: r.sampling.stream,
        include_usage: r.sampling.stream_options.is_some_and(|o| o.include_usage),
        read_calls,
        format,
    })
}

fn text(i: usize, content: &Content) -> Result<String, ApiError> {
    match content {
        Content::Text(t) => Ok(t.clone()),
        Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text { text } => Ok(text.as_str()),
                ContentPart::Unsupported => Err(ApiError::invalid(
                    Some(format!("messages[{i}].content")),
                    "only text content is understood; this model reads no images or audio",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|t| t.join("\n")),
    }
}

fn message(i: usize, m: &WireMessage) -> Result<ChatMessage, ApiError> {
    Ok(match m {
        WireMessage::System { content } | WireMessage::Developer { content } => {
            ChatMessage::new(ChatRole::System, text(i, content)?)
        }
        WireMessage::User { content } => ChatMessage::new(ChatRole::User, text(i, content)?),
        WireMessage::Assistant {
            content,
            tool_calls,
        } => {
            let mut message = ChatMessage::new(
                ChatRole::Assistant,
                content
                    .as_ref()
                    .map(|c| text(i, c))
                    .transpose()?
                    .unwrap_or_default(),
            );
            message.tool_calls = tool_calls
                .iter()
                .map(|c| ToolCall {
                    id: c.id.clone(),
                    name: c.function.name.clone(),
                    arguments: c.function.arguments.clone(),
                })
                .collect();
            message
        }
        WireMessage::Tool {
            content,
            tool_call_id,
        } => {
            let mut message = ChatMessage::new(ChatRole::Tool, text(i, content)?);
            message.tool_call_id = Some(tool_call_id.clone());
            message
        }
    })
}

fn tool(i: usize, t: &WireTool) -> Result<ToolSpec, ApiError> {
    if t.kind != "function" {
        return Err(ApiError::invalid(
            Some(format!("tools[{i}].type")),
            format!("only function tools are understood, not {:?}", t.kind),
        ));
    }
    let name = &t.function.name;
    let name_ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !name_ok {
        return Err(ApiError::invalid(
            Some(format!("tools[{i}].function.name")),
            format!(
                "{name:?} is not a function name: 1 to 64 letters, digits, underscores or dashes"
            ),
        ));
    }
    let parameters = t
        .function
        .parameters
        .clone()
        .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
    if !parameters.is_object() {
        return Err(ApiError::invalid(
            Some(format!("tools[{i}].function.parameters")),
            "parameters must be a JSON schema object",
        ));
    }
    Ok(ToolSpec {
        name: name.clone(),
        description: t.function.description.clone(),
        parameters,
    })
}

fn wire_logprobs(all: &[TokenLogprobs], top: Option<u8>) -> Option<ChoiceLogprobs> {
    top.map(|top| ChoiceLogprobs {
        content: all.iter().map(|t| wire_logprob(t, top)).collect(),
    })
}

fn wire_logprob(t: &TokenLogprobs, top: u8) -> WireLogprob {
    WireLogprob {
        token: t.chosen.token.clone(),
        logprob: t.chosen.logprob,
        bytes: t.chosen.bytes.clone(),
        top_logprobs: Some(
            t.top
                .iter()
                .take(top as usize)
                .map(|a| WireTopLogprob {
                    token: a.token.clone(),
                    logprob: a.logprob,
                    bytes: a.bytes.clone(),
                })
                .collect(),
        ),
    }
}

fn wire_call(call: &ToolCall) -> WireToolCall {
    WireToolCall {
        id: call.id.clone(),
        kind: "function".into(),
        function: WireCalledFunction {
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        },
    }
}

async fn whole(ctx: &Ctx, plan: Plan) -> Result<ChatCompletion, ApiError> {
    let mut choices = Vec::new();
    let mut usage = Usage::default();
    for index in 0..plan.n {
        let request = generate::choice_request(&plan.request, index);
        let answer = Running::start(&plan.engine, request)?.collect().await?;
        let stats = answer.stats.clone();
        usage.prompt_tokens = stats.prompt_tokens;
        usage.completion_tokens += stats.completion_tokens;
        let (content, calls) = if plan.read_calls {
            let parsed = parse_reply(plan.format, &answer.text, &plan.request.tools);
            (parsed.content, parsed.tool_calls)
        } else {
            (answer.text.clone(), Vec::new())
        };
        if index == 0 {
            ctx.keep(
                &plan.model,
                &plan.request,
                &answer.text,
                &plan.engine,
                &stats,
            )
            .await;
        }
        choices.push(ChatChoice {
            index,
            message: AnswerMessage {
                role: "assistant",
                content: if calls.is_empty() || !content.trim().is_empty() {
                    Some(content)
                } else {
                    None
                },
                tool_calls: calls.iter().map(wire_call).collect(),
            },
            logprobs: wire_logprobs(&answer.logprobs, plan.request.logprobs),
            finish_reason: if calls.is_empty() {
                generate::finish_reason(&stats)
            } else {
                "tool_calls"
            },
        });
    }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    Ok(ChatCompletion {
        id: generate::new_id("chatcmpl"),
        object: "chat.completion",
        created: generate::now(),
        model: plan.model.clone(),
        choices,
        usage,
        system_fingerprint: generate::fingerprint(&plan.engine),
        x_provenance: generate::provenance(&plan.model, &plan.engine, &plan.request.params),
    })
}

/// Streams the answers as chunks into `tx`; stops (cancelling the engine) when the client is
/// gone.
async fn stream(ctx: Arc<Ctx>, plan: Plan, tx: mpsc::Sender<Event>) {
    let id = generate::new_id("chatcmpl");
    let created = generate::now();
    let fingerprint = generate::fingerprint(&plan.engine);
    let chunk = |choices: Vec<ChunkChoice>,
                 usage: Option<Usage>,
                 provenance: Option<WireProvenance>| ChatChunk {
        id: id.clone(),
        object: "chat.completion.chunk",
        created,
        model: plan.model.clone(),
        choices,
        usage,
        system_fingerprint: fingerprint.clone(),
        x_provenance: provenance,
    };
    let send = |c: ChatChunk| {
        let tx = tx.clone();
        async move { generate::send_json(&tx, &c).await }
    };
    let mut usage = Usage::default();
    for index in 0..plan.n {
        let first = ChunkChoice {
            index,
            delta: Delta {
                role: Some("assistant"),
                content: Some(String::new()),
                tool_calls: Vec::new(),
            },
            logprobs: None,
            finish_reason: None,
        };
        if !send(chunk(vec![first], None, None)).await {
            return;
        }
        let mut running =
            match Running::start(&plan.engine, generate::choice_request(&plan.request, index)) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Event::default().data(e.body())).await;
                    return;
                }
            };
        let mut calls = plan
            .read_calls
            .then(|| ToolCallStream::new(plan.format, plan.request.tools.clone()));
        let mut called = false;
        let mut whole_text = String::new();
        let stats = loop {
            let event = tokio::select! {
                event = running.next() => event,
                () = tx.closed() => return generate::hung_up(),
            };
            let Some(event) = event else {
                let e = crate::error::engine(oa_engine::EngineError::EngineStopped);
                let _ = tx.send(Event::default().data(e.body())).await;
                return;
            };
            match event {
                GenerationEvent::Token(t) => {
                    whole_text.push_str(&t.text);
                    let deltas = match &mut calls {
                        Some(calls) => calls.push(&t.text),
                        None => vec![ReplyDelta::Content(t.text.clone())],
                    };
                    called |= deltas
                        .iter()
                        .any(|d| matches!(d, ReplyDelta::CallStart { .. }));
                    let logprobs =
                        plan.request
                            .logprobs
                            .zip(t.logprobs.as_ref())
                            .map(|(top, lp)| ChoiceLogprobs {
                                content: vec![wire_logprob(lp, top)],
                            });
                    if let Some(c) = delta_choice(index, deltas, logprobs)
                        && !send(chunk(vec![c], None, None)).await
                    {
                        return;
                    }
                }
                GenerationEvent::Finished(stats) => break stats,
                GenerationEvent::Failed(e) => {
                    let _ = tx
                        .send(Event::default().data(crate::error::engine(e).body()))
                        .await;
                    return;
                }
            }
        };
        if let Some(calls) = calls.take() {
            let deltas = calls.finish();
            called |= deltas
                .iter()
                .any(|d| matches!(d, ReplyDelta::CallStart { .. }));
            if let Some(c) = delta_choice(index, deltas, None)
                && !send(chunk(vec![c], None, None)).await
            {
                return;
            }
        }
        usage.prompt_tokens = stats.prompt_tokens;
        usage.completion_tokens += stats.completion_tokens;
        if index == 0 {
            ctx.keep(
                &plan.model,
                &plan.request,
                &whole_text,
                &plan.engine,
                &stats,
            )
            .await;
        }
        let last = ChunkChoice {
            index,
            delta: Delta::default(),
            logprobs: None,
            finish_reason: Some(if called {
                "tool_calls"
            } else {
                generate::finish_reason(&stats)
            }),
        };
        let provenance = generate::provenance(&plan.model, &plan.engine, &plan.request.params);
        if !send(chunk(vec![last], None, Some(provenance))).await {
            return;
        }
    }
    if plan.include_usage {
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
        if !send(chunk(Vec::new(), Some(usage), None)).await {
            return;
        }
    }
    let _ = tx.send(Event::default().data("[DONE]")).await;
}

fn delta_choice(
    index: u32,
    deltas: Vec<ReplyDelta>,
    logprobs: Option<ChoiceLogprobs>,
) -> Option<ChunkChoice> {
    let mut delta = Delta::default();
    for d in deltas {
        match d {
            ReplyDelta::Content(text) if !text.is_empty() => {
                delta
                    .content
                    .get_or_insert_with(String::new)
                    .push_str(&text);
            }
            ReplyDelta::Content(_) => {}
            ReplyDelta::CallStart { index, id, name } => delta.tool_calls.push(ToolCallDelta {
                index: index as u32,
                id: Some(id),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(name),
                    arguments: String::new(),
                },
            }),
            ReplyDelta::CallArguments { index, fragment } => match delta.tool_calls.last_mut() {
                Some(last) if last.index == index as u32 => {
                    last.function.arguments.push_str(&fragment)
                }
                _ => delta.tool_calls.push(ToolCallDelta {
                    index: index as u32,
                    id: None,
                    kind: None,
                    function: FunctionDelta {
                        name: None,
                        arguments: fragment,
                    },
                }),
            },
        }
    }
    if delta.content.is_none() && delta.tool_calls.is_empty() && logprobs.is_none() {
        return None;
    }
    Some(ChunkChoice {
        index,
        delta,
        logprobs,
        finish_reason: None,
    })
}
