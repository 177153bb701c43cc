//! Sending a prompt (or an edit of one, or asking again) and following its reply as it streams.
//!
//! [`Exchange`] turns the app's [`ChatEvent`]s (the stored prompt, then the tokens) and the
//! command's answer (the stored reply, or the error) into changes of the shared state and says
//! what must be fetched again; [`send_draft`], [`edit_prompt`] and [`regenerate`] drive one
//! exchange from the request to the stored reply, and [`stop`] ends the reply early.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{
    ChatEvent, ConversationSettings, Message, ModelStatus, Regenerate, SendMessage, Uuid,
};

use crate::ipc;
use crate::state::{AppState, LiveReply, MessageView};
use crate::status::ReplyStats;
use crate::subscription::settled_model;

/// What must happen after an event, beyond the state change itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// The conversation list changed (new conversation, new reply).
    RefreshConversations,
    /// The list changed and the shown conversation has a new version of a message.
    RefreshWithVersions(Uuid),
    /// The list changed and the shown conversation is read again: the reply was stored before
    /// its prompt's `Started` arrived, so the thread has no bubble for it.
    Reload(Uuid),
}

/// What an exchange asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// A reply to a new prompt, or to a new version of an earlier one: the thread keeps what
    /// precedes the prompt and shows the prompt and its reply.
    Prompt,
    /// Another reply to a prompt that is shown: the thread keeps everything up to the prompt.
    Again,
}

/// One prompt and its reply, from the first event to the last.
#[derive(Debug)]
pub struct Exchange {
    /// The view the prompt was sent from: the thread is only changed while it is still shown.
    epoch: u64,
    /// The prompt starts a new conversation, which gets selected once the app names it.
    new_conversation: bool,
    /// What was asked for.
    ask: Ask,
    /// The bubble the reply streams into, from `Started` on.
    bubble: Option<MessageView>,
    /// Milliseconds to the first token, once it arrived.
    first_token_ms: Option<u64>,
    /// The command answered with the stored reply or an error; events after it are ignored.
    closed: bool,
}

impl Exchange {
    /// An exchange sent from the view `epoch`, to a new conversation or an open one.
    pub fn new(epoch: u64, new_conversation: bool, ask: Ask) -> Self {
        Exchange {
            epoch,
            new_conversation,
            ask,
            bubble: None,
            first_token_ms: None,
            closed: false,
        }
    }

    /// Whether the app has stored the prompt (so it must not be put back in the composer).
    pub fn started(&self) -> bool {
        self.bubble.is_some()
    }

    /// Whether the reply is complete or has failed.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Applies one streamed event to the state.
    pub fn apply(&mut self, event: ChatEvent, state: &AppState) -> Option<FollowUp> {
        if self.closed {
            // A channel message may trail the command's answer; the stored reply has it all.
            return None;
        }
        match event {
            ChatEvent::Started { prompt } => {
                let bubble = MessageView::streaming(prompt.id);
                self.bubble = Some(bubble.clone());
                let conversation_id = prompt.conversation_id;
                state.live.set(Some(LiveReply {
                    conversation_id,
                    bubble: bubble.clone(),
                }));
                if state.view_epoch.get_untracked() == self.epoch {
                    if self.new_conversation {
                        state.active.set(Some(conversation_id));
                    }
                    state.follow_newest.set(true);
                    state.editing.set(None);
                    let ask = self.ask;
                    state.messages.update(|messages| {
                        let keep_through = match ask {
                            Ask::Prompt => prompt.parent_id,
                            Ask::Again => Some(prompt.id),
                        };
                        let versions = keep_only_through(messages, keep_through);
                        let latest = |view: &MessageView| {
                            view.sibling_count.set(versions + 1);
                            view.sibling_index.set(versions);
                        };
                        match ask {
                            Ask::Prompt => {
                                let shown = MessageView::stored(&oa_types::PathMessage {
                                    message: prompt.clone(),
                                    sibling_index: 0,
                                    sibling_count: 1,
                                });
                                latest(&shown);
                                messages.push(shown);
                            }
                            Ask::Again => latest(&bubble),
                        }
                        messages.push(bubble);
                    });
                }
                self.new_conversation
                    .then_some(FollowUp::RefreshConversations)
            }
            ChatEvent::Token(token) => {
                let bubble = self.bubble.as_ref()?;
                bubble.append(&token.text);
                let first_token_ms = *self.first_token_ms.get_or_insert(token.elapsed_ms);
                state.stats.set(Some(ReplyStats {
                    tokens: token.index + 1,
                    first_token_ms,
                    total_ms: token.elapsed_ms,
                    streaming: true,
                    context_tokens: None,
                    dropped_messages: 0,
                }));
                None
            }
            // The command's answer ends the exchange (`finish`, `reject`); the app does not
            // send these through the channel.
            ChatEvent::Finished { .. } | ChatEvent::Failed { .. } => None,
        }
    }

