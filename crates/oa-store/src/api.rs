//! Conversations a program held through the local API, kept in the history under their own
//! source so that they can be rated, corrected and shared like the app's own chats.

use oa_types::{API_SOURCE, ConversationSettings, Message, Provenance, Role, Uuid};
use rusqlite::params;

use crate::store::{insert_message, now_ms, title_from};
use crate::{Result, Store, StoreError};

impl Store {
    /// Keeps one answer of the local API as a new conversation of source
    /// [`API_SOURCE`], in one transaction: `system_prompt` as the conversation's system prompt,
    /// `turns` (oldest first) as alternating prompts and replies, and `reply` with its
    /// `provenance` as the last reply, which ends the current path. Returns the stored reply.
    ///
    /// The history's trees start at a prompt and alternate, so turns are shaped to fit: empty
    /// turns are left out, consecutive turns of one role are joined by a blank line, and replies
    /// before the first prompt are left out. The turns must then end with a prompt (the one
    /// answered), or the exchange is refused. The system prompt is kept whole, even beyond the
    /// length a person may type, since the model read it whole.
    pub fn add_api_exchange(
        &mut self,
        system_prompt: &str,
        turns: &[(Role, String)],
        reply: &str,
        provenance: Provenance,
    ) -> Result<Message> {
        let turns = alternating(turns);
        let Some(first) = turns.first() else {
            return Err(StoreError::InvalidInput(
                "an API exchange needs a prompt to keep".into(),
            ));
        };
        if turns.last().map(|(role, _)| *role) != Some(Role::Prompter) {
            return Err(StoreError::InvalidInput(
                "an API exchange ends with the prompt its reply answers".into(),
            ));
        }
        let settings = ConversationSettings {
            system_prompt: system_prompt.to_owned(),
            sampler: None,
        };
        let settings = serde_json::to_string(&settings)
            .map_err(|e| StoreError::InvalidInput(format!("settings: {e}")))?;
        let now = now_ms();
        let conversation_id = Uuid::now_v7();
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at, settings, source)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
            params![
                conversation_id.to_string(),
                title_from(&first.1),
                now,
                settings,
                API_SOURCE
            ],
        )?;
        let mut parent_id = None;
        for (role, text) in turns {
            let message = Message {
                id: Uuid::now_v7(),
                conversation_id,
                parent_id,
                role,
                text,
                created_at_ms: now,
                provenance: None,
                corrects: None,
            };
            insert_message(&tx, &message)?;
            parent_id = Some(message.id);
        }
        let reply = Message {
            id: Uuid::now_v7(),
            conversation_id,
            parent_id,
            role: Role::Assistant,
            text: reply.to_owned(),
            created_at_ms: now,
            provenance: Some(provenance),
            corrects: None,
        };
        insert_message(&tx, &reply)?;
        tx.commit()?;
        Ok(reply)
    }
}

/// The turns as a tree holds them: no empty turn, no reply before the first prompt, and
/// consecutive turns of one role joined.
fn alternating(turns: &[(Role, String)]) -> Vec<(Role, String)> {
    let mut shaped: Vec<(Role, String)> = Vec::new();
    for (role, text) in turns {
        let text = text.trim();
        if text.is_empty() || (shaped.is_empty() && *role != Role::Prompter) {
            continue;
        }
        match shaped.last_mut() {
            Some((last, joined)) if last == role => {
                joined.push_str("\n\n");
                joined.push_str(text);
            }
            _ => shaped.push((*role, text.to_owned())),
        }
    }
    shaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, text: &str) -> (Role, String) {
        (role, text.to_owned())
    }

    #[test]
    fn turns_are_shaped_to_alternate_from_a_prompt() {
        let shaped = alternating(&[
            turn(Role::Assistant, "Hello, how can I help?"),
            turn(Role::Prompter, "  "),
            turn(Role::Prompter, "First."),
            turn(Role::Prompter, "Second."),
            turn(Role::Assistant, ""),
            turn(Role::Assistant, "An answer."),
            turn(Role::Prompter, "Thanks; and then?"),
        ]);
        assert_eq!(
            shaped,
            [
                turn(Role::Prompter, "First.\n\nSecond."),
                turn(Role::Assistant, "An answer."),
                turn(Role::Prompter, "Thanks; and then?"),
            ]
        );
        assert!(alternating(&[turn(Role::Assistant, "Only me.")]).is_empty());
    }
}
