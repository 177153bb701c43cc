//! The application: one store, one engine, and the chat use case between them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use oa_engine::{ChatMessage, ChatRole, Engine, FinishReason, GenerateRequest, GenerationEvent};
use oa_store::Store;
use oa_sync::ServerClient;
use oa_types::{
    ChatEvent, ConversationDetail, ConversationSummary, EventStatus, Message, ModelStatus,
    Provenance, Role, SendMessage, SubmittedEvent, Uuid,
};
use tokio::sync::mpsc;

use crate::error::engine_error;
use crate::{Error, Result};

/// Where the app keeps its data and which model it runs.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Folder of the local database.
    pub data_dir: PathBuf,
    /// The GGUF file to chat with.
    pub model_path: PathBuf,
}

impl AppConfig {
    /// A configuration for `data_dir`; without a model path, the default model in the data
    /// folder's `models/` subfolder.
    pub fn new(data_dir: PathBuf, model_path: Option<PathBuf>) -> AppConfig {
        let model_path = model_path
            .unwrap_or_else(|| data_dir.join("models").join(oa_engine::DEFAULT_MODEL_FILE));
        AppConfig {
            data_dir,
            model_path,
        }
    }

    /// The database file inside the data folder.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("open-assistant.sqlite3")
    }
}

enum EngineSlot {
    Loading,
    Ready(Arc<Engine>),
    Failed(oa_types::AppError),
}