    /// The command answered with the stored reply: the bubble becomes that reply.
    pub fn finish(&mut self, reply: &Message, state: &AppState) -> Option<FollowUp> {
        if self.closed {
            return None;
        }
        match &reply.provenance {
            Some(provenance) => state
                .stats
                .set(Some(ReplyStats::from_provenance(provenance))),
            None => state.stats.update(|stats| {
                if let Some(stats) = stats {
                    stats.streaming = false;
                }
            }),
        }
        self.close(state);
        let shown = state.view_epoch.get_untracked() == self.epoch;
        match &self.bubble {
            Some(bubble) => {
                bubble.finish(reply);
                if shown {
                    Some(FollowUp::RefreshWithVersions(reply.conversation_id))
                } else {
                    Some(FollowUp::RefreshConversations)
                }
            }
            None if shown => {
                if self.new_conversation {
                    state.active.set(Some(reply.conversation_id));
                }
                Some(FollowUp::Reload(reply.conversation_id))
            }
            None => Some(FollowUp::RefreshConversations),
        }
    }

    /// The command failed: the error belongs to the bubble if there is one (text that arrived
    /// is kept). Returns `false` when the prompt never reached the app.
    pub fn reject(&mut self, message: String, state: &AppState) -> bool {
        if self.closed {
            return self.bubble.is_some();
        }
        self.close(state);
        let Some(bubble) = &self.bubble else {
            return false;
        };
        bubble.fail(message);
        true
    }

    fn close(&mut self, state: &AppState) {
        self.closed = true;
        state.live.set(None);
        state.stats.update(|stats| {
            if let Some(stats) = stats {
                stats.streaming = false;
            }
        });
    }
}

fn follow_up(state: AppState, follow_up: Option<FollowUp>) {
    match follow_up {
        Some(FollowUp::RefreshConversations) => state.refresh_conversations(),
        Some(FollowUp::RefreshWithVersions(conversation)) => {
            state.refresh_conversations();
            state.refresh_versions(conversation);
        }
        Some(FollowUp::Reload(conversation)) => {
            state.refresh_conversations();
            state.reload_thread(conversation);
        }
        None => {}
    }
}

/// Sends what is in the composer, if it can be sent now.
pub fn send_draft(state: AppState) {
    if !state.can_send() {
        return;
    }
    let text = state.draft.get_untracked().trim().to_owned();
    state.draft.set(String::new());
    let conversation_id = state.active.get_untracked();
    // A new chat takes the settings chosen before its first message.
    let settings = state.chat_settings.get_untracked();
    let settings = (conversation_id.is_none() && settings != ConversationSettings::default())
        .then_some(settings);
    let request = SendMessage {
        conversation_id,
        text: text.clone(),
        sampler: None,
        edit_of: None,
        settings,
    };
    start(state, Request::Send(request), Some(text));
}

/// Sends a new version of the prompt `original` (a branch beside it) and streams its reply.
pub fn edit_prompt(state: AppState, original: Uuid, text: String) {
    let text = text.trim().to_owned();
    if text.is_empty() || state.busy.get_untracked() || state.model_unavailable() {
        return;
    }
    let request = SendMessage {
        conversation_id: state.active.get_untracked(),
        text,
        sampler: None,
        edit_of: Some(original),
        settings: None,
    };
    start(state, Request::Send(request), None);
}

/// Asks for another reply to `prompt`.
pub fn regenerate(state: AppState, prompt: Uuid) {
    let Some(conversation_id) = state.active.get_untracked() else {
        return;
    };
    if state.busy.get_untracked() || state.model_unavailable() {
        return;
    }
    let request = Regenerate {
        conversation_id,
        prompt_id: prompt,
        sampler: None,
    };
    start(state, Request::Regenerate(request), None);
}

