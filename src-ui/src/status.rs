//! The model's state and the speed of replies.
//!
//! While the model loads or when it cannot be used, a banner at the top of the thread says so
//! (`#model-status`); once it is ready, the same element moves into the status line under the
//! composer, next to the speed of the last reply.

use leptos::prelude::*;
use oa_types::{ModelInfo, ModelStatus, Provenance};

use crate::state::AppState;

/// Timing of one reply, live while it streams or final once stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplyStats {
    /// Tokens generated so far.
    pub tokens: u32,
    /// Milliseconds from the request to the first token.
    pub first_token_ms: u64,
    /// Milliseconds from the request to the latest token.
    pub total_ms: u64,
    /// Whether the reply is still being generated.
    pub streaming: bool,
    /// Tokens of the context the reply used (its prompt and itself), once it is stored.
    pub context_tokens: Option<u32>,
    /// Old messages the model did not see because they no longer fit.
    pub dropped_messages: u32,
}

impl ReplyStats {
    /// The stored timing of a finished reply.
    pub fn from_provenance(provenance: &Provenance) -> Self {
        ReplyStats {
            tokens: provenance.completion_tokens,
            first_token_ms: provenance.time_to_first_token_ms,
            total_ms: provenance.total_ms,
            streaming: false,
            context_tokens: Some(provenance.prompt_tokens + provenance.completion_tokens),
            dropped_messages: provenance.dropped_messages,
        }
    }

    /// Generation speed. The first token's wait is prompt processing, shown apart as "first
    /// token", so the rate counts the tokens after it over the time after it.
    pub fn tokens_per_second(&self) -> Option<f64> {
        let decode_ms = self.total_ms.saturating_sub(self.first_token_ms);
        if self.tokens > 1 && decode_ms > 0 {
            Some(f64::from(self.tokens - 1) * 1000.0 / decode_ms as f64)
        } else if self.tokens > 0 && self.total_ms > 0 {
            Some(f64::from(self.tokens) * 1000.0 / self.total_ms as f64)
        } else {
            None
        }
    }

    /// One line for the status bar, e.g. `Last reply 41.3 tok/s · first token 180 ms`.
    pub fn summary(&self) -> String {
        let lead = if self.streaming {
            "Generating"
        } else {
            "Last reply"
        };
        let rate = match self.tokens_per_second() {
            Some(rate) => format!("{rate:.1} tok/s"),
            None => "— tok/s".to_owned(),
        };
        format!(
            "{lead} {rate} · first token {}",
            format_duration(self.first_token_ms)
        )
    }
}

/// `8,192` style thousands.
pub fn group(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `180 ms` below a second, `1.4 s` above.
pub fn format_duration(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// The model as the status line names it, e.g. `SmolLM2-135M-Instruct · Q4_1`.
pub fn model_label(info: &ModelInfo) -> String {
    if info.quantization.is_empty() {
        info.id.clone()
    } else {
        format!("{} · {}", info.id, info.quantization)
    }
}

/// The model's name for the top bar, or what is happening to it.
pub fn short_model_name(state: AppState) -> String {
    state.model.with(|model| match model {
        Some(ModelStatus::Ready { info }) => info.id.clone(),
        Some(ModelStatus::Loading { .. }) | None => "Loading model…".to_owned(),
        Some(ModelStatus::Unavailable { .. }) => "Choose a model".to_owned(),
    })
}

/// Details shown when hovering the model's name.
fn model_details(info: &ModelInfo) -> String {
    let mut details = format!(
        "{} ({}, {} context tokens)\n{}",
        info.id, info.architecture, info.context_length, info.path
    );
    if info.chat_template_fallback {
        details.push_str("\nNo chat template in the file: using ChatML.");
    }
    details
}

/// The banner at the top of the thread while the model is not ready.
#[component]
pub fn ModelBanner() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.model.with(|model| match model {
            Some(ModelStatus::Ready { .. }) => None,
            None => Some(
                view! {
                    <div id="model-status" class="model-banner" data-state="loading" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        <span class="banner-text">"Connecting to the app…"</span>
                    </div>
                }
                .into_any(),
            ),
            Some(ModelStatus::Loading { path }) => Some(
                view! {
                    <div id="model-status" class="model-banner" data-state="loading" role="status">
                        <span class="spinner" aria-hidden="true"></span>
                        <span class="banner-text">
                            <strong>"Loading the model…"</strong>
                            <span class="banner-detail">{path.clone()}</span>
                        </span>
                    </div>
                }
                .into_any(),
            ),
            Some(ModelStatus::Unavailable { error }) => Some(
                view! {
                    <div id="model-status" class="model-banner" data-state="unavailable" role="alert">
                        <span class="banner-icon" aria-hidden="true"></span>
                        <span class="banner-text">
                            <strong>"The model is not available"</strong>
                            <span class="banner-detail">{error.message.clone()}</span>
                        </span>
                        <button
                            id="choose-model"
                            type="button"
                            class="secondary banner-action"
                            on:click=move |_| state.panel.set(Some(crate::state::Panel::Models))
                        >
                            "Choose a model"
                        </button>
                    </div>
                }
                .into_any(),
            ),
        })
    }
}

