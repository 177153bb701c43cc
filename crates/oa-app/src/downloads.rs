//! Downloading models from the Hugging Face Hub (through hf-hub), with progress, pause and
//! resume across restarts, cancel, a disk-space check before starting, and sha256 verification
//! against the Hub's LFS metadata before the file is moved into the models folder.
//!
//! hf-hub fetches the file in ranged chunks into `<cache>/models--org--name/blobs/<etag>.sync.part`
//! and records how far the contiguous part reaches, so a later start — also after the app was
//! closed — continues from there. Each download runs on a runtime of its own: pausing or
//! cancelling shuts that runtime down, which stops every chunk request at once (hf-hub spawns
//! one task per chunk). Only a verified file ever appears in the models folder, by a rename, so
//! the model list never shows half a file.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hf_hub::api::tokio::{ApiBuilder, Progress};
use hf_hub::{Cache, Repo, RepoType};
use oa_types::{AppError, CatalogModel, DownloadEvent, PartialDownload};
use tokio::sync::{mpsc, oneshot};

pub use crate::error::DownloadError;

/// The catalog shipped with the app.
const CATALOG: &str = include_str!("../../../models/catalog.toml");
/// Room kept free besides the file itself.
const DISK_MARGIN: u64 = 64 << 20;
/// hf-hub keeps, after the bytes of a partial file, how many of them are complete.
const COMMITTED_TRAILER: u64 = 8;
/// Progress is reported at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// Where models are downloaded from and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSettings {
    /// The Hub's address (`HF_ENDPOINT`, else `https://huggingface.co`).
    pub endpoint: String,
    /// Bytes per ranged request; a resumed download restarts at a chunk boundary.
    pub chunk_bytes: usize,
    /// Chunks fetched at once. hf-hub records only the contiguous part it has collected, and
    /// with several chunks in flight their order is up to the scheduler, so an interruption can
    /// leave holes that the next start fetches again; one at a time resumes exactly where the
    /// bytes stopped. One connection to the Hub's CDN is rarely the bottleneck.
    pub parallel: usize,
    /// An access token for gated repositories (`HF_TOKEN`).
    pub token: Option<String>,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            endpoint: "https://huggingface.co".to_owned(),
            chunk_bytes: 8 << 20,
            parallel: 1,
            token: None,
        }
    }
}

impl HubSettings {
    /// The defaults, with `HF_ENDPOINT` and `HF_TOKEN` from the environment.
    pub fn from_env() -> HubSettings {
        let mut settings = HubSettings::default();
        if let Ok(endpoint) = std::env::var("HF_ENDPOINT")
            && !endpoint.trim().is_empty()
        {
            settings.endpoint = endpoint.trim().trim_end_matches('/').to_owned();
        }
        settings.token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
        settings
    }
}

/// The models the app offers to download.
pub fn catalog() -> Vec<CatalogModel> {
    #[derive(serde::Deserialize)]
    struct File {
        model: Vec<CatalogModel>,
    }
    // The catalog is part of the build; `catalog_parses` in the tests keeps it valid.
    toml::from_str::<File>(CATALOG)
        .map(|f| f.model)
        .unwrap_or_default()
}

/// What one download fetches and where it goes.
#[derive(Debug, Clone)]
pub struct DownloadJob {
    /// Hub settings.
    pub hub: HubSettings,
    /// Repository, e.g. `Qwen/Qwen2.5-0.5B-Instruct-GGUF`.
    pub repo: String,
    /// File in it.
    pub file: String,
    /// The models folder: the verified file is moved here.
    pub models_dir: PathBuf,
    /// Where partial downloads are kept between attempts.
    pub cache_dir: PathBuf,
}

/// How a running download is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// Keep what was fetched, to resume later.
    Pause,
    /// Remove what was fetched.
    Cancel,
}

/// A download running on its own thread.
#[derive(Debug)]
pub struct DownloadHandle {
    stop: Mutex<Option<oneshot::Sender<StopKind>>>,
    done: Mutex<Option<std_mpsc::Receiver<Result<PathBuf, Stopped>>>>,
}

/// How a download ended without installing the model.
#[derive(Debug)]
pub enum Stopped {
    /// Paused or cancelled on request.
    Asked(StopKind),
    /// It failed.
    Failed(DownloadError),
}

