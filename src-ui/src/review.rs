//! Review & Share: everything recorded for sharing, grouped by conversation, each item with the
//! exact JSON that would be sent, personal data found in it marked and listed by kind, and
//! one-click redaction. A false alarm is one click too: "Not personal" dismisses a finding
//! wherever its text recurs, and the dismissed ones stay listed, each with "Undo".
//!
//! Everything starts private. Sharing queues an item for the sync client; unsharing takes a queued
//! item back. Sent items show the server's answer: accepted, or rejected with its reason.

use std::collections::HashSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use oa_types::{
    AppError, ConsentState, ContributionKind, PayloadFinding, ReviewGroup, ReviewItem, Uuid,
};
use wasm_bindgen::JsCast;

use crate::ipc;
use crate::panels::capitalise;

/// How an item's state is shown.
pub fn state_label(state: ConsentState) -> &'static str {
    match state {
        ConsentState::Private => "Private",
        ConsentState::Queued => "Queued to share",
        ConsentState::Sent => "Sent",
        ConsentState::Accepted => "Accepted",
        ConsentState::Rejected => "Rejected",
    }
}

/// What an item is, for a person: "Your prompt", "Model reply", "Rating"…
pub fn item_label(item: &ReviewItem) -> &'static str {
    let role = serde_json::from_str::<serde_json::Value>(&item.event.payload)
        .ok()
        .and_then(|v| v.get("role").and_then(|r| r.as_str()).map(str::to_owned));
    match item.event.kind {
        ContributionKind::Message if role.as_deref() == Some("prompter") => "Your prompt",
        ContributionKind::Message => "Model reply",
        ContributionKind::Correction => "Your better answer",
        ContributionKind::Rating => "Rating",
        ContributionKind::Labels => "Labels",
        ContributionKind::Ranking => "Ranking",
        ContributionKind::Reaction => "Reaction",
        ContributionKind::Retraction => "Withdrawal",
    }
}

/// A line of the item's content: the message's text, or what the feedback says.
pub fn item_summary(item: &ReviewItem) -> String {
    let value = serde_json::from_str::<serde_json::Value>(&item.event.payload).ok();
    let Some(value) = value else {
        return String::new();
    };
    let text = value
        .get("text")
        .and_then(|t| t.as_str())
        .map(str::to_owned)
        .or_else(|| {
            let thumbs = value.get("thumbs")?;
            let vote = thumbs.get("vote")?.as_str()?;
            Some(if vote == "+1" { "👍" } else { "👎" }.to_owned())
        })
        .or_else(|| {
            let labels = value.get("labels")?.as_object()?;
            Some(labels.keys().cloned().collect::<Vec<_>>().join(", "))
        })
        .or_else(|| {
            let ranking = value.get("ranking")?;
            Some(match ranking.get("type").and_then(|t| t.as_str()) {
                Some("not_rankable") => "Not rankable".to_owned(),
                _ => format!(
                    "{} answers ranked",
                    ranking
                        .get("ranking")
                        .and_then(|r| r.as_array())
                        .map_or(0, Vec::len)
                ),
            })
        })
        .unwrap_or_default();
    let mut line: String = text.chars().take(140).collect();
    if text.chars().count() > 140 {
        line.push('…');
    }
    line
}

/// Findings of one kind, as an item lists them.
#[derive(Debug, PartialEq, Eq)]
pub struct KindGroup<'a> {
    /// The kind's wire name (`name`, `address`, …).
    pub kind: &'a str,
    /// The kind as a person reads it ("A person's name").
    pub label: String,
    /// Each text found, once, in payload order.
    pub texts: Vec<&'a str>,
}

/// Findings grouped by kind, in the order each kind first appears, each text once: a text
/// found twice is dismissed with one click.
pub fn by_kind(findings: &[PayloadFinding]) -> Vec<KindGroup<'_>> {
    let mut groups: Vec<KindGroup<'_>> = Vec::new();
    for f in findings {
        let at = match groups.iter().position(|g| g.kind == f.kind) {
            Some(at) => at,
            None => {
                groups.push(KindGroup {
                    kind: &f.kind,
                    label: capitalise(&f.description),
                    texts: Vec::new(),
                });
                groups.len() - 1
            }
        };
        if !groups[at].texts.contains(&f.text.as_str()) {
            groups[at].texts.push(&f.text);
        }
    }
    groups
}

