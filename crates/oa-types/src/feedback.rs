//! Feedback on messages in Open-Assistant's vocabulary: votes, labels, rankings and emoji.
//!
//! The names on the wire are exactly Open-Assistant's (`spam`, `fails_task`, `+1`,
//! `_skip_reply`, …) so that contributions can be sent to the dataset server without
//! translation. Validation lives here, next to the vocabulary, so that the UI can refuse a bad
//! value before it reaches the store, and the store refuses it again with the same error.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest free-text comment or reason accepted, in characters.
pub const MAX_FEEDBACK_TEXT_CHARS: usize = 2000;

/// A thumbs vote: Open-Assistant's `+1` / `-1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Vote {
    /// Thumbs up (`+1`).
    #[serde(rename = "+1")]
    Up,
    /// Thumbs down (`-1`).
    #[serde(rename = "-1")]
    Down,
}

/// A thumbs vote with the reasons and comment the person optionally gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Thumbs {
    /// Up or down.
    pub vote: Vote,
    /// Short reasons picked or typed by the person (each non-blank, no duplicates).
    #[serde(default)]
    pub reasons: Vec<String>,
    /// A free-text comment.
    #[serde(default)]
    pub comment: Option<String>,
}

impl Thumbs {
    /// Checks reasons and comment: blank or over-long text, and repeated reasons, are refused.
    pub fn validate(&self) -> Result<(), FeedbackError> {
        let mut seen = BTreeSet::new();
        for reason in &self.reasons {
            check_text("reason", reason)?;
            if !seen.insert(reason.trim()) {
                return Err(FeedbackError::DuplicateReason(reason.trim().to_owned()));
            }
        }
        if let Some(comment) = &self.comment {
            check_text("comment", comment)?;
        }
        Ok(())
    }
}

fn check_text(what: &'static str, text: &str) -> Result<(), FeedbackError> {
    if text.trim().is_empty() {
        return Err(FeedbackError::BlankText(what));
    }
    if text.chars().count() > MAX_FEEDBACK_TEXT_CHARS {
        return Err(FeedbackError::TextTooLong {
            what,
            max_chars: MAX_FEEDBACK_TEXT_CHARS,
        });
    }
    Ok(())
}

/// How a label's value is read, following Open-Assistant's labelling tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelScale {
    /// A yes/no question: `0` (no) or `1` (yes).
    YesNo,
    /// A flag that is either raised (`1`) or not (`0`).
    Flag,
    /// A five-step Likert scale: `0`, `0.25`, `0.5`, `0.75` or `1`.
    Likert,
}

/// A text label with Open-Assistant's name for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextLabel {
    /// Is the message spam? (yes/no)
    Spam,
    /// Does the reply fail the task it was given? (yes/no)
    FailsTask,
    /// Written in a language other than the conversation's. (flag)
    LangMismatch,
    /// Contains personally identifiable information. (flag)
    Pii,
    /// Inappropriate for a customer assistant. (flag)
    NotAppropriate,
    /// Hate speech. (flag)
    HateSpeech,
    /// Sexual content. (flag)
    SexualContent,
    /// Passes moral judgement on the person. (flag)
    MoralJudgement,
    /// Expresses political views. (flag)
    PoliticalContent,
    /// Overall quality. (Likert)
    Quality,
    /// How rude or harmful. (Likert)
    Toxicity,
    /// How humorous. (Likert)
    Humor,
    /// How helpful. (Likert)
    Helpfulness,
    /// How creative. (Likert)
    Creativity,
    /// How violent. (Likert)
    Violence,
}

impl TextLabel {
    /// Every label, in Open-Assistant's order of presentation.
    pub const ALL: [TextLabel; 15] = [
        TextLabel::Spam,
        TextLabel::FailsTask,
        TextLabel::LangMismatch,
        TextLabel::Pii,
        TextLabel::NotAppropriate,
        TextLabel::HateSpeech,
        TextLabel::SexualContent,
        TextLabel::MoralJudgement,
        TextLabel::PoliticalContent,
        TextLabel::Quality,
        TextLabel::Toxicity,
        TextLabel::Humor,
        TextLabel::Helpfulness,
        TextLabel::Creativity,
        TextLabel::Violence,
    ];

