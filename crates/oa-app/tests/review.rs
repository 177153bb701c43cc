//! Review & Share and the local task queue through the app, on a real SQLite file: personal data
//! is found at the exact place in the payload, redaction changes what is sent (not the
//! conversation), consent moves item by item or per conversation, and everything survives a
//! restart; a finding dismissed as not personal stays so until taken back. No model is needed:
//! a first-prompt task writes a message without one.

use oa_app::{App, AppConfig};
use oa_types::{ConsentState, ContributionKind, TaskAnswer, TaskKind, Thumbs, Vote};

fn open(dir: &std::path::Path) -> App {
    App::open(AppConfig::new(
        dir.to_owned(),
        Some(dir.join("no-model.gguf")),
    ))
    .unwrap()
}

const TEXT: &str =
    "Plan a \"surprise\" party.\nMail me at jane.okafor@example.com or call +1 415 555 0142.";

#[tokio::test]
async fn personal_data_is_marked_redacted_and_shared_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let queue = app
        .tasks()
        .complete(TaskAnswer::InitialPrompt { text: TEXT.into() }, 0)
        .await
        .unwrap();
    assert_eq!(queue.progress.done_today, 1);

    let groups = app.sharing().review_queue().await.unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].title, "Plan a \"surprise\" party.");
    let item = &groups[0].items[0];
    assert_eq!(item.event.kind, ContributionKind::Message);
    assert_eq!(
        item.event.state,
        ConsentState::Private,
        "private by default"
    );
    let marked: Vec<(&str, &str)> = item
        .findings
        .iter()
        .map(|f| (f.kind.as_str(), &item.payload_json[f.start..f.end]))
        .collect();
    assert_eq!(
        marked,
        [
            ("email", "jane.okafor@example.com"),
            ("phone", "+1 415 555 0142")
        ]
    );
    // The payload shown is the one sent: the envelope with the message inside.
    let shown: serde_json::Value = serde_json::from_str(&item.payload_json).unwrap();
    assert_eq!(shown["id"], item.event.id.to_string());
    assert_eq!(shown["payload"]["text"], TEXT);

    let id = item.event.id;
    let groups = app.sharing().redact_event(id).await.unwrap();
    let item = &groups[0].items[0];
    assert!(item.event.redacted && item.findings.is_empty());
    assert!(item.payload_json.contains("[email]") && item.payload_json.contains("[phone]"));
    assert!(!item.payload_json.contains("jane.doe"));

    let groups = app.sharing().share_event(id).await.unwrap();
    assert_eq!(groups[0].items[0].event.state, ConsentState::Queued);
    let groups = app.sharing().unshare_event(id).await.unwrap();
    assert_eq!(groups[0].items[0].event.state, ConsentState::Private);
    drop(app);

    // After a restart: still private, still redacted, the conversation itself untouched.
    let app = open(dir.path());
    let groups = app.sharing().review_queue().await.unwrap();
    let item = &groups[0].items[0];
    assert_eq!(item.event.state, ConsentState::Private);
    assert!(item.event.redacted && item.payload_json.contains("[email]"));
    let conversation = app.chat().open(groups[0].conversation_id).await.unwrap();
    assert_eq!(conversation.messages[0].text, TEXT);

    let groups = app
        .sharing()
        .share_conversation(groups[0].conversation_id)
        .await
        .unwrap();
    assert!(
        groups[0]
            .items
            .iter()
            .all(|i| i.event.state == ConsentState::Queued)
    );
    let groups = app
        .sharing()
        .unshare_conversation(groups[0].conversation_id)
        .await
        .unwrap();
    assert!(
        groups[0]
            .items
            .iter()
            .all(|i| i.event.state == ConsentState::Private)
    );
}

