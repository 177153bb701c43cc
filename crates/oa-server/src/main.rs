//! `oa-server`: the command line of the central dataset server.
//!
//! `oa-server serve` migrates the database and serves the HTTP API until Ctrl-C or SIGTERM;
//! `oa-server migrate` only migrates; `oa-server export` writes the oasst dataset files;
//! `oa-server set-role` appoints moderators and admins; `oa-server openapi` prints the OpenAPI
//! document of the HTTP API. Every setting is a flag with an `OA_*` environment variable.
//! Everything else lives in the `oa_server` library.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

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
    /// How log lines are written to standard error: `text` for people, `json` (one object per
    /// line) for a log collector.
    #[arg(long, env = "OA_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the HTTP API until Ctrl-C or SIGTERM.
    Serve {
        #[command(flatten)]
        database: Database,
        /// Address and port to listen on.
        #[arg(long, env = "OA_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// PEM certificate chain (leaf first): serve HTTPS with it. Without it the server speaks
        /// plain HTTP, for loopback or behind a TLS-terminating proxy (see --trusted-proxy).
        #[arg(long, env = "OA_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, env = "OA_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        #[command(flatten)]
        tuning: Tuning,
    },
    /// Apply pending migrations and exit.
    Migrate {
        #[command(flatten)]
        database: Database,
    },
    /// Write the trees that are ready for export as oasst `*.trees.jsonl` and `*.messages.jsonl`.
    Export {
        #[command(flatten)]
        database: Database,
        /// Directory to write into (created if missing).
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// File name prefix, e.g. `oasst-2026-11-26`.
        #[arg(long, default_value = "oasst")]
        prefix: String,
        /// Compress both files with gzip (`.jsonl.gz`).
        #[arg(long)]
        gzip: bool,
    },
    /// Give an account a role (the first admin is appointed this way).
    SetRole {
        #[command(flatten)]
        database: Database,
        /// The account's display name.
        #[arg(long)]
        display_name: String,
        /// contributor, moderator or admin.
        #[arg(long)]
        role: String,
    },
    /// Print the OpenAPI document of the HTTP API (`docs/openapi.json` is a copy of it).
    Openapi,
}

/// The server's tunable settings; defaults are Open-Assistant's.
#[derive(Args, Debug)]
struct Tuning {
    /// Largest request body in bytes.
    #[arg(long, env = "OA_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Longest message text in characters.
    #[arg(long, env = "OA_MAX_TEXT_CHARS", default_value_t = 10_000)]
    max_text_chars: usize,
    /// Events one account may send per minute.
    #[arg(long, env = "OA_EVENTS_PER_MINUTE_ACCOUNT", default_value_t = 6_000)]
    events_per_minute_account: u32,
    /// Events one device may send per minute.
    #[arg(long, env = "OA_EVENTS_PER_MINUTE_DEVICE", default_value_t = 3_000)]
    events_per_minute_device: u32,
    /// Reviews an initial prompt needs.
    #[arg(long, env = "OA_REVIEWS_INITIAL_PROMPT", default_value_t = 3)]
    reviews_initial_prompt: u32,
    /// Reviews a reply needs.
    #[arg(long, env = "OA_REVIEWS_REPLY", default_value_t = 3)]
    reviews_reply: u32,
    /// Share of positive reviews a message needs.
    #[arg(long, env = "OA_ACCEPTANCE_THRESHOLD", default_value_t = 0.6)]
    acceptance_threshold: f64,
    /// Accepted messages at which a tree is ranked.
    #[arg(long, env = "OA_GOAL_TREE_SIZE", default_value_t = 12)]
    goal_tree_size: u32,
    /// Rankings a parent needs before consensus (K).
    #[arg(long, env = "OA_RANKINGS_PER_PARENT", default_value_t = 3)]
    rankings_per_parent: u32,
    /// Days a task lease lasts.
    #[arg(long, env = "OA_LEASE_DAYS", default_value_t = 7)]
    lease_days: u64,
    /// argon2id memory per password hash, in KiB.
    #[arg(long, env = "OA_ARGON2_MEMORY_KIB", default_value_t = 19 * 1024)]
    argon2_memory_kib: u32,
    /// Password hashes computed at once (default: twice the cores); further sign-ins wait.
    #[arg(long, env = "OA_MAX_PARALLEL_HASHES")]
    max_parallel_hashes: Option<usize>,
    /// Accounts one client address may create per hour (0: no limit).
    #[arg(long, env = "OA_SIGN_UPS_PER_HOUR", default_value_t = 10)]
    sign_ups_per_hour: u32,
    /// Sign-in attempts one client address may make per hour; successful ones do not count.
    #[arg(long, env = "OA_SIGN_INS_PER_HOUR", default_value_t = 60)]
    sign_ins_per_hour: u32,
    /// Failed sign-ins one display name may see per hour, from anywhere.
    #[arg(long, env = "OA_FAILED_SIGN_INS_PER_HOUR", default_value_t = 10)]
    failed_sign_ins_per_hour: u32,
    /// Seconds one request may take (waiting for its turn included) before it is answered 503.
    #[arg(long, env = "OA_REQUEST_TIMEOUT_S", default_value_t = 30)]
    request_timeout_s: u64,
    /// Requests handled at once; more wait their turn.
    #[arg(long, env = "OA_MAX_CONCURRENT_REQUESTS", default_value_t = 512)]
    max_concurrent_requests: usize,
    /// Open task leases one account may hold.
    #[arg(long, env = "OA_MAX_OPEN_LEASES", default_value_t = 100)]
    max_open_leases: u32,
    /// Address of a reverse proxy in front of the server whose `X-Forwarded-For` is believed;
    /// repeat the flag (or separate with commas) for several. Without it every client is the
    /// connection's peer.
    #[arg(long, env = "OA_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<IpAddr>,
}

