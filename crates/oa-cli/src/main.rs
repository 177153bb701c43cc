//! `oa`: Open Assistant from the terminal. It runs the same use cases as the desktop app, on the
//! same local database, so a conversation started here shows up in the app and the other way round.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use oa_app::{App, AppConfig};
use oa_types::{AppError, ChatEvent, ModelStatus, SamplerParams, SendMessage};

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
    }
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
    match app.wait_for_model().await {
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
            .send_message(request, |event| {
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
