//! Tauri commands: thin adapters from the UI's calls to `oa-app` use cases.
//!
//! Every command returns `oa_types::AppError` on failure, which reaches the UI as
//! `{ code, message }` with a message written for the user.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use oa_app::App;
use oa_types::{
    AccountStatus, AppError, AppSettings, CatalogEntry, ChatEvent, CompareSet,
    ConversationListEntry, ConversationSettings, ConversationTreePath, DeviceSupport,
    DownloadEvent, InstalledModel, Labels, LeaderboardWindow, LinkAccount, Message,
    MessageFeedback, ModelStatus, Ranking, Regenerate, ReviewGroup, SamplerParams, SearchHit,
    SendMessage, Standing, SyncStatus, TaskAnswer, TaskQueue, Thumbs, Uuid,
};
use tauri::State;
use tauri::ipc::Channel;

type AppState<'a> = State<'a, Arc<App>>;

/// Most search hits the UI shows at once.
const SEARCH_LIMIT: usize = 50;

/// Whether the model is loading, ready or unavailable.
#[tauri::command]
pub(crate) fn model_status(app: AppState<'_>) -> ModelStatus {
    app.models().status()
}

/// Conversations, pinned first, then the most recently changed.
#[tauri::command]
pub(crate) async fn list_conversations(
    app: AppState<'_>,
) -> Result<Vec<ConversationListEntry>, AppError> {
    Ok(app.chat().list_entries().await?)
}

/// One conversation's current path, with each message's place among its versions.
#[tauri::command]
pub(crate) async fn open_conversation(
    app: AppState<'_>,
    id: Uuid,
) -> Result<ConversationTreePath, AppError> {
    Ok(app.chat().path(id).await?)
}

/// Shows another version of a message (and what followed it when last viewed).
#[tauri::command]
pub(crate) async fn switch_branch(
    app: AppState<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
) -> Result<ConversationTreePath, AppError> {
    Ok(app
        .chat()
        .switch_branch(conversation_id, message_id)
        .await?)
}

/// Shows the version `step` places before or after a message among its siblings.
#[tauri::command]
pub(crate) async fn step_version(
    app: AppState<'_>,
    conversation_id: Uuid,
    message_id: Uuid,
    step: i32,
) -> Result<ConversationTreePath, AppError> {
    Ok(app
        .chat()
        .step_version(conversation_id, message_id, step)
        .await?)
}

/// Renames a conversation.
#[tauri::command]
pub(crate) async fn rename_conversation(
    app: AppState<'_>,
    id: Uuid,
    title: String,
) -> Result<(), AppError> {
    Ok(app.chat().rename(id, title).await?)
}

/// Pins or unpins a conversation.
#[tauri::command]
pub(crate) async fn set_pinned(app: AppState<'_>, id: Uuid, pinned: bool) -> Result<(), AppError> {
    Ok(app.chat().set_pinned(id, pinned).await?)
}

/// Deletes a conversation (the UI offers undo before it calls this).
#[tauri::command]
pub(crate) async fn delete_conversation(app: AppState<'_>, id: Uuid) -> Result<(), AppError> {
    Ok(app.chat().delete(id).await?)
}

/// Messages of every conversation matching what was typed.
#[tauri::command]
pub(crate) async fn search(app: AppState<'_>, query: String) -> Result<Vec<SearchHit>, AppError> {
    Ok(app.chat().search(query, SEARCH_LIMIT).await?)
}

/// Sends a prompt (or an edited version of one); the reply's tokens stream through `on_event`
/// and the call answers with the stored reply.
#[tauri::command]
pub(crate) async fn send_message(
    app: AppState<'_>,
    request: SendMessage,
    on_event: Channel<ChatEvent>,
) -> Result<Message, AppError> {
    let app = app.inner().clone();
    let mut stream = ReplyStream::new(on_event);
    let reply = app
        .chat()
        .send(request, |event| stream.forward(event))
        .await;
    stream.answered(reply)
}

/// Answers a prompt again; streams and answers like `send_message`.
#[tauri::command]
pub(crate) async fn regenerate(
    app: AppState<'_>,
    request: Regenerate,
    on_event: Channel<ChatEvent>,
) -> Result<Message, AppError> {
    let app = app.inner().clone();
    let mut stream = ReplyStream::new(on_event);
    let reply = app
        .chat()
        .regenerate(request, |event| stream.forward(event))
        .await;
    stream.answered(reply)
}

