//! Review & Share: the outbox as the person reviews it — each event with exactly what would be
//! sent, the personal data found in its free text (marked by byte offsets into that text), and
//! the redaction that replaces it. Findings the person dismissed as "not personal" are set
//! apart, unmarked and left as written, wherever the same text is found as the same kind.
//!
//! Only free text is scanned: message text, comments, reasons and titles. Ids, timestamps,
//! roles, language tags and model names are never personal data of the writer, and a UUID or a
//! timestamp would otherwise read as a phone number.

use std::collections::{HashMap, HashSet};

use oa_types::{ContributionEvent, PayloadFinding, ReviewGroup, ReviewItem, SubmittedEvent, Uuid};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The keys whose string values are free text a person wrote (or a model wrote about them).
const FREE_TEXT_KEYS: [&str; 3] = ["text", "comment", "title"];
/// The key whose array items are free text.
const FREE_TEXT_LISTS: [&str; 1] = ["reasons"];
/// The title of a group whose conversation was deleted.
const DELETED_TITLE: &str = "Deleted conversation";

/// The findings the person dismissed as not personal, as the store keeps them: by kind and
/// [`text_hash`].
pub(crate) struct Dismissed(HashSet<(String, String)>);

impl Dismissed {
    pub(crate) fn new(kept: HashSet<(String, String)>) -> Dismissed {
        Dismissed(kept)
    }

    /// Whether a finding of `kind` with this text was dismissed.
    fn covers(&self, kind: &str, text: &str) -> bool {
        !self.0.is_empty() && self.0.contains(&(kind.to_owned(), text_hash(text)))
    }
}

/// The hash a dismissal of a finding of `kind` with this text is kept under; only for a kind
/// the detector reports and a text that is not blank.
pub(crate) fn dismissal_key(kind: &str, text: &str) -> crate::Result<String> {
    let known = oa_privacy::PiiKind::PRIORITY
        .iter()
        .any(|k| k.as_str() == kind);
    if !known || text.trim().is_empty() {
        return Err(oa_store::StoreError::InvalidInput(format!(
            "there is no finding of {kind:?} with the text {text:?} to dismiss"
        ))
        .into());
    }
    Ok(text_hash(text))
}

/// How a finding's text is remembered: the SHA-256 of the text in lower case with every run
/// of white space as one space, so that a name or an address dismissed once stays dismissed
/// however it is capitalised or broken over lines. Only the hash is kept.
pub(crate) fn text_hash(text: &str) -> String {
    let normalized = text
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ");
    format!("{:x}", Sha256::digest(normalized.as_bytes()))
}

/// Groups events by conversation (the one with the newest event first; events oldest first)
/// and prepares each for review. `titles` names the conversations that still exist.
pub(crate) fn review_groups(
    events: Vec<ContributionEvent>,
    titles: &HashMap<Uuid, String>,
    dismissed: &Dismissed,
) -> Vec<ReviewGroup> {
    let mut groups: Vec<ReviewGroup> = Vec::new();
    let mut index: HashMap<Uuid, usize> = HashMap::new();
    for event in events {
        let at = *index.entry(event.conversation_id).or_insert_with(|| {
            groups.push(ReviewGroup {
                conversation_id: event.conversation_id,
                title: titles
                    .get(&event.conversation_id)
                    .cloned()
                    .unwrap_or_else(|| DELETED_TITLE.to_owned()),
                items: Vec::new(),
            });
            groups.len() - 1
        });
        groups[at].items.push(review_item(event, dismissed));
    }
    for group in &mut groups {
        group
            .items
            .sort_by_key(|i| (i.event.created_at_ms, i.event.id));
    }
    let newest = |g: &ReviewGroup| g.items.last().map(|i| (i.event.created_at_ms, i.event.id));
    groups.sort_by_key(|g| std::cmp::Reverse(newest(g)));
    groups
}

/// One event with its exact outgoing content and the personal data in it.
pub(crate) fn review_item(event: ContributionEvent, dismissed: &Dismissed) -> ReviewItem {
    // The envelope the sync client sends, so that whatever it carries is shown; only the
    // payload, which travels as JSON text, is shown as the JSON it holds.
    let mut envelope = serde_json::to_value(SubmittedEvent::from(&event)).unwrap_or(Value::Null);
    if let Some(payload) = envelope.get_mut("payload")
        && let Ok(parsed) = serde_json::from_str::<Value>(&event.payload)
    {
        *payload = parsed;
    }
    let payload_json = serde_json::to_string_pretty(&envelope).unwrap_or_default();
    let mut findings = Vec::new();
    let mut cursor = 0;
    locate(&envelope, &payload_json, &mut cursor, false, &mut findings);
    let (dismissed, findings) = findings
        .into_iter()
        .partition(|f| dismissed.covers(&f.kind, &f.text));
    ReviewItem {
        event,
        payload_json,
        findings,
        dismissed,
    }
}

