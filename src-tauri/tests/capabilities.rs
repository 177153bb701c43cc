//! The capability file grants the UI exactly the commands of the table, and of the platform's
//! own permissions only listening to the app's events. `build.rs` writes it from the table; this
//! holds the checked-in file (and the generator) to the table.

use std::collections::BTreeSet;

/// Permissions the UI holds besides its own commands.
const PLATFORM: &[&str] = &["core:event:allow-listen"];

#[test]
fn the_capability_file_grants_the_table_and_nothing_else() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/capabilities/main.json");
    let text = std::fs::read_to_string(path).expect("the capability file is readable");
    let file: serde_json::Value = serde_json::from_str(&text).expect("the capability file is JSON");
    let granted: BTreeSet<String> = file["permissions"]
        .as_array()
        .expect("the capability file lists permissions")
        .iter()
        .map(|p| p.as_str().expect("each permission is a name").to_owned())
        .collect();
    let expected: BTreeSet<String> = oa_types::COMMANDS
        .iter()
        .map(|name| format!("allow-{}", name.replace('_', "-")))
        .chain(PLATFORM.iter().map(|p| (*p).to_owned()))
        .collect();
    let missing: Vec<_> = expected.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "src-tauri/capabilities/main.json disagrees with oa_types::app_commands!: \
         missing {missing:?}, not in the table {extra:?}"
    );
}