/// The channel a reply streams through. It carries the stored prompt and the tokens; the end
/// (the stored reply or the error) is the command's own answer, so the UI needs no event to
/// know that a reply is complete.
struct ReplyStream {
    channel: Channel<ChatEvent>,
    /// When the last token went out, to log how long storing the reply took after it.
    last_token: Option<Instant>,
    /// When the app reported the reply stored, to log how long the answer took after it.
    stored: Option<Instant>,
}

impl ReplyStream {
    fn new(channel: Channel<ChatEvent>) -> Self {
        ReplyStream {
            channel,
            last_token: None,
            stored: None,
        }
    }

    /// Passes an event on; `false` once the UI no longer listens.
    fn forward(&mut self, event: ChatEvent) -> bool {
        match event {
            ChatEvent::Finished { .. } => {
                self.stored = Some(Instant::now());
                true
            }
            ChatEvent::Failed { .. } => true,
            ChatEvent::Token(_) => {
                self.last_token = Some(Instant::now());
                self.channel.send(event).is_ok()
            }
            ChatEvent::Started { .. } => self.channel.send(event).is_ok(),
        }
    }

    /// The command's answer; logs the time to it from the last token (the engine's last step
    /// and the store's write included) and from the reply being stored (the app's
    /// `reply stored after the engine finished` line gives the time before that).
    fn answered(self, reply: oa_app::Result<Message>) -> Result<Message, AppError> {
        let ms = |at: Option<Instant>| at.map(|at| at.elapsed().as_secs_f64() * 1000.0);
        if let (Ok(reply), Some(last)) = (&reply, ms(self.last_token)) {
            tracing::info!(
                ms = format_args!("{last:.1}"),
                after_stored_ms = format_args!("{:.2}", ms(self.stored).unwrap_or(0.0)),
                reply = %reply.id,
                "reply stored"
            );
        }
        Ok(reply?)
    }
}

/// Records a thumbs vote on a message; answers with its feedback now.
#[tauri::command]
pub(crate) async fn rate(
    app: AppState<'_>,
    message_id: Uuid,
    thumbs: Thumbs,
) -> Result<MessageFeedback, AppError> {
    Ok(app.feedback().rate(message_id, thumbs).await?)
}

/// Records Open-Assistant labels on a message; answers with its feedback now.
#[tauri::command]
pub(crate) async fn set_labels(
    app: AppState<'_>,
    message_id: Uuid,
    labels: Labels,
) -> Result<MessageFeedback, AppError> {
    Ok(app.feedback().set_labels(message_id, labels).await?)
}

/// Everything recorded for sharing, with exact payloads and the personal data found in them.
#[tauri::command]
pub(crate) async fn review_queue(app: AppState<'_>) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().review_queue().await?)
}

/// Replaces the personal data in what one item sends.
#[tauri::command]
pub(crate) async fn redact_event(
    app: AppState<'_>,
    id: Uuid,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().redact_event(id).await?)
}

/// Marks a finding as not personal data, wherever its text is found as that kind.
#[tauri::command]
pub(crate) async fn dismiss_finding(
    app: AppState<'_>,
    kind: String,
    text: String,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().dismiss_finding(kind, text).await?)
}

/// Takes back a finding dismissed as not personal.
#[tauri::command]
pub(crate) async fn restore_finding(
    app: AppState<'_>,
    kind: String,
    text: String,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().restore_finding(kind, text).await?)
}

/// Queues one item to be sent.
#[tauri::command]
pub(crate) async fn share_event(app: AppState<'_>, id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().share_event(id).await?)
}

/// Takes one queued item back.
#[tauri::command]
pub(crate) async fn unshare_event(
    app: AppState<'_>,
    id: Uuid,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().unshare_event(id).await?)
}

/// Queues every private item of a conversation.
#[tauri::command]
pub(crate) async fn share_conversation(
    app: AppState<'_>,
    conversation_id: Uuid,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().share_conversation(conversation_id).await?)
}

/// Takes every queued item of a conversation back.
#[tauri::command]
pub(crate) async fn unshare_conversation(
    app: AppState<'_>,
    conversation_id: Uuid,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().unshare_conversation(conversation_id).await?)
}

/// Withdraws an item the server may hold: a retraction is sent for it.
#[tauri::command]
pub(crate) async fn withdraw_event(
    app: AppState<'_>,
    id: Uuid,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().withdraw_event(id).await?)
}

/// Withdraws every item of a conversation the server may hold.
#[tauri::command]
pub(crate) async fn withdraw_conversation(
    app: AppState<'_>,
    conversation_id: Uuid,
) -> Result<Vec<ReviewGroup>, AppError> {
    Ok(app.sharing().withdraw_conversation(conversation_id).await?)
}

