//! What opens over the chat: Settings, Models, a conversation's system prompt and sampling,
//! and the welcome on first run.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{
    AppSettings, ComputeDevice, ConversationSettings, DeviceSupport, InstalledModel, MAX_THREADS,
    MemoryFit, ModelStatus, SamplerParams, Theme,
};

use crate::account::AccountSettings;
use crate::downloads::{Catalog, ImportModel, on_models_changed};
use crate::ipc;
use crate::local_api::LocalApiSettings;
use crate::state::{AppState, Panel};

/// The open panel, as a dialog over the chat.
#[component]
pub fn Panels() -> impl IntoView {
    let state = expect_context::<AppState>();
    let close = move || state.panel.set(None);
    // Closing a panel gives the cursor back to the composer.
    Effect::new(move |was_open: Option<bool>| {
        let open = state.panel.with(Option::is_some);
        if was_open == Some(true) && !open && !state.welcome_shown() {
            state.focus_composer();
        }
        open
    });
    let on_keydown = move |ev: KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            ev.stop_propagation();
            close();
        }
    };
    move || {
        state.panel.get().map(|panel| {
            let (id, title, body) = match panel {
                Panel::Settings => (
                    "settings-panel",
                    "Settings",
                    view! { <SettingsBody /> }.into_any(),
                ),
                Panel::Models => (
                    "models-panel",
                    "Models",
                    view! { <ModelsBody /> }.into_any(),
                ),
                Panel::Labels(message) => (
                    "labels-panel",
                    "Label this answer",
                    view! { <crate::feedback::LabelsBody message /> }.into_any(),
                ),
                Panel::ChatSettings => (
                    "chat-settings-panel",
                    "This chat",
                    view! { <ChatSettingsBody /> }.into_any(),
                ),
            };
            view! {
                <div class="overlay" on:click=move |_| close()>
                    <section
                        id=id
                        class="panel"
                        role="dialog"
                        aria-modal="true"
                        aria-label=title
                        on:click=|ev| ev.stop_propagation()
                        on:keydown=on_keydown
                    >
                        <header class="panel-head">
                            <h2>{title}</h2>
                            <button
                                type="button"
                                class="icon-button panel-close"
                                aria-label="Close"
                                on:click=move |_| close()
                            >
                                "×"
                            </button>
                        </header>
                        <div class="panel-body">{body}</div>
                    </section>
                </div>
            }
        })
    }
}

/// Theme, device, the local API, the dataset server and privacy.
#[component]
fn SettingsBody() -> impl IntoView {
    let state = expect_context::<AppState>();
    let current = move || state.settings.get().unwrap_or_default().theme;
    let choose = move |theme: Theme| {
        let mut settings = state.settings.get_untracked().unwrap_or_default();
        settings.theme = theme;
        save_settings(state, settings);
    };
    let option = move |theme: Theme, label: &'static str| {
        radio_choice("theme", theme_name(theme), label, theme, current, choose)
    };
    view! {
        <div class="field">
            <span class="field-label">"Appearance"</span>
            <div class="choices" role="radiogroup" aria-label="Appearance">
                {option(Theme::System, "Like the system")}
                {option(Theme::Light, "Light")}
                {option(Theme::Dark, "Dark")}
            </div>
        </div>
        <DeviceSettings />
        <LocalApiSettings />
        <AccountSettings />
        <div class="field">
            <span class="field-label">"Privacy"</span>
            <p class="field-help">
                "Conversations are kept in a database on this computer and the model runs here: \
                 nothing you type leaves it. Sharing with the Open Assistant dataset happens only \
                 for what you choose to share, after you have seen exactly what is sent."
            </p>
            <DataFolder />
        </div>
    }
}

/// Where the person's conversations, settings and models are kept.
#[component]
fn DataFolder() -> impl IntoView {
    let folder = LocalResource::new(ipc::data_folder);
    move || {
        folder.get().and_then(Result::ok).map(|path| {
            view! {
                <p class="field-help">
                    "They are in " <code id="data-folder" class="path">{path}</code> "."
                </p>
            }
        })
    }
}

