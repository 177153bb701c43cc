//! Every call from the UI into the desktop app goes through this module.
//!
//! The app exposes its commands through `window.__TAURI__.core` (`withGlobalTauri` is on), so no
//! JavaScript package is bundled: `invoke` sends a command and `Channel` carries the stream of a
//! reply back. Values cross the boundary as plain JS objects in the wire format of `oa-types`, and
//! every failure, whatever its origin, comes back as an [`AppError`] whose message the UI can show.

use oa_types::{
    AccountStatus, AppError, AppSettings, CatalogEntry, ChatEvent, CompareSet,
    ConversationListEntry, ConversationSettings, ConversationTreePath, DeviceSupport,
    DownloadEvent, ErrorCode, InstalledModel, Labels, LeaderboardWindow, LinkAccount, Message,
    MessageFeedback, ModelStatus, Ranking, Regenerate, ReviewGroup, SamplerParams, SearchHit,
    SendMessage, Standing, SyncStatus, TaskAnswer, TaskQueue, Thumbs, Uuid,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `window.__TAURI__.core.invoke(cmd, args)`: a promise of the command's value that rejects
    /// with its error (an `AppError` object for this app's commands). Declared as returning the
    /// promise, not as `async`, so that a synchronous throw (no bridge) is an `Err` too.
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    fn tauri_invoke_promise(cmd: &str, args: JsValue) -> Result<js_sys::Promise, JsValue>;

    /// `window.__TAURI__.core.Channel`: the app pushes messages into it while a command runs.
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"])]
    type Channel;

    #[wasm_bindgen(catch, constructor, js_namespace = ["window", "__TAURI__", "core"])]
    fn new() -> Result<Channel, JsValue>;

    #[wasm_bindgen(method, setter)]
    fn set_onmessage(this: &Channel, handler: &JsValue);

    /// `window.__TAURI__.event.listen(event, handler)`: a promise that resolves once the
    /// handler is registered.
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "event"], js_name = listen)]
    fn tauri_listen_promise(event: &str, handler: &JsValue) -> Result<js_sys::Promise, JsValue>;
}

/// Arguments of the commands that name one conversation.
#[derive(Serialize)]
struct IdArgs {
    id: Uuid,
}

/// Arguments of the commands that name a finding of personal data by its kind and text.
#[derive(Serialize)]
struct FindingArgs<'a> {
    kind: &'a str,
    text: &'a str,
}

/// Arguments of `switch_branch` (Tauri maps camelCase keys to the command's parameters).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BranchArgs {
    conversation_id: Uuid,
    message_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StepArgs {
    conversation_id: Uuid,
    message_id: Uuid,
    step: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RateArgs<'a> {
    message_id: Uuid,
    thumbs: &'a Thumbs,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LabelArgs<'a> {
    message_id: Uuid,
    labels: &'a Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageArgs {
    message_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CorrectArgs<'a> {
    conversation_id: Uuid,
    corrected: Uuid,
    text: &'a str,
}

#[derive(Serialize)]
struct RenameArgs<'a> {
    id: Uuid,
    title: &'a str,
}

#[derive(Serialize)]
struct PinArgs {
    id: Uuid,
    pinned: bool,
}

#[derive(Serialize)]
struct SearchArgs<'a> {
    query: &'a str,
}

#[derive(Serialize)]
struct SettingsArgs<'a> {
    id: Uuid,
    settings: &'a ConversationSettings,
}

#[derive(Serialize)]
struct ModelSamplerArgs<'a> {
    sampler: Option<&'a SamplerParams>,
}

#[derive(Serialize)]
struct AppSettingsArgs<'a> {
    settings: &'a AppSettings,
}

