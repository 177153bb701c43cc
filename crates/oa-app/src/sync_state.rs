//! The sync agent's shared state: what Settings shows of it, and what wakes it. Held by the
//! app's root and changed by the agent and by every use case that touches the outbox, so it
//! lives below all of them.

use oa_types::SyncStatus;
use tokio::sync::{Notify, watch};

/// The agent's state beside the store's counts. Its subscribers ([`SyncChanges`]) are told of
/// every change of it and of the outbox.
#[derive(Debug)]
pub(crate) struct SyncState {
    status: watch::Sender<SyncStatus>,
    wake: Notify,
}

impl Default for SyncState {
    fn default() -> Self {
        SyncState {
            status: watch::Sender::new(SyncStatus::default()),
            wake: Notify::new(),
        }
    }
}

impl SyncState {
    pub(crate) fn update(&self, f: impl FnOnce(&mut SyncStatus)) {
        self.status.send_modify(f);
    }

    pub(crate) fn snapshot(&self) -> SyncStatus {
        self.status.borrow().clone()
    }

    /// The outbox changed: what waits or was rejected may have too. Those counts live in the
    /// store, so the agent's part stays as it is and only its subscribers are told to look.
    pub(crate) fn outbox_changed(&self) {
        self.status.send_modify(|_| {});
    }

    /// Asks the agent to send now rather than at its next look.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Returns when [`SyncState::wake`] was called.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// A new subscriber to every change.
    pub(crate) fn subscribe(&self) -> SyncChanges {
        SyncChanges(self.status.subscribe())
    }
}

/// Wakes its holder whenever what [`App::sync_status`] reports may have changed: the agent's
/// state, the outbox's counts or the account. Changes that come in a burst wake it once.
#[derive(Debug)]
pub struct SyncChanges(watch::Receiver<SyncStatus>);

impl SyncChanges {
    /// Waits for the next change; `false` once the app is gone.
    pub async fn changed(&mut self) -> bool {
        self.0.changed().await.is_ok()
    }
}
