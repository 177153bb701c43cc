//! The root component: the page layout and the first calls to the app.

use leptos::prelude::*;

use crate::chat::{Composer, Thread};
use crate::sidebar::Sidebar;
use crate::state::AppState;
use crate::status::{ModelBanner, StatusLine, watch_model};

/// The whole page: sidebar on the left, the open conversation on the right.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    watch_model(state);
    state.refresh_conversations();

    view! {
        <div id="app" class="app" data-ready=move || if state.ready() { "true" } else { "false" }>
            <Sidebar />
            <main class="main">
                <header class="topbar">
                    <h1 class="thread-title">{move || state.title()}</h1>
                </header>
                <ModelBanner />
                <Thread />
                <div class="dock">
                    <Composer />
                    <StatusLine />
                </div>
            </main>
        </div>
    }
}
