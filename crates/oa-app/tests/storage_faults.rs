//! A full disk and a read-only data folder, made real: the data folder is a small tmpfs mounted
//! in a private mount namespace (`unshare`), so the test needs no privileges on the host and
//! touches no other mount. The test re-runs itself inside that namespace.

use std::path::{Path, PathBuf};
use std::process::Command;

use oa_app::{App, AppConfig};
use oa_types::{AppError, ErrorCode, ModelStatus, SamplerParams, SendMessage};

/// Set in the re-run: the mounted data folder.
const CHILD_ENV: &str = "OA_STORAGE_FAULT_DIR";

fn send(text: &str, conversation: Option<oa_types::Uuid>) -> SendMessage {
    let sampler = SamplerParams {
        max_tokens: 4,
        ..Default::default()
    };
    SendMessage {
        conversation_id: conversation,
        text: text.into(),
        sampler: Some(sampler),
        edit_of: None,
        settings: None,
    }
}

/// Runs `test` (this file's test of that name) again inside a mount namespace where a 2 MiB
/// tmpfs is mounted on a fresh folder.
fn run_in_small_tmpfs(test: &str) {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = format!(
        "mount -t tmpfs -o size=2m oa-test {dir} && exec \"$0\" --exact {test} --nocapture",
        dir = dir.path().display()
    );
    let out = Command::new("unshare")
        .args(["--map-root-user", "--mount", "sh", "-c", &script])
        .arg(&exe)
        .env(CHILD_ENV, dir.path())
        .env("OA_MODEL", oa_engine::testing::default_model())
        .output()
        .expect("unshare (util-linux) runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the test inside the namespace failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn child_dir() -> Option<PathBuf> {
    std::env::var_os(CHILD_ENV).map(PathBuf::from)
}

async fn open_ready(dir: &Path) -> App {
    let app = App::open(AppConfig::new(
        dir.to_owned(),
        Some(oa_engine::testing::default_model()),
    ))
    .unwrap();
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_clear_error_and_loses_nothing() {
    let Some(dir) = child_dir() else {
        return run_in_small_tmpfs("a_full_disk_is_a_clear_error_and_loses_nothing");
    };
    let app = open_ready(&dir).await;
    let first = app
        .chat()
        .send(send("Hello there", None), |_| true)
        .await
        .unwrap();

    // Fill the rest of the disk.
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![7u8; 64 * 1024];
    while std::io::Write::write_all(&mut file, &block).is_ok() {}
    drop(file);

    let mut error = None;
    for i in 0..200 {
        let text = format!("message {i} {}", "x".repeat(4000));
        if let Err(e) = app
            .chat()
            .send(send(&text, Some(first.conversation_id)), |_| true)
            .await
        {
            error = Some(AppError::from(e));
            break;
        }
    }
    let error = error.expect("writing to a full disk fails");
    assert_eq!(error.code, ErrorCode::Storage, "{error:?}");
    assert!(error.message.contains("disk is full"), "{}", error.message);
    assert!(error.message.contains("nothing saved earlier was lost"));
    drop(app);

    std::fs::remove_file(&filler).unwrap();
    let app = open_ready(&dir).await;
    let detail = app.chat().open(first.conversation_id).await.unwrap();
    assert_eq!(detail.messages[0].text, "Hello there");
    assert_eq!(
        detail.messages[1], first,
        "the reply saved before the disk filled is intact"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_data_folder_is_a_clear_error_and_loses_nothing() {
    let Some(dir) = child_dir() else {
        return run_in_small_tmpfs("a_read_only_data_folder_is_a_clear_error_and_loses_nothing");
    };
    let app = open_ready(&dir).await;
    let first = app
        .chat()
        .send(send("Hello there", None), |_| true)
        .await
        .unwrap();
    drop(app);

    // The next start finds its data folder read-only (a disk mounted read-only, say). The app
    // still starts, and says what is wrong wherever the data is needed.
    remount(&dir, "ro");
    let app = open_ready(&dir).await;
    let error = app.storage_error().await.expect("a storage error");
    assert_eq!(error.code, ErrorCode::Storage, "{error:?}");
    assert!(error.message.contains("read-only"), "{}", error.message);
    let listed: AppError = app.chat().list().await.unwrap_err().into();
    assert_eq!(listed, error);
    let sent: AppError = app
        .chat()
        .send(send("Are you there?", None), |_| true)
        .await
        .unwrap_err()
        .into();
    assert_eq!(sent, error);

    // Once the folder is writable again, the same running app finds everything saved before.
    remount(&dir, "rw");
    assert_eq!(app.storage_error().await, None);
    let detail = app.chat().open(first.conversation_id).await.unwrap();
    assert_eq!(detail.messages.len(), 2);
    assert_eq!(detail.messages[1], first);
}

fn remount(dir: &Path, mode: &str) {
    let status = Command::new("mount")
        .args(["-o", &format!("remount,{mode}")])
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "remount {mode}");
}
