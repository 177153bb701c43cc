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
        /// Where conversations are stored.
        #[arg(long, env = "OA_DATA_DIR")]
        data_dir: PathBuf,
        /// Sampling temperature (0 = always the most likely token).
        #[arg(long, default_value_t = SamplerParams::default().temperature)]
        temperature: f32,
        /// Most tokens per reply.
        #[arg(long, default_value_t = SamplerParams::default().max_tokens)]
        max_tokens: u32,
        /// Random seed.
        #[arg(long, default_value_t = SamplerParams::default().seed)]
        seed: u64,
    },
}

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
            temperature,
            max_tokens,
            seed,
        } => {
            let sampler = SamplerParams {
                temperature,
                max_tokens,
                seed,
                ..Default::default()
            };
            chat(AppConfig::new(data_dir, model), sampler).await
        }
    }
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