impl DownloadHandle {
    /// Asks the download to stop; it ends at once.
    pub fn stop(&self, kind: StopKind) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(kind);
        }
    }

    /// Waits for the download to end (blocking): the installed file, or why not.
    pub fn wait(&self) -> Result<PathBuf, Stopped> {
        let receiver = self.done.lock().unwrap_or_else(|p| p.into_inner()).take();
        match receiver.map(|r| r.recv()) {
            Some(Ok(result)) => result,
            _ => Err(Stopped::Failed(DownloadError::Interrupted(
                "the download ended unexpectedly".into(),
            ))),
        }
    }
}

/// Starts a download on a thread of its own; `on_event` receives its progress, and last one of
/// `Finished`, `Paused`, `Cancelled` or `Failed`.
pub fn start_download(
    job: DownloadJob,
    on_event: impl FnMut(DownloadEvent) + Send + 'static,
) -> Arc<DownloadHandle> {
    let (stop_tx, stop_rx) = oneshot::channel();
    let (done_tx, done_rx) = std_mpsc::channel();
    let handle = Arc::new(DownloadHandle {
        stop: Mutex::new(Some(stop_tx)),
        done: Mutex::new(Some(done_rx)),
    });
    std::thread::Builder::new()
        .name("model-download".into())
        .spawn(move || {
            let result = run(job, stop_rx, on_event);
            let _ = done_tx.send(result);
        })
        .map_err(|e| tracing::error!("could not start a download thread: {e}"))
        .ok();
    handle
}

/// One download from start to end, on the calling thread.
fn run(
    job: DownloadJob,
    stop: oneshot::Receiver<StopKind>,
    on_event: impl FnMut(DownloadEvent) + Send + 'static,
) -> Result<PathBuf, Stopped> {
    let events = Arc::new(Mutex::new(on_event));
    let emit = {
        let events = events.clone();
        move |event: DownloadEvent| (events.lock().unwrap_or_else(|p| p.into_inner()))(event)
    };
    let outcome = fetch_and_install(&job, stop, emit.clone());
    match &outcome {
        Ok(path) => emit(DownloadEvent::Finished {
            path: path.display().to_string(),
        }),
        Err(Stopped::Asked(StopKind::Pause)) => emit(DownloadEvent::Paused),
        Err(Stopped::Asked(StopKind::Cancel)) => emit(DownloadEvent::Cancelled),
        Err(Stopped::Failed(e)) => emit(DownloadEvent::Failed {
            error: AppError::from(e.clone()),
        }),
    }
    outcome
}

fn fetch_and_install(
    job: &DownloadJob,
    stop: oneshot::Receiver<StopKind>,
    emit: impl Fn(DownloadEvent) + Clone + Send + Sync + 'static,
) -> Result<PathBuf, Stopped> {
    let failed = Stopped::Failed;
    let name = file_name(&job.file).map_err(failed)?;
    let destination = job.models_dir.join(&name);
    if destination.exists() {
        return Err(failed(DownloadError::AlreadyInstalled(name)));
    }
    std::fs::create_dir_all(&job.models_dir).map_err(|e| failed(disk(e)))?;
    std::fs::create_dir_all(&job.cache_dir).map_err(|e| failed(disk(e)))?;

    // One thread: hf-hub spawns a task per chunk and commits only the contiguous part, so the
    // chunks must start in order; on a multi-threaded runtime workers take them out of order
    // and an interruption leaves only the first few recorded.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(DownloadError::Disk(e.to_string())))?;
    let api = ApiBuilder::from_cache(Cache::new(job.cache_dir.clone()))
        .with_endpoint(job.hub.endpoint.clone())
        .with_token(job.hub.token.clone())
        .with_progress(false)
        .with_max_files(job.hub.parallel.max(1))
        .with_chunk_size(Some(job.hub.chunk_bytes.max(1 << 16)))
        .build()
        .map_err(|e| failed(DownloadError::BadAnswer(e.to_string())))?;
    let repo = Repo::new(job.repo.clone(), RepoType::Model);
    let blobs = job.cache_dir.join(repo.folder_name()).join("blobs");

    let result = runtime.block_on(async {
        let lfs = lfs_info(&api, job).await?;
        let part = blobs.join(format!("{}.sync.part", lfs.sha256));
        let resumed_from = committed_bytes(&part, lfs.size);
        check_room(&job.models_dir, lfs.size.saturating_sub(resumed_from))?;
        emit(DownloadEvent::Started {
            total_bytes: lfs.size,
            resumed_from,
        });
        let progress = Reporter::start(lfs.size, resumed_from, emit.clone());
        let api_repo = api.repo(repo.clone());
        // A handle dropped without asking (its sender gone) does not match `Ok`, so that
        // branch is left and the download goes on.
        tokio::select! {
            fetched = api_repo.download_with_progress(&job.file, progress) => {
                fetched.map(|pointer| (pointer, lfs)).map_err(|e| interrupted(&e))
            }
            Ok(kind) = stop => Err(Stopped::Asked(kind)),
        }
    });
    // Stops every chunk request still running, whatever happened.
    runtime.shutdown_background();

    let (pointer, lfs) = match result {
        Ok(found) => found,
        Err(Stopped::Asked(StopKind::Cancel)) => {
            remove_partials(&blobs);
            tidy(&blobs);
            return Err(Stopped::Asked(StopKind::Cancel));
        }
        Err(other) => return Err(other),
    };
    let blob = blobs.join(&lfs.sha256);
    emit(DownloadEvent::Verifying);
    let _ = std::fs::remove_file(&pointer);
    let installed = verify(&blob, &lfs.sha256).and_then(|()| {
        move_into_place(&blob, &destination).map_err(disk)?;
        Ok(destination)
    });
    if installed.is_err() {
        let _ = std::fs::remove_file(&blob);
    }
    tidy(&blobs);
    installed.map_err(failed)
}