#[derive(Serialize)]
struct ModelArgs<'a> {
    path: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConversationArgs {
    conversation_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskQueueArgs {
    tz_offset_minutes: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SkipArgs<'a> {
    key: &'a str,
    tz_offset_minutes: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AnswerArgs<'a> {
    answer: &'a TaskAnswer,
    tz_offset_minutes: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeasedAnswerArgs<'a> {
    task_id: Uuid,
    answer: &'a TaskAnswer,
    tz_offset_minutes: i32,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeaseArgs {
    count: u32,
    tz_offset_minutes: i32,
}

#[derive(Serialize)]
struct WindowArgs {
    window: LeaderboardWindow,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PromptArgs {
    prompt_id: Uuid,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RankArgs<'a> {
    prompt_id: Uuid,
    ranking: &'a Ranking,
}

/// The model's state: loading, ready, or unavailable with the reason.
pub async fn model_status() -> Result<ModelStatus, AppError> {
    call("model_status", JsValue::UNDEFINED).await
}

/// Every stored conversation: pinned first, then the most recently changed.
pub async fn list_conversations() -> Result<Vec<ConversationListEntry>, AppError> {
    call("list_conversations", JsValue::UNDEFINED).await
}

/// One conversation's current path, root first, with each message's place among its versions.
pub async fn open_conversation(id: Uuid) -> Result<ConversationTreePath, AppError> {
    call("open_conversation", to_js(&IdArgs { id })?).await
}

/// Shows another version of a message; answers with the new path.
pub async fn switch_branch(
    conversation_id: Uuid,
    message_id: Uuid,
) -> Result<ConversationTreePath, AppError> {
    let args = BranchArgs {
        conversation_id,
        message_id,
    };
    call("switch_branch", to_js(&args)?).await
}

/// Shows the version `step` places before or after a message among its siblings.
pub async fn step_version(
    conversation_id: Uuid,
    message_id: Uuid,
    step: i32,
) -> Result<ConversationTreePath, AppError> {
    let args = StepArgs {
        conversation_id,
        message_id,
        step,
    };
    call("step_version", to_js(&args)?).await
}

/// Renames a conversation.
pub async fn rename_conversation(id: Uuid, title: &str) -> Result<(), AppError> {
    call("rename_conversation", to_js(&RenameArgs { id, title })?).await
}

/// Pins or unpins a conversation.
pub async fn set_pinned(id: Uuid, pinned: bool) -> Result<(), AppError> {
    call("set_pinned", to_js(&PinArgs { id, pinned })?).await
}

/// Deletes a conversation.
pub async fn delete_conversation(id: Uuid) -> Result<(), AppError> {
    call("delete_conversation", to_js(&IdArgs { id })?).await
}

/// Messages of every conversation that match `query`, most relevant first.
pub async fn search(query: &str) -> Result<Vec<SearchHit>, AppError> {
    call("search", to_js(&SearchArgs { query })?).await
}

/// Records a thumbs vote on a message; answers with its feedback now.
pub async fn rate(message_id: Uuid, thumbs: &Thumbs) -> Result<MessageFeedback, AppError> {
    call("rate", to_js(&RateArgs { message_id, thumbs })?).await
}

/// Records Open-Assistant labels on a message; answers with its feedback now.
pub async fn set_labels(message_id: Uuid, labels: &Labels) -> Result<MessageFeedback, AppError> {
    call("set_labels", to_js(&LabelArgs { message_id, labels })?).await
}

/// The feedback currently on a message.
pub async fn feedback(message_id: Uuid) -> Result<MessageFeedback, AppError> {
    call("feedback", to_js(&MessageArgs { message_id })?).await
}

/// Keeps the person's better answer beside the model's reply `corrected`.
pub async fn correct_reply(
    conversation_id: Uuid,
    corrected: Uuid,
    text: &str,
) -> Result<ConversationTreePath, AppError> {
    let args = CorrectArgs {
        conversation_id,
        corrected,
        text,
    };
    call("correct_reply", to_js(&args)?).await
}

/// Stops the reply being generated; `true` when there was one.
pub async fn stop_generation() -> Result<bool, AppError> {
    call("stop_generation", JsValue::UNDEFINED).await
}

/// A conversation's system prompt and sampler.
pub async fn conversation_settings(id: Uuid) -> Result<ConversationSettings, AppError> {
    call("conversation_settings", to_js(&IdArgs { id })?).await
}

/// Keeps a conversation's system prompt and sampler.
pub async fn set_conversation_settings(
    id: Uuid,
    settings: &ConversationSettings,
) -> Result<(), AppError> {
    call(
        "set_conversation_settings",
        to_js(&SettingsArgs { id, settings })?,
    )
    .await
}

/// The sampler replies get when the person chose none.
pub async fn default_sampler() -> Result<SamplerParams, AppError> {
    call("default_sampler", JsValue::UNDEFINED).await
}

/// Makes `sampler` the loaded model's defaults for new conversations (`None`: the app's).
pub async fn set_model_sampler(sampler: Option<&SamplerParams>) -> Result<(), AppError> {
    call("set_model_sampler", to_js(&ModelSamplerArgs { sampler })?).await
}

/// Asks for a GGUF file with the system's file dialog; `None` when the person cancels.
pub async fn pick_model_file() -> Result<Option<String>, AppError> {
    call("pick_model_file", JsValue::UNDEFINED).await
}

/// The dataset server this device is linked to.
pub async fn account() -> Result<AccountStatus, AppError> {
    call("account", JsValue::UNDEFINED).await
}

#[derive(Serialize)]
struct LinkArgs<'a> {
    link: &'a LinkAccount,
}

/// Signs this device in to a dataset server.
pub async fn link_account(link: &LinkAccount) -> Result<AccountStatus, AppError> {
    call("link_account", to_js(&LinkArgs { link })?).await
}

/// Revokes this device's token and forgets it.
pub async fn log_out() -> Result<AccountStatus, AppError> {
    call("log_out", JsValue::UNDEFINED).await
}

/// Where sending shared contributions stands.
pub async fn sync_status() -> Result<SyncStatus, AppError> {
    call("sync_status", JsValue::UNDEFINED).await
}

/// Asks the sync agent to send now.
pub async fn sync_soon() -> Result<(), AppError> {
    call("sync_soon", JsValue::UNDEFINED).await
}

/// What models can run on here.
pub async fn devices() -> Result<DeviceSupport, AppError> {
    call("devices", JsValue::UNDEFINED).await
}

/// The app's settings.
pub async fn app_settings() -> Result<AppSettings, AppError> {
    call("app_settings", JsValue::UNDEFINED).await
}

/// Keeps the app's settings.
pub async fn set_app_settings(settings: &AppSettings) -> Result<(), AppError> {
    call("set_app_settings", to_js(&AppSettingsArgs { settings })?).await
}

/// The models on this computer.
pub async fn installed_models() -> Result<Vec<InstalledModel>, AppError> {
    call("installed_models", JsValue::UNDEFINED).await
}

/// The folder where the person puts model files.
pub async fn models_folder() -> Result<String, AppError> {
    call("models_folder", JsValue::UNDEFINED).await
}

/// Starts loading another model.
pub async fn select_model(path: &str) -> Result<ModelStatus, AppError> {
    call("select_model", to_js(&ModelArgs { path })?).await
}

/// Tells the app the first frame of the UI is on screen (it logs its start-up time).
pub async fn first_paint() -> Result<(), AppError> {
    call("first_paint", JsValue::UNDEFINED).await
}

/// Everything recorded for sharing, grouped by conversation, with each item's exact payload
/// and the personal data found in it.
pub async fn review_queue() -> Result<Vec<ReviewGroup>, AppError> {
    call("review_queue", JsValue::UNDEFINED).await
}

/// Replaces the personal data found in one item's payload before it is shared.
pub async fn redact_event(id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    call("redact_event", to_js(&IdArgs { id })?).await
}

/// Marks a finding as not personal data: it is no longer marked or redacted, here or wherever
/// its text is found as that kind.
pub async fn dismiss_finding(kind: &str, text: &str) -> Result<Vec<ReviewGroup>, AppError> {
    call("dismiss_finding", to_js(&FindingArgs { kind, text })?).await
}

/// Takes back a finding dismissed as not personal: it is marked again.
pub async fn restore_finding(kind: &str, text: &str) -> Result<Vec<ReviewGroup>, AppError> {
    call("restore_finding", to_js(&FindingArgs { kind, text })?).await
}

/// Queues one item to be sent.
pub async fn share_event(id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    call("share_event", to_js(&IdArgs { id })?).await
}

/// Takes one queued item back: it stays on this computer.
pub async fn unshare_event(id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    call("unshare_event", to_js(&IdArgs { id })?).await
}

/// Queues every private item of a conversation.
pub async fn share_conversation(conversation_id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    call(
        "share_conversation",
        to_js(&ConversationArgs { conversation_id })?,
    )
    .await
}

/// Withdraws an item the server may hold: a retraction is sent for it.
pub async fn withdraw_event(id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    call("withdraw_event", to_js(&IdArgs { id })?).await
}

/// Withdraws every item of a conversation the server may hold.
pub async fn withdraw_conversation(conversation_id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    call(
        "withdraw_conversation",
        to_js(&ConversationArgs { conversation_id })?,
    )
    .await
}

/// Takes every queued item of a conversation back.
pub async fn unshare_conversation(conversation_id: Uuid) -> Result<Vec<ReviewGroup>, AppError> {
    call(
        "unshare_conversation",
        to_js(&ConversationArgs { conversation_id })?,
    )
    .await
}

/// Minutes to add to local time to get UTC (what days and streaks are counted in).
fn tz_offset_minutes() -> i32 {
    js_sys::Date::new_0().get_timezone_offset() as i32
}

/// The tasks made from the person's history, and their progress.
pub async fn task_queue() -> Result<TaskQueue, AppError> {
    let args = TaskQueueArgs {
        tz_offset_minutes: tz_offset_minutes(),
    };
    call("task_queue", to_js(&args)?).await
}

/// Puts a task aside.
pub async fn skip_task(key: &str) -> Result<TaskQueue, AppError> {
    let args = SkipArgs {
        key,
        tz_offset_minutes: tz_offset_minutes(),
    };
    call("skip_task", to_js(&args)?).await
}

/// Keeps a task's answer.
pub async fn complete_task(answer: &TaskAnswer) -> Result<TaskQueue, AppError> {
    let args = AnswerArgs {
        answer,
        tz_offset_minutes: tz_offset_minutes(),
    };
    call("complete_task", to_js(&args)?).await
}

/// Leases `count` tasks from the dataset server for offline work.
pub async fn lease_tasks(count: u32) -> Result<TaskQueue, AppError> {
    let args = LeaseArgs {
        count,
        tz_offset_minutes: tz_offset_minutes(),
    };
    call("lease_tasks", to_js(&args)?).await
}

/// Keeps the answer to a leased task; it is sent as the task's result.
pub async fn complete_leased_task(
    task_id: Uuid,
    answer: &TaskAnswer,
) -> Result<TaskQueue, AppError> {
    let args = LeasedAnswerArgs {
        task_id,
        answer,
        tz_offset_minutes: tz_offset_minutes(),
    };
    call("complete_leased_task", to_js(&args)?).await
}

/// The leaderboard of `window` and the person's standing (possibly the kept copy).
pub async fn standing(window: LeaderboardWindow) -> Result<Standing, AppError> {
    call("standing", to_js(&WindowArgs { window })?).await
}

/// A prompt with all its replies and their ranking, if there is one.
pub async fn compare_set(prompt_id: Uuid) -> Result<CompareSet, AppError> {
    call("compare_set", to_js(&PromptArgs { prompt_id })?).await
}

/// Keeps a ranking of a prompt's replies (or that they cannot be ranked).
pub async fn rank_replies(prompt_id: Uuid, ranking: &Ranking) -> Result<CompareSet, AppError> {
    call("rank_replies", to_js(&RankArgs { prompt_id, ranking })?).await
}

/// The models the app offers to download, with their state here.
pub async fn catalog() -> Result<Vec<CatalogEntry>, AppError> {
    call("catalog", JsValue::UNDEFINED).await
}

#[derive(Serialize)]
struct DownloadIdArgs<'a> {
    id: &'a str,
}

/// Starts downloading a catalog model; `on_event` receives its progress until it ends.
pub async fn download_model(
    id: &str,
    on_event: impl FnMut(DownloadEvent) + 'static,
) -> Result<(), AppError> {
    let channel = channel(on_event)?;
    let args = js_sys::Object::new();
    set_field(&args, "id", &JsValue::from_str(id))?;
    set_field(&args, "onEvent", &channel)?;
    tauri_invoke("download_model", args.into())
        .await
        .map_err(from_js_error)?;
    Ok(())
}

/// Pauses a download, keeping what was fetched.
pub async fn pause_download(id: &str) -> Result<bool, AppError> {
    call("pause_download", to_js(&DownloadIdArgs { id })?).await
}

/// Cancels a download, removing what was fetched.
pub async fn cancel_download(id: &str) -> Result<bool, AppError> {
    call("cancel_download", to_js(&DownloadIdArgs { id })?).await
}

/// Copies a GGUF file into the models folder after checking it; answers with its new path.
pub async fn import_model(path: &str) -> Result<String, AppError> {
    call("import_model", to_js(&ModelArgs { path })?).await
}

/// Deletes a model file from the models folder.
pub async fn remove_model(path: &str) -> Result<(), AppError> {
    call("remove_model", to_js(&ModelArgs { path })?).await
}

/// What a streamed reply answers.
pub enum ReplyRequest<'a> {
    /// A new prompt, or an edited version of one.
    Send(&'a SendMessage),
    /// Another reply to a prompt.
    Regenerate(&'a Regenerate),
}

/// Sends a request for a reply and streams it: `on_event` receives the stored prompt and each
/// token as they arrive, and the returned future settles with the stored reply (or the error)
/// once the app has finished with the request.
///
/// The handler belongs to the JS channel from then on (it is freed when the channel is): a
/// channel message may trail the command's answer, so a caller ignores what arrives after it.
pub async fn stream_reply(
    request: ReplyRequest<'_>,
    on_event: impl FnMut(ChatEvent) + 'static,
) -> Result<Message, AppError> {
    let channel = channel(on_event)?;
    let args = js_sys::Object::new();
    let (cmd, request) = match request {
        ReplyRequest::Send(request) => ("send_message", to_js(request)?),
        ReplyRequest::Regenerate(request) => ("regenerate", to_js(request)?),
    };
    set_field(&args, "request", &request)?;
    // Tauri maps the camelCase key to the command's `on_event` parameter.
    set_field(&args, "onEvent", &channel)?;
    call(cmd, args.into()).await
}

/// Follows the app's event `event` for as long as the page lives: `on_event` receives each
/// payload. Settles once the handler is registered, so that a value read after it cannot miss
/// a change.
pub async fn listen<T: DeserializeOwned + 'static>(
    event: &str,
    mut on_event: impl FnMut(T) + 'static,
) -> Result<(), AppError> {
    let name = event.to_owned();
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |message: JsValue| {
        let payload = js_sys::Reflect::get(&message, &JsValue::from_str("payload"))
            .unwrap_or(JsValue::UNDEFINED);
        match serde_wasm_bindgen::from_value::<T>(payload) {
            Ok(value) => on_event(value),
            Err(e) => web_sys::console::error_1(&format!("unreadable {name} event: {e}").into()),
        }
    });
    // The handler stays registered for the page's life, so JS owns it from here.
    let promise = tauri_listen_promise(event, &handler.into_js_value()).map_err(from_js_error)?;
    wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(from_js_error)?;
    Ok(())
}