/// "A person's name (1) · Street address (2)".
pub fn kinds_line(groups: &[KindGroup<'_>]) -> String {
    groups
        .iter()
        .map(|g| format!("{} ({})", g.label, g.texts.len()))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The payload cut into plain text and marked findings, in order.
pub fn segments<'a>(
    payload: &'a str,
    findings: &[PayloadFinding],
) -> Vec<(&'a str, Option<usize>)> {
    let mut order: Vec<usize> = (0..findings.len()).collect();
    order.sort_by_key(|&i| findings[i].start);
    let mut out = Vec::new();
    let mut at = 0;
    for i in order {
        let f = &findings[i];
        let (Some(before), Some(marked)) = (payload.get(at..f.start), payload.get(f.start..f.end))
        else {
            continue; // Overlapping or off a character boundary: leave it unmarked.
        };
        if !before.is_empty() {
            out.push((before, None));
        }
        out.push((marked, Some(i)));
        at = f.end;
    }
    if let Some(rest) = payload.get(at..)
        && !rest.is_empty()
    {
        out.push((rest, None));
    }
    out
}

/// The Review & Share page.
#[component]
pub fn ReviewPage() -> impl IntoView {
    let groups = RwSignal::new(None::<Vec<ReviewGroup>>);
    let error = RwSignal::new(None::<String>);
    let apply = move |result: Result<Vec<ReviewGroup>, AppError>| match result {
        Ok(next) => {
            groups.set(Some(next));
            error.set(None);
        }
        Err(e) => error.set(Some(e.message)),
    };
    spawn_local(async move { apply(ipc::review_queue().await) });
    // Items whose dismissed findings are listed; kept here because every change redraws them.
    let shown = RwSignal::new(HashSet::<Uuid>::new());
    let act = Callback::new(move |action: Action| {
        spawn_local(async move {
            let focus = focus_after(&action);
            let result = match action {
                Action::Share(id) => ipc::share_event(id).await,
                Action::Unshare(id) => ipc::unshare_event(id).await,
                Action::Redact(id) => ipc::redact_event(id).await,
                Action::ShareAll(id) => ipc::share_conversation(id).await,
                Action::UnshareAll(id) => ipc::unshare_conversation(id).await,
                Action::Withdraw(id) => ipc::withdraw_event(id).await,
                Action::WithdrawAll(id) => ipc::withdraw_conversation(id).await,
                Action::Dismiss(f) => ipc::dismiss_finding(f.kind, f.text).await,
                Action::Restore(f) => ipc::restore_finding(f.kind, f.text).await,
            };
            apply(result);
            if !focus.is_empty() {
                request_animation_frame(move || focus_first(&focus));
            }
        });
    });
    let count = move |state: ConsentState| {
        groups.with(|g| {
            g.iter()
                .flatten()
                .flat_map(|g| &g.items)
                .filter(|i| i.event.state == state)
                .count()
        })
    };
    let empty = move || groups.with(|g| g.as_ref().is_some_and(Vec::is_empty));
    view! {
        <section id="review-page" class="page review-page" aria-labelledby="review-title">
            <header class="page-head">
                <h2 id="review-title" class="page-title">"Review & Share"</h2>
                <p class="page-help">
                    "Nothing leaves this computer until you share it. Each item shows exactly what would be sent; personal data found in it is marked, and Redact replaces it before it goes."
                </p>
            </header>
            <div class="review-summary" id="review-summary">
                <span class="summary-count" data-state="private">
                    {move || format!("{} private", count(ConsentState::Private))}
                </span>
                <span class="summary-count" data-state="queued">
                    {move || format!("{} queued", count(ConsentState::Queued))}
                </span>
                <span class="summary-count" data-state="sent">
                    {move || {
                        format!(
                            "{} sent",
                            count(ConsentState::Sent) + count(ConsentState::Accepted),
                        )
                    }}
                </span>
                <span class="summary-count" data-state="rejected">
                    {move || format!("{} rejected", count(ConsentState::Rejected))}
                </span>
            </div>
            {move || error.get().map(|e| view! { <p class="field-error" role="alert">{e}</p> })}
            <Show when=empty>
                <p class="page-empty">
                    "Nothing to review yet. Your chats, ratings, labels and rankings will appear here."
                </p>
            </Show>
            <For
                each=move || groups.get().unwrap_or_default()
                key=|g| (g.conversation_id, format!("{:?}", g.items))
                children=move |group| view! { <Group group shown act /> }
            />
        </section>
    }
}

/// What a button on the page asks for.
#[derive(Debug, Clone)]
enum Action {
    Share(Uuid),
    Unshare(Uuid),
    Redact(Uuid),
    ShareAll(Uuid),
    UnshareAll(Uuid),
    Withdraw(Uuid),
    WithdrawAll(Uuid),
    /// A finding is not personal data.
    Dismiss(FindingRef),
    /// Take a dismissal back.
    Restore(FindingRef),
}

/// A finding in an item, by what a dismissal is remembered for: its kind and its text.
#[derive(Debug, Clone)]
struct FindingRef {
    item: Uuid,
    kind: String,
    text: String,
}

/// Where the keyboard focus goes once the page shows what `action` did, first match first: a
/// dismissal or an undo redraws the item, and the focus stays in it instead of falling back
/// to the top of the page.
fn focus_after(action: &Action) -> Vec<String> {
    let (item, after) = match action {
        Action::Dismiss(f) => (f.item, [".not-personal", ".toggle-dismissed"]),
        Action::Restore(f) => (f.item, [".restore-finding", ".not-personal"]),
        _ => return Vec::new(),
    };
    after
        .iter()
        .map(|button| format!(".review-item[data-id='{item}'] {button}"))
        .collect()
}

/// Focuses the first element that matches one of `selectors`.
fn focus_first(selectors: &[String]) {
    let found = selectors
        .iter()
        .find_map(|css| document().query_selector(css).ok().flatten());
    if let Some(element) = found.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = element.focus();
    }
}

