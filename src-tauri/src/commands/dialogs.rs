//! The system dialogs a command opens.

/// Asks the person for a GGUF file with the system's open-file dialog; `None` when they
/// cancel.
pub(super) async fn pick_model_file(window: &tauri::Window) -> Option<String> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    window
        .dialog()
        .file()
        .set_parent(window)
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
