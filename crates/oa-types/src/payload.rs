//! The payload of a contribution event: the action itself, as the JSON text the outbox keeps,
//! the person reviews, the sync client sends and the server reads.
//!
//! [`EventPayload`] is the one definition of those shapes. The outbox writes payloads with
//! [`EventPayload::to_json`], the server reads them with [`EventPayload::parse`], and Review &
//! Share asks [`EventPayload::free_text`] where the text a person wrote sits in the bytes that
//! are sent, so personal data is looked for there and nowhere else.
//!
//! The field names are the ones on the wire since the first outbox: rows written by older
//! versions, and events from older clients, parse the same. The kind is not in the payload; it
//! travels beside it on the event.

use std::borrow::Cow;
use std::ops::Range;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{ContributionKind, Emoji, Labels, Message, Ranking, Thumbs};

/// What a contribution event records, one variant per [`ContributionKind`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventPayload {
    /// A prompt or reply (`message`): the message as it is stored, without `corrects`.
    Message(Box<Message>),
    /// A reply a person wrote in the assistant's place (`correction`): the message, whose
    /// `corrects` names the reply it corrects.
    Correction(Box<Message>),
    /// A thumbs vote (`rating`).
    Rating(RatingPayload),
    /// Text labels (`labels`).
    Labels(LabelsPayload),
    /// A ranking of the replies to a message (`ranking`).
    Ranking(RankingPayload),
    /// An emoji reaction turned on or off (`reaction`).
    Reaction(ReactionPayload),
    /// Withdraws an event that was sent (`retraction`).
    Retraction(RetractionPayload),
}

/// The payload's schema in the server's OpenAPI document: one branch per shape. A correction is
/// a message whose `corrects` is set, so `message` and `correction` share the `Message` branch
/// and the event's `kind` tells them apart. (A derived schema would list `Message` twice, and
/// no payload matches exactly one of two equal branches.)
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for EventPayload {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{OneOfBuilder, Ref};
        let mut one_of = OneOfBuilder::new().description(Some(
            "The action an event records, as JSON: its shape is the one its event's `kind` names \
             (`message` and `correction` are both a `Message`).",
        ));
        for (name, _) in payload_shapes() {
            one_of = one_of.item(Ref::from_schema_name(name));
        }
        one_of.into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for EventPayload {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        for (name, add) in payload_shapes() {
            let schema = add(schemas);
            schemas.push((name.into_owned(), schema));
        }
    }
}

/// The name of each shape a payload takes, with a function that adds the schemas it refers to
/// and returns its own.
#[cfg(feature = "openapi")]
type PayloadShape = (
    std::borrow::Cow<'static, str>,
    fn(
        &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
);

/// Every shape of [`EventPayload`], once each.
#[cfg(feature = "openapi")]
fn payload_shapes() -> [PayloadShape; 6] {
    use utoipa::ToSchema;
    fn shape<T: ToSchema>() -> PayloadShape {
        (T::name(), |schemas| {
            T::schemas(schemas);
            T::schema()
        })
    }
    // A new variant must be given its shape here: this match stops compiling until it is.
    let _every_variant_has_a_shape = |payload: &EventPayload| match payload {
        EventPayload::Message(_) | EventPayload::Correction(_) => shape::<Message>,
        EventPayload::Rating(_) => shape::<RatingPayload>,
        EventPayload::Labels(_) => shape::<LabelsPayload>,
        EventPayload::Ranking(_) => shape::<RankingPayload>,
        EventPayload::Reaction(_) => shape::<ReactionPayload>,
        EventPayload::Retraction(_) => shape::<RetractionPayload>,
    };
    [
        shape::<Message>(),
        shape::<RatingPayload>(),
        shape::<LabelsPayload>(),
        shape::<RankingPayload>(),
        shape::<ReactionPayload>(),
        shape::<RetractionPayload>(),
    ]
}

/// A thumbs vote on a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatingPayload {
    /// The message voted on.
    pub message_id: Uuid,
    /// The vote, with the reasons and comment the person gave.
    pub thumbs: Thumbs,
}