/// The running application. Cheap to share behind an `Arc`.
pub struct App {
    config: AppConfig,
    /// `None` while the database cannot be opened (a read-only or full disk, say): the app
    /// still starts, every use case that needs the data says why it cannot, and the next one
    /// tries to open it again, so fixing the folder needs no restart.
    store: Arc<Mutex<Option<Store>>>,
    engine: Arc<RwLock<EngineSlot>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens the local database and starts loading the model in the background; the model's
    /// state is reported by [`App::model_status`]. A database that cannot be opened does not
    /// stop the app: [`App::storage_error`] says why, and the use cases that need it fail with
    /// that message until it opens.
    pub fn open(config: AppConfig) -> Result<App> {
        let store = match Store::open(&config.database_path()) {
            Ok(store) => Some(store),
            Err(e) => {
                tracing::warn!(error = %e, "the local database could not be opened");
                None
            }
        };
        let engine = Arc::new(RwLock::new(EngineSlot::Loading));
        let slot = engine.clone();
        let path = config.model_path.clone();
        std::thread::Builder::new()
            .name("oa-model-loader".into())
            .spawn(move || {
                let loaded = match Engine::load(&path) {
                    Ok(engine) => {
                        tracing::info!(model = %engine.info().id, "model loaded");
                        EngineSlot::Ready(Arc::new(engine))
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "model could not be loaded");
                        EngineSlot::Failed(engine_error(e))
                    }
                };
                *slot.write().unwrap_or_else(|p| p.into_inner()) = loaded;
            })
            .map_err(|e| Error::Internal(format!("cannot start the model loader: {e}")))?;
        Ok(App {
            config,
            store: Arc::new(Mutex::new(store)),
            engine,
        })
    }

    /// The configuration the app was opened with.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// Whether the model is loading, ready, or unusable (and why).
    pub fn model_status(&self) -> ModelStatus {
        match &*self.engine.read().unwrap_or_else(|p| p.into_inner()) {
            EngineSlot::Loading => ModelStatus::Loading {
                path: self.config.model_path.display().to_string(),
            },
            EngineSlot::Ready(engine) => ModelStatus::Ready {
                info: engine.info().clone(),
            },
            EngineSlot::Failed(error) => ModelStatus::Unavailable {
                error: error.clone(),
            },
        }
    }

    /// Waits until the model has loaded or failed to.
    pub async fn wait_for_model(&self) -> ModelStatus {
        loop {
            let status = self.model_status();
            if !matches!(status, ModelStatus::Loading { .. }) {
                return status;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Why the local database cannot be used right now, or `None` when it can. Tries to open it
    /// again when it could not be opened before.
    pub async fn storage_error(&self) -> Option<oa_types::AppError> {
        self.with_store(|_| Ok(())).await.err().map(Into::into)
    }

    /// Conversations, the most recently changed first.
    pub async fn list_conversations(&self) -> Result<Vec<ConversationSummary>> {
        self.with_store(|s| Ok(s.list_conversations()?)).await
    }

    /// A conversation with the messages on its current path.
    pub async fn open_conversation(&self, id: Uuid) -> Result<ConversationDetail> {
        self.with_store(move |s| Ok(s.conversation(id)?)).await
    }

    /// Keeps a reply the person wrote in the assistant's place as a correction of `corrected`
    /// (a sibling of it, linked to it); it becomes what the conversation shows.
    pub async fn correct_reply(
        &self,
        conversation_id: Uuid,
        corrected: Uuid,
        text: String,
    ) -> Result<Message> {
        self.with_store(move |s| Ok(s.add_correction(conversation_id, corrected, &text)?))
            .await
    }

    /// Messages matching what was typed, most relevant first (see [`Store::search`]).
    pub async fn search(&self, query: String, limit: usize) -> Result<Vec<oa_types::SearchHit>> {
        self.with_store(move |s| Ok(s.search(&query, limit)?)).await
    }

    /// Stores the prompt, generates the reply on the engine thread while streaming events to
    /// `on_event`, and stores the reply with its provenance. `on_event` returns `false` when
    /// nobody listens any more; generation then stops and what was written so far is kept.
    pub async fn send_message(
        &self,
        request: SendMessage,
        mut on_event: impl FnMut(ChatEvent) -> bool + Send,
    ) -> Result<Message> {
        let engine = self.ready_engine()?;
        let SendMessage {
            conversation_id,
            text,
            sampler,
        } = request;
        let params = sampler.unwrap_or_default();
        let (prompt, history) = self
            .with_store(move |s| {
                let prompt = s.add_prompt(conversation_id, &text)?;
                let path = s.conversation(prompt.conversation_id)?.messages;
                Ok((prompt, path))
            })
            .await?;
        let mut listening = on_event(ChatEvent::Started {
            prompt: prompt.clone(),
        });

        let messages = history
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::Prompter => ChatRole::User,
                    Role::Assistant => ChatRole::Assistant,
                };
                ChatMessage::new(role, m.text.clone())
            })
            .collect();
        let request = GenerateRequest::new(messages, params.clone());
        let cancel = request.cancel.clone();
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
                        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                GenerationEvent::Finished(stats) => break Ok(stats),
                GenerationEvent::Failed(e) => break Err(Error::Engine(e)),
            }
        };
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
        if stats.finish_reason == FinishReason::Cancelled && reply_text.trim().is_empty() {
            return Err(Error::Internal(
                "the reply was cancelled before any text".into(),
            ));
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
        };
        let parent = prompt.clone();
        let reply = self
            .with_store(move |s| Ok(s.add_reply(&parent, &reply_text, Some(provenance))?))
            .await?;
        on_event(ChatEvent::Finished {
            reply: reply.clone(),
        });
        Ok(reply)
    }

    fn ready_engine(&self) -> Result<Arc<Engine>> {
        match &*self.engine.read().unwrap_or_else(|p| p.into_inner()) {
            EngineSlot::Loading => Err(Error::ModelLoading),
            EngineSlot::Ready(engine) => Ok(engine.clone()),
            EngineSlot::Failed(error) => Err(Error::ModelUnavailable(error.clone())),
        }
    }

    /// Runs `f` on a blocking thread with the store: SQLite never runs on the async runtime.
    /// Opens the database first if it could not be opened before.
    /// Sends what the person chose to share to the dataset server, batch by batch, and records
    /// the server's answer to each event: accepted (also when the server already had it) or
    /// rejected with its reason. Events sent before whose answer never arrived go first;
    /// sending them again is harmless, the server stores an event id once. A failure stops the
    /// round with nothing lost: what was not answered stays queued or sent, for the next round.
    pub async fn sync_now(&self, client: &ServerClient, token: &str) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        loop {
            let batch = self
                .with_store(|s| Ok(s.events_to_send(SYNC_BATCH_EVENTS)?))
                .await?;
            if batch.is_empty() {
                return Ok(report);
            }
            let ids: Vec<Uuid> = batch.iter().map(|e| e.id).collect();
            self.with_store(move |s| Ok(s.mark_events_sent(&ids)?))
                .await?;
            let submitted: Vec<SubmittedEvent> = batch.iter().map(SubmittedEvent::from).collect();
            let results = client.ingest(token, &submitted).await?;
            let answers: Vec<(Uuid, Option<String>)> = results
                .iter()
                .map(|r| match r.status {
                    EventStatus::Accepted | EventStatus::Duplicate => (r.id, None),
                    EventStatus::Rejected => (r.id, Some(rejection_text(r))),
                })
                .collect();
            report.batches += 1;
            report.accepted += answers.iter().filter(|(_, r)| r.is_none()).count();
            report.rejected += answers.iter().filter(|(_, r)| r.is_some()).count();
            self.with_store(move |s| Ok(s.record_server_answers(&answers)?))
                .await?;
        }
    }

    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        let path = self.config.database_path();
        tokio::task::spawn_blocking(move || {
            let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
            let store = match &mut *guard {
                Some(store) => store,
                empty => empty.insert(Store::open(&path)?),
            };
            f(store)
        })
        .await
        .map_err(|e| Error::Internal(format!("storage task failed: {e}")))?
    }
}

/// Events per request when syncing: well under the server's limit, so that one request stays
/// short on a slow link.
const SYNC_BATCH_EVENTS: usize = 500;

/// What one [`App::sync_now`] round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Requests sent.
    pub batches: usize,
    /// Events the server holds now (newly or already).
    pub accepted: usize,
    /// Events the server refused, each kept with its reason.
    pub rejected: usize,
}

/// The reason a refused event is kept with: the server's explanation, else its reason code.
fn rejection_text(result: &oa_types::EventResult) -> String {
    result
        .message
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| result.reason.map(|r| format!("{r:?}")))
        .unwrap_or_else(|| "refused by the server".to_owned())
}
