//! `GET /healthz`: whether the server can serve, for load balancers, monitors and the sync client.
//!
//! The check is real: it runs `SELECT 1` on the pool and reads the schema version that the
//! migrations left, under a short timeout so that a hung database turns into a prompt `503`
//! instead of a hung probe.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use oa_types::{HealthReport, HealthStatus};

use crate::AppState;
use crate::error::ErrorChain;

/// How long the whole database check may take before the server reports itself unavailable.
/// Probes usually time out after a few seconds; answering before they do gives a useful reason.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the database check failed, worded for an operator reading a probe's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unhealthy {
    TimedOut,
    Unreachable,
    DatabaseMissing,
    AuthenticationFailed,
    NotMigrated,
    Failed,
}

impl Unhealthy {
    fn reason(self) -> &'static str {
        match self {
            Unhealthy::TimedOut => "timed out",
            Unhealthy::Unreachable => "unreachable",
            Unhealthy::DatabaseMissing => "database does not exist",
            Unhealthy::AuthenticationFailed => "authentication failed",
            Unhealthy::NotMigrated => "schema not migrated",
            Unhealthy::Failed => "query failed",
        }
    }

    fn classify(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::PoolTimedOut => Unhealthy::TimedOut,
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
                Unhealthy::Unreachable
            }
            sqlx::Error::Database(db) => match db.code().as_deref() {
                // invalid_catalog_name: the database in the URL is gone or was never created.
                Some("3D000") => Unhealthy::DatabaseMissing,
                // invalid_password, invalid_authorization_specification.
                Some("28P01") | Some("28000") => Unhealthy::AuthenticationFailed,
                // undefined_table: `_sqlx_migrations` does not exist yet.
                Some("42P01") => Unhealthy::NotMigrated,
                // admin_shutdown, crash_shutdown, cannot_connect_now: the server is going away.
                Some("57P01") | Some("57P02") | Some("57P03") => Unhealthy::Unreachable,
                _ => Unhealthy::Failed,
            },
            _ => Unhealthy::Failed,
        }
    }
}

/// `GET /healthz`: answers `200` with the schema version, or `503` with a short reason.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "service",
    responses(
        (status = 200, description = "The server and its database can serve", body = HealthReport),
        (status = 503, description = "They cannot; `database` says why", body = HealthReport),
    )
)]
pub(crate) async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let outcome = match tokio::time::timeout(HEALTH_TIMEOUT, check(&state)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(Unhealthy::TimedOut),
    };
    match outcome {
        Ok(version) => (
            StatusCode::OK,
            Json(HealthReport {
                status: HealthStatus::Ok,
                database: "ok".to_owned(),
                schema_version: Some(version),
            }),
        ),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthReport {
                status: HealthStatus::Unavailable,
                database: why.reason().to_owned(),
                schema_version: None,
            }),
        ),
    }
}

/// Runs the check on one connection and returns the latest applied migration version.
async fn check(state: &AppState) -> Result<i64, Unhealthy> {
    let logged = |error: sqlx::Error| {
        let why = Unhealthy::classify(&error);
        tracing::warn!(error = %ErrorChain(&error), reason = why.reason(), "health check failed");
        why
    };
    let mut conn = state.pool().acquire().await.map_err(logged)?;
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut *conn)
        .await
        .map_err(logged)?;
    let version = sqlx::query_scalar::<_, Option<i64>>(
        "SELECT max(version) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(logged)?;
    version.ok_or(Unhealthy::NotMigrated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_report_has_the_documented_shape() {
        let report = HealthReport {
            status: HealthStatus::Ok,
            database: "ok".to_owned(),
            schema_version: Some(1),
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({ "status": "ok", "database": "ok", "schema_version": 1 })
        );
    }

    #[test]
    fn unavailable_report_omits_the_version() {
        let report = HealthReport {
            status: HealthStatus::Unavailable,
            database: Unhealthy::Unreachable.reason().to_owned(),
            schema_version: None,
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            serde_json::json!({ "status": "unavailable", "database": "unreachable" })
        );
    }

    #[test]
    fn pool_errors_map_to_operator_reasons() {
        assert_eq!(
            Unhealthy::classify(&sqlx::Error::PoolTimedOut),
            Unhealthy::TimedOut
        );
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(
            Unhealthy::classify(&sqlx::Error::Io(refused)),
            Unhealthy::Unreachable
        );
        assert_eq!(
            Unhealthy::classify(&sqlx::Error::RowNotFound),
            Unhealthy::Failed
        );
    }
}
