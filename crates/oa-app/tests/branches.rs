//! Regenerate, edit, stop, per-conversation settings and switching models, on the real
//! default model and a real SQLite file.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use oa_app::{App, AppConfig};
use oa_types::{
    ChatEvent, ConversationSettings, ConversationTreePath, ErrorCode, MemoryFit, ModelStatus,
    Regenerate, Role, SamplerParams, SendMessage, Uuid,
};

fn config(dir: &std::path::Path) -> AppConfig {
    AppConfig {
        data_dir: dir.to_owned(),
        model_path: oa_engine::testing::default_model(),
    }
}

async fn ready_app(dir: &std::path::Path) -> Arc<App> {
    let app = App::open(config(dir)).unwrap();
    assert!(matches!(
        app.models().wait_for_load().await,
        ModelStatus::Ready { .. }
    ));
    Arc::new(app)
}

fn short(max_tokens: u32) -> Option<SamplerParams> {
    Some(SamplerParams {
        max_tokens,
        ..Default::default()
    })
}

fn send(conversation_id: Option<Uuid>, text: &str) -> SendMessage {
    SendMessage {
        conversation_id,
        text: text.into(),
        sampler: short(12),
        edit_of: None,
        settings: None,
    }
}

fn shown(path: &ConversationTreePath) -> Vec<(Role, String, u32, u32)> {
    path.messages
        .iter()
        .map(|p| {
            (
                p.message.role,
                p.message.text.clone(),
                p.sibling_index,
                p.sibling_count,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerating_adds_a_version_and_the_chosen_one_is_kept_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let app = ready_app(dir.path()).await;
    let first = app
        .chat()
        .send(send(None, "Name a colour."), |_| true)
        .await
        .unwrap();
    let conversation = first.conversation_id;
    let prompt_id = first.parent_id.unwrap();

    let mut started_with = None;
    let second = app
        .chat()
        .regenerate(
            Regenerate {
                conversation_id: conversation,
                prompt_id,
                sampler: short(12),
            },
            |e| {
                if let ChatEvent::Started { prompt } = &e {
                    started_with = Some(prompt.id);
                }
                true
            },
        )
        .await
        .unwrap();
    assert_eq!(started_with, Some(prompt_id), "Started names the prompt");
    assert_eq!(second.parent_id, Some(prompt_id));
    assert_ne!(second.id, first.id);
    let seeds = (
        first.provenance.as_ref().unwrap().sampler.seed,
        second.provenance.as_ref().unwrap().sampler.seed,
    );
    assert_ne!(seeds.0, seeds.1, "a regenerated reply gets a new seed");
    assert!(
        seeds.1 <= u64::from(u32::MAX),
        "a seed the UI can show exactly: {}",
        seeds.1
    );

    // The new reply is shown as 2 of 2; going back shows the first as 1 of 2.
    let path = app.chat().path(conversation).await.unwrap();
    assert_eq!(path.messages.len(), 2);
    assert_eq!(
        shown(&path)[1],
        (Role::Assistant, second.text.clone(), 1, 2)
    );
    let path = app
        .chat()
        .step_version(conversation, second.id, -1)
        .await
        .unwrap();
    assert_eq!(shown(&path)[1], (Role::Assistant, first.text.clone(), 0, 2));
    let err: oa_types::AppError = app
        .chat()
        .step_version(conversation, first.id, -1)
        .await
        .unwrap_err()
        .into();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");
    let path = app
        .chat()
        .step_version(conversation, first.id, 1)
        .await
        .unwrap();
    assert_eq!(path.messages[1].message.id, second.id);
    let path = app
        .chat()
        .switch_branch(conversation, first.id)
        .await
        .unwrap();
    assert_eq!(shown(&path)[1], (Role::Assistant, first.text.clone(), 0, 2));

    // A follow-up continues the branch that is shown, and a restart shows that branch.
    let follow = app
        .chat()
        .send(send(Some(conversation), "Another one?"), |_| true)
        .await
        .unwrap();
    drop(app);
    let app = ready_app(dir.path()).await;
    let path = app.chat().path(conversation).await.unwrap();
    let ids: Vec<Uuid> = path.messages.iter().map(|p| p.message.id).collect();
    assert_eq!(
        ids,
        [prompt_id, first.id, follow.parent_id.unwrap(), follow.id]
    );

    // Regenerating a reply is not answering a reply.
    let err: oa_types::AppError = app
        .chat()
        .regenerate(
            Regenerate {
                conversation_id: conversation,
                prompt_id: first.id,
                sampler: None,
            },
            |_| true,
        )
        .await
        .unwrap_err()
        .into();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_prompt_branches_and_the_reply_sees_only_the_edited_history() {
    let dir = tempfile::tempdir().unwrap();
    let app = ready_app(dir.path()).await;
    let reply = app
        .chat()
        .send(send(None, "Hello!"), |_| true)
        .await
        .unwrap();
    let conversation = reply.conversation_id;
    let follow = app
        .chat()
        .send(send(Some(conversation), "Tell me about cats."), |_| true)
        .await
        .unwrap();
    let original_prompt = follow.parent_id.unwrap();
    let prompt_tokens_before = follow.provenance.unwrap().prompt_tokens;

    let edited = app
        .chat()
        .send(
            SendMessage {
                edit_of: Some(original_prompt),
                ..send(Some(conversation), "Tell me about dogs instead, please.")
            },
            |_| true,
        )
        .await
        .unwrap();
    let path = app.chat().path(conversation).await.unwrap();
    let rows = shown(&path);
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[2],
        (
            Role::Prompter,
            "Tell me about dogs instead, please.".into(),
            1,
            2
        )
    );
    assert_eq!(path.messages[3].message.id, edited.id);
    // The prompt the model read holds the edit, not the original: a few tokens longer, not
    // both versions.
    let prompt_tokens_after = edited.provenance.unwrap().prompt_tokens;
    assert!(
        prompt_tokens_after > prompt_tokens_before
            && prompt_tokens_after < prompt_tokens_before + 8,
        "{prompt_tokens_before} → {prompt_tokens_after}"
    );
    // The original branch is still there.
    let path = app
        .chat()
        .switch_branch(conversation, original_prompt)
        .await
        .unwrap();
    assert_eq!(shown(&path)[2].1, "Tell me about cats.");
    assert_eq!(path.messages[3].message.id, follow.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_keeps_the_partial_reply_marked_as_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let app = ready_app(dir.path()).await;
    assert!(!app.chat().stop(), "nothing to stop yet");
    let tokens = Arc::new(AtomicU32::new(0));
    let stopper = app.clone();
    let counter = tokens.clone();
    let reply = app
        .chat()
        .send(
            SendMessage {
                sampler: short(400),
                ..send(None, "Write a long story about a dragon.")
            },
            move |e| {
                if matches!(e, ChatEvent::Token(_)) && counter.fetch_add(1, Ordering::SeqCst) == 3 {
                    assert!(stopper.chat().stop());
                }
                true
            },
        )
        .await
        .unwrap();
    let provenance = reply.provenance.clone().unwrap();
    assert!(provenance.stopped, "{provenance:?}");
    assert!(provenance.completion_tokens < 40, "{provenance:?}");
    assert!(!reply.text.trim().is_empty());
    assert!(!app.chat().stop(), "the reply is over");
    let path = app.chat().path(reply.conversation_id).await.unwrap();
    let stored = &path.messages[1].message;
    assert_eq!(stored.text, reply.text);
    assert!(stored.provenance.as_ref().unwrap().stopped);

    // A reply that runs to its end is not marked stopped.
    let done = app
        .chat()
        .send(send(Some(reply.conversation_id), "Thanks."), |_| true)
        .await
        .unwrap();
    assert!(!done.provenance.unwrap().stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversations_system_prompt_and_sampler_shape_its_replies() {
    let dir = tempfile::tempdir().unwrap();
    let app = ready_app(dir.path()).await;
    let plain = app
        .chat()
        .send(
            SendMessage {
                sampler: None,
                ..send(None, "Hi")
            },
            |_| true,
        )
        .await
        .unwrap();
    let settings = ConversationSettings {
        // Longer than the default system prompt SmolLM2's template adds when there is none.
        system_prompt: "You are a terse assistant on a ship in the north sea. You answer every \
                        question in one short sentence, you never use lists, you never apologise, \
                        and you always mention the weather at sea in your answer."
            .into(),
        sampler: Some(SamplerParams {
            max_tokens: 5,
            temperature: 0.0,
            ..SamplerParams::default()
        }),
    };
    let shaped = app
        .chat()
        .send(
            SendMessage {
                sampler: None,
                settings: Some(settings.clone()),
                ..send(None, "Hi")
            },
            |_| true,
        )
        .await
        .unwrap();
    let (plain, shaped_p) = (plain.provenance.unwrap(), shaped.provenance.unwrap());
    assert!(shaped_p.completion_tokens <= 5, "{shaped_p:?}");
    assert_eq!(shaped_p.sampler.temperature, 0.0);
    assert!(
        shaped_p.prompt_tokens >= plain.prompt_tokens + 20,
        "the system prompt reached the model: {} vs {}",
        shaped_p.prompt_tokens,
        plain.prompt_tokens
    );
    assert_eq!(
        app.chat().settings(shaped.conversation_id).await.unwrap(),
        settings
    );
    // The next reply in that conversation uses them without being told again.
    let next = app
        .chat()
        .send(
            SendMessage {
                sampler: None,
                ..send(Some(shaped.conversation_id), "And?")
            },
            |_| true,
        )
        .await
        .unwrap();
    assert_eq!(next.provenance.unwrap().sampler.max_tokens, 5);

    // Settings that cannot be used are refused before anything is stored.
    let before = app.chat().list().await.unwrap().len();
    let err: oa_types::AppError = app
        .chat()
        .send(
            SendMessage {
                settings: Some(ConversationSettings {
                    system_prompt: String::new(),
                    sampler: Some(SamplerParams {
                        top_p: 3.0,
                        ..SamplerParams::default()
                    }),
                }),
                ..send(None, "Hi")
            },
            |_| true,
        )
        .await
        .unwrap_err()
        .into();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert_eq!(app.chat().list().await.unwrap().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_models_loads_the_other_and_the_choice_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = ready_app(dir.path()).await;
    let gemma: PathBuf = std::fs::canonicalize(oa_engine::testing::gemma_model()).unwrap();
    let models = app.models().installed().await.unwrap();
    let names: Vec<(&str, &str, bool)> = models
        .iter()
        .map(|m| (m.architecture.as_str(), m.quantization.as_str(), m.active))
        .collect();
    assert!(names.contains(&("llama", "Q4_1", true)), "{names:?}");
    assert!(names.contains(&("gemma3", "Q4_K_M", false)), "{names:?}");
    for model in &models {
        assert!(model.problem.is_none(), "{model:?}");
        assert!(model.context_length >= 2048, "{model:?}");
        assert!(model.file_size > 50 << 20, "{model:?}");
        // 24 GiB machines and laptops alike fit these small models.
        assert_ne!(model.memory_fit, MemoryFit::TooLarge, "{model:?}");
    }

    let status = app.models().select(gemma.clone()).await.unwrap();
    assert!(matches!(status, ModelStatus::Loading { .. }), "{status:?}");
    let ModelStatus::Ready { info } = app.models().wait_for_load().await else {
        panic!("gemma did not load")
    };
    assert_eq!(info.architecture, "gemma3");
    let reply = app
        .chat()
        .send(send(None, "The sky is"), |_| true)
        .await
        .unwrap();
    assert_eq!(reply.provenance.unwrap().architecture, "gemma3");
    drop(app);

    // The choice is remembered; a file that is gone is refused with a clear reason.
    let app = ready_app(dir.path()).await;
    let ModelStatus::Ready { info } = app.models().status() else {
        panic!("not ready")
    };
    assert_eq!(info.architecture, "gemma3");
    let err: oa_types::AppError = app
        .models()
        .select(dir.path().join("gone.gguf"))
        .await
        .unwrap_err()
        .into();
    assert_eq!(err.code, ErrorCode::ModelMissing);
    assert!(err.message.contains("gone.gguf"), "{}", err.message);
    assert_eq!(
        app.models().active_path(),
        gemma,
        "a refused choice changes nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_file_in_the_models_folder_is_listed_with_its_problem() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("models");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("half-downloaded.gguf"),
        b"GGUF\x03\x00\x00\x00trunc",
    )
    .unwrap();
    let app = ready_app(dir.path()).await;
    let models = app.models().installed().await.unwrap();
    let broken = models
        .iter()
        .find(|m| m.path.ends_with("half-downloaded.gguf"))
        .expect("listed");
    let problem = broken.problem.as_deref().unwrap_or_default();
    assert!(!problem.is_empty() && !broken.active, "{broken:?}");
    let err: oa_types::AppError = {
        app.models()
            .select(PathBuf::from(&broken.path))
            .await
            .unwrap();
        match app.models().wait_for_load().await {
            ModelStatus::Unavailable { error } => error,
            other => panic!("a broken file loaded: {other:?}"),
        }
    };
    assert_eq!(err.code, ErrorCode::ModelInvalid, "{err:?}");
}
