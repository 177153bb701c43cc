//! [`ServerClient`]: one dataset server, at one base URL, reached over TLS.
//!
//! What the client trusts: TLS with the platform's roots (plus a CA file the person names, for a
//! self-hosted server); plain `http://` only to this computer; redirects only within the same
//! scheme, host and port; answers only up to [`MAX_RESPONSE_BYTES`]. A server that breaks any of
//! these gets a typed [`Error`], never a hang or unbounded memory.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

use oa_types::{
    ContributorStats, DeviceSession, EventResult, HealthReport, HealthStatus, INGEST_VERSION,
    IngestRequest, IngestResponse, Leaderboard, LeaderboardWindow, LeaseRequest, LoginRequest,
    MAX_EVENTS_PER_BATCH, RegisterRequest, SubmittedEvent, TaskList, Uuid,
};
use reqwest::header::RETRY_AFTER;
use reqwest::redirect::{Attempt, Policy};
use reqwest::{Certificate, RequestBuilder, Response, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// How long to wait for a TCP connection: long enough for a slow mobile link, short enough that
/// an offline laptop gives up quickly and keeps its events for later.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a whole request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest piece of an error body that ends up in an [`Error::Status`] message.
const MAX_MESSAGE_CHARS: usize = 300;

/// How long to wait after a `429` that names no time.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The largest answer body read: far above any honest answer (a page of tasks with their
/// conversations), small enough that a hostile server cannot fill the laptop's memory.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The most of an error answer's body read for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Redirects followed within the same origin before giving up.
const MAX_REDIRECTS: usize = 5;

/// A client of one dataset server.
///
/// Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct ServerClient {
    base: Url,
    http: reqwest::Client,
}

/// What the server said about its own health.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerHealth {
    /// The newest database migration the server has applied; tells which protocol features the
    /// server can have.
    pub schema_version: i64,
}

/// The parts of an error body this client understands: the server's `{ code, message }`, or a
/// failed health check's `{ status, database }`.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    message: Option<String>,
    database: Option<String>,
}

impl ServerClient {
    /// A client for the server at `base_url`, e.g. `https://oa.example.org` or
    /// `http://127.0.0.1:8080/`. A path is kept (`https://example.org/oa/` serves under `/oa/`).
    ///
    /// Fails with [`Error::InvalidUrl`] for anything that is not a plain `http`/`https` URL with a
    /// host, and for URLs with credentials, a query or a fragment: devices authenticate with a
    /// token, and a password in a URL ends up in logs.
    ///
    /// `http://` is accepted only for a server on this computer (`localhost`, `127.0.0.0/8`,
    /// `::1`): anywhere else the password and the device token would cross the network in
    /// clear text.
    pub fn new(base_url: &str) -> Result<Self> {
        Self::with_ca_file(base_url, None)
    }

