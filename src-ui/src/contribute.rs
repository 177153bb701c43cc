//! The Contribute page: a queue of small tasks made from the person's own history, done one at a
//! time, fully offline: rank your regenerations, write a better answer for a thumbs-down, label
//! answers you rated, continue a conversation as the user, start a new one.
//!
//! Answers are kept on this computer like everything else; Review & Share decides what leaves.

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{
    Labels, LocalTask, Message, Ranking, Role, TaskAnswer, TaskKind, TaskQueue, Uuid, Vote,
};

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

/// The Contribute page.
#[component]
pub fn ContributePage() -> impl IntoView {
    let app = expect_context::<AppState>();
    let queue = RwSignal::new(None::<TaskQueue>);
    let error = RwSignal::new(None::<String>);
    let thanks = RwSignal::new(false);
    spawn_local(async move {
        match ipc::task_queue().await {
            Ok(loaded) => queue.set(Some(loaded)),
            Err(e) => error.set(Some(e.message)),
        }
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
    let submit = Callback::new(move |answer: TaskAnswer| {
        spawn_local(async move { finish(ipc::complete_task(&answer).await, true) });
    });
    let skip = Callback::new(move |key: String| {
        spawn_local(async move { finish(ipc::skip_task(&key).await, false) });
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
                        let can_skip = task.kind != TaskKind::InitialPrompt;
                        view! { <TaskCard task submit skip can_skip /> }
                    })
            }}
        </section>
    }
}

/// One task: what led to it, and the form that answers it.
#[component]
fn TaskCard(
    task: LocalTask,
    submit: Callback<TaskAnswer>,
    skip: Callback<String>,
    can_skip: bool,
) -> impl IntoView {
    let (title, help) = task_heading(task.kind);
    let key = task.key.clone();
    let subject = task.context.last().map(|m| m.id);
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
                {(!task.title.is_empty() && show_context)
                    .then(|| view! { <p class="task-from">{format!("From “{}”", task.title)}</p> })}
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
    let id = reply.as_ref().map(|r| r.id);
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
