//! Settings → Dataset server: signing this device in to a dataset server, and how sending what
//! the person shared is going.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{AccountStatus, LinkAccount, SyncStatus};

use crate::ipc;
use crate::state::AppState;

/// How often the relative times in the status line ("last sent 20 s ago") are written again.
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// The account form, or who is signed in and how sending goes.
#[component]
pub fn AccountSettings() -> impl IntoView {
    let account = RwSignal::new(None::<AccountStatus>);
    // The app pushes every change of the status (see `subscription`).
    let status = expect_context::<AppState>().sync;
    // The time the relative times are counted from, ticking while the panel is open.
    let now = RwSignal::new(js_sys::Date::now() as i64);
    if let Ok(tick) =
        set_interval_with_handle(move || now.set(js_sys::Date::now() as i64), CLOCK_TICK)
    {
        on_cleanup(move || tick.clear());
    }
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let url = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // What this computer is called in the account's device list: the person's choice, shown
    // before anything is sent.
    let device = RwSignal::new(String::from("Open Assistant desktop"));
    spawn_local(async move {
        if let Ok(found) = ipc::account().await {
            if let Some(server) = &found.server_url {
                url.set(server.clone());
            }
            account.set(Some(found));
        }
    });
    let link = move |create: bool| {
        let request = LinkAccount {
            server_url: url.get_untracked(),
            display_name: name.get_untracked(),
            password: password.get_untracked(),
            create,
            device_name: device.get_untracked(),
        };
        if request.server_url.trim().is_empty() || request.display_name.trim().is_empty() {
            error.set(Some("Enter the server's address and your name.".into()));
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match ipc::link_account(request).await {
                Ok(found) => {
                    account.set(Some(found));
                    password.set(String::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let log_out = move |_| {
        busy.set(true);
        spawn_local(async move {
            match ipc::log_out().await {
                Ok(found) => {
                    account.set(Some(found));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let send_now = move |_| {
        spawn_local(async move {
            let _ = ipc::sync_soon().await;
        });
    };
    let signed_in = move || account.with(|a| a.as_ref().and_then(|a| a.display_name.clone()));
    view! {
        <div class="field" id="account-settings">
            <span class="field-label">"Dataset server"</span>
            {move || match signed_in() {
                Some(who) => {
                    let server = account
                        .with(|a| a.as_ref().and_then(|a| a.server_url.clone()))
                        .unwrap_or_default();
                    view! {
                        <p class="field-help" id="signed-in">
                            "Signed in as " <strong>{who}</strong> " at " <code class="path">{server}</code>
                        </p>
                        <p class="field-help" id="sync-status" role="status">
                            {move || {
                                status.get().map(|s| describe(&s, now.get())).unwrap_or_default()
                            }}
                        </p>
                        {move || {
                            status
                                .get()
                                .filter(|s| s.sending && s.round_total > 0)
                                .map(|s| {
                                    view! {
                                        <div class="download" id="sync-progress">
                                            <progress
                                                class="download-progress"
                                                max=s.round_total.to_string()
                                                value=s.round_done.to_string()
                                                aria-label="Sending what you shared"
                                            ></progress>
                                            <span class="download-text">
                                                {format!("Sent {} of {}", s.round_done, s.round_total)}
                                            </span>
                                        </div>
                                    }
                                })
                        }}
                        <div class="panel-actions">
                            <button id="sync-now" type="button" class="secondary" on:click=send_now>
                                "Send now"
                            </button>
                            <button
                                id="log-out"
                                type="button"
                                class="secondary"
                                disabled=move || busy.get()
                                on:click=log_out
                            >
                                "Log out"
                            </button>
                        </div>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <p class="field-help">
                            "Nothing leaves this computer until you sign in, and then only what you \
                             share under Review & Share."
                        </p>
                        {field("server-url", "url", "https://data.example.org", url)}
                        {field("account-name", "text", "Your name on the leaderboard", name)}
                        {field("account-password", "password", "Password (10 characters or more)", password)}
                        {field("device-name", "text", "This computer's name in your device list", device)}
                        <div class="panel-actions">
                            <button
                                id="sign-in"
                                type="button"
                                class="secondary"
                                disabled=move || busy.get()
                                on:click=move |_| link(false)
                            >
                                "Sign in"
                            </button>
                            <button
                                id="create-account"
                                type="button"
                                class="primary"
                                disabled=move || busy.get()
                                on:click=move |_| link(true)
                            >
                                "Create account"
                            </button>
                        </div>
                    }
                        .into_any()
                }
            }}
            {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        </div>
    }
}

/// A text field bound to `value`.
fn field(
    id: &'static str,
    kind: &'static str,
    placeholder: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <input
            id=id
            type=kind
            placeholder=placeholder
            spellcheck="false"
            prop:value=move || value.get()
            on:input=move |ev| value.set(event_target_value(&ev))
        />
    }
}

/// One line on how sending goes, its times counted back from `now` (milliseconds since the
/// Unix epoch).
fn describe(status: &SyncStatus, now: i64) -> String {
    let mut parts = Vec::new();
    match (status.online, &status.last_error) {
        (Some(false), _) => parts.push("Offline".to_owned()),
        (_, Some(error)) => parts.push(error.clone()),
        (Some(true), None) => parts.push("Online".to_owned()),
        (None, None) => parts.push("Connecting…".to_owned()),
    }
    if let Some(at) = status.last_sync_ms {
        parts.push(format!("last sent {}", ago(now - at)));
    }
    parts.push(format!("{} waiting", status.waiting));
    if status.rejected > 0 {
        parts.push(format!("{} refused (see Review & Share)", status.rejected));
    }
    if let (Some(at), Some(false)) = (status.retry_at_ms, status.online) {
        parts.push(format!(
            "next try in {} s",
            ((at - now).max(0) + 999) / 1000
        ));
    }
    parts.join(" · ")
}

fn ago(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    match seconds {
        0..=9 => "just now".into(),
        10..=59 => format!("{seconds} s ago"),
        60..=3599 => format!("{} min ago", seconds / 60),
        _ => format!("{} h ago", seconds / 3600),
    }
}