/// The event's payload with every finding in its free text replaced by a placeholder (those
/// dismissed as not personal left as written), or `None` when there is nothing to replace.
pub(crate) fn redacted_payload(payload: &str, dismissed: &Dismissed) -> Option<String> {
    let mut value: Value = serde_json::from_str(payload).ok()?;
    let mut changed = false;
    redact_value(&mut value, false, dismissed, &mut changed);
    changed.then(|| value.to_string())
}

fn redact_value(value: &mut Value, free_text: bool, dismissed: &Dismissed, changed: &mut bool) {
    match value {
        Value::String(text) if free_text => {
            let mut found = oa_privacy::scan(text);
            found.retain(|f| !dismissed.covers(f.kind.as_str(), &f.text));
            if !found.is_empty() {
                *text = oa_privacy::redact(text, &found);
                *changed = true;
            }
        }
        Value::Array(items) => {
            for item in items {
                redact_value(item, free_text, dismissed, changed);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                redact_value(item, is_free_text(key, item), dismissed, changed);
            }
        }
        _ => {}
    }
}

fn is_free_text(key: &str, value: &Value) -> bool {
    match value {
        Value::String(_) => FREE_TEXT_KEYS.contains(&key),
        Value::Array(_) => FREE_TEXT_LISTS.contains(&key),
        _ => false,
    }
}

/// Walks `value` in the order `rendered` (its pretty JSON) prints it, moving `cursor` past each
/// key and string, and records the findings in free text with offsets into `rendered`. JSON
/// escaping works character by character, so the offset of a finding inside a rendered string
/// is the length of the escaped text before it.
fn locate(
    value: &Value,
    rendered: &str,
    cursor: &mut usize,
    free_text: bool,
    findings: &mut Vec<PayloadFinding>,
) {
    match value {
        Value::String(text) => {
            let Some(at) = find_from(rendered, cursor, &escaped(text, true)) else {
                return;
            };
            if !free_text {
                return;
            }
            for found in oa_privacy::scan(text) {
                let start = at + 1 + escaped(&text[..found.start], false).len();
                let end = start + escaped(&text[found.start..found.end], false).len();
                findings.push(PayloadFinding {
                    kind: found.kind.as_str().to_owned(),
                    description: found.kind.description().to_owned(),
                    start,
                    end,
                    text: found.text,
                });
            }
        }
        Value::Array(items) => {
            for item in items {
                locate(item, rendered, cursor, free_text, findings);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let _ = find_from(rendered, cursor, &format!("{}:", escaped(key, true)));
                locate(item, rendered, cursor, is_free_text(key, item), findings);
            }
        }
        _ => {}
    }
}

/// Finds `needle` at or after `cursor`, and moves the cursor past it.
fn find_from(haystack: &str, cursor: &mut usize, needle: &str) -> Option<usize> {
    let at = *cursor + haystack.get(*cursor..)?.find(needle)?;
    *cursor = at + needle.len();
    Some(at)
}

