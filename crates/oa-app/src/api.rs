//! The local API's use cases: its settings and key, the models it offers (loaded on first use
//! on the app's one engine thread), the claim that lets one program at a time serve it for a
//! data folder, and keeping its conversations in the history when the person asked for that.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oa_engine::Engine;
use oa_types::{ApiSettings, InstalledModel, MemoryFit, ModelStatus, Uuid};

use crate::error::ModelRefusal;
use crate::models::Models;
use crate::state::State;
use crate::{Error, Result};

/// The app setting that holds [`ApiSettings`].
const API_SETTING: &str = "api";
/// The file whose lock marks the program serving a data folder's API.
const CLAIM_FILE: &str = "api.lock";

/// The local API area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Api<'a> {
    state: &'a Arc<State>,
}

/// One answer the API gave, as the history keeps it: the conversation's text turns (tool
/// calls and results folded into text), ending with the prompt answered, and the answer with
/// how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiExchange {
    /// The request's instructions, kept as the conversation's system prompt.
    pub system_prompt: String,
    /// The turns, oldest first, alternating and ending with a [`oa_types::Role::Prompter`] turn.
    pub turns: Vec<(oa_types::Role, String)>,
    /// The answer.
    pub reply: String,
    /// How it was made.
    pub provenance: oa_types::Provenance,
}

/// Holds the right to serve a data folder's API; released when dropped (or when the program
/// ends, however it ends).
#[derive(Debug)]
pub struct ApiClaim {
    _file: File,
    path: PathBuf,
}

impl ApiClaim {
    /// Records where this program serves, for another program that finds the claim taken.
    pub fn announce(&self, url: &str) {
        if let Err(e) = std::fs::write(&self.path, url) {
            tracing::warn!(error = %e, "the API's claim file could not be written");
        }
    }
}

impl<'a> Api<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Api<'a> {
        Api { state }
    }

    /// The API's settings; a key is made the first time they are read, and kept.
    pub async fn settings(self) -> Result<ApiSettings> {
        self.state
            .with_store(|s| {
                let mut settings: ApiSettings = s.app_setting(API_SETTING)?.unwrap_or_default();
                if settings.key.is_empty() {
                    settings.key = new_key();
                    s.set_app_setting(API_SETTING, &settings)?;
                }
                Ok(settings)
            })
            .await
    }

    /// Keeps the API's settings (an empty key keeps the one there is).
    pub async fn set_settings(self, mut settings: ApiSettings) -> Result<ApiSettings> {
        if let Some(problem) = settings.problem() {
            return Err(Error::Store(oa_store::StoreError::InvalidInput(problem)));
        }
        if settings.key.is_empty() {
            settings.key = self.settings().await?.key;
        }
        self.state
            .with_store(move |s| {
                s.set_app_setting(API_SETTING, &settings)?;
                Ok(settings)
            })
            .await
    }

    /// Replaces the key: programs that used the old one are refused from now on.
    pub async fn regenerate_key(self) -> Result<ApiSettings> {
        let mut settings = self.settings().await?;
        settings.key = new_key();
        self.set_settings(settings).await
    }

    /// Claims the right to serve this data folder's API. Fails with the address of the program
    /// that serves it already, so that the app and `oa serve` never both load a model for one
    /// folder.
    pub fn claim(self) -> std::result::Result<ApiClaim, String> {
        let path = self.state.config.data_dir.join(CLAIM_FILE);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
            Ok(true) => Ok(ApiClaim { _file: file, path }),
            Ok(false) | Err(_) => {
                let url = std::fs::read_to_string(&path).unwrap_or_default();
                let at = if url.trim().is_empty() {
                    String::new()
                } else {
                    format!(" at {}", url.trim())
                };
                Err(format!(
                    "another program already serves the API of this data folder{at} (the desktop \
                     app, or `oa serve`); use that one, or stop it first"
                ))
            }
        }
    }

    /// Keeps an answer the API gave in the history, as a conversation of source
    /// [`oa_types::API_SOURCE`], when the person asked for that (`keep_history`); answers with
    /// the conversation's id when it was kept. Like a chat's, the new conversation can be
    /// rated, corrected and shared, and changes the task queue.
    pub async fn keep(self, exchange: ApiExchange) -> Result<Option<Uuid>> {
        if !self.settings().await?.keep_history {
            return Ok(None);
        }
        let ApiExchange {
            system_prompt,
            turns,
            reply,
            provenance,
        } = exchange;
        let reply = self
            .state
            .with_store_changing_tasks(move |s| {
                Ok(s.add_api_exchange(&system_prompt, &turns, &reply, provenance)?)
            })
            .await?;
        Ok(Some(reply.conversation_id))
    }

    /// The models the API offers: the installed ones, the loaded one marked active.
    pub async fn models(self) -> Result<Vec<InstalledModel>> {
        Models::new(self.state).installed().await
    }

    /// The engine of the model `id` names (see [`model_id`]), loading it first when another
    /// is loaded; the app's own chats then use it too, as only one model fits in memory.
    pub async fn engine(self, id: &str) -> Result<Arc<Engine>> {
        // The loaded model, the usual case, is answered without reading the models folder.
        if let Ok(engine) = self.state.ready_engine()
            && Path::new(&engine.info().path)
                .file_stem()
                .is_some_and(|stem| stem.to_string_lossy() == id)
        {
            return Ok(engine);
        }
        let models = self.models().await?;
        let Some(model) = models.iter().find(|m| model_id(m) == id) else {
            return Err(Error::ApiModel(ModelRefusal::Unknown {
                requested: id.to_owned(),
                available: models.iter().map(model_id).collect(),
            }));
        };
        if model.memory_fit == MemoryFit::TooLarge {
            return Err(Error::ApiModel(ModelRefusal::TooLarge {
                model: id.to_owned(),
                needed: model.memory_needed,
                total: crate::installed::SystemMemory::read().map_or(0, |m| m.total),
            }));
        }
        if let Some(reason) = &model.problem {
            return Err(Error::ApiModel(ModelRefusal::Unusable {
                model: id.to_owned(),
                reason: reason.clone(),
            }));
        }
        let area = Models::new(self.state);
        if !model.active {
            area.select(PathBuf::from(&model.path)).await?;
        }
        match area.wait_for_load().await {
            ModelStatus::Ready { .. } => self.state.ready_engine(),
            ModelStatus::Unavailable { error } => Err(Error::ApiModel(ModelRefusal::Unusable {
                model: id.to_owned(),
                reason: error.message,
            })),
            ModelStatus::Loading { .. } => Err(Error::ModelLoading),
        }
    }
}

/// The id the API gives an installed model: its file name without `.gguf`, which stays the
/// same whatever the file's own metadata says.
pub fn model_id(model: &InstalledModel) -> String {
    let path = std::path::Path::new(&model.path);
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| model.name.clone())
}

/// A fresh key: 32 random bytes, hex, after a prefix that tells what it is.
fn new_key() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("oa-sk-{hex}")
}
