//! Getting models: the catalog with downloads (progress, speed, time left, pause, resume,
//! cancel) and importing a GGUF file from elsewhere on the computer.
//!
//! Download state lives in [`AppState::downloads`], so closing the Models panel loses nothing:
//! the download goes on in the app and the panel shows it again when reopened.

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{CatalogEntry, DownloadEvent};

use crate::ipc;
use crate::panels::{fit_badge, format_size};
use crate::state::{AppState, DownloadState};

/// Starts (or resumes) downloading catalog model `id`, following it in the app's state.
pub fn start(state: AppState, id: String) {
    state.downloads.update(|d| {
        d.insert(
            id.clone(),
            DownloadState::Running {
                done: 0,
                total: 0,
                bytes_per_second: 0,
                eta_seconds: None,
            },
        );
    });
    let key = id.clone();
    let on_event = move |event: DownloadEvent| {
        let next = match event {
            DownloadEvent::Started {
                total_bytes,
                resumed_from,
            } => Some(DownloadState::Running {
                done: resumed_from,
                total: total_bytes,
                bytes_per_second: 0,
                eta_seconds: None,
            }),
            DownloadEvent::Progress {
                done_bytes,
                total_bytes,
                bytes_per_second,
                eta_seconds,
            } => Some(DownloadState::Running {
                done: done_bytes,
                total: total_bytes,
                bytes_per_second,
                eta_seconds,
            }),
            DownloadEvent::Verifying => Some(DownloadState::Verifying),
            DownloadEvent::Paused => Some(DownloadState::Paused),
            DownloadEvent::Failed { error } => Some(DownloadState::Failed(error.message)),
            DownloadEvent::Finished { .. } | DownloadEvent::Cancelled => None,
        };
        let finished = next.is_none();
        state.downloads.update(|d| match next {
            Some(next) => {
                d.insert(key.clone(), next);
            }
            None => {
                d.remove(&key);
            }
        });
        if finished {
            state.models_changed.update(|n| *n += 1);
        }
    };
    spawn_local(async move {
        if let Err(e) = ipc::download_model(id.clone(), on_event).await {
            state.downloads.update(|d| {
                d.insert(id, DownloadState::Failed(e.message));
            });
        }
    });
}

/// Runs `reload` whenever a model file arrives or leaves (a download, an import, a deletion).
pub fn on_models_changed(state: AppState, reload: impl Fn() + 'static) {
    Effect::new(move |previous: Option<u64>| {
        let now = state.models_changed.get();
        if previous.is_some_and(|p| p != now) {
            reload();
        }
        now
    });
}

/// "3.4 MB/s · 20 s left".
pub fn pace(bytes_per_second: u64, eta_seconds: Option<u64>) -> String {
    let speed = format!("{:.1} MB/s", bytes_per_second as f64 / 1_000_000.0);
    match eta_seconds {
        Some(s) if s >= 3600 => format!("{speed} · {} h {} min left", s / 3600, s % 3600 / 60),
        Some(s) if s >= 60 => format!("{speed} · {} min left", s.div_ceil(60)),
        Some(s) => format!("{speed} · {s} s left"),
        None => speed,
    }
}

/// The catalog, each model with Download, its progress, or "Installed".
#[component]
pub fn Catalog() -> impl IntoView {
    let state = expect_context::<AppState>();
    let entries = RwSignal::new(Vec::<CatalogEntry>::new());
    let load = move || {
        spawn_local(async move {
            if let Ok(list) = ipc::catalog().await {
                entries.set(list);
            }
        });
    };
    load();
    on_models_changed(state, load);
    view! {
        <h3 class="section-label panel-section">"Download from the Hugging Face Hub"</h3>
        <ul class="catalog-list">
            <For
                each=move || entries.get()
                key=|e| (e.model.id.clone(), e.installed)
                children=move |entry| view! { <CatalogRow entry /> }
            />
        </ul>
    }
}