/// Checks a complete file against the Hub's checksum, then that the engine can read it.
fn verify(blob: &Path, sha256: &str) -> Result<(), DownloadError> {
    if oa_stdx::fs::sha256_file(blob).map_err(disk)? != sha256 {
        return Err(DownloadError::Corrupt);
    }
    oa_engine::gguf::GgufFile::open(blob).map_err(|e| DownloadError::Unusable(e.to_string()))?;
    Ok(())
}

/// Removes the bookkeeping hf-hub leaves in a repository's cache folder (lock files, the
/// revision it saw), and the folder itself once no paused download of it remains.
fn tidy(blobs: &Path) {
    let Some(repo_dir) = blobs.parent() else {
        return;
    };
    let mut paused = false;
    for entry in std::fs::read_dir(blobs).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sync.part") {
            paused = true;
        }
    }
    if !paused {
        let _ = std::fs::remove_dir_all(repo_dir);
    }
}

/// Copies a GGUF file from anywhere into the models folder, after the engine has checked it
/// (architecture, hyper-parameters, every tensor inside the file): a broken or unsupported file
/// is refused with the reason and never listed.
pub fn import_model(models_dir: &Path, source: &Path) -> Result<PathBuf, DownloadError> {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            DownloadError::InvalidRequest(format!("{} is not a file", source.display()))
        })?;
    let name = file_name(&name)?;
    if !source.is_file() {
        return Err(DownloadError::InvalidRequest(format!(
            "there is no file at {}",
            source.display()
        )));
    }
    oa_engine::gguf::GgufFile::open(source).map_err(|e| DownloadError::Unusable(e.to_string()))?;
    let destination = models_dir.join(&name);
    if destination.exists() {
        return Err(DownloadError::AlreadyInstalled(name));
    }
    std::fs::create_dir_all(models_dir).map_err(disk)?;
    let staging = models_dir.join(format!(".{name}.importing"));
    let copied =
        std::fs::copy(source, &staging).and_then(|_| std::fs::rename(&staging, &destination));
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&staging);
        return Err(disk(e));
    }
    Ok(destination)
}

/// Deletes a model file from the models folder (only a `.gguf` file directly in it).
pub fn remove_model(models_dir: &Path, name: &str) -> Result<PathBuf, DownloadError> {
    let name = file_name(name)?;
    let path = models_dir.join(&name);
    if !path.is_file() {
        return Err(DownloadError::InvalidRequest(format!(
            "there is no model {name} in {}",
            models_dir.display()
        )));
    }
    std::fs::remove_file(&path).map_err(disk)?;
    Ok(path)
}

