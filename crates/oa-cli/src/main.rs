//! `oa`: Open Assistant from the terminal. It runs the same use cases as the desktop app, on the
//! same local database, so a conversation started here shows up in the app and the other way round.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use oa_app::{App, AppConfig, DownloadJob, HubSettings, StopKind, Stopped};
use oa_types::{AppError, ChatEvent, DownloadEvent, ModelStatus, SamplerParams, SendMessage};

mod serve;

#[derive(Parser)]
#[command(
    name = "oa",
    version,
    about = "Open Assistant, local-first, in the terminal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Chat with a local GGUF model; one line is one message, an empty line or Ctrl-D ends.
    Chat {
        /// The GGUF model file [default: the default model in DATA_DIR/models].
        #[arg(long, env = "OA_MODEL")]
        model: Option<PathBuf>,
        /// Where conversations are stored [default: the desktop app's data folder].
        #[arg(long, env = "OA_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        sampler: SamplerArgs,
    },
    /// Personal data in texts, found on this computer as the app finds it before sharing.
    Privacy {
        #[command(subcommand)]
        command: PrivacyCommand,
    },
    /// The models on this computer and in the catalog: download, import, remove.
    Models {
        /// The app's data folder (models live in its `models/`) [default: the desktop app's].
        #[arg(long, env = "OA_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// This device's link to a dataset server: show it, sign in, sign out.
    Account {
        /// The app's data folder (the account lives in its `account.json`) [default: the
        /// desktop app's].
        #[arg(long, env = "OA_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: Option<AccountCommand>,
    },
    /// Serves the local OpenAI-compatible API (`/v1/chat/completions`, `/v1/completions`,
    /// `/v1/models`) on 127.0.0.1 until Ctrl-C.
    Serve {
        /// The GGUF model loaded first [default: the one chosen in the app].
        #[arg(long, env = "OA_MODEL")]
        model: Option<PathBuf>,
        /// The app's data folder [default: the desktop app's].
        #[arg(long, env = "OA_DATA_DIR")]
        data_dir: Option<PathBuf>,
        #[command(flatten)]
        args: serve::ServeArgs,
    },
    /// Sends what you shared to the dataset server, retrying until everything has an answer.
    /// Ctrl-C stops; nothing is lost, and running it again goes on.
    Sync {
        /// The app's data folder [default: the desktop app's].
        #[arg(long, env = "OA_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The longest wait between retries, in seconds (they start at 1 s and double).
        #[arg(long, default_value_t = 300)]
        max_wait: u64,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Signs this device in (the password is read from OA_PASSWORD, else from standard input).
    Login {
        /// The server's base URL, e.g. https://data.example.org.
        #[arg(long)]
        server: String,
        /// The account's display name.
        #[arg(long)]
        name: String,
        /// Create the account first.
        #[arg(long)]
        create: bool,
        /// This computer's name in the account's device list (default: a neutral one).
        #[arg(long, default_value = "")]
        device_name: String,
    },
    /// Signs this device out; the server revokes its token.
    Logout,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Lists the installed models, then the catalog.
    List {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Downloads a catalog model by its id, or any GGUF on the Hugging Face Hub as
    /// `ORG/REPO/FILE.gguf` (HF_ENDPOINT and HF_TOKEN are honoured). Ctrl-C pauses; running it
    /// again resumes where it stopped.
    Pull {
        /// Catalog id (see `oa models list`) or `ORG/REPO/FILE.gguf`.
        model: String,
    },
    /// Copies a GGUF file into the models folder, after checking that the app can run it.
    Import {
        /// The GGUF file.
        file: PathBuf,
    },
    /// Deletes a model file from the models folder.
    Rm {
        /// Its file name, as `oa models list` shows it.
        name: String,
    },
}

#[derive(Subcommand)]
enum PrivacyCommand {
    /// Prints each finding in FILE (`-` for standard input) as a JSON line:
    /// `{"kind": …, "start": …, "end": …, "text": …}`, offsets in bytes.
    Scan {
        /// The UTF-8 text file to scan.
        file: PathBuf,
    },
}

/// Sampling settings; each defaults to the app's.
#[derive(clap::Args)]
struct SamplerArgs {
    /// Sampling temperature (0 = always the most likely token).
    #[arg(long, default_value_t = SamplerParams::default().temperature)]
    temperature: f32,
    /// Keep the most likely tokens whose probabilities add up to this (1 = off).
    #[arg(long, default_value_t = SamplerParams::default().top_p)]
    top_p: f32,
    /// Keep only this many most likely tokens (0 = off).
    #[arg(long, default_value_t = SamplerParams::default().top_k)]
    top_k: u32,
    /// Penalty for repeating a recent token (1 = off).
    #[arg(long, default_value_t = SamplerParams::default().repeat_penalty)]
    repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at.
    #[arg(long, default_value_t = SamplerParams::default().repeat_last_n)]
    repeat_last_n: u32,
    /// Drop tokens less likely than this times the most likely one (0 = off).
    #[arg(long, default_value_t = SamplerParams::default().min_p)]
    min_p: f32,
    /// Penalty for any token already used (0 = off).
    #[arg(long, default_value_t = SamplerParams::default().presence_penalty)]
    presence_penalty: f32,
    /// Penalty per earlier use of a token (0 = off).
    #[arg(long, default_value_t = SamplerParams::default().frequency_penalty)]
    frequency_penalty: f32,
    /// End the reply before this text (may be given several times).
    #[arg(long)]
    stop: Vec<String>,
    /// Most tokens per reply.
    #[arg(long, default_value_t = SamplerParams::default().max_tokens)]
    max_tokens: u32,
    /// Random seed: the same seed and settings give the same reply.
    #[arg(long, default_value_t = SamplerParams::default().seed)]
    seed: u64,
}

impl From<SamplerArgs> for SamplerParams {
    fn from(a: SamplerArgs) -> SamplerParams {
        SamplerParams {
            temperature: a.temperature,
            top_p: a.top_p,
            top_k: a.top_k,
            repeat_penalty: a.repeat_penalty,
            repeat_last_n: a.repeat_last_n,
            max_tokens: a.max_tokens,
            seed: a.seed,
            min_p: a.min_p,
            presence_penalty: a.presence_penalty,
            frequency_penalty: a.frequency_penalty,
            stop: a.stop,
        }
    }
}

/// The desktop app's data folder (the platform's data folder and the app's identifier), so that
/// the terminal and the app share their conversations.
fn default_data_dir() -> Result<PathBuf> {
    dirs::data_dir()
        .map(|d| d.join(APP_IDENTIFIER))
        .context("no data folder on this system; pass --data-dir")
}

/// The desktop app's identifier (`src-tauri/tauri.conf.json`).
const APP_IDENTIFIER: &str = "org.open-assistant.desktop";

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Chat {
            model,
            data_dir,
            sampler,
        } => {
            let data_dir = match data_dir {
                Some(dir) => dir,
                None => default_data_dir()?,
            };
            chat(AppConfig::new(data_dir, model), sampler.into()).await
        }
        Command::Privacy {
            command: PrivacyCommand::Scan { file },
        } => privacy_scan(&file),
        Command::Models { data_dir, command } => {
            let data_dir = match data_dir {
                Some(dir) => dir,
                None => default_data_dir()?,
            };
            models(&data_dir, command).await
        }
        Command::Account { data_dir, command } => {
            let data_dir = match data_dir {
                Some(dir) => dir,
                None => default_data_dir()?,
            };
            account(AppConfig::new(data_dir, None), command).await
        }
        Command::Serve {
            model,
            data_dir,
            args,
        } => {
            let data_dir = match data_dir {
                Some(dir) => dir,
                None => default_data_dir()?,
            };
            serve::serve(AppConfig::new(data_dir, model), args).await
        }
        Command::Sync { data_dir, max_wait } => {
            let data_dir = match data_dir {
                Some(dir) => dir,
                None => default_data_dir()?,
            };
            sync(
                AppConfig::new(data_dir, None),
                std::time::Duration::from_secs(max_wait.max(1)),
            )
            .await
        }
    }
}

