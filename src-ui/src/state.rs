//! The state every component shares, provided once through Leptos context.
//!
//! Messages on screen are [`MessageView`]s: each holds its own signals, so a streamed token updates
//! one text node and nothing else re-renders. The conversation that is shown can change while a
//! reply streams; `view_epoch` tells late answers apart from the current view, and [`LiveReply`]
//! lets the streaming bubble reappear when its conversation is opened again.

use std::sync::atomic::{AtomicU64, Ordering};

use leptos::html::Textarea;
use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{ConversationSummary, Message, ModelStatus, Role, Uuid};

use crate::ipc;
use crate::status::ReplyStats;

/// Where a message bubble is in its life; shown as its `data-state` attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BubbleState {
    /// Tokens are still arriving.
    Streaming,
    /// The text is complete (and stored).
    Done,
    /// Generation failed; the bubble shows why.
    Failed,
}

impl BubbleState {
    /// The `data-state` value the end-to-end tests look for.
    pub fn as_str(self) -> &'static str {
        match self {
            BubbleState::Streaming => "streaming",
            BubbleState::Done => "done",
            BubbleState::Failed => "failed",
        }
    }
}

/// One message bubble on screen.
#[derive(Debug, Clone)]
pub struct MessageView {
    /// Stable key for the list; unlike `id` it exists before the app has stored the message.
    pub key: u64,
    /// Who wrote it.
    pub role: Role,
    /// The stored message's id, once known.
    pub id: ArcRwSignal<Option<Uuid>>,
    /// The text so far.
    pub text: ArcRwSignal<String>,
    /// Streaming, done or failed.
    pub state: ArcRwSignal<BubbleState>,
    /// Why generation failed, when it did.
    pub error: ArcRwSignal<Option<String>>,
}

impl MessageView {
    fn new(role: Role, id: Option<Uuid>, text: String, state: BubbleState) -> Self {
        static NEXT_KEY: AtomicU64 = AtomicU64::new(0);
        MessageView {
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            role,
            id: ArcRwSignal::new(id),
            text: ArcRwSignal::new(text),
            state: ArcRwSignal::new(state),
            error: ArcRwSignal::new(None),
        }
    }

    /// A message the app has stored.
    pub fn stored(message: &Message) -> Self {
        Self::new(
            message.role,
            Some(message.id),
            message.text.clone(),
            BubbleState::Done,
        )
    }

    /// The empty assistant bubble that a reply streams into.
    pub fn streaming() -> Self {
        Self::new(Role::Assistant, None, String::new(), BubbleState::Streaming)
    }

    /// Appends a streamed piece of text.
    pub fn append(&self, piece: &str) {
        if !piece.is_empty() {
            self.text.update(|text| text.push_str(piece));
        }
    }

    /// Replaces the streamed text with the stored reply.
    pub fn finish(&self, reply: &Message) {
        self.id.set(Some(reply.id));
        if self.text.with_untracked(|text| text != &reply.text) {
            self.text.set(reply.text.clone());
        }
        self.state.set(BubbleState::Done);
    }

    /// Marks the bubble failed, keeping any text that arrived.
    pub fn fail(&self, message: String) {
        self.error.set(Some(message));
        self.state.set(BubbleState::Failed);
    }
}

/// The reply being generated, wherever the user is looking.
#[derive(Debug, Clone)]
pub struct LiveReply {
    /// The conversation it belongs to.
    pub conversation_id: Uuid,
    /// The bubble it streams into.
    pub bubble: MessageView,
}

/// Shared UI state; `Copy`, so closures take it freely.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The model's state; `None` until the app first answers.
    pub model: RwSignal<Option<ModelStatus>>,
    /// The conversation list, newest first.
    pub conversations: RwSignal<Vec<ConversationSummary>>,
    /// Whether the conversation list has been asked for once (answered or failed).
    pub conversations_loaded: RwSignal<bool>,
    /// The open conversation; `None` for a new chat.
    pub active: RwSignal<Option<Uuid>>,
    /// The messages shown, root first.
    pub messages: RwSignal<Vec<MessageView>>,
    /// A conversation is being opened.
    pub thread_loading: RwSignal<bool>,
    /// Changes whenever the user switches what is shown.
    pub view_epoch: RwSignal<u64>,
    /// The reply being generated, if any.
    pub live: RwSignal<Option<LiveReply>>,
    /// A message is being sent or streamed: one at a time.
    pub busy: RwSignal<bool>,
    /// What is typed in the composer.
    pub draft: RwSignal<String>,
    /// An error to show above the composer (one that belongs to no bubble).
    pub notice: RwSignal<Option<String>>,
    /// Speed of the reply streaming now, or of the last one.
    pub stats: RwSignal<Option<ReplyStats>>,
    /// Keep the thread scrolled to the newest message (off once the user scrolls up).
    pub follow_newest: RwSignal<bool>,
    /// The composer's textarea, to give it focus.
    pub composer: NodeRef<Textarea>,
}

