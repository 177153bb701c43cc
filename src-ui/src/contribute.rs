//! The Contribute page: a queue of small tasks made from the person's own history, done one at a
//! time, fully offline: rank your regenerations, write a better answer for a thumbs-down, label
//! answers you rated, continue a conversation as the user, start a new one.
//!
//! Answers are kept on this computer like everything else; Review & Share decides what leaves.
//! Signed in to a dataset server, the person can also lease the server's tasks to do offline
//! (they come first, with their lease; an answer is queued for sending as the task's result) and
//! see the leaderboard with their own standing, the last copy of which is shown offline.

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{
    Labels, LeaderboardWindow, LocalTask, Message, Ranking, Role, Standing, TaskAnswer, TaskKind,
    TaskQueue, Uuid, Vote,
};

use crate::clock::tz_offset_minutes;
use crate::feedback::{DOWN_REASONS, LabelPicker};
use crate::ipc;
use crate::markdown;
use crate::rank::{RankActions, RankCards, RankOrder};
use crate::state::AppState;

/// What a task asks, for its heading.
pub fn task_heading(kind: TaskKind) -> (&'static str, &'static str) {
    match kind {
        TaskKind::RankReplies => (
            "Rank your regenerations",
            "You had the model answer this prompt more than once. Put the answers in order, best first.",
        ),
        TaskKind::AssistantReply => (
            "Write a better answer",
            "You gave this answer a thumbs down. Write the answer you wished for; the model's stays as it was.",
        ),
        TaskKind::LabelMessage => (
            "Label an answer you rated",
            "Describe this answer with Open-Assistant's labels. Set only what applies.",
        ),
        TaskKind::PrompterReply => (
            "Reply as the user",
            "Continue the conversation: write what a person might say next to this answer.",
        ),
        TaskKind::InitialPrompt => (
            "Start a conversation",
            "Write a first message someone might send to an assistant: a question, a request, a task.",
        ),
    }
}

/// What a task leased from the dataset server asks, for its heading: the work of others.
fn leased_heading(kind: TaskKind, review: bool) -> (&'static str, &'static str) {
    match kind {
        TaskKind::RankReplies => (
            "Rank the answers",
            "Several answers to this conversation. Put them in order, best first.",
        ),
        TaskKind::AssistantReply => (
            "Write the assistant's reply",
            "Answer the last message as a helpful assistant would.",
        ),
        TaskKind::LabelMessage if review => (
            "Review a message",
            "Describe this message with Open-Assistant's labels. Set only what applies; spam decides whether it is kept.",
        ),
        TaskKind::LabelMessage => (
            "Label a message",
            "Describe the last message with Open-Assistant's labels. Set only what applies.",
        ),
        other => task_heading(other),
    }
}

