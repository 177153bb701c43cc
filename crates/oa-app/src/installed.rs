//! The GGUF files on this computer that the app can offer, and whether each fits its memory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use oa_engine::gguf::GgufFile;
use oa_types::{InstalledModel, MemoryFit};

use crate::error::engine_error;

/// The computer's memory, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemMemory {
    /// Installed memory.
    pub total: u64,
    /// Memory free for a new program now (free plus reclaimable caches).
    pub available: u64,
}

impl SystemMemory {
    /// What the system reports, `None` where it does not say.
    pub fn read() -> Option<SystemMemory> {
        let mut system = sysinfo::System::new();
        system.refresh_memory_specifics(sysinfo::MemoryRefreshKind::nothing().with_ram());
        let total = system.total_memory();
        (total > 0).then(|| SystemMemory {
            total,
            available: system.available_memory(),
        })
    }

    /// Whether a model that needs `need` bytes ([`oa_engine::memory::estimate`]) fits: it
    /// fits when the memory free now holds it and it takes at most half of the computer's.
    pub fn fit(&self, need: u64) -> MemoryFit {
        if need > self.total {
            MemoryFit::TooLarge
        } else if need > self.available || need > self.total / 2 {
            MemoryFit::Tight
        } else {
            MemoryFit::Fits
        }
    }
}

/// The conversation length the fit is judged for: the model's whole context, up to this many
/// tokens (longer conversations are rare on a laptop, and the cache grows only as they do).
pub const FIT_CONTEXT: usize = 8192;

/// The GGUF files in `folders` (not their subfolders), plus `active` wherever it lives, by
/// name. Files that cannot be run are listed with the reason, so that a person who copied a
/// file in sees why it is not offered.
pub fn installed_models(
    folders: &[PathBuf],
    active: &Path,
    memory: Option<SystemMemory>,
) -> Vec<InstalledModel> {
    let mut paths: BTreeSet<PathBuf> = BTreeSet::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let is_gguf = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
            if is_gguf && path.is_file() {
                paths.insert(canonical(&path));
            }
        }
    }
    let active = canonical(active);
    if active.is_file() {
        paths.insert(active.clone());
    }
    let mut models: Vec<InstalledModel> = paths
        .into_iter()
        .map(|path| describe(&path, path == active, memory))
        .collect();
    models.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then_with(|| a.path.cmp(&b.path))
    });
    models
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Reads one file's header.
fn describe(path: &Path, active: bool, memory: Option<SystemMemory>) -> InstalledModel {
    let file_size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut model = InstalledModel {
        path: path.display().to_string(),
        name: stem,
        architecture: String::new(),
        quantization: String::new(),
        context_length: 0,
        file_size,
        memory_fit: MemoryFit::Unknown,
        memory_needed: 0,
        fit_context: 0,
        active,
        problem: None,
        removable: false,
    };
    match GgufFile::open(path) {
        Ok(gguf) => {
            model.name = gguf.display_name();
            model.architecture = gguf.architecture().unwrap_or_default().to_owned();
            model.quantization = gguf.quantization();
            model.context_length = gguf
                .context_length()
                .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
            let context = (model.context_length as usize).min(FIT_CONTEXT);
            match oa_engine::memory::estimate(&gguf, context) {
                Ok(estimate) => {
                    model.memory_needed = estimate.total();
                    model.fit_context = context as u32;
                    model.memory_fit =
                        memory.map_or(MemoryFit::Unknown, |m| m.fit(estimate.total()));
                }
                Err(e) => model.problem = Some(engine_error(e).message),
            }
        }
        Err(e) => model.problem = Some(engine_error(e).message),
    }
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    /// What Linux's `/proc/meminfo` says, in bytes: the memory as the app read it before.
    #[cfg(target_os = "linux")]
    fn meminfo() -> SystemMemory {
        let text = std::fs::read_to_string("/proc/meminfo").unwrap();
        let field = |name: &str| -> u64 {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            let kib: u64 = line[name.len()..]
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap();
            kib * 1024
        };
        SystemMemory {
            total: field("MemTotal:"),
            available: field("MemAvailable:"),
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_memory_is_what_linux_reports() {
        let read = SystemMemory::read().expect("Linux reports its memory");
        let before = meminfo();
        assert_eq!(read.total, before.total);
        // Free memory moves while other programs run: the two readings are close, not equal.
        let drift = read.available.abs_diff(before.available);
        assert!(drift < before.total / 20, "{read:?} against {before:?}");
        // So the judgement is the same for models well inside or outside the bounds.
        for need in [64 << 20, before.total + 1] {
            assert_eq!(read.fit(need), before.fit(need), "{need} bytes");
        }
    }

    #[test]
    fn the_memory_is_known_on_the_desktop_systems() {
        if cfg!(any(
            target_os = "linux",
            target_os = "macos",
            target_os = "windows"
        )) {
            let memory = SystemMemory::read().expect("the system reports its memory");
            assert!(memory.total >= 256 << 20, "{memory:?}");
            assert!(memory.available <= memory.total, "{memory:?}");
        }
    }

    #[test]
    fn a_small_model_fits_a_big_one_does_not() {
        let memory = SystemMemory {
            total: 16 * GIB,
            available: 10 * GIB,
        };
        assert_eq!(memory.fit(300 << 20), MemoryFit::Fits);
        assert_eq!(memory.fit(7 * GIB), MemoryFit::Fits);
        assert_eq!(memory.fit(9 * GIB), MemoryFit::Tight, "more than half");
        let busy = SystemMemory {
            available: 2 * GIB,
            ..memory
        };
        assert_eq!(busy.fit(3 * GIB), MemoryFit::Tight, "more than is free now");
        assert_eq!(memory.fit(40 * GIB), MemoryFit::TooLarge);
    }
}
