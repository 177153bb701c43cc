//! `oa chat` as a person uses it: lines in, streamed replies out.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn model_path() -> PathBuf {
    oa_engine::testing::default_model()
}

fn oa_chat(model: &PathBuf, data: &std::path::Path, input: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oa"))
        .args([
            "chat",
            "--temperature",
            "0",
            "--max-tokens",
            "16",
            "--model",
        ])
        .arg(model)
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn chat_answers_each_line() {
    let data = tempfile::tempdir().unwrap();
    let out = oa_chat(&model_path(), data.path(), "Say hello in Spanish.\n\n");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Hola"), "{stdout}");
    assert!(data.path().join("open-assistant.sqlite3").exists());
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let out = oa_chat(&PathBuf::from("/nowhere/model.gguf"), data.path(), "hi\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("No model file at /nowhere/model.gguf"),
        "{stderr}"
    );
}
