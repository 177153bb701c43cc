//! The state every component shares, provided once through Leptos context.
//!
//! Messages on screen are [`MessageView`]s: each holds its own signals, so a streamed token updates
//! one text node and nothing else re-renders. The conversation that is shown can change while a
//! reply streams; `view_epoch` tells late answers apart from the current view, and [`LiveReply`]
//! lets the streaming bubble reappear when its conversation is opened again.

use std::sync::atomic::{AtomicU64, Ordering};

use leptos::html::{Input, Textarea};
use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{
    AppSettings, ConversationListEntry, ConversationSettings, ConversationTreePath, ModelStatus,
    PathMessage, Role, SamplerParams, SearchHit, SyncStatus, Uuid,
};

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
    /// The message it answers (`None` for the first prompt).
    pub parent_id: ArcRwSignal<Option<Uuid>>,
    /// The text so far.
    pub text: ArcRwSignal<String>,
    /// Streaming, done or failed.
    pub state: ArcRwSignal<BubbleState>,
    /// Why generation failed, when it did.
    pub error: ArcRwSignal<Option<String>>,
    /// The person stopped this reply before the model finished it.
    pub stopped: ArcRwSignal<bool>,
    /// Its place among the versions with the same parent, from 0.
    pub sibling_index: ArcRwSignal<u32>,
    /// How many versions share its parent.
    pub sibling_count: ArcRwSignal<u32>,
    /// A person wrote it in the assistant's place.
    pub correction: bool,
}

impl MessageView {
    fn new(role: Role, id: Option<Uuid>, text: String, state: BubbleState) -> Self {
        static NEXT_KEY: AtomicU64 = AtomicU64::new(0);
        MessageView {
            key: NEXT_KEY.fetch_add(1, Ordering::Relaxed),
            role,
            id: ArcRwSignal::new(id),
            parent_id: ArcRwSignal::new(None),
            text: ArcRwSignal::new(text),
            state: ArcRwSignal::new(state),
            error: ArcRwSignal::new(None),
            stopped: ArcRwSignal::new(false),
            sibling_index: ArcRwSignal::new(0),
            sibling_count: ArcRwSignal::new(1),
            correction: false,
        }
    }

    /// A message the app has stored, with its place among its versions.
    pub fn stored(path: &PathMessage) -> Self {
        let message = &path.message;
        let mut view = Self::new(
            message.role,
            Some(message.id),
            message.text.clone(),
            BubbleState::Done,
        );
        view.parent_id.set(message.parent_id);
        view.stopped
            .set(message.provenance.as_ref().is_some_and(|p| p.stopped));
        view.sibling_index.set(path.sibling_index);
        view.sibling_count.set(path.sibling_count.max(1));
        view.correction = message.corrects.is_some();
        view
    }

    /// The empty assistant bubble that a reply to `prompt` streams into.
    pub fn streaming(prompt: Uuid) -> Self {
        let view = Self::new(Role::Assistant, None, String::new(), BubbleState::Streaming);
        view.parent_id.set(Some(prompt));
        view
    }

    /// Appends a streamed piece of text.
    pub fn append(&self, piece: &str) {
        if !piece.is_empty() {
            self.text.update(|text| text.push_str(piece));
        }
    }

    /// Replaces the streamed text with the stored reply.
    pub fn finish(&self, reply: &oa_types::Message) {
        self.id.set(Some(reply.id));
        if self.text.with_untracked(|text| text != &reply.text) {
            self.text.set(reply.text.clone());
        }
        self.stopped
            .set(reply.provenance.as_ref().is_some_and(|p| p.stopped));
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

/// A panel over the chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    /// App settings: theme, privacy.
    Settings,
    /// The models on this computer.
    Models,
    /// The open conversation's system prompt and sampler.
    ChatSettings,
    /// Open-Assistant's labels for one message.
    Labels(Uuid),
}

/// What the main area shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// The open conversation (or a new chat).
    Chat,
    /// Several answers to one prompt side by side, to rank them.
    Compare {
        /// The conversation the prompt belongs to.
        conversation_id: Uuid,
        /// The prompt whose answers are compared.
        prompt_id: Uuid,
    },
    /// Tasks made from the person's own history.
    Contribute,
    /// Everything that may leave the machine, with its exact payload.
    Review,
}

/// A model download the UI follows.
#[derive(Debug, Clone, PartialEq)]
pub enum DownloadState {
    /// Bytes arriving.
    Running {
        /// Bytes on disk.
        done: u64,
        /// Bytes in the file.
        total: u64,
        /// Recent speed.
        bytes_per_second: u64,
        /// Seconds left, when known.
        eta_seconds: Option<u64>,
    },
    /// Comparing with the Hub's checksum.
    Verifying,
    /// Paused; a new start resumes.
    Paused,
    /// Failed, with the reason.
    Failed(String),
}

/// A conversation the person deleted, kept on screen as "Undo" until the deletion is final.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingDelete {
    /// The conversation's list line, to put back on undo.
    pub entry: ConversationListEntry,
    /// Tells this deletion apart from a later one.
    pub token: u64,
}

