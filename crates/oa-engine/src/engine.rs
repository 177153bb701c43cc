//! The engine thread: one OS thread owns the loaded model and serves requests in order.
//!
//! The model's forward pass needs `&mut` access and runs for many milliseconds, so it must not
//! run on an async runtime. Requests arrive on a channel and queue while another runs; events go
//! back through a sink the caller provides. A sink that reports its receiver gone, or the
//! request's cancel flag, stops generation at the next token.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use oa_types::{ComputeDevice, ModelInfo, SamplerParams, TokenEvent, TokenLogprob, TokenLogprobs};

use crate::constraint::{ConstraintCompiler, NextTokens, OutputConstraint, TokenConstraint};
use crate::detokenize::Detokenizer;
use crate::model::LoadedModel;
use crate::sampler::{Logprobs, MAX_TOP_LOGPROBS, Sampler, StopMatcher};
use crate::tokenizer::ModelTokenizer;
use crate::tools::{ToolCall, ToolChoice, ToolFormat, ToolSpec};
use crate::{EngineError, Result};

/// Who speaks in a chat message, in chat-template terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRole {
    /// Instructions for the assistant.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
    /// The result of a tool the model called.
    Tool,
}

impl ChatRole {
    /// The role's name in chat templates.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatRole::System => "system",
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
            ChatRole::Tool => "tool",
        }
    }
}

/// One message of the history sent to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: ChatRole,
    /// The text.
    pub content: String,
    /// The tools an assistant message called (empty for any other message).
    pub tool_calls: Vec<ToolCall>,
    /// For a [`ChatRole::Tool`] message, the id of the call it answers.
    pub tool_call_id: Option<String>,
}

impl ChatMessage {
    /// A message with the given role and text.
    pub fn new(role: ChatRole, content: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

/// A request for one reply.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// The conversation so far, oldest first, ending with the user's message (or a tool's
    /// result). Ignored when `raw_prompt` is set.
    pub messages: Vec<ChatMessage>,
    /// A text to continue as it is, without the chat template (a plain completion).
    pub raw_prompt: Option<String>,
    /// Tools the model may call, shown to it through its chat template.
    pub tools: Vec<ToolSpec>,
    /// Whether the model must call a tool, and which.
    pub tool_choice: ToolChoice,
    /// Whether one reply may call several tools.
    pub parallel_tool_calls: bool,
    /// What shape the reply must have; enforced token by token.
    pub output: OutputConstraint,
    /// `Some(n)`: report each token's log-probability and the `n` most likely alternatives.
    pub logprobs: Option<u8>,
    /// Sampler settings.
    pub params: SamplerParams,
    /// Set to stop generation at the next token.
    pub cancel: Arc<AtomicBool>,
}

impl GenerateRequest {
    /// A chat request with a fresh cancel flag, no tools and free text.
    pub fn new(messages: Vec<ChatMessage>, params: SamplerParams) -> Self {
        GenerateRequest {
            messages,
            raw_prompt: None,
            tools: Vec::new(),
            tool_choice: ToolChoice::Auto,
            parallel_tool_calls: true,
            output: OutputConstraint::Text,
            logprobs: None,
            params,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn.
    Stop,
    /// `max_tokens` or the context window was reached.
    Length,
    /// The caller cancelled.
    Cancelled,
}

/// Figures about one finished reply.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationStats {
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Tokens of the rendered prompt.
    pub prompt_tokens: u32,
    /// Prompt tokens not read again because the model had just read them (the conversation so
    /// far, in a follow-up turn).
    pub reused_prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Oldest messages left out because the conversation outgrew the context window.
    pub dropped_messages: u32,
    /// Milliseconds from request start to the first generated token.
    pub time_to_first_token_ms: u64,
    /// Milliseconds from request start to the end.
    pub total_ms: u64,
}

/// What the engine reports while serving a request.
#[derive(Debug)]
pub enum GenerationEvent {
    /// A piece of text.
    Token(TokenEvent),
    /// The reply is complete.
    Finished(GenerationStats),
    /// The request failed.
    Failed(EngineError),
}

/// Receives events; returns `false` when nobody listens any more, which cancels the request.
pub type EventSink = Box<dyn FnMut(GenerationEvent) -> bool + Send>;

/// A request and where its events go.
pub struct Job {
    /// The request.
    pub request: GenerateRequest,
    /// Where events go.
    pub sink: EventSink,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

/// Handle to the engine thread. Dropping it lets the thread finish queued work and exit.
#[derive(Debug)]
pub struct Engine {
    jobs: Option<mpsc::Sender<Job>>,
    info: ModelInfo,
    context_length: usize,
    on_gpu: bool,
    tool_format: ToolFormat,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the engine thread and loads the model there. Returns once the model is ready, or
    /// with the loading error.
    pub fn load(path: impl Into<PathBuf>) -> Result<Engine> {
        Self::load_on(path, ComputeDevice::Cpu)
    }

