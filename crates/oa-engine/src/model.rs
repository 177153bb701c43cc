//! A loaded model: weights, tokenizer, chat template and the facts recorded in provenance.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use oa_types::ModelInfo;

use crate::arch::HParams;
use crate::gguf::GgufFile;
use crate::template::ChatTemplate;
use crate::tokenizer::ModelTokenizer;
use crate::tools::{ToolChoice, ToolSpec};
use crate::transformer::Transformer;
use crate::{ChatMessage, ChatRole, EngineError, GenerateRequest, Result};

/// Everything needed to chat with one GGUF file.
pub struct LoadedModel {
    weights: Transformer,
    /// The tokens whose keys and values the model's cache holds, in order.
    cached: Vec<u32>,
    /// The tokenizer built from the file.
    pub tokenizer: ModelTokenizer,
    /// The chat template.
    pub template: ChatTemplate,
    /// Facts about the file.
    pub info: ModelInfo,
    /// Tokens the model can attend to: what the file declares.
    pub context_length: usize,
    /// Where it runs.
    pub device: Device,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl LoadedModel {
    /// Opens, validates and loads the model at `path` on the CPU.
    pub fn load(path: &Path) -> Result<LoadedModel> {
        Self::load_on(path, &Device::Cpu)
    }

    /// Opens, validates and loads the model at `path` on `device`.
    pub fn load_on(path: &Path, device: &Device) -> Result<LoadedModel> {
        let path = std::path::absolute(path).map_err(|source| EngineError::Io {
            path: path.to_owned(),
            source,
        })?;
        let gguf = GgufFile::open(&path)?;
        // The file's hash (the model's identity in contributions) is read on another thread,
        // unless the cache of file hashes remembers it, and the tokenizer and chat template
        // are built on a third while the weights load.
        let cache = crate::file_hash::default_cache();
        std::thread::scope(|scope| {
            let hashing = scope.spawn(|| crate::file_hash::sha256(&path, cache.as_deref()));
            let text = scope.spawn(|| Self::text_parts(&path, &gguf));
            let weights = Self::weights(&path, &gguf, device);
            let failed = |what: &str| EngineError::Io {
                path: path.clone(),
                source: std::io::Error::other(format!("{what} failed")),
            };
            let (tokenizer, template, mut info) = text
                .join()
                .unwrap_or_else(|_| Err(failed("reading the tokenizer")))?;
            let weights = weights?;
            info.sha256 = hashing
                .join()
                .unwrap_or_else(|_| Err(failed("hashing the file")))?;
            Ok(LoadedModel {
                weights,
                cached: Vec::new(),
                tokenizer,
                template,
                context_length: info.context_length as usize,
                info,
                device: device.clone(),
            })
        })
    }

    /// The tokenizer, the chat template and what is known of the model but the file's hash.
    fn text_parts(
        path: &Path,
        gguf: &GgufFile,
    ) -> Result<(ModelTokenizer, ChatTemplate, ModelInfo)> {
        let tokenizer = ModelTokenizer::from_gguf(gguf)?;
        let token_text = |id: Option<u32>| {
            id.and_then(|id| tokenizer.token(id))
                .unwrap_or_default()
                .to_owned()
        };
        let template = ChatTemplate::from_gguf(
            gguf,
            &token_text(tokenizer.bos_id),
            &token_text(tokenizer.eos_id),
        )?;
        let declared = gguf.context_length()? as usize;
        let architecture = gguf.architecture()?.to_owned();
        let info = ModelInfo {
            id: gguf.display_name(),
            path: path.to_string_lossy().into_owned(),
            sha256: String::new(),
            architecture,
            quantization: gguf.quantization(),
            context_length: declared.min(u32::MAX as usize) as u32,
            file_size: gguf.file_size,
            chat_template_sha256: template.sha256().to_owned(),
            chat_template_fallback: template.is_fallback(),
        };
        Ok((tokenizer, template, info))
    }

    /// The weights, mapped from the file where the system allows, else read and copied.
    fn weights(path: &Path, gguf: &GgufFile, device: &Device) -> Result<Transformer> {
        let hparams = HParams::read(gguf)?;
        let file = File::open(path).map_err(|source| EngineError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mapped = crate::mapped::map(&file).ok().map(Arc::new);
        let mut reader = BufReader::new(file);
        Transformer::load(hparams, &gguf.content, &mut reader, mapped.as_ref(), device).map_err(
            |e| match e {
                EngineError::Inference(e) => EngineError::InvalidGguf {
                    path: path.to_owned(),
                    reason: e.to_string(),
                },
                other => other,
            },
        )
    }

    /// Runs the model over `tokens` placed at `position` and returns the next-token logits.
    /// Position 0 starts a new sequence.
    pub fn forward(&mut self, tokens: &[u32], position: usize) -> Result<Tensor> {
        if tokens.is_empty() {
            return Err(EngineError::InvalidRequest(
                "nothing to run the model on".into(),
            ));
        }
        if position + tokens.len() > self.context_length {
            return Err(EngineError::ContextOverflow {
                needed: position + tokens.len(),
                available: self.context_length,
            });
        }
        if position > self.cached.len() {
            return Err(EngineError::InvalidRequest(format!(
                "position {position} is past the {} tokens already read",
                self.cached.len()
            )));
        }
        self.cached.truncate(position);
        // A long prompt is read in batches, which bounds the attention scores held at once.
        let mut logits = Err(EngineError::InvalidRequest("nothing to run".into()));
        for (i, batch) in tokens.chunks(crate::memory::PREFILL_BATCH).enumerate() {
            logits = self
                .weights
                .forward(batch, position + i * crate::memory::PREFILL_BATCH);
            if logits.is_err() {
                break;
            }
        }
        if logits.is_err() {
            // The cache may hold part of this call: start afresh next time.
            self.cached.clear();
            return logits;
        }
        self.cached.extend_from_slice(tokens);
        debug_assert_eq!(self.cached.len(), self.weights.cached_len());
        logits
    }

    /// Runs a whole prompt and returns the next-token logits, reading only what follows the
    /// longest prefix it shares with what the model has already read (a follow-up turn
    /// re-reads only the new messages). Returns the logits and how many prompt tokens were
    /// reused.
    pub fn prefill(&mut self, prompt: &[u32]) -> Result<(Tensor, usize)> {
        if prompt.is_empty() {
            return Err(EngineError::InvalidRequest(
                "nothing to run the model on".into(),
            ));
        }
        let shared = self
            .cached
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count();
        // At least the last token is run again: its logits are the ones wanted.
        let reuse = shared.min(prompt.len() - 1);
        let logits = self.forward(&prompt[reuse..], reuse)?;
        Ok((logits, reuse))
    }

    /// The prompt of a request and how many of its messages were left out: its raw text as
    /// it is (with the BOS token where the model adds one), which is refused with
    /// `ContextOverflow` when it and the reply's reserve do not fit; or its messages and tools
    /// through the chat template under the context policy of [`LoadedModel::fit_prompt`].
    ///
    /// A tool choice that names no tool of the request, or demands a call without tools, is
    /// an `InvalidRequest`.
    pub fn fit_request(&self, request: &GenerateRequest) -> Result<(Vec<u32>, u32)> {
        check_tool_choice(&request.tool_choice, &request.tools)?;
        let max_tokens = request.params.max_tokens;
        let Some(raw) = &request.raw_prompt else {
            return self.fit_chat(&request.messages, &request.tools, max_tokens);
        };
        let ids = self.tokenizer.encode_prompt(raw)?;
        if ids.is_empty() {
            return Err(EngineError::InvalidRequest("the prompt is empty".into()));
        }
        let reserve = self.reserve(max_tokens);
        if ids.len() + reserve > self.context_length {
            return Err(EngineError::ContextOverflow {
                needed: ids.len() + reserve,
                available: self.context_length,
            });
        }
        Ok((ids, 0))
    }

    /// The prompt's token ids under the context policy, and how many messages were left out.
    ///
    /// When the conversation and a reply of `max_tokens` (at most half the context) do not fit,
    /// the oldest messages after a leading system message are dropped, whole, and a dropped
    /// question takes its answers with it so the history never starts with the assistant. The
    /// newest message is never dropped: if it alone does not fit, the result is
    /// `ContextOverflow`.
    pub fn fit_prompt(&self, messages: &[ChatMessage], max_tokens: u32) -> Result<(Vec<u32>, u32)> {
        self.fit_chat(messages, &[], max_tokens)
    }

    /// [`LoadedModel::fit_prompt`] for a conversation that may call `tools`: a dropped question
    /// takes the assistant's calls and the tools' results that follow it, so the history never
    /// starts with the assistant or a tool.
    pub fn fit_chat(
        &self,
        messages: &[ChatMessage],
        tools: &[ToolSpec],
        max_tokens: u32,
    ) -> Result<(Vec<u32>, u32)> {
        if messages.is_empty() {
            return Err(EngineError::InvalidRequest(
                "a request needs at least one message".into(),
            ));
        }
        let ctx = self.context_length;
        let reserve = self.reserve(max_tokens);
        let keep_system = usize::from(messages[0].role == ChatRole::System);
        let mut first = keep_system;
        let mut selected: Vec<ChatMessage> = Vec::with_capacity(messages.len());
        loop {
            selected.clear();
            selected.extend_from_slice(&messages[..keep_system]);
            selected.extend_from_slice(&messages[first..]);
            let ids = self
                .tokenizer
                .encode_prompt(&self.template.render_chat(&selected, tools)?)?;
            if ids.len() + reserve <= ctx {
                return Ok((ids, (first - keep_system) as u32));
            }
            if first + 1 >= messages.len() {
                return Err(EngineError::ContextOverflow {
                    needed: ids.len() + reserve,
                    available: ctx,
                });
            }
            first += 1;
            while first + 1 < messages.len()
                && matches!(messages[first].role, ChatRole::Assistant | ChatRole::Tool)
            {
                first += 1;
            }
        }
    }

    /// Tokens kept free for the reply: `max_tokens`, at most half the context.
    fn reserve(&self, max_tokens: u32) -> usize {
        (max_tokens as usize).min(self.context_length / 2).max(1)
    }
}

/// Refuses a tool choice that cannot be met: a named tool the request does not offer, or a
/// call demanded of a request without tools.
fn check_tool_choice(choice: &ToolChoice, tools: &[ToolSpec]) -> Result<()> {
    match choice {
        ToolChoice::Named(name) if !tools.iter().any(|t| &t.name == name) => {
            Err(EngineError::InvalidRequest(format!(
                "the tool choice names `{name}`, which is not among the request's tools"
            )))
        }
        ToolChoice::Required if tools.is_empty() => Err(EngineError::InvalidRequest(
            "a tool call is required but the request offers no tools".into(),
        )),
        _ => Ok(()),
    }
}