/// The Hub's LFS record of a file: its sha256 and size.
#[derive(Debug, Clone)]
struct LfsInfo {
    sha256: String,
    size: u64,
}

/// Asks the Hub's tree API for the file's LFS record (`/api/models/<repo>/tree/main/<dir>`).
async fn lfs_info(api: &hf_hub::api::tokio::Api, job: &DownloadJob) -> Result<LfsInfo, Stopped> {
    let (dir, _) = job.file.rsplit_once('/').unwrap_or(("", &job.file));
    let url = format!(
        "{}/api/models/{}/tree/main/{dir}",
        job.hub.endpoint.trim_end_matches('/'),
        job.repo
    );
    let mut request = api.client().get(&url);
    if let Some(token) = &job.hub.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Stopped::Failed(DownloadError::Interrupted(e.to_string())))?;
    let not_found = || {
        Stopped::Failed(DownloadError::NotOnHub {
            repo: job.repo.clone(),
            file: job.file.clone(),
        })
    };
    if response.status().as_u16() == 404 || response.status().as_u16() == 401 {
        return Err(not_found());
    }
    if !response.status().is_success() {
        return Err(Stopped::Failed(DownloadError::Interrupted(format!(
            "the Hub answered {}",
            response.status()
        ))));
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| Stopped::Failed(DownloadError::Interrupted(e.to_string())))?;
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&body)
        .map_err(|e| Stopped::Failed(DownloadError::BadAnswer(format!("file list: {e}"))))?;
    let entry = entries
        .iter()
        .find(|e| e.get("path").and_then(|p| p.as_str()) == Some(job.file.as_str()))
        .ok_or_else(not_found)?;
    let lfs = entry.get("lfs").ok_or_else(|| {
        Stopped::Failed(DownloadError::BadAnswer(format!(
            "{} has no LFS checksum on the Hub",
            job.file
        )))
    })?;
    let sha256 = lfs
        .get("oid")
        .and_then(|o| o.as_str())
        .filter(|o| o.len() == 64 && o.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase);
    let size = lfs.get("size").and_then(|s| s.as_u64());
    match (sha256, size) {
        (Some(sha256), Some(size)) => Ok(LfsInfo { sha256, size }),
        _ => Err(Stopped::Failed(DownloadError::BadAnswer(
            "the LFS record lacks a sha256 or a size".into(),
        ))),
    }
}

/// What a paused or interrupted download of `repo` left in `cache_dir`, if anything.
pub fn partial_download(cache_dir: &Path, repo: &str) -> Option<PartialDownload> {
    let blobs = cache_dir
        .join(Repo::new(repo.to_owned(), RepoType::Model).folder_name())
        .join("blobs");
    std::fs::read_dir(blobs)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".sync.part"))
        .find_map(|e| {
            let total = e.metadata().ok()?.len().checked_sub(COMMITTED_TRAILER)?;
            Some(PartialDownload {
                done_bytes: committed_bytes(&e.path(), total),
                total_bytes: total,
            })
        })
}

/// How many bytes of a partial download are complete (hf-hub's trailer), 0 when there is none.
fn committed_bytes(part: &Path, size: u64) -> u64 {
    let Ok(mut file) = std::fs::File::open(part) else {
        return 0;
    };
    let Ok(meta) = file.metadata() else {
        return 0;
    };
    if meta.len() != size + COMMITTED_TRAILER {
        return 0;
    }
    use std::io::Seek;
    let mut trailer = [0u8; 8];
    if file.seek(std::io::SeekFrom::Start(size)).is_err() || file.read_exact(&mut trailer).is_err()
    {
        return 0;
    }
    u64::from_le_bytes(trailer).min(size)
}

/// Refuses to start when the models folder's disk cannot hold `needed` more bytes.
fn check_room(folder: &Path, needed: u64) -> Result<(), Stopped> {
    let available = fs4::available_space(folder).map_err(|e| Stopped::Failed(disk(e)))?;
    if needed.saturating_add(DISK_MARGIN) > available {
        return Err(Stopped::Failed(DownloadError::NoRoom {
            needed: needed.div_ceil(1 << 20),
            available: available >> 20,
            folder: folder.display().to_string(),
        }));
    }
    Ok(())
}

