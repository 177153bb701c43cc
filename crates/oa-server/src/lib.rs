//! The central dataset server of Open Assistant Desktop.
//!
//! Desktop apps upload the contributions their users chose to share — votes, labels, rankings,
//! written replies — as immutable contribution events. The server stores them in PostgreSQL and,
//! as it grows, turns them into Open-Assistant's pipeline: message trees, tasks, consensus, trust,
//! a leaderboard and oasst exports.
//!
//! This crate is the library; `main.rs` is a thin command line over it. The pieces:
//!
//! - [`connect`] opens the connection pool and [`migrate`] brings the schema up to date (the SQL
//!   lives in `migrations/`, compiled into the binary).
//! - [`router`] builds the HTTP API over an [`AppState`]; [`serve`] runs it until shut down.
//! - [`Error`] is the one error type; it decides the status and the JSON body a client sees.
//! - With the `testing` feature, the `testing` module starts a throw-away PostgreSQL cluster for
//!   the tests of this crate and of the crates that talk to it.
//!
//! Endpoints so far: `GET /healthz` (see [`HealthReport`]). Unknown paths answer `404` with the
//! usual error body.

mod error;
mod health;
#[cfg(feature = "testing")]
pub mod testing;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use error::{Error, Result};
pub use health::{HEALTH_TIMEOUT, HealthReport, HealthStatus};

/// The schema migrations, read from `migrations/` when the crate is compiled.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a request waits for a free database connection before the server answers `503`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// What every request handler shares: for now, the database pool.
///
/// Cloning is cheap (the pool is reference-counted).
#[derive(Debug, Clone)]
pub struct AppState {
    pool: PgPool,
}

impl AppState {
    /// Wraps a pool whose database has been migrated with [`migrate`].
    pub fn new(pool: PgPool) -> Self {
        AppState { pool }
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Builds the HTTP API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .fallback(not_found)
        .with_state(state)
}

/// Answers every path no route matches, with the same JSON error body as any other error.
async fn not_found() -> Error {
    Error::NotFound
}

/// Opens the server's connection pool with its timeouts.
///
/// Connects once before returning, so that a wrong host or password fails at start-up rather than
/// on the first request. Take the options from a URL with [`str::parse`]; unlike the URL, the
/// options never appear in an error message, so the password cannot leak through one.
pub async fn connect(options: PgConnectOptions) -> Result<PgPool> {
    let pool = PgPoolOptions::new()
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await?;
    Ok(pool)
}

/// Applies every migration the database does not have yet.
///
/// Safe to run again and from several servers at once: applied migrations are skipped, and
/// concurrent runs wait on a database lock. Fails if an applied migration was edited since.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// The version of the newest migration compiled into this server; `/healthz` reports it once the
/// database has been migrated.
pub fn latest_schema_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// Serves [`router`] on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
