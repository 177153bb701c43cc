//! The model file's sha256 (its identity in contributions), remembered by the file's identity
//! — canonical path, size, modification time and inode — in a small JSON file in the user's
//! cache folder, so that a model opened again is not read whole again: hashing takes a tenth
//! of a second for a 100 MB model on two cores, and seconds for the multi-gigabyte ones, on
//! every start. A model file changed in place gets a new size or modification time and is
//! hashed afresh; anything wrong with the cache (missing, unreadable, not JSON) only means
//! hashing again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::gguf::file_error;

/// Files remembered at most; the oldest entries go first.
const REMEMBERED: usize = 64;

/// The cache file in the user's cache folder, if the system has one.
pub(crate) fn default_cache() -> Option<PathBuf> {
    dirs::cache_dir().map(|dir| dir.join("open-assistant").join("model-hashes.json"))
}

/// sha256 of the file at `path` as lowercase hex: from `cache` when it remembers this very
/// file, else read and then remembered there.
pub(crate) fn sha256(path: &Path, cache: Option<&Path>) -> Result<String> {
    let identity = identity(path);
    let mut remembered = cache.map(read).unwrap_or_default();
    if let Some(hit) = identity.as_ref().and_then(|id| remembered.get(id)) {
        return Ok(hit.sha256.clone());
    }
    let sha256 = oa_stdx::fs::sha256_file(path).map_err(|e| file_error(path, e))?;
    if let (Some(cache), Some(identity)) = (cache, identity) {
        let order = remembered.values().map(|e| e.order).max().unwrap_or(0) + 1;
        remembered.insert(
            identity,
            Entry {
                sha256: sha256.clone(),
                order,
            },
        );
        while remembered.len() > REMEMBERED {
            let oldest = remembered
                .iter()
                .min_by_key(|(_, e)| e.order)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                remembered.remove(&oldest);
            }
        }
        if let Err(e) = write(cache, &remembered) {
            tracing::debug!(error = %e, "the model hash cache was not written");
        }
    }
    Ok(sha256)
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    sha256: String,
    /// When it was remembered, relative to the others.
    order: u64,
}

/// The file's identity: canonical path, size, modification time (ns) and, on Unix, inode.
fn identity(path: &Path) -> Option<String> {
    let canonical = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&canonical).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0u64;
    Some(format!(
        "{}|{}|{modified}|{inode}",
        canonical.display(),
        meta.len()
    ))
}

fn read(cache: &Path) -> BTreeMap<String, Entry> {
    std::fs::read(cache)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Replaces the cache file whole, so that a reader never sees half of it (it names the
/// person's model files, so it is theirs alone to read).
fn write(cache: &Path, remembered: &BTreeMap<String, Entry>) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(remembered).map_err(std::io::Error::other)?;
    oa_stdx::fs::write_private(cache, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_hash_is_reused_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache").join("hashes.json");
        let model = dir.path().join("m.gguf");
        std::fs::write(&model, b"first contents").unwrap();
        let first = sha256(&model, Some(&cache)).unwrap();
        assert_eq!(first, oa_stdx::fs::sha256_file(&model).unwrap());
        assert!(cache.exists(), "remembered");

        // The cache is what answers while the file is the same file: a forged entry shows it.
        let mut remembered = read(&cache);
        remembered
            .values_mut()
            .for_each(|e| e.sha256 = "remembered".into());
        write(&cache, &remembered).unwrap();
        assert_eq!(sha256(&model, Some(&cache)).unwrap(), "remembered");

        // Changed contents (a later modification time): hashed afresh.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&model, b"other contents").unwrap();
        let second = sha256(&model, Some(&cache)).unwrap();
        assert_eq!(second, oa_stdx::fs::sha256_file(&model).unwrap());
        assert_ne!(second, first);

        // A broken cache file only means hashing again, and is then replaced.
        std::fs::write(&cache, b"{ not json").unwrap();
        assert_eq!(sha256(&model, Some(&cache)).unwrap(), second);
        assert_eq!(read(&cache).len(), 1);
        // No cache at all: still the hash.
        assert_eq!(sha256(&model, None).unwrap(), second);
    }

    #[test]
    fn the_cache_keeps_only_the_latest_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("hashes.json");
        for i in 0..REMEMBERED + 5 {
            let model = dir.path().join(format!("{i}.gguf"));
            std::fs::write(&model, i.to_string()).unwrap();
            sha256(&model, Some(&cache)).unwrap();
        }
        let remembered = read(&cache);
        assert_eq!(remembered.len(), REMEMBERED);
        assert!(
            remembered.keys().all(|k| !k.contains("/0.gguf|")),
            "the oldest went first"
        );
    }
}