/// Stops the reply being generated; the app keeps what it wrote, marked as stopped.
pub fn stop(state: AppState) {
    if !state.busy.get_untracked() {
        return;
    }
    spawn_local(async move {
        if let Err(e) = ipc::stop_generation().await {
            state.notice.set(Some(e.message));
        }
    });
}

/// A request the app answers with a streamed reply.
enum Request {
    Send(SendMessage),
    Regenerate(Regenerate),
}

fn start(state: AppState, request: Request, draft: Option<String>) {
    state.busy.set(true);
    state.notice.set(None);
    spawn_local(async move {
        run(state, request, draft).await;
        state.busy.set(false);
        state.focus_composer();
    });
}

/// Drives one exchange. `draft` is the composer text to give back if the prompt never reached
/// the app.
async fn run(state: AppState, request: Request, draft: Option<String>) {
    let give_back = |message: String| match &draft {
        Some(text) => restore_draft(&state, text.clone(), message),
        None => state.notice.set(Some(message)),
    };
    // A prompt typed while the model loads is sent as soon as it is ready.
    match settled_model(state).await {
        Some(ModelStatus::Ready { .. }) => {}
        Some(ModelStatus::Unavailable { error }) => {
            give_back(error.message);
            return;
        }
        Some(ModelStatus::Loading { .. }) | None => {
            give_back("The model is not ready yet.".to_owned());
            return;
        }
    }

    let epoch = state.view_epoch.get_untracked();
    let (new_conversation, ask) = match &request {
        Request::Send(send) => (send.conversation_id.is_none(), Ask::Prompt),
        Request::Regenerate(_) => (false, Ask::Again),
    };
    let exchange = Rc::new(RefCell::new(Exchange::new(epoch, new_conversation, ask)));
    let on_event = {
        let exchange = exchange.clone();
        move |event| {
            let next = exchange.borrow_mut().apply(event, &state);
            follow_up(state, next);
        }
    };
    let reply = match request {
        Request::Send(send) => ipc::send_message(send, on_event).await,
        Request::Regenerate(again) => ipc::regenerate(again, on_event).await,
    };
    match reply {
        Ok(reply) => {
            let next = exchange.borrow_mut().finish(&reply, &state);
            follow_up(state, next);
        }
        Err(error) => {
            let handled = exchange.borrow_mut().reject(error.message.clone(), &state);
            if handled {
                state.refresh_conversations();
            } else {
                give_back(error.message);
            }
        }
    }
}

/// Removes the views after the one with id `through` (all of them when `None`) and returns
/// how many versions the first removed one had: a new version joins them.
fn keep_only_through(messages: &mut Vec<MessageView>, through: Option<Uuid>) -> u32 {
    let keep = match through {
        None => 0,
        Some(id) => match messages
            .iter()
            .position(|m| m.id.get_untracked() == Some(id))
        {
            Some(index) => index + 1,
            None => messages.len(),
        },
    };
    let versions = messages
        .get(keep)
        .map_or(0, |m| m.sibling_count.get_untracked());
    messages.truncate(keep);
    versions
}

/// The prompt never reached the app: give the text back and say why.
fn restore_draft(state: &AppState, text: String, message: String) {
    if state.draft.with_untracked(String::is_empty) {
        state.draft.set(text);
    }
    state.notice.set(Some(message));
}

#[cfg(test)]
mod tests {
    use oa_types::{
        AppError, ErrorCode, Message, Provenance, Role, SamplerParams, TokenEvent, Uuid,
    };

    use super::*;
    use crate::state::BubbleState;

    fn message(role: Role, conversation_id: Uuid, text: &str) -> Message {
        Message {
            id: Uuid::from_u128(id_for(text)),
            conversation_id,
            parent_id: None,
            role,
            text: text.to_owned(),
            created_at_ms: 0,
            provenance: None,
            corrects: None,
        }
    }

    fn id_for(text: &str) -> u128 {
        text.bytes().fold(7u128, |acc, b| {
            acc.wrapping_mul(31).wrapping_add(u128::from(b))
        })
    }

    fn token(text: &str, index: u32, elapsed_ms: u64) -> ChatEvent {
        ChatEvent::Token(TokenEvent {
            text: text.to_owned(),
            index,
            elapsed_ms,
            logprobs: None,
        })
    }