/// The Contribute page.
#[component]
pub fn ContributePage() -> impl IntoView {
    let app = expect_context::<AppState>();
    let queue = RwSignal::new(None::<TaskQueue>);
    let error = RwSignal::new(None::<String>);
    let thanks = RwSignal::new(false);
    // Read when the page opens and again whenever the app pushes a change to the queue.
    Effect::new(move |_| {
        app.tasks_changed.track();
        spawn_local(async move {
            match ipc::task_queue(tz_offset_minutes()).await {
                Ok(loaded) => queue.set(Some(loaded)),
                Err(e) => error.set(Some(e.message)),
            }
        });
    });
    let finish = move |result: Result<TaskQueue, oa_types::AppError>, done: bool| match result {
        Ok(next) => {
            queue.set(Some(next));
            error.set(None);
            thanks.set(done);
            app.refresh_conversations();
        }
        Err(e) => error.set(Some(e.message)),
    };
    let submit = Callback::new(move |(lease, answer): (Option<Uuid>, TaskAnswer)| {
        spawn_local(async move {
            let result = match lease {
                Some(task_id) => {
                    ipc::complete_leased_task(task_id, answer, tz_offset_minutes()).await
                }
                None => ipc::complete_task(answer, tz_offset_minutes()).await,
            };
            finish(result, true);
        });
    });
    let leasing = RwSignal::new(false);
    let lease = move |_| {
        leasing.set(true);
        spawn_local(async move {
            let before = queue.with_untracked(|q| q.as_ref().map_or(0, leased_count));
            match ipc::lease_tasks(LEASE_COUNT, tz_offset_minutes()).await {
                Ok(next) => {
                    let got = leased_count(&next).saturating_sub(before);
                    error.set((got == 0).then(|| {
                        "The server has no tasks for you right now. Try again later.".to_owned()
                    }));
                    queue.set(Some(next));
                    thanks.set(false);
                }
                Err(e) => error.set(Some(e.message)),
            }
            leasing.set(false);
        });
    };
    let skip = Callback::new(move |key: String| {
        spawn_local(async move { finish(ipc::skip_task(key, tz_offset_minutes()).await, false) });
    });
    let current =
        Memo::new(move |_| queue.with(|q| q.as_ref().and_then(|q| q.tasks.first().cloned())));
    let progress = move || queue.with(|q| q.as_ref().map(|q| q.progress.clone()));
    view! {
        <section id="contribute-page" class="page contribute-page" aria-labelledby="contribute-title">
            <header class="page-head">
                <h2 id="contribute-title" class="page-title">"Contribute"</h2>
                <p class="page-help">
                    "Small tasks made from your own chats. They work offline and stay on this computer until you share them from Review & Share."
                </p>
                <div class="panel-actions">
                    <button
                        id="lease-tasks"
                        type="button"
                        class="secondary"
                        disabled=move || leasing.get()
                        on:click=lease
                        title="Fetch tasks from the dataset server to do here, also offline; your answers are sent when you are online"
                    >
                        {move || if leasing.get() { "Getting tasks…" } else { "Get tasks for offline work" }}
                    </button>
                </div>
            </header>
            {move || {
                progress()
                    .map(|p| {
                        let days = if p.streak_days == 1 { "day" } else { "days" };
                        view! {
                            <div
                                id="task-progress"
                                class="task-progress"
                                data-done-today=p.done_today.to_string()
                                data-done-total=p.done_total.to_string()
                                data-streak=p.streak_days.to_string()
                            >
                                <div class="stat">
                                    <span class="stat-value">{p.done_today}</span>
                                    <span class="stat-name">"done today"</span>
                                </div>
                                <div class="stat">
                                    <span class="stat-value">{format!("{} {days}", p.streak_days)}</span>
                                    <span class="stat-name">"streak"</span>
                                </div>
                                <div class="stat">
                                    <span class="stat-value">{p.done_total}</span>
                                    <span class="stat-name">"in total"</span>
                                </div>
                                <div class="stat">
                                    <span class="stat-value">{p.open}</span>
                                    <span class="stat-name">"waiting"</span>
                                </div>
                            </div>
                        }
                    })
            }}
            <Show when=move || thanks.get()>
                <p class="task-saved" role="status">
                    "Thank you — saved on this computer. Share it from Review & Share when you like."
                </p>
            </Show>
            {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            {move || {
                current
                    .get()
                    .map(|task| {
                        let can_skip = task.kind != TaskKind::InitialPrompt
                            || task.lease.is_some();
                        view! { <TaskCard task submit skip can_skip /> }
                    })
            }}
            <StandingView />
        </section>
    }
}

/// One task: what led to it, and the form that answers it.
#[component]
fn TaskCard(
    task: LocalTask,
    submit: Callback<(Option<Uuid>, TaskAnswer)>,
    skip: Callback<String>,
    can_skip: bool,
) -> impl IntoView {
    let (title, help) = match task.lease {
        Some(lease) => leased_heading(task.kind, lease.review),
        None => task_heading(task.kind),
    };
    let key = task.key.clone();
    let subject = task.context.last().map(|m| m.id);
    let lease = task.lease;
    let submit = Callback::new(move |answer| submit.run((lease.map(|l| l.task_id), answer)));
    let form = match task.kind {
        TaskKind::RankReplies => rank_form(&task, submit).into_any(),
        TaskKind::AssistantReply => better_answer_form(&task, submit).into_any(),
        TaskKind::LabelMessage => label_form(subject, submit).into_any(),
        TaskKind::PrompterReply => writing_form(
            "Your reply as the user",
            "What would you ask or say next?",
            String::new(),
            move |text| subject.map(|message_id| TaskAnswer::PrompterReply { message_id, text }),
            submit,
        )
        .into_any(),
        TaskKind::InitialPrompt => writing_form(
            "Your prompt",
            "e.g. How do I keep basil alive on a windowsill?",
            String::new(),
            |text| Some(TaskAnswer::InitialPrompt { text }),
            submit,
        )
        .into_any(),
    };
    let context = task.context.clone();
    let show_context = !context.is_empty();
    view! {
        <article class="task-card" data-kind=task.kind.as_str() data-key=task.key.clone()>
            <header class="task-head">
                <h3 class="task-title">{title}</h3>
                <p class="task-help">{help}</p>
                {(!task.title.is_empty() && show_context && lease.is_none())
                    .then(|| view! { <p class="task-from">{format!("From “{}”", task.title)}</p> })}
                {lease.map(|l| view! { <p class="task-from task-lease" class:lease-expired=l.expired>{lease_line(&l)}</p> })}
            </header>
            {show_context.then(|| view! { <TaskContext messages=context /> })}
            {form}
            {can_skip
                .then(|| {
                    view! {
                        <div class="task-skip-row">
                            <button
                                type="button"
                                class="link-button task-skip"
                                on:click=move |_| skip.run(key.clone())
                            >
                                "Skip this task"
                            </button>
                        </div>
                    }
                })}
        </article>
    }
}

/// The conversation up to the task's subject, compact.
#[component]
fn TaskContext(messages: Vec<Message>) -> impl IntoView {
    let items = messages
        .into_iter()
        .map(|m| {
            let (who, body) = match m.role {
                Role::Prompter => (
                    "User",
                    view! { <div class="context-text plain">{m.text.clone()}</div> }.into_any(),
                ),
                Role::Assistant => (
                    "Assistant",
                    view! {
                        <div class="context-text markdown" inner_html=markdown::render(&m.text)></div>
                    }
                    .into_any(),
                ),
            };
            view! {
                <li class=format!("context-message {}", m.role.as_str()) data-id=m.id.to_string()>
                    <span class="context-role">{who}</span>
                    {body}
                </li>
            }
        })
        .collect_view();
    view! { <ol class="task-context">{items}</ol> }
}

fn rank_form(task: &LocalTask, submit: Callback<TaskAnswer>) -> impl IntoView + use<> {
    let replies = Signal::stored(task.replies.clone());
    let order = RwSignal::new(Vec::<Uuid>::new());
    let prompt_id = task.context.last().map(|m| m.id);
    let count = task.replies.len();
    let send = Callback::new(move |ranking: Ranking| {
        if let Some(prompt_id) = prompt_id {
            submit.run(TaskAnswer::RankReplies { prompt_id, ranking });
        }
    });
    view! {
        <RankCards replies order />
        <div class="rank-bar task-actions">
            <div class="rank-bar-order">
                <RankOrder replies order />
            </div>
            <div class="rank-bar-actions">
                <RankActions order answers=Signal::stored(count) save=send />
            </div>
        </div>
    }
}

fn better_answer_form(task: &LocalTask, submit: Callback<TaskAnswer>) -> impl IntoView + use<> {
    let reply = task.replies.first().cloned();
    let reasons: Vec<&'static str> = task
        .thumbs
        .as_ref()
        .filter(|t| t.vote == Vote::Down)
        .map(|t| {
            t.reasons
                .iter()
                .filter_map(|r| DOWN_REASONS.iter().find(|(k, _)| k == r).map(|(_, l)| *l))
                .collect()
        })
        .unwrap_or_default();
    let comment = task.thumbs.as_ref().and_then(|t| t.comment.clone());
    let original = reply.as_ref().map(|r| r.text.clone()).unwrap_or_default();
    // A leased task asks for a reply to the last message, not a better one in place of a reply.
    let id = match task.lease {
        Some(_) => task.context.last().map(|m| m.id),
        None => reply.as_ref().map(|r| r.id),
    };
    view! {
        {reply
            .map(|r| {
                view! {
                    <div class="task-reply" data-id=r.id.to_string()>
                        <span class="context-role">"The model's answer"</span>
                        <div class="context-text markdown" inner_html=markdown::render(&r.text)></div>
                        <div class="task-reasons">
                            {reasons
                                .into_iter()
                                .map(|r| view! { <span class="tag">{r}</span> })
                                .collect_view()}
                            {comment.map(|c| view! { <span class="task-comment">{c}</span> })}
                        </div>
                    </div>
                }
            })}
        {writing_form(
            "Your better answer",
            "Write the answer you wished for",
            original,
            move |text| id.map(|message_id| TaskAnswer::AssistantReply { message_id, text }),
            submit,
        )}
    }
}

fn label_form(subject: Option<Uuid>, submit: Callback<TaskAnswer>) -> impl IntoView + use<> {
    let labels = RwSignal::new(Labels::default());
    view! {
        <LabelPicker labels />
        <div class="task-actions">
            <button
                type="button"
                class="primary task-submit"
                disabled=move || labels.with(|l| l.0.is_empty())
                on:click=move |_| {
                    if let Some(message_id) = subject {
                        submit
                            .run(TaskAnswer::LabelMessage {
                                message_id,
                                labels: labels.get_untracked(),
                            });
                    }
                }
            >
                "Save labels"
            </button>
        </div>
    }
}

/// A text to write, sent as the answer `make` builds from it.
fn writing_form(
    label: &'static str,
    placeholder: &'static str,
    start: String,
    make: impl Fn(String) -> Option<TaskAnswer> + Send + Sync + 'static,
    submit: Callback<TaskAnswer>,
) -> impl IntoView {
    let text = RwSignal::new(start.clone());
    let area = crate::chat::focused_on_mount();
    let unchanged = move || text.with(|t| t.trim().is_empty() || t.trim() == start.trim());
    view! {
        <label class="field task-writing">
            <span class="field-label">{label}</span>
            <textarea
                class="task-text"
                rows="6"
                node_ref=area
                placeholder=placeholder
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
            ></textarea>
        </label>
        <div class="task-actions">
            <button
                type="button"
                class="primary task-submit"
                disabled=unchanged
                on:click=move |_| {
                    if let Some(answer) = make(text.get_untracked().trim().to_owned()) {
                        submit.run(answer);
                    }
                }
            >
                "Submit"
            </button>
        </div>
    }
}

/// Tasks one "Get tasks for offline work" asks for.
const LEASE_COUNT: u32 = 10;

fn leased_count(queue: &TaskQueue) -> usize {
    queue.tasks.iter().filter(|t| t.lease.is_some()).count()
}

/// Where a leased task's lease stands, in words.
fn lease_line(lease: &oa_types::TaskLease) -> String {
    let review = if lease.review {
        " Your labels decide whether the message is accepted."
    } else {
        ""
    };
    if lease.expired {
        return format!(
            "From the dataset server. The lease has ended: your answer is still sent, and used if it is still needed.{review}"
        );
    }
    let left_ms = lease.expires_at_ms - js_sys::Date::now() as i64;
    let hours = (left_ms / 3_600_000).max(0);
    let left = if hours >= 48 {
        format!("{} days", hours / 24)
    } else if hours >= 1 {
        format!("{hours} h")
    } else {
        format!("{} min", (left_ms / 60_000).max(1))
    };
    format!("From the dataset server, leased for {left} more.{review}")
}

/// The leaderboard and the person's own standing, from the server or the copy kept offline.
#[component]
fn StandingView() -> impl IntoView {
    let window = RwSignal::new(LeaderboardWindow::Week);
    let standing = RwSignal::new(None::<Result<Standing, String>>);
    Effect::new(move |_| {
        let asked = window.get();
        spawn_local(async move {
            standing.set(Some(ipc::standing(asked).await.map_err(|e| e.message)));
        });
    });
    let windows = LeaderboardWindow::ALL
        .into_iter()
        .map(|w| {
            let label = match w {
                LeaderboardWindow::Day => "Today",
                LeaderboardWindow::Week => "This week",
                LeaderboardWindow::Month => "This month",
                LeaderboardWindow::All => "All time",
            };
            view! {
                <button
                    type="button"
                    class="chip standing-window"
                    data-window=w.as_str()
                    class:on=move || window.get() == w
                    aria-pressed=move || (window.get() == w).to_string()
                    on:click=move |_| window.set(w)
                >
                    {label}
                </button>
            }
        })
        .collect_view();
    view! {
        <section id="standing" class="standing" aria-labelledby="standing-title">
            <h3 id="standing-title" class="task-title">"Leaderboard"</h3>
            <div class="standing-windows" role="group" aria-label="Time span">{windows}</div>
            {move || match standing.get() {
                None => view! { <p class="field-help">"Loading…"</p> }.into_any(),
                Some(Err(message)) => {
                    view! { <p class="field-help" id="standing-unavailable">{message}</p> }.into_any()
                }
                Some(Ok(s)) => standing_table(s).into_any(),
            }}
        </section>
    }
}

fn standing_table(s: Standing) -> impl IntoView {
    let me = s.stats.account_id;
    let mine = s
        .stats
        .windows
        .iter()
        .find(|(w, _)| *w == s.leaderboard.window)
        .map(|(_, e)| e.clone());
    let summary = match &mine {
        Some(e) if e.rank > 0 => format!(
            "You are #{} with {} points. Trust {:.0}%{}.",
            e.rank,
            points(e.score),
            s.stats.trust * 100.0,
            s.stats
                .agreement
                .map(|a| format!(", agreement with others {a:+.2}"))
                .unwrap_or_default()
        ),
        _ => "No points in this time span yet: tasks you send count here.".to_owned(),
    };
    let stale = s.stale_because.clone().map(|why| {
        let when = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(s.fetched_at_ms as f64))
            .to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED);
        view! {
            <p class="field-help standing-stale" role="note">
                {format!("Offline: as of {}. {why}", String::from(when))}
            </p>
        }
    });
    let rows = s
        .leaderboard
        .entries
        .into_iter()
        .map(|e| {
            view! {
                <tr class:me=e.account_id == me>
                    <td class="num">{e.rank}</td>
                    <td>{e.display_name}</td>
                    <td class="num">{points(e.score)}</td>
                    <td class="num">{e.prompts + e.replies}</td>
                    <td class="num">{e.labels}</td>
                    <td class="num">{e.rankings}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        {stale}
        <p class="field-help" id="my-standing">{summary}</p>
        <table class="standing-table">
            <thead>
                <tr>
                    <th class="num">"#"</th>
                    <th>"Name"</th>
                    <th class="num">"Points"</th>
                    <th class="num">"Written"</th>
                    <th class="num">"Labels"</th>
                    <th class="num">"Rankings"</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// A score as shown: whole points, with a decimal while they are few.
fn points(score: f64) -> String {
    if score < 10.0 {
        format!("{score:.1}")
    } else {
        format!("{score:.0}")
    }
}
