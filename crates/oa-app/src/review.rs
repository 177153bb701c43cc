//! Review & Share: the outbox as the person reviews it — each event with exactly what would be
//! sent, the personal data found in its free text (marked by byte offsets into that text), and
//! the redaction that replaces it. Findings the person dismissed as "not personal" are set
//! apart, unmarked and left as written, wherever the same text is found as the same kind.
//!
//! Only free text is scanned: the fields [`EventPayload::free_text`] names (message text, a
//! vote's reasons and comment). Ids, timestamps, roles, language tags and model names are never
//! personal data of the writer, and a UUID or a timestamp would otherwise read as a phone
//! number. A payload that does not read as its kind has no free text here; the server refuses
//! it whole.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use oa_types::{
    ContributionEvent, EventPayload, PayloadFinding, ReviewGroup, ReviewItem, SubmittedEvent, Uuid,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

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
    let (payload_json, free_text) = shown(&event);
    let mut findings = Vec::new();
    for range in free_text {
        let Some(text) = unescape(&payload_json[range.clone()]) else {
            continue;
        };
        for found in oa_privacy::scan(&text) {
            // The shown text is serde_json's, which escapes character by character: the offset
            // of a finding is the length of the escaped text before it.
            let start = range.start + escaped(&text[..found.start]).len();
            let end = start + escaped(&text[found.start..found.end]).len();
            findings.push(PayloadFinding {
                kind: found.kind.as_str().to_owned(),
                description: found.kind.description().to_owned(),
                start,
                end,
                text: found.text,
            });
        }
    }
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

/// The envelope the sync client sends, pretty-printed so that whatever it carries is shown,
/// with the payload (which travels as JSON text) shown as the JSON it holds; and where the
/// payload's free text is in it.
fn shown(event: &ContributionEvent) -> (String, Vec<Range<usize>>) {
    let mut envelope = serde_json::to_value(SubmittedEvent::from(event)).unwrap_or(Value::Null);
    let Ok(payload) = serde_json::from_str::<Value>(&event.payload) else {
        // Not JSON: shown as the text it is.
        return (
            serde_json::to_string_pretty(&envelope).unwrap_or_default(),
            Vec::new(),
        );
    };
    envelope["payload"] = Value::Null;
    let outer = serde_json::to_string_pretty(&envelope).unwrap_or_default();
    const SLOT: &str = "\"payload\": null";
    let Some(slot) = outer.find(SLOT) else {
        return (outer, Vec::new());
    };
    // The payload pretty-printed one level in, as it stands inside the envelope: its lines
    // move two spaces right (JSON strings hold no raw line breaks, so no text changes).
    let inner = serde_json::to_string_pretty(&payload)
        .unwrap_or_default()
        .replace('\n', "\n  ");
    let at = slot + SLOT.len() - "null".len();
    let free_text = EventPayload::parse(event.kind, &event.payload)
        .map(|typed| typed.free_text(&inner))
        .unwrap_or_default()
        .into_iter()
        .map(|(range, _)| range.start + at..range.end + at)
        .collect();
    let shown = format!("{}{inner}{}", &outer[..at], &outer[slot + SLOT.len()..]);
    (shown, free_text)
}

/// The event's payload with every finding in its free text replaced by a placeholder (those
/// dismissed as not personal left as written), or `None` when there is nothing to replace.
/// Every byte outside the replaced text stays as it was.
pub(crate) fn redacted_payload(event: &ContributionEvent, dismissed: &Dismissed) -> Option<String> {
    let payload = EventPayload::parse(event.kind, &event.payload).ok()?;
    let mut redacted = event.payload.clone();
    let mut changed = false;
    // From the end, so that the ranges before each replacement still hold.
    for (range, _) in payload.free_text(&event.payload).into_iter().rev() {
        let Some(text) = unescape(&event.payload[range.clone()]) else {
            continue;
        };
        let mut found = oa_privacy::scan(&text);
        found.retain(|f| !dismissed.covers(f.kind.as_str(), &f.text));
        if !found.is_empty() {
            redacted.replace_range(range, &escaped(&oa_privacy::redact(&text, &found)));
            changed = true;
        }
    }
    changed.then_some(redacted)
}

/// The text a JSON string's contents (escaped, without quotes) hold.
fn unescape(contents: &str) -> Option<String> {
    serde_json::from_str(&format!("\"{contents}\"")).ok()
}

/// `text` as the contents of a JSON string, as serde_json writes it.
fn escaped(text: &str) -> String {
    let json = serde_json::to_string(text).unwrap_or_default();
    json[1..json.len() - 1].to_owned()
}

#[cfg(test)]
mod tests {
    use oa_types::{ConsentState, ContributionKind, Message, Role};
    use serde_json::json;

    use super::*;

    /// Its UUID ends in digits that would read as a phone number.
    const SUBJECT: u128 = 5_551_234_567;

    fn none() -> Dismissed {
        Dismissed::new(HashSet::new())
    }

    fn event(kind: ContributionKind, payload: String) -> ContributionEvent {
        ContributionEvent {
            id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            kind,
            subject_id: Uuid::from_u128(SUBJECT),
            conversation_id: Uuid::from_u128(2),
            payload,
            state: ConsentState::Private,
            rejection_reason: None,
            created_at_ms: 1_764_000_000_000,
            redacted: false,
            task_id: None,
        }
    }

    /// A prompt, with the payload the outbox writes for it.
    fn prompt(text: &str) -> ContributionEvent {
        let message = Message {
            id: Uuid::from_u128(SUBJECT),
            conversation_id: Uuid::from_u128(2),
            parent_id: None,
            role: Role::Prompter,
            text: text.to_owned(),
            created_at_ms: 1_764_000_000_000,
            provenance: None,
            corrects: None,
        };
        event(
            ContributionKind::Message,
            EventPayload::message(message).to_json(),
        )
    }

