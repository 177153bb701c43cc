//! Settings → Local API: serving the model to programs as an OpenAI-compatible API, where it
//! listens, its key, whether its conversations are kept, and a curl line to try it with.

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{ApiSettings, ApiStatus, ModelStatus};
use wasm_bindgen::JsCast;

use crate::clipboard::copy;
use crate::ipc;
use crate::state::AppState;

/// The lowest port a person may choose; the ones below are the system's.
const MIN_PORT: u16 = 1024;
/// What the key shows while hidden, after its prefix.
const MASK: &str = "••••••••••••••••";

/// The Local API section of Settings.
#[component]
pub fn LocalApiSettings() -> impl IntoView {
    let state = expect_context::<AppState>();
    let status = RwSignal::new(None::<ApiStatus>);
    let error = RwSignal::new(None::<String>);
    let port_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let show_key = RwSignal::new(false);
    spawn_local(async move {
        match ipc::api_status().await {
            Ok(found) => status.set(Some(found)),
            Err(e) => error.set(Some(e.message)),
        }
    });
    let settings = move || status.with(|s| s.as_ref().map(|s| s.settings.clone()));
    let setting = move |read: fn(&ApiSettings) -> bool| {
        status
            .with(|s| s.as_ref().map(|s| read(&s.settings)))
            .unwrap_or(false)
    };
    // Keeps changed settings; the app starts, stops or restarts the server as they say.
    let save = move |change: Box<dyn FnOnce(&mut ApiSettings)>| {
        let Some(mut wanted) = status.with_untracked(|s| s.as_ref().map(|s| s.settings.clone()))
        else {
            return;
        };
        change(&mut wanted);
        busy.set(true);
        spawn_local(async move {
            match ipc::set_api_settings(wanted).await {
                Ok(found) => {
                    status.set(Some(found));
                    error.set(None);
                }
                Err(e) => {
                    error.set(Some(e.message));
                    // The controls go back to what is kept.
                    status.update(|_| {});
                }
            }
            busy.set(false);
        });
    };
    let toggle = move |id: &'static str,
                       label: &'static str,
                       read: fn(&ApiSettings) -> bool,
                       write: fn(&mut ApiSettings, bool)| {
        view! {
            <label class="toggle">
                <input
                    id=id
                    type="checkbox"
                    role="switch"
                    aria-label=label
                    disabled=move || busy.get() || status.with(Option::is_none)
                    prop:checked=move || setting(read)
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        save(Box::new(move |s| write(s, on)));
                    }
                />
                <span>{label}</span>
            </label>
        }
    };
    let set_port = move |text: String| match text.trim().parse::<u16>() {
        Ok(port) if port >= MIN_PORT => {
            port_error.set(None);
            save(Box::new(move |s| s.port = port));
        }
        _ => port_error.set(Some(format!(
            "Enter a port from {MIN_PORT} to 65535, such as {}.",
            oa_types::DEFAULT_API_PORT
        ))),
    };
    let regenerate = move |_| {
        busy.set(true);
        spawn_local(async move {
            match ipc::regenerate_api_key().await {
                Ok(found) => {
                    status.set(Some(found));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };
    let key = move || {
        settings()
            .map(|s| {
                if show_key.get() {
                    s.key
                } else {
                    masked(&s.key)
                }
            })
            .unwrap_or_default()
    };
    let copy_curl = move |ev: leptos::ev::MouseEvent| {
        let Some(status) = status.get_untracked() else {
            return;
        };
        let model = state.model.with_untracked(|m| match m {
            Some(ModelStatus::Ready { info }) => Some(api_model_id(&info.path)),
            Some(ModelStatus::Loading { path }) => Some(api_model_id(path)),
            _ => None,
        });
        let command = curl_example(&status, model.as_deref().unwrap_or("MODEL"));
        let button = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        copy(&command, button);
    };
    let network = move || setting(|s| s.beyond_loopback);
    view! {
        <div class="field" id="api-settings">
            <span class="field-label">"Local API"</span>
            <p class="field-help">
                "Programs on this computer can use the model as they would OpenAI's API, at the \
                 address below. Web pages cannot, unless you allow them."
            </p>
            {toggle("api-enabled", "Serve the local API", |s| s.enabled, |s, on| s.enabled = on)}
            <label class="field compact">
                <span class="field-label">"Port"</span>
                <input
                    id="api-port"
                    type="number"
                    min=MIN_PORT
                    max="65535"
                    step="1"
                    aria-label="Port"
                    disabled=move || busy.get() || status.with(Option::is_none)
                    prop:value=move || settings().map(|s| s.port.to_string()).unwrap_or_default()
                    on:change=move |ev| set_port(event_target_value(&ev))
                />
                {move || {
                    port_error
                        .get()
                        .map(|e| view! { <span class="field-error" role="alert">{e}</span> })
                }}
            </label>
            {toggle(
                "api-network",
                "Listen on the network",
                |s| s.beyond_loopback,
                |s, on| s.beyond_loopback = on,
            )}
            <p class="field-help" class:field-warning=network id="api-network-help">
                "Other computers on your network can then reach the model, and every program \
                 must send the key, even on this computer."
            </p>
            {toggle(
                "api-require-key",
                "Ask for the key on this computer too",
                |s| s.require_key_on_loopback || s.beyond_loopback,
                |s, on| s.require_key_on_loopback = on,
            )}
            <div class="key-row">
                <span class="field-label compact-label">"Key"</span>
                <code id="api-key" class="path key" aria-label="API key">{key}</code>
                <button
                    id="api-key-show"
                    type="button"
                    class="secondary small"
                    aria-pressed=move || show_key.get().to_string()
                    aria-label=move || if show_key.get() { "Hide the key" } else { "Show the key" }
                    on:click=move |_| show_key.update(|v| *v = !*v)
                >
                    {move || if show_key.get() { "Hide" } else { "Show" }}
                </button>
                <button
                    id="api-key-regenerate"
                    type="button"
                    class="secondary small"
                    aria-label="Regenerate the key"
                    title="Programs using the old key are refused from now on"
                    disabled=move || busy.get() || status.with(Option::is_none)
                    on:click=regenerate
                >
                    "Regenerate"
                </button>
            </div>
            {toggle(
                "api-keep-history",
                "Keep API conversations in the history",
                |s| s.keep_history,
                |s, on| s.keep_history = on,
            )}
            <p class="field-help">
                "Kept conversations show an API badge in the list, and can be rated and shared \
                 like your chats."
            </p>
            {move || {
                status
                    .get()
                    .map(|s| match (&s.listening, &s.problem) {
                        (Some(url), _) => {
                            view! {
                                <p class="field-help" id="api-address" role="status">
                                    "Serving at " <code class="path">{url.clone()}</code>
                                </p>
                            }
                                .into_any()
                        }
                        (None, Some(problem)) => {
                            view! {
                                <p class="field-error" id="api-problem" role="alert">
                                    {format!("The API is not served: {problem}")}
                                </p>
                            }
                                .into_any()
                        }
                        (None, None) => {
                            view! {
                                <p class="field-help" id="api-address" role="status">
                                    "Off: no program can reach the model."
                                </p>
                            }
                                .into_any()
                        }
                    })
            }}
            <div class="panel-actions">
                <button
                    id="api-copy-curl"
                    type="button"
                    class="secondary"
                    aria-label="Copy a curl example"
                    disabled=move || status.with(Option::is_none)
                    on:click=copy_curl
                >
                    "Copy curl example"
                </button>
            </div>
            {move || error.get().map(|e| view! { <p class="field-error" id="api-error" role="alert">{e}</p> })}
        </div>
    }
}

/// The key with all but its prefix hidden.
fn masked(key: &str) -> String {
    match key.split_once("-sk-") {
        Some((prefix, _)) => format!("{prefix}-sk-{MASK}"),
        None => MASK.to_owned(),
    }
}

/// The id the API gives the model at `path`: its file name without the extension, as
/// `oa_app::model_id` makes it.
pub fn api_model_id(path: &str) -> String {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
        _ => name.to_owned(),
    }
}

/// A curl command, ready to paste into a shell, that asks the API for a chat completion.
pub fn curl_example(status: &ApiStatus, model: &str) -> String {
    let port = status
        .listening
        .as_deref()
        .and_then(|url| url.rsplit_once(':'))
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|port| port.parse::<u16>().ok())
        .unwrap_or(status.settings.port);
    // A JSON string is always written, whatever the name holds.
    let model = serde_json::to_string(model).unwrap_or_else(|_| "\"MODEL\"".into());
    let body = format!(r#"{{"model":{model},"messages":[{{"role":"user","content":"Hello"}}]}}"#);
    format!(
        "curl http://127.0.0.1:{port}/v1/chat/completions -H {} -H {} -d {}",
        shell_quote(&format!("Authorization: Bearer {}", status.settings.key)),
        shell_quote("Content-Type: application/json"),
        shell_quote(&body),
    )
}

/// `text` as one word for a POSIX shell: single-quoted, with each `'` closed, escaped and
/// reopened.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(listening: Option<&str>) -> ApiStatus {
        ApiStatus {
            settings: ApiSettings {
                enabled: true,
                port: 4315,
                key: "oa-sk-0123abcd".into(),
                ..ApiSettings::default()
            },
            listening: listening.map(str::to_owned),
            problem: None,
        }
    }

    #[test]
    fn the_curl_example_names_the_port_served_the_key_and_the_model() {
        let command = curl_example(
            &status(Some("http://127.0.0.1:5123/v1")),
            "SmolLM2-135M-Instruct.Q4_1",
        );
        assert_eq!(
            command,
            "curl http://127.0.0.1:5123/v1/chat/completions \
             -H 'Authorization: Bearer oa-sk-0123abcd' -H 'Content-Type: application/json' \
             -d '{\"model\":\"SmolLM2-135M-Instruct.Q4_1\",\
             \"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}]}'"
        );
        assert!(curl_example(&status(None), "m").contains("127.0.0.1:4315/"));
    }

    #[test]
    fn a_model_name_with_quotes_stays_one_shell_word() {
        let command = curl_example(&status(None), r#"it's "odd""#);
        assert!(
            command.ends_with(
                r#"-d '{"model":"it'\''s \"odd\"","messages":[{"role":"user","content":"Hello"}]}'"#
            ),
            "{command}"
        );
    }

    #[test]
    fn the_model_id_is_the_file_name_without_gguf() {
        assert_eq!(
            api_model_id("/data/models/SmolLM2-135M-Instruct.Q4_1.gguf"),
            "SmolLM2-135M-Instruct.Q4_1"
        );
        assert_eq!(api_model_id(r"C:\models\gemma-3.gguf"), "gemma-3");
        assert_eq!(api_model_id("plain"), "plain");
    }

    #[test]
    fn the_key_is_masked_after_its_prefix() {
        assert_eq!(masked("oa-sk-0123abcd"), format!("oa-sk-{MASK}"));
        assert!(!masked("oa-sk-0123abcd").contains("0123"));
        assert_eq!(masked("other"), MASK);
    }
}
