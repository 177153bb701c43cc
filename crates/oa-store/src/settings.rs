//! What the person chose: each conversation's system prompt and sampler, and the app's own
//! settings, kept as JSON so that a newer app can add fields an older one ignores.

use oa_types::{ConversationSettings, Uuid};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::not_found_conversation;
use crate::{Result, Store, StoreError};

impl Store {
    /// The settings kept with a conversation (the defaults when none were chosen).
    pub fn conversation_settings(&self, conversation_id: Uuid) -> Result<ConversationSettings> {
        let value: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT settings FROM conversations WHERE id = ?1",
                [conversation_id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        match value {
            None => Err(not_found_conversation(conversation_id)),
            Some(None) => Ok(ConversationSettings::default()),
            // A value this app cannot read (written by a newer one, say) reads as the defaults
            // rather than making the conversation unusable.
            Some(Some(json)) => Ok(serde_json::from_str(&json).unwrap_or_default()),
        }
    }

    /// Keeps `settings` with a conversation. Changing them is not a change of the conversation
    /// itself: it keeps its place in the list.
    pub fn set_conversation_settings(
        &mut self,
        conversation_id: Uuid,
        settings: &ConversationSettings,
    ) -> Result<()> {
        validate(settings)?;
        let json = to_json(settings)?;
        let n = self.conn.execute(
            "UPDATE conversations SET settings = ?1 WHERE id = ?2",
            params![json, conversation_id.to_string()],
        )?;
        if n == 0 {
            return Err(not_found_conversation(conversation_id));
        }
        Ok(())
    }

    /// An app setting, `None` when it was never set or no longer reads as `T`.
    pub fn app_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let value: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM app_settings WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?;
        Ok(value.and_then(|json| serde_json::from_str(&json).ok()))
    }

    /// Keeps an app setting, replacing its earlier value.
    pub fn set_app_setting<T: Serialize>(&mut self, key: &str, value: &T) -> Result<()> {
        let json = to_json(value)?;
        self.conn.execute(
            "INSERT INTO app_settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, json],
        )?;
        Ok(())
    }
}

fn validate(settings: &ConversationSettings) -> Result<()> {
    match settings.problem() {
        Some(problem) => Err(StoreError::InvalidInput(problem)),
        None => Ok(()),
    }
}

fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidInput(format!("settings: {e}")))
}
