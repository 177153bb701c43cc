//! `POST /v1/completions`: a text continued as it is, without the chat template — whole, or
//! streamed — with log-probabilities in the older format.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::sse::Event;
use axum::response::{IntoResponse, Response};
use oa_engine::{Engine, GenerateRequest, GenerationEvent};
use oa_types::TokenLogprobs;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::generate::{self, Running};
use crate::server::Ctx;
use crate::wire::*;

/// Tokens a completion writes when the request does not say, as OpenAI.
const DEFAULT_MAX_TOKENS: u32 = 16;
/// Most alternatives per token in the older format, as OpenAI.
const MAX_LOGPROBS: u8 = 5;

struct Plan {
    model: String,
    engine: Arc<Engine>,
    request: GenerateRequest,
    n: u32,
    include_usage: bool,
}

/// The handler.
pub async fn completions(State(ctx): State<Arc<Ctx>>, body: Bytes) -> Response {
    let permit = match ctx.admit() {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let r: CompletionRequest = match crate::server::parse(&body) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let stream = r.sampling.stream;
    let plan = match plan(&ctx, r).await {
        Ok(plan) => plan,
        Err(e) => return e.into_response(),
    };
    if stream {
        let (tx, events) = generate::sse();
        tokio::spawn(async move {
            let _permit = permit;
            streamed(plan, tx).await;
        });
        events.into_response()
    } else {
        let _permit = permit;
        match whole(plan).await {
            Ok(answer) => axum::Json(answer).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

async fn plan(ctx: &Ctx, r: CompletionRequest) -> Result<Plan, ApiError> {
    let mut prompts = r.prompt.into_vec();
    if prompts.len() != 1 {
        return Err(ApiError::invalid(
            Some("prompt".into()),
            "prompt must be one text; send several prompts as several requests",
        ));
    }
    if r.echo {
        return Err(ApiError::invalid(
            Some("echo".into()),
            "echo is not supported",
        ));
    }
    if r.suffix.is_some() {
        return Err(ApiError::invalid(
            Some("suffix".into()),
            "suffix is not supported",
        ));
    }
    if r.logprobs.is_some_and(|n| n > MAX_LOGPROBS) {
        return Err(ApiError::invalid(
            Some("logprobs".into()),
            format!("logprobs must be between 0 and {MAX_LOGPROBS}"),
        ));
    }
    let n = generate::answers(r.sampling.n)?;
    let engine = ctx.app.api().engine(&r.model).await?;
    let base = ctx.app.models().default_sampler().await;
    let max = Some(r.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS));
    let params = generate::sampler(base, &r.sampling, max, engine.context_length())?;
    let mut request = GenerateRequest::new(Vec::new(), params);
    request.raw_prompt = prompts.pop();
    request.logprobs = r.logprobs;
    Ok(Plan {
        model: r.model,
        engine,
        request,
        n,
        include_usage: r.sampling.stream_options.is_some_and(|o| o.include_usage),
    })
}

/// The older format's log-probabilities of `tokens`, the first starting at `offset`.
fn old_logprobs(tokens: &[TokenLogprobs], offset: u32) -> CompletionLogprobs {
    let mut out = CompletionLogprobs::default();
    let mut at = offset;
    for t in tokens {
        out.tokens.push(t.chosen.token.clone());
        out.token_logprobs.push(t.chosen.logprob);
        out.top_logprobs.push(
            t.top
                .iter()
                .map(|a| (a.token.clone(), Value::from(a.logprob)))
                .collect(),
        );
        out.text_offset.push(at);
        at += t.chosen.token.len() as u32;
    }
    out
}

async fn whole(plan: Plan) -> Result<Completion, ApiError> {
    let mut choices = Vec::new();
    let mut usage = Usage::default();
    for index in 0..plan.n {
        let answer = Running::start(&plan.engine, generate::choice_request(&plan.request, index))?
            .collect()
            .await?;
        usage.prompt_tokens = answer.stats.prompt_tokens;
        usage.completion_tokens += answer.stats.completion_tokens;
        choices.push(CompletionChoice {
            logprobs: plan
                .request
                .logprobs
                .map(|_| old_logprobs(&answer.logprobs, 0)),
            text: answer.text,
            index,
            finish_reason: Some(generate::finish_reason(&answer.stats)),
        });
    }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
    Ok(Completion {
        id: generate::new_id("cmpl"),
        object: "text_completion",
        created: generate::now(),
        model: plan.model.clone(),
        choices,
        usage: Some(usage),
        system_fingerprint: generate::fingerprint(&plan.engine),
        x_provenance: Some(generate::provenance(
            &plan.model,
            &plan.engine,
            &plan.request.params,
        )),
    })
}

async fn streamed(plan: Plan, tx: mpsc::Sender<Event>) {
    let id = generate::new_id("cmpl");
    let created = generate::now();
    let fingerprint = generate::fingerprint(&plan.engine);
    let chunk = |choices: Vec<CompletionChoice>, usage, provenance| Completion {
        id: id.clone(),
        object: "text_completion",
        created,
        model: plan.model.clone(),
        choices,
        usage,
        system_fingerprint: fingerprint.clone(),
        x_provenance: provenance,
    };
    let send = |c: Completion| {
        let tx = tx.clone();
        async move { generate::send_json(&tx, &c).await }
    };
    let mut usage = Usage::default();
    for index in 0..plan.n {
        let mut running =
            match Running::start(&plan.engine, generate::choice_request(&plan.request, index)) {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Event::default().data(e.body())).await;
                    return;
                }
            };
        let mut offset = 0u32;
        let stats = loop {
            let event = tokio::select! {
                event = running.next() => event,
                () = tx.closed() => return generate::hung_up(),
            };
            match event {
                Some(GenerationEvent::Token(t)) => {
                    let logprobs = plan
                        .request
                        .logprobs
                        .map(|_| old_logprobs(t.logprobs.as_slice(), offset));
                    offset += t.text.len() as u32;
                    let piece = CompletionChoice {
                        text: t.text,
                        index,
                        logprobs,
                        finish_reason: None,
                    };
                    if !send(chunk(vec![piece], None, None)).await {
                        return;
                    }
                }
                Some(GenerationEvent::Finished(stats)) => break stats,
                Some(GenerationEvent::Failed(e)) => {
                    let _ = tx
                        .send(Event::default().data(crate::error::engine(e).body()))
                        .await;
                    return;
                }
                None => return,
            }
        };
        usage.prompt_tokens = stats.prompt_tokens;
        usage.completion_tokens += stats.completion_tokens;
        let last = CompletionChoice {
            text: String::new(),
            index,
            logprobs: None,
            finish_reason: Some(generate::finish_reason(&stats)),
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