impl Tuning {
    fn config(&self) -> oa_server::Config {
        let defaults = oa_server::Config::default();
        oa_server::Config {
            tree: oa_server::TreePolicy {
                reviews_initial_prompt: self.reviews_initial_prompt,
                reviews_reply: self.reviews_reply,
                acceptance_threshold: self.acceptance_threshold,
                goal_tree_size: self.goal_tree_size,
                rankings_per_parent: self.rankings_per_parent.max(1),
                ..defaults.tree
            },
            limits: oa_server::Limits {
                max_body_bytes: self.max_body_bytes,
                max_text_chars: self.max_text_chars,
                events_per_minute_account: self.events_per_minute_account,
                events_per_minute_device: self.events_per_minute_device,
                sign_ups_per_hour_per_address: self.sign_ups_per_hour,
                sign_ins_per_hour_per_address: self.sign_ins_per_hour,
                failed_sign_ins_per_hour_per_name: self.failed_sign_ins_per_hour,
                request_timeout: Duration::from_secs(self.request_timeout_s.max(1)),
                max_concurrent_requests: self.max_concurrent_requests.max(1),
                max_open_leases: self.max_open_leases,
                trusted_proxies: self.trusted_proxy.clone(),
            },
            password: oa_server::PasswordCost {
                memory_kib: self.argon2_memory_kib.max(8),
                max_parallel: self
                    .max_parallel_hashes
                    .unwrap_or(defaults.password.max_parallel)
                    .max(1),
                ..defaults.password
            },
            lease_duration: Duration::from_secs(self.lease_days.max(1) * 24 * 3600),
            ..defaults
        }
    }
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
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        );
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }

    match cli.command {
        Command::Openapi => {
            use std::io::Write as _;
            std::io::stdout()
                .write_all(oa_server::openapi_json().as_bytes())
                .context("cannot write the document")?;
        }
        Command::Migrate { database } => {
            database.connect_and_migrate().await?;
        }
        Command::Export {
            database,
            out,
            prefix,
            gzip,
        } => {
            let pool = database.connect_and_migrate().await?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("cannot create {}", out.display()))?;
            let started = std::time::Instant::now();
            let summary = oa_server::export(&pool, &out, &prefix, gzip)
                .await
                .context("the export failed")?;
            tracing::info!(
                trees = summary.trees,
                messages = summary.messages,
                seconds = started.elapsed().as_secs_f64(),
                trees_file = %summary.trees_path.display(),
                messages_file = %summary.messages_path.display(),
                "exported"
            );
        }
        Command::SetRole {
            database,
            display_name,
            role,
        } => {
            let role = oa_types::AccountRole::parse(&role)
                .context("the role is one of contributor, moderator, admin")?;
            let pool = database.connect_and_migrate().await?;
            let account = oa_server::account_by_name(&pool, &display_name)
                .await
                .with_context(|| format!("no account is called {display_name:?}"))?;
            oa_server::set_account_role(&pool, account, role).await?;
        }
        Command::Serve {
            database,
            listen,
            tls_cert,
            tls_key,
            tuning,
        } => {
            let config = tuning.config();
            // Read before anything else, so that a wrong path fails at once.
            let identity = match (&tls_cert, &tls_key) {
                (Some(cert), Some(key)) => Some(
                    oa_server::TlsIdentity::from_pem_files(cert, key)
                        .await
                        .with_context(|| {
                            format!(
                                "cannot use the certificate {} with the key {}",
                                cert.display(),
                                key.display()
                            )
                        })?,
                ),
                _ => None,
            };
            let pool = database.connect_and_migrate().await?;
            let listener = std::net::TcpListener::bind(listen)
                .with_context(|| format!("cannot listen on {listen}"))?;
            let state = oa_server::AppState::with_config(pool, config);
            let address = listener.local_addr()?;
            let served = match identity {
                Some(identity) => {
                    tracing::info!(%address, "serving HTTPS");
                    oa_server::serve_tls(listener, state, identity, shutdown_signal()).await
                }
                None => {
                    tracing::info!(%address, "serving plain HTTP");
                    listener.set_nonblocking(true)?;
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    oa_server::serve(listener, state, shutdown_signal()).await
                }
            };
            served.context("the server stopped with an error")?;
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