    /// Like [`ServerClient::new`], trusting the certificate authorities in the PEM file `ca_file`
    /// as well as the platform's, for a self-hosted server with its own CA. A file that cannot
    /// be read or holds no certificate is [`Error::InvalidCaFile`].
    pub fn with_ca_file(base_url: &str, ca_file: Option<&Path>) -> Result<Self> {
        let base = parse_base_url(base_url)?;
        let extra_roots = match ca_file {
            Some(path) => read_ca_file(path)?,
            None => Vec::new(),
        };
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("oa-sync/", env!("CARGO_PKG_VERSION")))
            .redirect(Policy::custom(same_origin_only))
            .tls_certs_merge(extra_roots)
            .build()
            .map_err(Error::ClientSetup)?;
        Ok(ServerClient { base, http })
    }

    /// The server's base URL, always ending in `/`.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// Asks the server whether it can serve (`GET /healthz`).
    ///
    /// A server that answers but cannot reach its database is an [`Error::Status`] with `503`
    /// and the server's reason; no answer at all is [`Error::Unreachable`].
    pub async fn health(&self) -> Result<ServerHealth> {
        let response = self.send(self.http.get(self.endpoint("healthz"))).await?;
        let body: HealthReport = self.decode(response, "/healthz").await?;
        match (body.status, body.schema_version) {
            (HealthStatus::Ok, Some(schema_version)) => Ok(ServerHealth { schema_version }),
            (status, _) => Err(Error::InvalidResponse {
                reason: format!(
                    "/healthz answered success with status {status:?}, database {:?} and no \
                     schema version",
                    body.database
                ),
            }),
        }
    }

    /// Creates an account and signs this device in (`POST /v1/accounts`). A name already taken
    /// is an [`Error::Status`] `409` with the server's explanation.
    pub async fn register(&self, request: &RegisterRequest) -> Result<DeviceSession> {
        let response = self
            .send(self.http.post(self.endpoint("v1/accounts")).json(request))
            .await?;
        self.decode(response, "/v1/accounts").await
    }

    /// Signs this device in to an existing account (`POST /v1/sessions`); a wrong name or
    /// password is [`Error::Unauthorized`].
    pub async fn log_in(&self, request: &LoginRequest) -> Result<DeviceSession> {
        let response = self
            .send(self.http.post(self.endpoint("v1/sessions")).json(request))
            .await?;
        self.decode(response, "/v1/sessions").await
    }

    /// Signs this device out: the server revokes its token (`DELETE /v1/devices/{id}`), so a
    /// copy of it left anywhere is useless.
    pub async fn log_out(&self, session: &DeviceSession) -> Result<()> {
        let path = format!("v1/devices/{}", session.device_id);
        self.send(
            self.http
                .delete(self.endpoint(&path))
                .bearer_auth(&session.token),
        )
        .await?;
        Ok(())
    }

    /// Sends one batch of contribution events (`POST /v1/events`) and returns what became of
    /// each, in order: accepted, duplicate (already stored, so a retry is harmless) or rejected
    /// with the server's reason.
    ///
    /// A flood is [`Error::RateLimited`] with the time to wait; a revoked or expired token is
    /// [`Error::Unauthorized`]. More than [`MAX_EVENTS_PER_BATCH`] events is
    /// [`Error::BatchTooLarge`], before anything is sent.
    pub async fn ingest(&self, token: &str, events: &[SubmittedEvent]) -> Result<Vec<EventResult>> {
        if events.len() > MAX_EVENTS_PER_BATCH {
            return Err(Error::BatchTooLarge {
                events: events.len(),
                max: MAX_EVENTS_PER_BATCH,
            });
        }
        let request = IngestRequest {
            version: INGEST_VERSION,
            events: events.to_vec(),
        };
        let response = self
            .send(
                self.http
                    .post(self.endpoint("v1/events"))
                    .bearer_auth(token)
                    .json(&request),
            )
            .await?;
        let answer: IngestResponse = self.decode(response, "/v1/events").await?;
        let in_order = answer.results.len() == events.len()
            && answer.results.iter().zip(events).all(|(r, e)| r.id == e.id);
        if !in_order {
            return Err(Error::InvalidResponse {
                reason: format!(
                    "/v1/events answered {} results for {} events, or not in their order",
                    answer.results.len(),
                    events.len()
                ),
            });
        }
        Ok(answer.results)
    }

    /// The leaderboard for `window` (`GET /v1/leaderboard`), best first.
    pub async fn leaderboard(&self, token: &str, window: LeaderboardWindow) -> Result<Leaderboard> {
        let mut url = self.endpoint("v1/leaderboard");
        url.query_pairs_mut().append_pair("window", window.as_str());
        let response = self.send(self.http.get(url).bearer_auth(token)).await?;
        self.decode(response, "/v1/leaderboard").await
    }

    /// The signed-in contributor's own standing (`GET /v1/me/stats`).
    pub async fn my_stats(&self, token: &str) -> Result<ContributorStats> {
        let response = self
            .send(
                self.http
                    .get(self.endpoint("v1/me/stats"))
                    .bearer_auth(token),
            )
            .await?;
        self.decode(response, "/v1/me/stats").await
    }

    /// Leases up to `request.count` tasks to do, possibly offline (`POST /v1/tasks/lease`).
    pub async fn lease_tasks(&self, token: &str, request: &LeaseRequest) -> Result<TaskList> {
        let response = self
            .send(
                self.http
                    .post(self.endpoint("v1/tasks/lease"))
                    .bearer_auth(token)
                    .json(request),
            )
            .await?;
        self.decode(response, "/v1/tasks/lease").await
    }

    /// Gives a leased task back undone (`POST /v1/tasks/{id}/skip`).
    pub async fn skip_task(&self, token: &str, task: Uuid) -> Result<()> {
        let path = format!("v1/tasks/{task}/skip");
        self.send(self.http.post(self.endpoint(&path)).bearer_auth(token))
            .await?;
        Ok(())
    }

    /// Sends a request; a non-success status becomes the matching [`Error`].
    async fn send(&self, request: RequestBuilder) -> Result<Response> {
        let response = request
            .send()
            .await
            .map_err(|source| self.request_failed(source))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs);
        let body = match read_bounded(response, MAX_ERROR_BODY_BYTES).await {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            // Only the message is lost: the status still says what happened.
            Err(_) => String::new(),
        };
        let message = status_message(status, &body);
        Err(match status {
            StatusCode::UNAUTHORIZED => Error::Unauthorized { message },
            StatusCode::TOO_MANY_REQUESTS => Error::RateLimited {
                retry_after,
                message,
            },
            _ => Error::Status {
                status: status.as_u16(),
                message,
            },
        })
    }

    /// The body of a successful answer from `what`, as `T`.
    async fn decode<T: DeserializeOwned>(&self, response: Response, what: &str) -> Result<T> {
        let body =
            read_bounded(response, MAX_RESPONSE_BYTES)
                .await
                .map_err(|error| match error {
                    BodyError::TooLarge => Error::ResponseTooLarge {
                        what: what.to_owned(),
                        limit: MAX_RESPONSE_BYTES,
                    },
                    // The connection broke while the body was on its way.
                    BodyError::Network(source) => self.request_failed(source),
                })?;
        serde_json::from_slice(&body).map_err(|error| Error::InvalidResponse {
            reason: format!("{what} did not answer as this client expects: {error}"),
        })
    }

    fn endpoint(&self, path: &str) -> Url {
        // `path` is one of ours, relative and well formed, and `base` ends in `/`.
        self.base
            .join(path)
            .expect("a relative path joins onto a base URL")
    }

    /// A request that got no usable answer: a redirect this client refuses, or no answer.
    fn request_failed(&self, source: reqwest::Error) -> Error {
        if source.is_redirect() {
            // The policy's own error names where the redirect pointed.
            let mut cause = std::error::Error::source(&source);
            let mut to = "another address".to_owned();
            while let Some(error) = cause {
                if let Some(target) = error.downcast_ref::<RedirectTarget>() {
                    to = target.0.clone();
                    break;
                }
                cause = error.source();
            }
            return Error::RedirectRefused {
                from: origin_of(&self.base),
                to,
            };
        }
        Error::Unreachable {
            url: self.base.to_string(),
            source: source.without_url(),
        }
    }
}

