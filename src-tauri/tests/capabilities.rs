//! The checked-in capability file grants the UI exactly the commands of the table, and of the
//! platform's own permissions only listening to the app's events (`capability.rs`, which
//! `build.rs` writes the file from).

use std::collections::BTreeSet;

#[path = "../capability.rs"]
mod capability;

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
    let expected: BTreeSet<String> = capability::permissions().into_iter().collect();
    let missing: Vec<_> = expected.difference(&granted).collect();
    let extra: Vec<_> = granted.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "src-tauri/capabilities/main.json disagrees with oa_types::app_commands!: \
         missing {missing:?}, not in the table {extra:?}"
    );
}
