//! The conversation thread and the composer under it.

use leptos::ev::KeyboardEvent;
use leptos::html::Div;
use leptos::prelude::*;
use oa_types::Role;

use crate::exchange::send_draft;
use crate::state::{AppState, BubbleState, MessageView};

/// How close to the bottom (in pixels) still counts as "reading the newest message".
const FOLLOW_THRESHOLD_PX: i32 = 48;

/// The scrolling list of messages, or a welcome when there are none.
#[component]
pub fn Thread() -> impl IntoView {
    let state = expect_context::<AppState>();
    let scroller = NodeRef::<Div>::new();

    // Keep the newest text in view while it grows, unless the user scrolled up to read.
    Effect::new(move |_| {
        state.messages.with(|messages| {
            if let Some(last) = messages.last() {
                last.text.track();
            }
        });
        if state.follow_newest.get_untracked() {
            request_animation_frame(move || {
                if let Some(el) = scroller.get_untracked() {
                    el.set_scroll_top(el.scroll_height());
                }
            });
        }
    });
    // Growing text never moves `scroll_top`; only the user scrolling up does. Judging by the
    // distance to the bottom alone would also stop following when tokens arrive between our
    // scroll and its event.
    let last_top = StoredValue::new(0);
    let on_scroll = move |_| {
        let Some(el) = scroller.get_untracked() else {
            return;
        };
        let top = el.scroll_top();
        let from_bottom = el.scroll_height() - top - el.client_height();
        if from_bottom < FOLLOW_THRESHOLD_PX {
            state.follow_newest.set(true);
        } else if top < last_top.get_value() {
            state.follow_newest.set(false);
        }
        last_top.set_value(top);
    };

    let empty = move || {
        state.messages.with(Vec::is_empty)
            && !state.thread_loading.get()
            && state.active.get().is_none()
    };
    view! {
        <div class="thread" node_ref=scroller on:scroll=on_scroll>
            <div class="thread-inner">
                <Show when=empty>
                    <EmptyState />
                </Show>
                <For
                    each=move || state.messages.get()
                    key=|message| message.key
                    children=|message| view! { <MessageBubble message /> }
                />
            </div>
        </div>
    }
}

/// The welcome shown before the first message.
#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <div class="empty-state">
            <div class="empty-mark" aria-hidden="true"></div>
            <h2 class="empty-title">"How can I help?"</h2>
            <p class="empty-text">"Ask anything. Everything stays on this computer."</p>
        </div>
    }
}

/// One message: prompts on the right, replies on the left.
#[component]
pub fn MessageBubble(
    /// The message and its live signals.
    message: MessageView,
) -> impl IntoView {
    let MessageView {
        role,
        id,
        text,
        state,
        error,
        ..
    } = message;
    let is_assistant = role == Role::Assistant;
    let class = {
        let (text, state) = (text.clone(), state.clone());
        move || {
            let waiting = state.get() == BubbleState::Streaming && text.with(String::is_empty);
            let mut class = format!("message {}", role.as_str());
            if waiting {
                class.push_str(" waiting");
            }
            class
        }
    };
    view! {
        <div
            class=class
            data-id=move || id.get().map(|id| id.to_string())
            data-state=move || state.get().as_str()
        >
            {is_assistant.then(|| view! { <div class="avatar" aria-hidden="true"></div> })}
            <div class="bubble">
                <span class="typing" aria-hidden="true">
                    <span></span>
                    <span></span>
                    <span></span>
                </span>
                <div class="message-text">{move || text.get()}</div>
                {move || error.get().map(|message| view! { <p class="message-error">{message}</p> })}
            </div>
        </div>
    }
}

/// The text box and Send button.
#[component]
pub fn Composer() -> impl IntoView {
    let state = expect_context::<AppState>();
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            send_draft(state);
        }
    };
    // The cursor starts in the composer, so a person can type the moment the window opens.
    Effect::new(move |_| {
        if let Some(textarea) = state.composer.get() {
            let _ = textarea.focus();
        }
    });
    let placeholder = move || {
        if state.model_unavailable() {
            "The assistant cannot answer until a model is available"
        } else {
            "Message Open Assistant"
        }
    };
    view! {
        <form
            class="composer"
            on:submit=move |ev| {
                ev.prevent_default();
                send_draft(state);
            }
        >
            {move || {
                state
                    .notice
                    .get()
                    .map(|message| {
                        view! {
                            <div class="notice" role="alert">
                                <span class="notice-text">{message}</span>
                                <button
                                    type="button"
                                    class="notice-close"
                                    aria-label="Dismiss"
                                    on:click=move |_| state.notice.set(None)
                                >
                                    "×"
                                </button>
                            </div>
                        }
                    })
            }}
            <div class="composer-box">
                // The hidden copy of the text in `data-value` sizes the box (CSS grid), so it
                // grows with its content without any inline style.
                <div class="composer-grow" data-value=move || state.draft.get()>
                    <textarea
                        id="composer"
                        rows="1"
                        aria-label="Message"
                        placeholder=placeholder
                        node_ref=state.composer
                        prop:value=move || state.draft.get()
                        on:input=move |ev| state.draft.set(event_target_value(&ev))
                        on:keydown=on_keydown
                    ></textarea>
                </div>
                <button
                    id="send"
                    type="submit"
                    class="send"
                    disabled=move || !state.can_send()
                    title="Send (Enter) · new line: Shift+Enter"
                >
                    "Send"
                </button>
            </div>
        </form>
    }
}