#[component]
fn Group(
    group: ReviewGroup,
    shown: RwSignal<HashSet<Uuid>>,
    act: Callback<Action>,
) -> impl IntoView {
    let id = group.conversation_id;
    let any = |state: ConsentState| group.items.iter().any(|i| i.event.state == state);
    let (any_private, any_queued) = (any(ConsentState::Private), any(ConsentState::Queued));
    let any_held = group
        .items
        .iter()
        .any(|i| i.event.state.reached_server() && i.event.kind != ContributionKind::Retraction);
    let flagged = group
        .items
        .iter()
        .filter(|i| !i.findings.is_empty())
        .count();
    let items = group
        .items
        .into_iter()
        .map(|item| view! { <Item item shown act /> })
        .collect_view();
    view! {
        <section class="review-group" data-conversation=id.to_string()>
            <header class="review-group-head">
                <h3 class="review-group-title">{group.title}</h3>
                {(flagged > 0)
                    .then(|| {
                        view! {
                            <span class="tag pii-tag">
                                {if flagged == 1 {
                                    "1 item with personal data".to_owned()
                                } else {
                                    format!("{flagged} items with personal data")
                                }}
                            </span>
                        }
                    })}
                {any_held
                    .then(|| {
                        view! {
                            <button
                                type="button"
                                class="secondary withdraw-conversation"
                                title="Ask the dataset to remove what it holds of this conversation"
                                on:click=move |_| act.run(Action::WithdrawAll(id))
                            >
                                "Withdraw all"
                            </button>
                        }
                    })}
                <button
                    type="button"
                    class="secondary unshare-conversation"
                    disabled=!any_queued
                    on:click=move |_| act.run(Action::UnshareAll(id))
                >
                    "Unshare all"
                </button>
                <button
                    type="button"
                    class="primary share-conversation"
                    disabled=!any_private
                    on:click=move |_| act.run(Action::ShareAll(id))
                >
                    "Share conversation"
                </button>
            </header>
            <ul class="review-items">{items}</ul>
        </section>
    }
}

