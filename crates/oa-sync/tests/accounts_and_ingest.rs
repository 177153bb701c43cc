//! Signing in and sending contributions with the sync client, against the real `oa-server` on
//! loopback with a real PostgreSQL database (`oa_server::testing`). The events come from a real
//! desktop store's outbox: a conversation the user shared.

use std::time::Duration;

use anyhow::{Result, ensure};
use oa_server::testing::TestServer;
use oa_server::{Config, Limits, PasswordCost};
use oa_store::Store;
use oa_sync::{Error, ServerClient};
use oa_types::{
    DeviceSession, EventStatus, LoginRequest, MAX_EVENTS_PER_BATCH, SubmittedEvent, Uuid,
};

mod common;
use common::{register_request, shared_conversation};

#[tokio::test]
async fn a_shared_conversation_is_sent_once_and_a_revoked_device_is_refused() -> Result<()> {
    let server = TestServer::start().await?;
    let client = ServerClient::new(&server.base_url())?;
    let session: DeviceSession = client.register(&register_request("Alice")).await?;

    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&dir.path().join("open-assistant.sqlite3"))?;
    let events = shared_conversation(&mut store, "Why is the sky blue on a clear day?")?;
    ensure!(events.len() == 2, "a prompt and a reply: {events:?}");

    let results = client.ingest(&session.token, &events).await?;
    assert!(
        results.iter().all(|r| r.status == EventStatus::Accepted),
        "{results:?}"
    );
    // The answer was lost on the way back, say, and the batch goes again: nothing changes.
    let again = client.ingest(&session.token, &events).await?;
    assert!(
        again.iter().all(|r| r.status == EventStatus::Duplicate),
        "{again:?}"
    );

    // Taking the name again is refused with the server's reason.
    match client.register(&register_request("Alice")).await {
        Err(Error::Status {
            status: 409,
            message,
        }) => {
            assert!(message.contains("taken"), "{message}")
        }
        other => panic!("expected 409, got {other:?}"),
    }

    // Signing out revokes the token on the server: a copy of it is useless.
    client.log_out(&session).await?;
    match client.ingest(&session.token, &events).await {
        Err(Error::Unauthorized { .. }) => {}
        other => panic!("a revoked token must be refused, got {other:?}"),
    }
    let wrong = LoginRequest {
        display_name: "Alice".into(),
        password: "wrong".into(),
        device_name: "laptop".into(),
    };
    assert!(matches!(
        client.log_in(&wrong).await,
        Err(Error::Unauthorized { .. })
    ));
    let back = client
        .log_in(&LoginRequest {
            password: "correct horse battery staple".into(),
            ..wrong
        })
        .await?;
    assert_eq!(back.account_id, session.account_id);
    assert_ne!(back.device_id, session.device_id);
    let results = client.ingest(&back.token, &events).await?;
    assert!(
        results.iter().all(|r| r.status == EventStatus::Duplicate),
        "{results:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_flood_is_told_how_long_to_wait_and_a_huge_batch_is_not_sent() -> Result<()> {
    let server = TestServer::start_with(Config {
        password: PasswordCost::insecure_fast(),
        limits: Limits {
            events_per_minute_device: 3,
            ..Limits::default()
        },
        ..Config::default()
    })
    .await?;
    let client = ServerClient::new(&server.base_url())?;
    let session = client.register(&register_request("Bob")).await?;
    let mut store = Store::open_in_memory()?;
    let mut events = shared_conversation(&mut store, "What is the capital of France, please?")?;
    events.extend(shared_conversation(
        &mut store,
        "How far away is the Moon from us?",
    )?);
    let events: Vec<SubmittedEvent> = events
        .into_iter()
        .filter(|e| e.kind == oa_types::ContributionKind::Message)
        .collect();

    client.ingest(&session.token, &events[..2]).await?;
    match client.ingest(&session.token, &events[2..]).await {
        Err(Error::RateLimited { retry_after, .. }) => {
            assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(60))
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }

    let huge: Vec<SubmittedEvent> = (0..=MAX_EVENTS_PER_BATCH)
        .map(|_| SubmittedEvent {
            id: Uuid::now_v7(),
            ..events[0].clone()
        })
        .collect();
    match client.ingest(&session.token, &huge).await {
        Err(Error::BatchTooLarge { events, max }) => {
            assert_eq!(
                (events, max),
                (MAX_EVENTS_PER_BATCH + 1, MAX_EVENTS_PER_BATCH)
            )
        }
        other => panic!("expected BatchTooLarge, got {other:?}"),
    }
    Ok(())
}
