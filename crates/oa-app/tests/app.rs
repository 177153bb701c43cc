//! The chat use case end to end below the UI: real model, real SQLite file.

use std::path::PathBuf;

use oa_app::{App, AppConfig};
use oa_types::{
    AppError, ChatEvent, ErrorCode, ModelStatus, Regenerate, SamplerParams, SendMessage,
    TaskAnswer, TaskKind,
};

fn model_path() -> PathBuf {
    oa_engine::testing::default_model()
}

fn short_reply() -> Option<SamplerParams> {
    Some(SamplerParams {
        max_tokens: 24,
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_streams_a_reply_that_is_stored_with_provenance_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: model_path(),
    };
    let app = App::open(config.clone()).unwrap();
    let ModelStatus::Ready { info } = app.models().wait_for_load().await else {
        panic!("model not ready")
    };

    let mut events = Vec::new();
    let request = SendMessage {
        conversation_id: None,
        text: "Say hello in Spanish.".into(),
        sampler: short_reply(),
        edit_of: None,
        settings: None,
    };
    let reply = app
        .chat()
        .send(request, |e| {
            events.push(e);
            true
        })
        .await
        .unwrap();

    let ChatEvent::Started { prompt } = &events[0] else {
        panic!("first event: {:?}", events[0])
    };
    let tokens: String = events
        .iter()
        .filter_map(|e| match e {
            ChatEvent::Token(t) => Some(t.text.as_str()),
            _ => None,
        })
        .collect();
    assert!(events.len() > 4, "tokens arrive one by one: {events:?}");
    assert!(matches!(events.last(), Some(ChatEvent::Finished { .. })));
    assert_eq!(tokens, reply.text, "the stored reply is what was streamed");
    assert!(
        reply.text.to_lowercase().contains("hola"),
        "{:?}",
        reply.text
    );
    let provenance = reply
        .provenance
        .clone()
        .expect("model replies carry provenance");
    assert_eq!(provenance.model_sha256, info.sha256);
    assert_eq!(provenance.sampler.max_tokens, 24);
    assert!(provenance.completion_tokens > 0);

    // A follow-up continues the same conversation.
    let follow = SendMessage {
        conversation_id: Some(prompt.conversation_id),
        text: "Thanks!".into(),
        sampler: short_reply(),
        edit_of: None,
        settings: None,
    };
    app.chat().send(follow, |_| true).await.unwrap();
    drop(app);

    let app = App::open(config).unwrap();
    let list = app.chat().list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].title, "Say hello in Spanish.");
    let detail = app.chat().open(list[0].id).await.unwrap();
    assert_eq!(detail.messages.len(), 4);
    assert_eq!(detail.messages[1], reply);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_model_file_is_a_clear_message_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("models/none.gguf");
    let app = App::open(AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: missing.clone(),
    })
    .unwrap();
    let ModelStatus::Unavailable { error } = app.models().wait_for_load().await else {
        panic!()
    };
    assert_eq!(error.code, ErrorCode::ModelMissing);
    assert!(
        error.message.contains(&missing.display().to_string()),
        "{}",
        error.message
    );
    assert!(error.message.contains("cargo xtask setup"));

    let request = SendMessage {
        conversation_id: None,
        text: "Hi".into(),
        sampler: None,
        edit_of: None,
        settings: None,
    };
    let err: AppError = app.chat().send(request, |_| true).await.unwrap_err().into();
    assert_eq!(err.code, ErrorCode::ModelMissing);
    assert!(app.chat().list().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_goes_away_stops_generation_and_keeps_the_partial_reply() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: model_path(),
    })
    .unwrap();
    app.models().wait_for_load().await;
    let mut seen = 0;
    let request = SendMessage {
        conversation_id: None,
        text: "Write a long story about a dragon.".into(),
        sampler: Some(SamplerParams {
            max_tokens: 400,
            ..Default::default()
        }),
        edit_of: None,
        settings: None,
    };
    let reply = app
        .chat()
        .send(request, |e| {
            if matches!(e, ChatEvent::Token(_)) {
                seen += 1;
            }
            seen < 5
        })
        .await
        .unwrap();
    let provenance = reply.provenance.unwrap();
    assert!(
        provenance.completion_tokens < 20,
        "stopped early: {provenance:?}"
    );
    assert!(!reply.text.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correction_replaces_the_reply_on_screen_and_keeps_the_models_in_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path().to_owned(), Some(model_path()))).unwrap();
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
    let request = SendMessage {
        conversation_id: None,
        text: "What is the capital of Australia?".into(),
        sampler: short_reply(),
        edit_of: None,
        settings: None,
    };
    let model_reply = app.chat().send(request, |_| true).await.unwrap();
    let conversation = model_reply.conversation_id;
    let correction = app
        .feedback()
        .correct(
            conversation,
            model_reply.id,
            "Canberra, chosen in 1908 as a compromise between Sydney and Melbourne.".into(),
        )
        .await
        .unwrap();
    assert!(correction.is_human_written_reply());
    assert_eq!(correction.corrects, Some(model_reply.id));

    let shown = app.chat().open(conversation).await.unwrap().messages;
    assert_eq!(shown.last(), Some(&correction));
    let hits = app.chat().search("compromise".into(), 10).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].message_id, correction.id);

    // Correcting a prompt is refused with a message the person can act on.
    let error: AppError = app
        .feedback()
        .correct(conversation, shown[0].id, "Something else".into())
        .await
        .unwrap_err()
        .into();
    assert_eq!(error.code, ErrorCode::InvalidRequest);
    assert!(error.message.contains("edit a prompt"), "{}", error.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_state_is_pushed_as_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path().to_owned(), Some(model_path()))).unwrap();
    let mut changes = app.models().changes();
    let mut seen = vec![changes.borrow_and_update().clone()];
    while !matches!(seen.last(), Some(ModelStatus::Ready { .. })) {
        tokio::time::timeout(std::time::Duration::from_secs(60), changes.changed())
            .await
            .expect("the load ends")
            .unwrap();
        seen.push(changes.borrow_and_update().clone());
    }
    // Subscribed early enough, the load is seen; either way it ends ready, as the app says.
    assert!(
        seen.iter()
            .all(|s| matches!(s, ModelStatus::Loading { .. } | ModelStatus::Ready { .. })),
        "{seen:?}"
    );
    assert_eq!(seen.last(), Some(&app.models().status()));

    // Choosing a file that cannot be loaded: loading, then unavailable, each pushed.
    let broken = dir.path().join("broken.gguf");
    std::fs::write(&broken, b"not a model").unwrap();
    app.models().select(broken).await.unwrap();
    let settled = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        changes.wait_for(|s| !matches!(s, ModelStatus::Loading { .. })),
    )
    .await
    .expect("the load ends")
    .unwrap()
    .clone();
    assert!(
        matches!(settled, ModelStatus::Unavailable { .. }),
        "{settled:?}"
    );
    assert_eq!(settled, app.models().status());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_task_and_a_stored_reply_each_tell_those_who_follow_the_task_queue() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path().to_owned(), Some(model_path()))).unwrap();
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
    let mut changes = app.tasks().changes();
    let mut generation = *changes.borrow_and_update();
    assert!(!changes.has_changed().unwrap(), "nothing changed yet");

    // A task done: one new conversation, the queue counts it.
    let queue = app
        .tasks()
        .complete(
            TaskAnswer::InitialPrompt {
                text: "Name a colour.".into(),
            },
            0,
        )
        .await
        .unwrap();
    assert_eq!(queue.progress.done_today, 1);
    assert!(changes.has_changed().unwrap(), "a completed task is told");
    let after_task = *changes.borrow_and_update();
    assert!(after_task > generation);
    generation = after_task;

    // A reply stored: regenerating stores a reply and nothing else.
    let prompt = app.chat().list().await.unwrap()[0].id;
    let prompt = app.chat().open(prompt).await.unwrap().messages[0].clone();
    assert!(!changes.has_changed().unwrap(), "reading changes nothing");
    let request = Regenerate {
        conversation_id: prompt.conversation_id,
        prompt_id: prompt.id,
        sampler: short_reply(),
    };
    let mut seen = changes.clone();
    let mut told_before_the_end = None;
    let reply = app
        .chat()
        .regenerate(request, |event| {
            if let ChatEvent::Finished { .. } = event {
                told_before_the_end = Some(*seen.borrow_and_update());
            }
            true
        })
        .await
        .unwrap();
    assert_eq!(reply.parent_id, Some(prompt.id));
    assert!(changes.has_changed().unwrap(), "a stored reply is told");
    let after_reply = *changes.borrow_and_update();
    assert!(after_reply > generation);
    assert_eq!(
        told_before_the_end,
        Some(after_reply),
        "told once the reply is stored, before the call answers"
    );
    let queue = app.tasks().queue(0).await.unwrap();
    assert!(
        queue
            .tasks
            .iter()
            .any(|t| t.kind == TaskKind::PrompterReply),
        "the reply is a conversation's end to answer: {queue:?}"
    );
}
