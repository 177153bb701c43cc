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
//! - [`router`] builds the HTTP API over an [`AppState`]; [`serve`] runs it until shut down. Its
//!   routes are registered from the handlers' OpenAPI descriptions, so [`openapi_document`]
//!   describes exactly what it serves.
//! - [`Error`] is the one error type; it decides the status and the JSON body a client sees.
//! - With the `testing` feature, the `testing` module starts a throw-away PostgreSQL cluster for
//!   the tests of this crate and of the crates that talk to it.
//!
//! Endpoints (all JSON; `/v1/*` except registration and sign-in need a device token):
//!
//! | method and path | what |
//! |---|---|
//! | `GET /healthz` | health with the schema version ([`HealthReport`]) |
//! | `GET /metrics` | Prometheus metrics |
//! | `GET /openapi.json` | the OpenAPI 3.1 document of this table |
//! | `POST /v1/accounts` | register; signs in the first device |
//! | `DELETE /v1/accounts/me`, `PUT /v1/accounts/me/password` | delete the account; change the password |
//! | `POST /v1/sessions` | sign in a new device |
//! | `GET /v1/devices`, `DELETE /v1/devices/{id}` | list devices, revoke a token |
//! | `PUT /v1/accounts/{id}/role` | change a role (admins) |
//! | `POST /v1/events` | ingest a batch of contribution events |
//! | `GET /v1/trees/{id}`, `POST /v1/trees/{id}/halt` | a tree's state; halt it (moderators) |
//! | `POST /v1/tasks/lease`, `GET /v1/tasks`, `POST /v1/tasks/{id}/skip` | offline tasks |
//! | `GET /v1/leaderboard?window=day|week|month|all`, `GET /v1/me/stats` | scores |
//!
//! Unknown paths answer `404` with the usual error body.

mod auth;
mod body;
mod config;
mod consensus;
mod error;
mod export;
mod health;
mod ingest;
mod leaderboard;
mod limits;
mod metrics;
mod openapi;
mod pipeline;
mod score;
mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;
mod trust;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use auth::{account_by_name, set_account_role};
pub use config::{Config, Limits, PasswordCost, TreePolicy};
pub use consensus::{Ballot, kendall_tau, ranked_pairs};
pub use error::{Error, Result};
pub use export::{ExportSummary, export};
pub use health::HEALTH_TIMEOUT;
pub use oa_types::{HealthReport, HealthStatus};
pub use openapi::{document as openapi_document, document_json as openapi_json};
pub use pipeline::TreeState;
pub use trust::{QUORUM_CAP, trust};

/// The schema migrations, read from `migrations/` when the crate is compiled.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a request waits for a free database connection before the server answers `503`.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long requests in flight may take to finish after a shutdown was asked for.
const GRACE: Duration = Duration::from_secs(30);

/// What every request handler shares: the database pool, the configuration, the rate limiter,
/// the account throttles, the password-hash pool and the metrics.
///
/// Cloning is cheap (everything is reference-counted).
#[derive(Debug, Clone)]
pub struct AppState {
    pool: PgPool,
    config: Arc<Config>,
    limiter: Arc<limits::RateLimiter>,
    throttles: Arc<throttle::AccountThrottles>,
    hashes: Arc<throttle::HashPool>,
    metrics: Arc<metrics::Metrics>,
}

impl AppState {
    /// Wraps a pool whose database has been migrated with [`migrate`], with the default
    /// configuration.
    pub fn new(pool: PgPool) -> Self {
        Self::with_config(pool, Config::default())
    }

    /// Wraps a migrated pool with the given configuration.
    pub fn with_config(pool: PgPool, config: Config) -> Self {
        let limiter = limits::RateLimiter::new(
            config.limits.events_per_minute_account,
            config.limits.events_per_minute_device,
        );
        AppState {
            pool,
            throttles: Arc::new(throttle::AccountThrottles::new(&config.limits)),
            hashes: Arc::new(throttle::HashPool::new(&config.password)),
            config: Arc::new(config),
            limiter: Arc::new(limiter),
            metrics: Arc::default(),
        }
    }

    /// The database pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn limiter(&self) -> &limits::RateLimiter {
        &self.limiter
    }

    fn throttles(&self) -> &throttle::AccountThrottles {
        &self.throttles
    }

    fn hashes(&self) -> &throttle::HashPool {
        &self.hashes
    }

    fn metrics(&self) -> &metrics::Metrics {
        &self.metrics
    }
}

/// Builds the HTTP API: the routes of [`openapi_document`], each registered from its handler's
/// description.
pub fn router(state: AppState) -> Router {
    let limits = state.config().limits.clone();
    let (routes, _document) = openapi::routes().split_for_parts();
    routes
        .fallback(not_found)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        // Outermost: a request waiting for its turn counts against its time too.
        .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
            limits.max_concurrent_requests.max(1),
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
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

/// Serves [`router`] over plain HTTP on `listener` until `shutdown` completes, then lets
/// requests in flight finish. Plain HTTP is for loopback or behind a TLS-terminating proxy
/// (set [`Limits::trusted_proxies`] to it); anything else uses [`serve_tls`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// A certificate chain and its private key, for [`serve_tls`].
#[derive(Clone)]
pub struct TlsIdentity(axum_server::tls_rustls::RustlsConfig);

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The private key never reaches a log.
        f.write_str("TlsIdentity(..)")
    }
}

impl TlsIdentity {
    /// Reads a PEM certificate chain (leaf first) and a PEM private key (PKCS#8, PKCS#1 or
    /// SEC1), as certbot and most CAs write them.
    pub async fn from_pem_files(cert: &Path, key: &Path) -> std::io::Result<Self> {
        install_crypto_provider();
        axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
            .await
            .map(TlsIdentity)
    }

    /// The same from PEM text in memory.
    pub async fn from_pem(cert: Vec<u8>, key: Vec<u8>) -> std::io::Result<Self> {
        install_crypto_provider();
        axum_server::tls_rustls::RustlsConfig::from_pem(cert, key)
            .await
            .map(TlsIdentity)
    }
}

/// rustls needs one crypto provider per process: ring. Installing again fails harmlessly.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Serves [`router`] over HTTPS (TLS 1.2 and 1.3, HTTP/1.1 and HTTP/2 by ALPN) on `listener`
/// until `shutdown` completes, then gives requests in flight up to 30 s to finish.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: AppState,
    identity: TlsIdentity,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(GRACE));
    });
    axum_server::from_tcp_rustls(listener, identity.0)?
        .handle(handle)
        .serve(router(state).into_make_service_with_connect_info::<SocketAddr>())
        .await
}