/// Labels on a message, as sent: the receiver checks names and values against
/// [`TextLabel`](crate::TextLabel), so that an unknown name or a value off its scale is refused
/// for that reason rather than as an unreadable payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabelsPayload {
    /// The message labelled.
    pub message_id: Uuid,
    /// Label name → value, Open-Assistant's `{label: value}` map.
    pub labels: Map<String, Value>,
}

impl LabelsPayload {
    /// The payload of checked labels on `message_id`.
    pub fn new(message_id: Uuid, labels: &Labels) -> LabelsPayload {
        let labels = labels
            .0
            .iter()
            .map(|(label, value)| (label.as_str().to_owned(), Value::from(*value)))
            .collect();
        LabelsPayload { message_id, labels }
    }
}

/// A ranking of the replies to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RankingPayload {
    /// The message whose replies are ranked (the parent, not a reply).
    pub message_id: Uuid,
    /// The replies best first, or not rankable.
    pub ranking: Ranking,
}

/// An emoji reaction turned on or off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReactionPayload {
    /// The message reacted to.
    pub message_id: Uuid,
    /// The emoji's wire code, as sent; the receiver parses it with [`Emoji::parse`] so that an
    /// unknown code is refused as such.
    pub emoji: String,
    /// On or off.
    pub op: ReactionOp,
}

impl ReactionPayload {
    /// `emoji` turned on (`on`) or off on `message_id`.
    pub fn new(message_id: Uuid, emoji: Emoji, on: bool) -> ReactionPayload {
        ReactionPayload {
            message_id,
            emoji: emoji.code().to_owned(),
            op: if on {
                ReactionOp::Add
            } else {
                ReactionOp::Remove
            },
        }
    }
}

/// Whether a reaction is turned on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReactionOp {
    /// Turned on.
    Add,
    /// Turned off.
    Remove,
}

/// Withdraws an event the server may hold. It names the event, never its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RetractionPayload {
    /// The id of the withdrawn event.
    pub retracts: Uuid,
    /// The withdrawn event's kind (the outbox always writes it; the server does not need it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ContributionKind>,
}

/// A field a person wrote in their own words, where personal data may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FreeTextField {
    /// The text of a message or correction.
    MessageText,
    /// One of the reasons given with a thumbs vote.
    Reason,
    /// The comment given with a thumbs vote.
    Comment,
}

/// A payload that does not have the shape its kind requires; `Display` names the kind and the
/// field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadError {
    /// The text is not JSON.
    NotJson {
        /// The kind the payload was read as.
        kind: ContributionKind,
        /// What the JSON reader found wrong.
        message: String,
    },
    /// The text is JSON but not one object.
    NotAnObject {
        /// The kind the payload was read as.
        kind: ContributionKind,
    },
    /// A field the kind requires is not there.
    MissingField {
        /// The kind the payload was read as.
        kind: ContributionKind,
        /// The field.
        field: String,
    },
    /// A field holds what the kind does not allow (a wrong type, an unknown value, the field
    /// twice).
    InvalidField {
        /// The kind the payload was read as.
        kind: ContributionKind,
        /// The top-level field, where it could be told.
        field: Option<String>,
        /// What is wrong with it.
        message: String,
    },
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayloadError::NotJson { kind, message } => {
                write!(
                    f,
                    "the {} payload is not JSON text: {message}",
                    kind.as_str()
                )
            }
            PayloadError::NotAnObject { kind } => {
                write!(f, "the {} payload is not a JSON object", kind.as_str())
            }
            PayloadError::MissingField { kind, field } => {
                write!(f, "the {} payload has no `{field}`", kind.as_str())
            }
            PayloadError::InvalidField {
                kind,
                field: Some(field),
                message,
            } => write!(
                f,
                "the {} payload's `{field}` is not valid: {message}",
                kind.as_str()
            ),
            PayloadError::InvalidField {
                kind,
                field: None,
                message,
            } => write!(f, "the {} payload is not valid: {message}", kind.as_str()),
        }
    }
}

