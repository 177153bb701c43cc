//! Support for tests of this and other crates (feature `testing`): where the reference models are.

use std::path::PathBuf;

use crate::DEFAULT_MODEL_FILE;

/// The default model the tests chat with: `OA_MODEL` if set, else the checkout's `models/`
/// folder, where `cargo xtask setup` puts it.
///
/// # Panics
/// When the file is missing, with the command that fetches it: a test without its model must
/// fail loudly, never pass by skipping.
pub fn default_model() -> PathBuf {
    let path = std::env::var_os("OA_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../models")
                .join(DEFAULT_MODEL_FILE)
        });
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask setup` first",
        path.display()
    );
    path
}
