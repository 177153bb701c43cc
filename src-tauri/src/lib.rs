//! The desktop shell of Open Assistant: a Tauri 2 window around the Leptos UI.
//!
//! The shell is thin on purpose. Commands ([`commands`]), generated from the table in
//! `oa_types::app_commands!`, adapt the UI's calls to the use cases in `oa-app`. Tokens reach the
//! UI through a `tauri::ipc::Channel`; the model's state, the sync status and the task queue's
//! changes through events the shell pushes whenever they change. The local API's server runs in
//! the shell too ([`commands`]' `api` module), beside the window. Where the data lives and which
//! model runs is decided here, at start-up:
//! - data: `OA_DATA_DIR`, else the platform's app data folder;
//! - model: `OA_MODEL`, else `<data>/models/SmolLM2-135M-Instruct.Q4_1.gguf`.

mod commands;
mod started;

use std::path::PathBuf;
use std::sync::Arc;

use oa_app::{App, AppConfig};
use oa_types::{MODEL_STATUS_EVENT, SYNC_STATUS_EVENT, TASK_QUEUE_EVENT};
use tauri::{AppHandle, Emitter, Manager, RunEvent};

use crate::commands::ApiHost;

/// The app's identifier, which names its data folder (as in `tauri.conf.json`).
const IDENTIFIER: &str = "org.open-assistant.desktop";

/// Hands the inference thread count chosen under Settings to the compute pool, which reads
/// `CANDLE_NUM_THREADS` once. Called first in `main`; a count set in the environment wins.
pub fn apply_thread_setting() {
    if std::env::var_os("CANDLE_NUM_THREADS").is_some() {
        return;
    }
    // Where `setup` finds the data folder: Tauri's app data folder is the platform's data
    // folder joined with the identifier.
    let dir = match std::env::var_os("OA_DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => match dirs::data_dir() {
            Some(dir) => dir.join(IDENTIFIER),
            None => return,
        },
    };
    if let Some(threads) = App::startup_threads(&dir) {
        let threads = threads.to_string();
        #[allow(unsafe_code)]
        // SAFETY: `main` calls this before it starts any thread, so nothing reads the
        // environment while it changes.
        unsafe {
            std::env::set_var("CANDLE_NUM_THREADS", &threads);
            std::env::set_var("RAYON_NUM_THREADS", &threads);
        }
    }
}

/// Pushes every value a watch channel of the app takes to the UI as `event`: the model's state
/// ([`MODEL_STATUS_EVENT`]) and the task queue's change count ([`TASK_QUEUE_EVENT`]). The UI
/// reads each once at start and follows these from then on.
async fn push_changes<T: Clone + serde::Serialize>(
    mut changes: tokio::sync::watch::Receiver<T>,
    handle: AppHandle,
    event: &'static str,
) {
    while changes.changed().await.is_ok() {
        let value = changes.borrow_and_update().clone();
        if let Err(e) = handle.emit(event, value) {
            tracing::warn!(error = %e, event, "a change could not reach the window");
        }
    }
}

/// Pushes where sending stands to the UI as a [`SYNC_STATUS_EVENT`] whenever it may have
/// changed (the agent's state, the outbox, the account).
async fn push_sync_status(state: Arc<App>, handle: AppHandle) {
    let mut changes = state.sharing().changes();
    while changes.changed().await {
        match state.sharing().status().await {
            Ok(status) => {
                if let Err(e) = handle.emit(SYNC_STATUS_EVENT, status) {
                    tracing::warn!(error = %e, "the sync status could not reach the window");
                }
            }
            // The store cannot be read now; the next change tries again.
            Err(e) => tracing::info!(error = %e, "the sync status could not be read"),
        }
    }
}

/// Builds and runs the app until its window closes.
pub fn run() {
    started::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let data_dir = match std::env::var_os("OA_DATA_DIR") {
                Some(dir) => PathBuf::from(dir),
                None => app.path().app_data_dir()?,
            };
            let config = AppConfig::new(data_dir, std::env::var_os("OA_MODEL").map(PathBuf::from));
            tracing::info!(
                data = %config.data_dir.display(),
                model = %config.model_path.display(),
                "starting"
            );
            let state = Arc::new(App::open(config)?);
            // Sends what the person shares, once they sign in to a server.
            tauri::async_runtime::spawn(state.sharing().run_agent());
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(push_changes(
                state.models().changes(),
                handle.clone(),
                MODEL_STATUS_EVENT,
            ));
            tauri::async_runtime::spawn(push_changes(
                state.tasks().changes(),
                handle.clone(),
                TASK_QUEUE_EVENT,
            ));
            tauri::async_runtime::spawn(push_sync_status(state.clone(), handle));
            // Serves the local API when the person turned it on; a port taken is a problem
            // Settings shows, not a failed start.
            let api = ApiHost::default();
            tauri::async_runtime::spawn({
                let api = api.clone();
                let state = state.clone();
                async move { api.start(state).await }
            });
            app.manage(api);
            app.manage(state);
            Ok(())
        })
        .invoke_handler(commands::handler())
        .build(tauri::generate_context!());
    let app = match result {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("Open Assistant could not start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|handle, event| {
        if let RunEvent::Exit = event
            && let Some(api) = handle.try_state::<ApiHost>()
        {
            // Programs see the port close rather than an answer cut by the process's end.
            tauri::async_runtime::block_on(api.stop());
        }
    });
}
