//! The state the app pushes rather than the UI asks for: the model's (loading, ready,
//! unavailable), where sending shared contributions stands, and when the task queue (and with
//! it the conversation list) changed.
//! [`subscribe`] follows them for the whole page, once; every view reads them from [`AppState`].
//!
//! Each value is also read once, after its listener is registered, for what happened before the
//! page listened. A pushed value that arrived before that read's answer wins over it: the read
//! may be the older of the two.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{
    AppError, MODEL_STATUS_EVENT, ModelStatus, SYNC_STATUS_EVENT, SyncStatus, TASK_QUEUE_EVENT,
};
use wasm_bindgen::JsValue;

use crate::ipc;
use crate::state::AppState;

/// Follows the model's state, the sync status and the task queue's changes into `state` for as long
/// as the page lives.
pub fn subscribe(state: AppState) {
    spawn_local(async move {
        let pushed = Rc::new(Cell::new(false));
        let heard = pushed.clone();
        let listening = ipc::listen(MODEL_STATUS_EVENT, move |status: ModelStatus| {
            heard.set(true);
            show_model(state, status);
        })
        .await;
        if let Err(e) = listening {
            state
                .notice
                .set(Some(not_followed("the model's state", &e)));
        }
        let status = ipc::model_status()
            .await
            .unwrap_or_else(|error| ModelStatus::Unavailable { error });
        if !pushed.get() {
            show_model(state, status);
        }
    });
    spawn_local(async move {
        let pushed = Rc::new(Cell::new(false));
        let heard = pushed.clone();
        let listening = ipc::listen(SYNC_STATUS_EVENT, move |status: SyncStatus| {
            heard.set(true);
            state.sync.set(Some(status));
        })
        .await;
        if let Err(e) = listening {
            web_sys::console::error_1(&not_followed("the sync status", &e).into());
        }
        if let Ok(status) = ipc::sync_status().await
            && !pushed.get()
        {
            state.sync.set(Some(status));
        }
    });
    spawn_local(async move {
        // Each view reads the queue itself when it opens; the pushes only say when to again.
        // The list is read again too: a conversation may have been kept from outside the
        // window (a program's, through the local API).
        let listening = ipc::listen(TASK_QUEUE_EVENT, move |changes: u64| {
            state.tasks_changed.set(changes);
            state.refresh_conversations();
        })
        .await;
        if let Err(e) = listening {
            web_sys::console::error_1(&not_followed("the task queue", &e).into());
        }
    });
}

/// The model's state once it is not loading: at once when it is not, else when the app pushes
/// the end of the load.
pub async fn settled_model(state: AppState) -> Option<ModelStatus> {
    let settled = move || {
        state
            .model
            .get_untracked()
            .filter(|status| !matches!(status, ModelStatus::Loading { .. }))
    };
    if let Some(status) = settled() {
        return Some(status);
    }
    let mut resolve = None;
    let promise = js_sys::Promise::new(&mut |done, _| resolve = Some(done));
    let resolve = resolve?;
    let effect = Effect::new(move |_| {
        let loading = state
            .model
            .with(|status| matches!(status, Some(ModelStatus::Loading { .. }) | None));
        if !loading {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    effect.dispose();
    settled()
}

/// Shows a new model state; a model that became ready brings its default sampler.
fn show_model(state: AppState, status: ModelStatus) {
    let ready = matches!(status, ModelStatus::Ready { .. });
    state.model.set(Some(status));
    if ready {
        spawn_local(async move {
            if let Ok(sampler) = ipc::default_sampler().await {
                state.default_sampler.set(sampler);
            }
        });
    }
}

fn not_followed(what: &str, error: &AppError) -> String {
    format!("The window cannot follow {what}: {}", error.message)
}
