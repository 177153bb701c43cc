//! Work with the dataset server beyond sending: tasks leased for offline work, and the
//! leaderboard with the person's own standing, kept for offline viewing.
//!
//! Leased tasks are kept in the local database (`oa_store`'s leases) and join the Contribute
//! queue first; a result is queued like any shared contribution and names its task.
//!
//! Every successful look is written to `<data>/standing.json` (one entry per leaderboard
//! window, with the account it belongs to); when the server cannot be reached the kept copy is
//! shown with the time it was fetched and why it is not fresh. Signing out deletes it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oa_stdx::time::now_ms;
use oa_types::{LeaderboardWindow, LeaseRequest, Standing, TaskAnswer, TaskQueue, Uuid};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::error::capitalize;
use crate::{Error, Result};

/// What `standing.json` holds.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Kept {
    /// The account the numbers are about; a copy of another account's is never shown.
    account_id: Option<Uuid>,
    /// By window name.
    windows: BTreeMap<String, Standing>,
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("standing.json")
}

/// The kept copy; an unreadable one counts as none (it is only a cache).
fn load(data_dir: &Path) -> Kept {
    std::fs::read(path(data_dir))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

fn save(data_dir: &Path, kept: &Kept) {
    let file = path(data_dir);
    let written = serde_json::to_vec(kept)
        .map_err(std::io::Error::other)
        .and_then(|json| oa_stdx::fs::write_private(&file, &json));
    if let Err(e) = written {
        tracing::warn!(error = %e, file = %file.display(), "could not keep the leaderboard");
    }
}

/// Deletes the kept copy (on signing out).
pub(crate) fn forget_standing(data_dir: &Path) {
    let _ = std::fs::remove_file(path(data_dir));
}

/// Most tasks one lease asks for (the server's limit).
pub const MAX_LEASE: u32 = 100;

impl App {
    /// Leases up to `count` tasks from the server and keeps them for offline work; returns the
    /// Contribute queue with them first.
    pub async fn lease_tasks(&self, count: u32, tz_offset_minutes: i32) -> Result<TaskQueue> {
        let (client, session) = self.signed_in()?;
        let request = LeaseRequest {
            count: count.clamp(1, MAX_LEASE),
            kinds: Vec::new(),
        };
        let leased = client.lease_tasks(&session.token, &request).await?;
        self.with_store(move |s| {
            s.keep_leased_tasks(&leased.tasks)?;
            Ok(s.task_queue(tz_offset_minutes)?)
        })
        .await
    }

    /// Records the answer to leased task `task_id` (queued for sending at once) and returns
    /// the queue after it.
    pub async fn complete_leased_task(
        &self,
        task_id: Uuid,
        answer: TaskAnswer,
        tz_offset_minutes: i32,
    ) -> Result<TaskQueue> {
        let queue = self
            .with_store(move |s| {
                s.complete_leased_task(task_id, &answer)?;
                Ok(s.task_queue(tz_offset_minutes)?)
            })
            .await?;
        self.sync_state().outbox_changed();
        self.sync_soon();
        Ok(queue)
    }

    /// Tells the server, when it can be reached, that a leased task was put aside, so that it
    /// goes to someone else before its lease ends. Best effort: offline the lease just ends.
    pub(crate) fn give_back_task(&self, task_id: Uuid) {
        let Ok((client, session)) = self.signed_in() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = client.skip_task(&session.token, task_id).await {
                tracing::info!(error = %e, task = %task_id, "could not give a task back");
            }
        });
    }

    /// The leaderboard of `window` and the person's own standing: from the server when it
    /// answers, else the copy kept from the last time it did, with `stale_because` saying why.
    /// [`Error::NotSignedIn`] when no account is linked; the server's error when it cannot be
    /// reached and nothing was kept.
    pub async fn standing(&self, window: LeaderboardWindow) -> Result<Standing> {
        let (client, session) = self.signed_in()?;
        let data_dir = self.config().data_dir.clone();
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
        let mut kept = load(&data_dir);
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
                save(&data_dir, &kept);
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