/// Shared UI state; `Copy`, so closures take it freely.
#[derive(Clone, Copy)]
pub struct AppState {
    /// The model's state; `None` until the app first answers.
    pub model: RwSignal<Option<ModelStatus>>,
    /// Where sending shared contributions stands; `None` until the app first answers.
    pub sync: RwSignal<Option<SyncStatus>>,
    /// The conversation list: pinned first, then newest first.
    pub conversations: RwSignal<Vec<ConversationListEntry>>,
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
    /// The search box, to give it focus (Ctrl/Cmd+K).
    pub search_box: NodeRef<Input>,
    /// What is typed in the search box.
    pub search_query: RwSignal<String>,
    /// Messages matching it.
    pub search_hits: RwSignal<Vec<SearchHit>>,
    /// The message to bring into view and mark once its conversation is shown.
    pub highlight: RwSignal<Option<Uuid>>,
    /// The message whose text is being edited (its key).
    pub editing: RwSignal<Option<u64>>,
    /// The reply being corrected (its key).
    pub correcting: RwSignal<Option<u64>>,
    /// The conversation whose title is being edited.
    pub renaming: RwSignal<Option<Uuid>>,
    /// A deletion that can still be undone.
    pub pending_delete: RwSignal<Option<PendingDelete>>,
    /// The panel open over the chat.
    pub panel: RwSignal<Option<Panel>>,
    /// What the main area shows.
    pub page: RwSignal<Page>,
    /// Model downloads the UI follows, by catalog id (kept while panels close and open).
    pub downloads: RwSignal<std::collections::HashMap<String, DownloadState>>,
    /// Changes when a model file arrives or leaves, so that lists read the folder again.
    pub models_changed: RwSignal<u64>,
    /// Changes when the app pushes that the task queue may have changed, so that the
    /// Contribute page reads it again.
    pub tasks_changed: RwSignal<u64>,
    /// The app's settings, once read.
    pub settings: RwSignal<Option<AppSettings>>,
    /// Whether the settings have been asked for once (answered or failed).
    pub settings_loaded: RwSignal<bool>,
    /// The system prompt and sampler of what is shown (a new chat's until it is sent).
    pub chat_settings: RwSignal<ConversationSettings>,
    /// The sampler replies get when the person chose none (the model's defaults).
    pub default_sampler: RwSignal<SamplerParams>,
}

