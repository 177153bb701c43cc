//! Chat: conversations as message trees, the replies the model writes into them (streamed
//! from the engine thread, stored with their provenance), the versions a person moves between,
//! and each conversation's own system prompt and sampler.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use oa_engine::{ChatMessage, ChatRole, Engine, FinishReason, GenerateRequest, GenerationEvent};
use oa_types::{
    ChatEvent, ConversationDetail, ConversationListEntry, ConversationSettings,
    ConversationSummary, ConversationTreePath, ErrorCode, Message, Provenance, Regenerate, Role,
    SamplerParams, SendMessage, Uuid,
};
use tokio::sync::mpsc;

use crate::models::Models;
use crate::state::State;
use crate::{Error, Result};

/// The chat area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Chat<'a> {
    state: &'a Arc<State>,
}

impl<'a> Chat<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Chat<'a> {
        Chat { state }
    }

    /// Conversations, the most recently changed first.
    pub async fn list(self) -> Result<Vec<ConversationSummary>> {
        self.state.with_store(|s| Ok(s.list_conversations()?)).await
    }

    /// A conversation with the messages on its current path.
    pub async fn open(self, id: Uuid) -> Result<ConversationDetail> {
        self.state
            .with_store(move |s| Ok(s.conversation(id)?))
            .await
    }

    /// Messages matching what was typed, most relevant first (see [`oa_store::Store::search`]).
    pub async fn search(self, query: String, limit: usize) -> Result<Vec<oa_types::SearchHit>> {
        self.state
            .with_store(move |s| Ok(s.search(&query, limit)?))
            .await
    }

    /// Conversations with whether each is pinned: pinned first, then the most recently changed.
    pub async fn list_entries(self) -> Result<Vec<ConversationListEntry>> {
        self.state
            .with_store(|s| Ok(s.list_conversation_entries()?))
            .await
    }

    /// A conversation's current path with each message's place among its siblings.
    pub async fn path(self, id: Uuid) -> Result<ConversationTreePath> {
        self.state
            .with_store(move |s| Ok(s.conversation_tree_path(id)?))
            .await
    }

    /// Shows another version of a message: the path now goes through `message_id` and ends
    /// where the person last was in that branch. The choice is kept for the next start.
    pub async fn switch_branch(
        self,
        conversation_id: Uuid,
        message_id: Uuid,
    ) -> Result<ConversationTreePath> {
        // The conversation ends elsewhere now: another end to reply to.
        self.state
            .with_store_changing_tasks(move |s| {
                s.set_current_leaf(conversation_id, message_id)?;
                Ok(s.conversation_tree_path(conversation_id)?)
            })
            .await
    }

    /// Shows the version `step` places before (negative) or after `message_id` among the
    /// messages with the same parent, and what followed it when last viewed. A step past the
    /// first or last version is refused.
    pub async fn step_version(
        self,
        conversation_id: Uuid,
        message_id: Uuid,
        step: i32,
    ) -> Result<ConversationTreePath> {
        self.state
            .with_store_changing_tasks(move |s| {
                let siblings = s.siblings(message_id)?;
                let here = siblings
                    .iter()
                    .position(|m| m.id == message_id)
                    .ok_or_else(|| Error::Internal("a message is not its own sibling".into()))?;
                let target = i64::try_from(here).unwrap_or(i64::MAX) + i64::from(step);
                let Some(other) = usize::try_from(target).ok().and_then(|i| siblings.get(i)) else {
                    return Err(Error::Store(oa_store::StoreError::InvalidInput(format!(
                        "there is no version {} of this message; it has {}",
                        target + 1,
                        siblings.len()
                    ))));
                };
                s.set_current_leaf(conversation_id, other.id)?;
                Ok(s.conversation_tree_path(conversation_id)?)
            })
            .await
    }

    /// Gives a conversation a title of the person's choosing.
    pub async fn rename(self, id: Uuid, title: String) -> Result<()> {
        self.state
            .with_store(move |s| Ok(s.rename(id, &title)?))
            .await
    }

    /// Pins a conversation to the top of the list, or unpins it.
    pub async fn set_pinned(self, id: Uuid, pinned: bool) -> Result<()> {
        self.state
            .with_store(move |s| Ok(s.set_pinned(id, pinned)?))
            .await
    }

    /// Deletes a conversation for good (what was shared is withdrawn from the dataset too).
    pub async fn delete(self, id: Uuid) -> Result<()> {
        self.state
            .with_store_changing_tasks(move |s| Ok(s.delete_conversation(id)?))
            .await?;
        // Deleting what was shared queues its retraction.
        self.state.sync.outbox_changed();
        Ok(())
    }

    /// A conversation's system prompt and sampler.
    pub async fn settings(self, id: Uuid) -> Result<ConversationSettings> {
        self.state
            .with_store(move |s| Ok(s.conversation_settings(id)?))
            .await
    }

    /// Keeps a conversation's system prompt and sampler; its next replies use them.
    pub async fn set_settings(self, id: Uuid, settings: ConversationSettings) -> Result<()> {
        self.state
            .with_store(move |s| Ok(s.set_conversation_settings(id, &settings)?))
            .await
    }

    /// Stops the reply being generated; what it wrote so far is kept, marked as stopped.
    /// Returns whether there was one.
    pub fn stop(self) -> bool {
        let generating = self
            .state
            .generating
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match &*generating {
            Some(cancel) => {
                cancel.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Stores the prompt (or, with `edit_of`, a new version of an earlier prompt), generates
    /// the reply on the engine thread while streaming events to `on_event`, and stores the
    /// reply with its provenance. `on_event` returns `false` when nobody listens any more;
    /// generation then stops and what was written so far is kept.
    pub async fn send(
        self,
        request: SendMessage,
        on_event: impl FnMut(ChatEvent) -> bool + Send,
    ) -> Result<Message> {
        let engine = self.state.ready_engine()?;
        let SendMessage {
            conversation_id,
            text,
            sampler,
            edit_of,
            settings,
        } = request;
        if let Some(problem) = settings.as_ref().and_then(ConversationSettings::problem) {
            return Err(Error::Store(oa_store::StoreError::InvalidInput(problem)));
        }
        // A new prompt ends its conversation, whether or not a reply follows.
        let (prompt, history, kept) = self
            .state
            .with_store_changing_tasks(move |s| {
                let prompt = match (edit_of, conversation_id) {
                    (Some(original), Some(conversation)) => {
                        s.add_sibling_prompt(conversation, original, &text)?
                    }
                    (Some(_), None) => {
                        return Err(Error::Store(oa_store::StoreError::InvalidInput(
                            "an edit needs the conversation of the prompt it changes".into(),
                        )));
                    }
                    (None, conversation) => s.add_prompt(conversation, &text)?,
                };
                if let Some(settings) = &settings {
                    s.set_conversation_settings(prompt.conversation_id, settings)?;
                }
                let kept = s.conversation_settings(prompt.conversation_id)?;
                let history = s.path_to(prompt.id)?;
                Ok((prompt, history, kept))
            })
            .await?;
        let params = match sampler.or(kept.sampler) {
            Some(params) => params,
            None => Models::new(self.state).model_sampler(&engine).await,
        };
        self.generate(
            engine,
            prompt,
            history,
            &kept.system_prompt,
            params,
            on_event,
        )
        .await
    }

    /// Generates another reply to a prompt that has one, as a new sibling of its replies, with
    /// a fresh seed so that it differs. Events stream as for [`Chat::send`]; `Started`
    /// names the prompt answered.
    pub async fn regenerate(
        self,
        request: Regenerate,
        on_event: impl FnMut(ChatEvent) -> bool + Send,
    ) -> Result<Message> {
        let engine = self.state.ready_engine()?;
        let Regenerate {
            conversation_id,
            prompt_id,
            sampler,
        } = request;
        let (history, kept) = self
            .state
            .with_store(move |s| {
                let history = s.path_to(prompt_id)?;
                let prompt = history
                    .last()
                    .filter(|m| m.conversation_id == conversation_id && m.role == Role::Prompter);
                if prompt.is_none() {
                    return Err(Error::Store(oa_store::StoreError::InvalidInput(
                        "only a prompt of this conversation can be answered again".into(),
                    )));
                }
                Ok((history, s.conversation_settings(conversation_id)?))
            })
            .await?;
        let mut params = match sampler.or(kept.sampler) {
            Some(params) => params,
            None => Models::new(self.state).model_sampler(&engine).await,
        };
        params.seed = fresh_seed(params.seed);
        let prompt = history
            .last()
            .cloned()
            .ok_or_else(|| Error::Internal("empty history".into()))?;
        self.generate(
            engine,
            prompt,
            history,
            &kept.system_prompt,
            params,
            on_event,
        )
        .await
    }

    /// Streams a reply to `prompt` (the last of `history`) and stores it.
    async fn generate(
        self,
        engine: Arc<Engine>,
        prompt: Message,
        history: Vec<Message>,
        system_prompt: &str,
        params: SamplerParams,
        mut on_event: impl FnMut(ChatEvent) -> bool + Send,
    ) -> Result<Message> {
        let mut listening = on_event(ChatEvent::Started {
            prompt: prompt.clone(),
        });
        let system = (!system_prompt.trim().is_empty())
            .then(|| ChatMessage::new(ChatRole::System, system_prompt.trim().to_owned()));
        let messages = system
            .into_iter()
            .chain(history.iter().map(|m| {
                let role = match m.role {
                    Role::Prompter => ChatRole::User,
                    Role::Assistant => ChatRole::Assistant,
                };
                ChatMessage::new(role, m.text.clone())
            }))
            .collect();
        let request = GenerateRequest::new(messages, params.clone());
        let cancel = request.cancel.clone();
        *self
            .state
            .generating
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(cancel.clone());
        let _done = ClearOnDrop(&self.state.generating, cancel.clone());
        let (tx, mut rx) = mpsc::unbounded_channel();
        engine.submit(request, Box::new(move |event| tx.send(event).is_ok()))?;

        let mut reply_text = String::new();
        let outcome = loop {
            let Some(event) = rx.recv().await else {
                break Err(Error::Engine(oa_engine::EngineError::EngineStopped));
            };
            match event {
                GenerationEvent::Token(token) => {
                    reply_text.push_str(&token.text);
                    if listening && !on_event(ChatEvent::Token(token)) {
                        listening = false;
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
                GenerationEvent::Finished(stats) => break Ok(stats),
                GenerationEvent::Failed(e) => break Err(Error::Engine(e)),
            }
        };
        // The engine is done: from here to the answer is the app's own time, logged below.
        let engine_done = std::time::Instant::now();
        let stats = match outcome {
            Ok(stats) => stats,
            Err(e) => {
                let error: oa_types::AppError = e.into();
                on_event(ChatEvent::Failed {
                    error: error.clone(),
                });
                return Err(Error::Reported(error));
            }
        };
        let stopped = stats.finish_reason == FinishReason::Cancelled;
        if stopped && reply_text.trim().is_empty() {
            let error = oa_types::AppError::new(
                ErrorCode::Inference,
                "Stopped before the assistant wrote anything. Your message is kept; \
                 send another or regenerate.",
            );
            on_event(ChatEvent::Failed {
                error: error.clone(),
            });
            return Err(Error::Reported(error));
        }
        let info = engine.info();
        let provenance = Provenance {
            model_id: info.id.clone(),
            model_sha256: info.sha256.clone(),
            quantization: info.quantization.clone(),
            architecture: info.architecture.clone(),
            chat_template_sha256: info.chat_template_sha256.clone(),
            sampler: params,
            engine_version: oa_engine::ENGINE_VERSION.to_owned(),
            prompt_tokens: stats.prompt_tokens,
            completion_tokens: stats.completion_tokens,
            time_to_first_token_ms: stats.time_to_first_token_ms,
            total_ms: stats.total_ms,
            stopped,
            dropped_messages: stats.dropped_messages,
        };
        let parent = prompt.clone();
        let reply = self
            .state
            .with_store_changing_tasks(move |s| {
                Ok(s.add_reply(&parent, &reply_text, Some(provenance))?)
            })
            .await?;
        tracing::info!(
            ms = format_args!("{:.1}", engine_done.elapsed().as_secs_f64() * 1000.0),
            reply = %reply.id,
            "reply stored after the engine finished"
        );
        on_event(ChatEvent::Finished {
            reply: reply.clone(),
        });
        Ok(reply)
    }
}

/// Clears the app's "generating" slot when a reply ends, unless a newer reply took it.
struct ClearOnDrop<'a>(&'a Mutex<Option<Arc<AtomicBool>>>, Arc<AtomicBool>);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &self.1)) {
            *slot = None;
        }
    }
}

/// A seed unlike `previous`, so that answering the same prompt again gives another reply.
fn fresh_seed(previous: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // splitmix64 of the clock, so that seeds taken close together still differ widely.
    let mut z = nanos ^ previous.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    // 32 bits: a seed a person can read and type, and one that crosses to the UI's JavaScript
    // numbers exactly.
    let seed = (z ^ (z >> 31)) & u64::from(u32::MAX);
    if seed == previous {
        (seed + 1) & u64::from(u32::MAX)
    } else {
        seed
    }
}
