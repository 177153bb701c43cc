//! Tasks made from the person's own history, for the Contribute page, and the log of the ones
//! done or put aside.
//!
//! A task exists while its condition holds (a thumbs-down reply without a correction asks for a
//! better answer); answering it changes the tree or the feedback so that the condition no longer
//! holds, and the log keeps what was done (for progress) and what was skipped (not offered
//! again). Everything works offline.

use std::collections::{BTreeSet, HashSet};

use oa_types::{
    CompareSet, LocalTask, Message, Role, TaskAnswer, TaskKind, TaskProgress, TaskQueue, Thumbs,
    Uuid,
};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::feedback::{insert_labels, insert_ranking};
use crate::store::{PromptPlace, insert_prompt, now_ms, parse_uuid};
use crate::tree::{insert_correction, load_message};
use crate::{Result, Store, StoreError};

/// At most this many tasks of one kind are offered at a time.
const TASKS_PER_KIND: usize = 20;
/// At most this many "reply as the user" tasks, from the most recently changed conversations.
const PROMPTER_TASKS: usize = 5;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl Store {
    /// The tasks waiting, in the order offered, with the person's progress.
    /// `tz_offset_minutes` is what to add to local time to get UTC (JavaScript's
    /// `getTimezoneOffset`): days and streaks are counted in the person's local days.
    pub fn task_queue(&self, tz_offset_minutes: i32) -> Result<TaskQueue> {
        let skipped = self.skipped_tasks()?;
        // What the person leased from the dataset server comes first: they asked for it.
        let mut tasks = self.leased_queue()?;
        let open = |key: &str| !skipped.contains(key);

        for prompt in self.ids(
            "SELECT p.id FROM messages p
             WHERE p.role = 'prompter'
               AND (SELECT count(*) FROM messages r
                    WHERE r.parent_id = p.id AND r.corrects_id IS NULL) >= 2
               AND NOT EXISTS (SELECT 1 FROM feedback f
                               WHERE f.message_id = p.id AND f.kind = 'ranking')
             ORDER BY (SELECT max(r.created_at) FROM messages r WHERE r.parent_id = p.id) DESC",
        )? {
            let key = task_key(TaskKind::RankReplies, prompt);
            if open(&key) && count_of(&tasks, TaskKind::RankReplies) < TASKS_PER_KIND {
                let context = self.path_to(prompt)?;
                let replies = self.replies_to(prompt)?;
                tasks.push(self.task(key, TaskKind::RankReplies, context, replies, None)?);
            }
        }
        for (reply, thumbs) in self.rated(
            "AND json_extract(f.value, '$.vote') = '-1'
             AND NOT EXISTS (SELECT 1 FROM messages c WHERE c.corrects_id = m.id)",
        )? {
            let key = task_key(TaskKind::AssistantReply, reply.id);
            if open(&key) && count_of(&tasks, TaskKind::AssistantReply) < TASKS_PER_KIND {
                let context = match reply.parent_id {
                    Some(parent) => self.path_to(parent)?,
                    None => Vec::new(),
                };
                let kind = TaskKind::AssistantReply;
                tasks.push(self.task(key, kind, context, vec![reply], Some(thumbs))?);
            }
        }
        for (reply, thumbs) in self.rated(
            "AND NOT EXISTS (SELECT 1 FROM feedback l
                             WHERE l.message_id = m.id AND l.kind = 'labels')",
        )? {
            let key = task_key(TaskKind::LabelMessage, reply.id);
            if open(&key) && count_of(&tasks, TaskKind::LabelMessage) < TASKS_PER_KIND {
                let context = self.path_to(reply.id)?;
                let kind = TaskKind::LabelMessage;
                tasks.push(self.task(key, kind, context, Vec::new(), Some(thumbs))?);
            }
        }
        for leaf in self.ids(
            "SELECT c.current_leaf_id FROM conversations c
             JOIN messages m ON m.id = c.current_leaf_id
             WHERE m.role = 'assistant'
             ORDER BY c.updated_at DESC",
        )? {
            let key = task_key(TaskKind::PrompterReply, leaf);
            if open(&key) && count_of(&tasks, TaskKind::PrompterReply) < PROMPTER_TASKS {
                let context = self.path_to(leaf)?;
                let kind = TaskKind::PrompterReply;
                tasks.push(self.task(key, kind, context, Vec::new(), None)?);
            }
        }
        tasks.push(LocalTask {
            key: TaskKind::InitialPrompt.as_str().to_owned(),
            kind: TaskKind::InitialPrompt,
            conversation_id: None,
            title: "New conversation".to_owned(),
            context: Vec::new(),
            replies: Vec::new(),
            thumbs: None,
            lease: None,
        });
        let mut progress = self.task_progress(tz_offset_minutes)?;
        progress.open = u32::try_from(tasks.len()).unwrap_or(u32::MAX);
        Ok(TaskQueue { tasks, progress })
    }

    /// Carries out a task's answer and logs it as done, in one transaction.
    pub fn complete_task(&mut self, answer: &TaskAnswer) -> Result<()> {
        let tx = self.conn.transaction()?;
        let (kind, subject) = match answer {
            TaskAnswer::InitialPrompt { text } => {
                insert_prompt(&tx, PromptPlace::NewConversation, text)?;
                (TaskKind::InitialPrompt, None)
            }
            TaskAnswer::PrompterReply { message_id, text } => {
                insert_prompt(&tx, PromptPlace::After(*message_id), text)?;
                (TaskKind::PrompterReply, Some(*message_id))
            }
            TaskAnswer::AssistantReply { message_id, text } => {
                let reply = load_message(&tx, *message_id)?;
                insert_correction(&tx, reply.conversation_id, reply.id, text)?;
                (TaskKind::AssistantReply, Some(*message_id))
            }
            TaskAnswer::RankReplies { prompt_id, ranking } => {
                insert_ranking(&tx, *prompt_id, ranking)?;
                (TaskKind::RankReplies, Some(*prompt_id))
            }
            TaskAnswer::LabelMessage { message_id, labels } => {
                insert_labels(&tx, *message_id, labels)?;
                (TaskKind::LabelMessage, Some(*message_id))
            }
        };
        let key = match subject {
            Some(id) => task_key(kind, id),
            None => kind.as_str().to_owned(),
        };
        log_task(&tx, &key, kind, "done")?;
        tx.commit()?;
        Ok(())
    }

    /// Puts a task aside: it is not offered again. The first-prompt task is always offered, so
    /// skipping it only moves on.
    pub fn skip_task(&mut self, key: &str) -> Result<()> {
        if let Some(task_id) = crate::leases::leased_task_id(key) {
            return self.skip_leased_task(task_id);
        }
        let name = key.split_once(':').map_or(key, |(kind, _)| kind);
        let kind = TaskKind::parse(name)
            .ok_or_else(|| StoreError::InvalidInput(format!("there is no task {key:?}")))?;
        let tx = self.conn.transaction()?;
        log_task(&tx, key, kind, "skipped")?;
        tx.commit()?;
        Ok(())
    }

    /// Tasks done today, in total and on consecutive days.
    pub fn task_progress(&self, tz_offset_minutes: i32) -> Result<TaskProgress> {
        let offset_ms = i64::from(tz_offset_minutes) * 60_000;
        let local_day = |at: i64| (at - offset_ms).div_euclid(DAY_MS);
        let mut stmt = self
            .conn
            .prepare("SELECT at FROM task_log WHERE outcome = 'done'")?;
        let done: Vec<i64> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let today = local_day(now_ms());
        let days: BTreeSet<i64> = done.iter().map(|at| local_day(*at)).collect();
        let mut day = if days.contains(&today) {
            today
        } else {
            today - 1
        };
        let mut streak = 0u32;
        while days.contains(&day) {
            streak += 1;
            day -= 1;
        }
        let today_count = done.iter().filter(|at| local_day(**at) == today).count();
        Ok(TaskProgress {
            done_today: u32::try_from(today_count).unwrap_or(u32::MAX),
            done_total: u32::try_from(done.len()).unwrap_or(u32::MAX),
            streak_days: streak,
            open: 0,
        })
    }

    /// A prompt with its replies and their ranking, for comparing them.
    pub fn compare_set(&self, prompt_id: Uuid) -> Result<CompareSet> {
        let prompt = load_message(&self.conn, prompt_id)?;
        if prompt.role != Role::Prompter {
            return Err(StoreError::InvalidInput(
                "only the answers to a prompt can be compared".into(),
            ));
        }
        let replies = self.replies_to(prompt_id)?;
        let ranking = self.feedback(prompt_id)?.ranking;
        Ok(CompareSet {
            prompt,
            replies,
            ranking,
        })
    }

    fn replies_to(&self, parent_id: Uuid) -> Result<Vec<Message>> {
        crate::feedback::reply_ids(&self.conn, parent_id)?
            .into_iter()
            .map(|id| load_message(&self.conn, id))
            .collect()
    }

    fn task(
        &self,
        key: String,
        kind: TaskKind,
        context: Vec<Message>,
        replies: Vec<Message>,
        thumbs: Option<Thumbs>,
    ) -> Result<LocalTask> {
        let conversation_id = context
            .first()
            .or(replies.first())
            .map(|m| m.conversation_id);
        let title = match conversation_id {
            Some(id) => self
                .conn
                .query_row(
                    "SELECT title FROM conversations WHERE id = ?1",
                    [id.to_string()],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or_default(),
            None => String::new(),
        };
        Ok(LocalTask {
            key,
            kind,
            conversation_id,
            title,
            context,
            replies,
            thumbs,
            lease: None,
        })
    }

    fn ids(&self, sql: &str) -> Result<Vec<Uuid>> {
        let mut stmt = self.conn.prepare(sql)?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .map(|id| parse_uuid(&id?))
            .collect::<Result<_>>()?;
        Ok(ids)
    }

    /// Assistant replies with a thumbs vote that meet `condition`, most recently rated first.
    fn rated(&self, condition: &str) -> Result<Vec<(Message, Thumbs)>> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT m.id, f.value FROM messages m
             JOIN feedback f ON f.message_id = m.id AND f.kind = 'rating'
             WHERE m.role = 'assistant' {condition}
             ORDER BY f.updated_at DESC"
        ))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        rows.into_iter()
            .map(|(id, value)| {
                let thumbs = serde_json::from_str(&value)
                    .map_err(|e| StoreError::Corrupt(format!("rating of {id}: {e}")))?;
                Ok((load_message(&self.conn, parse_uuid(&id)?)?, thumbs))
            })
            .collect()
    }

    fn skipped_tasks(&self) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT task_key FROM task_log WHERE outcome = 'skipped'")?;
        let keys = stmt
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }
}