    fn texts(state: &AppState) -> Vec<(Role, String, BubbleState)> {
        state.messages.with_untracked(|messages| {
            messages
                .iter()
                .map(|m| (m.role, m.text.get_untracked(), m.state.get_untracked()))
                .collect()
        })
    }

    #[test]
    fn a_new_conversation_streams_into_one_bubble_and_is_selected() {
        let state = AppState::new();
        let mut exchange = Exchange::new(state.view_epoch.get_untracked(), true, Ask::Prompt);
        let conversation = Uuid::from_u128(1);
        let prompt = message(Role::Prompter, conversation, "Hi");

        let next = exchange.apply(ChatEvent::Started { prompt }, &state);
        assert_eq!(next, Some(FollowUp::RefreshConversations));
        assert_eq!(state.active.get_untracked(), Some(conversation));
        assert_eq!(
            texts(&state),
            [
                (Role::Prompter, "Hi".to_owned(), BubbleState::Done),
                (Role::Assistant, String::new(), BubbleState::Streaming)
            ]
        );

        assert_eq!(exchange.apply(token("Hel", 0, 120), &state), None);
        exchange.apply(token("lo", 1, 170), &state);
        assert_eq!(texts(&state)[1].1, "Hello");
        let live = state.stats.get_untracked().unwrap();
        assert_eq!(
            (live.tokens, live.first_token_ms, live.total_ms),
            (2, 120, 170)
        );
        assert!(live.streaming);

        let mut reply = message(Role::Assistant, conversation, "Hello!");
        reply.provenance = Some(Provenance {
            model_id: "m".into(),
            model_sha256: String::new(),
            quantization: "Q4_1".into(),
            architecture: "llama".into(),
            chat_template_sha256: String::new(),
            sampler: SamplerParams::default(),
            engine_version: "0".into(),
            prompt_tokens: 9,
            completion_tokens: 3,
            time_to_first_token_ms: 100,
            total_ms: 300,
            stopped: false,
            dropped_messages: 0,
        });
        let next = exchange.finish(&reply, &state);
        assert_eq!(next, Some(FollowUp::RefreshWithVersions(conversation)));
        assert!(exchange.closed());
        assert_eq!(
            texts(&state)[1],
            (Role::Assistant, "Hello!".to_owned(), BubbleState::Done)
        );
        let bubble_id = state.messages.with_untracked(|m| m[1].id.get_untracked());
        assert_eq!(bubble_id, Some(reply.id));
        assert!(state.live.get_untracked().is_none());
        let last = state.stats.get_untracked().unwrap();
        assert_eq!(
            (last.tokens, last.first_token_ms, last.streaming),
            (3, 100, false)
        );

        // A token that trails the command's answer changes nothing.
        assert_eq!(exchange.apply(token("!!", 3, 400), &state), None);
        assert_eq!(
            texts(&state)[1],
            (Role::Assistant, "Hello!".to_owned(), BubbleState::Done)
        );
        assert!(!state.stats.get_untracked().unwrap().streaming);
    }

    #[test]
    fn a_reply_answered_before_its_prompt_arrived_reloads_the_thread() {
        let state = AppState::new();
        let mut exchange = Exchange::new(state.view_epoch.get_untracked(), true, Ask::Prompt);
        let conversation = Uuid::from_u128(6);
        let prompt = message(Role::Prompter, conversation, "Hi");
        let reply = message(Role::Assistant, conversation, "Hello");

        let next = exchange.finish(&reply, &state);
        assert_eq!(next, Some(FollowUp::Reload(conversation)));
        assert_eq!(state.active.get_untracked(), Some(conversation));
        // The late `Started` does not open a bubble that would never end.
        assert_eq!(exchange.apply(ChatEvent::Started { prompt }, &state), None);
        assert!(texts(&state).is_empty());
        assert!(state.live.get_untracked().is_none());
    }

