//! Compare mode: several answers to one prompt side by side, written by the local model with
//! different seeds, ranked by the person best first (Open-Assistant's `rank_assistant_replies`).
//!
//! Every reply to the prompt takes part, also those written before, so a ranking always names
//! each sibling once as the store requires. New answers are ordinary regenerations: they also
//! appear as versions in the chat.

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{ChatEvent, CompareSet, Message, Ranking, Regenerate, Uuid};

use crate::ipc;
use crate::markdown;
use crate::rank::{RankActions, RankCards, RankOrder};
use crate::state::AppState;

/// How many answers compare mode offers to write.
const ANSWER_COUNTS: [usize; 3] = [2, 3, 4];

/// The compare page for one prompt.
#[component]
pub fn ComparePage(
    /// The conversation of the prompt.
    conversation_id: Uuid,
    /// The prompt.
    prompt_id: Uuid,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let set = RwSignal::new(None::<CompareSet>);
    let order = RwSignal::new(Vec::<Uuid>::new());
    let wanted = RwSignal::new(3usize);
    let streaming = RwSignal::new(None::<String>);
    let stop_asked = RwSignal::new(false);
    let saved = RwSignal::new(None::<&'static str>);
    let error = RwSignal::new(None::<String>);

    let load = move || {
        spawn_local(async move {
            match ipc::compare_set(prompt_id).await {
                Ok(loaded) => {
                    if let Some(Ranking::Ranked(kept)) = &loaded.ranking
                        && kept.len() == loaded.replies.len()
                    {
                        order.set(kept.clone());
                    }
                    if matches!(loaded.ranking, Some(Ranking::NotRankable)) {
                        saved.set(Some("You marked these answers as not rankable."));
                    } else if loaded.ranking.is_some() {
                        saved.set(Some("Ranking saved."));
                    }
                    set.set(Some(loaded));
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    load();

    let replies = Signal::derive(move || {
        set.with(|s| s.as_ref().map(|s| s.replies.clone()).unwrap_or_default())
    });
    let count = move || replies.with(Vec::len);
    let generate = move |_| {
        if app.busy.get_untracked() || app.model_unavailable() {
            return;
        }
        app.busy.set(true);
        stop_asked.set(false);
        error.set(None);
        saved.set(None);
        spawn_local(async move {
            while count() < wanted.get_untracked() && !stop_asked.get_untracked() {
                match write_one(conversation_id, prompt_id, streaming).await {
                    Ok(reply) => set.update(|s| {
                        if let Some(s) = s {
                            s.replies.push(reply);
                            // The ranking kept before no longer names every answer.
                            s.ranking = None;
                        }
                    }),
                    Err(message) => {
                        error.set(Some(message));
                        break;
                    }
                }
            }
            streaming.set(None);
            app.busy.set(false);
        });
    };
    let stop = move |_| {
        stop_asked.set(true);
        spawn_local(async move {
            let _ = ipc::stop_generation().await;
        });
    };
    let save = Callback::new(move |ranking: Ranking| {
        error.set(None);
        spawn_local(async move {
            match ipc::rank_replies(prompt_id, ranking).await {
                Ok(stored) => {
                    saved.set(Some(match stored.ranking {
                        Some(Ranking::NotRankable) => "You marked these answers as not rankable.",
                        _ => "Ranking saved.",
                    }));
                    set.set(Some(stored));
                }
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let prompt_text = move || set.with(|s| s.as_ref().map(|s| s.prompt.text.clone()));

    view! {
        <section id="compare-page" class="page compare-page" aria-labelledby="compare-title">
            <header class="page-head">
                <button
                    id="compare-back"
                    type="button"
                    class="link-button back"
                    on:click=move |_| app.back_to_chat()
                >
                    "‹ Back to chat"
                </button>
                <h2 id="compare-title" class="page-title">"Compare answers"</h2>
                <p class="page-help">
                    "Write several answers to one prompt and rank them, best first. Rankings teach models which answers people prefer."
                </p>
            </header>
            {move || {
                prompt_text()
                    .map(|text| {
                        view! {
                            <div class="compare-prompt">
                                <span class="compare-prompt-label">"Prompt"</span>
                                <p class="compare-prompt-text">{text}</p>
                            </div>
                        }
                    })
            }}
            <div class="compare-controls">
                <span id="compare-count-label" class="field-label">"Answers"</span>
                <div class="segmented" role="radiogroup" aria-labelledby="compare-count-label">
                    {ANSWER_COUNTS
                        .into_iter()
                        .map(|n| {
                            view! {
                                <button
                                    type="button"
                                    role="radio"
                                    class="chip compare-count"
                                    class:on=move || wanted.get() == n
                                    data-count=n.to_string()
                                    aria-checked=move || (wanted.get() == n).to_string()
                                    on:click=move |_| wanted.set(n)
                                >
                                    {n.to_string()}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <Show
                    when=move || app.busy.get()
                    fallback=move || {
                        view! {
                            <button
                                id="compare-generate"
                                type="button"
                                class="primary"
                                disabled=move || {
                                    app.model_unavailable() || count() >= wanted.get()
                                        || set.with(Option::is_none)
                                }
                                on:click=generate
                            >
                                {move || {
                                    let missing = wanted.get().saturating_sub(count());
                                    match missing {
                                        0 => "All answers written".to_owned(),
                                        1 => "Write 1 more answer".to_owned(),
                                        n => format!("Write {n} more answers"),
                                    }
                                }}
                            </button>
                        }
                    }
                >
                    <button id="compare-stop" type="button" class="secondary" on:click=stop>
                        "Stop"
                    </button>
                </Show>
                <span class="compare-have">
                    {move || match count() {
                        1 => "1 answer so far".to_owned(),
                        n => format!("{n} answers so far"),
                    }}
                </span>
            </div>
            {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            <RankCards replies order locked=Signal::derive(move || app.busy.get()) />
            {move || {
                streaming
                    .get()
                    .map(|text| {
                        let html = markdown::render(&text);
                        view! {
                            <article class="rank-card writing" aria-busy="true">
                                <header class="rank-card-head">
                                    <span class="answer-letter">"Writing…"</span>
                                </header>
                                <div class="rank-card-text markdown" inner_html=html></div>
                            </article>
                        }
                    })
            }}
            <footer class="rank-bar">
                <div class="rank-bar-order">
                    <span class="field-label">"Your ranking"</span>
                    <Show
                        when=move || order.with(|o| !o.is_empty())
                        fallback=|| {
                            view! {
                                <span class="rank-hint">
                                    "Pick the best answer first, then the next best…"
                                </span>
                            }
                        }
                    >
                        <RankOrder replies order />
                    </Show>
                </div>
                {move || saved.get().map(|s| view! { <span class="ranking-saved">{s}</span> })}
                <div class="rank-bar-actions">
                    <button
                        id="clear-ranking"
                        type="button"
                        class="link-button"
                        disabled=move || order.with(Vec::is_empty)
                        on:click=move |_| order.set(Vec::new())
                    >
                        "Clear"
                    </button>
                    <RankActions
                        order
                        answers=Signal::derive(count)
                        locked=Signal::derive(move || app.busy.get())
                        save
                    />
                </div>
            </footer>
        </section>
    }
}

/// Writes one more answer to the prompt, streaming its text into `streaming`; answers with the
/// stored reply (also one the person stopped), or the error to show.
async fn write_one(
    conversation_id: Uuid,
    prompt_id: Uuid,
    streaming: RwSignal<Option<String>>,
) -> Result<Message, String> {
    streaming.set(Some(String::new()));
    let request = Regenerate {
        conversation_id,
        prompt_id,
        sampler: None,
    };
    // A token that trails the command's answer must not reach the next answer's card.
    let answered = Rc::new(Cell::new(false));
    let on_event = {
        let answered = answered.clone();
        move |event| {
            if let ChatEvent::Token(token) = event
                && !answered.get()
            {
                streaming.update(|text| {
                    if let Some(text) = text {
                        text.push_str(&token.text);
                    }
                });
            }
        }
    };
    let reply = ipc::regenerate(request, on_event).await;
    answered.set(true);
    reply.map_err(|e| e.message)
}