/// The stable name of the task about `subject`.
fn task_key(kind: TaskKind, subject: Uuid) -> String {
    format!("{}:{subject}", kind.as_str())
}

fn count_of(tasks: &[LocalTask], kind: TaskKind) -> usize {
    tasks
        .iter()
        .filter(|t| t.kind == kind && t.lease.is_none())
        .count()
}

pub(crate) fn log_task(
    tx: &Transaction<'_>,
    key: &str,
    kind: TaskKind,
    outcome: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO task_log (task_key, kind, outcome, at) VALUES (?1, ?2, ?3, ?4)",
        params![key, kind.as_str(), outcome, now_ms()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use oa_types::Ranking;

    use super::*;

    #[test]
    fn unknown_task_keys_are_refused() {
        let mut store = Store::open_in_memory().unwrap();
        assert!(matches!(
            store.skip_task("polish_shoes:1"),
            Err(StoreError::InvalidInput(_))
        ));
        assert!(store.skip_task("label_message:x").is_ok());
    }

    #[test]
    fn a_ranking_answer_needs_every_reply() {
        let mut store = Store::open_in_memory().unwrap();
        let prompt = store.add_prompt(None, "hi").unwrap();
        let a = store.add_reply(&prompt, "a", None).unwrap();
        store.add_reply(&prompt, "b", None).unwrap();
        let answer = TaskAnswer::RankReplies {
            prompt_id: prompt.id,
            ranking: Ranking::Ranked(vec![a.id]),
        };
        assert!(store.complete_task(&answer).is_err());
        assert_eq!(store.task_progress(0).unwrap().done_total, 0);
    }
}
