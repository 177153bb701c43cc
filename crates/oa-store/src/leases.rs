//! Tasks leased from the dataset server for offline work.
//!
//! A lease is kept with everything needed to do the task (the thread, the replies to rank), so
//! it can be done without a connection. Doing it records the result as a contribution event
//! that names the task and is queued at once (asking the server for work is consent to send
//! the result); the task then leaves the queue. A lease that ended stays in the queue, marked
//! expired: the server still uses a late result when the tree needs it.

use oa_types::{
    ConsentState, ContributionEvent, EventPayload, LabelsPayload, LocalTask, Message,
    RankingPayload, Role, Task, TaskAnswer, TaskKind, TaskLease, TaskMessage, Uuid,
};
use rusqlite::{OptionalExtension, params};

use crate::outbox::insert_event;
use crate::store::now_ms;
use crate::tasks::log_task;
use crate::{Result, Store, StoreError};

/// The queue key of a leased task.
pub(crate) fn leased_key(task_id: Uuid) -> String {
    format!("{LEASED_PREFIX}{task_id}")
}

/// What queue keys of leased tasks start with.
const LEASED_PREFIX: &str = "leased:";

/// The server task a queue key names, for the key of a leased task.
pub fn leased_task_id(key: &str) -> Option<Uuid> {
    key.strip_prefix(LEASED_PREFIX)?.parse().ok()
}

impl Store {
    /// Keeps tasks the server leased to this person; a task kept before keeps its state.
    /// Returns how many are new.
    pub fn keep_leased_tasks(&mut self, tasks: &[Task]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let now = now_ms();
        let mut added = 0;
        for task in tasks {
            let json = serde_json::to_string(task)
                .map_err(|e| StoreError::InvalidInput(format!("task {}: {e}", task.id)))?;
            added += tx.execute(
                "INSERT INTO leased_tasks (id, task, expires_at, leased_at, state)
                 VALUES (?1, ?2, ?3, ?4, 'open') ON CONFLICT (id) DO NOTHING",
                params![task.id.to_string(), json, task.expires_at_ms, now],
            )?;
        }
        tx.commit()?;
        Ok(added)
    }

