//! The root component: the page layout, the theme, keyboard shortcuts and the first calls to
//! the app.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::Theme;
use wasm_bindgen::prelude::*;

use crate::chat::{Composer, Thread};
use crate::compare::ComparePage;
use crate::contribute::ContributePage;
use crate::exchange::stop;
use crate::ipc;
use crate::panels::{Panels, Welcome};
use crate::review::ReviewPage;
use crate::sidebar::Sidebar;
use crate::state::{AppState, Page, Panel};
use crate::status::{ModelBanner, StatusLine};
use crate::subscription;

/// The whole page: sidebar on the left, the open conversation on the right.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    subscription::subscribe(state);
    state.refresh_conversations();
    load_settings(state);
    follow_theme(state);
    window_event_listener(leptos::ev::keydown, move |ev| shortcut(state, &ev));

    view! {
        <div id="app" class="app" data-ready=move || if state.ready() { "true" } else { "false" }>
            <Sidebar />
            <main class="main">
                {move || match state.page.get() {
                    Page::Chat => view! { <ChatPage /> }.into_any(),
                    Page::Compare { conversation_id, prompt_id } => {
                        view! { <ComparePage conversation_id prompt_id /> }.into_any()
                    }
                    Page::Contribute => view! { <ContributePage /> }.into_any(),
                    Page::Review => view! { <ReviewPage /> }.into_any(),
                }}
            </main>
            <Panels />
            <Welcome />
        </div>
    }
}

/// The open conversation with the composer under it.
#[component]
fn ChatPage() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
                <header class="topbar">
                    <h1 class="thread-title">{move || state.title()}</h1>
                    <button
                        type="button"
                        class="topbar-model"
                        title="Switch model"
                        on:click=move |_| state.panel.set(Some(Panel::Models))
                    >
                        {move || crate::status::short_model_name(state)}
                    </button>
                </header>
                <ModelBanner />
                <Thread />
                <div class="dock">
                    <Composer />
                    <StatusLine />
                </div>
    }
}

fn load_settings(state: AppState) {
    spawn_local(async move {
        match ipc::app_settings().await {
            Ok(settings) => state.settings.set(Some(settings)),
            Err(e) => state.notice.set(Some(e.message)),
        }
        state.settings_loaded.set(true);
    });
}

/// Sets `data-theme` on `<html>` from the chosen theme, following the system's preference when
/// asked to, also when it changes while the app runs.
fn follow_theme(state: AppState) {
    let query = window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten();
    let system_dark = RwSignal::new(query.as_ref().is_some_and(|q| q.matches()));
    if let Some(query) = query {
        let on_change = Closure::<dyn FnMut(web_sys::MediaQueryListEvent)>::new(
            move |ev: web_sys::MediaQueryListEvent| system_dark.set(ev.matches()),
        );
        let _ =
            query.add_event_listener_with_callback("change", on_change.as_ref().unchecked_ref());
        // The listener lives as long as the page.
        on_change.forget();
    }
    Effect::new(move |_| {
        let theme = state.settings.with(|s| s.as_ref().map(|s| s.theme));
        let dark = match theme.unwrap_or(Theme::System) {
            Theme::System => system_dark.get(),
            Theme::Light => false,
            Theme::Dark => true,
        };
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-theme", if dark { "dark" } else { "light" });
        }
    });
}

/// Ctrl/Cmd+K search, Ctrl/Cmd+N new chat, Esc stops a reply (or closes what is open).
fn shortcut(state: AppState, ev: &KeyboardEvent) {
    let command = ev.ctrl_key() || ev.meta_key();
    match ev.key().as_str() {
        "k" | "K" if command => {
            ev.prevent_default();
            state.panel.set(None);
            if let Some(input) = state.search_box.get_untracked() {
                let _ = input.focus();
                input.select();
            }
        }
        "n" | "N" if command => {
            ev.prevent_default();
            state.panel.set(None);
            state.new_chat();
        }
        "Escape" if !ev.default_prevented() => {
            if state.panel.get_untracked().is_some() {
                state.panel.set(None);
            } else if state.busy.get_untracked() {
                ev.prevent_default();
                stop(state);
            } else if state.editing.get_untracked().is_some() {
                state.editing.set(None);
            }
        }
        _ => {}
    }
}