#[tokio::test]
async fn a_vote_has_nothing_to_flag_and_a_sent_item_cannot_be_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    app.tasks()
        .complete(
            TaskAnswer::InitialPrompt {
                text: "Call 212 555 0100 please".into(),
            },
            0,
        )
        .await
        .unwrap();
    let prompt_event = app.sharing().review_queue().await.unwrap()[0].items[0]
        .event
        .clone();
    // Rating a prompt is allowed by the store; its payload holds ids and a vote only.
    app.feedback()
        .rate(
            prompt_event.subject_id,
            Thumbs {
                vote: Vote::Up,
                reasons: vec![],
                comment: None,
            },
        )
        .await
        .unwrap();
    let groups = app.sharing().review_queue().await.unwrap();
    let rating = groups[0]
        .items
        .iter()
        .find(|i| i.event.kind == ContributionKind::Rating)
        .unwrap();
    assert!(rating.findings.is_empty(), "{:?}", rating.findings);

    app.sharing().share_event(prompt_event.id).await.unwrap();
    let sent = {
        let store_path = AppConfig::new(dir.path().to_owned(), None).database_path();
        let mut store = oa_store::Store::open(&store_path).unwrap();
        store.mark_event_sent(prompt_event.id).unwrap().state
    };
    assert_eq!(sent, ConsentState::Sent);
    let err = app
        .sharing()
        .redact_event(prompt_event.id)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already sent"), "{err}");

    // The queue offers the first-prompt task; skipping it keeps it offered.
    let queue = app.tasks().skip("initial_prompt".into(), 0).await.unwrap();
    assert_eq!(
        queue.tasks.last().map(|t| t.kind),
        Some(TaskKind::InitialPrompt)
    );
}

/// A prompt with a signature, a Dutch address and a reset link, and look-alikes in code.
const LETTER: &str = "Please answer this customer for me.\n\
    Our shop is at Keizersgracht 123, 1015 CJ Amsterdam; reset your password at \
    https://accounts.example-shop.nl/reset?token=f8Kq2LzX9vRt4WmN7pYc3HdJ6sBa1QeU\n\
    ```\npip install foo==1.2.3\ncurl http://127.0.0.1:8080/health  # build 1.2.3.4\n```\n\
    Met vriendelijke groet,\nSanne de Vries";

/// The kinds and texts of an item's findings, or of what it has dismissed.
fn found(findings: &[oa_types::PayloadFinding]) -> Vec<(&str, &str)> {
    findings
        .iter()
        .map(|f| (f.kind.as_str(), f.text.as_str()))
        .collect()
}

/// How many items have personal data marked ("N items with personal data").
fn flagged(groups: &[oa_types::ReviewGroup]) -> usize {
    groups
        .iter()
        .flat_map(|g| &g.items)
        .filter(|i| !i.findings.is_empty())
        .count()
}

