//! Model downloads through the real hf-hub client, from a local server that answers like the
//! Hub, with the two reference model files: a full download verifies and lands in the models
//! folder; a connection cut at 40% resumes from there after a restart; a damaged byte fails
//! verification and nothing is listed; a file larger than the free disk is refused before any
//! byte is fetched; cancelling leaves nothing behind.

mod hub;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hub::LocalHub;
use oa_app::{DownloadError, DownloadJob, HubSettings, StopKind, Stopped, start_download};
use oa_types::DownloadEvent;

const REPO: &str = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF";
const FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

fn reference(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run `cargo xtask setup` to fetch the reference models)",
            path.display()
        )
    })
}

fn job(hub: &LocalHub, data: &Path, repo: &str, file: &str) -> DownloadJob {
    DownloadJob {
        hub: HubSettings {
            endpoint: hub.endpoint(),
            chunk_bytes: 1 << 20,
            parallel: 1,
            token: None,
        },
        repo: repo.to_owned(),
        file: file.to_owned(),
        models_dir: data.join("models"),
        cache_dir: data.join("downloads"),
    }
}

/// Runs a download to its end on a blocking thread; returns its outcome and every event.
async fn download(job: DownloadJob) -> (Result<PathBuf, Stopped>, Vec<DownloadEvent>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let handle = start_download(job, move |e| sink.lock().unwrap().push(e));
    let outcome = tokio::task::spawn_blocking(move || handle.wait())
        .await
        .unwrap();
    let events = events.lock().unwrap().clone();
    (outcome, events)
}

