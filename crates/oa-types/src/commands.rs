//! The desktop app's commands, declared once: each line names a command, its arguments, the
//! events it streams, its answer and the use case that serves it.
//!
//! [`app_commands!`](crate::app_commands) hands the table to another macro, which turns it into
//! what its side needs: the shell's adapters and handler list, the UI's typed client, the
//! permission names ([`COMMANDS`]). The shell checks its capability file against [`COMMANDS`] in
//! a test. Adding a command is one line here plus its use case in `oa-app`.
//!
//! A line reads `name(arg: Type, …; stream Event) -> Answer => use case;`:
//! - the arguments travel as a JSON object with camelCase keys;
//! - `; stream Event` (optional) adds a channel named `on_event` that carries `Event`s while the
//!   command runs;
//! - the answer is `Result<Answer, AppError>` on both sides;
//! - the use case is an expression only the shell reads: it may name `app` (the `oa_app::App`),
//!   `caller` (the calling `tauri::Window`), `on_event` and the arguments, and ends in `?` when it
//!   can fail. Items named in it resolve in the shell's `commands` module.

/// Calls `$callback! { [app, caller, on_event] <the table> }`; see the [module](self) for the
/// grammar.
#[macro_export]
macro_rules! app_commands {
    ($callback:ident) => {
        $callback! {
            [app, caller, on_event]

            /// The model's state: loading, ready, or unavailable with the reason.
            model_status() -> $crate::ModelStatus => app.models().status();
            /// Conversations, pinned first, then the most recently changed.
            list_conversations() -> Vec<$crate::ConversationListEntry>
                => app.chat().list_entries().await?;
            /// One conversation's current path, with each message's place among its versions.
            open_conversation(id: $crate::Uuid) -> $crate::ConversationTreePath
                => app.chat().path(id).await?;
            /// Shows another version of a message (and what followed it when last viewed).
            switch_branch(conversation_id: $crate::Uuid, message_id: $crate::Uuid)
                -> $crate::ConversationTreePath
                => app.chat().switch_branch(conversation_id, message_id).await?;
            /// Shows the version `step` places before or after a message among its siblings.
            step_version(conversation_id: $crate::Uuid, message_id: $crate::Uuid, step: i32)
                -> $crate::ConversationTreePath
                => app.chat().step_version(conversation_id, message_id, step).await?;
            /// Renames a conversation.
            rename_conversation(id: $crate::Uuid, title: String) -> ()
                => app.chat().rename(id, title).await?;
            /// Pins or unpins a conversation.
            set_pinned(id: $crate::Uuid, pinned: bool) -> () => app.chat().set_pinned(id, pinned).await?;
            /// Deletes a conversation with everything in it.
            delete_conversation(id: $crate::Uuid) -> () => app.chat().delete(id).await?;
            /// Conversations and messages matching a query, best first.
            search(query: String) -> Vec<$crate::SearchHit>
                => app.chat().search(query, SEARCH_LIMIT).await?;
            /// Sends a prompt (or an edited version of one); the stored prompt and the reply's
            /// tokens stream through `on_event`, and the call answers with the stored reply.
            send_message(request: $crate::SendMessage; stream $crate::ChatEvent) -> $crate::Message
                => reply::send(&app, request, on_event).await?;
            /// Answers a prompt again; streams and answers like `send_message`.
            regenerate(request: $crate::Regenerate; stream $crate::ChatEvent) -> $crate::Message
                => reply::regenerate(&app, request, on_event).await?;
            /// Stops the reply being generated, keeping what it wrote; `false` when none was.
            stop_generation() -> bool => app.chat().stop();
            /// Records a thumbs vote on a message; answers with its feedback now.
            rate(message_id: $crate::Uuid, thumbs: $crate::Thumbs) -> $crate::MessageFeedback
                => app.feedback().rate(message_id, thumbs).await?;
            /// The feedback currently on a message.
            feedback(message_id: $crate::Uuid) -> $crate::MessageFeedback
                => app.feedback().get(message_id).await?;
            /// Records Open-Assistant labels on a message; answers with its feedback now.
            set_labels(message_id: $crate::Uuid, labels: $crate::Labels) -> $crate::MessageFeedback
                => app.feedback().set_labels(message_id, labels).await?;
            /// Keeps the person's better answer beside the model's; answers with the path now
            /// shown.
            correct_reply(conversation_id: $crate::Uuid, corrected: $crate::Uuid, text: String)
                -> $crate::ConversationTreePath
                => {
                    app.feedback().correct(conversation_id, corrected, text).await?;
                    app.chat().path(conversation_id).await?
                };
            /// A conversation's system prompt and sampler.
            conversation_settings(id: $crate::Uuid) -> $crate::ConversationSettings
                => app.chat().settings(id).await?;
            /// Keeps a conversation's system prompt and sampler.
            set_conversation_settings(id: $crate::Uuid, settings: $crate::ConversationSettings)
                -> () => app.chat().set_settings(id, settings).await?;
            /// The sampler a reply gets when the person chose none, for the model in use.
            default_sampler() -> $crate::SamplerParams => app.models().default_sampler().await;
            /// Makes a sampler the loaded model's defaults, or with `None` goes back to the app's.
            set_model_sampler(sampler: Option<$crate::SamplerParams>) -> ()
                => app.models().set_default_sampler(sampler).await?;
            /// What models can run on: CPU threads, and the GPU when the build and computer
            /// have one.
            devices() -> $crate::DeviceSupport => app.settings().devices();
            /// Asks the person for a GGUF file with the system's open-file dialog; `None` when
            /// they cancel. The file is imported by `import_model`, which checks it.
            pick_model_file() -> Option<String> => dialogs::pick_model_file(&caller).await;
            /// The dataset server this device is linked to, and as whom.
            account() -> $crate::AccountStatus => app.account().status()?;
            /// Signs this device in to a dataset server (creating the account when asked).
            link_account(link: $crate::LinkAccount) -> $crate::AccountStatus
                => app.account().link(link).await?;
            /// Revokes this device's token on the server and forgets it.
            log_out() -> $crate::AccountStatus => app.account().log_out().await?;
            /// Where sending shared contributions stands.
            sync_status() -> $crate::SyncStatus => app.sharing().status().await?;
            /// Asks the sync agent to send now.
            sync_soon() -> () => app.sharing().sync_soon();
            /// The folder that holds the person's conversations, settings and models.
            data_folder() -> String => app.settings().data_folder().display().to_string();
            /// The app's settings.
            app_settings() -> $crate::AppSettings => app.settings().get().await?;
            /// Keeps the app's settings.
            set_app_settings(settings: $crate::AppSettings) -> ()
                => app.settings().set(settings).await?;
            /// The models on this computer.
            installed_models() -> Vec<$crate::InstalledModel> => app.models().installed().await?;
            /// The folder where the person puts model files.
            models_folder() -> String => app.models().folder().display().to_string();
            /// Starts loading another model.
            select_model(path: String) -> $crate::ModelStatus => app.models().select(path.into()).await?;
            /// The UI painted its first frame: the app logs how long the start took
            /// (`cargo xtask bench` reads it).
            first_paint() -> () => started::log_first_paint();
            /// Everything recorded for sharing, with exact payloads and the personal data found
            /// in them.
            review_queue() -> Vec<$crate::ReviewGroup> => app.sharing().review_queue().await?;
            /// Replaces the personal data in what one item sends.
            redact_event(id: $crate::Uuid) -> Vec<$crate::ReviewGroup> => app.sharing().redact_event(id).await?;
            /// Marks a finding as not personal data, wherever its text is found as that kind.
            dismiss_finding(kind: String, text: String) -> Vec<$crate::ReviewGroup>
                => app.sharing().dismiss_finding(kind, text).await?;
            /// Takes back a finding dismissed as not personal.
            restore_finding(kind: String, text: String) -> Vec<$crate::ReviewGroup>
                => app.sharing().restore_finding(kind, text).await?;
            /// Queues one item to be sent.
            share_event(id: $crate::Uuid) -> Vec<$crate::ReviewGroup> => app.sharing().share_event(id).await?;
            /// Takes one queued item back.
            unshare_event(id: $crate::Uuid) -> Vec<$crate::ReviewGroup>
                => app.sharing().unshare_event(id).await?;
            /// Queues every private item of a conversation.
            share_conversation(conversation_id: $crate::Uuid) -> Vec<$crate::ReviewGroup>
                => app.sharing().share_conversation(conversation_id).await?;
            /// Takes every queued item of a conversation back.
            unshare_conversation(conversation_id: $crate::Uuid) -> Vec<$crate::ReviewGroup>
                => app.sharing().unshare_conversation(conversation_id).await?;
            /// Withdraws an item the server may hold: a retraction is sent for it.
            withdraw_event(id: $crate::Uuid) -> Vec<$crate::ReviewGroup>
                => app.sharing().withdraw_event(id).await?;
            /// Withdraws every item of a conversation the server may hold.
            withdraw_conversation(conversation_id: $crate::Uuid) -> Vec<$crate::ReviewGroup>
                => app.sharing().withdraw_conversation(conversation_id).await?;
            /// The local task queue and progress.
            task_queue(tz_offset_minutes: i32) -> $crate::TaskQueue
                => app.tasks().queue(tz_offset_minutes).await?;
            /// Puts a task aside.
            skip_task(key: String, tz_offset_minutes: i32) -> $crate::TaskQueue
                => app.tasks().skip(key, tz_offset_minutes).await?;
            /// Keeps a task's answer.
            complete_task(answer: $crate::TaskAnswer, tz_offset_minutes: i32) -> $crate::TaskQueue
                => app.tasks().complete(answer, tz_offset_minutes).await?;
            /// Leases tasks from the dataset server for offline work.
            lease_tasks(count: u32, tz_offset_minutes: i32) -> $crate::TaskQueue
                => app.tasks().lease(count, tz_offset_minutes).await?;
            /// Keeps the answer to a leased task, queued for sending.
            complete_leased_task(
                task_id: $crate::Uuid,
                answer: $crate::TaskAnswer,
                tz_offset_minutes: i32
            ) -> $crate::TaskQueue
                => app.tasks().complete_leased(task_id, answer, tz_offset_minutes).await?;
            /// The leaderboard and the person's standing, or the copy kept for offline viewing.
            standing(window: $crate::LeaderboardWindow) -> $crate::Standing
                => app.account().standing(window).await?;
            /// A prompt with its replies and their ranking.
            compare_set(prompt_id: $crate::Uuid) -> $crate::CompareSet
                => app.feedback().compare_set(prompt_id).await?;
            /// Ranks a prompt's replies.
            rank_replies(prompt_id: $crate::Uuid, ranking: $crate::Ranking) -> $crate::CompareSet
                => app.feedback().rank(prompt_id, ranking).await?;
            /// The models the app offers to download, with their state here.
            catalog() -> Vec<$crate::CatalogEntry> => app.models().catalog();
            /// Starts downloading a catalog model; its progress streams through `on_event`.
            download_model(id: String; stream $crate::DownloadEvent) -> ()
                => app.models().download(&id, move |event| { let _ = on_event.send(event); })?;
            /// Pauses a download, keeping what was fetched; `false` when it was not running.
            pause_download(id: String) -> bool => app.models().stop_download(&id, false);
            /// Cancels a download, removing what was fetched; `false` when it was not running.
            cancel_download(id: String) -> bool => app.models().stop_download(&id, true);
            /// Copies a GGUF file into the models folder after checking it; answers with its new
            /// path.
            import_model(path: String) -> String
                => app.models().import(path.into()).await?.display().to_string();
            /// Deletes a model file from the models folder.
            remove_model(path: String) -> () => app.models().remove(path.into()).await?;
            /// The local API: its settings, the address it serves or why it cannot.
            api_status() -> $crate::ApiStatus => api::status(&app, &caller).await?;
            /// Keeps the local API's settings, then starts, stops or restarts it as they say.
            set_api_settings(settings: $crate::ApiSettings) -> $crate::ApiStatus
                => api::set_settings(&app, &caller, settings).await?;
            /// Gives the local API a new key and restarts it, so that the old key is refused.
            regenerate_api_key() -> $crate::ApiStatus => api::regenerate_key(&app, &caller).await?;
        }
    };
}

/// Collects the command names of the table into a slice.
macro_rules! command_names {
    (
        [$app:ident, $caller:ident, $on_event:ident]
        $(
            $(#[$doc:meta])*
            $name:ident($($arg:ident: $ty:ty),* $(,)? $(; stream $event:ty)?) -> $answer:ty
                => $use_case:expr;
        )*
    ) => {
        &[$(stringify!($name)),*]
    };
}

/// Every command's name, as the UI invokes it; the shell grants the UI `allow-<name>` (with `_`
/// as `-`) for each, and nothing else of its own.
pub const COMMANDS: &[&str] = app_commands!(command_names);

#[cfg(test)]
mod tests {
    use super::COMMANDS;

    #[test]
    fn every_command_is_named_once() {
        let mut names = COMMANDS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMANDS.len(), "a command is declared twice");
        assert!(COMMANDS.contains(&"send_message"));
    }
}
