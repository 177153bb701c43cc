//! The Leptos user interface of Open Assistant Desktop, compiled to wasm and shown by the desktop
//! shell's webview.
//!
//! The page is a chat: conversations on the left, the open one on the right with a composer under
//! it, and a status line naming the model and the speed of its last reply. It holds no data of its
//! own; everything comes from the app through the commands in [`ipc`]:
//!
//! | module      | what it holds                                                        |
//! |-------------|----------------------------------------------------------------------|
//! | [`app`]     | the root component and layout                                        |
//! | [`state`]   | the shared state (context) and the messages on screen                |
//! | [`ipc`]     | every call into the app (`window.__TAURI__`)                         |
//! | [`exchange`]| sending a prompt and applying the streamed reply                     |
//! | [`chat`]    | the thread, message bubbles and the composer                         |
//! | [`feedback`]| thumbs with reasons, correcting an answer, the label picker          |
//! | [`downloads`]| the model catalog with downloads, and importing a GGUF file         |
//! | [`compare`] | several answers to one prompt side by side, ranked                   |
//! | [`rank`]    | picking answers best first and reordering them                       |
//! | [`contribute`]| the task queue made from the person's own history                  |
//! | [`review`]  | Review & Share: the exact payloads, personal data marked, consent     |
//! | [`sidebar`] | "New chat", search, the conversation list (rename, pin, delete+undo) |
//! | [`panels`]  | Settings, Models, a chat's system prompt and sampler, the welcome    |
//! | [`local_api`]| Settings → Local API: serving, port, key, history, a curl example   |
//! | [`clipboard`]| copying a message or a code block                                   |
//! | [`status`]  | the model banner, the status line and reply timing                   |
//! | [`subscription`]| the state the app pushes: the model's, the sync status           |
//! | [`clock`]   | timers                                                               |
//! | [`markdown`]| assistant replies from Markdown to safe HTML                         |
//! | [`highlight`]| syntax highlighting of the code blocks in replies                   |
//!
//! `static/boot.js` loads the `wasm-bindgen --target web` output; initialising the module runs
//! [`start`], which mounts [`app::App`] on `<body>`. Element ids, classes and `data-*` attributes
//! named in the components are what the end-to-end tests select on: keep them stable.

pub mod account;
pub mod app;
pub mod chat;
pub mod clipboard;
pub mod clock;
pub mod compare;
pub mod contribute;
pub mod downloads;
pub mod exchange;
pub mod feedback;
pub mod highlight;
pub mod ipc;
pub mod local_api;
pub mod markdown;
pub mod panels;
pub mod rank;
pub mod review;
pub mod sidebar;
pub mod state;
pub mod status;
pub mod subscription;

use wasm_bindgen::prelude::*;

/// Entry point, run when the wasm module is initialised.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("Open Assistant UI: {info}").into());
    }));
    leptos::mount::mount_to_body(app::App);
    // The frame after the one that shows the mounted UI: it has been painted by then.
    leptos::prelude::request_animation_frame(|| {
        leptos::prelude::request_animation_frame(|| {
            leptos::task::spawn_local(async {
                let _ = ipc::first_paint().await;
            });
        });
    });
}