/// An app error as the terminal shows it.
fn said(e: oa_app::Error) -> anyhow::Error {
    anyhow::anyhow!(AppError::from(e).message)
}

/// `oa account [login|logout]`.
async fn account(config: AppConfig, command: Option<AccountCommand>) -> Result<()> {
    let app = App::open_without_model(config);
    let status = match command {
        None => app.account().status().map_err(said)?,
        Some(AccountCommand::Login {
            server,
            name,
            create,
            device_name,
        }) => {
            let password = match std::env::var("OA_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    eprint!("Password for {name}: ");
                    let mut line = String::new();
                    std::io::stdin()
                        .lock()
                        .read_line(&mut line)
                        .context("cannot read the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            let link = oa_types::LinkAccount {
                server_url: server,
                display_name: name,
                password,
                create,
                device_name,
            };
            app.account().link(link).await.map_err(said)?
        }
        Some(AccountCommand::Logout) => app.account().log_out().await.map_err(said)?,
    };
    let sync = app.sharing().status().await.map_err(said)?;
    match (&status.server_url, &status.display_name) {
        (None, _) => println!("No dataset server set: nothing is ever sent."),
        (Some(url), None) => println!("Server {url}, signed out: nothing is sent."),
        (Some(url), Some(name)) => println!("Signed in to {url} as {name}."),
    }
    println!(
        "{} shared contribution(s) waiting, {} refused by the server.",
        sync.waiting, sync.rejected
    );
    Ok(())
}

/// `oa sync`: rounds until nothing shared waits, retrying after failures with the agent's
/// backoff; progress on stderr.
async fn sync(config: AppConfig, max_wait: std::time::Duration) -> Result<()> {
    let app = std::sync::Arc::new(App::open_without_model(config));
    let watcher = app.clone();
    let progress = tokio::spawn(async move {
        let mut shown = (u64::MAX, u64::MAX);
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            if let Ok(status) = watcher.sharing().status().await
                && status.sending
                && status.round_total > 0
                && (status.round_done, status.round_total) != shown
            {
                shown = (status.round_done, status.round_total);
                eprintln!("Sent {} of {}", status.round_done, status.round_total);
            }
        }
    });
    let stopped = tokio::signal::ctrl_c();
    tokio::pin!(stopped);
    let mut failures = 0u32;
    let mut sent = oa_app::SyncReport::default();
    let outcome = loop {
        let round = tokio::select! {
            round = app.sharing().sync_once() => round,
            _ = &mut stopped => break Err(anyhow::anyhow!("stopped; run `oa sync` again to go on")),
        };
        match round {
            Ok(report) => {
                sent.accepted += report.accepted;
                sent.rejected += report.rejected;
                let status = app.sharing().status().await.map_err(said)?;
                if status.waiting == 0 {
                    break Ok(status);
                }
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                let Some(wait) = oa_app::retry_wait(&e, failures, max_wait) else {
                    break Err(said(e));
                };
                eprintln!(
                    "{} Retrying in {:.0} s.",
                    said(e),
                    wait.as_secs_f64().ceil()
                );
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = &mut stopped => break Err(anyhow::anyhow!("stopped; run `oa sync` again to go on")),
                }
            }
        }
    };
    progress.abort();
    let status = outcome?;
    println!(
        "Done: {} accepted, {} refused in this run; {} refused in all (see Review & Share).",
        sent.accepted, sent.rejected, status.rejected
    );
    Ok(())
}

