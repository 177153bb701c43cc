//! What both completion endpoints share: the sampler a request asks for, checked; one answer
//! run on the engine thread, cancelled when its caller goes away; ids, clocks and provenance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oa_engine::{Engine, GenerateRequest, GenerationEvent, GenerationStats};
use oa_types::{SamplerParams, TokenLogprobs};
use std::convert::Infallible;

use axum::response::sse::{Event, Sse};
use futures_util::Stream;
use tokio::sync::mpsc;

use crate::error::{ApiError, engine};
use crate::wire::{SamplingFields, WireProvenance};

/// Most answers one request may ask for.
pub const MAX_N: u32 = 8;
/// Most stop strings, as OpenAI.
pub const MAX_STOPS: usize = 4;

/// The sampler for a request: the model's defaults with what the request sets.
pub fn sampler(
    base: SamplerParams,
    fields: &SamplingFields,
    max_tokens: Option<u32>,
    context_length: usize,
) -> Result<SamplerParams, ApiError> {
    let mut p = base;
    if let Some(t) = fields.temperature {
        if !(0.0..=2.0).contains(&t) {
            return Err(ApiError::invalid(
                Some("temperature".into()),
                format!("temperature must be between 0 and 2, not {t}"),
            ));
        }
        p.temperature = t;
    }
    if let Some(v) = fields.top_p {
        p.top_p = v;
    }
    if let Some(v) = fields.top_k {
        p.top_k = v;
    }
    if let Some(v) = fields.min_p {
        p.min_p = v;
    }
    if let Some(v) = fields.presence_penalty {
        p.presence_penalty = v;
    }
    if let Some(v) = fields.frequency_penalty {
        p.frequency_penalty = v;
    }
    if let Some(v) = fields.repeat_penalty {
        p.repeat_penalty = v;
    }
    p.seed = match fields.seed {
        Some(seed) => seed as u64,
        None => u64::from(rand::random::<u32>()),
    };
    if let Some(stop) = fields.stop.clone() {
        let stops = stop.into_vec();
        if stops.len() > MAX_STOPS || stops.iter().any(String::is_empty) {
            return Err(ApiError::invalid(
                Some("stop".into()),
                format!("stop takes up to {MAX_STOPS} strings, none of them empty"),
            ));
        }
        p.stop = stops;
    }
    if let Some(max) = max_tokens {
        if max == 0 || max as usize > context_length {
            return Err(ApiError::invalid(
                Some("max_tokens".into()),
                format!(
                    "max_tokens must be between 1 and this model's context of {context_length} \
                     tokens, not {max}"
                ),
            ));
        }
        p.max_tokens = max;
    }
    // The engine's own checks say what else is wrong, in the same words the app uses.
    oa_engine::sampler::Sampler::new(&p).map_err(engine)?;
    Ok(p)
}

/// How many answers a request asks for, checked.
pub fn answers(n: Option<u32>) -> Result<u32, ApiError> {
    match n.unwrap_or(1) {
        n @ 1..=MAX_N => Ok(n),
        n => Err(ApiError::invalid(
            Some("n".into()),
            format!("n must be between 1 and {MAX_N}, not {n}"),
        )),
    }
}

/// One answer being generated. Dropping it cancels the generation at the next token, whether
/// it is running or still waiting in the engine's queue.
pub struct Running {
    events: mpsc::UnboundedReceiver<GenerationEvent>,
    cancel: Arc<AtomicBool>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Running {
    /// Queues `request` on the engine thread.
    pub fn start(engine: &Engine, request: GenerateRequest) -> Result<Running, ApiError> {
        let cancel = request.cancel.clone();
        let (tx, events) = mpsc::unbounded_channel();
        engine
            .submit(request, Box::new(move |event| tx.send(event).is_ok()))
            .map_err(crate::error::engine)?;
        Ok(Running { events, cancel })
    }

    /// The next event; `None` once the engine is gone.
    pub async fn next(&mut self) -> Option<GenerationEvent> {
        self.events.recv().await
    }

    /// Waits for the whole answer.
    pub async fn collect(mut self) -> Result<Answer, ApiError> {
        let mut text = String::new();
        let mut logprobs = Vec::new();
        while let Some(event) = self.next().await {
            match event {
                GenerationEvent::Token(t) => {
                    text.push_str(&t.text);
                    logprobs.extend(t.logprobs);
                }
                GenerationEvent::Finished(stats) => {
                    return Ok(Answer {
                        text,
                        logprobs,
                        stats,
                    });
                }
                GenerationEvent::Failed(e) => return Err(engine(e)),
            }
        }
        Err(engine(oa_engine::EngineError::EngineStopped))
    }
}

/// A whole answer.
#[derive(Debug)]
pub struct Answer {
    /// Its text.
    pub text: String,
    /// Each token's log-probabilities, when asked for.
    pub logprobs: Vec<TokenLogprobs>,
    /// How it ended.
    pub stats: GenerationStats,
}

/// OpenAI's name of why an answer ended.
pub fn finish_reason(stats: &GenerationStats) -> &'static str {
    match stats.finish_reason {
        oa_engine::FinishReason::Length => "length",
        _ => "stop",
    }
}

/// An id such as `chatcmpl-…`.
pub fn new_id(prefix: &str) -> String {
    let bytes: [u8; 12] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The provenance of answers from `engine` with `sampler`.
pub fn provenance(model: &str, engine: &Engine, sampler: &SamplerParams) -> WireProvenance {
    let info = engine.info();
    WireProvenance {
        model: model.to_owned(),
        model_sha256: info.sha256.clone(),
        quantization: info.quantization.clone(),
        architecture: info.architecture.clone(),
        chat_template_sha256: info.chat_template_sha256.clone(),
        sampler: sampler.clone(),
        engine_version: oa_engine::ENGINE_VERSION.to_owned(),
    }
}

/// `system_fingerprint`: the engine and the model file.
pub fn fingerprint(engine: &Engine) -> String {
    let sha = &engine.info().sha256;
    format!(
        "{}-{}",
        oa_engine::ENGINE_VERSION,
        sha.get(..12).unwrap_or(sha)
    )
}

/// Answer `index` of a request that asks for several: its own seed (the request's plus the
/// index, so that a seeded request gives the same answers again) and its own cancel flag.
pub fn choice_request(request: &GenerateRequest, index: u32) -> GenerateRequest {
    let mut request = request.clone();
    request.params.seed = request.params.seed.wrapping_add(u64::from(index));
    request.cancel = Default::default();
    request
}

/// A stream of server-sent events: what a generating task puts into the channel, with a
/// channel of its own per request so that the task learns when the client is gone.
pub fn sse() -> (
    mpsc::Sender<Event>,
    Sse<impl Stream<Item = Result<Event, Infallible>>>,
) {
    let (tx, mut rx) = mpsc::channel::<Event>(64);
    let events = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|e| e.map(Ok)));
    (tx, Sse::new(events))
}

/// Sends `value` as one event; `false` (noted) when the client is gone.
pub async fn send_json(tx: &mpsc::Sender<Event>, value: &impl serde::Serialize) -> bool {
    let data = serde_json::to_string(value).unwrap_or_default();
    let sent = tx.send(Event::default().data(data)).await.is_ok();
    if !sent {
        hung_up();
    }
    sent
}

/// Notes that a streaming client went away; its answer stops at the next token.
pub fn hung_up() {
    tracing::info!("the client hung up; its answer is cancelled");
}
