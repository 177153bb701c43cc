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
    tokio::time::timeout(LOAD_LIMIT, app.wait_for_model())
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
    app.select_model(good.clone()).await.unwrap();
    let ModelStatus::Ready { .. } = settled(&app).await else {
        panic!("the reference model did not load")
    };

    // A small model whose header says its tensor data are aligned to 0 bytes.
    let hostile = dir.path().join("aligned-to-zero.gguf");
    let mut raw = RawGguf::tiny_model("llama", 1);
    raw.set_u32("general.alignment", 0);
    raw.write(&hostile);
    app.select_model(hostile.clone()).await.unwrap();
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
        .send_message(ask("Hi"), |_| true)
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
    let reply = app.send_message(ask("Say hello."), |_| true).await.unwrap();
    assert!(!reply.text.trim().is_empty(), "{reply:?}");
}