/// Files anywhere under `dir`, relative paths.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_reference_models_download_verify_and_are_listed() {
    let hub = LocalHub::start().await;
    let data = tempfile::tempdir().unwrap();
    let gemma = "gemma-3-270m-q4_k_m.gguf";
    for (repo, file) in [(REPO, FILE), ("ggml-org/gemma-3-270m-GGUF", gemma)] {
        let bytes = reference(file);
        let size = bytes.len() as u64;
        hub.serve(repo, file, bytes);
        let (outcome, events) = download(job(&hub, data.path(), repo, file)).await;
        let path = outcome.unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert_eq!(path, data.path().join("models").join(file));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
        assert!(matches!(
            events.first(),
            Some(DownloadEvent::Started { total_bytes, resumed_from: 0 }) if *total_bytes == size
        ));
        let last_progress = events.iter().rev().find_map(|e| match e {
            DownloadEvent::Progress { done_bytes, .. } => Some(*done_bytes),
            _ => None,
        });
        assert_eq!(last_progress, Some(size), "progress reaches the whole file");
        assert!(events.contains(&DownloadEvent::Verifying));
        assert!(matches!(
            events.last(),
            Some(DownloadEvent::Finished { .. })
        ));
    }
    // The app lists both, and nothing partial is left behind.
    let listed = oa_app::installed_models(
        &[data.path().join("models")],
        Path::new("/nonexistent.gguf"),
        None,
    );
    let names: Vec<_> = listed.iter().map(|m| m.architecture.as_str()).collect();
    assert_eq!(listed.len(), 2, "{names:?}");
    assert!(
        files_under(&data.path().join("downloads"))
            .iter()
            .all(|f| !f.contains("blobs/")),
        "{:?}",
        files_under(&data.path().join("downloads"))
    );
    // A second download of the same file is refused, not repeated.
    let (outcome, _) = download(job(&hub, data.path(), REPO, FILE)).await;
    assert!(matches!(
        outcome,
        Err(Stopped::Failed(DownloadError::AlreadyInstalled(_)))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_cut_at_40_percent_resumes_there_after_a_restart() {
    let hub = LocalHub::start().await;
    let data = tempfile::tempdir().unwrap();
    let bytes = reference(FILE);
    let size = bytes.len() as u64;
    hub.serve(REPO, FILE, bytes);
    hub.cut_at(size * 2 / 5);

    let (outcome, events) = download(job(&hub, data.path(), REPO, FILE)).await;
    let first = format!("{outcome:?} after {:?}", hub.served());
    let starts: Vec<u64> = hub.served().iter().filter_map(|s| s.range_start).collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "chunks are fetched in order: {starts:?}"
    );
    assert!(
        matches!(outcome, Err(Stopped::Failed(DownloadError::Interrupted(_)))),
        "{outcome:?}"
    );
    assert!(matches!(events.last(), Some(DownloadEvent::Failed { .. })));
    assert!(files_under(&data.path().join("models")).is_empty());

    // "Restart": the Hub is back, and a new download of the same file begins.
    hub.restore();
    let before = hub.served().len();
    let (outcome, events) = download(job(&hub, data.path(), REPO, FILE)).await;
    outcome.unwrap();
    let resumed_from = match events.first() {
        Some(DownloadEvent::Started { resumed_from, .. }) => *resumed_from,
        other => panic!("{other:?}"),
    };
    let fraction = resumed_from as f64 / size as f64;
    assert!(
        (0.35..=0.40).contains(&fraction),
        "resumed from {resumed_from} of {size}; first attempt: {first}"
    );
    let first_range = hub.served()[before..]
        .iter()
        .filter_map(|s| s.range_start)
        .filter(|start| *start > 0)
        .min()
        .unwrap();
    assert_eq!(
        first_range, resumed_from,
        "nothing before it was fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_byte_fails_verification_and_nothing_is_listed() {
    let hub = LocalHub::start().await;
    let data = tempfile::tempdir().unwrap();
    hub.serve(REPO, FILE, reference(FILE));
    hub.damage_byte(REPO, FILE, 5_000_000);
    let (outcome, events) = download(job(&hub, data.path(), REPO, FILE)).await;
    assert!(
        matches!(outcome, Err(Stopped::Failed(DownloadError::Corrupt))),
        "{outcome:?}"
    );
    match events.last() {
        Some(DownloadEvent::Failed { error }) => {
            assert!(error.message.contains("damaged"), "{}", error.message)
        }
        other => panic!("{other:?}"),
    }
    assert!(files_under(&data.path().join("models")).is_empty());
    assert!(
        oa_app::installed_models(
            &[data.path().join("models")],
            Path::new("/nonexistent.gguf"),
            None
        )
        .is_empty(),
        "a damaged download is never listed"
    );
    assert!(
        files_under(&data.path().join("downloads"))
            .iter()
            .all(|f| !f.contains("blobs/")),
        "the damaged bytes were removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_larger_than_the_free_disk_is_refused_before_downloading() {
    let hub = LocalHub::start().await;
    let data = tempfile::tempdir().unwrap();
    hub.serve(REPO, FILE, reference(FILE));
    hub.claim_size(REPO, FILE, 1 << 52);
    let (outcome, events) = download(job(&hub, data.path(), REPO, FILE)).await;
    assert!(
        matches!(outcome, Err(Stopped::Failed(DownloadError::NoRoom { .. }))),
        "{outcome:?}"
    );
    match events.last() {
        Some(DownloadEvent::Failed { error }) => {
            assert!(error.message.contains("disk space"), "{}", error.message)
        }
        other => panic!("{other:?}"),
    }
    assert!(hub.served().is_empty(), "no byte of the file was asked for");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_leaves_nothing_behind_and_pausing_keeps_the_progress() {
    let hub = LocalHub::start().await;
    let data = tempfile::tempdir().unwrap();
    let bytes = reference(FILE);
    let size = bytes.len() as u64;
    hub.serve(REPO, FILE, bytes);
    hub.throttle(8 << 20);

    for kind in [StopKind::Pause, StopKind::Cancel] {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let handle = start_download(job(&hub, data.path(), REPO, FILE), move |e| {
            sink.lock().unwrap().push(e)
        });
        // Stop once some megabytes are in.
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let far = events.lock().unwrap().iter().any(|e| {
                matches!(e, DownloadEvent::Progress { done_bytes, .. } if *done_bytes > 4 << 20)
            });
            if far {
                break;
            }
        }
        handle.stop(kind);
        let waiting = handle.clone();
        let outcome = tokio::task::spawn_blocking(move || waiting.wait())
            .await
            .unwrap();
        assert!(
            matches!(outcome, Err(Stopped::Asked(k)) if k == kind),
            "{outcome:?}"
        );
        let partial = files_under(&data.path().join("downloads"))
            .into_iter()
            .filter(|f| f.ends_with(".sync.part"))
            .count();
        match kind {
            StopKind::Pause => {
                assert!(matches!(
                    events.lock().unwrap().last(),
                    Some(DownloadEvent::Paused)
                ));
                assert_eq!(partial, 1, "the fetched part is kept");
                // The catalog can say how far it got, also after a restart.
                let kept = oa_app::partial_download(&data.path().join("downloads"), REPO).unwrap();
                assert_eq!(kept.total_bytes, size);
                assert!(kept.done_bytes > 0 && kept.done_bytes < size, "{kept:?}");
            }
            StopKind::Cancel => {
                assert!(matches!(
                    events.lock().unwrap().last(),
                    Some(DownloadEvent::Cancelled)
                ));
                assert_eq!(partial, 0, "nothing is kept");
            }
        }
        assert!(files_under(&data.path().join("models")).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_whose_handle_is_dropped_still_finishes() {
    let hub = LocalHub::start().await;
    let data = tempfile::tempdir().unwrap();
    hub.serve(REPO, FILE, reference(FILE));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    drop(start_download(
        job(&hub, data.path(), REPO, FILE),
        move |e| {
            if !matches!(
                e,
                DownloadEvent::Progress { .. } | DownloadEvent::Started { .. }
            ) {
                let _ = done_tx.send(e);
            }
        },
    ));
    let ended = tokio::task::spawn_blocking(move || {
        let mut last = None;
        while let Ok(event) = done_rx.recv_timeout(std::time::Duration::from_secs(60)) {
            let end = !matches!(event, DownloadEvent::Verifying);
            last = Some(event);
            if end {
                break;
            }
        }
        last
    })
    .await
    .unwrap();
    assert!(
        matches!(ended, Some(DownloadEvent::Finished { .. })),
        "{ended:?}"
    );
    assert!(data.path().join("models").join(FILE).is_file());
}