/// The line under the composer: the model in use and the speed of the last reply.
#[component]
pub fn StatusLine() -> impl IntoView {
    let state = expect_context::<AppState>();
    let model = move || {
        state.model.with(|model| match model {
            Some(ModelStatus::Ready { info }) => view! {
                <span
                    id="model-status"
                    class="model-chip"
                    data-state="ready"
                    title=model_details(info)
                >
                    <span class="dot" aria-hidden="true"></span>
                    {model_label(info)}
                </span>
            }
            .into_any(),
            _ => view! { <span class="model-chip muted">"Local model"</span> }.into_any(),
        })
    };
    let stats = move || state.stats.get().map(|stats| stats.summary());
    let context = move || {
        let used = state.stats.get()?.context_tokens?;
        let available = state.model.with(|m| match m {
            Some(ModelStatus::Ready { info }) => Some(info.context_length),
            _ => None,
        })?;
        let share = f64::from(used) / f64::from(available.max(1));
        let high = share > 0.8;
        Some(view! {
            <span
                id="context-use"
                class="context-use"
                class:high=high
                title="Tokens of the model's context the last reply used"
            >
                <span class="meter" aria-hidden="true">
                    <span class="meter-fill" style:width=format!("{:.0}%", (share * 100.0).min(100.0))></span>
                </span>
                {format!("{} / {} tokens", group(used), group(available))}
            </span>
        })
    };
    let dropped = move || {
        let dropped = state.stats.get()?.dropped_messages;
        (dropped > 0).then(|| {
            let text = if dropped == 1 {
                "The oldest message no longer fits the model's context: the last reply did not see it.".to_owned()
            } else {
                format!("The {dropped} oldest messages no longer fit the model's context: the last reply did not see them.")
            };
            view! { <p id="context-notice" class="context-notice" role="status">{text}</p> }
        })
    };
    view! {
        {dropped}
        <footer class="statusline">
            {model}
            <span id="reply-stats" class="reply-stats">{stats}</span>
            {context}
        </footer>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(tokens: u32, first_token_ms: u64, total_ms: u64) -> ReplyStats {
        ReplyStats {
            tokens,
            first_token_ms,
            total_ms,
            streaming: false,
            context_tokens: None,
            dropped_messages: 0,
        }
    }

    #[test]
    fn rate_counts_tokens_after_the_first() {
        // 11 tokens: the first at 200 ms, ten more in the next second.
        let rate = stats(11, 200, 1200).tokens_per_second().unwrap();
        assert!((rate - 10.0).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn a_single_token_reply_uses_the_whole_time() {
        let rate = stats(1, 250, 250).tokens_per_second().unwrap();
        assert!((rate - 4.0).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn no_tokens_means_no_rate() {
        assert_eq!(stats(0, 0, 0).tokens_per_second(), None);
        assert_eq!(
            stats(0, 0, 0).summary(),
            "Last reply — tok/s · first token 0 ms"
        );
    }

    #[test]
    fn summary_names_the_phase_and_both_numbers() {
        assert_eq!(
            stats(11, 200, 1200).summary(),
            "Last reply 10.0 tok/s · first token 200 ms"
        );
        let live = ReplyStats {
            streaming: true,
            ..stats(3, 1500, 1600)
        };
        assert_eq!(live.summary(), "Generating 20.0 tok/s · first token 1.5 s");
    }

    #[test]
    fn token_counts_are_grouped_by_thousands() {
        assert_eq!(group(7), "7");
        assert_eq!(group(8192), "8,192");
        assert_eq!(group(131_072), "131,072");
        assert_eq!(group(1_000_000), "1,000,000");
    }

    #[test]
    fn durations_switch_to_seconds_at_one_second() {
        assert_eq!(format_duration(999), "999 ms");
        assert_eq!(format_duration(1000), "1.0 s");
        assert_eq!(format_duration(12_345), "12.3 s");
    }
}