#[component]
fn CatalogRow(entry: CatalogEntry) -> impl IntoView {
    let state = expect_context::<AppState>();
    let CatalogEntry {
        model,
        installed,
        partial,
        memory_needed,
        fit_context,
        memory_fit,
        ..
    } = entry;
    let id = model.id.clone();
    let facts = format!(
        "{} · {:.1}B parameters · {} · {} context · {}",
        model.architecture,
        model.parameters as f64 / 1e9,
        model.quantization,
        model.context_length,
        model.license
    );
    let key = StoredValue::new(id.clone());
    let download = move || {
        state
            .downloads
            .with(|d| key.with_value(|id| d.get(id).cloned()))
    };
    let control = {
        let id = id.clone();
        move || {
            let id = id.clone();
            if installed {
                return view! { <span class="badge ok installed">"Installed"</span> }.into_any();
            }
            match download() {
                None if partial.is_none() => {
                    let go = id.clone();
                    view! {
                        <button
                            type="button"
                            class="primary download-model"
                            on:click=move |_| start(state, go.clone())
                        >
                            "Download"
                        </button>
                    }
                    .into_any()
                }
                None | Some(DownloadState::Paused) | Some(DownloadState::Failed(_)) => {
                    let go = id.clone();
                    view! {
                        <button
                            type="button"
                            class="primary resume-download"
                            on:click=move |_| start(state, go.clone())
                        >
                            "Resume"
                        </button>
                    }
                    .into_any()
                }
                Some(DownloadState::Running { .. }) => {
                    let (pause, cancel) = (id.clone(), id.clone());
                    view! {
                        <button
                            type="button"
                            class="secondary pause-download"
                            on:click=move |_| {
                                let id = pause.clone();
                                spawn_local(async move {
                                    let _ = ipc::pause_download(id).await;
                                });
                            }
                        >
                            "Pause"
                        </button>
                        <button
                            type="button"
                            class="link-button cancel-download"
                            on:click=move |_| {
                                let id = cancel.clone();
                                spawn_local(async move {
                                    let _ = ipc::cancel_download(id).await;
                                });
                            }
                        >
                            "Cancel"
                        </button>
                    }
                    .into_any()
                }
                Some(DownloadState::Verifying) => {
                    view! { <span class="badge">"Checking…"</span> }.into_any()
                }
            }
        }
    };
    let progress = move || {
        let Some(d) = download() else {
            // Left by an earlier run of the app: the next start resumes it.
            return partial.map(|p| {
                view! {
                    <div class="download" data-state="paused">
                        <progress
                            class="download-progress"
                            max=p.total_bytes.max(1).to_string()
                            value=p.done_bytes.to_string()
                        ></progress>
                        <span class="download-text">
                            {format!(
                                "Paused at {} of {}. Resume continues from there.",
                                format_size(p.done_bytes),
                                format_size(p.total_bytes),
                            )}
                        </span>
                    </div>
                }
                .into_any()
            });
        };
        Some(match d {
            DownloadState::Running {
                done,
                total,
                bytes_per_second,
                eta_seconds,
            } => view! {
                <div class="download" data-state="running">
                    <progress
                        class="download-progress"
                        max=total.max(1).to_string()
                        value=done.to_string()
                    ></progress>
                    <span class="download-text">
                        {format!(
                            "{} of {} · {}",
                            format_size(done),
                            format_size(total),
                            pace(bytes_per_second, eta_seconds),
                        )}
                    </span>
                </div>
            }
            .into_any(),
            DownloadState::Verifying => view! {
                <div class="download" data-state="verifying">
                    <span class="download-text">"Checking the file against the Hub's checksum…"</span>
                </div>
            }
            .into_any(),
            DownloadState::Paused => view! {
                <div class="download" data-state="paused">
                    <span class="download-text">"Paused. Resume continues where it stopped."</span>
                </div>
            }
            .into_any(),
            DownloadState::Failed(message) => view! {
                <div class="download" data-state="failed">
                    <span class="download-error" role="alert">{message}</span>
                </div>
            }
            .into_any(),
        })
    };
    view! {
        <li class="catalog-row" data-id=id.clone()>
            <div class="model-main">
                <span class="model-name">{model.name.clone()}</span>
                <span class="model-facts">{facts}</span>
                <span class="model-description">{model.description.clone()}</span>
                {progress}
            </div>
            {(!installed).then(|| fit_badge(memory_fit, memory_needed, fit_context))}
            <div class="catalog-actions">{control}</div>
        </li>
    }
}

/// A GGUF file from elsewhere, by its path; the app checks it before listing it.
#[component]
pub fn ImportModel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let path = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let import = move || {
        let chosen = path.get_untracked().trim().to_owned();
        if chosen.is_empty() {
            return;
        }
        spawn_local(async move {
            match ipc::import_model(chosen).await {
                Ok(installed) => {
                    outcome.set(Some(Ok(installed)));
                    path.set(String::new());
                    state.models_changed.update(|n| *n += 1);
                }
                Err(e) => outcome.set(Some(Err(e.message))),
            }
        });
    };
    let browse = move |_| {
        spawn_local(async move {
            match ipc::pick_model_file().await {
                Ok(Some(chosen)) => {
                    path.set(chosen);
                    import();
                }
                Ok(None) => {}
                Err(e) => outcome.set(Some(Err(e.message))),
            }
        });
    };
    view! {
        <div class="field import-model">
            <label class="field-label" for="import-path">"Add a GGUF file from this computer"</label>
            <div class="import-row">
                <input
                    id="import-path"
                    type="text"
                    placeholder="/home/you/Downloads/model.gguf"
                    spellcheck="false"
                    prop:value=move || path.get()
                    on:input=move |ev| path.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" {
                            import();
                        }
                    }
                />
                <button
                    id="import-model"
                    type="button"
                    class="secondary"
                    disabled=move || path.with(|p| p.trim().is_empty())
                    on:click=move |_| import()
                >
                    "Add"
                </button>
                <button id="browse-model" type="button" class="secondary" on:click=browse>
                    "Choose file…"
                </button>
            </div>
            {move || match outcome.get() {
                Some(Ok(installed)) => {
                    view! { <p class="field-help import-done">{format!("Added {installed}")}</p> }
                        .into_any()
                }
                Some(Err(message)) => {
                    view! { <p class="field-error import-error" role="alert">{message}</p> }
                        .into_any()
                }
                None => ().into_any(),
            }}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pace_says_speed_and_time_left_in_fitting_units() {
        assert_eq!(pace(3_400_000, Some(20)), "3.4 MB/s · 20 s left");
        assert_eq!(pace(1_000_000, Some(90)), "1.0 MB/s · 2 min left");
        assert_eq!(pace(1_000_000, Some(3_700)), "1.0 MB/s · 1 h 1 min left");
        assert_eq!(pace(0, None), "0.0 MB/s");
    }
}
