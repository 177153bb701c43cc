//! Where the app keeps its data and which model it runs.

use std::path::PathBuf;

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