/// A channel the app pushes messages of type `T` into while a command runs; each goes to
/// `on_event`. The handler belongs to the JS channel from then on (it is freed when the channel
/// is), because messages may arrive after the command itself has returned.
fn channel<T: DeserializeOwned + 'static>(
    mut on_event: impl FnMut(T) + 'static,
) -> Result<Channel, AppError> {
    let channel = Channel::new().map_err(from_js_error)?;
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |message: JsValue| {
        match serde_wasm_bindgen::from_value::<T>(message) {
            Ok(event) => on_event(event),
            Err(e) => web_sys::console::error_1(&format!("unreadable event: {e}").into()),
        }
    });
    channel.set_onmessage(&handler.into_js_value());
    Ok(channel)
}

/// Runs a command and waits for its value.
async fn tauri_invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue> {
    let promise = tauri_invoke_promise(cmd, args)?;
    wasm_bindgen_futures::JsFuture::from(promise).await
}

async fn call<T: DeserializeOwned>(cmd: &str, args: JsValue) -> Result<T, AppError> {
    let value = tauri_invoke(cmd, args).await.map_err(from_js_error)?;
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        AppError::new(
            ErrorCode::Internal,
            format!("The app sent an unexpected answer to `{cmd}`: {e}"),
        )
    })
}