/// The local task queue and progress.
#[tauri::command]
pub(crate) async fn task_queue(
    app: AppState<'_>,
    tz_offset_minutes: i32,
) -> Result<TaskQueue, AppError> {
    Ok(app.tasks().queue(tz_offset_minutes).await?)
}

/// Puts a task aside.
#[tauri::command]
pub(crate) async fn skip_task(
    app: AppState<'_>,
    key: String,
    tz_offset_minutes: i32,
) -> Result<TaskQueue, AppError> {
    Ok(app.tasks().skip(key, tz_offset_minutes).await?)
}

/// Keeps a task's answer.
#[tauri::command]
pub(crate) async fn complete_task(
    app: AppState<'_>,
    answer: TaskAnswer,
    tz_offset_minutes: i32,
) -> Result<TaskQueue, AppError> {
    Ok(app.tasks().complete(answer, tz_offset_minutes).await?)
}

/// Leases tasks from the dataset server for offline work.
#[tauri::command]
pub(crate) async fn lease_tasks(
    app: AppState<'_>,
    count: u32,
    tz_offset_minutes: i32,
) -> Result<TaskQueue, AppError> {
    Ok(app.tasks().lease(count, tz_offset_minutes).await?)
}

/// Keeps the answer to a leased task, queued for sending.
#[tauri::command]
pub(crate) async fn complete_leased_task(
    app: AppState<'_>,
    task_id: Uuid,
    answer: TaskAnswer,
    tz_offset_minutes: i32,
) -> Result<TaskQueue, AppError> {
    Ok(app
        .tasks()
        .complete_leased(task_id, answer, tz_offset_minutes)
        .await?)
}

/// The leaderboard and the person's standing, or the copy kept for offline viewing.
#[tauri::command]
pub(crate) async fn standing(
    app: AppState<'_>,
    window: LeaderboardWindow,
) -> Result<Standing, AppError> {
    Ok(app.account().standing(window).await?)
}

/// A prompt with its replies and their ranking.
#[tauri::command]
pub(crate) async fn compare_set(
    app: AppState<'_>,
    prompt_id: Uuid,
) -> Result<CompareSet, AppError> {
    Ok(app.feedback().compare_set(prompt_id).await?)
}

/// Ranks a prompt's replies.
#[tauri::command]
pub(crate) async fn rank_replies(
    app: AppState<'_>,
    prompt_id: Uuid,
    ranking: Ranking,
) -> Result<CompareSet, AppError> {
    Ok(app.feedback().rank(prompt_id, ranking).await?)
}

/// The feedback currently on a message.
#[tauri::command]
pub(crate) async fn feedback(
    app: AppState<'_>,
    message_id: Uuid,
) -> Result<MessageFeedback, AppError> {
    Ok(app.feedback().get(message_id).await?)
}

/// Keeps the person's better answer beside the model's; answers with the path now shown.
#[tauri::command]
pub(crate) async fn correct_reply(
    app: AppState<'_>,
    conversation_id: Uuid,
    corrected: Uuid,
    text: String,
) -> Result<ConversationTreePath, AppError> {
    app.feedback()
        .correct(conversation_id, corrected, text)
        .await?;
    Ok(app.chat().path(conversation_id).await?)
}

/// Stops the reply being generated, keeping what it wrote.
#[tauri::command]
pub(crate) fn stop_generation(app: AppState<'_>) -> bool {
    app.chat().stop()
}

/// A conversation's system prompt and sampler.
#[tauri::command]
pub(crate) async fn conversation_settings(
    app: AppState<'_>,
    id: Uuid,
) -> Result<ConversationSettings, AppError> {
    Ok(app.chat().settings(id).await?)
}

/// Keeps a conversation's system prompt and sampler.
#[tauri::command]
pub(crate) async fn set_conversation_settings(
    app: AppState<'_>,
    id: Uuid,
    settings: ConversationSettings,
) -> Result<(), AppError> {
    Ok(app.chat().set_settings(id, settings).await?)
}

/// The sampler a reply gets when the person chose none, for the model in use.
#[tauri::command]
pub(crate) async fn default_sampler(app: AppState<'_>) -> Result<SamplerParams, AppError> {
    Ok(app.models().default_sampler().await)
}

/// Makes a sampler the loaded model's defaults, or with `None` goes back to the app's.
#[tauri::command]
pub(crate) async fn set_model_sampler(
    app: AppState<'_>,
    sampler: Option<SamplerParams>,
) -> Result<(), AppError> {
    Ok(app.models().set_default_sampler(sampler).await?)
}

/// The dataset server this device is linked to, and as whom.
#[tauri::command]
pub(crate) fn account(app: AppState<'_>) -> Result<AccountStatus, AppError> {
    Ok(app.account().status()?)
}