    /// The wire name, e.g. `fails_task`.
    pub fn as_str(self) -> &'static str {
        match self {
            TextLabel::Spam => "spam",
            TextLabel::FailsTask => "fails_task",
            TextLabel::LangMismatch => "lang_mismatch",
            TextLabel::Pii => "pii",
            TextLabel::NotAppropriate => "not_appropriate",
            TextLabel::HateSpeech => "hate_speech",
            TextLabel::SexualContent => "sexual_content",
            TextLabel::MoralJudgement => "moral_judgement",
            TextLabel::PoliticalContent => "political_content",
            TextLabel::Quality => "quality",
            TextLabel::Toxicity => "toxicity",
            TextLabel::Humor => "humor",
            TextLabel::Helpfulness => "helpfulness",
            TextLabel::Creativity => "creativity",
            TextLabel::Violence => "violence",
        }
    }

    /// Parses a wire name; an unknown name is a typed error rather than a silent drop.
    pub fn parse(name: &str) -> Result<TextLabel, FeedbackError> {
        TextLabel::ALL
            .into_iter()
            .find(|l| l.as_str() == name)
            .ok_or_else(|| FeedbackError::UnknownLabel(name.to_owned()))
    }

    /// How this label's value is read.
    pub fn scale(self) -> LabelScale {
        match self {
            TextLabel::Spam | TextLabel::FailsTask => LabelScale::YesNo,
            TextLabel::LangMismatch
            | TextLabel::Pii
            | TextLabel::NotAppropriate
            | TextLabel::HateSpeech
            | TextLabel::SexualContent
            | TextLabel::MoralJudgement
            | TextLabel::PoliticalContent => LabelScale::Flag,
            TextLabel::Quality
            | TextLabel::Toxicity
            | TextLabel::Humor
            | TextLabel::Helpfulness
            | TextLabel::Creativity
            | TextLabel::Violence => LabelScale::Likert,
        }
    }

    /// Checks that `value` is one this label's scale allows.
    pub fn validate(self, value: f32) -> Result<(), FeedbackError> {
        let allowed: &[f32] = match self.scale() {
            LabelScale::YesNo | LabelScale::Flag => &[0.0, 1.0],
            LabelScale::Likert => &LIKERT_STEPS,
        };
        // Exact comparison on purpose: the steps are exactly representable, and a UI that sends
        // 0.3 has a bug worth surfacing rather than rounding away.
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(FeedbackError::InvalidLabelValue { label: self, value })
        }
    }
}

/// The five values of a Likert label.
pub const LIKERT_STEPS: [f32; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];

/// Labels given to one message, as Open-Assistant's `{label: value}` map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Labels(pub BTreeMap<TextLabel, f32>);

impl Labels {
    /// Checks every value against its label's scale; an empty set is refused (nothing to save).
    pub fn validate(&self) -> Result<(), FeedbackError> {
        if self.0.is_empty() {
            return Err(FeedbackError::NoLabels);
        }
        self.0
            .iter()
            .try_for_each(|(label, value)| label.validate(*value))
    }
}

/// A ranking of the replies to one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", content = "ranking", rename_all = "snake_case")]
pub enum Ranking {
    /// Reply ids, best first; must name every sibling reply exactly once.
    Ranked(Vec<Uuid>),
    /// The person judged the replies impossible to rank (Open-Assistant's `not_rankable`).
    NotRankable,
}

impl Ranking {
    /// Checks the ranking against the replies it ranks: at least two, each exactly once.
    pub fn validate_against(&self, replies: &[Uuid]) -> Result<(), FeedbackError> {
        if replies.len() < 2 {
            return Err(FeedbackError::NothingToRank {
                replies: replies.len(),
            });
        }
        let Ranking::Ranked(order) = self else {
            return Ok(());
        };
        let mut seen = BTreeSet::new();
        if let Some(dup) = order.iter().find(|id| !seen.insert(**id)) {
            return Err(FeedbackError::RankedTwice(*dup));
        }
        let expected: BTreeSet<Uuid> = replies.iter().copied().collect();
        if let Some(stranger) = seen.difference(&expected).next() {
            return Err(FeedbackError::NotASibling(*stranger));
        }
        if let Some(missing) = expected.difference(&seen).next() {
            return Err(FeedbackError::Unranked(*missing));
        }
        Ok(())
    }
}

/// Open-Assistant's emoji reactions, with its wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Emoji {
    /// 👍 `+1`
    #[serde(rename = "+1")]
    ThumbsUp,
    /// 👎 `-1`
    #[serde(rename = "-1")]
    ThumbsDown,
    /// 🚩 `red_flag`
    #[serde(rename = "red_flag")]
    RedFlag,
    /// 💯 `100`
    #[serde(rename = "100")]
    Hundred,
    /// 🤣 `rofl`
    #[serde(rename = "rofl")]
    Rofl,
    /// 👏 `clap`
    #[serde(rename = "clap")]
    Clap,
    /// 💎 `diamond`
    #[serde(rename = "diamond")]
    Diamond,
    /// 😍 `heart_eyes`
    #[serde(rename = "heart_eyes")]
    HeartEyes,
    /// 😞 `disappointed`
    #[serde(rename = "disappointed")]
    Disappointed,
    /// 💩 `poop`
    #[serde(rename = "poop")]
    Poop,
    /// 💀 `skull`
    #[serde(rename = "skull")]
    Skull,
    /// The person skipped writing a reply (`_skip_reply`).
    #[serde(rename = "_skip_reply")]
    SkipReply,
    /// The person skipped ranking (`_skip_ranking`).
    #[serde(rename = "_skip_ranking")]
    SkipRanking,
    /// The person skipped labelling (`_skip_labeling`).
    #[serde(rename = "_skip_labeling")]
    SkipLabeling,
}