    /// As [`Engine::load`], on the device `choice` names ([`crate::device::select`]).
    pub fn load_on(path: impl Into<PathBuf>, choice: ComputeDevice) -> Result<Engine> {
        let path = path.into();
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("oa-engine".into())
            .spawn(move || {
                // A file that sets off a bug the checks missed must cost the person this
                // model, not the app: the panic comes back as the loading error.
                let loaded = std::panic::catch_unwind(|| {
                    crate::device::select(choice)
                        .and_then(|device| LoadedModel::load_on(&path, &device))
                })
                .unwrap_or_else(|panic| Err(EngineError::load_panicked(&path, panic.as_ref())));
                match loaded {
                    Ok(model) => {
                        let on_gpu = !model.device.is_cpu();
                        let _ = ready_tx.send(Ok((
                            model.info.clone(),
                            model.context_length,
                            on_gpu,
                            model.template.tool_format(),
                        )));
                        serve(model, jobs_rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|source| EngineError::Io {
                path: PathBuf::from("<engine thread>"),
                source,
            })?;
        let (info, context_length, on_gpu, tool_format) =
            ready_rx.recv().map_err(|_| EngineError::EngineStopped)??;
        Ok(Engine {
            jobs: Some(jobs_tx),
            info,
            context_length,
            on_gpu,
            tool_format,
            thread: Some(thread),
        })
    }

    /// The loaded model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Tokens the model attends to.
    pub fn context_length(&self) -> usize {
        self.context_length
    }

    /// Whether the model runs on a GPU.
    pub fn on_gpu(&self) -> bool {
        self.on_gpu
    }

    /// How the model writes tool calls, read from its chat template.
    pub fn tool_format(&self) -> ToolFormat {
        self.tool_format
    }

    /// Queues a request; events arrive on `sink` from the engine thread.
    pub fn submit(&self, request: GenerateRequest, sink: EventSink) -> Result<()> {
        self.jobs
            .as_ref()
            .ok_or(EngineError::EngineStopped)?
            .send(Job { request, sink })
            .map_err(|_| EngineError::EngineStopped)
    }

    /// Queues a request and returns a receiver of its events; dropping the receiver cancels.
    pub fn stream(&self, request: GenerateRequest) -> Result<mpsc::Receiver<GenerationEvent>> {
        let (tx, rx) = mpsc::channel();
        self.submit(request, Box::new(move |event| tx.send(event).is_ok()))?;
        Ok(rx)
    }

    /// Generates a whole reply, waiting for it.
    pub fn generate(&self, request: GenerateRequest) -> Result<(String, GenerationStats)> {
        let mut text = String::new();
        for event in self.stream(request)? {
            match event {
                GenerationEvent::Token(t) => text.push_str(&t.text),
                GenerationEvent::Finished(stats) => return Ok((text, stats)),
                GenerationEvent::Failed(e) => return Err(e),
            }
        }
        Err(EngineError::EngineStopped)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut model: LoadedModel, jobs: mpsc::Receiver<Job>) {
    // Built on the first request with an output constraint, then kept with the model.
    let mut constraints = None;
    for Job { request, mut sink } in jobs {
        let outcome = run(&mut model, &mut constraints, &request, &mut sink);
        let event = match outcome {
            Ok(stats) => GenerationEvent::Finished(stats),
            Err(e) => GenerationEvent::Failed(e),
        };
        sink(event);
    }
}

/// The matcher of a request's output constraint, if it has one, compiling with the model's
/// [`ConstraintCompiler`], which is built on first use.
fn constraint_for(
    model: &LoadedModel,
    compiler: &mut Option<ConstraintCompiler>,
    request: &GenerateRequest,
) -> Result<Option<TokenConstraint>> {
    let output = crate::tools::effective_output(request, model.template.tool_format());
    if output == OutputConstraint::Text {
        return Ok(None);
    }
    let compiler = match compiler {
        Some(compiler) => compiler,
        None => compiler.insert(ConstraintCompiler::new(&model.tokenizer)?),
    };
    compiler.matcher(&output)
}

/// A token's log-probabilities as events carry them, with each token's own bytes.
fn token_logprobs(tokenizer: &ModelTokenizer, chosen: u32, logprobs: &Logprobs) -> TokenLogprobs {
    let entry = |id: u32, logprob: f32| {
        let bytes = tokenizer.token_bytes(id).unwrap_or_default();
        TokenLogprob {
            token: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
            logprob,
        }
    };
    TokenLogprobs {
        chosen: entry(chosen, logprobs.chosen),
        top: logprobs.top.iter().map(|&(id, l)| entry(id, l)).collect(),
    }
}

fn run(
    model: &mut LoadedModel,
    compiler: &mut Option<ConstraintCompiler>,
    request: &GenerateRequest,
    sink: &mut EventSink,
) -> Result<GenerationStats> {
    let start = Instant::now();
    let mut sampler = Sampler::new(&request.params)?;
    if let Some(n) = request.logprobs
        && usize::from(n) > MAX_TOP_LOGPROBS
    {
        return Err(EngineError::InvalidRequest(format!(
            "at most {MAX_TOP_LOGPROBS} likeliest tokens can be reported, not {n}"
        )));
    }
    // Before the prompt is read: a schema that cannot be used is refused at once.
    let mut constraint = constraint_for(model, compiler, request)?;
    let (prompt, dropped_messages) = model.fit_request(request)?;
    if request.cancel.load(Ordering::Relaxed) {
        // Its caller left while it waited behind others: the prompt is not even read.
        let total_ms = start.elapsed().as_millis() as u64;
        return Ok(GenerationStats {
            finish_reason: FinishReason::Cancelled,
            prompt_tokens: prompt.len() as u32,
            reused_prompt_tokens: 0,
            completion_tokens: 0,
            dropped_messages,
            time_to_first_token_ms: total_ms,
            total_ms,
        });
    }
    let mut history = prompt.clone();
    let mut detok = Detokenizer::new();
    let mut stops = StopMatcher::new(&request.params.stop);
    let mut stop_string_reached = false;
    let (mut logits, reused_prompt_tokens) = model.prefill(&prompt)?;
    let mut generated = 0u32;
    let mut first_token_ms = None;
    let finish_reason = loop {
        if request.cancel.load(Ordering::Relaxed) {
            break FinishReason::Cancelled;
        }
        if generated >= request.params.max_tokens || history.len() >= model.context_length {
            break FinishReason::Length;
        }
        let allowed = match constraint.as_mut().map(TokenConstraint::next_tokens) {
            None => None,
            Some(Ok(NextTokens::Finished)) => break FinishReason::Stop,
            Some(Ok(NextTokens::Allowed(allowed))) => Some(allowed),
            Some(Err(e)) => return Err(e),
        };
        let sampled = sampler.sample_with(&logits, &history, allowed.as_ref(), request.logprobs)?;
        let next = sampled.id;
        if model.tokenizer.stop_ids().contains(&next) {
            break FinishReason::Stop;
        }
        if let Some(constraint) = constraint.as_mut() {
            constraint.accept(next)?;
        }
        let logprobs = sampled
            .logprobs
            .map(|l| token_logprobs(&model.tokenizer, next, &l));
        history.push(next);
        let (text, stopped) = stops.push(&detok.push(&model.tokenizer, next)?);
        let elapsed_ms = start.elapsed().as_millis() as u64;
        first_token_ms.get_or_insert(elapsed_ms);
        if !sink(GenerationEvent::Token(TokenEvent {
            text,
            index: generated,
            elapsed_ms,
            logprobs,
        })) {
            break FinishReason::Cancelled;
        }
        generated += 1;
        if stopped {
            stop_string_reached = true;
            break FinishReason::Stop;
        }
        if history.len() < model.context_length {
            logits = model.forward(&[next], history.len() - 1)?;
        }
    };
    let mut rest = String::new();
    if !stop_string_reached {
        let (tail, _) = stops.push(&detok.finish(&model.tokenizer)?);
        rest = tail + &stops.finish();
    }
    if !rest.is_empty() {
        let elapsed_ms = start.elapsed().as_millis() as u64;
        sink(GenerationEvent::Token(TokenEvent {
            text: rest,
            index: generated,
            elapsed_ms,
            logprobs: None,
        }));
    }
    let total_ms = start.elapsed().as_millis() as u64;
    Ok(GenerationStats {
        finish_reason,
        prompt_tokens: prompt.len() as u32,
        reused_prompt_tokens: reused_prompt_tokens as u32,
        completion_tokens: generated,
        dropped_messages,
        time_to_first_token_ms: first_token_ms.unwrap_or(total_ms),
        total_ms,
    })
}