/// Plain JS objects (not `Map`s), as `invoke` expects.
fn to_js(value: &impl Serialize) -> Result<JsValue, AppError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| {
            AppError::new(
                ErrorCode::Internal,
                format!("Could not prepare the request: {e}"),
            )
        })
}

fn set_field(object: &js_sys::Object, key: &str, value: &JsValue) -> Result<(), AppError> {
    js_sys::Reflect::set(object, &JsValue::from_str(key), value)
        .map(drop)
        .map_err(from_js_error)
}

/// Turns whatever a call threw or rejected with into an error the user can read: the app's own
/// `{code, message}`, a bare string, or a JS `Error` (e.g. when the page runs outside the app).
fn from_js_error(value: JsValue) -> AppError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<AppError>(value.clone()) {
        return error;
    }
    if !bridge_present() {
        return AppError::new(
            ErrorCode::Internal,
            "The desktop bridge is missing: this page only works inside the Open Assistant app.",
        );
    }
    let message = value
        .as_string()
        .or_else(|| {
            js_sys::Reflect::get(&value, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "Something went wrong talking to the app.".to_owned());
    AppError::new(ErrorCode::Internal, message)
}

/// Whether `window.__TAURI__.core` exists.
fn bridge_present() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    js_sys::Reflect::get(&window, &JsValue::from_str("__TAURI__"))
        .ok()
        .filter(|tauri| tauri.is_object())
        .and_then(|tauri| js_sys::Reflect::get(&tauri, &JsValue::from_str("core")).ok())
        .is_some_and(|core| core.is_object())
}