    #[test]
    fn a_failure_shows_in_the_bubble_and_keeps_the_text() {
        let state = AppState::new();
        let conversation = Uuid::from_u128(2);
        state.active.set(Some(conversation));
        let mut exchange = Exchange::new(state.view_epoch.get_untracked(), false, Ask::Prompt);
        let prompt = message(Role::Prompter, conversation, "Hi");
        assert_eq!(exchange.apply(ChatEvent::Started { prompt }, &state), None);
        exchange.apply(token("Par", 0, 10), &state);
        // The app's channel never carries the failure; the command's answer does.
        let error = AppError::new(ErrorCode::Inference, "other");
        assert_eq!(exchange.apply(ChatEvent::Failed { error }, &state), None);
        assert!(!exchange.closed());
        assert!(exchange.reject("The engine stopped.".into(), &state));

        assert_eq!(
            texts(&state)[1],
            (Role::Assistant, "Par".to_owned(), BubbleState::Failed)
        );
        let shown = state
            .messages
            .with_untracked(|m| m[1].error.get_untracked());
        assert_eq!(shown.as_deref(), Some("The engine stopped."));
        assert!(state.live.get_untracked().is_none());
    }

    #[test]
    fn a_rejection_before_start_is_left_to_the_composer() {
        let state = AppState::new();
        let mut exchange = Exchange::new(0, true, Ask::Prompt);
        assert!(!exchange.reject("The model is still loading".into(), &state));
        assert!(texts(&state).is_empty());
    }

    #[test]
    fn events_for_a_view_left_behind_do_not_touch_the_thread() {
        let state = AppState::new();
        let mut exchange = Exchange::new(state.view_epoch.get_untracked(), true, Ask::Prompt);
        state.view_epoch.set(5); // The user opened something else meanwhile.
        let conversation = Uuid::from_u128(3);
        state.active.set(Some(Uuid::from_u128(4)));
        let prompt = message(Role::Prompter, conversation, "Hi");
        let next = exchange.apply(ChatEvent::Started { prompt }, &state);
        assert_eq!(next, Some(FollowUp::RefreshConversations));
        exchange.apply(token("x", 0, 10), &state);

        assert!(texts(&state).is_empty());
        assert_eq!(state.active.get_untracked(), Some(Uuid::from_u128(4)));
        let live = state.live.get_untracked().unwrap();
        assert_eq!(live.conversation_id, conversation);
        assert_eq!(live.bubble.text.get_untracked(), "x");
    }

    #[test]
    fn asking_again_keeps_the_thread_up_to_the_prompt_and_counts_the_new_version() {
        let state = AppState::new();
        let conversation = Uuid::from_u128(9);
        state.active.set(Some(conversation));
        let path = |text: &str, role, parent: Option<&Message>| {
            let mut m = message(role, conversation, text);
            m.parent_id = parent.map(|p| p.id);
            m
        };
        let prompt = path("Hi", Role::Prompter, None);
        let reply = path("Hello", Role::Assistant, Some(&prompt));
        let follow = path("More", Role::Prompter, Some(&reply));
        let answer = path("Sure", Role::Assistant, Some(&follow));
        let shown: Vec<MessageView> = [&prompt, &reply, &follow, &answer]
            .iter()
            .map(|m| {
                MessageView::stored(&oa_types::PathMessage {
                    message: (*m).clone(),
                    sibling_index: 0,
                    sibling_count: if m.id == answer.id { 2 } else { 1 },
                })
            })
            .collect();
        state.messages.set(shown);

        let mut again = Exchange::new(state.view_epoch.get_untracked(), false, Ask::Again);
        again.apply(
            ChatEvent::Started {
                prompt: follow.clone(),
            },
            &state,
        );
        let rows = texts(&state);
        assert_eq!(rows.len(), 4, "{rows:?}");
        assert_eq!(rows[2].1, "More");
        assert_eq!(
            rows[3],
            (Role::Assistant, String::new(), BubbleState::Streaming)
        );
        let (index, count) = state.messages.with_untracked(|m| {
            (
                m[3].sibling_index.get_untracked(),
                m[3].sibling_count.get_untracked(),
            )
        });
        assert_eq!((index, count), (2, 3), "the third of three replies");

        // An edit of the first prompt replaces the whole thread with the new version.
        let mut edit = Exchange::new(state.view_epoch.get_untracked(), false, Ask::Prompt);
        let edited = path("Hi there", Role::Prompter, None);
        edit.apply(ChatEvent::Started { prompt: edited }, &state);
        let rows = texts(&state);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].1, "Hi there");
        let (index, count) = state.messages.with_untracked(|m| {
            (
                m[0].sibling_index.get_untracked(),
                m[0].sibling_count.get_untracked(),
            )
        });
        assert_eq!((index, count), (1, 2), "the second version of the prompt");
    }
}