#[tokio::test]
async fn a_finding_dismissed_as_not_personal_stays_dismissed_until_taken_back() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    for text in [LETTER, "Forward it to Sanne de Vries, please."] {
        app.tasks()
            .complete(TaskAnswer::InitialPrompt { text: text.into() }, 0)
            .await
            .unwrap();
    }
    let groups = app.sharing().review_queue().await.unwrap();
    let id = groups
        .iter()
        .flat_map(|g| &g.items)
        .find(|i| i.payload_json.contains("Keizersgracht"))
        .unwrap()
        .event
        .id;
    let letter = |groups: &[oa_types::ReviewGroup]| {
        groups
            .iter()
            .flat_map(|g| &g.items)
            .find(|i| i.event.id == id)
            .cloned()
            .unwrap()
    };
    let item = letter(&groups);
    assert_eq!(
        found(&item.findings),
        [
            ("address", "Keizersgracht 123, 1015 CJ Amsterdam"),
            (
                "secret_url",
                "https://accounts.example-shop.nl/reset?token=f8Kq2LzX9vRt4WmN7pYc3HdJ6sBa1QeU"
            ),
            ("name", "Sanne de Vries"),
        ],
        "nothing in the code block is flagged"
    );
    assert!(item.dismissed.is_empty());

    // Dismissed: no longer a finding, here or in the other prompt with the same name.
    let groups = app
        .sharing()
        .dismiss_finding("name".into(), "Sanne de Vries".into())
        .await
        .unwrap();
    let item = letter(&groups);
    assert_eq!(found(&item.dismissed), [("name", "Sanne de Vries")]);
    assert_eq!(
        found(&item.findings),
        [
            ("address", "Keizersgracht 123, 1015 CJ Amsterdam"),
            (
                "secret_url",
                "https://accounts.example-shop.nl/reset?token=f8Kq2LzX9vRt4WmN7pYc3HdJ6sBa1QeU"
            ),
        ]
    );
    assert_eq!(
        flagged(&groups),
        1,
        "the other prompt has nothing left to flag"
    );

    // Redact replaces what is still a finding and leaves the dismissed name as written.
    let groups = app.sharing().redact_event(id).await.unwrap();
    let item = letter(&groups);
    let sent: serde_json::Value = serde_json::from_str(&item.payload_json).unwrap();
    let text = sent["payload"]["text"].as_str().unwrap();
    assert!(
        text.contains("[address]") && text.contains("[secret_url]"),
        "{text}"
    );
    assert!(
        text.ends_with("Met vriendelijke groet,\nSanne de Vries"),
        "{text}"
    );
    assert!(item.event.redacted && item.findings.is_empty());
    drop(app);

    // After a restart the name is still dismissed; undoing it flags it again everywhere.
    let app = open(dir.path());
    let groups = app.sharing().review_queue().await.unwrap();
    let other = groups
        .iter()
        .flat_map(|g| &g.items)
        .find(|i| i.payload_json.contains("Forward it"))
        .unwrap();
    assert!(other.findings.is_empty());
    assert_eq!(found(&other.dismissed), [("name", "Sanne de Vries")]);
    let groups = app
        .sharing()
        .restore_finding("name".into(), "Sanne de Vries".into())
        .await
        .unwrap();
    let item = letter(&groups);
    assert_eq!(found(&item.findings), [("name", "Sanne de Vries")]);
    assert!(item.dismissed.is_empty());
    assert_eq!(flagged(&groups), 2);
}

#[tokio::test]
async fn only_a_kind_the_detector_reports_can_be_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    for (kind, text) in [("nickname", "Sanne"), ("name", "  "), ("", "Sanne")] {
        let err = oa_types::AppError::from(
            app.sharing()
                .dismiss_finding(kind.into(), text.into())
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code, oa_types::ErrorCode::InvalidRequest, "{kind:?}");
        assert!(err.message.contains("to dismiss"), "{}", err.message);
    }
    assert!(app.sharing().review_queue().await.unwrap().is_empty());
}

#[tokio::test]
async fn sharing_and_taking_back_tell_those_who_follow_the_sync_status() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    app.tasks()
        .complete(TaskAnswer::InitialPrompt { text: "Hi".into() }, 0)
        .await
        .unwrap();
    let id = app.sharing().review_queue().await.unwrap()[0].items[0]
        .event
        .id;
    let mut changes = app.sharing().changes();
    let told = |changes: &mut oa_app::SyncChanges| {
        let mut changed = Box::pin(changes.changed());
        let waker = std::task::Waker::noop();
        matches!(
            changed
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker)),
            std::task::Poll::Ready(true)
        )
    };
    assert!(!told(&mut changes), "nothing changed yet");

    app.sharing().share_event(id).await.unwrap();
    assert!(told(&mut changes));
    assert_eq!(app.sharing().status().await.unwrap().waiting, 1);
    app.sharing().unshare_event(id).await.unwrap();
    assert!(told(&mut changes));
    assert_eq!(app.sharing().status().await.unwrap().waiting, 0);
    assert!(!told(&mut changes), "each change is told once");
}
