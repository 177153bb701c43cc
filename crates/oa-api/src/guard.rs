//! Who may call the API: the Host header must name this computer (a web page that rebinds its
//! own domain to 127.0.0.1 sends its domain, and is refused), an Origin header must be one the
//! person allowed (a page on another origin is refused before anything runs, not merely kept
//! from reading the answer), and the key must be sent whenever it is required. Preflight
//! requests of allowed origins are answered here.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// What the guard checks requests against.
#[derive(Clone)]
pub struct Guard {
    /// The port served, which a Host header with a port must name.
    pub port: u16,
    /// The server listens beyond loopback: any IP address may then name it in Host.
    pub beyond_loopback: bool,
    /// The key every request must carry, when one is required.
    pub required_key: Option<String>,
    /// Origins allowed to call from a browser (exact, as browsers send them).
    pub allowed_origins: Vec<String>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("port", &self.port)
            .field("beyond_loopback", &self.beyond_loopback)
            .field("key_required", &self.required_key.is_some())
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl Guard {
    fn host_allowed(&self, host: &str) -> bool {
        let (name, port) = split_host(host);
        if port.is_some_and(|p| p != self.port) {
            return false;
        }
        let name = name.to_ascii_lowercase();
        let name = name.trim_end_matches('.');
        if matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
            return true;
        }
        // An address typed by hand names no domain a web page could rebind; a name could be
        // anyone's.
        self.beyond_loopback
            && name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok()
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    fn key_ok(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(key) = &self.required_key else {
            return Ok(());
        };
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match sent {
            None => Err(ApiError::unauthorized(
                "This API needs a key: send it as `Authorization: Bearer <key>`. The key is \
                 under Settings → Local API in the app, or printed by `oa serve`.",
            )),
            Some(sent) if bool::from(sent.as_bytes().ct_eq(key.as_bytes())) => Ok(()),
            Some(_) => Err(ApiError::unauthorized(
                "The API key is wrong; the current one is under Settings → Local API, or printed \
                 by `oa serve`.",
            )),
        }
    }
}

/// `host[:port]` or `[v6]:port` split into its name and port.
fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(end) = host.find(']') {
        let (name, rest) = host.split_at(end + 1);
        return (name, rest.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match host.rsplit_once(':') {
        Some((name, port)) => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (host, Some(0)),
        },
        None => (host, None),
    }
}

/// The middleware: refuses what the guard does not allow, answers allowed preflights, and adds
/// the CORS headers an allowed origin needs.
pub async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if guard.host_allowed(host) => {}
        Some(host) => {
            return ApiError::forbidden(
                format!(
                    "Host {host:?} is not this computer; the API answers requests to localhost \
                     or 127.0.0.1 only."
                ),
                "host_not_allowed",
            )
            .into_response();
        }
        None => {
            return ApiError::forbidden("The request names no Host.", "host_not_allowed")
                .into_response();
        }
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(origin) = &origin
        && !guard.origin_allowed(origin)
    {
        return ApiError::forbidden(
            format!(
                "Web pages from {origin} may not use this API. To allow one, add its origin \
                 under Settings → Local API (or `oa serve --allow-origin`)."
            ),
            "origin_not_allowed",
        )
        .into_response();
    }
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(origin) = &origin {
            cors(response.headers_mut(), origin);
            let h = response.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, OPTIONS"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
        }
        return response;
    }
    if let Err(e) = guard.key_ok(headers) {
        let mut response = e.into_response();
        if let Some(origin) = &origin {
            cors(response.headers_mut(), origin);
        }
        return response;
    }
    let mut response = next.run(request).await;
    if let Some(origin) = &origin {
        cors(response.headers_mut(), origin);
    }
    response
}

fn cors(headers: &mut HeaderMap, origin: &str) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(beyond_loopback: bool) -> Guard {
        Guard {
            port: 4315,
            beyond_loopback,
            required_key: Some("k".into()),
            allowed_origins: vec!["http://localhost:3000".into()],
        }
    }

    #[test]
    fn only_names_of_this_computer_pass_the_host_check() {
        let g = guard(false);
        for ok in [
            "localhost:4315",
            "127.0.0.1:4315",
            "[::1]:4315",
            "localhost",
            "LOCALHOST.",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example:4315",
            "localhost:80",
            "127.0.0.1.nip.io:4315",
            "192.168.1.5:4315",
            "localhost:4315x",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
        let wide = guard(true);
        assert!(wide.host_allowed("192.168.1.5:4315"));
        assert!(wide.host_allowed("[fe80::1]:4315"));
        assert!(!wide.host_allowed("rebind.example:4315"));
    }

    #[test]
    fn origins_match_exactly() {
        let g = guard(false);
        assert!(g.origin_allowed("http://localhost:3000"));
        assert!(!g.origin_allowed("http://localhost:3001"));
        assert!(!g.origin_allowed("null"));
        assert!(!g.origin_allowed("http://localhost:3000.evil.example"));
    }
}
