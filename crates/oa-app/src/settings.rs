//! The app's own settings (theme, welcome, device, inference threads, each model's sampler
//! defaults), kept in the local database, and the devices a model can run on.

use std::path::Path;
use std::sync::Arc;

use oa_store::Store;
use oa_types::{AppSettings, DeviceSupport};

use crate::config::AppConfig;
use crate::error::capitalize;
use crate::state::{APP_SETTING, State};
use crate::{Error, Result};

/// The settings area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    state: &'a Arc<State>,
}

impl<'a> Settings<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Settings<'a> {
        Settings { state }
    }

    /// The app's settings (theme, whether the welcome was seen).
    pub async fn get(self) -> Result<AppSettings> {
        self.state
            .with_store(|s| Ok(s.app_setting(APP_SETTING)?.unwrap_or_default()))
            .await
    }

    /// Keeps the app's settings. A new device choice reloads the model on it; a new thread
    /// count takes effect when the app next starts ([`crate::App::startup_threads`]).
    pub async fn set(self, settings: AppSettings) -> Result<()> {
        if let Some(problem) = settings.problem() {
            return Err(Error::Store(oa_store::StoreError::InvalidInput(problem)));
        }
        let device = settings.device;
        let before = self
            .state
            .with_store(move |s| {
                let before: AppSettings = s.app_setting(APP_SETTING)?.unwrap_or_default();
                s.set_app_setting(APP_SETTING, &settings)?;
                Ok(before)
            })
            .await?;
        if before.device != device {
            self.state.start_loading(self.state.model_path(), false)?;
        }
        Ok(())
    }

    /// The folder that holds the person's data: the database, the settings and the models.
    pub fn data_folder(self) -> &'a Path {
        &self.state.config.data_dir
    }

    /// What models can run on: the build's GPU backend, the GPU found, the threads in use.
    pub fn devices(self) -> DeviceSupport {
        let gpu = self.state.gpu.get_or_init(|| {
            oa_engine::device::gpu()
                .map(|d| oa_engine::device::describe(&d))
                .map_err(|e| capitalize(&e.to_string()))
        });
        let model_on_gpu = self.state.ready_engine().is_ok_and(|e| e.on_gpu());
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
}

/// The inference thread count chosen under Settings, read from `data_dir`'s database; `None`
/// when it is left to the default or cannot be read.
pub(crate) fn startup_threads(data_dir: &Path) -> Option<u32> {
    let config = AppConfig::new(data_dir.to_owned(), None);
    if !config.database_path().is_file() {
        return None;
    }
    let store = Store::open(&config.database_path()).ok()?;
    let settings: AppSettings = store.app_setting(APP_SETTING).ok()??;
    settings.threads
}
