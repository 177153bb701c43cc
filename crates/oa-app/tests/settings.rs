//! The Settings page's use cases: where models run, the thread count, and a model's own
//! sampler defaults, against the real default model and a real SQLite file.

use oa_app::{App, AppConfig};
use oa_types::{AppSettings, ComputeDevice, ErrorCode, ModelStatus, SamplerParams, SendMessage};

fn open(dir: &std::path::Path) -> App {
    App::open(AppConfig {
        data_dir: dir.to_owned(),
        model_path: oa_engine::testing::default_model(),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn choosing_the_gpu_in_a_cpu_only_build_explains_itself_and_the_cpu_brings_the_model_back() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
    let devices = app.settings().devices();
    assert!(devices.threads_in_use >= 1 && devices.default_threads >= 1);
    assert!(!devices.model_on_gpu);
    if devices.gpu_backend.is_some() {
        return; // A GPU build: `oa-engine`'s GPU tests cover it on a GPU machine.
    }
    assert_eq!(devices.gpu_name, None);
    assert!(devices.gpu_problem.unwrap().contains("CPU only"));

    let settings = AppSettings {
        device: ComputeDevice::Gpu,
        ..app.settings().get().await.unwrap()
    };
    app.settings().set(settings.clone()).await.unwrap();
    let ModelStatus::Unavailable { error } = app.models().wait_for_load().await else {
        panic!("a GPU-only choice loads nothing in a CPU-only build")
    };
    assert_eq!(error.code, ErrorCode::ModelInvalid);
    assert!(error.message.contains("CPU only"), "{}", error.message);
    assert!(error.message.contains("Settings"), "{}", error.message);

    // The choice is kept: a restart still asks for the GPU.
    drop(app);
    let app = open(dir.path());
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Unavailable { .. }
    ));
    app.settings()
        .set(AppSettings {
            device: ComputeDevice::Cpu,
            ..settings
        })
        .await
        .unwrap();
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_count_is_checked_kept_and_read_before_the_app_starts() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(App::startup_threads(dir.path()), None, "no database yet");
    let app = open(dir.path());
    let err = app
        .settings()
        .set(AppSettings {
            threads: Some(0),
            ..AppSettings::default()
        })
        .await
        .unwrap_err();
    assert!(
        oa_types::AppError::from(err)
            .message
            .contains("between 1 and")
    );
    assert_eq!(App::startup_threads(dir.path()), None);
    app.settings()
        .set(AppSettings {
            threads: Some(3),
            ..AppSettings::default()
        })
        .await
        .unwrap();
    assert_eq!(App::startup_threads(dir.path()), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_models_own_sampler_defaults_answer_new_conversations_until_reset() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
    let app_defaults = app.models().default_sampler().await;
    let chosen = SamplerParams {
        temperature: 0.0,
        max_tokens: 5,
        seed: 7,
        ..app_defaults.clone()
    };
    app.models()
        .set_default_sampler(Some(chosen.clone()))
        .await
        .unwrap();
    assert_eq!(app.models().default_sampler().await, chosen);

    let reply = app
        .chat()
        .send(
            SendMessage {
                conversation_id: None,
                text: "Count to twenty.".into(),
                sampler: None,
                edit_of: None,
                settings: None,
            },
            |_| true,
        )
        .await
        .unwrap();
    let provenance = reply.provenance.expect("replies carry provenance");
    assert_eq!(
        provenance.sampler, chosen,
        "the reply used the model's defaults"
    );
    assert!(provenance.completion_tokens <= 5);

    // Kept across a restart, and a bad one is refused.
    drop(app);
    let app = open(dir.path());
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
    assert_eq!(app.models().default_sampler().await, chosen);
    let err = app
        .models()
        .set_default_sampler(Some(SamplerParams {
            top_p: 3.0,
            ..chosen
        }))
        .await
        .unwrap_err();
    assert!(oa_types::AppError::from(err).message.contains("top-p"));
    app.models().set_default_sampler(None).await.unwrap();
    assert_eq!(app.models().default_sampler().await, app_defaults);
}
