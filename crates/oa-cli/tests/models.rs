//! `oa models`: import checks a file before it is listed, a truncated one is refused in words,
//! rm deletes, and pull downloads from a server that answers like the Hugging Face Hub.

#[path = "../../oa-app/tests/hub/mod.rs"]
mod hub;

use std::path::Path;
use std::process::{Command, Output};

fn oa(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oa"))
        .arg("models")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("HF_ENDPOINT")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn import_refuses_a_truncated_file_lists_a_good_one_and_rm_removes_it() {
    let data = tempfile::tempdir().unwrap();
    let model = oa_engine::testing::default_model();
    let bytes = std::fs::read(&model).unwrap();
    let truncated = data.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();

    let out = oa(data.path(), &["import", truncated.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("truncated"), "{err}");
    assert!(!data.path().join("models/truncated.gguf").exists());

    let out = oa(data.path(), &["import", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = oa(data.path(), &["list", "--json"]);
    let installed: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter_map(|v| v.get("installed").cloned())
        .collect();
    assert_eq!(installed.len(), 1);
    assert_eq!(installed[0]["architecture"], "llama");
    assert_eq!(installed[0]["quantization"], "Q4_1");
    let catalog = text(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"catalog\""))
        .count();
    assert!(catalog >= 10, "{catalog} catalog lines");

    let name = model.file_name().unwrap().to_str().unwrap();
    let out = oa(data.path(), &["rm", name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!data.path().join("models").join(name).exists());
    let out = oa(data.path(), &["rm", name]);
    assert!(!out.status.success(), "removing twice is an error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_downloads_from_the_hub_with_progress() {
    let hub = hub::LocalHub::start().await;
    let model = oa_engine::testing::default_model();
    let file = model.file_name().unwrap().to_str().unwrap().to_owned();
    hub.serve(
        "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
        &file,
        std::fs::read(&model).unwrap(),
    );
    let data = tempfile::tempdir().unwrap();
    let target = format!("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/{file}");
    let endpoint = hub.endpoint();
    let dir = data.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_oa"))
            .args(["models", "pull", &target, "--data-dir"])
            .arg(&dir)
            .env("HF_ENDPOINT", endpoint)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Downloading 93 MB"), "{err}");
    assert!(err.contains("checksum"), "{err}");
    assert_eq!(
        std::fs::read(data.path().join("models").join(&file))
            .unwrap()
            .len(),
        std::fs::metadata(&model).unwrap().len() as usize
    );
    // An unknown catalog id names the ones there are.
    let out = oa(data.path(), &["pull", "no-such-model"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("qwen2.5-0.5b"),
        "{}",
        text(&out.stderr)
    );
}