    /// A thumbs vote on the subject.
    fn vote(thumbs: Value) -> ContributionEvent {
        let payload = json!({ "message_id": Uuid::from_u128(SUBJECT), "thumbs": thumbs });
        event(ContributionKind::Rating, payload.to_string())
    }

    #[test]
    fn findings_point_at_the_data_in_the_pretty_payload_despite_escapes() {
        let text = "Zoë said \"hi\"\n\tand: mail jane.doe@mailbox.org, call +1 415 555 0142";
        let item = review_item(prompt(text), &none());
        let cut: Vec<(&str, &str)> = item
            .findings
            .iter()
            .map(|f| (f.kind.as_str(), &item.payload_json[f.start..f.end]))
            .collect();
        assert_eq!(
            cut,
            [
                ("email", "jane.doe@mailbox.org"),
                ("phone", "+1 415 555 0142")
            ]
        );
        assert_eq!(item.findings[0].description, "e-mail address");
        assert_eq!(item.findings[0].text, "jane.doe@mailbox.org");
    }

    #[test]
    fn the_payload_is_shown_as_serde_json_prints_it_inside_the_envelope() {
        let event = vote(json!({ "vote": "-1", "reasons": ["wrong"], "comment": "a@b.org" }));
        let item = review_item(event.clone(), &none());
        let mut envelope = serde_json::to_value(SubmittedEvent::from(&event)).unwrap();
        envelope["payload"] = serde_json::from_str(&event.payload).unwrap();
        assert_eq!(
            item.payload_json,
            serde_json::to_string_pretty(&envelope).unwrap()
        );
        let found: Vec<&str> = item
            .findings
            .iter()
            .map(|f| &item.payload_json[f.start..f.end])
            .collect();
        assert_eq!(found, ["a@b.org"]);
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
        let item = review_item(prompt(text), &dismissed);
        let kinds = |f: &[PayloadFinding]| f.iter().map(|f| f.kind.clone()).collect::<Vec<_>>();
        assert_eq!(kinds(&item.findings), ["phone"]);
        assert_eq!(kinds(&item.dismissed), ["email"]);
        let e = &item.dismissed[0];
        assert_eq!(&item.payload_json[e.start..e.end], "a@b.org");
        let redacted = redacted_payload(&prompt(text), &dismissed).unwrap();
        assert!(
            redacted.contains("a@b.org") && redacted.contains("[phone]"),
            "{redacted}"
        );
    }

    #[test]
    fn a_redaction_changes_the_free_text_and_no_other_byte() {
        let text = "Zoë \"here\": mail zoe@example.com";
        let original = prompt(text);
        let redacted = redacted_payload(&original, &none()).unwrap();
        let expected = original.payload.replace("zoe@example.com", "[email]");
        assert_eq!(redacted, expected);
        let typed = EventPayload::parse(ContributionKind::Message, &redacted).unwrap();
        let EventPayload::Message(message) = typed else {
            panic!("a message: {redacted}");
        };
        assert_eq!(message.text, "Zoë \"here\": mail [email]");
    }

    #[test]
    fn the_payload_shown_is_the_event_the_sync_client_sends() {
        let item = review_item(prompt("hi"), &none());
        let mut shown: Value = serde_json::from_str(&item.payload_json).unwrap();
        // On the wire the payload is the JSON text itself; shown, it is that JSON.
        shown["payload"] = Value::String(shown["payload"].to_string());
        let sent: SubmittedEvent = serde_json::from_value(shown).unwrap();
        assert_eq!(sent, SubmittedEvent::from(&item.event));
    }

    #[test]
    fn ids_timestamps_and_roles_are_never_flagged() {
        let item = review_item(
            vote(json!({ "vote": "-1", "reasons": ["wrong"], "comment": null })),
            &none(),
        );
        assert!(item.findings.is_empty(), "{:?}", item.findings);
        let item = review_item(prompt("Nothing personal here"), &none());
        assert!(item.findings.is_empty(), "{:?}", item.findings);
    }

    #[test]
    fn comments_and_reasons_are_scanned_and_redacted() {
        let event =
            vote(json!({ "vote": "-1", "reasons": ["see 10.0.0.7"], "comment": "me: a@b.org" }));
        let item = review_item(event.clone(), &none());
        let mut kinds: Vec<&str> = item.findings.iter().map(|f| f.kind.as_str()).collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["email", "ip"]);
        let redacted = redacted_payload(&event, &none()).unwrap();
        assert!(
            redacted.contains("[email]") && redacted.contains("[ip]"),
            "{redacted}"
        );
        assert!(!redacted.contains("a@b.org"));
        let again = ContributionEvent {
            payload: redacted,
            ..event
        };
        assert!(
            redacted_payload(&again, &none()).is_none(),
            "nothing left to redact"
        );
    }

    #[test]
    fn groups_put_the_newest_conversation_first_and_name_deleted_ones() {
        let mut old = prompt("old");
        old.conversation_id = Uuid::from_u128(7);
        old.created_at_ms = 1;
        let new = prompt("new");
        let titles = HashMap::from([(Uuid::from_u128(2), "Kept".to_owned())]);
        let groups = review_groups(vec![old, new], &titles, &none());
        let names: Vec<&str> = groups.iter().map(|g| g.title.as_str()).collect();
        assert_eq!(names, ["Kept", DELETED_TITLE]);
    }
}
