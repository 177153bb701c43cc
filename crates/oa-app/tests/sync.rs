//! Sharing with the dataset server: the real app's store and the real `oa-server` on loopback
//! with its own PostgreSQL database (`oa_server::testing`). What the server holds is read from
//! its database, not taken from the client's word.

use anyhow::Result;
use oa_app::{App, AppConfig, SyncReport};
use oa_server::testing::{TestServer, model_provenance};
use oa_store::Store;
use oa_sync::ServerClient;
use oa_types::{ConsentState, RegisterRequest, SubmittedEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_shared_events_reach_the_server_once_even_when_an_answer_was_lost() -> Result<()> {
    let server = TestServer::start().await?;
    let client = ServerClient::new(&server.base_url())?;
    let session = client
        .register(&RegisterRequest {
            display_name: "Carol".into(),
            password: "a long enough passphrase".into(),
            device_name: "laptop".into(),
        })
        .await?;

    // Three conversations on the desktop: two shared, one kept private.
    let dir = tempfile::tempdir()?;
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("no-model.gguf"),
    };
    let secret = "My private diary entry about the surprise party for Dave.";
    {
        std::fs::create_dir_all(&config.data_dir)?;
        let mut store = Store::open(&config.database_path())?;
        for question in [
            "Why do cats purr when they are happy?",
            "How do airplanes stay up in the air?",
        ] {
            let prompt = store.add_prompt(None, question)?;
            store.add_reply(&prompt, "Here is a short answer.", Some(model_provenance()))?;
            for event in store.events(ConsentState::Private)? {
                store.share_event(event.id)?;
            }
        }
        let private = store.add_prompt(None, secret)?;
        store.add_reply(&private, "That sounds lovely.", Some(model_provenance()))?;

        // A round before this one sent the first event, but its answer never came back.
        let first = store.events(ConsentState::Queued)?.remove(0);
        store.mark_events_sent(&[first.id])?;
        client
            .ingest(&session.token, &[SubmittedEvent::from(&first)])
            .await?;
    }

    let app = App::open(config.clone())?;
    let report = app.sync_now(&client, &session.token).await?;
    assert_eq!(
        report,
        SyncReport {
            batches: 1,
            accepted: 4,
            rejected: 0
        }
    );
    // Nothing left to send: a second round sends nothing.
    assert_eq!(
        app.sync_now(&client, &session.token).await?,
        SyncReport::default()
    );
    drop(app);

    let store = Store::open(&config.database_path())?;
    assert_eq!(store.events(ConsentState::Accepted)?.len(), 4);
    assert_eq!(store.events(ConsentState::Private)?.len(), 2);
    assert!(store.events(ConsentState::Queued)?.is_empty());
    assert!(store.events(ConsentState::Sent)?.is_empty());

    let (events, messages): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM contribution_events), (SELECT count(*) FROM messages)",
    )
    .fetch_one(server.pool())
    .await?;
    assert_eq!((events, messages), (4, 4), "each shared event exactly once");
    let leaked: i64 = sqlx::query_scalar("SELECT count(*) FROM messages WHERE text = $1")
        .bind(secret)
        .fetch_one(server.pool())
        .await?;
    assert_eq!(leaked, 0, "the private conversation never left the machine");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_loses_nothing() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = AppConfig {
        data_dir: dir.path().to_owned(),
        model_path: dir.path().join("no-model.gguf"),
    };
    {
        let mut store = Store::open(&config.database_path())?;
        let prompt = store.add_prompt(None, "What is the tallest mountain on Earth?")?;
        for event in store.events(ConsentState::Private)? {
            store.share_event(event.id)?;
        }
        assert_eq!(prompt.text, "What is the tallest mountain on Earth?");
    }
    // Nothing listens on this port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let app = App::open(config.clone())?;
    let error = app
        .sync_now(&ServerClient::new(&url)?, "token")
        .await
        .expect_err("nothing listens there");
    let shown = oa_types::AppError::from(error);
    assert_eq!(shown.code, oa_types::ErrorCode::Sync);
    assert!(shown.message.contains("stay queued"), "{}", shown.message);
    drop(app);
    // The event went out as far as "sent" (the server may have it) and goes again next time.
    let store = Store::open(&config.database_path())?;
    assert_eq!(store.events(ConsentState::Sent)?.len(), 1);
    Ok(())
}