#[component]
fn Item(item: ReviewItem, shown: RwSignal<HashSet<Uuid>>, act: Callback<Action>) -> impl IntoView {
    let id = item.event.id;
    let state = item.event.state;
    let has_findings = !item.findings.is_empty();
    let open = RwSignal::new(has_findings);
    let label = item_label(&item);
    let summary = item_summary(&item);
    // The server holds no copy of these, so what is sent can still change.
    let changeable = matches!(
        state,
        ConsentState::Private | ConsentState::Queued | ConsentState::Rejected
    );
    let found = has_findings.then(|| findings_view(id, &item.findings, act));
    let dismissed =
        (!item.dismissed.is_empty()).then(|| dismissed_view(id, &item.dismissed, shown, act));
    let payload = item.payload_json.clone();
    let findings = item.findings.clone();
    let pre = move || {
        segments(&payload, &findings)
            .into_iter()
            .map(|(text, finding)| match finding {
                Some(i) => {
                    let f = &findings[i];
                    view! {
                        <mark class="pii" data-kind=f.kind.clone() title=f.description.clone()>
                            {text.to_owned()}
                        </mark>
                    }
                    .into_any()
                }
                None => text.to_owned().into_any(),
            })
            .collect_view()
    };
    view! {
        <li
            class="review-item"
            class:flagged=has_findings
            data-id=id.to_string()
            data-kind=item.event.kind.as_str()
            data-state=state.as_str()
            data-redacted=item.event.redacted.then_some("true")
        >
            <div class="review-item-head">
                <span class="item-kind">{label}</span>
                <span class=format!("item-state state-{}", state.as_str())>{state_label(state)}</span>
                {item.event.redacted.then(|| view! { <span class="tag redacted-tag">"Redacted"</span> })}
                <span class="spacer"></span>
                {(has_findings && changeable)
                    .then(|| item_button("secondary redact", "Redact", Action::Redact(id), act))}
                {(state == ConsentState::Private)
                    .then(|| item_button("primary share-item", "Share", Action::Share(id), act))}
                {(state == ConsentState::Queued)
                    .then(|| {
                        item_button("secondary unshare-item", "Unshare", Action::Unshare(id), act)
                    })}
                {(state == ConsentState::Rejected)
                    .then(|| {
                        view! {
                            {item_button("secondary keep-item", "Keep private", Action::Unshare(id), act)}
                            {item_button("primary resend-item", "Send again", Action::Share(id), act)}
                        }
                    })}
                {(state.reached_server() && item.event.kind != ContributionKind::Retraction)
                    .then(|| {
                        item_button("secondary withdraw-item", "Withdraw", Action::Withdraw(id), act)
                    })}
            </div>
            {(!summary.is_empty()).then(|| view! { <p class="item-summary">{summary}</p> })}
            {found}
            {dismissed}
            {item
                .event
                .rejection_reason
                .clone()
                .map(|reason| {
                    view! {
                        <p class="item-rejection">
                            {format!(
                                "The server refused it: {reason}. You can change it and send it again, or keep it private."
                            )}
                        </p>
                    }
                })}
            <button
                type="button"
                class="link-button toggle-payload"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {move || if open.get() { "Hide what is sent" } else { "Show what is sent" }}
            </button>
            <Show when=move || open.get()>
                <pre class="payload">{pre.clone()}</pre>
            </Show>
        </li>
    }
}

/// A button on an item that asks for `action`.
fn item_button(
    class: &'static str,
    label: &'static str,
    action: Action,
    act: Callback<Action>,
) -> impl IntoView {
    view! {
        <button type="button" class=class on:click=move |_| act.run(action.clone())>
            {label}
        </button>
    }
}

/// An item's findings by kind, each text with "Not personal".
fn findings_view(
    item: Uuid,
    findings: &[PayloadFinding],
    act: Callback<Action>,
) -> impl IntoView + use<> {
    let groups = by_kind(findings);
    let line = format!("Personal data found: {}", kinds_line(&groups));
    let rows = groups
        .into_iter()
        .map(|group| {
            let kind = group.kind.to_owned();
            let texts = group
                .texts
                .into_iter()
                .map(|text| {
                    let finding = FindingRef {
                        item,
                        kind: kind.clone(),
                        text: text.to_owned(),
                    };
                    finding_row(finding, None, act)
                })
                .collect_view();
            view! {
                <li class="finding-group" data-kind=kind.clone()>
                    <span class="finding-kind">{group.label}</span>
                    <ul class="finding-texts">{texts}</ul>
                </li>
            }
        })
        .collect_view();
    view! {
        <div class="item-findings" role="group" aria-label="Personal data found">
            <p class="findings-line">{line}</p>
            <ul class="finding-groups">{rows}</ul>
        </div>
    }
}