/// rustls needs one crypto provider per process; ours is ring (hf-hub's client uses it too).
/// Installing fails harmlessly when another part of the program installed one first.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The certificates of a PEM file of certificate authorities.
fn read_ca_file(path: &Path) -> Result<Vec<Certificate>> {
    let invalid = |reason: String| Error::InvalidCaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|error| invalid(error.to_string()))?;
    let certificates = Certificate::from_pem_bundle(&pem).map_err(|error| {
        invalid(format!(
            "it is not a PEM file of certificates ({})",
            error.without_url()
        ))
    })?;
    if certificates.is_empty() {
        return Err(invalid(
            "it holds no certificate (-----BEGIN CERTIFICATE-----)".to_owned(),
        ));
    }
    Ok(certificates)
}

/// The redirect policy: follow a few redirects that stay on the same scheme, host and port (a
/// moved path), refuse any other, so a token never goes to another server or over plain HTTP.
fn same_origin_only(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let Some(first) = attempt.previous().first() else {
        return attempt.stop();
    };
    let same_origin = attempt.url().scheme() == first.scheme()
        && attempt.url().host_str() == first.host_str()
        && attempt.url().port_or_known_default() == first.port_or_known_default();
    if !same_origin {
        let target = RedirectTarget(origin_of(attempt.url()));
        return attempt.error(target);
    }
    if attempt.previous().len() > MAX_REDIRECTS {
        return attempt.error("too many redirects");
    }
    attempt.follow()
}

/// The origin a refused redirect pointed to, carried through reqwest's error.
#[derive(Debug)]
struct RedirectTarget(String);

impl std::fmt::Display for RedirectTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a redirect to {} was refused", self.0)
    }
}

impl std::error::Error for RedirectTarget {}

/// `scheme://host:port` of a URL: what a message may show of it (no path, query or user).
fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Why a body was not read whole.
enum BodyError {
    TooLarge,
    Network(reqwest::Error),
}

/// Reads a body of at most `limit` bytes. A longer one stops being read at the limit, so that
/// memory stays bounded whatever the server sends (or claims in `Content-Length`).
async fn read_bounded(mut response: Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Network)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether a host is this computer, where plain HTTP never crosses a network.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return ip.is_loopback();
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

