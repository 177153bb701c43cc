//! Feedback on replies, in Open-Assistant's vocabulary: thumbs with reasons, labels, a better
//! answer written in the assistant's place, and a ranking of a prompt's replies (compare mode).
//! Each is kept privately, and recorded for sharing, by the store.

use std::sync::Arc;

use oa_types::{CompareSet, Labels, Message, MessageFeedback, Ranking, Thumbs, Uuid};

use crate::Result;
use crate::state::State;

/// The feedback area of [`crate::App`].
#[derive(Debug, Clone, Copy)]
pub struct Feedback<'a> {
    state: &'a Arc<State>,
}

impl<'a> Feedback<'a> {
    pub(crate) fn new(state: &'a Arc<State>) -> Feedback<'a> {
        Feedback { state }
    }

    /// The feedback currently on a message.
    pub async fn get(self, message_id: Uuid) -> Result<MessageFeedback> {
        self.state
            .with_store(move |s| Ok(s.feedback(message_id)?))
            .await
    }

    /// Records a thumbs vote (with reasons and a comment) on a message, replacing an earlier
    /// one; returns the message's feedback now.
    pub async fn rate(self, message_id: Uuid, thumbs: Thumbs) -> Result<MessageFeedback> {
        self.state
            .with_store_changing_tasks(move |s| {
                s.rate(message_id, &thumbs)?;
                Ok(s.feedback(message_id)?)
            })
            .await
    }

    /// Records Open-Assistant labels on a message, replacing the earlier set; returns the
    /// message's feedback now.
    pub async fn set_labels(self, message_id: Uuid, labels: Labels) -> Result<MessageFeedback> {
        self.state
            .with_store_changing_tasks(move |s| {
                s.set_labels(message_id, &labels)?;
                Ok(s.feedback(message_id)?)
            })
            .await
    }

    /// Keeps a reply the person wrote in the assistant's place as a correction of `corrected`
    /// (a sibling of it, linked to it); it becomes what the conversation shows.
    pub async fn correct(
        self,
        conversation_id: Uuid,
        corrected: Uuid,
        text: String,
    ) -> Result<Message> {
        self.state
            .with_store_changing_tasks(move |s| {
                Ok(s.add_correction(conversation_id, corrected, &text)?)
            })
            .await
    }

    /// A prompt with all its replies and their ranking, for compare mode.
    pub async fn compare_set(self, prompt_id: Uuid) -> Result<CompareSet> {
        self.state
            .with_store(move |s| Ok(s.compare_set(prompt_id)?))
            .await
    }

    /// Ranks a prompt's replies best first (or marks them not rankable), replacing an earlier
    /// ranking; returns the compare set after it.
    pub async fn rank(self, prompt_id: Uuid, ranking: Ranking) -> Result<CompareSet> {
        self.state
            .with_store_changing_tasks(move |s| {
                s.rank_replies(prompt_id, &ranking)?;
                Ok(s.compare_set(prompt_id)?)
            })
            .await
    }
}
