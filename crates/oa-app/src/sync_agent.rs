//! The link to a dataset server and the background agent that sends what the person shared.
//!
//! The account lives in `<data>/account.json`, readable by its owner only (0600 on Unix): the
//! server URL, the display name and, while signed in, the device's bearer token. Nothing is
//! sent before the person sets a server and signs in. The server is reached over TLS with the
//! platform's roots, plus `<data>/server-ca.pem` (or `$OA_SERVER_CA_FILE`) for a self-hosted
//! server with its own CA; plain `http://` only to this computer. The agent ([`App::run_sync_agent`]) runs
//! on the async runtime and only awaits network and `spawn_blocking` store calls, so it never
//! holds up the UI or the engine. It sends whenever something is shared (it is woken), and
//! otherwise looks every [`IDLE`]; a failed round is retried after an exponential backoff with
//! jitter (1 s doubling up to 5 min), or after the wait a rate-limit answer names. Delivery is
//! at least once (`App::sync_now` marks a batch sent before the request); the server stores an
//! event id once, which makes it exactly once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oa_stdx::time::now_ms;
use oa_sync::ServerClient;
use oa_types::{
    AccountStatus, ConsentState, DeviceSession, LinkAccount, LoginRequest, RegisterRequest,
    SyncStatus,
};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::capitalize;
use crate::sync_state::SyncChanges;
use crate::{Error, Result};

/// How often the agent looks for work when nothing wakes it.
pub const IDLE: Duration = Duration::from_secs(30);
/// The first retry after a failure; each further failure doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// What `account.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Account {
    server_url: Option<String>,
    display_name: Option<String>,
    session: Option<DeviceSession>,
}

