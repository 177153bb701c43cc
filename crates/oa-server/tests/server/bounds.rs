//! Work one request or one account can make the server do is bounded: open leases per account,
//! the time a request may take, the requests handled at once.

use std::time::{Duration, Instant};

use anyhow::Result;
use oa_server::testing::{TestServer, test_config};
use oa_server::{Config, Limits, PasswordCost};
use oa_types::TaskKind;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::client::{PASSWORD, http, register};
use super::pipeline::lease;

#[tokio::test]
async fn an_account_holds_only_so_many_open_leases() -> Result<()> {
    let server = TestServer::start_with(Config {
        limits: Limits {
            max_open_leases: 3,
            ..test_config().limits
        },
        ..test_config()
    })
    .await?;
    let alice = register(&server, "Alice").await?;
    // Initial-prompt tasks are always there to be had: only the cap stops a hoarder.
    let first = lease(&alice, 5, &[TaskKind::InitialPrompt]).await?;
    assert_eq!(first.len(), 3);
    let (status, body) = alice
        .call(
            Method::POST,
            "/v1/tasks/lease",
            Some(json!({ "count": 1, "kinds": ["initial_prompt"] })),
        )
        .await?;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "too_many_open_tasks");
    // Giving one back makes room for one.
    let (status, _) = alice
        .call(
            Method::POST,
            &format!("/v1/tasks/{}/skip", first[0].id),
            None,
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(lease(&alice, 5, &[TaskKind::InitialPrompt]).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_and_others_wait_their_turn() -> Result<()> {
    let server = TestServer::start_with(Config {
        // A sign-up whose password hash takes far longer than the time a request may take.
        password: PasswordCost {
            memory_kib: 64 * 1024,
            iterations: 8,
            ..PasswordCost::default()
        },
        limits: Limits {
            request_timeout: Duration::from_millis(300),
            max_concurrent_requests: 1,
            ..test_config().limits
        },
        ..Config::default()
    })
    .await?;
    let url = server.base_url();
    let started = Instant::now();
    let slow = http()
        .post(format!("{url}/v1/accounts"))
        .json(&json!({ "display_name": "Slow", "password": PASSWORD, "device_name": "laptop" }))
        .send();
    let health = async {
        // Sent while the sign-up holds the only slot: it waits, then runs or times out too,
        // but it is answered either way.
        tokio::time::sleep(Duration::from_millis(50)).await;
        http().get(format!("{url}/healthz")).send().await
    };
    let (slow, health) = tokio::join!(slow, health);
    let elapsed = started.elapsed();
    assert_eq!(slow?.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = health?.status();
    assert!(
        health == StatusCode::OK || health == StatusCode::SERVICE_UNAVAILABLE,
        "{health}"
    );
    println!("both answered after {elapsed:?}");
    // Once the request slot is free again, requests run as usual.
    let (status, _) = (
        http().get(format!("{url}/healthz")).send().await?.status(),
        (),
    );
    assert_eq!(status, StatusCode::OK);
    Ok(())
}
