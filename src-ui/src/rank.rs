//! Ranking several answers to one prompt: pick them best first with a click (or Enter/Space on
//! the focused button), reorder the picked ones with ↑ / ↓, or say they cannot be ranked.
//!
//! Used by the compare page and by the ranking tasks of the Contribute page; the caller keeps the
//! order and decides what saving means.

use leptos::prelude::*;
use oa_types::{Message, Ranking, Uuid};

use crate::markdown;

/// The letter an answer goes by: A, B, C…
pub fn answer_letter(index: usize) -> char {
    char::from(b'A' + (index % 26) as u8)
}

/// Moves `id` one place towards the top (`up`) or the bottom of `order`.
pub fn shift(order: &mut [Uuid], id: Uuid, up: bool) {
    let Some(at) = order.iter().position(|x| *x == id) else {
        return;
    };
    let to = if up {
        at.checked_sub(1)
    } else {
        (at + 1 < order.len()).then_some(at + 1)
    };
    if let Some(to) = to {
        order.swap(at, to);
    }
}

/// The answers side by side, each with its place in the ranking or a button to give it the next
/// one.
#[component]
pub fn RankCards(
    /// The answers, oldest first.
    #[prop(into)]
    replies: Signal<Vec<Message>>,
    /// The ranking so far, best first.
    order: RwSignal<Vec<Uuid>>,
    /// Picking is off (e.g. while another answer is being written).
    #[prop(into, optional)]
    locked: Signal<bool>,
) -> impl IntoView {
    let cards = move || {
        replies
            .get()
            .into_iter()
            .enumerate()
            .map(|(index, reply)| {
                let id = reply.id;
                let letter = answer_letter(index);
                let place = move || order.with(|o| o.iter().position(|x| *x == id));
                let html = markdown::render(&reply.text);
                let pick = move |_| {
                    order.update(|o| {
                        if !o.contains(&id) {
                            o.push(id);
                        }
                    })
                };
                let unpick = move |_| order.update(|o| o.retain(|x| *x != id));
                view! {
                    <article
                        class="rank-card"
                        class:ranked=move || place().is_some()
                        data-id=id.to_string()
                        data-rank=move || place().map(|p| (p + 1).to_string())
                    >
                        <header class="rank-card-head">
                            <span class="answer-letter">{format!("Answer {letter}")}</span>
                            {move || {
                                place()
                                    .map(|p| {
                                        view! {
                                            <span class="rank-badge" title="Its place in your ranking">
                                                {format!("#{}", p + 1)}
                                            </span>
                                        }
                                    })
                            }}
                        </header>
                        <div class="rank-card-text markdown" inner_html=html></div>
                        <footer class="rank-card-foot">
                            <Show
                                when=move || place().is_some()
                                fallback=move || {
                                    view! {
                                        <button
                                            type="button"
                                            class="secondary rank-pick"
                                            disabled=move || locked.get()
                                            aria-label=move || {
                                                format!(
                                                    "Rank answer {letter} number {}",
                                                    order.with(Vec::len) + 1,
                                                )
                                            }
                                            on:click=pick
                                        >
                                            {move || format!("Rank #{}", order.with(Vec::len) + 1)}
                                        </button>
                                    }
                                }
                            >
                                <button
                                    type="button"
                                    class="link-button rank-remove"
                                    aria-label=format!("Take answer {letter} out of the ranking")
                                    on:click=unpick
                                >
                                    "Remove"
                                </button>
                            </Show>
                        </footer>
                    </article>
                }
            })
            .collect_view()
    };
    view! { <div class="rank-cards">{cards}</div> }
}

/// The ranking as a list, best first, with buttons to move an answer up or down.
#[component]
pub fn RankOrder(
    /// The answers, oldest first (for their letters).
    #[prop(into)]
    replies: Signal<Vec<Message>>,
    /// The ranking so far, best first.
    order: RwSignal<Vec<Uuid>>,
) -> impl IntoView {
    let letter_of = move |id: Uuid| {
        replies.with(|r| r.iter().position(|m| m.id == id).map_or('?', answer_letter))
    };
    let rows = move || {
        let ids = order.get();
        let last = ids.len().saturating_sub(1);
        ids.into_iter()
            .enumerate()
            .map(|(place, id)| {
                let letter = letter_of(id);
                view! {
                    <li class="rank-row" data-id=id.to_string()>
                        <span class="rank-row-name">{format!("Answer {letter}")}</span>
                        <button
                            type="button"
                            class="icon-button rank-up"
                            aria-label=format!("Move answer {letter} up")
                            disabled=place == 0
                            on:click=move |_| order.update(|o| shift(o, id, true))
                        >
                            "↑"
                        </button>
                        <button
                            type="button"
                            class="icon-button rank-down"
                            aria-label=format!("Move answer {letter} down")
                            disabled=place == last
                            on:click=move |_| order.update(|o| shift(o, id, false))
                        >
                            "↓"
                        </button>
                    </li>
                }
            })
            .collect_view()
    };
    view! {
        <ol class="rank-order" aria-label="Your ranking, best first">
            {rows}
        </ol>
    }
}

/// "Can't rank these" and "Save ranking"; saving needs every answer in the order.
#[component]
pub fn RankActions(
    /// The ranking so far, best first.
    order: RwSignal<Vec<Uuid>>,
    /// How many answers there are.
    #[prop(into)]
    answers: Signal<usize>,
    /// Both buttons are off (e.g. while an answer is being written).
    #[prop(into, optional)]
    locked: Signal<bool>,
    /// Keeps the ranking, or that the answers cannot be ranked.
    save: Callback<Ranking>,
) -> impl IntoView {
    let complete = move || answers.get() >= 2 && order.with(Vec::len) == answers.get();
    view! {
        <button
            type="button"
            class="secondary not-rankable"
            title="The answers are too alike, or all unusable"
            disabled=move || answers.get() < 2 || locked.get()
            on:click=move |_| save.run(Ranking::NotRankable)
        >
            "Can't rank these"
        </button>
        <button
            type="button"
            class="primary save-ranking"
            disabled=move || !complete() || locked.get()
            on:click=move |_| save.run(Ranking::Ranked(order.get_untracked()))
        >
            "Save ranking"
        </button>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u128) -> Vec<Uuid> {
        (1..=n).map(Uuid::from_u128).collect()
    }

    #[test]
    fn shifting_moves_one_place_and_stops_at_the_ends() {
        let mut order = ids(3);
        shift(&mut order, Uuid::from_u128(3), true);
        assert_eq!(order, [1, 3, 2].map(Uuid::from_u128));
        shift(&mut order, Uuid::from_u128(1), true);
        assert_eq!(order, [1, 3, 2].map(Uuid::from_u128));
        shift(&mut order, Uuid::from_u128(2), false);
        assert_eq!(order, [1, 3, 2].map(Uuid::from_u128));
        shift(&mut order, Uuid::from_u128(9), false);
        assert_eq!(order, [1, 3, 2].map(Uuid::from_u128));
    }

    #[test]
    fn answers_are_lettered_from_a() {
        assert_eq!(answer_letter(0), 'A');
        assert_eq!(answer_letter(3), 'D');
    }
}
