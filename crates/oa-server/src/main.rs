//! `oa-server`: the command line of the central dataset server.
//!
//! `oa-server serve` migrates the database and serves the HTTP API until Ctrl-C or SIGTERM;
//! `oa-server migrate` only migrates. Everything else lives in the `oa_server` library.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use sqlx::postgres::PgConnectOptions;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "oa-server",
    version,
    about = "The Open Assistant Desktop dataset server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the HTTP API until Ctrl-C or SIGTERM.
    Serve {
        #[command(flatten)]
        database: Database,
        /// Address and port to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[command(flatten)]
        database: Database,
    },
}

// No `Debug`: the URL holds the password and must not end up in a log by accident.
#[derive(Args)]
struct Database {
    /// PostgreSQL URL, e.g. postgres://user:password@host/dbname.
    // `hide_env_values` keeps the password in the environment out of `--help`.
    #[arg(long, env = "OA_DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

impl Database {
    /// Parses the URL and connects. Only host, port and database name are ever logged.
    async fn connect_and_migrate(&self) -> anyhow::Result<sqlx::PgPool> {
        let options: PgConnectOptions = self
            .database_url
            .parse()
            .context("--database-url is not a valid PostgreSQL URL")?;
        tracing::info!(
            host = options.get_host(),
            port = options.get_port(),
            database = options.get_database().unwrap_or("(default)"),
            "connecting to the database"
        );
        let pool = oa_server::connect(options)
            .await
            .context("cannot connect to the database")?;
        oa_server::migrate(&pool)
            .await
            .context("cannot migrate the database")?;
        tracing::info!(
            schema_version = oa_server::latest_schema_version(),
            "database is migrated"
        );
        Ok(pool)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    match Cli::parse().command {
        Command::Migrate { database } => {
            database.connect_and_migrate().await?;
        }
        Command::Serve { database, listen } => {
            let pool = database.connect_and_migrate().await?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "serving");
            oa_server::serve(listener, oa_server::AppState::new(pool), shutdown_signal())
                .await
                .context("the server stopped with an error")?;
            tracing::info!("shut down");
        }
    }
    Ok(())
}

/// Completes on Ctrl-C, or on SIGTERM (what service managers and container runtimes send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}
