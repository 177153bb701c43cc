//! Shared conversations in bulk, for tests and benchmarks of sending them (feature `testing`).

use oa_types::{Labels, Provenance, TextLabel, Thumbs, Uuid, Vote};

use crate::{Result, Store};

/// Events [`shared_conversations`] writes per conversation.
pub const EVENTS_PER_CONVERSATION: usize = 5;

/// Writes `count` conversations and shares them: each a prompt, two replies written by the
/// model of `provenance`, a thumbs-up on the first reply and labels on the second, five queued
/// events in all. Every text carries `tag` and the conversation's number, so none repeats (a
/// server refuses a text an account already sent). Returns the conversations' ids.
pub fn shared_conversations(
    store: &mut Store,
    count: usize,
    tag: &str,
    provenance: &Provenance,
) -> Result<Vec<Uuid>> {
    let up = Thumbs {
        vote: Vote::Up,
        reasons: Vec::new(),
        comment: None,
    };
    let labels = Labels([(TextLabel::Quality, 0.75), (TextLabel::Helpfulness, 1.0)].into());
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let prompt = store.add_prompt(
            None,
            &format!("Question {i} of {tag}: how do tides depend on the moon?"),
        )?;
        let first = store.add_reply(
            &prompt,
            &format!("Answer {i} of {tag}: the moon's pull raises the sea."),
            Some(provenance.clone()),
        )?;
        let second = store.add_reply(
            &prompt,
            &format!("Another answer {i} of {tag}: gravity and the earth's turning."),
            Some(provenance.clone()),
        )?;
        store.rate(first.id, &up)?;
        store.set_labels(second.id, &labels)?;
        store.share_conversation(prompt.conversation_id)?;
        ids.push(prompt.conversation_id);
    }
    Ok(ids)
}