/// Where models run and with how many threads.
#[component]
fn DeviceSettings() -> impl IntoView {
    let state = expect_context::<AppState>();
    let support = RwSignal::new(None::<DeviceSupport>);
    let refresh = move || {
        spawn_local(async move {
            if let Ok(found) = ipc::devices().await {
                support.set(Some(found));
            }
        });
    };
    refresh();
    // What the model runs on changes when a load ends.
    after_each_load(state, refresh);
    let current = move || state.settings.get().unwrap_or_default().device;
    let choose = move |device: ComputeDevice| {
        let mut settings = state.settings.get_untracked().unwrap_or_default();
        if settings.device == device {
            return;
        }
        settings.device = device;
        state.settings.set(Some(settings.clone()));
        spawn_local(async move {
            match ipc::set_app_settings(settings).await {
                // The model loads again on the chosen device; the app pushes its state.
                Ok(()) => {}
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    };
    let option = move |device: ComputeDevice, value: &'static str, label: &'static str| {
        radio_choice("device", value, label, device, current, choose)
    };
    let threads_error = RwSignal::new(None::<String>);
    let set_threads = move |text: String| {
        let text = text.trim().to_owned();
        let threads = if text.is_empty() {
            None
        } else {
            match text.parse::<u32>() {
                Ok(n) if (1..=MAX_THREADS).contains(&n) => Some(n),
                _ => {
                    threads_error.set(Some(format!(
                        "Enter a whole number from 1 to {MAX_THREADS}, or leave it empty."
                    )));
                    return;
                }
            }
        };
        threads_error.set(None);
        let mut settings = state.settings.get_untracked().unwrap_or_default();
        settings.threads = threads;
        save_settings(state, settings);
    };
    view! {
        <div class="field" id="device-settings">
            <span class="field-label">"Device"</span>
            {move || {
                support
                    .with(|s| s.as_ref().map(|s| s.gpu_backend.is_some()))
                    .map(|has_backend| {
                        if has_backend {
                            view! {
                                <div class="choices" role="radiogroup" aria-label="Device">
                                    {option(ComputeDevice::Auto, "auto", "Automatic")}
                                    {option(ComputeDevice::Cpu, "cpu", "CPU")}
                                    {option(ComputeDevice::Gpu, "gpu", "GPU")}
                                </div>
                            }
                                .into_any()
                        } else {
                            view! {
                                <p class="field-help" id="cpu-only">
                                    "This build runs models on the CPU only. Builds with CUDA \
                                     (NVIDIA) or Metal (Apple) support can use a GPU."
                                </p>
                            }
                                .into_any()
                        }
                    })
            }}
            <p class="field-help" id="device-status">
                {move || {
                    support
                        .with(|s| {
                            s.as_ref()
                                .map(|s| {
                                    let gpu = match (&s.gpu_name, &s.gpu_problem) {
                                        (_, _) if s.gpu_backend.is_none() => String::new(),
                                        (Some(name), _) => format!(" GPU found: {name}."),
                                        (None, Some(problem)) => format!(" {problem}."),
                                        (None, None) => String::new(),
                                    };
                                    let place = if s.model_on_gpu {
                                        "The model runs on the GPU.".to_owned()
                                    } else {
                                        format!(
                                            "The model runs on the CPU with {} thread{}.",
                                            s.threads_in_use,
                                            if s.threads_in_use == 1 { "" } else { "s" }
                                        )
                                    };
                                    format!("{place}{gpu}")
                                })
                        })
                        .unwrap_or_default()
                }}
            </p>
        </div>
        <label class="field compact">
            <span class="field-label">"CPU threads"</span>
            <input
                id="threads"
                type="number"
                min="1"
                max=MAX_THREADS
                step="1"
                placeholder=move || {
                    support.with(|s| s.as_ref().map(|s| s.default_threads.to_string()))
                }
                prop:value=move || {
                    state
                        .settings
                        .with(|s| s.as_ref().and_then(|s| s.threads).map(|n| n.to_string()))
                        .unwrap_or_default()
                }
                on:change=move |ev| set_threads(event_target_value(&ev))
            />
            <span class="field-help">
                {move || {
                    let default = support
                        .with(|s| s.as_ref().map(|s| s.default_threads))
                        .unwrap_or(1);
                    format!(
                        "Empty uses {default}, one per core. A new count takes effect when the app \
                         next starts."
                    )
                }}
            </span>
            {move || {
                threads_error.get().map(|e| view! { <span class="field-error" role="alert">{e}</span> })
            }}
        </label>
    }
}

/// Calls `then` each time a model load ends, whether it succeeded or not.
fn after_each_load(state: AppState, then: impl Fn() + 'static) {
    Effect::new(move |previous: Option<bool>| {
        let loading = state
            .model
            .with(|m| matches!(m, Some(ModelStatus::Loading { .. })));
        if previous == Some(true) && !loading {
            then();
        }
        loading
    });
}

/// One radio button of the group `name`, selected while `current()` is `option`.
fn radio_choice<T: Copy + PartialEq + Send + Sync + 'static>(
    name: &'static str,
    value: &'static str,
    label: &'static str,
    option: T,
    current: impl Fn() -> T + Copy + Send + Sync + 'static,
    choose: impl Fn(T) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <label class="choice" class:selected=move || current() == option>
            <input
                type="radio"
                name=name
                value=value
                prop:checked=move || current() == option
                on:change=move |_| choose(option)
            />
            {label}
        </label>
    }
}

fn theme_name(theme: Theme) -> &'static str {
    match theme {
        Theme::System => "system",
        Theme::Light => "light",
        Theme::Dark => "dark",
    }
}