/// `text` as JSON writes it, with or without the quotes.
fn escaped(text: &str, quoted: bool) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    if quoted {
        json
    } else {
        json[1..json.len() - 1].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use oa_types::{ConsentState, ContributionKind};
    use serde_json::json;

    use super::*;

    fn none() -> Dismissed {
        Dismissed::new(HashSet::new())
    }

    fn event(payload: Value) -> ContributionEvent {
        ContributionEvent {
            id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            kind: ContributionKind::Message,
            subject_id: Uuid::from_u128(5_551_234_567),
            conversation_id: Uuid::from_u128(2),
            payload: payload.to_string(),
            state: ConsentState::Private,
            rejection_reason: None,
            created_at_ms: 1_764_000_000_000,
            redacted: false,
            task_id: None,
        }
    }

    #[test]
    fn findings_point_at_the_data_in_the_pretty_payload_despite_escapes() {
        let text = "He said \"hi\"\n\tand: mail jane.doe@example.com, call +1 415 555 0142";
        let item = review_item(event(json!({ "role": "prompter", "text": text })), &none());
        let cut: Vec<(&str, &str)> = item
            .findings
            .iter()
            .map(|f| (f.kind.as_str(), &item.payload_json[f.start..f.end]))
            .collect();
        assert_eq!(
            cut,
            [
                ("email", "jane.doe@example.com"),
                ("phone", "+1 415 555 0142")
            ]
        );
        assert_eq!(item.findings[0].description, "e-mail address");
        assert_eq!(item.findings[0].text, "jane.doe@example.com");
    }

    #[test]
    fn a_dismissed_text_is_the_same_however_it_is_capitalised_or_wrapped() {
        let hash = text_hash("Keizersgracht 123,\n1015 CJ  Amsterdam");
        assert_eq!(hash, text_hash(" keizersgracht 123, 1015 cj amsterdam"));
        assert_ne!(hash, text_hash("Keizersgracht 125, 1015 CJ Amsterdam"));
        assert_eq!(hash.len(), 64);
    }

    #[test]
    fn a_dismissed_finding_is_set_apart_and_left_as_written() {
        let text = "He said \"mail a@b.org\" or call +1 415 555 0142";
        let dismissed = Dismissed::new(HashSet::from([("email".to_owned(), text_hash("a@b.org"))]));
        let item = review_item(event(json!({ "text": text })), &dismissed);
        let kinds = |f: &[PayloadFinding]| f.iter().map(|f| f.kind.clone()).collect::<Vec<_>>();
        assert_eq!(kinds(&item.findings), ["phone"]);
        assert_eq!(kinds(&item.dismissed), ["email"]);
        let e = &item.dismissed[0];
        assert_eq!(&item.payload_json[e.start..e.end], "a@b.org");
        let redacted = redacted_payload(&json!({ "text": text }).to_string(), &dismissed).unwrap();
        assert!(
            redacted.contains("a@b.org") && redacted.contains("[phone]"),
            "{redacted}"
        );
    }

    #[test]
    fn the_payload_shown_is_the_event_the_sync_client_sends() {
        let item = review_item(event(json!({ "role": "prompter", "text": "hi" })), &none());
        let mut shown: Value = serde_json::from_str(&item.payload_json).unwrap();
        // On the wire the payload is the JSON text itself; shown, it is that JSON.
        shown["payload"] = Value::String(shown["payload"].to_string());
        let sent: SubmittedEvent = serde_json::from_value(shown).unwrap();
        assert_eq!(sent, SubmittedEvent::from(&item.event));
    }

    #[test]
    fn ids_timestamps_and_roles_are_never_flagged() {
        let item = review_item(
            event(json!({
                "message_id": "00000000-0000-0000-0000-00014b5b0c27",
                "thumbs": { "vote": "-1", "reasons": ["wrong"], "comment": null },
                "created_at_ms": 1_764_000_000_000_i64,
            })),
            &none(),
        );
        assert!(item.findings.is_empty(), "{:?}", item.findings);
    }

    #[test]
    fn comments_and_reasons_are_scanned_and_redacted() {
        let payload = json!({
            "thumbs": { "vote": "-1", "reasons": ["see 10.0.0.7"], "comment": "me: a@b.org" },
        });
        let item = review_item(event(payload.clone()), &none());
        let mut kinds: Vec<&str> = item.findings.iter().map(|f| f.kind.as_str()).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["email", "ip"]);
        let redacted = redacted_payload(&payload.to_string(), &none()).unwrap();
        assert!(
            redacted.contains("[email]") && redacted.contains("[ip]"),
            "{redacted}"
        );
        assert!(!redacted.contains("a@b.org"));
        assert!(
            redacted_payload(&redacted, &none()).is_none(),
            "nothing left to redact"
        );
    }

    #[test]
    fn groups_put_the_newest_conversation_first_and_name_deleted_ones() {
        let mut old = event(json!({ "text": "old" }));
        old.conversation_id = Uuid::from_u128(7);
        old.created_at_ms = 1;
        let new = event(json!({ "text": "new" }));
        let titles = HashMap::from([(Uuid::from_u128(2), "Kept".to_owned())]);
        let groups = review_groups(vec![old, new], &titles, &none());
        let names: Vec<&str> = groups.iter().map(|g| g.title.as_str()).collect();
        assert_eq!(names, ["Kept", DELETED_TITLE]);
    }
}
