//! What the areas of the app share, below all of them: the store and the blocking threads it is
//! used on, the model slot and the loader that fills it, the reply being generated, the
//! downloads running, and the signals that wake those who follow a change (the model's status,
//! the sync agent's state, the task queue). It imports no area, so that every area can use it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use oa_engine::Engine;
use oa_store::Store;
use oa_types::{AppSettings, ModelStatus, SyncStatus};
use tokio::sync::{Notify, watch};

use crate::config::AppConfig;
use crate::downloads::DownloadHandle;
use crate::error::engine_error;
use crate::{Error, Result};

/// The app setting that remembers the model the person chose.
const MODEL_SETTING: &str = "model";
/// The app setting with the theme, the welcome's state, the device and the models' samplers.
pub(crate) const APP_SETTING: &str = "app";

enum EngineSlot {
    Loading,
    Ready(Arc<Engine>),
    Failed(oa_types::AppError),
}

/// The state every area works on; the root holds it behind an `Arc`, each area borrows it.
pub(crate) struct State {
    pub(crate) config: AppConfig,
    /// `None` while the database cannot be opened (a read-only or full disk, say): the app
    /// still starts, every use case that needs the data says why it cannot, and the next one
    /// tries to open it again, so fixing the folder needs no restart.
    store: Arc<Mutex<Option<Store>>>,
    engine: Arc<RwLock<EngineSlot>>,
    /// What [`State::model_status`] says, for those who follow it; sent while the engine
    /// slot's lock is held, so that the two never disagree and changes arrive in order.
    model_changes: Arc<watch::Sender<ModelStatus>>,
    /// The model file loaded or being loaded.
    model_path: RwLock<PathBuf>,
    /// Counts model loads, so that a load overtaken by a newer choice is thrown away.
    loads: Arc<AtomicU64>,
    /// The stop flag of the reply being generated, if any.
    pub(crate) generating: Mutex<Option<Arc<AtomicBool>>>,
    /// Model downloads running now, by catalog id.
    pub(crate) downloads: Arc<Mutex<HashMap<String, Arc<DownloadHandle>>>>,
    /// The GPU found, or why there is none; looked for once, when first asked.
    pub(crate) gpu: OnceLock<std::result::Result<String, String>>,
    /// The sync agent's state and its wake-up call.
    pub(crate) sync: SyncState,
    /// A generation count of the task queue: bumped whenever it may have changed.
    tasks: watch::Sender<u64>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Opens the local database (or remembers that it cannot be opened) and picks the model to
    /// run: the one the person last chose, while its file exists, else the configured one. No
    /// model is loaded yet; until one is, chatting answers that none was.
    pub(crate) fn open(config: AppConfig) -> State {
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
        State {
            config,
            store: Arc::new(Mutex::new(store)),
            model_changes: Arc::new(watch::Sender::new(ModelStatus::Unavailable {
                error: no_model.clone(),
            })),
            engine: Arc::new(RwLock::new(EngineSlot::Failed(no_model))),
            model_path: RwLock::new(model_path),
            loads: Arc::new(AtomicU64::new(0)),
            generating: Mutex::new(None),
            downloads: Arc::new(Mutex::new(HashMap::new())),
            gpu: OnceLock::new(),
            sync: SyncState::default(),
            tasks: watch::Sender::new(0),
        }
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

    /// [`State::with_store`] for a change that may alter the task queue: once it is stored,
    /// the queue's followers are told.
    pub(crate) async fn with_store_changing_tasks<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let done = self.with_store(f).await?;
        self.tasks.send_modify(|generation| *generation += 1);
        Ok(done)
    }

    /// The settings as stored, or the defaults where they cannot be read.
    pub(crate) fn stored_settings(&self) -> AppSettings {
        let guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .as_ref()
            .and_then(|s| s.app_setting(APP_SETTING).ok().flatten())
            .unwrap_or_default()
    }

    /// Loads `path` on a thread of its own; the engine slot says `Loading` until it is done.
    /// The model in use is released first, so that two models never share the memory. With
    /// `remember`, the path becomes the model the app starts with once it has loaded (never
    /// before: a file that cannot be used must not be reloaded at every start).
    pub(crate) fn start_loading(&self, path: PathBuf, remember: bool) -> Result<()> {
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

    /// Whether the model is loading, ready, or unusable (and why).
    pub(crate) fn model_status(&self) -> ModelStatus {
        let slot = self.engine.read().unwrap_or_else(|p| p.into_inner());
        status_of(&slot, &self.model_path())
    }

    /// A new follower of [`State::model_status`].
    pub(crate) fn model_changes(&self) -> watch::Receiver<ModelStatus> {
        self.model_changes.subscribe()
    }

    /// The model file loaded or being loaded.
    pub(crate) fn model_path(&self) -> PathBuf {
        self.model_path
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The loaded model, or why there is none to use.
    pub(crate) fn ready_engine(&self) -> Result<Arc<Engine>> {
        match &*self.engine.read().unwrap_or_else(|p| p.into_inner()) {
            EngineSlot::Loading => Err(Error::ModelLoading),
            EngineSlot::Ready(engine) => Ok(engine.clone()),
            EngineSlot::Failed(error) => Err(Error::ModelUnavailable(error.clone())),
        }
    }

    /// A new follower of the task queue's generation count.
    pub(crate) fn task_changes(&self) -> watch::Receiver<u64> {
        self.tasks.subscribe()
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

/// The sync agent's state beside the store's counts, and what wakes the agent. Changed by the
/// agent and by every use case that touches the outbox; its subscribers ([`SyncChanges`]) are
/// told of every change of it and of the outbox.
#[derive(Debug)]
pub(crate) struct SyncState {
    status: watch::Sender<SyncStatus>,
    wake: Notify,
}

impl Default for SyncState {
    fn default() -> Self {
        SyncState {
            status: watch::Sender::new(SyncStatus::default()),
            wake: Notify::new(),
        }
    }
}

impl SyncState {
    pub(crate) fn update(&self, f: impl FnOnce(&mut SyncStatus)) {
        self.status.send_modify(f);
    }

    pub(crate) fn snapshot(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    /// The outbox changed: what waits or was rejected may have too. Those counts live in the
    /// store, so the agent's part stays as it is and only its subscribers are told to look.
    pub(crate) fn outbox_changed(&self) {
        self.status.send_modify(|_| {});
    }

    /// Asks the agent to send now rather than at its next look.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Returns when [`SyncState::wake`] was called.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// A new subscriber to every change.
    pub(crate) fn subscribe(&self) -> SyncChanges {
        SyncChanges(self.status.subscribe())
    }
}

/// Wakes its holder whenever what [`crate::Sharing::status`] reports may have changed: the
/// agent's state, the outbox's counts or the account. Changes that come in a burst wake it
/// once.
#[derive(Debug)]
pub struct SyncChanges(watch::Receiver<SyncStatus>);

impl SyncChanges {
    /// Waits for the next change; `false` once the app is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}
