//! `oa serve`: the local OpenAI-compatible API from the terminal, on the same app code and
//! settings as the desktop app's Settings → Local API, until Ctrl-C or SIGTERM.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use oa_app::{App, AppConfig};
use oa_types::{ApiSettings, ModelStatus};

/// What `oa serve` was asked, over the settings kept in the data folder.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The TCP port [default: the one under Settings → Local API, 4315 at first].
    #[arg(long)]
    pub port: Option<u16>,
    /// Listen on every network interface, not only on 127.0.0.1; the key is then required.
    #[arg(long)]
    pub network: bool,
    /// Ask for the key from programs on this computer too.
    #[arg(long)]
    pub require_key: bool,
    /// A web page's origin (such as http://localhost:3000) allowed to call from a browser;
    /// repeat for several.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Keep the API's conversations in the history, under their own source (turns on the
    /// app's setting of the same name, which stays on).
    #[arg(long)]
    pub keep_history: bool,
    /// Replace the key first (programs holding the old one are refused).
    #[arg(long)]
    pub new_key: bool,
}

impl ServeArgs {
    /// The settings for this run: the kept ones with what the command line says.
    fn apply(&self, mut settings: ApiSettings) -> Result<ApiSettings> {
        settings.enabled = true;
        if let Some(port) = self.port {
            settings.port = port;
        }
        settings.beyond_loopback |= self.network;
        settings.require_key_on_loopback |= self.require_key;
        settings.keep_history |= self.keep_history;
        settings
            .allowed_origins
            .extend(self.allow_origins.iter().cloned());
        if let Some(problem) = settings.problem() {
            bail!(problem);
        }
        Ok(settings)
    }
}

/// Serves until the process is told to stop.
pub async fn serve(config: AppConfig, args: ServeArgs) -> Result<()> {
    let app = Arc::new(App::open(config).context("cannot open the local database")?);
    let claim = app.api().claim().map_err(anyhow::Error::msg)?;
    if args.new_key {
        app.api().regenerate_key().await?;
    }
    let kept = app.api().settings().await?;
    if args.keep_history && !kept.keep_history {
        // One setting, whoever serves: the app's Settings → Local API shows it on from now on.
        app.api()
            .set_settings(ApiSettings {
                keep_history: true,
                ..kept.clone()
            })
            .await?;
    }
    let settings = args.apply(kept)?;
    let options = oa_api::ServeOptions::from_settings(&settings);
    let server = oa_api::serve(app.clone(), options)
        .await
        .map_err(anyhow::Error::msg)?;
    claim.announce(&server.url());
    eprintln!("Serving {} — Ctrl-C stops.", server.url());
    if settings.key_required() {
        eprintln!(
            "Key (send as `Authorization: Bearer <key>`): {}",
            settings.key
        );
    } else {
        eprintln!(
            "Programs on this computer need no key; with --require-key they send: {}",
            settings.key
        );
    }
    match app.models().wait_for_load().await {
        ModelStatus::Ready { .. } => {
            let models = app.api().models().await?;
            if let Some(active) = models.iter().find(|m| m.active) {
                eprintln!("Model ready: {}", oa_app::model_id(active));
            }
        }
        ModelStatus::Unavailable { error } => eprintln!(
            "No model is loaded yet ({}); requests load the model they name.",
            error.message
        ),
        ModelStatus::Loading { .. } => {}
    }
    stopped().await;
    server.stop().await;
    drop(claim);
    Ok(())
}

async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