fn remove_partials(blobs: &Path) {
    if let Ok(entries) = std::fs::read_dir(blobs) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sync.part") || name.ends_with(".lock") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Renames (or, across file systems, copies then renames) `from` to `to` so that `to` only
/// ever exists complete.
fn move_into_place(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let staging = to.with_extension("gguf.installing");
    std::fs::copy(from, &staging)?;
    std::fs::rename(&staging, to)?;
    std::fs::remove_file(from)
}

/// The name the file gets in the models folder; refuses names that are not a GGUF file.
fn file_name(file: &str) -> Result<String, DownloadError> {
    let name = file.rsplit('/').next().unwrap_or(file);
    if name.is_empty() || name.starts_with('.') || name.contains('\\') {
        return Err(DownloadError::InvalidRequest(format!(
            "{file:?} is not a file name"
        )));
    }
    if !name.to_ascii_lowercase().ends_with(".gguf") {
        return Err(DownloadError::InvalidRequest(format!(
            "{file} is not a GGUF file; only .gguf models can be downloaded"
        )));
    }
    Ok(name.to_owned())
}

fn disk(e: std::io::Error) -> DownloadError {
    DownloadError::Disk(e.to_string())
}

fn interrupted(e: &hf_hub::api::tokio::ApiError) -> Stopped {
    Stopped::Failed(DownloadError::Interrupted(e.to_string()))
}

/// Turns hf-hub's byte counts into progress events with speed and time left.
#[derive(Clone)]
struct Reporter {
    bytes: mpsc::UnboundedSender<u64>,
}

impl Reporter {
    fn start(
        total: u64,
        resumed_from: u64,
        emit: impl Fn(DownloadEvent) + Send + 'static,
    ) -> Reporter {
        let (bytes, mut arrivals) = mpsc::unbounded_channel::<u64>();
        tokio::spawn(async move {
            let mut done = resumed_from;
            let started = Instant::now();
            let mut last = Instant::now() - PROGRESS_EVERY;
            let fetched_at_start = resumed_from;
            while let Some(n) = arrivals.recv().await {
                done = (done + n).min(total);
                if last.elapsed() < PROGRESS_EVERY && done < total {
                    continue;
                }
                last = Instant::now();
                let seconds = started.elapsed().as_secs_f64().max(0.001);
                let bytes_per_second = ((done - fetched_at_start) as f64 / seconds) as u64;
                let eta_seconds =
                    (bytes_per_second > 0).then(|| (total - done).div_ceil(bytes_per_second));
                emit(DownloadEvent::Progress {
                    done_bytes: done,
                    total_bytes: total,
                    bytes_per_second,
                    eta_seconds,
                });
            }
        });
        Reporter { bytes }
    }
}

impl Progress for Reporter {
    async fn init(&mut self, _size: usize, _filename: &str) {}

    async fn update(&mut self, size: usize) {
        let _ = self.bytes.send(size as u64);
    }

    async fn finish(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_parses_and_names_gguf_files_of_supported_architectures() {
        let models = catalog();
        assert!(models.len() >= 10, "{} models", models.len());
        for model in &models {
            assert!(file_name(&model.file).is_ok(), "{}", model.file);
            assert!(
                ["llama", "qwen2", "qwen3", "gemma3", "phi3"]
                    .contains(&model.architecture.as_str()),
                "{}",
                model.id
            );
            assert!(model.repo.contains('/'), "{}", model.repo);
        }
        let mut ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), models.len(), "ids are unique");
    }

    #[test]
    fn only_gguf_file_names_are_accepted() {
        assert_eq!(file_name("sub/model.Q4.gguf").unwrap(), "model.Q4.gguf");
        assert!(file_name("weights.safetensors").is_err());
        assert!(file_name("../").is_err());
        assert!(file_name(".hidden.gguf").is_err());
    }

    #[test]
    fn a_partial_file_reports_its_committed_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let part = dir.path().join("x.sync.part");
        let mut bytes = vec![0u8; 100];
        bytes.extend_from_slice(&40u64.to_le_bytes());
        std::fs::write(&part, &bytes).unwrap();
        assert_eq!(committed_bytes(&part, 100), 40);
        assert_eq!(committed_bytes(&part, 99), 0, "another size: start afresh");
        assert_eq!(committed_bytes(&dir.path().join("none"), 100), 0);
    }
}
