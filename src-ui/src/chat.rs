//! The conversation thread and the composer under it.

use leptos::ev::{KeyboardEvent, MouseEvent};
use leptos::html::{Div, Textarea};
use leptos::prelude::*;
use oa_types::Role;
use wasm_bindgen::JsCast;

use crate::clipboard;
use crate::exchange::{edit_prompt, regenerate, send_draft, stop};
use crate::feedback::{CorrectBox, Thumbs, open_labels};
use crate::markdown;
use crate::state::{AppState, BubbleState, MessageView, Page};

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
    // Code blocks carry a Copy button; rendered Markdown is plain HTML, so one listener here
    // serves them all. Links open nothing inside the app's window.
    let on_click = move |ev: MouseEvent| {
        let Some(target) = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        if let Ok(Some(button)) = target.closest(".copy-code") {
            let code = button
                .closest(".code-block")
                .ok()
                .flatten()
                .and_then(|block| block.query_selector("code").ok().flatten())
                .and_then(|code| code.text_content())
                .unwrap_or_default();
            clipboard::copy(&code, Some(button));
        } else if let Ok(Some(link)) = target.closest("a.md-link") {
            ev.prevent_default();
            let href = link.get_attribute("href").unwrap_or_default();
            clipboard::copy(&href, Some(link));
            state.notice.set(Some(format!(
                "Link copied: {href} (paste it into your browser)"
            )));
        }
    };

    let empty = move || {
        state.messages.with(Vec::is_empty)
            && !state.thread_loading.get()
            && state.active.get().is_none()
    };
    view! {
        <div class="thread" node_ref=scroller on:scroll=on_scroll on:click=on_click>
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
    let state = expect_context::<AppState>();
    let examples = [
        "Explain how vaccines work, simply",
        "Write a haiku about autumn",
        "Give me three ideas for a rainy Sunday",
    ];
    view! {
        <div class="empty-state">
            <div class="empty-mark" aria-hidden="true"></div>
            <h2 class="empty-title">"How can I help?"</h2>
            <p class="empty-text">
                "Ask anything. The model runs on this computer and your conversations stay here."
            </p>
            <div class="examples">
                {examples
                    .into_iter()
                    .map(|example| {
                        view! {
                            <button
                                type="button"
                                class="example"
                                on:click=move |_| {
                                    state.draft.set(example.to_owned());
                                    state.focus_composer();
                                }
                            >
                                {example}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
        </div>
    }
}

/// One message: prompts on the right, replies on the left, with its actions under it.
#[component]
pub fn MessageBubble(
    /// The message and its live signals.
    message: MessageView,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let MessageView {
        key,
        role,
        id,
        parent_id,
        text,
        state,
        error,
        stopped,
        sibling_index,
        sibling_count,
        correction,
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
    let editing = move || app.editing.get() == Some(key);
    let correcting = move || app.correcting.get() == Some(key);
    let body = {
        let text = text.clone();
        move || {
            if is_assistant {
                let html = text.with(|t| markdown::render(t));
                let chars = text.with(|t| t.chars().count());
                view! { <div class="message-text markdown" data-chars=chars inner_html=html></div> }
                    .into_any()
            } else {
                let text = text.clone();
                view! { <div class="message-text plain">{move || text.get()}</div> }.into_any()
            }
        }
    };
    let settled = {
        let state = state.clone();
        move || state.get() != BubbleState::Streaming
    };
    let versions = {
        let (index, count, id) = (sibling_index.clone(), sibling_count.clone(), id.clone());
        move || {
            let count = count.get();
            (count > 1).then(|| {
                let index = index.get();
                let step = {
                    let id = id.clone();
                    move |step: i32| {
                        if let Some(id) = id.get_untracked() {
                            app.step_version(id, step);
                        }
                    }
                };
                let back = step.clone();
                view! {
                    <div class="versions" role="group" aria-label="Versions">
                        <button
                            type="button"
                            class="icon-button version-prev"
                            aria-label="Previous version"
                            title="Previous version"
                            disabled=move || index == 0 || app.busy.get()
                            on:click=move |_| back(-1)
                        >
                            "‹"
                        </button>
                        <span class="version-label">{format!("{} / {}", index + 1, count)}</span>
                        <button
                            type="button"
                            class="icon-button version-next"
                            aria-label="Next version"
                            title="Next version"
                            disabled=move || { index + 1 >= count || app.busy.get() }
                            on:click=move |_| step(1)
                        >
                            "›"
                        </button>
                    </div>
                }
            })
        }
    };
    let copy_text = text.clone();
    let on_copy = move |ev: MouseEvent| {
        let button = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        clipboard::copy(&copy_text.get_untracked(), button);
    };
    let action = {
        let (id, parent_id) = (id.clone(), parent_id.clone());
        move || {
            if is_assistant {
                let parent_id = parent_id.clone();
                let id = id.clone();
                view! {
                    <button
                        type="button"
                        class="action label-message"
                        title="Label this answer (Open-Assistant's labels)"
                        disabled={
                            let id = id.clone();
                            move || id.get().is_none()
                        }
                        on:click={
                            let id = id.clone();
                            move |_| open_labels(app, id.get_untracked())
                        }
                    >
                        "Labels"
                    </button>
                    <button
                        type="button"
                        class="action correct"
                        title="Write a better answer (the model's is kept as another version)"
                        disabled=move || app.busy.get() || id.get().is_none()
                        on:click=move |_| app.correcting.set(Some(key))
                    >
                        "Correct"
                    </button>
                    <button
                        type="button"
                        class="action compare"
                        title="Write several answers to this prompt and rank them"
                        disabled={
                            let parent_id = parent_id.clone();
                            move || app.busy.get() || parent_id.get().is_none()
                        }
                        on:click={
                            let parent_id = parent_id.clone();
                            move |_| {
                                if let (Some(conversation_id), Some(prompt_id)) = (
                                    app.active.get_untracked(),
                                    parent_id.get_untracked(),
                                ) {
                                    app.page.set(Page::Compare { conversation_id, prompt_id });
                                }
                            }
                        }
                    >
                        "Compare"
                    </button>
                    <button
                        type="button"
                        class="action regenerate"
                        title="Answer again (the current reply is kept as another version)"
                        disabled=move || app.busy.get() || app.model_unavailable()
                        on:click=move |_| {
                            if let Some(prompt) = parent_id.get_untracked() {
                                regenerate(app, prompt);
                            }
                        }
                    >
                        "Regenerate"
                    </button>
                }
                .into_any()
            } else {
                let id = id.clone();
                view! {
                    <button
                        type="button"
                        class="action edit-message"
                        title="Edit (the original is kept as another version)"
                        disabled=move || app.busy.get() || id.get().is_none()
                        on:click=move |_| app.editing.set(Some(key))
                    >
                        "Edit"
                    </button>
                }
                .into_any()
            }
        }
    };
    let editor = {
        let (id, text) = (id.clone(), text.clone());
        move || {
            let (original, text) = (id.get_untracked(), text.get_untracked());
            if is_assistant {
                view! { <CorrectBox corrected=original text /> }.into_any()
            } else {
                view! { <EditBox original text /> }.into_any()
            }
        }
    };
    let changing = move || editing() || correcting();
    let thumbs_for = {
        let id = id.clone();
        move || is_assistant.then(|| view! { <Thumbs id=id.clone() /> })
    };
    view! {
        <div
            class=class
            data-id=move || id.get().map(|id| id.to_string())
            data-state=move || state.get().as_str()
            data-stopped=move || stopped.get().then_some("true")
        >
            {is_assistant.then(|| view! { <div class="avatar" aria-hidden="true"></div> })}
            <div class="message-column">
                <div class="bubble">
                    <span class="typing" aria-hidden="true">
                        <span></span>
                        <span></span>
                        <span></span>
                    </span>
                    <Show when=changing fallback=body.clone()>
                        {editor.clone()}
                    </Show>
                    {move || {
                        error.get().map(|message| view! { <p class="message-error">{message}</p> })
                    }}
                    {correction
                        .then(|| view! { <span class="tag correction-tag">"Written by you"</span> })}
                    {
                        let stopped = stopped.clone();
                        move || {
                            stopped
                                .get()
                                .then(|| {
                                    view! {
                                        <span class="tag stopped-tag" title="You stopped this reply">
                                            "Stopped"
                                        </span>
                                    }
                                })
                        }
                    }
                </div>
                <Show when=move || settled() && !changing()>
                    <div class="message-actions">
                        {versions.clone()}
                        {thumbs_for.clone()}
                        <button
                            type="button"
                            class="action copy-message"
                            title="Copy the text"
                            on:click=on_copy.clone()
                        >
                            "Copy"
                        </button>
                        {action.clone()}
                    </div>
                </Show>
            </div>
        </div>
    }
}

/// A text area that takes the cursor as soon as it is shown.
pub fn focused_on_mount() -> NodeRef<Textarea> {
    let area = NodeRef::<Textarea>::new();
    Effect::new(move |_| {
        if let Some(area) = area.get() {
            let _ = area.focus();
        }
    });
    area
}

/// Editing a prompt in place: saving sends the new version, which starts a branch.
#[component]
fn EditBox(
    /// The prompt being changed.
    original: Option<oa_types::Uuid>,
    /// Its text, to start from.
    text: String,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let draft = RwSignal::new(text);
    let area = focused_on_mount();
    let save = move || {
        if let Some(original) = original {
            edit_prompt(app, original, draft.get_untracked());
        }
    };
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Enter" && !ev.shift_key() && !ev.is_composing() {
            ev.prevent_default();
            save();
        } else if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            app.editing.set(None);
        }
    };
    view! {
        <div class="edit">
            <textarea
                class="edit-box"
                aria-label="Edit message"
                rows="3"
                node_ref=area
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=on_keydown
            ></textarea>
            <div class="edit-actions">
                <button type="button" class="secondary edit-cancel" on:click=move |_| app.editing.set(None)>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="primary edit-save"
                    disabled=move || draft.with(|d| d.trim().is_empty()) || app.busy.get()
                    on:click=move |_| save()
                >
                    "Send"
                </button>
            </div>
        </div>
    }
}

/// The text box with Send (or Stop while a reply is written) and the chat settings button.
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
    let customised = move || {
        state
            .chat_settings
            .with(|s| !s.system_prompt.trim().is_empty() || s.sampler.is_some())
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
                <button
                    id="chat-settings"
                    type="button"
                    class="icon-button tune"
                    class:on=customised
                    aria-label="System prompt and sampling"
                    title="System prompt and sampling"
                    on:click=move |_| state.panel.set(Some(crate::state::Panel::ChatSettings))
                >
                    <span class="tune-icon" aria-hidden="true"></span>
                </button>
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
                <Show
                    when=move || state.busy.get()
                    fallback=move || {
                        view! {
                            <button
                                id="send"
                                type="submit"
                                class="send"
                                disabled=move || !state.can_send()
                                title="Send (Enter) · new line: Shift+Enter"
                            >
                                "Send"
                            </button>
                        }
                    }
                >
                    <button
                        id="stop"
                        type="button"
                        class="send stop"
                        title="Stop the reply (Esc); what it wrote is kept"
                        on:click=move |_| stop(state)
                    >
                        <span class="stop-square" aria-hidden="true"></span>
                        "Stop"
                    </button>
                </Show>
            </div>
        </form>
    }
}
