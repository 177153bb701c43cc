//! The Contribute queue: tasks made from the person's own history (`oa_store`'s local tasks)
//! and tasks leased from the dataset server for offline work, which come first. A leased task's
//! result is queued like any shared contribution and names its task; putting one aside gives it
//! back to the server when it can be reached. Those who show the queue follow its changes
//! through [`Tasks::changes`].

use std::sync::Arc;

use oa_types::{LeaseRequest, TaskAnswer, TaskQueue, Uuid};
use tokio::sync::watch;

use crate::Result;
use crate::account::Account;
use crate::state::State;

/// Most tasks one lease asks for (the server's limit).
pub const MAX_LEASE: u32 = 100;

/// The tasks area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Tasks<'a> {
    state: &'a Arc<State>,
}

impl<'a> Tasks<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Tasks<'a> {
        Tasks { state }
    }

    /// The tasks waiting, leased ones first, with the person's progress counted in local days
    /// (`tz_offset_minutes` as JavaScript's `getTimezoneOffset`).
    pub async fn queue(self, tz_offset_minutes: i32) -> Result<TaskQueue> {
        self.state
            .with_store(move |s| Ok(s.task_queue(tz_offset_minutes)?))
            .await
    }

    /// A generation count that goes up whenever the queue may have changed: a prompt or a reply
    /// stored, feedback, labels, a ranking or a correction given, the path of a conversation
    /// moved or a conversation deleted, a task done or put aside, tasks leased, or a sync round
    /// that recorded the server's answers. The receiver holds the count now; changes that come
    /// in a burst wake it once, and it should read [`Tasks::queue`] again.
    pub fn changes(self) -> watch::Receiver<u64> {
        self.state.task_changes()
    }

    /// Carries out a task's answer; returns the queue after it.
    pub async fn complete(self, answer: TaskAnswer, tz_offset_minutes: i32) -> Result<TaskQueue> {
        self.state
            .with_store_changing_tasks(move |s| {
                s.complete_task(&answer)?;
                Ok(s.task_queue(tz_offset_minutes)?)
            })
            .await
    }

    /// Puts a task aside; returns the queue after it. A leased task goes back to the server.
    pub async fn skip(self, key: String, tz_offset_minutes: i32) -> Result<TaskQueue> {
        let leased = oa_store::leased_task_id(&key);
        let queue = self
            .state
            .with_store_changing_tasks(move |s| {
                s.skip_task(&key)?;
                Ok(s.task_queue(tz_offset_minutes)?)
            })
            .await?;
        if let Some(task_id) = leased {
            self.give_back(task_id);
        }
        Ok(queue)
    }

    /// Leases up to `count` tasks from the server and keeps them for offline work; returns the
    /// Contribute queue with them first.
    pub async fn lease(self, count: u32, tz_offset_minutes: i32) -> Result<TaskQueue> {
        let (client, session) = Account::new(self.state).signed_in()?;
        let request = LeaseRequest {
            count: count.clamp(1, MAX_LEASE),
            kinds: Vec::new(),
        };
        let leased = client.lease_tasks(&session.token, &request).await?;
        self.state
            .with_store_changing_tasks(move |s| {
                s.keep_leased_tasks(&leased.tasks)?;
                Ok(s.task_queue(tz_offset_minutes)?)
            })
            .await
    }

    /// Records the answer to leased task `task_id` (queued for sending at once) and returns
    /// the queue after it.
    pub async fn complete_leased(
        self,
        task_id: Uuid,
        answer: TaskAnswer,
        tz_offset_minutes: i32,
    ) -> Result<TaskQueue> {
        let queue = self
            .state
            .with_store_changing_tasks(move |s| {
                s.complete_leased_task(task_id, &answer)?;
                Ok(s.task_queue(tz_offset_minutes)?)
            })
            .await?;
        self.state.sync.outbox_changed();
        self.state.sync.wake();
        Ok(queue)
    }

    /// Tells the server, when it can be reached, that a leased task was put aside, so that it
    /// goes to someone else before its lease ends. Best effort: offline the lease just ends.
    fn give_back(self, task_id: Uuid) {
        let Ok((client, session)) = Account::new(self.state).signed_in() else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = client.skip_task(&session.token, task_id).await {
                tracing::info!(error = %e, task = %task_id, "could not give a task back");
            }
        });
    }
}
