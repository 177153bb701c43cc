//! The person's standing on the dataset server kept for offline viewing: every successful look
//! is written to `<data>/standing.json` (one entry per leaderboard window, with the account it
//! belongs to), so that when the server cannot be reached the kept copy can be shown with the
//! time it was fetched. Signing out deletes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oa_types::{Standing, Uuid};
use serde::{Deserialize, Serialize};

/// What `standing.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Kept {
    /// The account the numbers are about; a copy of another account's is never shown.
    pub(crate) account_id: Option<Uuid>,
    /// By window name.
    pub(crate) windows: BTreeMap<String, Standing>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("standing.json")
}

/// The kept copy; an unreadable one counts as none (it is only a cache).
pub(crate) fn load(data_dir: &Path) -> Kept {
    std::fs::read(path(data_dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Writes the kept copy, readable by its owner only; a failure is logged (it is only a cache).
pub(crate) fn save(data_dir: &Path, kept: &Kept) {
    let file = path(data_dir);
    let written = serde_json::to_vec(kept)
        .map_err(std::io::Error::other)
        .and_then(|json| oa_stdx::fs::write_private(&file, &json));
    if let Err(e) = written {
        tracing::warn!(error = %e, file = %file.display(), "could not keep the leaderboard");
    }
}

/// Deletes the kept copy (on signing out).
pub(crate) fn forget(data_dir: &Path) {
    let _ = std::fs::remove_file(path(data_dir));
}
