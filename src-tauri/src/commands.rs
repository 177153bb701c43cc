//! Tauri commands: thin adapters from the UI's calls to `oa-app` use cases.
//!
//! Every command returns `oa_types::AppError` on failure, which reaches the UI as
//! `{ code, message }` with a message written for the user.

use std::sync::Arc;

use oa_app::App;
use oa_types::{
    AppError, ChatEvent, ConversationDetail, ConversationSummary, ModelStatus, SendMessage, Uuid,
};
use tauri::State;
use tauri::ipc::Channel;

type AppState<'a> = State<'a, Arc<App>>;

/// Whether the model is loading, ready or unavailable.
#[tauri::command]
pub(crate) fn model_status(app: AppState<'_>) -> ModelStatus {
    app.model_status()
}

/// Conversations, newest first.
#[tauri::command]
pub(crate) async fn list_conversations(
    app: AppState<'_>,
) -> Result<Vec<ConversationSummary>, AppError> {
    Ok(app.list_conversations().await?)
}

/// One conversation with its current path.
#[tauri::command]
pub(crate) async fn open_conversation(
    app: AppState<'_>,
    id: Uuid,
) -> Result<ConversationDetail, AppError> {
    Ok(app.open_conversation(id).await?)
}

/// Sends a prompt; the reply streams through `on_event` and the call returns when it is stored.
#[tauri::command]
pub(crate) async fn send_message(
    app: AppState<'_>,
    request: SendMessage,
    on_event: Channel<ChatEvent>,
) -> Result<(), AppError> {
    let app = app.inner().clone();
    app.send_message(request, move |event| on_event.send(event).is_ok())
        .await?;
    Ok(())
}
