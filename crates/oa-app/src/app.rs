//! The application root: the store, the model slot and the use cases that join them (chat,
//! feedback, Review & Share, models); the account and sync agent and the tasks and standing
//! add theirs in `sync_agent.rs` and `community.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use oa_engine::{ChatMessage, ChatRole, Engine, FinishReason, GenerateRequest, GenerationEvent};
use oa_store::Store;
use oa_sync::ServerClient;
use oa_types::{
    AppSettings, ChatEvent, ConversationDetail, ConversationListEntry, ConversationSettings,
    ConversationSummary, ConversationTreePath, DeviceSupport, ErrorCode, EventStatus,
    InstalledModel, Labels, Message, MessageFeedback, ModelStatus, Provenance, Regenerate, Role,
    SamplerParams, SendMessage, SubmittedEvent, Thumbs, Uuid,
};
use oa_types::{
    CatalogEntry, CompareSet, DownloadEvent, Ranking, ReviewGroup, TaskAnswer, TaskQueue,
};

use crate::downloads::{
    DownloadError, DownloadHandle, DownloadJob, HubSettings, StopKind, start_download,
};
use tokio::sync::{mpsc, watch};

use crate::error::{capitalize, engine_error};
use crate::models::{SystemMemory, installed_models};
use crate::review::Dismissed;
use crate::{Error, Result};