impl Emoji {
    /// Every reaction.
    pub const ALL: [Emoji; 14] = [
        Emoji::ThumbsUp,
        Emoji::ThumbsDown,
        Emoji::RedFlag,
        Emoji::Hundred,
        Emoji::Rofl,
        Emoji::Clap,
        Emoji::Diamond,
        Emoji::HeartEyes,
        Emoji::Disappointed,
        Emoji::Poop,
        Emoji::Skull,
        Emoji::SkipReply,
        Emoji::SkipRanking,
        Emoji::SkipLabeling,
    ];

    /// The wire code, e.g. `+1` or `_skip_reply`.
    pub fn code(self) -> &'static str {
        match self {
            Emoji::ThumbsUp => "+1",
            Emoji::ThumbsDown => "-1",
            Emoji::RedFlag => "red_flag",
            Emoji::Hundred => "100",
            Emoji::Rofl => "rofl",
            Emoji::Clap => "clap",
            Emoji::Diamond => "diamond",
            Emoji::HeartEyes => "heart_eyes",
            Emoji::Disappointed => "disappointed",
            Emoji::Poop => "poop",
            Emoji::Skull => "skull",
            Emoji::SkipReply => "_skip_reply",
            Emoji::SkipRanking => "_skip_ranking",
            Emoji::SkipLabeling => "_skip_labeling",
        }
    }

    /// Parses a wire code; an unknown code is a typed error.
    pub fn parse(code: &str) -> Result<Emoji, FeedbackError> {
        Emoji::ALL
            .into_iter()
            .find(|e| e.code() == code)
            .ok_or_else(|| FeedbackError::UnknownEmoji(code.to_owned()))
    }
}

/// The feedback currently given to one message (the latest value of each kind).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageFeedback {
    /// The message.
    pub message_id: Uuid,
    /// The current thumbs vote.
    pub thumbs: Option<Thumbs>,
    /// The current labels.
    pub labels: Option<Labels>,
    /// The current ranking of this message's replies.
    pub ranking: Option<Ranking>,
    /// Reactions currently on, in code order.
    pub reactions: Vec<Emoji>,
}

/// Feedback that breaks Open-Assistant's rules; `Display` is written for the person.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FeedbackError {
    /// A label name Open-Assistant does not have.
    UnknownLabel(String),
    /// A value the label's scale does not allow.
    InvalidLabelValue {
        /// The label.
        label: TextLabel,
        /// The refused value.
        value: f32,
    },
    /// A label set with no labels.
    NoLabels,
    /// An emoji code Open-Assistant does not have.
    UnknownEmoji(String),
    /// A reason or comment that is only whitespace.
    BlankText(&'static str),
    /// A reason or comment that is too long.
    TextTooLong {
        /// `reason` or `comment`.
        what: &'static str,
        /// The limit.
        max_chars: usize,
    },
    /// The same reason given twice.
    DuplicateReason(String),
    /// Fewer than two replies: there is nothing to rank.
    NothingToRank {
        /// How many replies there are.
        replies: usize,
    },
    /// A reply named twice in a ranking.
    RankedTwice(Uuid),
    /// A ranking names a message that is not one of the replies being ranked.
    NotASibling(Uuid),
    /// A ranking leaves out one of the replies.
    Unranked(Uuid),
}

impl std::fmt::Display for FeedbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeedbackError::UnknownLabel(name) => write!(f, "there is no label called {name:?}"),
            FeedbackError::InvalidLabelValue { label, value } => {
                let allowed = match label.scale() {
                    LabelScale::YesNo | LabelScale::Flag => "0 or 1",
                    LabelScale::Likert => "0, 0.25, 0.5, 0.75 or 1",
                };
                write!(
                    f,
                    "{value} is not a value of {}; use {allowed}",
                    label.as_str()
                )
            }
            FeedbackError::NoLabels => f.write_str("choose at least one label"),
            FeedbackError::UnknownEmoji(code) => write!(f, "there is no reaction called {code:?}"),
            FeedbackError::BlankText(what) => write!(f, "a {what} cannot be empty"),
            FeedbackError::TextTooLong { what, max_chars } => {
                write!(f, "a {what} can be at most {max_chars} characters long")
            }
            FeedbackError::DuplicateReason(r) => write!(f, "the reason {r:?} is given twice"),
            FeedbackError::NothingToRank { replies } => write!(
                f,
                "ranking needs at least two replies to the same message; there are {replies}"
            ),
            FeedbackError::RankedTwice(id) => write!(f, "reply {id} is ranked twice"),
            FeedbackError::NotASibling(id) => {
                write!(f, "message {id} is not one of the replies being ranked")
            }
            FeedbackError::Unranked(id) => write!(f, "reply {id} is missing from the ranking"),
        }
    }
}