/// `oa privacy scan FILE`.
fn privacy_scan(file: &std::path::Path) -> Result<()> {
    let bytes = if file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
            .context("cannot read standard input")?;
        bytes
    } else {
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (invalid byte at offset {})",
            file.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    let mut out = std::io::stdout().lock();
    for finding in oa_privacy::scan(&text) {
        let line = serde_json::to_string(&finding).context("cannot encode a finding")?;
        writeln!(out, "{line}").context("cannot write to standard output")?;
    }
    Ok(())
}

async fn chat(config: AppConfig, sampler: SamplerParams) -> Result<()> {
    let app = App::open(config).context("cannot open the local database")?;
    match app.models().wait_for_load().await {
        ModelStatus::Ready { info } => {
            eprintln!(
                "{} ({}, {}) ready. An empty line ends the chat.",
                info.id, info.architecture, info.quantization
            );
        }
        ModelStatus::Unavailable { error } => bail!(error.message),
        ModelStatus::Loading { path } => bail!("the model at {path} is still loading"),
    }
    let mut conversation = None;
    let stdin = std::io::stdin();
    loop {
        eprint!("> ");
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(());
        }
        let request = SendMessage {
            conversation_id: conversation,
            text: line.trim_end().to_owned(),
            sampler: Some(sampler.clone()),
            edit_of: None,
            settings: None,
        };
        let reply = app
            .chat()
            .send(request, |event| {
                if let ChatEvent::Token(token) = event {
                    let mut out = std::io::stdout().lock();
                    return write!(out, "{}", token.text)
                        .and_then(|_| out.flush())
                        .is_ok();
                }
                true
            })
            .await
            .map_err(|e| anyhow::anyhow!(AppError::from(e).message))?;
        println!();
        conversation = Some(reply.conversation_id);
    }
}