impl std::error::Error for PayloadError {}

impl EventPayload {
    /// The payload of a stored message: a correction when it corrects another reply.
    pub fn message(message: Message) -> EventPayload {
        if message.corrects.is_some() {
            EventPayload::Correction(Box::new(message))
        } else {
            EventPayload::Message(Box::new(message))
        }
    }

    /// The kind of event this payload belongs to.
    pub fn kind(&self) -> ContributionKind {
        match self {
            EventPayload::Message(_) => ContributionKind::Message,
            EventPayload::Correction(_) => ContributionKind::Correction,
            EventPayload::Rating(_) => ContributionKind::Rating,
            EventPayload::Labels(_) => ContributionKind::Labels,
            EventPayload::Ranking(_) => ContributionKind::Ranking,
            EventPayload::Reaction(_) => ContributionKind::Reaction,
            EventPayload::Retraction(_) => ContributionKind::Retraction,
        }
    }

    /// The message the payload is about, which must be its event's subject; `None` for a
    /// retraction, which is about an event.
    pub fn subject_id(&self) -> Option<Uuid> {
        match self {
            EventPayload::Message(m) | EventPayload::Correction(m) => Some(m.id),
            EventPayload::Rating(p) => Some(p.message_id),
            EventPayload::Labels(p) => Some(p.message_id),
            EventPayload::Ranking(p) => Some(p.message_id),
            EventPayload::Reaction(p) => Some(p.message_id),
            EventPayload::Retraction(_) => None,
        }
    }

    /// Reads the payload of an event of `kind`. Fields it does not know are skipped, so a newer
    /// client's additions do not make an event unreadable.
    pub fn parse(kind: ContributionKind, json: &str) -> Result<EventPayload, PayloadError> {
        let read = || {
            Ok(match kind {
                ContributionKind::Message => EventPayload::Message(Box::new(read(kind, json)?)),
                ContributionKind::Correction => {
                    EventPayload::Correction(Box::new(read(kind, json)?))
                }
                ContributionKind::Rating => EventPayload::Rating(read(kind, json)?),
                ContributionKind::Labels => EventPayload::Labels(read(kind, json)?),
                ContributionKind::Ranking => EventPayload::Ranking(read(kind, json)?),
                ContributionKind::Reaction => EventPayload::Reaction(read(kind, json)?),
                ContributionKind::Retraction => EventPayload::Retraction(read(kind, json)?),
            })
        };
        match read() {
            Err(error @ PayloadError::NotJson { .. }) => Err(error),
            // serde also reads a struct from a JSON array; a payload is an object.
            _ if !json.trim_start().starts_with('{') => Err(PayloadError::NotAnObject { kind }),
            read => read,
        }
    }

    /// The JSON text the outbox records. Object keys are in sorted order at every level, as the
    /// outbox has always written them, so the same action gives the same bytes as before.
    pub fn to_json(&self) -> String {
        // Through a `Value`, numbers read as they always did (an `f32` becomes the `f64` it
        // holds). Its keys are sorted here, not left to the `Value`: whether serde_json keeps
        // insertion order is a feature any crate in the build may turn on.
        sorted_keys(
            serde_json::to_value(self)
                .expect("payload types have string keys only, so they always serialise"),
        )
        .to_string()
    }

    /// The byte ranges in `json` — a JSON text of this payload, compact as sent or
    /// pretty-printed as shown — of the free text a person wrote, in text order. A range
    /// covers a string's contents without its quotes, still escaped as `json` writes them.
    pub fn free_text(&self, json: &str) -> Vec<(Range<usize>, FreeTextField)> {
        let mut found = Vec::new();
        walk_strings(json, |path, range| {
            if let Some(field) = self.free_text_at(path) {
                found.push((range, field));
            }
        });
        found
    }