/// Signs this device in to a dataset server (creating the account when asked).
#[tauri::command]
pub(crate) async fn link_account(
    app: AppState<'_>,
    link: LinkAccount,
) -> Result<AccountStatus, AppError> {
    Ok(app.account().link(link).await?)
}

/// Revokes this device's token on the server and forgets it.
#[tauri::command]
pub(crate) async fn log_out(app: AppState<'_>) -> Result<AccountStatus, AppError> {
    Ok(app.account().log_out().await?)
}

/// Where sending shared contributions stands.
#[tauri::command]
pub(crate) async fn sync_status(app: AppState<'_>) -> Result<SyncStatus, AppError> {
    Ok(app.sharing().status().await?)
}

/// Asks the sync agent to send now.
#[tauri::command]
pub(crate) fn sync_soon(app: AppState<'_>) {
    app.sharing().sync_soon();
}

/// What models can run on: CPU threads, and the GPU when the build and computer have one.
#[tauri::command]
pub(crate) fn devices(app: AppState<'_>) -> DeviceSupport {
    app.settings().devices()
}

/// The app's settings.
#[tauri::command]
pub(crate) async fn app_settings(app: AppState<'_>) -> Result<AppSettings, AppError> {
    Ok(app.settings().get().await?)
}

/// Keeps the app's settings.
#[tauri::command]
pub(crate) async fn set_app_settings(
    app: AppState<'_>,
    settings: AppSettings,
) -> Result<(), AppError> {
    Ok(app.settings().set(settings).await?)
}

/// The models on this computer.
#[tauri::command]
pub(crate) async fn installed_models(app: AppState<'_>) -> Result<Vec<InstalledModel>, AppError> {
    Ok(app.models().installed().await?)
}

/// The folder where the person puts model files.
#[tauri::command]
pub(crate) fn models_folder(app: AppState<'_>) -> String {
    app.models().folder().display().to_string()
}

/// Starts loading another model.
#[tauri::command]
pub(crate) async fn select_model(
    app: AppState<'_>,
    path: PathBuf,
) -> Result<ModelStatus, AppError> {
    Ok(app.models().select(path).await?)
}

/// The models the app offers to download, with their state here.
#[tauri::command]
pub(crate) fn catalog(app: AppState<'_>) -> Vec<CatalogEntry> {
    app.models().catalog()
}

/// Starts downloading a catalog model; its progress streams through `on_event`.
#[tauri::command]
pub(crate) fn download_model(
    app: AppState<'_>,
    id: String,
    on_event: Channel<DownloadEvent>,
) -> Result<(), AppError> {
    app.models().download(&id, move |event| {
        let _ = on_event.send(event);
    })?;
    Ok(())
}

/// Pauses a download, keeping what was fetched; `false` when it was not running.
#[tauri::command]
pub(crate) fn pause_download(app: AppState<'_>, id: String) -> bool {
    app.models().stop_download(&id, false)
}

/// Cancels a download, removing what was fetched; `false` when it was not running.
#[tauri::command]
pub(crate) fn cancel_download(app: AppState<'_>, id: String) -> bool {
    app.models().stop_download(&id, true)
}

/// Asks the person for a GGUF file with the system's open-file dialog; `None` when they
/// cancel. The file is imported by [`import_model`], which checks it.
#[tauri::command]
pub(crate) async fn pick_model_file(window: tauri::Window) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    window
        .dialog()
        .file()
        .set_parent(&window)
        .set_title("Add a GGUF model")
        .add_filter("GGUF model", &["gguf"])
        .pick_file(move |chosen| {
            let _ = tx.send(chosen.and_then(|p| p.into_path().ok()));
        });
    rx.await
        .ok()
        .flatten()
        .map(|path| path.display().to_string())
}

/// Copies a GGUF file into the models folder after checking it; answers with its new path.
#[tauri::command]
pub(crate) async fn import_model(app: AppState<'_>, path: PathBuf) -> Result<String, AppError> {
    Ok(app.models().import(path).await?.display().to_string())
}

/// Deletes a model file from the models folder.
#[tauri::command]
pub(crate) async fn remove_model(app: AppState<'_>, path: PathBuf) -> Result<(), AppError> {
    Ok(app.models().remove(path).await?)
}

/// The UI painted its first frame: logs how long the start took (`cargo xtask bench` reads it).
#[tauri::command]
pub(crate) fn first_paint() {
    let ms = crate::STARTED
        .get()
        .map_or(0, |started| started.elapsed().as_millis());
    tracing::info!(ms, "first paint");
}
