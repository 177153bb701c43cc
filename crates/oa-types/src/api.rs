//! The local API's settings and state, as the Settings panel and the `oa serve` command see
//! them: whether it is on, where it listens, its key, and whether its conversations are kept.

use serde::{Deserialize, Serialize};

/// The port the local API listens on unless the person chose another.
pub const DEFAULT_API_PORT: u16 = 4315;

/// The source under which conversations held through the local API are kept in the history.
pub const API_SOURCE: &str = "api";

/// How the local API is set up.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiSettings {
    /// The app serves the API while it runs.
    pub enabled: bool,
    /// The TCP port.
    pub port: u16,
    /// Listen on every network interface, not only on this computer's own (127.0.0.1); the
    /// key is then always required.
    pub beyond_loopback: bool,
    /// Ask for the key from programs on this computer too.
    pub require_key_on_loopback: bool,
    /// The key programs send as `Authorization: Bearer <key>`.
    pub key: String,
    /// Keep the API's conversations in the history, under their own source, so that they can
    /// be rated, corrected and shared like chats.
    pub keep_history: bool,
    /// Web pages (origins such as `http://localhost:3000`) allowed to call the API from a
    /// browser; none by default, and never every origin.
    pub allowed_origins: Vec<String>,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            enabled: false,
            port: DEFAULT_API_PORT,
            beyond_loopback: false,
            require_key_on_loopback: false,
            key: String::new(),
            keep_history: false,
            allowed_origins: Vec::new(),
        }
    }
}

impl std::fmt::Debug for ApiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiSettings")
            .field("enabled", &self.enabled)
            .field("port", &self.port)
            .field("beyond_loopback", &self.beyond_loopback)
            .field("require_key_on_loopback", &self.require_key_on_loopback)
            .field("key", &"<redacted>")
            .field("keep_history", &self.keep_history)
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

impl ApiSettings {
    /// Why these settings cannot be kept, in words a person can act on; `None` when they can.
    pub fn problem(&self) -> Option<String> {
        if self.port < 1024 {
            return Some(format!(
                "Port {} is reserved for the system; choose one from 1024 to 65535.",
                self.port
            ));
        }
        for origin in &self.allowed_origins {
            if let Some(problem) = origin_problem(origin) {
                return Some(problem);
            }
        }
        None
    }

    /// Whether a request must carry the key.
    pub fn key_required(&self) -> bool {
        self.beyond_loopback || self.require_key_on_loopback
    }
}

/// Why `origin` cannot be allowed: it must be a scheme and a host (and port), as browsers send
/// it in `Origin`, and never `*`.
pub fn origin_problem(origin: &str) -> Option<String> {
    if origin.trim() == "*" {
        return Some(
            "Every origin (*) cannot be allowed: any web page could then drive the model. \
             Name each page's origin, such as http://localhost:3000."
                .into(),
        );
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Some(format!(
            "{origin:?} is not an origin; write it as a browser sends it, such as \
             http://localhost:3000."
        ));
    };
    let host_ok = !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' ', '*', '@'])
        && rest.chars().all(|c| c.is_ascii_graphic());
    if !matches!(scheme, "http" | "https") || !host_ok {
        return Some(format!(
            "{origin:?} is not an origin; write it as a browser sends it, such as \
             http://localhost:3000."
        ));
    }
    None
}

/// The local API as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStatus {
    /// How it is set up.
    pub settings: ApiSettings,
    /// The address it serves, such as `http://127.0.0.1:4315/v1`, while it does.
    pub listening: Option<String>,
    /// Why it does not serve although it is on (the port is taken, say).
    pub problem: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let settings = ApiSettings {
            key: "oa-sk-secret".into(),
            ..Default::default()
        };
        assert!(!format!("{settings:?}").contains("oa-sk-secret"));
    }

    #[test]
    fn every_origin_and_non_origins_are_refused() {
        for bad in [
            "*",
            "localhost:3000",
            "http://a.example/path",
            "ftp://x",
            "http://",
        ] {
            assert!(origin_problem(bad).is_some(), "{bad}");
        }
        for good in ["http://localhost:3000", "https://tools.example.org"] {
            assert_eq!(origin_problem(good), None, "{good}");
        }
        let settings = ApiSettings {
            allowed_origins: vec!["*".into()],
            ..Default::default()
        };
        assert!(settings.problem().unwrap().contains("(*)"));
    }
}
