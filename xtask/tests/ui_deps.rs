//! The proof that the UI crate pulls no native dependency: the real `cargo tree` of `oa-ui` for
//! wasm32, checked by the same code `cargo xtask test` runs.

use std::process::Command;

#[test]
fn the_ui_dependency_tree_holds_no_native_crate() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("check-ui-deps")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains(" tree -p oa-ui --target wasm32-unknown-unknown -e normal,build"),
        "the check must run cargo tree for the UI:\n{printed}"
    );
    // `ok: none of N crates in the tree of oa-ui is native`; a real Leptos UI has dozens.
    let crates: usize = printed
        .split("ok: none of ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no summary line:\n{printed}"));
    assert!(crates > 10, "suspiciously small tree:\n{printed}");
}
