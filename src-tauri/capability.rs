//! The window's capability as the command table makes it: `build.rs` writes it to
//! `capabilities/main.json`, and `tests/capabilities.rs` holds the checked-in file to it.

/// Permissions the UI holds besides its own commands: listening to the app's events.
const PLATFORM: &[&str] = &["core:event:allow-listen"];

/// Every permission the UI holds: the platform's, then `allow-<name>` (with `_` as `-`) for
/// each command of `oa_types::app_commands!`.
pub fn permissions() -> Vec<String> {
    PLATFORM
        .iter()
        .map(|p| (*p).to_owned())
        .chain(
            oa_types::COMMANDS
                .iter()
                .map(|name| format!("allow-{}", name.replace('_', "-"))),
        )
        .collect()
}
