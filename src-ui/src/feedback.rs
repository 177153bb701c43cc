//! Improving an answer where it is read: thumbs with reasons and a comment, and "Correct this
//! answer", which keeps the model's reply and adds the person's beside it.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{LIKERT_STEPS, LabelScale, Labels, TextLabel, Thumbs, Uuid, Vote};

use crate::chat::focused_on_mount;
use crate::ipc;
use crate::state::{AppState, Panel};

/// Reasons offered with a thumbs down, as stored (`reasons`) and as shown.
pub const DOWN_REASONS: [(&str, &str); 6] = [
    ("wrong", "Wrong"),
    ("unhelpful", "Unhelpful"),
    ("unsafe", "Unsafe"),
    ("too_long", "Too long"),
    ("too_short", "Too short"),
    ("off_topic", "Off topic"),
];

/// Thumbs up and down for one reply, with the reasons form after a thumbs down.
#[component]
pub fn Thumbs(
    /// The reply, once stored.
    id: ArcRwSignal<Option<Uuid>>,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let vote = RwSignal::new(None::<Vote>);
    let asking = RwSignal::new(false);
    // What the person said before, also after a restart.
    Effect::new({
        let id = id.clone();
        move |_| {
            if let Some(message) = id.get() {
                spawn_local(async move {
                    if let Ok(feedback) = ipc::feedback(message).await {
                        vote.set(feedback.thumbs.map(|t| t.vote));
                    }
                });
            }
        }
    });
    let send = {
        let id = id.clone();
        move |thumbs: Thumbs| {
            let Some(message) = id.get_untracked() else {
                return;
            };
            spawn_local(async move {
                match ipc::rate(message, thumbs).await {
                    Ok(feedback) => {
                        vote.set(feedback.thumbs.map(|t| t.vote));
                        asking.set(false);
                    }
                    Err(e) => app.notice.set(Some(e.message)),
                }
            });
        }
    };
    let up = {
        let send = send.clone();
        move |_| {
            send(Thumbs {
                vote: Vote::Up,
                reasons: Vec::new(),
                comment: None,
            })
        }
    };
    view! {
        <span class="thumbs" role="group" aria-label="Rate this answer">
            <button
                type="button"
                class="icon-button thumb-up"
                class:on=move || vote.get() == Some(Vote::Up)
                aria-pressed=move || (vote.get() == Some(Vote::Up)).to_string()
                aria-label="Good answer"
                title="Good answer"
                on:click=up
            >
                <span class="thumb-icon" aria-hidden="true"></span>
            </button>
            <button
                type="button"
                class="icon-button thumb-down"
                class:on=move || vote.get() == Some(Vote::Down)
                aria-pressed=move || (vote.get() == Some(Vote::Down)).to_string()
                aria-label="Bad answer"
                title="Bad answer: say why"
                on:click=move |_| asking.update(|a| *a = !*a)
            >
                <span class="thumb-icon down" aria-hidden="true"></span>
            </button>
            <Show when=move || asking.get()>
                <DownReasons send=send.clone() close=move || asking.set(false) />
            </Show>
        </span>
    }
}