/// One finding's text with its button: "Not personal" where it is marked, "Undo" where it was
/// dismissed (`kind_label` given: the list of dismissed findings names each one's kind).
fn finding_row(
    finding: FindingRef,
    kind_label: Option<String>,
    act: Callback<Action>,
) -> impl IntoView {
    let dismissed = kind_label.is_some();
    let (row, button, caption, title, aria_label) = if dismissed {
        (
            "dismissed-finding",
            "link-button restore-finding",
            "Undo",
            "Mark this text as personal data again",
            format!("Undo: mark {} as personal data again", finding.text),
        )
    } else {
        (
            "finding",
            "link-button not-personal",
            "Not personal",
            "Not personal data: stop marking this text, here and wherever it recurs",
            format!("Not personal: {}", finding.text),
        )
    };
    let (kind, text) = (finding.kind.clone(), finding.text.clone());
    let action = if dismissed {
        Action::Restore(finding)
    } else {
        Action::Dismiss(finding)
    };
    view! {
        <li class=row data-kind=kind>
            {kind_label.map(|label| view! { <span class="finding-kind">{label}</span> })}
            <span class="finding-text">{text}</span>
            <button
                type="button"
                class=button
                title=title
                aria-label=aria_label
                on:click=move |_| act.run(action.clone())
            >
                {caption}
            </button>
        </li>
    }
}

/// What the person dismissed in an item, behind a toggle, each with "Undo".
fn dismissed_view(
    item: Uuid,
    dismissed: &[PayloadFinding],
    shown: RwSignal<HashSet<Uuid>>,
    act: Callback<Action>,
) -> impl IntoView + use<> {
    let open = move || shown.with(|s| s.contains(&item));
    let count = by_kind(dismissed)
        .iter()
        .map(|g| g.texts.len())
        .sum::<usize>();
    let list_id = format!("dismissed-{item}");
    let rows = by_kind(dismissed)
        .into_iter()
        .flat_map(|group| {
            let (kind, label) = (group.kind.to_owned(), group.label);
            group.texts.into_iter().map(move |text| {
                let finding = FindingRef {
                    item,
                    kind: kind.clone(),
                    text: text.to_owned(),
                };
                finding_row(finding, Some(label.clone()), act)
            })
        })
        .collect_view();
    view! {
        <div class="item-dismissed">
            <button
                type="button"
                class="link-button toggle-dismissed"
                aria-expanded=move || open().to_string()
                aria-controls=list_id.clone()
                on:click=move |_| {
                    shown
                        .update(|s| {
                            if !s.remove(&item) {
                                s.insert(item);
                            }
                        })
                }
            >
                {move || {
                    format!("Dismissed as not personal: {count} — {}", if open() { "hide" } else { "show" })
                }}
            </button>
            <ul class="dismissed-list" id=list_id hidden=move || !open()>
                {rows}
            </ul>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(start: usize, end: usize) -> PayloadFinding {
        PayloadFinding {
            kind: "email".into(),
            description: "e-mail address".into(),
            start,
            end,
            text: String::new(),
        }
    }

    #[test]
    fn findings_are_cut_out_in_order_and_the_rest_is_kept() {
        let payload = "mail a@b.co or c@d.co now";
        let parts = segments(payload, &[finding(15, 21), finding(5, 11)]);
        let text: Vec<&str> = parts.iter().map(|(t, _)| *t).collect();
        assert_eq!(text, ["mail ", "a@b.co", " or ", "c@d.co", " now"]);
        assert_eq!(parts[1].1, Some(1));
        assert_eq!(parts[3].1, Some(0));
        assert_eq!(text.concat(), payload);
    }

    #[test]
    fn findings_are_listed_by_kind_each_text_once() {
        let found = |kind: &str, description: &str, text: &str| PayloadFinding {
            kind: kind.into(),
            description: description.into(),
            start: 0,
            end: 0,
            text: text.into(),
        };
        let findings = [
            found("address", "street address", "Keizersgracht 123"),
            found("name", "a person's name", "Sanne de Vries"),
            found("address", "street address", "Coolsingel 154"),
            found("name", "a person's name", "Sanne de Vries"),
        ];
        let groups = by_kind(&findings);
        assert_eq!(
            groups,
            [
                KindGroup {
                    kind: "address",
                    label: "Street address".into(),
                    texts: vec!["Keizersgracht 123", "Coolsingel 154"],
                },
                KindGroup {
                    kind: "name",
                    label: "A person's name".into(),
                    texts: vec!["Sanne de Vries"],
                },
            ]
        );
        assert_eq!(
            kinds_line(&groups),
            "Street address (2) · A person's name (1)"
        );
    }

    #[test]
    fn a_finding_off_a_character_boundary_is_left_unmarked() {
        let payload = "é@x.io";
        let parts = segments(payload, &[finding(1, 6)]);
        assert_eq!(parts, [("é@x.io", None)]);
    }
}
