//! Export to Open-Assistant's oasst format and import back.

use std::collections::BTreeSet;

use oa_store::{ImportProblem, Store, StoreError};
use oa_types::{Emoji, Labels, Message, Ranking, Role, TextLabel, Uuid};
use serde_json::{Value, json};

fn pause() {
    std::thread::sleep(std::time::Duration::from_millis(2));
}

/// The messages of the feature-rich tree, by name.
struct Fixture {
    prompt: Message,
    model: Message,
    human: Message,
    follow: Message,
    edited: Message,
}

/// A tree with branches: a prompt with a model reply and a person's correction of it, ranked
/// and labelled, with reactions, a follow-up with an edited sibling; and a second conversation.
fn fixture(store: &mut Store) -> Fixture {
    let prompt = store
        .add_prompt(
            None,
            "What is the best way to learn a new language as an adult with little free time?",
        )
        .unwrap();
    pause();
    let model = store
        .add_reply(
            &prompt,
            "Practise a little every day, speak with native speakers and read what you enjoy.",
            Some(super::super::provenance()),
        )
        .unwrap();
    pause();
    let human = store
        .add_correction(
            prompt.conversation_id,
            model.id,
            "Short daily sessions beat long weekly ones; pair an app with real conversations.",
        )
        .unwrap();
    store
        .rank_replies(prompt.id, &Ranking::Ranked(vec![human.id, model.id]))
        .unwrap();
    store
        .set_labels(
            model.id,
            &Labels([(TextLabel::Quality, 0.75), (TextLabel::Spam, 0.0)].into()),
        )
        .unwrap();
    store.set_reaction(human.id, Emoji::Hundred, true).unwrap();
    store.set_reaction(human.id, Emoji::ThumbsUp, true).unwrap();
    pause();
    let follow = store
        .add_prompt(
            Some(prompt.conversation_id),
            "Which apps would you suggest?",
        )
        .unwrap();
    assert_eq!(follow.parent_id, Some(human.id));
    pause();
    let edited = store
        .add_sibling_prompt(
            prompt.conversation_id,
            follow.id,
            "Wie lange dauert es, bis man fließend Deutsch spricht?",
        )
        .unwrap();
    pause();
    let other = store.add_prompt(None, "Hello!").unwrap();
    pause();
    store
        .add_reply(&other, "Hi, how can I help?", None)
        .unwrap();
    Fixture {
        prompt,
        model,
        human,
        follow,
        edited,
    }
}

