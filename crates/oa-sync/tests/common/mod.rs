//! What the sync client's integration tests share: an account to register, and the events of a
//! conversation shared from a real desktop store.

use anyhow::Result;
use oa_store::Store;
use oa_types::{ConsentState, RegisterRequest, SubmittedEvent};

pub fn register_request(name: &str) -> RegisterRequest {
    RegisterRequest {
        display_name: name.to_owned(),
        password: "correct horse battery staple".to_owned(),
        device_name: "laptop".to_owned(),
    }
}

/// A conversation written in a desktop store and shared: its queued outbox events, as sent.
pub fn shared_conversation(store: &mut Store, question: &str) -> Result<Vec<SubmittedEvent>> {
    let prompt = store.add_prompt(None, question)?;
    store.add_reply(
        &prompt,
        "Because air scatters blue sunlight more than red light.",
        Some(oa_server::testing::model_provenance()),
    )?;
    for event in store.events(ConsentState::Private)? {
        store.share_event(event.id)?;
    }
    Ok(store
        .events(ConsentState::Queued)?
        .iter()
        .map(SubmittedEvent::from)
        .collect())
}
