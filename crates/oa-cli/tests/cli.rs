//! `oa chat` as a person uses it: lines in, streamed replies out.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn model_path() -> PathBuf {
    oa_engine::testing::default_model()
}

/// Runs `oa chat` with `args`, typing `input`; `data` is the data folder (`--data-dir`), or
/// `None` for the default one under `XDG_DATA_HOME` = `xdg`.
fn run_chat(args: &[&str], data: Data<'_>, input: &str) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oa"));
    command.arg("chat").args(args).env_remove("OA_DATA_DIR");
    match data {
        Data::Dir(dir) => command.arg("--data-dir").arg(dir),
        Data::Default { xdg } => command.env("XDG_DATA_HOME", xdg),
    };
    let mut child = command
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

/// Where `oa chat` keeps its conversations in a test.
enum Data<'a> {
    Dir(&'a std::path::Path),
    Default { xdg: &'a std::path::Path },
}

fn oa_chat(model: &std::path::Path, data: &std::path::Path, input: &str) -> std::process::Output {
    let model = model.to_str().unwrap();
    let args = ["--temperature", "0", "--max-tokens", "16", "--model", model];
    run_chat(&args, Data::Dir(data), input)
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
    let model = model_path();
    let run = |seed: &str| {
        let args = [
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
            model.to_str().unwrap(),
        ];
        let out = run_chat(
            &args,
            Data::Default { xdg: home.path() },
            "Write one sentence about the sea.\n\n",
        );
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

#[test]
fn privacy_scan_prints_each_finding_as_a_json_line_with_byte_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.txt");
    let text = "Grüße — write to ana@example.org or call +44 20 7946 0958.\n";
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oa"))
        .args(["privacy", "scan"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, (kind, found)) in lines
        .iter()
        .zip([("email", "ana@example.org"), ("phone", "+44 20 7946 0958")])
    {
        assert_eq!(line["kind"], kind);
        assert_eq!(line["text"], found);
        let (start, end) = (
            line["start"].as_u64().unwrap() as usize,
            line["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&text[start..end], found, "byte offsets");
    }

    // A file that is not text is refused with the reason.
    std::fs::write(&file, [0x66, 0x6f, 0xff, 0x6f]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oa"))
        .args(["privacy", "scan"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not UTF-8") && err.contains("offset 2"),
        "{err}"
    );
}
