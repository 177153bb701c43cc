//! The link to a dataset server: signing this device in and out, and the person's standing
//! there (the leaderboard and their own numbers).
//!
//! The account lives in `<data>/account.json`, readable by its owner only (0600 on Unix): the
//! server URL, the display name and, while signed in, the device's bearer token. Nothing is
//! sent before the person sets a server and signs in. The server is reached over TLS with the
//! platform's roots, plus `<data>/server-ca.pem` (or `$OA_SERVER_CA_FILE`) for a self-hosted
//! server with its own CA; plain `http://` only to this computer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use oa_stdx::time::now_ms;
use oa_sync::ServerClient;
use oa_types::{
    AccountStatus, DeviceSession, LeaderboardWindow, LinkAccount, LoginRequest, RegisterRequest,
    Standing, SyncStatus,
};
use serde::{Deserialize, Serialize};

use crate::error::capitalize;
use crate::standing::{self, Kept};
use crate::state::State;
use crate::{Error, Result};

/// The name a device gives itself at sign-in when the person chose none: neutral, since the
/// computer's host name often holds the person's own name, and the server has no need of it.
pub const DEFAULT_DEVICE_NAME: &str = "Open Assistant desktop";

/// The file of extra certificate authorities for a self-hosted server: `$OA_SERVER_CA_FILE`, else
/// `<data>/server-ca.pem` when it exists. The platform's roots are trusted either way.
pub const SERVER_CA_FILE: &str = "server-ca.pem";

/// The account area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Account<'a> {
    state: &'a Arc<State>,
}

impl<'a> Account<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Account<'a> {
        Account { state }
    }

    fn data_dir(self) -> &'a Path {
        &self.state.config.data_dir
    }

    /// The server this device is linked to, and as whom.
    pub fn status(self) -> Result<AccountStatus> {
        Ok(AccountFile::load(self.data_dir())?.status())
    }

    /// Signs this device in to the server at `link.server_url`, creating the account when asked,
    /// and keeps the token; the agent starts sending what is shared.
    pub async fn link(self, link: LinkAccount) -> Result<AccountStatus> {
        let url = link.server_url.trim().trim_end_matches('/').to_owned();
        let client = server_client(self.data_dir(), &url)?;
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
        let account = AccountFile {
            server_url: Some(url),
            display_name: Some(link.display_name.trim().to_owned()),
            session: Some(session),
        };
        account.save(self.data_dir())?;
        self.state.sync.update(|s| {
            s.last_error = None;
            s.retry_at_ms = None;
        });
        self.state.sync.wake();
        Ok(account.status())
    }

    /// Revokes this device's token on the server and forgets it. The server URL is kept. When
    /// the server cannot be reached the token is kept too (it would stay valid there), and the
    /// error says to try again online.
    pub async fn log_out(self) -> Result<AccountStatus> {
        let data_dir = self.data_dir();
        let mut account = AccountFile::load(data_dir)?;
        if let (Some(url), Some(session)) = (&account.server_url, &account.session) {
            match server_client(data_dir, url)?.log_out(session).await {
                // Revoked before (or expired): nothing left to revoke.
                Ok(()) | Err(oa_sync::Error::Unauthorized { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        account.session = None;
        account.save(data_dir)?;
        standing::forget(data_dir);
        self.state.sync.update(|s| *s = SyncStatus::default());
        Ok(account.status())
    }

    /// Whether this device holds a session with a server (signed in).
    pub(crate) fn linked(self) -> Result<bool> {
        Ok(AccountFile::load(self.data_dir())?.session.is_some())
    }

    /// A client of the linked server and this device's session; [`Error::NotSignedIn`] when
    /// there is none.
    pub(crate) fn signed_in(self) -> Result<(ServerClient, DeviceSession)> {
        let account = AccountFile::load(self.data_dir())?;
        let (Some(url), Some(session)) = (account.server_url, account.session) else {
            return Err(Error::NotSignedIn);
        };
        Ok((server_client(self.data_dir(), &url)?, session))
    }

    /// The leaderboard of `window` and the person's own standing: from the server when it
    /// answers, else the copy kept from the last time it did, with `stale_because` saying why.
    /// [`Error::NotSignedIn`] when no account is linked; the server's error when it cannot be
    /// reached and nothing was kept.
    pub async fn standing(self, window: LeaderboardWindow) -> Result<Standing> {
        let (client, session) = self.signed_in()?;
        let data_dir = self.data_dir();
        // Both asked at once: one round trip's wait, not two.
        let fetched = tokio::try_join!(
            client.leaderboard(&session.token, window),
            client.my_stats(&session.token)
        )
        .map(|(leaderboard, stats)| Standing {
            leaderboard,
            stats,
            fetched_at_ms: now_ms(),
            stale_because: None,
        });
        let mut kept = standing::load(data_dir);
        if kept.account_id != Some(session.account_id) {
            kept = Kept {
                account_id: Some(session.account_id),
                windows: BTreeMap::new(),
            };
        }
        match fetched {
            Ok(standing) => {
                kept.windows
                    .insert(window.as_str().to_owned(), standing.clone());
                standing::save(data_dir, &kept);
                Ok(standing)
            }
            // A revoked token is not "offline": the person has to sign in again.
            Err(e @ oa_sync::Error::Unauthorized { .. }) => Err(e.into()),
            Err(e) => match kept.windows.remove(window.as_str()) {
                Some(copy) => {
                    let reason = oa_types::AppError::from(Error::from(e)).message;
                    Ok(Standing {
                        stale_because: Some(capitalize(&reason)),
                        ..copy
                    })
                }
                None => Err(e.into()),
            },
        }
    }
}

/// What `account.json` holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AccountFile {
    server_url: Option<String>,
    display_name: Option<String>,
    session: Option<DeviceSession>,
}

impl AccountFile {
    fn path(data_dir: &Path) -> PathBuf {
        data_dir.join("account.json")
    }

    /// The stored account; none when there is no file. A damaged file is an error, so that a
    /// token is never silently dropped.
    fn load(data_dir: &Path) -> Result<AccountFile> {
        let path = AccountFile::path(data_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Internal(format!(
                    "{} is damaged ({e}); delete it and sign in again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AccountFile::default()),
            Err(e) => Err(Error::Internal(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes the file whole, readable by its owner only.
    fn save(&self, data_dir: &Path) -> Result<()> {
        let path = AccountFile::path(data_dir);
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
    fn the_account_file_is_for_its_owner_only_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            AccountFile::load(dir.path()).unwrap().status(),
            AccountStatus::default()
        );
        let account = AccountFile {
            server_url: Some("http://127.0.0.1:9".into()),
            display_name: Some("Carol".into()),
            session: None,
        };
        account.save(dir.path()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(AccountFile::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let status = AccountFile::load(dir.path()).unwrap().status();
        assert_eq!(status.server_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(status.display_name, None, "not signed in");
        std::fs::write(AccountFile::path(dir.path()), "{ not json").unwrap();
        assert!(AccountFile::load(dir.path()).is_err());
    }
}