/// `oa models …`.
async fn models(data_dir: &std::path::Path, command: ModelsCommand) -> Result<()> {
    let models_dir = data_dir.join("models");
    match command {
        ModelsCommand::List { json } => list_models(&models_dir, json),
        ModelsCommand::Pull { model } => pull(data_dir, &model).await,
        ModelsCommand::Import { file } => {
            let path = oa_app::import_model(&models_dir, &file)
                .map_err(|e| anyhow::anyhow!(AppError::from(e).message))?;
            println!("Imported {}", path.display());
            Ok(())
        }
        ModelsCommand::Rm { name } => {
            let path = oa_app::remove_model(&models_dir, &name)
                .map_err(|e| anyhow::anyhow!(AppError::from(e).message))?;
            println!("Removed {}", path.display());
            Ok(())
        }
    }
}

fn list_models(models_dir: &std::path::Path, json: bool) -> Result<()> {
    let installed = oa_app::installed_models(
        &[models_dir.to_owned()],
        std::path::Path::new(""),
        oa_app::SystemMemory::read(),
    );
    let catalog = oa_app::catalog();
    let mut out = std::io::stdout().lock();
    if json {
        for model in &installed {
            let line = serde_json::json!({ "installed": model });
            writeln!(out, "{line}")?;
        }
        for model in &catalog {
            let line = serde_json::json!({ "catalog": model });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    writeln!(out, "Installed in {}:", models_dir.display())?;
    if installed.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for model in &installed {
        let file = std::path::Path::new(&model.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match &model.problem {
            Some(problem) => writeln!(out, "  {file}  cannot be used: {problem}")?,
            None => writeln!(
                out,
                "  {file}  {}  {}  {} MB  context {}",
                model.architecture,
                model.quantization,
                model.file_size >> 20,
                model.context_length
            )?,
        }
    }
    writeln!(out, "\nCatalog (oa models pull ID):")?;
    for model in &catalog {
        writeln!(
            out,
            "  {:<14} {:<24} {:>5}M params  {:<7} {:<11} {}",
            model.id,
            model.name,
            model.parameters / 1_000_000,
            model.quantization,
            model.license,
            model.description
        )?;
    }
    Ok(())
}

/// Downloads with a progress line on stderr; Ctrl-C pauses.
async fn pull(data_dir: &std::path::Path, model: &str) -> Result<()> {
    let (repo, file) = match model.rsplit_once('/') {
        Some((repo, file)) if repo.contains('/') => (repo.to_owned(), file.to_owned()),
        _ => {
            let catalog = oa_app::catalog();
            let Some(entry) = catalog.iter().find(|m| m.id == model) else {
                let ids: Vec<&str> = catalog.iter().map(|m| m.id.as_str()).collect();
                bail!(
                    "no catalog model {model:?}; use one of {} or ORG/REPO/FILE.gguf",
                    ids.join(", ")
                );
            };
            (entry.repo.clone(), entry.file.clone())
        }
    };
    let job = DownloadJob {
        hub: HubSettings::from_env(),
        repo,
        file,
        models_dir: data_dir.join("models"),
        cache_dir: data_dir.join("downloads"),
    };
    let handle = oa_app::start_download(job, |event| {
        let mut err = std::io::stderr().lock();
        let _ = match event {
            DownloadEvent::Started {
                total_bytes,
                resumed_from,
            } if resumed_from > 0 => writeln!(
                err,
                "Downloading {} MB, resuming at {} MB",
                total_bytes >> 20,
                resumed_from >> 20
            ),
            DownloadEvent::Started { total_bytes, .. } => {
                writeln!(err, "Downloading {} MB", total_bytes >> 20)
            }
            DownloadEvent::Progress {
                done_bytes,
                total_bytes,
                bytes_per_second,
                eta_seconds,
            } => write!(
                err,
                "\r{:>7.1} / {:.1} MB  {:>6.1} MB/s  {}   ",
                done_bytes as f64 / 1048576.0,
                total_bytes as f64 / 1048576.0,
                bytes_per_second as f64 / 1048576.0,
                eta_seconds.map_or_else(String::new, |s| format!("{s} s left"))
            )
            .and_then(|_| err.flush()),
            DownloadEvent::Verifying => {
                writeln!(err, "\nChecking the file against the Hub's checksum")
            }
            DownloadEvent::Paused => writeln!(err, "\nPaused; run the same command to resume"),
            _ => Ok(()),
        };
    });
    let stopper = handle.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop(StopKind::Pause);
        }
    });
    let waiting = handle.clone();
    let outcome = tokio::task::spawn_blocking(move || waiting.wait()).await?;
    match outcome {
        Ok(path) => {
            println!("Installed {}", path.display());
            Ok(())
        }
        Err(Stopped::Asked(_)) => bail!("the download was paused"),
        Err(Stopped::Failed(e)) => bail!(AppError::from(e).message),
    }
}
