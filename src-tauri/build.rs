//! Generates the Tauri context and one permission per app command, named by the command table
//! (`oa_types::COMMANDS`), so that the capability file can grant the UI exactly the commands it
//! calls.

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(oa_types::COMMANDS));
    if let Err(e) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero with a message.
        eprintln!("tauri build step failed: {e:#}");
        std::process::exit(1);
    }
}