/// What was wrong: reasons to tick and a comment.
#[component]
fn DownReasons(
    send: impl Fn(Thumbs) + Clone + Send + Sync + 'static,
    close: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let chosen = RwSignal::new(Vec::<&'static str>::new());
    let comment = RwSignal::new(String::new());
    let submit = move |_| {
        let text = comment.get_untracked();
        send(Thumbs {
            vote: Vote::Down,
            reasons: chosen
                .get_untracked()
                .iter()
                .map(|r| (*r).to_owned())
                .collect(),
            comment: (!text.trim().is_empty()).then(|| text.trim().to_owned()),
        });
    };
    let on_keydown = {
        let close = close.clone();
        move |ev: KeyboardEvent| {
            if ev.key() == "Escape" {
                ev.prevent_default();
                ev.stop_propagation();
                close();
            }
        }
    };
    view! {
        <div class="reasons" role="dialog" aria-label="What was wrong?" on:keydown=on_keydown>
            <span class="reasons-title">"What was wrong?"</span>
            <div class="reason-chips">
                {DOWN_REASONS
                    .iter()
                    .map(|(key, label)| {
                        let key = *key;
                        let on = move || chosen.with(|c| c.contains(&key));
                        view! {
                            <button
                                type="button"
                                class="chip reason"
                                class:on=on
                                data-reason=key
                                aria-pressed=move || on().to_string()
                                on:click=move |_| {
                                    chosen.update(|c| {
                                        if let Some(i) = c.iter().position(|r| *r == key) {
                                            c.remove(i);
                                        } else {
                                            c.push(key);
                                        }
                                    })
                                }
                            >
                                {*label}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            <textarea
                class="reason-comment"
                rows="2"
                placeholder="Anything else? (optional)"
                prop:value=move || comment.get()
                on:input=move |ev| comment.set(event_target_value(&ev))
            ></textarea>
            <div class="edit-actions">
                <button type="button" class="secondary" on:click=move |_| close()>
                    "Cancel"
                </button>
                <button type="button" class="primary save-rating" on:click=submit>
                    "Send feedback"
                </button>
            </div>
        </div>
    }
}

/// Writing a better answer in place of the model's: both are kept, as versions.
#[component]
pub fn CorrectBox(
    /// The reply being corrected.
    corrected: Option<Uuid>,
    /// Its text, to start from.
    text: String,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let original = text.clone();
    let draft = RwSignal::new(text);
    let area = focused_on_mount();
    let save = move || {
        let (Some(corrected), Some(conversation)) = (corrected, app.active.get_untracked()) else {
            return;
        };
        let text = draft.get_untracked();
        spawn_local(async move {
            match ipc::correct_reply(conversation, corrected, text).await {
                Ok(path) => {
                    app.correcting.set(None);
                    app.show_path(&path);
                }
                Err(e) => app.notice.set(Some(e.message)),
            }
        });
    };
    let unchanged = move || draft.with(|d| d.trim().is_empty() || d.trim() == original.trim());
    view! {
        <div class="edit correct">
            <span class="edit-hint">"Write the answer you would have wanted. The model's stays as another version."</span>
            <textarea
                class="edit-box correct-box"
                aria-label="Your answer"
                rows="6"
                node_ref=area
                prop:value=move || draft.get()
                on:input=move |ev| draft.set(event_target_value(&ev))
                on:keydown=move |ev: KeyboardEvent| {
                    if ev.key() == "Escape" {
                        ev.prevent_default();
                        ev.stop_propagation();
                        app.correcting.set(None);
                    }
                }
            ></textarea>
            <div class="edit-actions">
                <button type="button" class="secondary" on:click=move |_| app.correcting.set(None)>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="primary save-correction"
                    disabled=unchanged
                    on:click=move |_| save()
                >
                    "Save my answer"
                </button>
            </div>
        </div>
    }
}

/// What each label asks, in a few words (Open-Assistant's guidelines).
pub fn label_help(label: TextLabel) -> (&'static str, &'static str) {
    match label {
        TextLabel::Spam => ("Spam", "Deliberately low-quality or off-topic"),
        TextLabel::FailsTask => ("Fails the task", "Does not do what was asked"),
        TextLabel::LangMismatch => ("Wrong language", "Not in the language of the prompt"),
        TextLabel::Pii => ("Personal data", "Holds information that identifies someone"),
        TextLabel::NotAppropriate => ("Not appropriate", "Unfit for an assistant to say"),
        TextLabel::HateSpeech => ("Hate speech", "Abuse or threats against a group"),
        TextLabel::SexualContent => ("Sexual content", "Contains sexual content"),
        TextLabel::MoralJudgement => ("Moral judgement", "Judges what is right or wrong"),
        TextLabel::PoliticalContent => ("Political", "Takes a political side"),
        TextLabel::Quality => ("Quality", "Low ↔ high"),
        TextLabel::Toxicity => ("Rudeness", "Polite ↔ rude"),
        TextLabel::Humor => ("Humour", "Serious ↔ funny"),
        TextLabel::Helpfulness => ("Helpfulness", "Unhelpful ↔ helpful"),
        TextLabel::Creativity => ("Creativity", "Ordinary ↔ creative"),
        TextLabel::Violence => ("Violence", "Harmless ↔ violent"),
    }
}

/// The labels of one message: yes/no questions, flags and five-step scales; only what the
/// person touched is saved.
#[component]
pub fn LabelsBody(
    /// The message labelled.
    message: Uuid,
) -> impl IntoView {
    let app = expect_context::<AppState>();
    let labels = RwSignal::new(Labels::default());
    let error = RwSignal::new(None::<String>);
    spawn_local(async move {
        if let Ok(feedback) = ipc::feedback(message).await
            && let Some(kept) = feedback.labels
        {
            labels.set(kept);
        }
    });
    let save = move |_| {
        let chosen = labels.get_untracked();
        spawn_local(async move {
            match ipc::set_labels(message, chosen).await {
                Ok(_) => app.panel.set(None),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <p class="field-help">
            "Labels describe the answer for the people who train models. Set only what applies."
        </p>
        <LabelPicker labels />
        {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
        <div class="panel-actions">
            <button
                id="save-labels"
                type="button"
                class="primary"
                disabled=move || labels.with(|l| l.0.is_empty())
                on:click=save
            >
                "Save labels"
            </button>
        </div>
    }
}

/// Open-Assistant's labels with their scales and short explanations; a click sets a value, a
/// second click on it clears it.
#[component]
pub fn LabelPicker(
    /// The labels chosen so far.
    labels: RwSignal<Labels>,
) -> impl IntoView {
    let value = move |label: TextLabel| labels.with(|l| l.0.get(&label).copied());
    let set = move |label: TextLabel, v: Option<f32>| {
        labels.update(|l| {
            match v {
                Some(v) => l.0.insert(label, v),
                None => l.0.remove(&label),
            };
        })
    };
    let rows = TextLabel::ALL
        .into_iter()
        .map(|label| {
            let (name, help) = label_help(label);
            let choices: Vec<(f32, &'static str)> = match label.scale() {
                LabelScale::YesNo => vec![(0.0, "No"), (1.0, "Yes")],
                LabelScale::Flag => vec![(1.0, "Flag")],
                LabelScale::Likert => LIKERT_STEPS
                    .iter()
                    .zip(["1", "2", "3", "4", "5"])
                    .map(|(v, n)| (*v, n))
                    .collect(),
            };
            let buttons = choices
                .into_iter()
                .map(|(v, text)| {
                    let on = move || value(label) == Some(v);
                    view! {
                        <button
                            type="button"
                            class="chip label-value"
                            class:on=on
                            data-value=v.to_string()
                            aria-pressed=move || on().to_string()
                            on:click=move |_| set(label, if on() { None } else { Some(v) })
                        >
                            {text}
                        </button>
                    }
                })
                .collect_view();
            view! {
                <div class="label-row" data-label=label.as_str()>
                    <span class="label-name">{name}<span class="label-help">{help}</span></span>
                    <span class="label-values">{buttons}</span>
                </div>
            }
        })
        .collect_view();
    view! { <div class="label-rows">{rows}</div> }
}

/// Opens the labels of a reply.
pub fn open_labels(app: AppState, message: Option<Uuid>) {
    if let Some(message) = message {
        app.panel.set(Some(Panel::Labels(message)));
    }
}