/// Keeps the app's settings and applies them at once.
pub fn save_settings(state: AppState, settings: AppSettings) {
    state.settings.set(Some(settings.clone()));
    spawn_local(async move {
        if let Err(e) = ipc::set_app_settings(settings).await {
            state.notice.set(Some(e.message));
        }
    });
}

/// The models on this computer; choosing one loads it while the chat stays usable.
#[component]
fn ModelsBody() -> impl IntoView {
    let state = expect_context::<AppState>();
    let models = RwSignal::new(None::<Result<Vec<InstalledModel>, String>>);
    let folder = RwSignal::new(String::new());
    spawn_local(async move {
        if let Ok(path) = ipc::models_folder().await {
            folder.set(path);
        }
    });
    let load = move || {
        spawn_local(async move {
            models.set(Some(ipc::installed_models().await.map_err(|e| e.message)));
        });
    };
    load();
    on_models_changed(state, load);
    // The list says which model is active; read it again when a load ends.
    after_each_load(state, load);
    let choose = move |path: String| {
        spawn_local(async move {
            match ipc::select_model(path).await {
                // The app pushes the model's state from here on (the answer may be older).
                Ok(_) => {
                    state.stats.set(None);
                    load();
                }
                Err(e) => state.notice.set(Some(e.message)),
            }
        });
    };
    let loading = move || {
        state.model.with(|m| match m {
            Some(ModelStatus::Loading { path }) => Some(path.clone()),
            _ => None,
        })
    };
    view! {
        <p class="field-help">
            "Models are GGUF files. Put one in "
            <code id="models-folder" class="path">{move || folder.get()}</code>
            " to see it here."
        </p>
        {move || {
            loading()
                .map(|path| {
                    view! {
                        <div class="loading-model" role="status">
                            <span class="progress" aria-hidden="true"></span>
                            <span>"Loading " {file_name(&path)} "…"</span>
                        </div>
                    }
                })
        }}
        <ul class="model-list">
            {move || match models.get() {
                None => view! { <li class="model-row muted">"Looking for models…"</li> }.into_any(),
                Some(Err(message)) => view! { <li class="model-row error">{message}</li> }.into_any(),
                Some(Ok(list)) if list.is_empty() => {
                    view! { <li class="model-row muted">"No model files found."</li> }.into_any()
                }
                Some(Ok(list)) => {
                    list.into_iter()
                        .map(|model| view! { <ModelRow model choose /> })
                        .collect_view()
                        .into_any()
                }
            }}
        </ul>
        <ImportModel />
        <Catalog />
    }
}

fn file_name(path: &str) -> String {
    path.rsplit(['/', '\\']).next().unwrap_or(path).to_owned()
}

/// Whether a model fits this computer's memory, with what it needs (in the tooltip: for how
/// long a conversation).
pub fn fit_badge(fit: MemoryFit, needed: u64, context: u32) -> impl IntoView {
    let (class, label) = match fit {
        MemoryFit::Fits => ("badge ok fit", "Fits in memory"),
        MemoryFit::Tight => ("badge warn fit", "Tight on memory"),
        MemoryFit::TooLarge => ("badge bad fit", "Too large for this computer"),
        MemoryFit::Unknown => ("badge fit", "Memory unknown"),
    };
    let title = (needed > 0).then(|| {
        format!(
            "Needs about {} of memory for a conversation of {} tokens: weights, cache and \
             working memory",
            format_size(needed),
            format_tokens(context)
        )
    });
    let label = if needed > 0 {
        format!("{label} · ~{}", format_size(needed))
    } else {
        label.to_owned()
    };
    view! { <span class=class title=title>{label}</span> }
}