impl std::error::Error for FeedbackError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_open_assistants() {
        for label in TextLabel::ALL {
            let json = serde_json::to_string(&label).unwrap();
            assert_eq!(json, format!("\"{}\"", label.as_str()));
            assert_eq!(TextLabel::parse(label.as_str()), Ok(label));
        }
        for emoji in Emoji::ALL {
            let json = serde_json::to_string(&emoji).unwrap();
            assert_eq!(json, format!("\"{}\"", emoji.code()));
            assert_eq!(Emoji::parse(emoji.code()), Ok(emoji));
        }
        assert_eq!(serde_json::to_string(&Vote::Down).unwrap(), "\"-1\"");
        assert_eq!(
            serde_json::to_string(&Ranking::NotRankable).unwrap(),
            r#"{"type":"not_rankable"}"#
        );
        let labels = Labels([(TextLabel::Quality, 0.75)].into());
        assert_eq!(
            serde_json::to_string(&labels).unwrap(),
            r#"{"quality":0.75}"#
        );
    }

    #[test]
    fn unknown_names_are_typed_errors() {
        assert_eq!(
            TextLabel::parse("funny"),
            Err(FeedbackError::UnknownLabel("funny".into()))
        );
        assert_eq!(
            Emoji::parse("skip_reply"),
            Err(FeedbackError::UnknownEmoji("skip_reply".into())),
            "Open-Assistant's skip codes start with an underscore"
        );
        assert!(serde_json::from_str::<TextLabel>("\"funny\"").is_err());
    }

    #[test]
    fn values_follow_each_labels_scale() {
        for label in TextLabel::ALL {
            assert!(label.validate(0.0).is_ok() && label.validate(1.0).is_ok());
            assert!(label.validate(-0.25).is_err() && label.validate(1.25).is_err());
            assert!(label.validate(f32::NAN).is_err());
        }
        assert!(TextLabel::Quality.validate(0.25).is_ok());
        assert!(TextLabel::Quality.validate(0.3).is_err());
        let err = TextLabel::Spam.validate(0.5).unwrap_err();
        assert_eq!(
            err,
            FeedbackError::InvalidLabelValue {
                label: TextLabel::Spam,
                value: 0.5
            }
        );
        assert!(err.to_string().contains("0 or 1"), "{err}");
        assert_eq!(Labels::default().validate(), Err(FeedbackError::NoLabels));
    }

    #[test]
    fn rankings_must_cover_exactly_the_replies() {
        let [a, b, c] = [1, 2, 3].map(Uuid::from_u128);
        let replies = [a, b, c];
        assert!(
            Ranking::Ranked(vec![c, a, b])
                .validate_against(&replies)
                .is_ok()
        );
        assert!(Ranking::NotRankable.validate_against(&replies).is_ok());
        assert_eq!(
            Ranking::Ranked(vec![a, b]).validate_against(&replies),
            Err(FeedbackError::Unranked(c))
        );
        assert_eq!(
            Ranking::Ranked(vec![a, b, c, a]).validate_against(&replies),
            Err(FeedbackError::RankedTwice(a))
        );
        let stranger = Uuid::from_u128(4);
        assert_eq!(
            Ranking::Ranked(vec![a, b, c, stranger]).validate_against(&replies),
            Err(FeedbackError::NotASibling(stranger))
        );
        assert_eq!(
            Ranking::NotRankable.validate_against(&[a]),
            Err(FeedbackError::NothingToRank { replies: 1 })
        );
    }

    #[test]
    fn thumbs_text_is_checked() {
        let ok = Thumbs {
            vote: Vote::Down,
            reasons: vec!["wrong".into(), "rude".into()],
            comment: Some("Paris is not in Italy".into()),
        };
        assert!(ok.validate().is_ok());
        let blank = Thumbs {
            reasons: vec!["  ".into()],
            ..ok.clone()
        };
        assert_eq!(blank.validate(), Err(FeedbackError::BlankText("reason")));
        let twice = Thumbs {
            reasons: vec!["wrong".into(), " wrong".into()],
            ..ok.clone()
        };
        assert_eq!(
            twice.validate(),
            Err(FeedbackError::DuplicateReason("wrong".into()))
        );
        let long = Thumbs {
            comment: Some("x".repeat(MAX_FEEDBACK_TEXT_CHARS + 1)),
            ..ok
        };
        assert!(matches!(
            long.validate(),
            Err(FeedbackError::TextTooLong {
                what: "comment",
                ..
            })
        ));
    }
}