fn parse_base_url(input: &str) -> Result<Url> {
    let invalid = |reason: String| Error::InvalidUrl { reason };
    let input = input.trim();
    if input.is_empty() {
        return Err(invalid("it is empty".to_owned()));
    }
    let mut url = Url::parse(input).map_err(|error| invalid(error.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(invalid(format!(
                "it must start with http:// or https://, not {other}:"
            )));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it has no host".to_owned()));
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err(invalid(
            "http:// is only for a server on this computer; use https:// so that your password \
             and contributions are encrypted on the way"
                .to_owned(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it must not contain a user name or password".to_owned(),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "it must not have a query (?...) or fragment (#...)".to_owned(),
        ));
    }
    // Without the trailing slash, joining "healthz" onto `https://example.org/oa` would replace
    // `oa` instead of going below it.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The most useful message an error response carries, shortened for display.
fn status_message(status: reqwest::StatusCode, body: &str) -> String {
    let from_body = match serde_json::from_str::<ErrorBody>(body) {
        Ok(ErrorBody {
            message: Some(message),
            ..
        }) => message,
        Ok(ErrorBody {
            database: Some(reason),
            ..
        }) => format!("its database is unavailable ({reason})"),
        // Not this server's JSON, e.g. a proxy's HTML page.
        _ => body.trim().to_owned(),
    };
    if from_body.is_empty() {
        return status
            .canonical_reason()
            .unwrap_or("no explanation given")
            .to_owned();
    }
    match from_body.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &from_body[..cut]),
        None => from_body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(input: &str) -> String {
        match ServerClient::new(input) {
            Err(Error::InvalidUrl { reason }) => reason,
            other => panic!("{input:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn base_url_gains_a_trailing_slash_so_paths_stay_below_it() {
        let client = ServerClient::new(" https://example.org/oa ").unwrap();
        assert_eq!(client.base_url(), "https://example.org/oa/");
        assert_eq!(
            client.endpoint("healthz").as_str(),
            "https://example.org/oa/healthz"
        );
        let root = ServerClient::new("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            root.endpoint("healthz").as_str(),
            "http://127.0.0.1:8080/healthz"
        );
    }

    #[test]
    fn unusable_urls_are_rejected_with_a_reason() {
        assert_eq!(reason(""), "it is empty");
        assert!(reason("example.org").contains("relative URL"));
        assert!(reason("ftp://example.org").contains("http://"));
        assert!(reason("https://user:pw@example.org").contains("password"));
        assert!(reason("https://example.org/?token=1").contains("query"));
        assert!(reason("http://example.org").contains("https://"));
        assert!(reason("http://192.168.1.20:8080").contains("https://"));
        assert!(reason("http://localhost.example.org").contains("https://"));
    }

    #[test]
    fn plain_http_is_accepted_only_on_this_computer() {
        for local in [
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://[::1]:8080",
            "http://localhost:8080",
            "http://LOCALHOST.",
            "http://oa.localhost",
        ] {
            assert!(ServerClient::new(local).is_ok(), "{local}");
        }
        assert!(ServerClient::new("https://example.org").is_ok());
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let error = ServerClient::with_ca_file("https://example.org", Some(&missing)).unwrap_err();
        assert!(matches!(error, Error::InvalidCaFile { .. }), "{error}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = ServerClient::with_ca_file("https://example.org", Some(&empty)).unwrap_err();
        assert!(error.to_string().contains("no certificate"), "{error}");
    }

    #[test]
    fn rejected_url_is_not_repeated_in_the_message() {
        let error = ServerClient::new("ftp://alice:s3cret@example.org").unwrap_err();
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn error_bodies_become_readable_messages() {
        let status = reqwest::StatusCode::SERVICE_UNAVAILABLE;
        assert_eq!(
            status_message(
                status,
                r#"{"code":"database_unavailable","message":"try later"}"#
            ),
            "try later"
        );
        assert_eq!(
            status_message(status, r#"{"status":"unavailable","database":"timed out"}"#),
            "its database is unavailable (timed out)"
        );
        assert_eq!(status_message(status, ""), "Service Unavailable");
        let page = "x".repeat(1000);
        assert_eq!(
            status_message(status, &page).chars().count(),
            MAX_MESSAGE_CHARS + 1
        );
    }
}