impl AppState {
    /// Fresh state: nothing known yet.
    pub fn new() -> Self {
        AppState {
            model: RwSignal::new(None),
            conversations: RwSignal::new(Vec::new()),
            conversations_loaded: RwSignal::new(false),
            active: RwSignal::new(None),
            messages: RwSignal::new(Vec::new()),
            thread_loading: RwSignal::new(false),
            view_epoch: RwSignal::new(0),
            live: RwSignal::new(None),
            busy: RwSignal::new(false),
            draft: RwSignal::new(String::new()),
            notice: RwSignal::new(None),
            stats: RwSignal::new(None),
            follow_newest: RwSignal::new(true),
            composer: NodeRef::new(),
        }
    }

    /// Whether the model cannot be used at all (not merely still loading).
    pub fn model_unavailable(&self) -> bool {
        self.model
            .with(|m| matches!(m, Some(ModelStatus::Unavailable { .. })))
    }

    /// Whether the Send button works now.
    pub fn can_send(&self) -> bool {
        !self.busy.get()
            && !self.model_unavailable()
            && self.draft.with(|draft| !draft.trim().is_empty())
    }

    /// Whether the first answers from the app (model state, conversation list) are in.
    pub fn ready(&self) -> bool {
        self.model.with(Option::is_some) && self.conversations_loaded.get()
    }

    /// Title of what is shown: the open conversation's, or "New chat".
    pub fn title(&self) -> String {
        let Some(id) = self.active.get() else {
            return "New chat".to_owned();
        };
        self.conversations.with(|list| {
            list.iter()
                .find(|c| c.id == id)
                // A conversation started a moment ago may not be listed yet.
                .map_or_else(|| "New chat".to_owned(), |c| c.title.clone())
        })
    }

    /// Puts the cursor in the composer.
    pub fn focus_composer(&self) {
        if let Some(textarea) = self.composer.get_untracked() {
            let _ = textarea.focus();
        }
    }

    /// Starts an empty conversation (it is stored with its first message).
    pub fn new_chat(&self) {
        self.view_epoch.update(|e| *e += 1);
        self.active.set(None);
        self.messages.set(Vec::new());
        self.thread_loading.set(false);
        self.notice.set(None);
        self.follow_newest.set(true);
        self.focus_composer();
    }

    /// Shows a stored conversation.
    pub fn open_conversation(&self, id: Uuid) {
        if self.active.get_untracked() == Some(id) && !self.thread_loading.get_untracked() {
            return;
        }
        self.view_epoch.update(|e| *e += 1);
        let epoch = self.view_epoch.get_untracked();
        self.active.set(Some(id));
        self.messages.set(Vec::new());
        self.thread_loading.set(true);
        self.notice.set(None);
        self.follow_newest.set(true);
        let state = *self;
        spawn_local(async move {
            let result = ipc::open_conversation(id).await;
            if state.view_epoch.get_untracked() != epoch {
                return; // The user moved on meanwhile.
            }
            state.thread_loading.set(false);
            match result {
                Ok(detail) => state.show_messages(id, &detail.messages),
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    }

    /// Replaces the thread with stored messages (plus the live reply, if it belongs here).
    fn show_messages(&self, id: Uuid, messages: &[Message]) {
        let mut views: Vec<MessageView> = messages.iter().map(MessageView::stored).collect();
        let live = self
            .live
            .get_untracked()
            .filter(|live| live.conversation_id == id);
        match live {
            Some(live) => views.push(live.bubble),
            None => {
                let last = messages.iter().rev().find_map(|m| m.provenance.as_ref());
                if let Some(provenance) = last {
                    self.stats
                        .set(Some(ReplyStats::from_provenance(provenance)));
                }
            }
        }
        self.messages.set(views);
        self.focus_composer();
    }

    /// Reloads the conversation list.
    pub fn refresh_conversations(&self) {
        let state = *self;
        spawn_local(async move {
            match ipc::list_conversations().await {
                Ok(list) => state.conversations.set(list),
                Err(e) => state.notice.set(Some(e.message)),
            }
            state.conversations_loaded.set(true);
        });
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