/// The app setting that remembers the model the person chose.
const MODEL_SETTING: &str = "model";
/// The app setting with the theme and the welcome's state.
const APP_SETTING: &str = "app";

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
    /// What [`App::model_status`] says, for those who follow it; sent while the engine slot's
    /// lock is held, so that the two never disagree and changes arrive in order.
    model_changes: Arc<watch::Sender<ModelStatus>>,
    /// The model file loaded or being loaded.
    model_path: Arc<RwLock<PathBuf>>,
    /// Counts model loads, so that a load overtaken by a newer choice is thrown away.
    loads: Arc<AtomicU64>,
    /// The stop flag of the reply being generated, if any.
    generating: Arc<Mutex<Option<Arc<AtomicBool>>>>,
    /// Model downloads running now, by catalog id.
    downloads: Arc<Mutex<HashMap<String, Arc<DownloadHandle>>>>,
    /// The GPU found, or why there is none; looked for once, when first asked.
    gpu: Arc<std::sync::OnceLock<std::result::Result<String, String>>>,
    /// The sync agent's state and its wake-up call.
    sync: Arc<crate::sync_state::SyncState>,
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
    /// state is reported by [`App::model_status`]. The model is the one the person last chose
    /// in the app, while its file exists, else the configured one. A database that cannot be
    /// opened does not stop the app: [`App::storage_error`] says why, and the use cases that
    /// need it fail with that message until it opens.
    pub fn open(config: AppConfig) -> Result<App> {
        let app = App::open_without_model(config);
        let path = app
            .model_path
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        app.start_loading(path, false)?;
        Ok(app)
    }

    /// Opens the app's data without loading a model, for work that never chats (sending
    /// contributions, accounts): chatting answers that no model was loaded.
    pub fn open_without_model(config: AppConfig) -> App {
        let store = match Store::open(&config.database_path()) {
            Ok(store) => Some(store),
            Err(e) => {
                tracing::warn!(error = %e, "the local database could not be opened");
                None
            }
        };
        let chosen = store
            .as_ref()
            .and_then(|s| s.app_setting::<PathBuf>(MODEL_SETTING).ok().flatten())
            .filter(|path| path.is_file());
        let model_path = chosen.unwrap_or_else(|| config.model_path.clone());
        let no_model = oa_types::AppError::new(
            oa_types::ErrorCode::ModelMissing,
            "No model was loaded for this command.",
        );
        App {
            config,
            store: Arc::new(Mutex::new(store)),
            model_changes: Arc::new(watch::Sender::new(ModelStatus::Unavailable {
                error: no_model.clone(),
            })),
            engine: Arc::new(RwLock::new(EngineSlot::Failed(no_model))),
            model_path: Arc::new(RwLock::new(model_path)),
            loads: Arc::new(AtomicU64::new(0)),
            generating: Arc::new(Mutex::new(None)),
            downloads: Arc::new(Mutex::new(HashMap::new())),
            gpu: Arc::new(std::sync::OnceLock::new()),
            sync: Arc::default(),
        }
    }

    /// Loads `path` on a thread of its own; the engine slot says `Loading` until it is done.
    /// The model in use is released first, so that two models never share the memory. With
    /// `remember`, the path becomes the model the app starts with once it has loaded (never
    /// before: a file that cannot be used must not be reloaded at every start).
    fn start_loading(&self, path: PathBuf, remember: bool) -> Result<()> {
        let load = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        *self.model_path.write().unwrap_or_else(|p| p.into_inner()) = path.clone();
        {
            let mut slot = self.engine.write().unwrap_or_else(|p| p.into_inner());
            *slot = EngineSlot::Loading;
            self.model_changes.send_replace(ModelStatus::Loading {
                path: path.display().to_string(),
            });
        }
        let slot = self.engine.clone();
        let changes = self.model_changes.clone();
        let loads = self.loads.clone();
        let store = self.store.clone();
        let database = self.config.database_path();
        let device = self.stored_settings().device;
        std::thread::Builder::new()
            .name("oa-model-loader".into())
            .spawn(move || {
                // The engine reports its own failures, panics included; a panic here too
                // must still end the `Loading` state, with a message, and leave the app up.
                let loaded =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                        || match Engine::load_on(&path, device) {
                            Ok(engine) => {
                                tracing::info!(model = %engine.info().id, "model loaded");
                                if remember && loads.load(Ordering::SeqCst) == load {
                                    remember_model(&store, &database, &path);
                                }
                                EngineSlot::Ready(Arc::new(engine))
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "model could not be loaded");
                                EngineSlot::Failed(engine_error(e))
                            }
                        },
                    ))
                    .unwrap_or_else(|panic| {
                        let e = oa_engine::EngineError::load_panicked(&path, panic.as_ref());
                        tracing::warn!(error = %e, "model could not be loaded");
                        EngineSlot::Failed(engine_error(e))
                    });
                let mut slot = slot.write().unwrap_or_else(|p| p.into_inner());
                // A newer choice owns the slot now; this model is dropped here.
                if loads.load(Ordering::SeqCst) == load {
                    *slot = loaded;
                    changes.send_replace(status_of(&slot, &path));
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the model loader: {e}")))?;
        Ok(())
    }

    /// The configuration the app was opened with.
    pub fn config(&self) -> &AppConfig {
        &self.config
    }

    /// Whether the model is loading, ready, or unusable (and why).
    pub fn model_status(&self) -> ModelStatus {
        let slot = self.engine.read().unwrap_or_else(|p| p.into_inner());
        status_of(&slot, &self.model_path())
    }

    /// Follows [`App::model_status`]: the receiver holds the status now and is told of every
    /// change (loading, then ready or unavailable) as it happens.
    pub fn model_changes(&self) -> watch::Receiver<ModelStatus> {
        self.model_changes.subscribe()
    }

    /// Waits until the model has loaded or failed to.
    pub async fn wait_for_model(&self) -> ModelStatus {
        let mut changes = self.model_changes();
        let settled = changes
            .wait_for(|status| !matches!(status, ModelStatus::Loading { .. }))
            .await
            .map(|status| status.clone());
        // The sender lives as long as `self`, so the wait cannot end without a status.
        settled.unwrap_or_else(|_| self.model_status())
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

    /// Records a thumbs vote (with reasons and a comment) on a message, replacing an earlier
    /// one; returns the message's feedback now.
    pub async fn rate(&self, message_id: Uuid, thumbs: Thumbs) -> Result<MessageFeedback> {
        self.with_store(move |s| {
            s.rate(message_id, &thumbs)?;
            Ok(s.feedback(message_id)?)
        })
        .await
    }

    /// Records Open-Assistant labels on a message, replacing the earlier set; returns the
    /// message's feedback now.
    pub async fn set_labels(&self, message_id: Uuid, labels: Labels) -> Result<MessageFeedback> {
        self.with_store(move |s| {
            s.set_labels(message_id, &labels)?;
            Ok(s.feedback(message_id)?)
        })
        .await
    }

    /// Everything recorded for sharing, grouped by conversation (the one with the newest event
    /// first), each event with exactly what would be sent and the personal data found in it.
    pub async fn review_queue(&self) -> Result<Vec<ReviewGroup>> {
        self.with_store(review_queue_of).await
    }

    /// Replaces the personal data found in an event's free text with placeholders in what will
    /// be sent (the local conversation keeps the original); only before it is sent. Once a sync
    /// round has claimed it (even with its request still on the way) the redaction is refused
    /// with [`oa_store::StoreError::AlreadySent`], and the queue shows the bytes that left.
    pub async fn redact_event(&self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.with_store(move |s| {
            let event = s.event(id)?;
            let dismissed = Dismissed::new(s.dismissed_findings()?);
            if let Some(redacted) = crate::review::redacted_payload(&event, &dismissed) {
                s.redact_event(id, &redacted)?;
            }
            review_queue_of(s)
        })
        .await
    }

    /// Marks a finding as not personal data: from now on, also after a restart, a finding of
    /// `kind` with this text is neither marked nor redacted, in any item.
    pub async fn dismiss_finding(&self, kind: String, text: String) -> Result<Vec<ReviewGroup>> {
        self.with_store(move |s| {
            s.dismiss_finding(&kind, &crate::review::dismissal_key(&kind, &text)?)?;
            review_queue_of(s)
        })
        .await
    }

    /// Takes a dismissal back: such findings are marked, and redacted on request, again.
    pub async fn restore_finding(&self, kind: String, text: String) -> Result<Vec<ReviewGroup>> {
        self.with_store(move |s| {
            s.restore_finding(&kind, &crate::review::dismissal_key(&kind, &text)?)?;
            review_queue_of(s)
        })
        .await
    }

    /// Queues one private event for sending; the sync agent sends it when signed in.
    pub async fn share_event(&self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| Ok(s.share_event(id).map(drop)?))
            .await
    }

    /// Withdraws a contribution the server may hold: a retraction is queued (and sent by the
    /// agent) and the event leaves the outbox.
    pub async fn withdraw_event(&self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| Ok(s.withdraw_event(id).map(drop)?))
            .await
    }

    /// Withdraws every contribution of a conversation the server may hold.
    pub async fn withdraw_conversation(&self, conversation_id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| {
            Ok(s.withdraw_conversation(conversation_id).map(drop)?)
        })
        .await
    }

    /// Takes one queued event back: it stays private.
    pub async fn unshare_event(&self, id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(false, move |s| Ok(s.unshare_event(id).map(drop)?))
            .await
    }

    /// Queues every private event of a conversation; the sync agent sends them when signed in.
    pub async fn share_conversation(&self, conversation_id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(true, move |s| {
            Ok(s.share_conversation(conversation_id).map(drop)?)
        })
        .await
    }

    /// Takes every queued event of a conversation back.
    pub async fn unshare_conversation(&self, conversation_id: Uuid) -> Result<Vec<ReviewGroup>> {
        self.change_outbox(false, move |s| {
            Ok(s.unshare_conversation(conversation_id).map(drop)?)
        })
        .await
    }

    /// Changes the outbox with `change` and returns it prepared for review; with `send`, the
    /// sync agent is woken to send what the change queued.
    async fn change_outbox(
        &self,
        send: bool,
        change: impl FnOnce(&mut Store) -> Result<()> + Send + 'static,
    ) -> Result<Vec<ReviewGroup>> {
        let groups = self
            .with_store(move |s| {
                change(s)?;
                review_queue_of(s)
            })
            .await?;
        self.sync.outbox_changed();
        if send {
            self.sync.wake();
        }
        Ok(groups)
    }

    /// The tasks made from the person's history, with their progress counted in local days
    /// (`tz_offset_minutes` as JavaScript's `getTimezoneOffset`).
    pub async fn task_queue(&self, tz_offset_minutes: i32) -> Result<TaskQueue> {
        self.with_store(move |s| Ok(s.task_queue(tz_offset_minutes)?))
            .await
    }

    /// Carries out a task's answer; returns the queue after it.
    pub async fn complete_task(
        &self,
        answer: TaskAnswer,
        tz_offset_minutes: i32,
    ) -> Result<TaskQueue> {
        self.with_store(move |s| {
            s.complete_task(&answer)?;
            Ok(s.task_queue(tz_offset_minutes)?)
        })
        .await
    }

    /// Puts a task aside; returns the queue after it.
    pub async fn skip_task(&self, key: String, tz_offset_minutes: i32) -> Result<TaskQueue> {
        let leased = oa_store::leased_task_id(&key);
        let queue = self
            .with_store(move |s| {
                s.skip_task(&key)?;
                Ok(s.task_queue(tz_offset_minutes)?)
            })
            .await?;
        if let Some(task_id) = leased {
            self.give_back_task(task_id);
        }
        Ok(queue)
    }

    /// A prompt with all its replies and their ranking, for compare mode.
    pub async fn compare_set(&self, prompt_id: Uuid) -> Result<CompareSet> {
        self.with_store(move |s| Ok(s.compare_set(prompt_id)?))
            .await
    }

    /// Ranks a prompt's replies best first (or marks them not rankable), replacing an earlier
    /// ranking; returns the compare set after it.
    pub async fn rank_replies(&self, prompt_id: Uuid, ranking: Ranking) -> Result<CompareSet> {
        self.with_store(move |s| {
            s.rank_replies(prompt_id, &ranking)?;
            Ok(s.compare_set(prompt_id)?)
        })
        .await
    }

    /// The feedback currently on a message.
    pub async fn feedback(&self, message_id: Uuid) -> Result<MessageFeedback> {
        self.with_store(move |s| Ok(s.feedback(message_id)?)).await
    }

    /// Messages matching what was typed, most relevant first (see [`Store::search`]).
    pub async fn search(&self, query: String, limit: usize) -> Result<Vec<oa_types::SearchHit>> {
        self.with_store(move |s| Ok(s.search(&query, limit)?)).await
    }

    /// Conversations with whether each is pinned: pinned first, then the most recently changed.
    pub async fn list_conversation_entries(&self) -> Result<Vec<ConversationListEntry>> {
        self.with_store(|s| Ok(s.list_conversation_entries()?))
            .await
    }

    /// A conversation's current path with each message's place among its siblings.
    pub async fn conversation_path(&self, id: Uuid) -> Result<ConversationTreePath> {
        self.with_store(move |s| Ok(s.conversation_tree_path(id)?))
            .await
    }

    /// Shows another version of a message: the path now goes through `message_id` and ends
    /// where the person last was in that branch. The choice is kept for the next start.
    pub async fn switch_branch(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
    ) -> Result<ConversationTreePath> {
        self.with_store(move |s| {
            s.set_current_leaf(conversation_id, message_id)?;
            Ok(s.conversation_tree_path(conversation_id)?)
        })
        .await
    }

    /// Shows the version `step` places before (negative) or after `message_id` among the
    /// messages with the same parent, and what followed it when last viewed. A step past the
    /// first or last version is refused.
    pub async fn step_version(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        step: i32,
    ) -> Result<ConversationTreePath> {
        self.with_store(move |s| {
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
    pub async fn rename_conversation(&self, id: Uuid, title: String) -> Result<()> {
        self.with_store(move |s| Ok(s.rename(id, &title)?)).await
    }

    /// Pins a conversation to the top of the list, or unpins it.
    pub async fn set_pinned(&self, id: Uuid, pinned: bool) -> Result<()> {
        self.with_store(move |s| Ok(s.set_pinned(id, pinned)?))
            .await
    }

    /// Deletes a conversation for good (what was shared is withdrawn from the dataset too).
    pub async fn delete_conversation(&self, id: Uuid) -> Result<()> {
        self.with_store(move |s| Ok(s.delete_conversation(id)?))
            .await?;
        // Deleting what was shared queues its retraction.
        self.sync.outbox_changed();
        Ok(())
    }

    /// A conversation's system prompt and sampler.
    pub async fn conversation_settings(&self, id: Uuid) -> Result<ConversationSettings> {
        self.with_store(move |s| Ok(s.conversation_settings(id)?))
            .await
    }

    /// Keeps a conversation's system prompt and sampler; its next replies use them.
    pub async fn set_conversation_settings(
        &self,
        id: Uuid,
        settings: ConversationSettings,
    ) -> Result<()> {
        self.with_store(move |s| Ok(s.set_conversation_settings(id, &settings)?))
            .await
    }

    /// The app's settings (theme, whether the welcome was seen).
    pub async fn app_settings(&self) -> Result<AppSettings> {
        self.with_store(|s| Ok(s.app_setting(APP_SETTING)?.unwrap_or_default()))
            .await
    }

    /// Keeps the app's settings. A new device choice reloads the model on it; a new thread
    /// count takes effect when the app next starts ([`startup_threads`]).
    pub async fn set_app_settings(&self, settings: AppSettings) -> Result<()> {
        if let Some(problem) = settings.problem() {
            return Err(Error::Store(oa_store::StoreError::InvalidInput(problem)));
        }
        let device = settings.device;
        let before = self
            .with_store(move |s| {
                let before: AppSettings = s.app_setting(APP_SETTING)?.unwrap_or_default();
                s.set_app_setting(APP_SETTING, &settings)?;
                Ok(before)
            })
            .await?;
        if before.device != device {
            self.start_loading(self.model_path(), false)?;
        }
        Ok(())
    }

    /// The inference thread count chosen under Settings, read from `data_dir`'s database;
    /// `None` when it is left to the default or cannot be read. A program reads it before it
    /// starts any thread and hands it to the compute pool through `CANDLE_NUM_THREADS`.
    pub fn startup_threads(data_dir: &Path) -> Option<u32> {
        let config = AppConfig::new(data_dir.to_owned(), None);
        if !config.database_path().is_file() {
            return None;
        }
        let store = Store::open(&config.database_path()).ok()?;
        let settings: AppSettings = store.app_setting(APP_SETTING).ok()??;
        settings.threads
    }

    /// The settings as stored, or the defaults where they cannot be read.
    fn stored_settings(&self) -> AppSettings {
        let guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .and_then(|s| s.app_setting(APP_SETTING).ok().flatten())
            .unwrap_or_default()
    }

    /// What models can run on: the build's GPU backend, the GPU found, the threads in use.
    pub fn devices(&self) -> DeviceSupport {
        let gpu = self.gpu.get_or_init(|| {
            oa_engine::device::gpu()
                .map(|d| oa_engine::device::describe(&d))
                .map_err(|e| capitalize(&e.to_string()))
        });
        let model_on_gpu = self.ready_engine().is_ok_and(|e| e.on_gpu());
        let threads_in_use = oa_engine::device::cpu_threads();
        DeviceSupport {
            gpu_backend: oa_engine::device::gpu_backend().map(str::to_owned),
            gpu_name: gpu.as_ref().ok().cloned(),
            gpu_problem: gpu.as_ref().err().cloned(),
            default_threads: u32::try_from(oa_engine::device::default_cpu_threads())
                .unwrap_or(u32::MAX),
            threads_in_use: u32::try_from(threads_in_use).unwrap_or(u32::MAX),
            model_on_gpu,
        }
    }

    /// The model file loaded or being loaded.
    pub fn model_path(&self) -> PathBuf {
        self.model_path
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The folder where the person puts model files (the data folder's `models/`).
    pub fn models_folder(&self) -> PathBuf {
        self.config.data_dir.join("models")
    }

    /// The catalog, each model with whether it is installed or downloading now.
    pub fn catalog(&self) -> Vec<CatalogEntry> {
        let running = self.downloads.lock().unwrap_or_else(|p| p.into_inner());
        let folder = self.models_folder();
        let cache = self.config.data_dir.join("downloads");
        let memory = SystemMemory::read();
        crate::downloads::catalog()
            .into_iter()
            .map(|model| {
                let installed = folder.join(&model.file).is_file();
                let downloading = running.contains_key(&model.id);
                let partial = (!installed && !downloading)
                    .then(|| crate::downloads::partial_download(&cache, &model.repo))
                    .flatten();
                let context = (model.context_length as usize).min(crate::models::FIT_CONTEXT);
                let needed =
                    oa_engine::memory::estimate_catalog(&model, context).map_or(0, |e| e.total());
                CatalogEntry {
                    installed,
                    downloading,
                    partial,
                    memory_needed: needed,
                    fit_context: if needed > 0 { context as u32 } else { 0 },
                    memory_fit: match memory {
                        Some(m) if needed > 0 => m.fit(needed),
                        _ => oa_types::MemoryFit::Unknown,
                    },
                    model,
                }
            })
            .collect()
    }

    /// Starts downloading the catalog model `id` into the models folder (resuming what an
    /// earlier attempt fetched); `on_event` receives its progress and how it ended. Several
    /// models may download at once, each once.
    pub fn download_model(
        &self,
        id: &str,
        mut on_event: impl FnMut(DownloadEvent) + Send + 'static,
    ) -> Result<()> {
        let model = crate::downloads::catalog()
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| {
                Error::Download(DownloadError::InvalidRequest(format!(
                    "there is no catalog model {id:?}"
                )))
            })?;
        let mut running = self.downloads.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains_key(id) {
            return Err(Error::Download(DownloadError::InvalidRequest(format!(
                "{} is already downloading",
                model.name
            ))));
        }
        let job = DownloadJob {
            hub: HubSettings::from_env(),
            repo: model.repo,
            file: model.file,
            models_dir: self.models_folder(),
            cache_dir: self.config.data_dir.join("downloads"),
        };
        let downloads = self.downloads.clone();
        let key = id.to_owned();
        let handle = start_download(job, move |event| {
            let ended = matches!(
                event,
                DownloadEvent::Finished { .. }
                    | DownloadEvent::Paused
                    | DownloadEvent::Cancelled
                    | DownloadEvent::Failed { .. }
            );
            if ended {
                downloads
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
            }
            on_event(event);
        });
        running.insert(id.to_owned(), handle);
        Ok(())
    }

    /// Pauses (`cancel = false`, keeping what was fetched) or cancels a running download;
    /// `false` when it was not running.
    pub fn stop_download(&self, id: &str, cancel: bool) -> bool {
        let handle = self
            .downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        match handle {
            Some(handle) => {
                handle.stop(if cancel {
                    StopKind::Cancel
                } else {
                    StopKind::Pause
                });
                true
            }
            None => false,
        }
    }

    /// Copies a GGUF file into the models folder once the engine has checked it.
    pub async fn import_model(&self, source: PathBuf) -> Result<PathBuf> {
        let folder = self.models_folder();
        tokio::task::spawn_blocking(move || crate::downloads::import_model(&folder, &source))
            .await
            .map_err(|e| Error::Internal(format!("importing failed: {e}")))?
            .map_err(Error::Download)
    }

    /// Deletes a model file from the models folder; the model in use cannot be deleted.
    pub async fn remove_model(&self, path: PathBuf) -> Result<()> {
        let same = |a: &Path, b: &Path| {
            std::fs::canonicalize(a)
                .ok()
                .is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
        };
        if same(&path, &self.model_path()) {
            return Err(Error::Download(DownloadError::InvalidRequest(
                "this model is in use; switch to another one before deleting it".into(),
            )));
        }
        let folder = self.models_folder();
        if !path.parent().is_some_and(|p| same(p, &folder)) {
            return Err(Error::Download(DownloadError::InvalidRequest(
                "only models in the app's models folder can be deleted here".into(),
            )));
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crate::downloads::remove_model(&folder, &name).map_err(Error::Download)?;
        Ok(())
    }

    /// The GGUF files the person can switch to: those in the data folder's `models/`, in the
    /// folder of the configured model and in the folder of the model in use.
    pub async fn installed_models(&self) -> Result<Vec<InstalledModel>> {
        let active = self.model_path();
        let mut folders = vec![self.models_folder()];
        folders.extend(self.config.model_path.parent().map(Path::to_owned));
        folders.extend(active.parent().map(Path::to_owned));
        folders.dedup();
        let own = std::fs::canonicalize(self.models_folder()).ok();
        tokio::task::spawn_blocking(move || {
            let mut models = installed_models(&folders, &active, SystemMemory::read());
            for model in &mut models {
                model.removable = !model.active
                    && own.is_some()
                    && Path::new(&model.path).parent() == own.as_deref();
            }
            models
        })
        .await
        .map_err(|e| Error::Internal(format!("listing models failed: {e}")))
    }

    /// Starts loading another model; [`App::model_status`] reports `Loading` until it is ready
    /// (or why it cannot be used). Once it has loaded, the choice is kept for the next start;
    /// a file that fails to load leaves the earlier choice in place. A reply being generated
    /// finishes on the model it began with.
    pub async fn select_model(&self, path: PathBuf) -> Result<ModelStatus> {
        if !path.is_file() {
            return Err(Error::Reported(oa_types::AppError::new(
                ErrorCode::ModelMissing,
                format!(
                    "There is no model file at {}. It may have been moved or deleted.",
                    path.display()
                ),
            )));
        }
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        self.start_loading(path, true)?;
        Ok(self.model_status())
    }

    /// Stops the reply being generated; what it wrote so far is kept, marked as stopped.
    /// Returns whether there was one.
    pub fn stop_generation(&self) -> bool {
        let generating = self.generating.lock().unwrap_or_else(|p| p.into_inner());
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
    pub async fn send_message(
        &self,
        request: SendMessage,
        on_event: impl FnMut(ChatEvent) -> bool + Send,
    ) -> Result<Message> {
        let engine = self.ready_engine()?;
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
        let (prompt, history, kept) = self
            .with_store(move |s| {
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
            None => self.model_sampler(&engine).await,
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
    /// a fresh seed so that it differs. Events stream as for [`App::send_message`]; `Started`
    /// names the prompt answered.
    pub async fn regenerate(
        &self,
        request: Regenerate,
        on_event: impl FnMut(ChatEvent) -> bool + Send,
    ) -> Result<Message> {
        let engine = self.ready_engine()?;
        let Regenerate {
            conversation_id,
            prompt_id,
            sampler,
        } = request;
        let (history, kept) = self
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
            None => self.model_sampler(&engine).await,
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
        &self,
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
        *self.generating.lock().unwrap_or_else(|p| p.into_inner()) = Some(cancel.clone());
        let _done = ClearOnDrop(self.generating.clone(), cancel.clone());
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
            .with_store(move |s| Ok(s.add_reply(&parent, &reply_text, Some(provenance))?))
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

    /// The sampler a reply gets when the person chose none: what the person made the loaded
    /// model's defaults, else the app's, with a reply no longer than a quarter of the model's
    /// context.
    pub async fn default_sampler(&self) -> SamplerParams {
        match self.ready_engine() {
            Ok(engine) => self.model_sampler(&engine).await,
            Err(_) => SamplerParams::default(),
        }
    }

    async fn model_sampler(&self, engine: &Engine) -> SamplerParams {
        let file = model_file_name(&engine.info().path);
        let chosen = self
            .with_store(move |s| {
                let settings: AppSettings = s.app_setting(APP_SETTING)?.unwrap_or_default();
                Ok(settings.model_samplers.get(&file).cloned())
            })
            .await
            .ok()
            .flatten();
        chosen.unwrap_or_else(|| default_sampler(engine))
    }

    /// Makes `sampler` the defaults of the loaded model's new conversations, or with `None`
    /// goes back to the app's.
    pub async fn set_model_sampler(&self, sampler: Option<SamplerParams>) -> Result<()> {
        let engine = self.ready_engine()?;
        let file = model_file_name(&engine.info().path);
        let mut settings = self.app_settings().await?;
        match sampler {
            Some(sampler) => settings.model_samplers.insert(file, sampler),
            None => settings.model_samplers.remove(&file),
        };
        self.set_app_settings(settings).await
    }

    fn ready_engine(&self) -> Result<Arc<Engine>> {
        match &*self.engine.read().unwrap_or_else(|p| p.into_inner()) {
            EngineSlot::Loading => Err(Error::ModelLoading),
            EngineSlot::Ready(engine) => Ok(engine.clone()),
            EngineSlot::Failed(error) => Err(Error::ModelUnavailable(error.clone())),
        }
    }

    /// Sends what the person chose to share to the dataset server, batch by batch, and records
    /// the server's answer to each event: accepted (also when the server already had it) or
    /// rejected with its reason. Events sent before whose answer never arrived go first;
    /// sending them again is harmless, the server stores an event id once. A failure stops the
    /// round with nothing lost: what was not answered stays queued or sent, for the next round.
    pub async fn sync_now(&self, client: &ServerClient, token: &str) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        let total = self
            .with_store(|s| {
                Ok(
                    s.count_events(&[
                        oa_types::ConsentState::Queued,
                        oa_types::ConsentState::Sent,
                    ])?,
                )
            })
            .await?;
        self.sync_state().update(|s| {
            s.round_done = 0;
            s.round_total = total;
        });
        loop {
            // Read and marked sent in one transaction: these bytes, and no others, leave.
            let batch = self
                .with_store(|s| Ok(s.claim_events_to_send(SYNC_BATCH_EVENTS)?))
                .await?;
            if batch.is_empty() {
                return Ok(report);
            }
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
            let done = (report.accepted + report.rejected) as u64;
            // What was shared while the round ran joins its whole.
            self.sync_state().update(|s| {
                s.round_done = done;
                s.round_total = s.round_total.max(done);
            });
        }
    }

    pub(crate) fn sync_state(&self) -> &crate::sync_state::SyncState {
        &self.sync
    }

    /// Runs `f` on a blocking thread with the store: SQLite never runs on the async runtime.
    /// Opens the database first if it could not be opened before.
    pub(crate) async fn with_store<T: Send + 'static>(
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

/// Keeps `path` as the model the app starts with, in the database at `database` (opened here
/// if the app could not open it before); a failure is logged, and the app starts with the
/// earlier choice.
fn remember_model(store: &Mutex<Option<Store>>, database: &Path, path: &Path) {
    let mut guard = store.lock().unwrap_or_else(|p| p.into_inner());
    let path = path.to_path_buf();
    let kept = match &mut *guard {
        Some(store) => store.set_app_setting(MODEL_SETTING, &path),
        empty => Store::open(database)
            .and_then(|store| empty.insert(store).set_app_setting(MODEL_SETTING, &path)),
    };
    if let Err(e) = kept {
        tracing::warn!(error = %e, "the model choice could not be kept for the next start");
    }
}

/// The outbox prepared for review.
fn review_queue_of(store: &mut Store) -> Result<Vec<ReviewGroup>> {
    let titles = store
        .list_conversations()?
        .into_iter()
        .map(|c| (c.id, c.title))
        .collect();
    let dismissed = Dismissed::new(store.dismissed_findings()?);
    Ok(crate::review::review_groups(
        store.all_events()?,
        &titles,
        &dismissed,
    ))
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

/// What the engine slot tells the UI; `path` is the model file loaded or being loaded.
fn status_of(slot: &EngineSlot, path: &Path) -> ModelStatus {
    match slot {
        EngineSlot::Loading => ModelStatus::Loading {
            path: path.display().to_string(),
        },
        EngineSlot::Ready(engine) => ModelStatus::Ready {
            info: engine.info().clone(),
        },
        EngineSlot::Failed(error) => ModelStatus::Unavailable {
            error: error.clone(),
        },
    }
}

/// Clears the app's "generating" slot when a reply ends, unless a newer reply took it.
struct ClearOnDrop(Arc<Mutex<Option<Arc<AtomicBool>>>>, Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, &self.1)) {
            *slot = None;
        }
    }
}

/// The name a model's own settings are kept under: its file name, which stays when the file
/// moves between folders.
fn model_file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The app's sampler defaults for `engine`'s model: a reply may use at most a quarter of the
/// context, so that a conversation keeps room for its history.
fn default_sampler(engine: &Engine) -> SamplerParams {
    let defaults = SamplerParams::default();
    let quarter = u32::try_from(engine.context_length() / 4).unwrap_or(u32::MAX);
    SamplerParams {
        max_tokens: defaults.max_tokens.min(quarter.max(16)),
        ..defaults
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