    /// Which free-text field, if any, the string at `path` is.
    fn free_text_at(&self, path: &[Step<'_>]) -> Option<FreeTextField> {
        let key = |step: &Step<'_>, name: &str| matches!(step, Step::Key(k) if k == name);
        match (self, path) {
            (EventPayload::Message(_) | EventPayload::Correction(_), [text])
                if key(text, "text") =>
            {
                Some(FreeTextField::MessageText)
            }
            (EventPayload::Rating(_), [thumbs, comment])
                if key(thumbs, "thumbs") && key(comment, "comment") =>
            {
                Some(FreeTextField::Comment)
            }
            (EventPayload::Rating(_), [thumbs, reasons, Step::Item])
                if key(thumbs, "thumbs") && key(reasons, "reasons") =>
            {
                Some(FreeTextField::Reason)
            }
            _ => None,
        }
    }
}

/// Reads `json` as `T`, naming the field at fault when it does not fit.
fn read<T: DeserializeOwned>(kind: ContributionKind, json: &str) -> Result<T, PayloadError> {
    let error = match serde_json::from_str::<T>(json) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    if !error.is_data() {
        return Err(PayloadError::NotJson {
            kind,
            message: error.to_string(),
        });
    }
    let message = error.to_string();
    let named = |prefix: &str| {
        let rest = message.strip_prefix(prefix)?;
        Some(rest[..rest.find('`')?].to_owned())
    };
    if let Some(field) = named("missing field `") {
        return Err(PayloadError::MissingField { kind, field });
    }
    let field = named("duplicate field `").or_else(|| field_at_fault::<T>(json));
    Err(PayloadError::InvalidField {
        kind,
        field,
        message,
    })
}

/// The top-level field whose value `T` refuses: `T` is read again from the parsed object,
/// field by field, noting the field being read when the error comes.
fn field_at_fault<T: DeserializeOwned>(json: &str) -> Option<String> {
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(json) else {
        return None;
    };
    let mut fields = Fields {
        entries: map.into_iter(),
        value: None,
        current: None,
    };
    match T::deserialize(ObjectDeserializer(&mut fields)) {
        Ok(_) => None,
        Err(_) => fields.current,
    }
}

/// A JSON object handed to a derived `Deserialize` one field at a time.
struct Fields {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
    /// The field last handed out; `None` once all were.
    current: Option<String>,
}

impl<'de> MapAccess<'de> for &mut Fields {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            self.current = None;
            return Ok(None);
        };
        self.current = Some(key.clone());
        self.value = Some(value);
        seed.deserialize(Value::String(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        seed.deserialize(self.value.take().unwrap_or(Value::Null))
    }
}

struct ObjectDeserializer<'a>(&'a mut Fields);

impl<'de> de::Deserializer<'de> for ObjectDeserializer<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(self.0)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// One step of the way from the root of a JSON text to a value in it.
#[derive(Debug)]
enum Step<'a> {
    /// The value of an object's key.
    Key(Cow<'a, str>),
    /// An item of an array.
    Item,
}

