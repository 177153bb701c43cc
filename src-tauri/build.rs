//! Generates the Tauri context and one permission per app command, so that the capability file
//! can grant the UI exactly the commands it calls.

fn main() {
    let commands = &[
        "model_status",
        "list_conversations",
        "open_conversation",
        "switch_branch",
        "step_version",
        "rename_conversation",
        "set_pinned",
        "delete_conversation",
        "search",
        "send_message",
        "regenerate",
        "stop_generation",
        "rate",
        "feedback",
        "set_labels",
        "correct_reply",
        "conversation_settings",
        "set_conversation_settings",
        "default_sampler",
        "set_model_sampler",
        "devices",
        "pick_model_file",
        "account",
        "link_account",
        "log_out",
        "sync_status",
        "sync_soon",
        "app_settings",
        "set_app_settings",
        "installed_models",
        "models_folder",
        "select_model",
        "first_paint",
        "review_queue",
        "redact_event",
        "dismiss_finding",
        "restore_finding",
        "share_event",
        "unshare_event",
        "share_conversation",
        "unshare_conversation",
        "withdraw_event",
        "withdraw_conversation",
        "task_queue",
        "skip_task",
        "complete_task",
        "lease_tasks",
        "complete_leased_task",
        "standing",
        "compare_set",
        "rank_replies",
        "catalog",
        "download_model",
        "pause_download",
        "cancel_download",
        "import_model",
        "remove_model",
    ];
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero with a message.
        eprintln!("tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}
