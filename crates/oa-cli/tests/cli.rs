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

#[test]
fn without_a_data_folder_it_uses_the_desktop_apps_and_takes_every_sampler_flag() {
    let home = tempfile::tempdir().unwrap();
    let run = |seed: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_oa"))
            .args([
                "chat",
                "--temperature",
                "0.9",
                "--top-p",
                "0.8",
                "--top-k",
                "20",
                "--repeat-penalty",
                "1.2",
                "--repeat-last-n",
                "32",
                "--max-tokens",
                "12",
                "--seed",
                seed,
                "--model",
            ])
            .arg(model_path())
            .env_remove("OA_DATA_DIR")
            .env("XDG_DATA_HOME", home.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Write one sentence about the sea.\n\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run("11");
    assert!(!first.trim().is_empty());
    assert!(
        home.path()
            .join("org.open-assistant.desktop/open-assistant.sqlite3")
            .exists(),
        "the conversation is stored where the desktop app looks"
    );
    assert_eq!(run("11"), first, "same seed, same reply");
}
