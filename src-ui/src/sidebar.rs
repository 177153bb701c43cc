//! The left column: "New chat", search, the conversation list with its actions, and the way to
//! Models and Settings.

use leptos::ev::KeyboardEvent;
use leptos::html::Input;
use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{ConversationListEntry, SearchHit};

use crate::clock::sleep;
use crate::ipc;
use crate::state::{AppState, Page, Panel, PendingDelete};

/// How long "Undo" is offered after a deletion.
const UNDO_MS: i32 = 6000;
/// Typing pauses this long before a search runs.
const SEARCH_DEBOUNCE_MS: i32 = 150;

/// The sidebar.
#[component]
pub fn Sidebar() -> impl IntoView {
    let state = expect_context::<AppState>();
    let no_conversations =
        move || state.conversations_loaded.get() && state.conversations.with(Vec::is_empty);
    let searching = move || state.search_query.with(|q| !q.trim().is_empty());
    view! {
        <aside class="sidebar">
            <div class="brand">
                <span class="brand-mark" aria-hidden="true"></span>
                <span class="brand-name">"Open Assistant"</span>
            </div>
            <button
                id="new-chat"
                type="button"
                class="new-chat"
                title="New chat (Ctrl+N)"
                on:click=move |_| state.new_chat()
            >
                <span class="plus" aria-hidden="true"></span>
                "New chat"
            </button>
            <SearchBox />
            <nav class="conversations" aria-label="Conversations">
                <Show
                    when=searching
                    fallback=move || {
                        view! {
                            <h2 class="section-label">"Conversations"</h2>
                            <ul class="conversation-list">
                                <For
                                    each=move || state.listed()
                                    key=|c| (c.summary.id, c.summary.title.clone(), c.pinned)
                                    children=|entry| view! { <ConversationItem entry /> }
                                />
                            </ul>
                            <Show when=no_conversations>
                                <p class="sidebar-empty">"Your conversations will appear here."</p>
                            </Show>
                        }
                    }
                >
                    <SearchResults />
                </Show>
            </nav>
            <UndoDelete />
            <div class="sidebar-foot">
                <button
                    id="open-contribute"
                    type="button"
                    class="foot-button"
                    class:current=move || state.page.get() == Page::Contribute
                    aria-current=move || (state.page.get() == Page::Contribute).then_some("page")
                    on:click=move |_| {
                        state.panel.set(None);
                        state.page.set(Page::Contribute);
                    }
                >
                    <span class="star-icon" aria-hidden="true"></span>
                    "Contribute"
                </button>
                <button
                    id="open-review"
                    type="button"
                    class="foot-button"
                    class:current=move || state.page.get() == Page::Review
                    aria-current=move || (state.page.get() == Page::Review).then_some("page")
                    on:click=move |_| {
                        state.panel.set(None);
                        state.page.set(Page::Review);
                    }
                >
                    <span class="share-icon" aria-hidden="true"></span>
                    "Review & Share"
                </button>
                <button
                    id="open-models"
                    type="button"
                    class="foot-button"
                    on:click=move |_| state.panel.set(Some(Panel::Models))
                >
                    <span class="chip-icon" aria-hidden="true"></span>
                    "Models"
                </button>
                <button
                    id="open-settings"
                    type="button"
                    class="foot-button"
                    on:click=move |_| state.panel.set(Some(Panel::Settings))
                >
                    <span class="gear-icon" aria-hidden="true"></span>
                    "Settings"
                </button>
            </div>
        </aside>
    }
}