/// Calls `found` with the path and the contents' byte range of every string value in `json`
/// (object keys are steps, not values). Reads valid JSON; on anything else it stops early.
/// Iterative, so that no nesting depth can overflow the stack.
fn walk_strings(json: &str, mut found: impl FnMut(&[Step<'_>], Range<usize>)) {
    let bytes = json.as_bytes();
    // Per open container: whether it is an object.
    let mut open: Vec<bool> = Vec::new();
    let mut path: Vec<Step<'_>> = Vec::new();
    // The next string in the innermost object is a key.
    let mut at_key = false;
    let mut i = 0;
    // After a value: the key it was the value of is done.
    let value_done = |open: &[bool], path: &mut Vec<Step<'_>>| {
        if open.last() == Some(&true) {
            path.pop();
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' | b':' => i += 1,
            b'{' => {
                open.push(true);
                at_key = true;
                i += 1;
            }
            b'[' => {
                open.push(false);
                path.push(Step::Item);
                i += 1;
            }
            b'}' | b']' => {
                if open.pop() == Some(false) {
                    path.pop();
                }
                value_done(&open, &mut path);
                i += 1;
            }
            b',' => {
                at_key = open.last() == Some(&true);
                i += 1;
            }
            b'"' => {
                let Some(end) = string_end(bytes, i) else {
                    return;
                };
                let contents = i + 1..end;
                if at_key {
                    let raw = &json[contents];
                    let key = if raw.contains('\\') {
                        match serde_json::from_str::<String>(&json[i..=end]) {
                            Ok(key) => Cow::Owned(key),
                            Err(_) => return,
                        }
                    } else {
                        Cow::Borrowed(raw)
                    };
                    path.push(Step::Key(key));
                    at_key = false;
                } else {
                    found(&path, contents);
                    value_done(&open, &mut path);
                }
                i = end + 1;
            }
            _ => {
                // A number, `true`, `false` or `null`.
                while i < bytes.len()
                    && !matches!(bytes[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    i += 1;
                }
                value_done(&open, &mut path);
            }
        }
    }
}

/// The index of the quote that closes the string opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `value` with every object's keys in sorted order, whatever order its maps keep.
fn sorted_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(String, serde_json::Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sorted_keys).collect())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Provenance, Role, SamplerParams, TextLabel, Vote};

    const MESSAGE_ID: &str = "019ac1f2-3b4c-7d5e-8f60-718293a4b5c6";
    const CONVERSATION_ID: &str = "019ac1f2-0000-7000-8000-000000000001";

    fn id(s: &str) -> Uuid {
        s.parse().unwrap()
    }

    fn message(text: &str) -> Message {
        Message {
            id: id(MESSAGE_ID),
            conversation_id: id(CONVERSATION_ID),
            parent_id: None,
            role: Role::Prompter,
            text: text.to_owned(),
            created_at_ms: 1_764_000_000_000,
            provenance: None,
            corrects: None,
        }
    }

    fn provenance() -> Provenance {
        Provenance {
            model_id: "tiny".into(),
            model_sha256: "ab".repeat(32),
            quantization: "Q4_1".into(),
            architecture: "llama".into(),
            chat_template_sha256: "cd".repeat(32),
            sampler: SamplerParams::default(),
            engine_version: "0.1.0".into(),
            prompt_tokens: 12,
            completion_tokens: 30,
            time_to_first_token_ms: 80,
            total_ms: 900,
            stopped: false,
            dropped_messages: 0,
        }
    }

    fn every_variant() -> Vec<EventPayload> {
        let reply = Message {
            role: Role::Assistant,
            parent_id: Some(id(CONVERSATION_ID)),
            provenance: Some(provenance()),
            ..message("Paris.")
        };
        let correction = Message {
            provenance: None,
            corrects: Some(id(CONVERSATION_ID)),
            ..reply.clone()
        };
        let labels = Labels([(TextLabel::Quality, 0.75), (TextLabel::Spam, 0.0)].into());
        vec![
            EventPayload::message(message("What is the capital of France?")),
            EventPayload::message(reply),
            EventPayload::message(correction),
            EventPayload::Rating(RatingPayload {
                message_id: id(MESSAGE_ID),
                thumbs: Thumbs {
                    vote: Vote::Down,
                    reasons: vec!["wrong".into(), "rude".into()],
                    comment: Some("Lyon is not the capital".into()),
                },
            }),
            EventPayload::Labels(LabelsPayload::new(id(MESSAGE_ID), &labels)),
            EventPayload::Ranking(RankingPayload {
                message_id: id(MESSAGE_ID),
                ranking: Ranking::Ranked(vec![id(CONVERSATION_ID), id(MESSAGE_ID)]),
            }),
            EventPayload::Ranking(RankingPayload {
                message_id: id(MESSAGE_ID),
                ranking: Ranking::NotRankable,
            }),
            EventPayload::Reaction(ReactionPayload::new(id(MESSAGE_ID), Emoji::RedFlag, true)),
            EventPayload::Retraction(RetractionPayload {
                retracts: id(CONVERSATION_ID),
                kind: Some(ContributionKind::Labels),
            }),
        ]
    }

    #[test]
    fn every_variant_reads_back_as_it_was_written() {
        for payload in every_variant() {
            let json = payload.to_json();
            let back = EventPayload::parse(payload.kind(), &json).unwrap();
            assert_eq!(back, payload, "{json}");
            assert_eq!(back.to_json(), json);
        }
    }

    #[test]
    fn the_bytes_are_the_ones_the_outbox_always_wrote() {
        // Keys sorted at every level, as `serde_json::json!` wrote them.
        let rating = EventPayload::Rating(RatingPayload {
            message_id: id(MESSAGE_ID),
            thumbs: Thumbs {
                vote: Vote::Up,
                reasons: vec![],
                comment: None,
            },
        });
        assert_eq!(
            rating.to_json(),
            format!(
                r#"{{"message_id":"{MESSAGE_ID}","thumbs":{{"comment":null,"reasons":[],"vote":"+1"}}}}"#
            )
        );
        let reaction =
            EventPayload::Reaction(ReactionPayload::new(id(MESSAGE_ID), Emoji::ThumbsUp, false));
        assert_eq!(
            reaction.to_json(),
            format!(r#"{{"emoji":"+1","message_id":"{MESSAGE_ID}","op":"remove"}}"#)
        );
        let retraction = EventPayload::Retraction(RetractionPayload {
            retracts: id(MESSAGE_ID),
            kind: Some(ContributionKind::Message),
        });
        assert_eq!(
            retraction.to_json(),
            format!(r#"{{"kind":"message","retracts":"{MESSAGE_ID}"}}"#)
        );
        assert_eq!(
            EventPayload::message(message("hi")).to_json(),
            format!(
                r#"{{"conversation_id":"{CONVERSATION_ID}","created_at_ms":1764000000000,"id":"{MESSAGE_ID}","parent_id":null,"provenance":null,"role":"prompter","text":"hi"}}"#
            )
        );
        let labels = Labels([(TextLabel::Spam, 0.0), (TextLabel::Quality, 0.5)].into());
        assert_eq!(
            EventPayload::Labels(LabelsPayload::new(id(MESSAGE_ID), &labels)).to_json(),
            format!(r#"{{"labels":{{"quality":0.5,"spam":0.0}},"message_id":"{MESSAGE_ID}"}}"#)
        );
        // Label names and values as serde writes `Labels` (what the feedback table holds).
        let every = Labels(TextLabel::ALL.iter().map(|l| (*l, 1.0)).collect());
        assert_eq!(
            Value::Object(LabelsPayload::new(id(MESSAGE_ID), &every).labels),
            serde_json::to_value(&every).unwrap()
        );
    }

    /// Payloads as older versions wrote them, and as PostgreSQL's jsonb gives them back (keys by
    /// length, a space after each colon and comma).
    #[test]
    fn old_rows_still_read() {
        let rows = [
            // The first outbox: a message before `corrects` and `stopped` existed.
            (
                ContributionKind::Message,
                format!(
                    r#"{{"conversation_id":"{CONVERSATION_ID}","created_at_ms":1000,"id":"{MESSAGE_ID}","parent_id":null,"provenance":null,"role":"prompter","text":"How many moons has Mars?"}}"#
                ),
            ),
            (
                ContributionKind::Message,
                format!(
                    r#"{{"conversation_id":"{CONVERSATION_ID}","created_at_ms":2000,"id":"{MESSAGE_ID}","parent_id":"{CONVERSATION_ID}","provenance":{{"architecture":"llama","chat_template_sha256":"cd","completion_tokens":3,"engine_version":"0.1.0","model_id":"tiny","model_sha256":"ab","prompt_tokens":5,"quantization":"Q4_1","sampler":{{"max_tokens":512,"repeat_last_n":64,"repeat_penalty":1.100000023841858,"seed":42,"temperature":0.699999988079071,"top_k":40,"top_p":0.8999999761581421}},"time_to_first_token_ms":8,"total_ms":90}},"role":"assistant","text":"Two: Phobos and Deimos."}}"#
                ),
            ),
            // A thumbs vote written before reasons and comment were filled in.
            (
                ContributionKind::Rating,
                format!(r#"{{"message_id":"{MESSAGE_ID}","thumbs":{{"vote":"-1"}}}}"#),
            ),
            (
                ContributionKind::Labels,
                format!(r#"{{"labels":{{"quality":1.0}},"message_id":"{MESSAGE_ID}"}}"#),
            ),
            (
                ContributionKind::Ranking,
                format!(
                    r#"{{"message_id":"{MESSAGE_ID}","ranking":{{"ranking":["{CONVERSATION_ID}","{MESSAGE_ID}"],"type":"ranked"}}}}"#
                ),
            ),
            (
                ContributionKind::Ranking,
                format!(r#"{{"message_id":"{MESSAGE_ID}","ranking":{{"type":"not_rankable"}}}}"#),
            ),
            (
                ContributionKind::Reaction,
                format!(r#"{{"emoji":"heart_eyes","message_id":"{MESSAGE_ID}","op":"add"}}"#),
            ),
            (
                ContributionKind::Retraction,
                format!(r#"{{"kind":"rating","retracts":"{MESSAGE_ID}"}}"#),
            ),
            // jsonb's text form, as the server's `contribution_events.payload` gives it back.
            (
                ContributionKind::Reaction,
                format!(r#"{{"op": "remove", "emoji": "+1", "message_id": "{MESSAGE_ID}"}}"#),
            ),
            (
                ContributionKind::Rating,
                format!(
                    r#"{{"thumbs": {{"vote": "+1", "comment": null, "reasons": ["clear"]}}, "message_id": "{MESSAGE_ID}"}}"#
                ),
            ),
            // An older client's retraction without the kind.
            (
                ContributionKind::Retraction,
                format!(r#"{{"retracts":"{MESSAGE_ID}"}}"#),
            ),
        ];
        for (kind, json) in rows {
            let payload =
                EventPayload::parse(kind, &json).unwrap_or_else(|e| panic!("{e}: {json}"));
            assert_eq!(payload.kind(), kind);
            if kind != ContributionKind::Retraction {
                assert_eq!(payload.subject_id(), Some(id(MESSAGE_ID)), "{json}");
            }
        }
    }

    #[test]
    fn a_payload_that_does_not_fit_names_its_field() {
        let cases = [
            (
                ContributionKind::Rating,
                "{\"message_id\":",
                "not JSON text",
            ),
            (ContributionKind::Rating, "[1, 2]", "not a JSON object"),
            (
                ContributionKind::Rating,
                r#"{"thumbs":{"vote":"+1"}}"#,
                "has no `message_id`",
            ),
            (
                ContributionKind::Rating,
                &format!(r#"{{"message_id":"{MESSAGE_ID}","thumbs":{{"vote":"up"}}}}"#),
                "`thumbs` is not valid: unknown variant `up`",
            ),
            (
                ContributionKind::Message,
                r#"{"text": 1}"#,
                "`text` is not valid: invalid type: integer `1`",
            ),
            (
                ContributionKind::Reaction,
                &format!(r#"{{"message_id":"{MESSAGE_ID}","emoji":"+1","op":"toggle"}}"#),
                "`op` is not valid",
            ),
            (
                ContributionKind::Retraction,
                r#"{"retracts":"x","retracts":"y"}"#,
                "`retracts` is not valid",
            ),
        ];
        for (kind, json, expected) in cases {
            let error = EventPayload::parse(kind, json).unwrap_err();
            assert!(error.to_string().contains(expected), "{error} for {json}");
        }
        assert_eq!(
            EventPayload::parse(ContributionKind::Labels, "{}"),
            Err(PayloadError::MissingField {
                kind: ContributionKind::Labels,
                field: "message_id".into()
            })
        );
    }

    #[test]
    fn an_unknown_label_or_emoji_still_reads_for_the_receiver_to_refuse() {
        let labels = format!(r#"{{"message_id":"{MESSAGE_ID}","labels":{{"funny":"high"}}}}"#);
        assert!(EventPayload::parse(ContributionKind::Labels, &labels).is_ok());
        let emoji = format!(r#"{{"message_id":"{MESSAGE_ID}","emoji":"smile","op":"add"}}"#);
        assert!(EventPayload::parse(ContributionKind::Reaction, &emoji).is_ok());
    }

    fn spans(payload: &EventPayload, json: &str) -> Vec<(String, FreeTextField)> {
        payload
            .free_text(json)
            .into_iter()
            .map(|(range, field)| (json[range].to_owned(), field))
            .collect()
    }

    #[test]
    fn free_text_is_the_message_text_despite_escapes_and_non_ascii() {
        let text = "Zoë said \"hi\"\n\tto 東京 — mail zoe@example.com 😀 \\ done";
        let payload = EventPayload::message(message(text));
        let json = payload.to_json();
        let found = payload.free_text(&json);
        assert_eq!(found.len(), 1);
        let (range, field) = found[0].clone();
        assert_eq!(field, FreeTextField::MessageText);
        assert_eq!(
            serde_json::from_str::<String>(&json[range.start - 1..range.end + 1]).unwrap(),
            text
        );
        // The same payload pretty-printed, and with its keys in another order.
        let pretty = serde_json::to_string_pretty(&payload).unwrap();
        assert_eq!(spans(&payload, &pretty)[0].0, json[range].to_owned());
        let reordered = format!(
            r#"{{ "text" : "a\u00e9b", "id": "{MESSAGE_ID}", "role": "prompter", "conversation_id": "{CONVERSATION_ID}", "parent_id": null, "created_at_ms": 1, "provenance": null }}"#
        );
        let payload = EventPayload::parse(ContributionKind::Message, &reordered).unwrap();
        assert_eq!(
            spans(&payload, &reordered),
            [(r"a\u00e9b".to_owned(), FreeTextField::MessageText)]
        );
    }

    #[test]
    fn free_text_is_never_an_id_a_role_or_a_model_name() {
        for payload in every_variant() {
            let json = payload.to_json();
            for (range, _) in payload.free_text(&json) {
                let found = &json[range];
                assert!(
                    !found.contains(MESSAGE_ID) && found != "prompter" && found != "tiny",
                    "{found} in {json}"
                );
            }
        }
        let reply = &every_variant()[1];
        assert_eq!(
            spans(reply, &reply.to_json()),
            [("Paris.".to_owned(), FreeTextField::MessageText)]
        );
    }

    #[test]
    fn a_votes_reasons_and_comment_are_free_text_and_its_vote_is_not() {
        let rating = &every_variant()[3];
        assert_eq!(
            spans(rating, &rating.to_json()),
            [
                ("Lyon is not the capital".to_owned(), FreeTextField::Comment),
                ("wrong".to_owned(), FreeTextField::Reason),
                ("rude".to_owned(), FreeTextField::Reason),
            ]
        );
        // A key named like a free-text field elsewhere in the payload is not free text.
        let json = format!(
            r#"{{"message_id":"{MESSAGE_ID}","note":{{"comment":"x","text":"y"}},"thumbs":{{"vote":"-1","comment":null}}}}"#
        );
        let rating = EventPayload::parse(ContributionKind::Rating, &json).unwrap();
        assert!(rating.free_text(&json).is_empty());
    }

    #[test]
    fn a_deeply_nested_payload_does_not_overflow_the_walk() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let mut strings = 0;
        walk_strings(&deep, |_, _| strings += 1);
        assert_eq!(strings, 0);
    }
}
