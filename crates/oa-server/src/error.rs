//! The server's one error type, and how each kind of failure is shown to a client.
//!
//! Handlers return [`Result`]; axum turns an [`Error`] into a response through [`IntoResponse`].
//! The client always gets a JSON body `{ "code": ..., "message": ... }` with a fixed, client-safe
//! message: database errors and other internals are logged here and never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A `Result` whose error is the server's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while the server handles a request or prepares its database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No route or resource matches the request.
    ///
    /// Answered with `404 Not Found`, code `not_found`.
    #[error("not found")]
    NotFound,

    /// The database cannot be reached right now (no connection within the pool's timeout, the
    /// network failed, or the pool was closed). Retrying later may succeed.
    ///
    /// Answered with `503 Service Unavailable`, code `database_unavailable`.
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] sqlx::Error),

    /// The database answered with an error the server did not expect.
    ///
    /// Answered with `500 Internal Server Error`, code `internal`.
    #[error("database error")]
    Database(#[source] sqlx::Error),

    /// Applying the schema migrations failed. Happens at start-up (`migrate`, `serve`), not while
    /// serving requests.
    ///
    /// Answered with `500 Internal Server Error`, code `internal`.
    #[error("applying database migrations failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        // A client can do something useful with "try again later" (503), but not with the details
        // of a failed query, so only the reachability errors get their own status.
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => Error::DatabaseUnavailable(error),
            other => Error::Database(other),
        }
    }
}

impl Error {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::DatabaseUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Migrate(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code in the response body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::DatabaseUnavailable(_) => "database_unavailable",
            Error::Database(_) | Error::Migrate(_) => "internal",
        }
    }

    /// The message in the response body: written for the client, free of internals.
    fn public_message(&self) -> &'static str {
        match self {
            Error::NotFound => "no such resource",
            Error::DatabaseUnavailable(_) => {
                "the server cannot reach its database right now; try again later"
            }
            Error::Database(_) | Error::Migrate(_) => "internal server error",
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize)]
struct ErrorBody {
    code: &'static str,
    message: &'static str,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        // The details stay in the operator's log; the chain names the underlying cause.
        if status.is_server_error() {
            tracing::error!(error = %ErrorChain(&self), code = self.code(), "request failed");
        }
        let body = ErrorBody {
            code: self.code(),
            message: self.public_message(),
        };
        (status, Json(body)).into_response()
    }
}

/// Displays an error followed by each of its sources, `: `-separated, for the log.
pub(crate) struct ErrorChain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: Error) -> (StatusCode, serde_json::Value) {
        let response = error.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("an error body is small and in memory");
        let json = serde_json::from_slice(&bytes).expect("error bodies are JSON");
        (status, json)
    }

    #[tokio::test]
    async fn not_found_is_404_with_code() {
        let (status, body) = body_of(Error::NotFound).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["message"], "no such resource");
    }

    #[tokio::test]
    async fn unreachable_database_is_503_and_retryable() {
        let (status, body) = body_of(Error::from(sqlx::Error::PoolTimedOut)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "database_unavailable");
    }

    #[tokio::test]
    async fn database_internals_never_reach_the_client() {
        let secret = "relation \"accounts\" does not exist at password=hunter2";
        let error = Error::from(sqlx::Error::Protocol(secret.to_owned()));
        assert!(matches!(error, Error::Database(_)));
        let (status, body) = body_of(error).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
        assert_eq!(body["message"], "internal server error");
        assert!(!body.to_string().contains("hunter2"));
        assert!(!body.to_string().contains("accounts"));
    }

    #[test]
    fn chain_shows_the_cause_for_the_log() {
        let error = Error::from(sqlx::Error::Protocol("unexpected message".to_owned()));
        let shown = ErrorChain(&error).to_string();
        assert!(shown.starts_with("database error: "), "{shown}");
        assert!(shown.contains("unexpected message"), "{shown}");
    }
}