/// Search across every conversation, as you type.
#[component]
fn SearchBox() -> impl IntoView {
    let state = expect_context::<AppState>();
    let searches = StoredValue::new(0u64);
    let on_input = move |ev| {
        let query = event_target_value(&ev);
        state.search_query.set(query.clone());
        searches.update_value(|n| *n += 1);
        let this = searches.get_value();
        if query.trim().is_empty() {
            state.search_hits.set(Vec::new());
            return;
        }
        spawn_local(async move {
            sleep(SEARCH_DEBOUNCE_MS).await;
            if searches.get_value() != this {
                return; // More was typed meanwhile.
            }
            let result = ipc::search(query).await;
            if searches.get_value() != this {
                return;
            }
            match result {
                Ok(hits) => state.search_hits.set(hits),
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    };
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            clear_search(state);
            state.focus_composer();
        } else if ev.key() == "Enter" {
            ev.prevent_default();
            if let Some(hit) = state.search_hits.with_untracked(|h| h.first().cloned()) {
                open_hit(state, &hit);
            }
        }
    };
    view! {
        <div class="search">
            <span class="search-icon" aria-hidden="true"></span>
            <input
                id="search"
                type="search"
                placeholder="Search chats  Ctrl+K"
                aria-label="Search all conversations"
                autocomplete="off"
                node_ref=state.search_box
                prop:value=move || state.search_query.get()
                on:input=on_input
                on:keydown=on_keydown
            />
        </div>
    }
}

fn clear_search(state: AppState) {
    state.search_query.set(String::new());
    state.search_hits.set(Vec::new());
}

/// Opens the conversation of a hit on the branch that holds the message, and marks it.
fn open_hit(state: AppState, hit: &SearchHit) {
    let (conversation, message) = (hit.conversation_id, hit.message_id);
    clear_search(state);
    state.highlight.set(Some(message));
    spawn_local(async move {
        // The message may be on another version of the conversation: show that one.
        if let Err(e) = ipc::switch_branch(conversation, message).await {
            state.notice.set(Some(e.message));
        }
        // Re-read even when it is the conversation on screen: its path may have changed.
        state.active.set(None);
        state.open_conversation(conversation);
    });
}

/// Messages that match, each with its conversation's title and the words found marked.
#[component]
fn SearchResults() -> impl IntoView {
    let state = expect_context::<AppState>();
    let nothing = move || state.search_hits.with(Vec::is_empty);
    view! {
        <h2 class="section-label">"Messages"</h2>
        <ul class="search-results">
            <For
                each=move || state.search_hits.get()
                key=|hit| hit.message_id
                children=move |hit| {
                    let parts = hit
                        .snippet_parts()
                        .into_iter()
                        .map(|(marked, text)| {
                            let text = text.to_owned();
                            if marked {
                                view! { <mark>{text}</mark> }.into_any()
                            } else {
                                view! { <span>{text}</span> }.into_any()
                            }
                        })
                        .collect_view();
                    let title = hit.title.clone();
                    let open = hit.clone();
                    view! {
                        <li
                            class="search-hit"
                            data-conversation=hit.conversation_id.to_string()
                            tabindex="0"
                            on:click=move |_| open_hit(state, &open)
                        >
                            <span class="hit-title">{title}</span>
                            <span class="hit-snippet">{parts}</span>
                        </li>
                    }
                }
            />
        </ul>
        <Show when=nothing>
            <p class="sidebar-empty">"No message matches."</p>
        </Show>
    }
}

/// One conversation in the list; selecting it opens it. Rename, pin and delete sit beside it.
#[component]
fn ConversationItem(
    /// The conversation's list line.
    entry: ConversationListEntry,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let ConversationListEntry {
        summary,
        pinned,
        source,
    } = entry.clone();
    let from_api = source.as_deref() == Some(oa_types::API_SOURCE);
    let id = summary.id;
    let title = summary.title.clone();
    let active = move || state.active.get() == Some(id);
    let renaming = move || state.renaming.get() == Some(id);
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" || ev.key() == " " {
            ev.prevent_default();
            state.open_conversation(id);
        } else if ev.key() == "F2" {
            state.renaming.set(Some(id));
        }
    };
    let toggle_pin = move |ev: leptos::ev::MouseEvent| {
        ev.stop_propagation();
        spawn_local(async move {
            match ipc::set_pinned(id, !pinned).await {
                Ok(()) => state.refresh_conversations(),
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    };
    let delete = {
        let entry = entry.clone();
        move |ev: leptos::ev::MouseEvent| {
            ev.stop_propagation();
            delete_with_undo(state, entry.clone());
        }
    };
    let label = title.clone();
    let tooltip = title.clone();
    view! {
        <li
            class="conversation"
            class:active=active
            class:pinned=pinned
            data-id=id.to_string()
            title=tooltip
            tabindex="0"
            aria-current=move || active().then_some("page")
            on:click=move |_| state.open_conversation(id)
            on:keydown=on_keydown
        >
            <Show
                when=renaming
                fallback=move || {
                    let label = label.clone();
                    view! {
                        {pinned.then(|| view! { <span class="pin-mark" aria-label="Pinned"></span> })}
                        <span class="conversation-title">{label}</span>
                        {from_api
                            .then(|| {
                                view! {
                                    <span
                                        class="badge source-badge"
                                        title="Held by a program through the local API"
                                        aria-label="From the local API"
                                    >
                                        "API"
                                    </span>
                                }
                            })}
                    }
                }
            >
                <RenameBox id title=title.clone() />
            </Show>
            <span class="conversation-actions">
                <button
                    type="button"
                    class="icon-button rename"
                    aria-label="Rename"
                    title="Rename (F2)"
                    on:click=move |ev| {
                        ev.stop_propagation();
                        state.renaming.set(Some(id));
                    }
                >
                    <span class="pencil-icon" aria-hidden="true"></span>
                </button>
                <button
                    type="button"
                    class="icon-button pin"
                    aria-label=if pinned { "Unpin" } else { "Pin" }
                    title=if pinned { "Unpin" } else { "Pin to the top" }
                    on:click=toggle_pin
                >
                    <span class="pin-icon" aria-hidden="true"></span>
                </button>
                <button
                    type="button"
                    class="icon-button delete"
                    aria-label="Delete"
                    title="Delete"
                    on:click=delete
                >
                    <span class="trash-icon" aria-hidden="true"></span>
                </button>
            </span>
        </li>
    }
}

/// The title in an input: Enter keeps it, Esc or leaving the field does not.
#[component]
fn RenameBox(id: oa_types::Uuid, title: String) -> impl IntoView {
    let state = expect_context::<AppState>();
    let input = NodeRef::<Input>::new();
    let value = RwSignal::new(title.clone());
    Effect::new(move |_| {
        if let Some(input) = input.get() {
            let _ = input.focus();
            input.select();
        }
    });
    let save = move || {
        let title = value.get_untracked();
        state.renaming.set(None);
        spawn_local(async move {
            match ipc::rename_conversation(id, title).await {
                Ok(()) => state.refresh_conversations(),
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    };
    let on_keydown = move |ev: KeyboardEvent| {
        ev.stop_propagation();
        if ev.key() == "Enter" {
            ev.prevent_default();
            save();
        } else if ev.key() == "Escape" {
            ev.prevent_default();
            state.renaming.set(None);
        }
    };
    view! {
        <input
            class="rename-box"
            aria-label="Conversation title"
            maxlength="200"
            node_ref=input
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
            on:keydown=on_keydown
            on:click=|ev| ev.stop_propagation()
            on:blur=move |_| {
                if state.renaming.get_untracked() == Some(id) {
                    state.renaming.set(None);
                }
            }
        />
    }
}

/// Hides the conversation at once and deletes it for good once "Undo" has been offered long
/// enough. A second deletion makes the first final straight away.
fn delete_with_undo(state: AppState, entry: ConversationListEntry) {
    if let Some(earlier) = state.pending_delete.get_untracked() {
        finish_delete(state, earlier);
    }
    static TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let token = TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let id = entry.summary.id;
    state
        .pending_delete
        .set(Some(PendingDelete { entry, token }));
    if state.active.get_untracked() == Some(id) {
        state.new_chat();
    }
    spawn_local(async move {
        sleep(UNDO_MS).await;
        if let Some(pending) = state
            .pending_delete
            .get_untracked()
            .filter(|p| p.token == token)
        {
            finish_delete(state, pending);
        }
    });
}

fn finish_delete(state: AppState, pending: PendingDelete) {
    state.pending_delete.update(|p| {
        if p.as_ref().is_some_and(|p| p.token == pending.token) {
            *p = None;
        }
    });
    let id = pending.entry.summary.id;
    state
        .conversations
        .update(|list| list.retain(|c| c.summary.id != id));
    spawn_local(async move {
        if let Err(e) = ipc::delete_conversation(id).await {
            state.notice.set(Some(e.message));
            state.refresh_conversations();
        }
    });
}

/// "Conversation deleted · Undo", while the deletion can still be taken back.
#[component]
fn UndoDelete() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.pending_delete.get().map(|pending| {
            let title = pending.entry.summary.title.clone();
            view! {
                <div class="undo-toast" role="status">
                    <span class="undo-text">"Deleted “" {title} "”"</span>
                    <button
                        id="undo-delete"
                        type="button"
                        class="undo"
                        on:click=move |_| state.pending_delete.set(None)
                    >
                        "Undo"
                    </button>
                </div>
            }
        })
    }
}