fn export(store: &Store) -> (Vec<u8>, Vec<u8>) {
    let (mut messages, mut trees) = (Vec::new(), Vec::new());
    store.write_oasst(&mut messages, &mut trees).unwrap();
    (messages, trees)
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn export_then_import_then_export_is_byte_identical() {
    let mut store = Store::open_in_memory().unwrap();
    let f = fixture(&mut store);
    let (messages, trees) = export(&store);

    let dir = tempfile::tempdir().unwrap();
    let mut fresh = Store::open(&dir.path().join("fresh.sqlite3")).unwrap();
    let summary = fresh.import_oasst_trees(&trees[..]).unwrap();
    assert_eq!(summary.conversations.len(), 2);
    assert_eq!(summary.messages, 7);
    let (messages_again, trees_again) = export(&fresh);
    assert_eq!(
        String::from_utf8(trees_again).unwrap(),
        String::from_utf8(trees).unwrap()
    );
    assert_eq!(
        String::from_utf8(messages_again).unwrap(),
        String::from_utf8(messages).unwrap()
    );

    // The tree and what the store models of its feedback came back.
    let siblings: Vec<Uuid> = fresh
        .siblings(f.model.id)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(siblings, [f.model.id, f.human.id]);
    let prompts: Vec<Uuid> = fresh
        .siblings(f.follow.id)
        .unwrap()
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(prompts, [f.follow.id, f.edited.id]);
    let on_prompt = fresh.feedback(f.prompt.id).unwrap();
    assert_eq!(
        on_prompt.ranking,
        Some(Ranking::Ranked(vec![f.human.id, f.model.id]))
    );
    assert_eq!(
        fresh.feedback(f.model.id).unwrap().labels,
        store.feedback(f.model.id).unwrap().labels
    );
    assert_eq!(
        fresh.feedback(f.human.id).unwrap().reactions,
        [Emoji::ThumbsUp, Emoji::Hundred]
    );
    let conversation = fresh.conversation(summary.conversations[0]).unwrap();
    let path: Vec<Uuid> = conversation.messages.iter().map(|m| m.id).collect();
    assert_eq!(
        path,
        [f.prompt.id, f.human.id, f.edited.id],
        "ends at the newest leaf"
    );
    let model = &fresh.siblings(f.model.id).unwrap()[0];
    let provenance = model.provenance.as_ref().expect("still synthetic");
    assert_eq!(provenance.model_id, "SmolLM2 135M Instruct");
    assert_eq!(provenance.engine_version, oa_store::IMPORTED_ENGINE_VERSION);
    assert_eq!(
        fresh.message_lang(f.edited.id).unwrap().as_deref(),
        Some("de")
    );
    assert!(
        fresh
            .events(oa_types::ConsentState::Private)
            .unwrap()
            .is_empty(),
        "imported data is not the person's contribution"
    );
}

#[test]
fn export_files_land_beside_each_other() {
    let mut store = Store::open_in_memory().unwrap();
    fixture(&mut store);
    let dir = tempfile::tempdir().unwrap();
    let (messages, trees) = store.export_oasst_files(dir.path(), "local").unwrap();
    assert_eq!(messages, dir.path().join("local.messages.jsonl"));
    assert_eq!(trees, dir.path().join("local.trees.jsonl"));
    let (m, t) = export(&store);
    assert_eq!(std::fs::read(messages).unwrap(), m);
    assert_eq!(std::fs::read(trees).unwrap(), t);
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn is_oasst_date(value: &Value) -> bool {
    let s = value.as_str().unwrap();
    let b = s.as_bytes();
    s.len() == 32
        && s.ends_with("+00:00")
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && s[..19].bytes().filter(u8::is_ascii_digit).count() == 14
        && s[20..26].bytes().all(|c| c.is_ascii_digit())
}

/// The fields every exported message has, whatever it is.
const ALWAYS: [&str; 9] = [
    "message_id",
    "created_date",
    "text",
    "role",
    "review_count",
    "deleted",
    "synthetic",
    "detoxify",
    "lang",
];

#[test]
fn every_record_has_open_assistants_fields_names_and_types() {
    let mut store = Store::open_in_memory().unwrap();
    let f = fixture(&mut store);
    let (messages, trees) = export(&store);
    let trees = lines(&trees);
    assert_eq!(trees.len(), 2);
    let tree = &trees[0];
    assert_eq!(
        keys(tree),
        BTreeSet::from(["message_tree_id", "tree_state", "prompt"])
    );
    assert_eq!(tree["tree_state"], "ready_for_export");
    assert_eq!(tree["message_tree_id"], f.prompt.id.to_string());

    let prompt = &tree["prompt"];
    let mut expected: BTreeSet<&str> = ALWAYS.into();
    expected.insert("replies");
    assert_eq!(keys(prompt), expected, "a root has no parent_id, no rank");
    assert_eq!(prompt["message_id"], f.prompt.id.to_string());
    assert!(
        is_oasst_date(&prompt["created_date"]),
        "{}",
        prompt["created_date"]
    );
    assert_eq!(prompt["text"], f.prompt.text);
    assert_eq!(prompt["role"], "prompter");
    assert_eq!(prompt["lang"], "en");
    assert_eq!(prompt["review_count"], 0);
    assert_eq!(prompt["deleted"], false);
    assert_eq!(prompt["synthetic"], false);
    assert_eq!(prompt["detoxify"], Value::Null);

    let replies = prompt["replies"].as_array().unwrap();
    assert_eq!(replies.len(), 2, "siblings, oldest first");
    let (model, human) = (&replies[0], &replies[1]);
    let mut expected: BTreeSet<&str> = ALWAYS.into();
    expected.extend(["parent_id", "rank", "model_name", "labels", "replies"]);
    assert_eq!(keys(model), expected);
    assert_eq!(model["message_id"], f.model.id.to_string());
    assert_eq!(model["parent_id"], f.prompt.id.to_string());
    assert_eq!(model["role"], "assistant");
    assert_eq!(model["synthetic"], true);
    assert_eq!(model["model_name"], "SmolLM2 135M Instruct");
    assert_eq!(model["rank"], 1);
    assert_eq!(
        model["labels"],
        json!({"quality": {"value": 0.75, "count": 1}, "spam": {"value": 0.0, "count": 1}})
    );
    assert_eq!(model["replies"], json!([]));

    let mut expected: BTreeSet<&str> = ALWAYS.into();
    expected.extend(["parent_id", "rank", "emojis", "replies"]);
    assert_eq!(keys(human), expected, "a human reply has no model_name");
    assert_eq!(human["synthetic"], false);
    assert_eq!(human["rank"], 0, "ranked best");
    assert_eq!(human["emojis"], json!({"+1": 1, "100": 1}));
    let follow_ups = human["replies"].as_array().unwrap();
    let ids: Vec<&str> = follow_ups
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [f.follow.id.to_string(), f.edited.id.to_string()]);
    assert_eq!(follow_ups[1]["lang"], "de");
    assert_eq!(follow_ups[1]["role"], "prompter");

    let other = &trees[1]["prompt"];
    assert!(other.get("lang").is_none(), "too short to tell: left out");

    // The messages file: the same records, flat, depth first, each naming its tree.
    let flat = lines(&messages);
    let order: Vec<&str> = flat
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    let expected_order = [
        f.prompt.id,
        f.model.id,
        f.human.id,
        f.follow.id,
        f.edited.id,
    ]
    .map(|id| id.to_string());
    assert_eq!(order[..5], expected_order);
    assert_eq!(flat.len(), 7);
    for record in &flat[..5] {
        assert!(record.get("replies").is_none());
        assert_eq!(record["message_tree_id"], f.prompt.id.to_string());
        assert_eq!(record["tree_state"], "ready_for_export");
        for field in ALWAYS.iter().filter(|f| **f != "lang") {
            assert!(record.get(field).is_some(), "{field} in {record}");
        }
    }
    let mut model_flat = model.clone();
    model_flat.as_object_mut().unwrap().remove("replies");
    model_flat["message_tree_id"] = json!(f.prompt.id);
    model_flat["tree_state"] = json!("ready_for_export");
    assert_eq!(flat[1], model_flat);
}

#[test]
fn a_long_conversation_survives_the_round_trip() {
    let mut store = Store::open_in_memory().unwrap();
    let mut last = store.add_prompt(None, "Let us count together.").unwrap();
    for turn in 0..150 {
        last = if last.role == Role::Prompter {
            store.add_reply(&last, &format!("{turn}"), None).unwrap()
        } else {
            store
                .add_prompt(Some(last.conversation_id), &format!("{turn}"))
                .unwrap()
        };
    }
    let (messages, trees) = export(&store);
    let mut fresh = Store::open_in_memory().unwrap();
    assert_eq!(fresh.import_oasst_trees(&trees[..]).unwrap().messages, 151);
    assert_eq!(export(&fresh), (messages, trees));
}

/// A valid one-tree line: a prompt with one reply, with the given ids.
fn tree_line(prompt: Uuid, reply: Uuid) -> Value {
    json!({
        "message_tree_id": prompt,
        "tree_state": "ready_for_export",
        "prompt": {
            "message_id": prompt, "created_date": "2023-02-05T14:23:50.983374+00:00",
            "text": "Why is the sky blue?", "role": "prompter", "lang": "en",
            "review_count": 3, "review_result": true, "deleted": false, "synthetic": false,
            "detoxify": {"toxicity": 0.001},
            "replies": [{
                "message_id": reply, "parent_id": prompt,
                "created_date": "2023-02-05T14:30:00Z",
                "text": "Rayleigh scattering.", "role": "assistant",
                "review_count": 0, "deleted": false, "synthetic": false, "replies": [],
            }],
        },
    })
}

fn file(lines: &[Value]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn import_error(store: &mut Store, input: &str) -> (usize, ImportProblem) {
    match store.import_oasst_trees(input.as_bytes()) {
        Err(StoreError::Import { line, problem }) => (line, problem),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_input_names_the_line_and_imports_nothing() {
    let mut store = Store::open_in_memory().unwrap();
    let ids: Vec<Uuid> = (1..=8).map(Uuid::from_u128).collect();
    let good = tree_line(ids[0], ids[1]);

    let (line, problem) = import_error(&mut store, &format!("{}\n{{not json\n", good));
    assert_eq!(line, 2);
    assert!(
        matches!(problem, ImportProblem::Malformed(_)),
        "{problem:?}"
    );

    let mut unknown_role = tree_line(ids[2], ids[3]);
    unknown_role["prompt"]["replies"][0]["role"] = json!("user");
    let (line, problem) = import_error(&mut store, &file(&[good.clone(), unknown_role]));
    assert_eq!(line, 2);
    assert_eq!(
        problem,
        ImportProblem::UnknownRole {
            message: ids[3],
            role: "user".into()
        }
    );

    let mut orphan = tree_line(ids[2], ids[3]);
    orphan["prompt"]["parent_id"] = json!(ids[7]);
    let (line, problem) = import_error(&mut store, &file(&[good.clone(), orphan]));
    assert_eq!(line, 2);
    assert_eq!(
        problem,
        ImportProblem::MissingParent {
            message: ids[2],
            parent: Some(ids[7])
        }
    );
    let mut misplaced = tree_line(ids[2], ids[3]);
    misplaced["prompt"]["replies"][0]["parent_id"] = json!(ids[7]);
    let (_, problem) = import_error(&mut store, &file(&[misplaced]));
    assert!(matches!(problem, ImportProblem::MissingParent { message, .. } if message == ids[3]));

    let duplicate = tree_line(ids[2], ids[1]);
    let (line, problem) = import_error(&mut store, &file(&[good.clone(), duplicate]));
    assert_eq!(line, 2);
    assert_eq!(problem, ImportProblem::DuplicateMessage(ids[1]));

    let mut bad_date = tree_line(ids[2], ids[3]);
    bad_date["prompt"]["created_date"] = json!("yesterday");
    let (_, problem) = import_error(&mut store, &format!("\n{}", file(&[bad_date])));
    assert!(matches!(problem, ImportProblem::BadDate { .. }));

    let mut bad_emoji = tree_line(ids[2], ids[3]);
    bad_emoji["prompt"]["emojis"] = json!({"tada": 1});
    let (_, problem) = import_error(&mut store, &file(&[bad_emoji]));
    assert!(
        matches!(problem, ImportProblem::Feedback { .. }),
        "{problem:?}"
    );

    let err = store
        .import_oasst_trees(format!("{}\n{{", good).as_bytes())
        .unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert!(err.to_string().contains("nothing was imported"), "{err}");

    // Nothing of any refused file was kept.
    assert!(store.list_conversations().unwrap().is_empty());
    // The good line alone imports; importing it again finds its ids already stored.
    let summary = store
        .import_oasst_trees(file(std::slice::from_ref(&good)).as_bytes())
        .unwrap();
    assert_eq!(summary.messages, 2);
    assert_eq!(store.message_lang(ids[0]).unwrap().as_deref(), Some("en"));
    let (line, problem) = import_error(&mut store, &file(&[good]));
    assert_eq!(
        (line, problem),
        (1, ImportProblem::DuplicateMessage(ids[0]))
    );
    assert_eq!(store.list_conversations().unwrap().len(), 1);
}
