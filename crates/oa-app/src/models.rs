//! Models: the one in use (loading, ready or unusable, followed as it changes) and switching
//! to another, the GGUF files installed (`installed.rs`), the catalog's downloads
//! (`downloads.rs`), importing and deleting files, and each model's sampler defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oa_engine::Engine;
use oa_types::{
    AppSettings, CatalogEntry, DownloadEvent, ErrorCode, InstalledModel, ModelStatus, SamplerParams,
};
use tokio::sync::watch;

use crate::downloads::{DownloadError, DownloadJob, HubSettings, StopKind, start_download};
use crate::installed::{FIT_CONTEXT, SystemMemory, installed_models};
use crate::settings::Settings;
use crate::state::{APP_SETTING, State};
use crate::{Error, Result};

/// The models area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Models<'a> {
    state: &'a Arc<State>,
}

impl<'a> Models<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Models<'a> {
        Models { state }
    }

    /// Whether the model is loading, ready, or unusable (and why).
    pub fn status(self) -> ModelStatus {
        self.state.model_status()
    }

    /// Follows [`Models::status`]: the receiver holds the status now and is told of every
    /// change (loading, then ready or unavailable) as it happens.
    pub fn changes(self) -> watch::Receiver<ModelStatus> {
        self.state.model_changes()
    }

    /// Waits until the model has loaded or failed to.
    pub async fn wait_for_load(self) -> ModelStatus {
        let mut changes = self.changes();
        let settled = changes
            .wait_for(|status| !matches!(status, ModelStatus::Loading { .. }))
            .await
            .map(|status| status.clone());
        // The sender lives as long as the app, so the wait cannot end without a status.
        settled.unwrap_or_else(|_| self.status())
    }

    /// The model file loaded or being loaded.
    pub fn active_path(self) -> PathBuf {
        self.state.model_path()
    }

    /// The folder where the person puts model files (the data folder's `models/`).
    pub fn folder(self) -> PathBuf {
        self.state.config.data_dir.join("models")
    }

    /// The catalog, each model with whether it is installed or downloading now.
    pub fn catalog(self) -> Vec<CatalogEntry> {
        let running = self
            .state
            .downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let folder = self.folder();
        let cache = self.state.config.data_dir.join("downloads");
        let memory = SystemMemory::read();
        crate::downloads::catalog()
            .into_iter()
            .map(|model| {
                let installed = folder.join(&model.file).is_file();
                let downloading = running.contains_key(&model.id);
                let partial = (!installed && !downloading)
                    .then(|| crate::downloads::partial_download(&cache, &model.repo))
                    .flatten();
                let context = (model.context_length as usize).min(FIT_CONTEXT);
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
    pub fn download(
        self,
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
        let mut running = self
            .state
            .downloads
            .lock()
            .unwrap_or_else(|p| p.into_inner());
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
            models_dir: self.folder(),
            cache_dir: self.state.config.data_dir.join("downloads"),
        };
        let downloads = self.state.downloads.clone();
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
    pub fn stop_download(self, id: &str, cancel: bool) -> bool {
        let handle = self
            .state
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
    pub async fn import(self, source: PathBuf) -> Result<PathBuf> {
        let folder = self.folder();
        tokio::task::spawn_blocking(move || crate::downloads::import_model(&folder, &source))
            .await
            .map_err(|e| Error::Internal(format!("importing failed: {e}")))?
            .map_err(Error::Download)
    }

    /// Deletes a model file from the models folder; the model in use cannot be deleted.
    pub async fn remove(self, path: PathBuf) -> Result<()> {
        let same = |a: &Path, b: &Path| {
            std::fs::canonicalize(a)
                .ok()
                .is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
        };
        if same(&path, &self.active_path()) {
            return Err(Error::Download(DownloadError::InvalidRequest(
                "this model is in use; switch to another one before deleting it".into(),
            )));
        }
        let folder = self.folder();
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
    pub async fn installed(self) -> Result<Vec<InstalledModel>> {
        let active = self.active_path();
        let mut folders = vec![self.folder()];
        folders.extend(self.state.config.model_path.parent().map(Path::to_owned));
        folders.extend(active.parent().map(Path::to_owned));
        folders.dedup();
        let own = std::fs::canonicalize(self.folder()).ok();
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

    /// Starts loading another model; [`Models::status`] reports `Loading` until it is ready
    /// (or why it cannot be used). Once it has loaded, the choice is kept for the next start;
    /// a file that fails to load leaves the earlier choice in place. A reply being generated
    /// finishes on the model it began with.
    pub async fn select(self, path: PathBuf) -> Result<ModelStatus> {
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
        self.state.start_loading(path, true)?;
        Ok(self.status())
    }

    /// The sampler a reply gets when the person chose none: what the person made the loaded
    /// model's defaults, else the app's, with a reply no longer than a quarter of the model's
    /// context.
    pub async fn default_sampler(self) -> SamplerParams {
        match self.state.ready_engine() {
            Ok(engine) => self.model_sampler(&engine).await,
            Err(_) => SamplerParams::default(),
        }
    }

    /// The sampler of a reply on `engine` whose request and conversation name none.
    pub(crate) async fn model_sampler(self, engine: &Engine) -> SamplerParams {
        let file = model_file_name(&engine.info().path);
        let chosen = self
            .state
            .with_store(move |s| {
                let settings: AppSettings = s.app_setting(APP_SETTING)?.unwrap_or_default();
                Ok(settings.model_samplers.get(&file).cloned())
            })
            .await
            .ok()
            .flatten();
        chosen.unwrap_or_else(|| app_sampler(engine))
    }

    /// Makes `sampler` the defaults of the loaded model's new conversations, or with `None`
    /// goes back to the app's.
    pub async fn set_default_sampler(self, sampler: Option<SamplerParams>) -> Result<()> {
        let engine = self.state.ready_engine()?;
        let file = model_file_name(&engine.info().path);
        let mut settings = Settings::new(self.state).get().await?;
        match sampler {
            Some(sampler) => settings.model_samplers.insert(file, sampler),
            None => settings.model_samplers.remove(&file),
        };
        Settings::new(self.state).set(settings).await
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
fn app_sampler(engine: &Engine) -> SamplerParams {
    let defaults = SamplerParams::default();
    let quarter = u32::try_from(engine.context_length() / 4).unwrap_or(u32::MAX);
    SamplerParams {
        max_tokens: defaults.max_tokens.min(quarter.max(16)),
        ..defaults
    }
}