/// One model: name, facts, memory fit, and Use.
#[component]
fn ModelRow(model: InstalledModel, choose: impl Fn(String) + Copy + 'static) -> impl IntoView {
    let state = expect_context::<AppState>();
    let InstalledModel {
        path,
        name,
        architecture,
        quantization,
        context_length,
        file_size,
        memory_fit,
        memory_needed,
        fit_context,
        active,
        problem,
        removable,
    } = model;
    let facts = if problem.is_some() {
        format_size(file_size)
    } else {
        format!(
            "{architecture} · {quantization} · {} context · {}",
            format_tokens(context_length),
            format_size(file_size)
        )
    };
    let usable = problem.is_none() && memory_fit != MemoryFit::TooLarge;
    let busy = move || {
        state
            .model
            .with(|m| matches!(m, Some(ModelStatus::Loading { .. })))
    };
    let target = path.clone();
    view! {
        <li class="model-row" class:active=active data-path=path.clone() data-arch=architecture.clone()>
            <div class="model-main">
                <span class="model-name">{name}</span>
                <span class="model-facts">{facts}</span>
                {problem.map(|p| view! { <span class="model-problem">{p}</span> })}
            </div>
            {fit_badge(memory_fit, memory_needed, fit_context)}
            {if active {
                view! { <span class="badge current">"In use"</span> }.into_any()
            } else {
                let doomed = path.clone();
                let remove = removable
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="link-button remove-model"
                                title="Delete this file from the models folder"
                                on:click=move |_| {
                                    let doomed = doomed.clone();
                                    spawn_local(async move {
                                        match ipc::remove_model(doomed).await {
                                            Ok(()) => state.models_changed.update(|n| *n += 1),
                                            Err(e) => state.notice.set(Some(e.message)),
                                        }
                                    });
                                }
                            >
                                "Delete"
                            </button>
                        }
                    });
                view! {
                    {remove}
                    <button
                        type="button"
                        class="primary use-model"
                        disabled=move || !usable || busy()
                        on:click=move |_| choose(target.clone())
                    >
                        "Use"
                    </button>
                }
                .into_any()
            }}
        </li>
    }
}

/// `2,048 tokens` style, short: `8K`, `128K`.
fn format_tokens(tokens: u32) -> String {
    if tokens >= 1024 && tokens.is_multiple_of(1024) {
        format!("{}K", tokens / 1024)
    } else {
        tokens.to_string()
    }
}

/// `138 MB`, `1.2 GB`.
pub fn format_size(bytes: u64) -> String {
    const MB: f64 = 1_000_000.0;
    let mb = bytes as f64 / MB;
    if mb >= 1000.0 {
        format!("{:.1} GB", mb / 1000.0)
    } else {
        format!("{mb:.0} MB")
    }
}

