//! The left column: the app's name, "New chat" and the conversation list.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use oa_types::ConversationSummary;

use crate::state::AppState;

/// The sidebar.
#[component]
pub fn Sidebar() -> impl IntoView {
    let state = expect_context::<AppState>();
    let no_conversations =
        move || state.conversations_loaded.get() && state.conversations.with(Vec::is_empty);
    view! {
        <aside class="sidebar">
            <div class="brand">
                <span class="brand-mark" aria-hidden="true"></span>
                <span class="brand-name">"Open Assistant"</span>
            </div>
            <button id="new-chat" type="button" class="new-chat" on:click=move |_| state.new_chat()>
                <span class="plus" aria-hidden="true"></span>
                "New chat"
            </button>
            <nav class="conversations" aria-label="Conversations">
                <h2 class="section-label">"Conversations"</h2>
                <ul class="conversation-list">
                    <For
                        each=move || state.conversations.get()
                        key=|c| (c.id, c.title.clone())
                        children=|summary| view! { <ConversationItem summary /> }
                    />
                </ul>
                <Show when=no_conversations>
                    <p class="sidebar-empty">"Your conversations will appear here."</p>
                </Show>
            </nav>
            <p class="sidebar-foot">
                <span class="lock" aria-hidden="true"></span>
                "Stays on this computer"
            </p>
        </aside>
    }
}

/// One conversation in the list; selecting it opens it.
#[component]
fn ConversationItem(
    /// The conversation's list line.
    summary: ConversationSummary,
) -> impl IntoView {
    let state = expect_context::<AppState>();
    let ConversationSummary { id, title, .. } = summary;
    let tooltip = title.clone();
    let active = move || state.active.get() == Some(id);
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" || ev.key() == " " {
            ev.prevent_default();
            state.open_conversation(id);
        }
    };
    view! {
        <li
            class="conversation"
            class:active=active
            data-id=id.to_string()
            title=tooltip
            tabindex="0"
            aria-current=move || active().then_some("page")
            on:click=move |_| state.open_conversation(id)
            on:keydown=on_keydown
        >
            {title}
        </li>
    }
}
