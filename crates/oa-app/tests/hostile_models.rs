//! A hostile model file chosen in the app: it is refused with a message the person can act
//! on, the app keeps running, and the model it starts with next time is the last one that
//! worked.

use std::path::PathBuf;
use std::time::Duration;

use oa_app::{App, AppConfig};
use oa_engine::testing::RawGguf;
use oa_types::{AppError, ErrorCode, ModelStatus, SamplerParams, SendMessage};

/// Long enough for the reference model to load on a slow, busy machine; a load that never
/// ends fails the test instead of hanging it.
const LOAD_LIMIT: Duration = Duration::from_secs(300);

async fn settled(app: &App) -> ModelStatus {
    tokio::time::timeout(LOAD_LIMIT, app.models().wait_for_load())
        .await
        .expect("the model leaves the loading state")
}

fn ask(text: &str) -> SendMessage {
    SendMessage {
        conversation_id: None,
        text: text.into(),
        sampler: Some(SamplerParams {
            max_tokens: 8,
            ..Default::default()
        }),
        edit_of: None,
        settings: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_aligned_to_zero_is_refused_and_the_last_good_model_returns_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let good: PathBuf = std::fs::canonicalize(oa_engine::testing::default_model()).unwrap();
    // The configured model does not exist: only the choice the app kept can bring a model back.
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("models/none.gguf"),
    };
    let app = App::open(config.clone()).unwrap();
    assert!(matches!(
        settled(&app).await,
        ModelStatus::Unavailable { .. }
    ));
    app.models().select(good.clone()).await.unwrap();
    let ModelStatus::Ready { .. } = settled(&app).await else {
        panic!("the reference model did not load")
    };

    // A small model whose header says its tensor data are aligned to 0 bytes.
    let hostile = dir.path().join("aligned-to-zero.gguf");
    let mut raw = RawGguf::tiny_model("llama", 1);
    raw.set_u32("general.alignment", 0);
    raw.write(&hostile);
    app.models().select(hostile.clone()).await.unwrap();
    let ModelStatus::Unavailable { error } = settled(&app).await else {
        panic!("the hostile file loaded")
    };
    assert_eq!(error.code, ErrorCode::ModelInvalid, "{error:?}");
    assert!(
        error.message.contains("general.alignment"),
        "the message names the problem: {}",
        error.message
    );
    // The app is still up, and chatting says why it cannot.
    let err: AppError = app
        .chat()
        .send(ask("Hi"), |_| true)
        .await
        .unwrap_err()
        .into();
    assert_eq!(err.code, ErrorCode::ModelInvalid, "{err:?}");
    drop(app);

    // At the next start the app loads the model that last worked, and chats with it.
    let app = App::open(config).unwrap();
    let ModelStatus::Ready { info } = settled(&app).await else {
        panic!("the last good model did not come back after a restart")
    };
    assert_eq!(PathBuf::from(&info.path), good);
    let reply = app.chat().send(ask("Say hello."), |_| true).await.unwrap();
    assert!(!reply.text.trim().is_empty(), "{reply:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_template_that_never_ends_is_refused_promptly_and_the_app_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("models/none.gguf"),
    };
    let app = App::open(config).unwrap();
    settled(&app).await;
    // A tiny model whose chat template loops for ever, writing as it goes.
    let hostile = dir.path().join("looping-template.gguf");
    let template = "{% for i in range(100000) %}{% for j in range(100000) %}\
                    {{ messages[0]['content'] }}{% endfor %}{% endfor %}";
    let mut raw = RawGguf::tiny_model("llama", 1);
    // GGUF type 8, a string: its length as a u64, then its bytes.
    let mut stored = (template.len() as u64).to_le_bytes().to_vec();
    stored.extend(template.as_bytes());
    raw.set_raw("tokenizer.chat_template", 8, stored);
    raw.write(&hostile);
    app.models().select(hostile).await.unwrap();
    settled(&app).await;
    // Sending through it ends in a typed error the person can act on, not a hang.
    let started = std::time::Instant::now();
    let outcome = tokio::time::timeout(
        Duration::from_secs(60),
        app.chat().send(ask("Hi"), |_| true),
    )
    .await
    .expect("the template is stopped, not left running");
    println!(
        "the looping template was refused after {:?}",
        started.elapsed()
    );
    let err: AppError = outcome.unwrap_err().into();
    assert_eq!(err.code, ErrorCode::ModelInvalid, "{err:?}");
    assert!(err.message.contains("template"), "{}", err.message);

    // The app goes on: another model chats.
    let good: PathBuf = std::fs::canonicalize(oa_engine::testing::default_model()).unwrap();
    app.models().select(good).await.unwrap();
    let ModelStatus::Ready { .. } = settled(&app).await else {
        panic!("the reference model did not load after the hostile one")
    };
    let reply = app.chat().send(ask("Say hello."), |_| true).await.unwrap();
    assert!(!reply.text.trim().is_empty(), "{reply:?}");
}
