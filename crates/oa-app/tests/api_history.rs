//! The local API's answers in the history: kept only when the person asked, under the API's
//! source, and then rated like any chat, against a real SQLite file.

use oa_app::{ApiExchange, App, AppConfig};
use oa_types::{API_SOURCE, Provenance, Role, SamplerParams, Thumbs, Vote};

fn open(dir: &std::path::Path) -> App {
    App::open(AppConfig {
        data_dir: dir.to_owned(),
        // No model is needed to keep what another caller generated.
        model_path: dir.join("no-model.gguf"),
    })
    .unwrap()
}

fn exchange() -> ApiExchange {
    ApiExchange {
        system_prompt: "Answer in one word.".into(),
        turns: vec![
            (Role::Prompter, "Name a moon of Mars.".into()),
            (Role::Assistant, "Phobos.".into()),
            (Role::Prompter, "Another?".into()),
        ],
        reply: "Deimos.".into(),
        provenance: Provenance {
            model_id: "SmolLM2-135M-Instruct.Q4_1".into(),
            model_sha256: "a".repeat(64),
            quantization: "Q4_1".into(),
            architecture: "llama".into(),
            chat_template_sha256: "b".repeat(64),
            sampler: SamplerParams {
                max_tokens: 8,
                ..SamplerParams::default()
            },
            engine_version: "oa-engine/0.1.0".into(),
            prompt_tokens: 40,
            completion_tokens: 3,
            time_to_first_token_ms: 20,
            total_ms: 60,
            stopped: false,
            dropped_messages: 0,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_answers_are_kept_only_when_asked_and_then_rated_like_chats() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    assert!(
        !app.api().settings().await.unwrap().keep_history,
        "off by default"
    );
    assert_eq!(app.api().keep(exchange()).await.unwrap(), None);
    assert!(app.chat().list_entries().await.unwrap().is_empty());

    let settings = app.api().settings().await.unwrap();
    app.api()
        .set_settings(oa_types::ApiSettings {
            keep_history: true,
            ..settings
        })
        .await
        .unwrap();
    let mut tasks = app.tasks().changes();
    tasks.borrow_and_update();
    let id = app.api().keep(exchange()).await.unwrap().expect("kept");
    assert!(tasks.has_changed().unwrap(), "the task queue is told");

    let entries = app.chat().list_entries().await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].summary.id, id);
    assert_eq!(entries[0].source.as_deref(), Some(API_SOURCE));
    assert_eq!(entries[0].summary.title, "Name a moon of Mars.");

    let path = app.chat().path(id).await.unwrap();
    let turns: Vec<_> = path
        .messages
        .iter()
        .map(|m| (m.message.role, m.message.text.as_str()))
        .collect();
    assert_eq!(
        turns,
        [
            (Role::Prompter, "Name a moon of Mars."),
            (Role::Assistant, "Phobos."),
            (Role::Prompter, "Another?"),
            (Role::Assistant, "Deimos."),
        ]
    );
    let reply = &path.messages[3].message;
    assert_eq!(reply.provenance, Some(exchange().provenance));
    assert_eq!(
        app.chat().settings(id).await.unwrap().system_prompt,
        "Answer in one word."
    );

    let feedback = app
        .feedback()
        .rate(
            reply.id,
            Thumbs {
                vote: Vote::Down,
                reasons: vec!["too short".into()],
                comment: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(feedback.thumbs.map(|t| t.vote), Some(Vote::Down));

    // Kept across a restart, source and all.
    drop(app);
    let app = open(dir.path());
    let entries = app.chat().list_entries().await.unwrap();
    assert_eq!(entries[0].source.as_deref(), Some(API_SOURCE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_with_nothing_to_answer_is_refused_with_words_for_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let settings = app.api().settings().await.unwrap();
    app.api()
        .set_settings(oa_types::ApiSettings {
            keep_history: true,
            ..settings
        })
        .await
        .unwrap();
    let err = app
        .api()
        .keep(ApiExchange {
            turns: vec![(Role::Assistant, "Hello.".into())],
            ..exchange()
        })
        .await
        .unwrap_err();
    assert!(oa_types::AppError::from(err).message.contains("prompt"));
    assert!(app.chat().list_entries().await.unwrap().is_empty());
}
