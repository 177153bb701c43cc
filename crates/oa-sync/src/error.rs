//! What can go wrong when the desktop app talks to the dataset server.

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a request to the dataset server failed.
///
/// The variants tell apart what the user can fix (a mistyped server URL), what fixes itself later
/// (the network or the server is down) and what the server refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configured server URL cannot be used. The URL itself is not repeated: it may hold
    /// credentials, and the user knows what they typed.
    #[error("invalid server URL: {reason}")]
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },

    /// The certificate-authority file named for a self-hosted server cannot be used.
    #[error("cannot use the CA file {}: {reason}", path.display())]
    InvalidCaFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The server redirected to another scheme, host or port. Nothing was sent there: a token
    /// must not follow a redirect to another server or to plain HTTP.
    #[error(
        "the server at {from} redirected to {to}; if that is the right server, set it as the \
         server address"
    )]
    RedirectRefused {
        /// The origin asked.
        from: String,
        /// Where it pointed.
        to: String,
    },

    /// The server's answer was larger than any honest answer; reading stopped at the limit.
    #[error("the answer to {what} was larger than {limit} bytes; it was not read")]
    ResponseTooLarge {
        /// The endpoint asked.
        what: String,
        /// The most read.
        limit: usize,
    },

    /// The HTTP client could not be set up (the system's network configuration was refused).
    #[error("cannot set up the HTTP client")]
    ClientSetup(#[source] reqwest::Error),

    /// No answer from the server: nothing listens there, the network is down, or it timed out.
    /// Worth retrying later.
    #[error("cannot reach the server at {url}")]
    Unreachable {
        /// The server's base URL.
        url: String,
        /// The underlying network error.
        #[source]
        source: reqwest::Error,
    },

    /// The server refused the credentials: a wrong name or password, or a device token that was
    /// revoked or has expired. The user has to sign in again.
    #[error("the server refused the sign-in: {message}")]
    Unauthorized {
        /// The server's explanation.
        message: String,
    },

    /// Too many contributions at once; nothing in the batch was stored. Send it again after
    /// `retry_after`.
    #[error("the server asks to wait {} s: {message}", retry_after.as_secs())]
    RateLimited {
        /// How long the server asks to wait.
        retry_after: std::time::Duration,
        /// The server's explanation.
        message: String,
    },

    /// A batch holds more events than the server takes at once; split it.
    #[error("a batch of {events} events is more than the {max} the server takes at once")]
    BatchTooLarge {
        /// Events in the batch.
        events: usize,
        /// The most a batch may hold.
        max: usize,
    },

    /// The server answered with an error status.
    #[error("the server answered {status}: {message}")]
    Status {
        /// The HTTP status code, e.g. `503`.
        status: u16,
        /// The server's own explanation, or the status's name when it gave none.
        message: String,
    },

    /// The server answered successfully, but not with what this client expects: another kind of
    /// server at that URL, or an incompatible version.
    #[error("the server's answer could not be understood: {reason}")]
    InvalidResponse {
        /// What did not match.
        reason: String,
    },
}
