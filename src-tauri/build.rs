//! Generates the Tauri context and one permission per app command, so that the capability file
//! can grant the UI exactly the commands it calls.

fn main() {
    let commands = &[
        "model_status",
        "list_conversations",
        "open_conversation",
        "send_message",
    ];
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(commands));
    if let Err(e) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero with a message.
        eprintln!("tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}
