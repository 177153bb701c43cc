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

    /// The request is not one the endpoint understands: malformed JSON, wrong types, an
    /// unsupported version, a value out of range. `code` names the problem.
    ///
    /// Answered with `400 Bad Request`.
    #[error("bad request ({code}): {message}")]
    BadRequest {
        /// Machine-readable, e.g. `malformed_json`, `invalid_utf8`, `unsupported_version`.
        code: &'static str,
        /// For a person; never holds internals.
        message: String,
    },

    /// The request carries no usable device token: missing, unknown, expired or revoked.
    ///
    /// Answered with `401 Unauthorized`, code `missing_token`, `invalid_token`, `token_expired`
    /// or `token_revoked`.
    #[error("unauthorized ({0})")]
    Unauthorized(&'static str),

    /// Display name or password is wrong. Which of the two is not said.
    ///
    /// Answered with `401 Unauthorized`, code `invalid_credentials`.
    #[error("invalid credentials")]
    InvalidCredentials,

    /// The caller is signed in but may not do this (a contributor changing roles, someone
    /// else's task or device).
    ///
    /// Answered with `403 Forbidden`, code `forbidden`.
    #[error("forbidden")]
    Forbidden,

    /// The request conflicts with what exists, e.g. a display name already taken.
    ///
    /// Answered with `409 Conflict`.
    #[error("conflict ({code})")]
    Conflict {
        /// Machine-readable, e.g. `display_name_taken`.
        code: &'static str,
        /// For a person.
        message: String,
    },

    /// The request body is larger than the server accepts.
    ///
    /// Answered with `413 Payload Too Large`, code `payload_too_large`.
    #[error("request body over {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },

    /// The request body is not declared as JSON.
    ///
    /// Answered with `415 Unsupported Media Type`, code `unsupported_media_type`.
    #[error("request body is not application/json")]
    UnsupportedMediaType,

    /// The account or device sent more than its share; retry after the given seconds.
    ///
    /// Answered with `429 Too Many Requests`, code `rate_limited`, and `Retry-After`.
    #[error("rate limited for {retry_after_s} s")]
    RateLimited {
        /// Seconds until the request would fit.
        retry_after_s: u64,
    },

    /// Too many sign-ups or sign-ins from one address, or too many failed sign-ins for one
    /// name; retry after the given seconds.
    ///
    /// Answered with `429 Too Many Requests`, code `too_many_attempts`, and `Retry-After`.
    #[error("too many attempts; retry in {retry_after_s} s")]
    TooManyAttempts {
        /// Seconds until an attempt is allowed again.
        retry_after_s: u64,
    },

    /// Every password-hashing slot stayed busy for the whole wait; retry after the given seconds.
    ///
    /// Answered with `503 Service Unavailable`, code `busy`, and `Retry-After`.
    #[error("busy; retry in {retry_after_s} s")]
    Busy {
        /// Seconds to wait before retrying.
        retry_after_s: u64,
    },

    /// Something inside the server failed that is not the database (a worker thread died).
    ///
    /// Answered with `500 Internal Server Error`, code `internal`.
    #[error("internal error: {0}")]
    Internal(String),

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
    /// Whether the database refused a transaction because a concurrent one got there first (a
    /// unique key taken meanwhile, a serialization failure or a deadlock): running it again
    /// sees the other's result.
    pub fn is_transaction_conflict(&self) -> bool {
        match self {
            Error::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("23505" | "40001" | "40P01"))
            }
            _ => false,
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) | Error::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Error::Forbidden => StatusCode::FORBIDDEN,
            Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::RateLimited { .. } | Error::TooManyAttempts { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Error::DatabaseUnavailable(_) | Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable, machine-readable code in the response body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::BadRequest { code, .. } | Error::Conflict { code, .. } => code,
            Error::Unauthorized(code) => code,
            Error::InvalidCredentials => "invalid_credentials",
            Error::Forbidden => "forbidden",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::UnsupportedMediaType => "unsupported_media_type",
            Error::RateLimited { .. } => "rate_limited",
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::Busy { .. } => "busy",
            Error::DatabaseUnavailable(_) => "database_unavailable",
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => "internal",
        }
    }

    /// The message in the response body: written for the client, free of internals.
    fn public_message(&self) -> String {
        match self {
            Error::NotFound => "no such resource".to_owned(),
            Error::BadRequest { message, .. } | Error::Conflict { message, .. } => message.clone(),
            Error::Unauthorized("missing_token") => {
                "sign in: send the device token as `Authorization: Bearer <token>`".to_owned()
            }
            Error::Unauthorized("token_expired") => {
                "this device's token has expired; sign in again".to_owned()
            }
            Error::Unauthorized("token_revoked") => {
                "this device's token was revoked; sign in again".to_owned()
            }
            Error::Unauthorized(_) => "the device token is not valid".to_owned(),
            Error::InvalidCredentials => "wrong display name or password".to_owned(),
            Error::Forbidden => "you may not do this".to_owned(),
            Error::PayloadTooLarge { limit } => {
                format!("the request body is larger than {limit} bytes")
            }
            Error::UnsupportedMediaType => {
                "send the body as JSON with `Content-Type: application/json`".to_owned()
            }
            Error::RateLimited { retry_after_s } => {
                format!("too many contributions at once; try again in {retry_after_s} s")
            }
            Error::TooManyAttempts { retry_after_s } => format!(
                "too many sign-ups or sign-ins from here or for this name; try again in \
                 {retry_after_s} s"
            ),
            Error::Busy { retry_after_s } => {
                format!("the server is busy; try again in {retry_after_s} s")
            }
            Error::DatabaseUnavailable(_) => {
                "the server cannot reach its database right now; try again later".to_owned()
            }
            Error::Database(_) | Error::Migrate(_) | Error::Internal(_) => {
                "internal server error".to_owned()
            }
        }
    }

    /// A `400` with the given code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// Stable and machine-readable, e.g. `invalid_token`, `payload_too_large`.
    code: &'static str,
    /// For a person; never holds the server's internals.
    message: String,
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
        let mut response = (status, Json(body)).into_response();
        if let Error::RateLimited { retry_after_s }
        | Error::TooManyAttempts { retry_after_s }
        | Error::Busy { retry_after_s } = self
        {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after_s),
            );
        }
        response
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