    /// The leased tasks not done or put aside, oldest lease first, as queue entries.
    pub fn leased_queue(&self) -> Result<Vec<LocalTask>> {
        let now = now_ms();
        // In the order the server handed them out.
        let mut stmt = self.conn.prepare(
            "SELECT task FROM leased_tasks WHERE state = 'open' ORDER BY leased_at, rowid",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut tasks = Vec::new();
        for row in rows {
            tasks.push(queue_entry(parse_task(&row?)?, now));
        }
        Ok(tasks)
    }

    /// Records `answer` as the result of leased task `task_id`, queued for sending, and takes
    /// the task out of the queue, in one transaction. An answer that does not fit the task
    /// (another kind, another message, a ranking that leaves a reply out) is refused.
    pub fn complete_leased_task(
        &mut self,
        task_id: Uuid,
        answer: &TaskAnswer,
    ) -> Result<ContributionEvent> {
        let tx = self.conn.transaction()?;
        let stored: Option<(String, String)> = tx
            .query_row(
                "SELECT task, state FROM leased_tasks WHERE id = ?1",
                [task_id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((json, state)) = stored else {
            return Err(StoreError::NotFound(format!("leased task {task_id}")));
        };
        if state != "open" {
            return Err(StoreError::InvalidInput(format!(
                "this task was already {state}"
            )));
        }
        let task = parse_task(&json)?;
        let now = now_ms();
        let (subject, conversation, payload) = result_of(&task, answer, now)?;
        let event = insert_event(
            &tx,
            ContributionEvent {
                id: Uuid::now_v7(),
                kind: payload.kind(),
                subject_id: subject,
                conversation_id: conversation,
                payload: payload.to_json(),
                state: ConsentState::Queued,
                rejection_reason: None,
                created_at_ms: now,
                redacted: false,
                task_id: Some(task.id),
            },
        )?;
        tx.execute(
            "UPDATE leased_tasks SET state = 'done', ended_at = ?2 WHERE id = ?1",
            params![task_id.to_string(), now],
        )?;
        log_task(&tx, &leased_key(task_id), task.kind, "done")?;
        tx.commit()?;
        Ok(event)
    }

    /// Puts a leased task aside: it leaves the queue (its lease ends on the server in time).
    pub fn skip_leased_task(&mut self, task_id: Uuid) -> Result<()> {
        let tx = self.conn.transaction()?;
        let kind: Option<String> = tx
            .query_row(
                "SELECT json_extract(task, '$.kind') FROM leased_tasks
                 WHERE id = ?1 AND state = 'open'",
                [task_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        let kind = kind
            .as_deref()
            .and_then(TaskKind::parse)
            .ok_or_else(|| StoreError::NotFound(format!("open leased task {task_id}")))?;
        tx.execute(
            "UPDATE leased_tasks SET state = 'skipped', ended_at = ?2 WHERE id = ?1",
            params![task_id.to_string(), now_ms()],
        )?;
        log_task(&tx, &leased_key(task_id), kind, "skipped")?;
        tx.commit()?;
        Ok(())
    }
}

fn parse_task(json: &str) -> Result<Task> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("a leased task: {e}")))
}

/// A leased task as the Contribute page shows it.
fn queue_entry(task: Task, now: i64) -> LocalTask {
    let conversation = task.tree_id.unwrap_or_default();
    let as_message = |m: &TaskMessage| Message {
        id: m.id,
        conversation_id: conversation,
        parent_id: m.parent_id,
        role: m.role,
        text: m.text.clone(),
        created_at_ms: 0,
        provenance: None,
        corrects: None,
    };
    LocalTask {
        key: leased_key(task.id),
        kind: task.kind,
        conversation_id: task.tree_id,
        title: "the dataset".to_owned(),
        context: task.conversation.iter().map(as_message).collect(),
        replies: task.replies.iter().map(as_message).collect(),
        thumbs: None,
        lease: Some(TaskLease {
            task_id: task.id,
            expires_at_ms: task.expires_at_ms,
            expired: task.expires_at_ms <= now,
            review: task.review,
        }),
    }
}

/// The event that answers `task`: its subject, conversation and payload.
fn result_of(task: &Task, answer: &TaskAnswer, now: i64) -> Result<(Uuid, Uuid, EventPayload)> {
    let misfit = || {
        StoreError::InvalidInput(format!(
            "this answer does not fit the task (a {} task)",
            task.kind.as_str().replace('_', " ")
        ))
    };
    let subject = task.message_id;
    let tree = task.tree_id.unwrap_or_default();
    let written = |text: &str, parent: Option<Uuid>, role: Role, conversation: Uuid| {
        let text = text.trim();
        if text.is_empty() {
            return Err(StoreError::InvalidInput("write something first".into()));
        }
        let message = Message {
            id: Uuid::now_v7(),
            conversation_id: conversation,
            parent_id: parent,
            role,
            text: text.to_owned(),
            created_at_ms: now,
            provenance: None,
            corrects: None,
        };
        Ok((message.id, conversation, EventPayload::message(message)))
    };
    match (task.kind, answer) {
        (TaskKind::InitialPrompt, TaskAnswer::InitialPrompt { text }) => {
            written(text, None, Role::Prompter, Uuid::now_v7())
        }
        (TaskKind::PrompterReply, TaskAnswer::PrompterReply { message_id, text })
            if Some(*message_id) == subject =>
        {
            written(text, subject, Role::Prompter, tree)
        }
        (TaskKind::AssistantReply, TaskAnswer::AssistantReply { message_id, text })
            if Some(*message_id) == subject =>
        {
            written(text, subject, Role::Assistant, tree)
        }
        (TaskKind::RankReplies, TaskAnswer::RankReplies { prompt_id, ranking })
            if Some(*prompt_id) == subject =>
        {
            let replies: Vec<Uuid> = task.replies.iter().map(|m| m.id).collect();
            ranking.validate_against(&replies)?;
            let payload = EventPayload::Ranking(RankingPayload {
                message_id: *prompt_id,
                ranking: ranking.clone(),
            });
            Ok((*prompt_id, tree, payload))
        }
        (TaskKind::LabelMessage, TaskAnswer::LabelMessage { message_id, labels })
            if Some(*message_id) == subject =>
        {
            labels.validate()?;
            let payload = EventPayload::Labels(LabelsPayload::new(*message_id, labels));
            Ok((*message_id, tree, payload))
        }
        _ => Err(misfit()),
    }
}