/// The system prompt and sampler of the chat on screen.
#[component]
fn ChatSettingsBody() -> impl IntoView {
    let state = expect_context::<AppState>();
    let start = state.chat_settings.get_untracked();
    let defaults = state.default_sampler.get_untracked();
    let system = RwSignal::new(start.system_prompt.clone());
    let sampler = RwSignal::new(start.sampler.clone().unwrap_or_else(|| defaults.clone()));
    let error = RwSignal::new(None::<String>);
    let save = move || {
        let chosen = sampler.get_untracked();
        let defaults = state.default_sampler.get_untracked();
        let settings = ConversationSettings {
            system_prompt: system.get_untracked(),
            sampler: (chosen != defaults).then_some(chosen),
        };
        if let Some(problem) = settings.problem() {
            error.set(Some(capitalise(&problem)));
            return;
        }
        state.save_chat_settings(settings);
        state.panel.set(None);
    };
    let reset = move |_| {
        sampler.set(state.default_sampler.get_untracked());
        system.set(String::new());
    };
    let note = RwSignal::new(None::<String>);
    let make_model_defaults = move |_| {
        let chosen = sampler.get_untracked();
        let check = ConversationSettings {
            system_prompt: String::new(),
            sampler: Some(chosen.clone()),
        };
        if let Some(problem) = check.problem() {
            error.set(Some(capitalise(&problem)));
            return;
        }
        spawn_local(async move {
            match ipc::set_model_sampler(Some(chosen.clone())).await {
                Ok(()) => {
                    state.default_sampler.set(chosen);
                    error.set(None);
                    note.set(Some(
                        "New conversations with this model start with these settings.".into(),
                    ));
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <label class="field">
            <span class="field-label">"System prompt"</span>
            <textarea
                id="system-prompt"
                rows="4"
                placeholder="For example: You are a patient tutor who explains with examples."
                prop:value=move || system.get()
                on:input=move |ev| system.set(event_target_value(&ev))
            ></textarea>
            <span class="field-help">"Instructions the model reads before this conversation."</span>
        </label>
        <div class="sampler-grid">
            {number_field("Temperature", "temperature", 0.0, 2.0, 0.05, sampler,
                |s| f64::from(s.temperature), |s, v| s.temperature = v as f32)}
            {number_field("Top-p", "top-p", 0.0, 1.0, 0.05, sampler,
                |s| f64::from(s.top_p), |s, v| s.top_p = v as f32)}
            {number_field("Top-k", "top-k", 0.0, 200.0, 1.0, sampler,
                |s| f64::from(s.top_k), |s, v| s.top_k = v as u32)}
            {number_field("Repeat penalty", "repeat-penalty", 1.0, 2.0, 0.05, sampler,
                |s| f64::from(s.repeat_penalty), |s, v| s.repeat_penalty = v as f32)}
            {number_field("Max reply tokens", "max-tokens", 1.0, 8192.0, 1.0, sampler,
                |s| f64::from(s.max_tokens), |s, v| s.max_tokens = v as u32)}
            {number_field("Seed", "seed", 0.0, 4_294_967_295.0, 1.0, sampler,
                |s| s.seed as f64, |s, v| s.seed = v as u64)}
        </div>
        {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        {move || note.get().map(|n| view! { <p class="field-help" role="status">{n}</p> })}
        <div class="panel-actions">
            <button type="button" class="secondary" on:click=reset>"Reset to defaults"</button>
            <button
                id="save-model-defaults"
                type="button"
                class="secondary"
                title="Use these sampler settings for new conversations with the model in use"
                on:click=make_model_defaults
            >
                "Make model defaults"
            </button>
            <button id="save-chat-settings" type="button" class="primary" on:click=move |_| save()>
                "Save"
            </button>
        </div>
    }
}

/// `text` with its first letter in upper case.
pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A labelled number input bound to one sampler field.
#[allow(clippy::too_many_arguments)]
fn number_field(
    label: &'static str,
    id: &'static str,
    min: f64,
    max: f64,
    step: f64,
    sampler: RwSignal<SamplerParams>,
    get: fn(&SamplerParams) -> f64,
    set: fn(&mut SamplerParams, f64),
) -> impl IntoView {
    view! {
        <label class="field compact">
            <span class="field-label">{label}</span>
            <input
                id=format!("sampler-{id}")
                type="number"
                min=min
                max=max
                step=step
                prop:value=move || sampler.with(|s| trim_number(get(s)))
                on:change=move |ev| {
                    if let Ok(value) = event_target_value(&ev).trim().parse::<f64>()
                        && value.is_finite()
                    {
                        sampler.update(|s| set(s, value.clamp(min, max)));
                    }
                }
            />
        </label>
    }
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The first-run welcome: what local-first means, then straight into chat.
#[component]
pub fn Welcome() -> impl IntoView {
    let state = expect_context::<AppState>();
    let show = move || {
        state
            .settings
            .with(|s| s.as_ref().is_some_and(|s| !s.welcomed))
    };
    let start = move |_| {
        let mut settings = state.settings.get_untracked().unwrap_or_default();
        settings.welcomed = true;
        save_settings(state, settings);
        state.focus_composer();
    };
    view! {
        <Show when=show>
            <div class="overlay welcome-overlay">
                <section id="welcome" class="panel welcome" role="dialog" aria-modal="true" aria-label="Welcome">
                    <div class="welcome-mark" aria-hidden="true"></div>
                    <h2>"Welcome to Open Assistant"</h2>
                    <ul class="welcome-points">
                        <li>
                            <strong>"Runs on your computer."</strong>
                            " The model answers here, without the internet and without an account."
                        </li>
                        <li>
                            <strong>"Private by default."</strong>
                            " Your conversations are kept on this computer only."
                        </li>
                        <li>
                            <strong>"Better AI for everyone, if you wish."</strong>
                            " Rate or improve answers, and share them with the open dataset — only what you choose, after you have seen it."
                        </li>
                    </ul>
                    <button id="start-chatting" type="button" class="primary wide" on:click=start>
                        "Start chatting"
                    </button>
                </section>
            </div>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_context_read_like_a_product() {
        assert_eq!(format_size(138_000_000), "138 MB");
        assert_eq!(format_size(1_230_000_000), "1.2 GB");
        assert_eq!(format_tokens(8192), "8K");
        assert_eq!(format_tokens(32768), "32K");
        assert_eq!(format_tokens(2000), "2000");
        assert_eq!(file_name("/a/b/model.gguf"), "model.gguf");
        assert_eq!(trim_number(0.7), "0.7");
        assert_eq!(trim_number(40.0), "40");
    }
}