impl Account {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("account.json")
    }

    /// The stored account; none when there is no file. A damaged file is an error, so that a
    /// token is never silently dropped.
    fn load(data_dir: &Path) -> Result<Account> {
        let path = Account::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Internal(format!(
                    "{} is damaged ({e}); delete it and sign in again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Account::default()),
            Err(e) => Err(Error::Internal(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes the file whole, readable by its owner only.
    fn save(&self, data_dir: &Path) -> Result<()> {
        let path = Account::path(data_dir);
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Internal(format!("cannot encode the account: {e}")))?;
        oa_stdx::fs::write_private(&path, &json)
            .map_err(|e| Error::Internal(format!("cannot write {}: {e}", path.display())))
    }

    fn status(&self) -> AccountStatus {
        AccountStatus {
            server_url: self.server_url.clone(),
            display_name: self.session.as_ref().and(self.display_name.clone()),
        }
    }
}

/// The wait after `failures` failed rounds in a row: 1 s doubling up to 5 min, each wait
/// shortened by up to half at random so that many devices do not retry in step.
pub fn backoff(failures: u32, jitter: f64) -> Duration {
    let doubled = FIRST_BACKOFF.saturating_mul(1 << failures.saturating_sub(1).min(16));
    doubled
        .min(MAX_BACKOFF)
        .mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// How long to wait before trying again after `failures` failed rounds in a row, the last
/// ending in `error`: the wait a rate-limit answer names, else [`backoff`] with jitter, at most
/// `longest`. `None` when trying again cannot help until the person acts (signed out, token
/// revoked, the local database failing).
pub fn retry_wait(error: &Error, failures: u32, longest: Duration) -> Option<Duration> {
    match error {
        Error::Sync(oa_sync::Error::RateLimited { retry_after, .. }) => Some(*retry_after),
        Error::NotSignedIn | Error::Sync(oa_sync::Error::Unauthorized { .. }) | Error::Store(_) => {
            None
        }
        _ => Some(backoff(failures, jitter()).min(longest)),
    }
}

/// A number in [0, 1) that differs from call to call.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

impl App {
    /// The server this device is linked to, and as whom.
    pub fn account(&self) -> Result<AccountStatus> {
        Ok(Account::load(&self.config().data_dir)?.status())
    }

    /// Signs this device in to the server at `link.server_url`, creating the account when asked,
    /// and keeps the token; the agent starts sending what is shared.
    pub async fn link_account(&self, link: LinkAccount) -> Result<AccountStatus> {
        let url = link.server_url.trim().trim_end_matches('/').to_owned();
        let client = server_client(&self.config().data_dir, &url)?;
        let device_name = match link.device_name.trim() {
            "" => DEFAULT_DEVICE_NAME.to_owned(),
            chosen => chosen.to_owned(),
        };
        let session = if link.create {
            client
                .register(&RegisterRequest {
                    display_name: link.display_name.trim().to_owned(),
                    password: link.password,
                    device_name,
                })
                .await?
        } else {
            client
                .log_in(&LoginRequest {
                    display_name: link.display_name.trim().to_owned(),
                    password: link.password,
                    device_name,
                })
                .await?
        };
        let account = Account {
            server_url: Some(url),
            display_name: Some(link.display_name.trim().to_owned()),
            session: Some(session),
        };
        account.save(&self.config().data_dir)?;
        self.sync_state().update(|s| {
            s.last_error = None;
            s.retry_at_ms = None;
        });
        self.sync_state().wake();
        Ok(account.status())
    }

    /// Revokes this device's token on the server and forgets it. The server URL is kept. When
    /// the server cannot be reached the token is kept too (it would stay valid there), and the
    /// error says to try again online.
    pub async fn log_out(&self) -> Result<AccountStatus> {
        let data_dir = self.config().data_dir.clone();
        let mut account = Account::load(&data_dir)?;
        if let (Some(url), Some(session)) = (&account.server_url, &account.session) {
            match server_client(&data_dir, url)?.log_out(session).await {
                // Revoked before (or expired): nothing left to revoke.
                Ok(()) | Err(oa_sync::Error::Unauthorized { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        account.session = None;
        account.save(&data_dir)?;
        crate::community::forget_standing(&data_dir);
        self.sync_state().update(|s| *s = SyncStatus::default());
        Ok(account.status())
    }

    /// A client of the linked server and this device's session; [`Error::NotSignedIn`] when
    /// there is none.
    pub(crate) fn signed_in(&self) -> Result<(ServerClient, DeviceSession)> {
        let account = Account::load(&self.config().data_dir)?;
        let (Some(url), Some(session)) = (account.server_url, account.session) else {
            return Err(Error::NotSignedIn);
        };
        Ok((server_client(&self.config().data_dir, &url)?, session))
    }

    /// Tells of every change of what [`App::sync_status`] reports, from now on.
    pub fn sync_changes(&self) -> SyncChanges {
        self.sync_state().subscribe()
    }

    /// Where sending stands: the agent's last outcome and the outbox's counts.
    pub async fn sync_status(&self) -> Result<SyncStatus> {
        let (waiting, rejected) = self
            .with_store(|s| {
                Ok((
                    s.count_events(&[ConsentState::Queued, ConsentState::Sent])?,
                    s.count_events(&[ConsentState::Rejected])?,
                ))
            })
            .await?;
        let linked = Account::load(&self.config().data_dir)?.session.is_some();
        Ok(SyncStatus {
            linked,
            waiting,
            rejected,
            ..self.sync_state().snapshot()
        })
    }

    /// Asks the agent to send now.
    pub fn sync_soon(&self) {
        self.sync_state().wake();
    }

    /// The background agent: runs until the app ends. Spawn it once on the async runtime.
    pub async fn run_sync_agent(self: std::sync::Arc<Self>) {
        let mut failures = 0u32;
        loop {
            let wait = match self.sync_round().await {
                Ok(()) => {
                    failures = 0;
                    IDLE
                }
                Err(e) => {
                    failures += 1;
                    // Signing in again (or any new share) wakes the agent.
                    let wait = retry_wait(&e, failures, MAX_BACKOFF).unwrap_or(IDLE);
                    let message = capitalize(&oa_types::AppError::from(e).message);
                    tracing::info!(error = %message, retry_in_ms = wait.as_millis() as u64, "sync failed");
                    self.sync_state().update(|s| {
                        s.sending = false;
                        s.last_error = Some(message);
                        s.retry_at_ms = Some(now_ms() + wait.as_millis() as i64);
                    });
                    wait
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.sync_state().woken() => {}
            }
        }
    }

    /// One look: sends everything waiting when signed in, else only checks the server is up.
    async fn sync_round(&self) -> Result<()> {
        match self.sync_once().await {
            Ok(_) | Err(Error::NotSignedIn) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends everything shared that waits, with the stored account, and records the outcome in
    /// [`App::sync_status`]. When nothing waits it only checks that the server answers.
    /// [`Error::NotSignedIn`] when no server is set or this device is signed out.
    pub async fn sync_once(&self) -> Result<crate::SyncReport> {
        let (client, session) = self.signed_in()?;
        self.sync_state().update(|s| s.sending = true);
        let outcome = match self.sync_now(&client, &session.token).await {
            Ok(report) if report.batches == 0 => {
                client.health().await.map(|_| report).map_err(Error::from)
            }
            Ok(report) => Ok(report),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(report) => {
                self.sync_state().update(|s| {
                    s.sending = false;
                    s.online = Some(true);
                    s.last_sync_ms = Some(now_ms());
                    s.last_error = None;
                    s.retry_at_ms = None;
                    s.round_done = 0;
                    s.round_total = 0;
                });
                Ok(report)
            }
            Err(e) => {
                let reached = !matches!(e, Error::Sync(oa_sync::Error::Unreachable { .. }));
                self.sync_state().update(|s| {
                    s.sending = false;
                    s.online = Some(reached);
                    s.round_done = 0;
                    s.round_total = 0;
                });
                Err(e)
            }
        }
    }
}

/// This computer's name for its token, so that the person recognises it on the server.
/// The name a device gives itself at sign-in when the person chose none: neutral, since the
/// computer's host name often holds the person's own name, and the server has no need of it.
pub const DEFAULT_DEVICE_NAME: &str = "Open Assistant desktop";

/// The file of extra certificate authorities for a self-hosted server: `$OA_SERVER_CA_FILE`, else
/// `<data>/server-ca.pem` when it exists. The platform's roots are trusted either way.
pub const SERVER_CA_FILE: &str = "server-ca.pem";

/// A client of the server at `url`, trusting the extra CA file if there is one.
fn server_client(data_dir: &Path, url: &str) -> Result<ServerClient> {
    let ca_file = std::env::var_os("OA_SERVER_CA_FILE")
        .map(PathBuf::from)
        .or_else(|| Some(data_dir.join(SERVER_CA_FILE)).filter(|p| p.is_file()));
    Ok(ServerClient::with_ca_file(url, ca_file.as_deref())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes_and_jitter_only_shortens() {
        assert_eq!(backoff(1, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.0), Duration::from_secs(2));
        assert_eq!(backoff(5, 0.0), Duration::from_secs(16));
        assert_eq!(backoff(40, 0.0), MAX_BACKOFF);
        assert_eq!(backoff(3, 1.0), Duration::from_secs(2));
        assert!(backoff(3, 0.3) < backoff(3, 0.0));
    }

    #[test]
    fn the_account_file_is_for_its_owner_only_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Account::load(dir.path()).unwrap().status(),
            AccountStatus::default()
        );
        let account = Account {
            server_url: Some("http://127.0.0.1:9".into()),
            display_name: Some("Carol".into()),
            session: None,
        };
        account.save(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(Account::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let status = Account::load(dir.path()).unwrap().status();
        assert_eq!(status.server_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(status.display_name, None, "not signed in");
        std::fs::write(Account::path(dir.path()), "{ not json").unwrap();
        assert!(Account::load(dir.path()).is_err());
    }
}