impl AppState {
    /// Fresh state: nothing known yet.
    pub fn new() -> Self {
        AppState {
            model: RwSignal::new(None),
            sync: RwSignal::new(None),
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
            search_box: NodeRef::new(),
            search_query: RwSignal::new(String::new()),
            search_hits: RwSignal::new(Vec::new()),
            highlight: RwSignal::new(None),
            editing: RwSignal::new(None),
            correcting: RwSignal::new(None),
            renaming: RwSignal::new(None),
            pending_delete: RwSignal::new(None),
            panel: RwSignal::new(None),
            page: RwSignal::new(Page::Chat),
            downloads: RwSignal::new(std::collections::HashMap::new()),
            models_changed: RwSignal::new(0),
            tasks_changed: RwSignal::new(0),
            settings: RwSignal::new(None),
            settings_loaded: RwSignal::new(false),
            chat_settings: RwSignal::new(ConversationSettings::default()),
            default_sampler: RwSignal::new(SamplerParams::default()),
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

    /// Whether the first answers from the app (model state, conversation list, settings) are
    /// in.
    pub fn ready(&self) -> bool {
        self.model.with(Option::is_some)
            && self.conversations_loaded.get()
            && self.settings_loaded.get()
    }

    /// Whether the first-run welcome covers the window.
    pub fn welcome_shown(&self) -> bool {
        self.settings
            .with_untracked(|s| s.as_ref().is_some_and(|s| !s.welcomed))
    }

    /// The conversations the list shows: all but one whose deletion can still be undone.
    pub fn listed(&self) -> Vec<ConversationListEntry> {
        let hidden = self
            .pending_delete
            .with(|p| p.as_ref().map(|p| p.entry.summary.id));
        self.conversations.with(|list| {
            list.iter()
                .filter(|c| Some(c.summary.id) != hidden)
                .cloned()
                .collect()
        })
    }

    /// Title of what is shown: the open conversation's, or "New chat".
    pub fn title(&self) -> String {
        let Some(id) = self.active.get() else {
            return "New chat".to_owned();
        };
        self.conversations.with(|list| {
            list.iter()
                .find(|c| c.summary.id == id)
                // A conversation started a moment ago may not be listed yet.
                .map_or_else(|| "New chat".to_owned(), |c| c.summary.title.clone())
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
        self.page.set(Page::Chat);
        self.view_epoch.update(|e| *e += 1);
        self.active.set(None);
        self.messages.set(Vec::new());
        self.thread_loading.set(false);
        self.notice.set(None);
        self.editing.set(None);
        self.correcting.set(None);
        self.follow_newest.set(true);
        self.chat_settings.set(ConversationSettings::default());
        self.focus_composer();
    }

    /// Shows a stored conversation.
    pub fn open_conversation(&self, id: Uuid) {
        self.page.set(Page::Chat);
        if self.active.get_untracked() == Some(id) && !self.thread_loading.get_untracked() {
            self.reveal_highlight();
            return;
        }
        self.view_epoch.update(|e| *e += 1);
        let epoch = self.view_epoch.get_untracked();
        self.active.set(Some(id));
        self.messages.set(Vec::new());
        self.thread_loading.set(true);
        self.notice.set(None);
        self.editing.set(None);
        self.follow_newest
            .set(self.highlight.get_untracked().is_none());
        let state = *self;
        spawn_local(async move {
            let result = ipc::open_conversation(id).await;
            let settings = ipc::conversation_settings(id).await;
            if state.view_epoch.get_untracked() != epoch {
                return; // The user moved on meanwhile.
            }
            state.thread_loading.set(false);
            state.chat_settings.set(settings.unwrap_or_default());
            match result {
                Ok(path) => state.show_path(&path),
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    }

    /// Shows the chat again after another page, reading the open conversation afresh (the
    /// other page may have added replies or feedback to it).
    pub fn back_to_chat(&self) {
        self.page.set(Page::Chat);
        match self.active.get_untracked() {
            Some(id) => {
                // Forces a fresh read even though it is already the active one.
                self.thread_loading.set(true);
                self.open_conversation(id);
            }
            None => self.focus_composer(),
        }
    }

    /// Shows another version of a message and what followed it.
    pub fn step_version(&self, message_id: Uuid, step: i32) {
        let Some(conversation) = self.active.get_untracked() else {
            return;
        };
        if self.busy.get_untracked() {
            self.notice.set(Some(
                "Wait for the reply to finish, or stop it, to switch versions.".into(),
            ));
            return;
        }
        let epoch = self.view_epoch.get_untracked();
        let state = *self;
        spawn_local(async move {
            let result = ipc::step_version(conversation, message_id, step).await;
            if state.view_epoch.get_untracked() != epoch {
                return;
            }
            match result {
                Ok(path) => {
                    state.follow_newest.set(false);
                    state.show_path(&path);
                }
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    }

    /// Replaces the thread with a stored path (plus the live reply, if it belongs here).
    pub fn show_path(&self, path: &ConversationTreePath) {
        let id = path.summary.id;
        let mut views: Vec<MessageView> = path.messages.iter().map(MessageView::stored).collect();
        let live = self
            .live
            .get_untracked()
            .filter(|live| live.conversation_id == id);
        match live {
            Some(live) => views.push(live.bubble),
            None => {
                let last = path
                    .messages
                    .iter()
                    .rev()
                    .find_map(|m| m.message.provenance.as_ref());
                self.stats.set(last.map(ReplyStats::from_provenance));
            }
        }
        self.messages.set(views);
        self.reveal_highlight();
        if self.highlight.get_untracked().is_none() {
            self.focus_composer();
        }
    }

    /// Reads the shown conversation `conversation` again and shows its current path.
    pub fn reload_thread(&self, conversation: Uuid) {
        let epoch = self.view_epoch.get_untracked();
        let state = *self;
        spawn_local(async move {
            let result = ipc::open_conversation(conversation).await;
            if state.view_epoch.get_untracked() != epoch
                || state.active.get_untracked() != Some(conversation)
            {
                return;
            }
            match result {
                Ok(path) => state.show_path(&path),
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    }

    /// Updates the versions shown ("2 / 3") from the app, without redrawing any bubble.
    pub fn refresh_versions(&self, conversation: Uuid) {
        let epoch = self.view_epoch.get_untracked();
        let state = *self;
        spawn_local(async move {
            let Ok(path) = ipc::open_conversation(conversation).await else {
                return;
            };
            if state.view_epoch.get_untracked() != epoch {
                return;
            }
            state.messages.with_untracked(|views| {
                for view in views {
                    let id = view.id.get_untracked();
                    if let Some(stored) = path.messages.iter().find(|p| Some(p.message.id) == id) {
                        view.sibling_index.set(stored.sibling_index);
                        view.sibling_count.set(stored.sibling_count.max(1));
                    }
                }
            });
        });
    }

    /// Brings the message a search hit named into view and marks it for a moment.
    fn reveal_highlight(&self) {
        let Some(target) = self.highlight.get_untracked() else {
            return;
        };
        let state = *self;
        request_animation_frame(move || {
            let selector = format!(".message[data-id='{target}']");
            let found = document().query_selector(&selector).ok().flatten();
            if let Some(element) = found {
                element.scroll_into_view();
                let _ = element.class_list().add_1("flash");
            }
            state.highlight.set(None);
        });
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

    /// Keeps the shown conversation's system prompt and sampler (a new chat's are kept with
    /// its first message).
    pub fn save_chat_settings(&self, settings: ConversationSettings) {
        self.chat_settings.set(settings.clone());
        let Some(id) = self.active.get_untracked() else {
            return;
        };
        let state = *self;
        spawn_local(async move {
            if let Err(e) = ipc::set_conversation_settings(id, settings).await {
                state.notice.set(Some(e.message));
            }
        });
    }
}

impl Default for AppState {
    fn default() -> Self {
        Self::new()
    }
}
