//! Accounts under attack: sign-up loops, password guessing, parallel sign-ins that would exhaust
//! memory, spoofed forwarding headers; and what a person can do for their own account (change the
//! password, delete it). With the production throttles (`Config::default()`), not the tests'.

use std::time::Duration;

use anyhow::Result;
use oa_server::testing::TestServer;
use oa_server::{Config, Limits, PasswordCost};
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};

use super::client::{PASSWORD, http, register};

/// The production defaults with the cheapest hashing (the throttles are what is tested).
fn production_limits() -> Config {
    Config {
        password: PasswordCost::insecure_fast(),
        ..Config::default()
    }
}

/// `POST path` with a JSON body and optional `X-Forwarded-For`; the status, `Retry-After` and
/// the body.
async fn post(
    server: &TestServer,
    path: &str,
    body: Value,
    forwarded_for: Option<&str>,
) -> Result<(StatusCode, Option<u64>, Value)> {
    let mut request = http()
        .post(format!("{}{path}", server.base_url()))
        .json(&body);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await?;
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, retry_after, body))
}

fn sign_up(name: &str) -> Value {
    json!({ "display_name": name, "password": PASSWORD, "device_name": "laptop" })
}

fn sign_in(name: &str, password: &str) -> Value {
    json!({ "display_name": name, "password": password, "device_name": "phone" })
}

#[tokio::test]
async fn an_account_creation_loop_is_stopped_and_forged_headers_do_not_help() -> Result<()> {
    let server = TestServer::start_with(production_limits()).await?;
    let allowed = Limits::default().sign_ups_per_hour_per_address;
    for i in 0..allowed {
        // A forged X-Forwarded-For from a client that is not a trusted proxy changes nothing.
        let (status, _, body) = post(
            &server,
            "/v1/accounts",
            sign_up(&format!("farm-{i}")),
            Some(&format!("203.0.113.{i}")),
        )
        .await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, retry_after, body) = post(
        &server,
        "/v1/accounts",
        sign_up("farm-next"),
        Some("198.51.100.99"),
    )
    .await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "too_many_attempts");
    let wait = retry_after.expect("a 429 says when to come back");
    assert!((1..=3600).contains(&wait), "{wait}");
    Ok(())
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_allowance() -> Result<()> {
    let server = TestServer::start_with(Config {
        limits: Limits {
            sign_ups_per_hour_per_address: 2,
            trusted_proxies: vec!["127.0.0.1".parse()?],
            ..Limits::default()
        },
        ..production_limits()
    })
    .await?;
    for (name, client) in [("a1", "198.51.100.1"), ("a2", "198.51.100.1")] {
        let (status, _, body) = post(&server, "/v1/accounts", sign_up(name), Some(client)).await?;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _, _) = post(&server, "/v1/accounts", sign_up("a3"), Some("198.51.100.1")).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another person behind the same proxy is not punished for the first one's loop...
    let (status, _, _) = post(&server, "/v1/accounts", sign_up("b1"), Some("198.51.100.2")).await?;
    assert_eq!(status, StatusCode::CREATED);
    // ...and the first cannot escape by prepending a made-up address: the proxy appends the
    // real one last, and that is the one counted.
    let (status, _, _) = post(
        &server,
        "/v1/accounts",
        sign_up("a4"),
        Some("192.0.2.77, 198.51.100.1"),
    )
    .await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    Ok(())
}

#[tokio::test]
async fn password_guessing_against_one_name_is_stopped_from_any_address() -> Result<()> {
    let server = TestServer::start_with(Config {
        limits: Limits {
            trusted_proxies: vec!["127.0.0.1".parse()?],
            ..Limits::default()
        },
        ..production_limits()
    })
    .await?;
    register(&server, "Alice").await?;
    let guesses = Limits::default().failed_sign_ins_per_hour_per_name;
    for i in 0..guesses {
        // Spread over many addresses, as a botnet would.
        let (status, _, body) = post(
            &server,
            "/v1/sessions",
            sign_in("alice", &format!("guess number {i}")),
            Some(&format!("203.0.113.{i}")),
        )
        .await?;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
    // Now even the right password waits: the name is locked for a while, not forever.
    let (status, retry_after, body) = post(
        &server,
        "/v1/sessions",
        sign_in("Alice", PASSWORD),
        Some("198.51.100.50"),
    )
    .await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(retry_after.is_some_and(|s| s >= 1));
    // Other names are not affected.
    register(&server, "Bob").await?;
    let (status, _, body) = post(
        &server,
        "/v1/sessions",
        sign_in("Bob", PASSWORD),
        Some("198.51.100.50"),
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Ok(())
}

/// The `oa_password_hashes_peak` gauge of `/metrics`.
async fn hash_peak(server: &TestServer) -> Result<u64> {
    let text = http()
        .get(format!("{}/metrics", server.base_url()))
        .send()
        .await?
        .text()
        .await?;
    let line = text
        .lines()
        .find(|l| l.starts_with("oa_password_hashes_peak "))
        .ok_or_else(|| anyhow::anyhow!("no hash gauge in {text}"))?;
    Ok(line["oa_password_hashes_peak ".len()..].trim().parse()?)
}

#[tokio::test]
async fn fifty_parallel_sign_ins_run_at_most_the_configured_number_of_hashes() -> Result<()> {
    let server = TestServer::start_with(Config {
        // A hash that takes a few milliseconds, so that unbounded sign-ins would overlap.
        password: PasswordCost {
            memory_kib: 4 * 1024,
            iterations: 2,
            max_parallel: 2,
            max_wait: Duration::from_secs(60),
        },
        limits: Limits::default().without_account_throttles(),
        ..Config::default()
    })
    .await?;
    register(&server, "Alice").await?;
    let attempts = (0..50).map(|i| {
        let server = &server;
        async move {
            let password = if i % 2 == 0 {
                PASSWORD
            } else {
                "wrong password"
            };
            post(server, "/v1/sessions", sign_in("Alice", password), None).await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    for (i, answer) in answers.into_iter().enumerate() {
        let (status, _, body) = answer?;
        let expected = if i % 2 == 0 {
            StatusCode::CREATED
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(status, expected, "attempt {i}: {body}");
    }
    let peak = hash_peak(&server).await?;
    assert!((1..=2).contains(&peak), "{peak} hashes ran at once");
    Ok(())
}

#[tokio::test]
async fn sign_ins_that_wait_too_long_for_a_hash_are_told_to_come_back() -> Result<()> {
    let server = TestServer::start_with(Config {
        password: PasswordCost {
            memory_kib: 16 * 1024,
            iterations: 3,
            max_parallel: 1,
            max_wait: Duration::from_millis(1),
        },
        limits: Limits::default().without_account_throttles(),
        ..Config::default()
    })
    .await?;
    register(&server, "Alice").await?;
    let attempts = (0..20).map(|_| post(&server, "/v1/sessions", sign_in("Alice", PASSWORD), None));
    let mut busy = 0;
    for answer in futures_util::future::join_all(attempts).await {
        let (status, retry_after, body) = answer?;
        match status {
            StatusCode::CREATED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["code"], "busy");
                assert!(retry_after.is_some(), "{body}");
                busy += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(busy > 0, "twenty sign-ins at once all found a free slot");
    Ok(())
}

#[tokio::test]
async fn a_changed_password_signs_out_the_other_devices() -> Result<()> {
    let server = TestServer::start().await?;
    let laptop = register(&server, "Alice").await?;
    let (status, _, phone) =
        post(&server, "/v1/sessions", sign_in("Alice", PASSWORD), None).await?;
    assert_eq!(status, StatusCode::CREATED);
    let phone_token = phone["token"].as_str().unwrap_or_default().to_owned();

    let (status, body) = laptop
        .call(
            reqwest::Method::PUT,
            "/v1/accounts/me/password",
            Some(json!({ "current_password": "not the password", "new_password": "a new one, long enough" })),
        )
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = laptop
        .call(
            reqwest::Method::PUT,
            "/v1/accounts/me/password",
            Some(json!({ "current_password": PASSWORD, "new_password": "a new one, long enough" })),
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // The phone (perhaps stolen) is signed out; the laptop that changed it stays in.
    let phone_devices = http()
        .get(format!("{}/v1/devices", server.base_url()))
        .bearer_auth(&phone_token)
        .send()
        .await?;
    assert_eq!(phone_devices.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = laptop
        .call(reqwest::Method::GET, "/v1/devices", None)
        .await?;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = post(&server, "/v1/sessions", sign_in("Alice", PASSWORD), None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = post(
        &server,
        "/v1/sessions",
        sign_in("Alice", "a new one, long enough"),
        None,
    )
    .await?;
    assert_eq!(status, StatusCode::CREATED);
    Ok(())
}

#[tokio::test]
async fn a_deleted_account_frees_its_name_and_its_tokens_stop_working() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let (status, _) = alice
        .call(
            reqwest::Method::DELETE,
            "/v1/accounts/me",
            Some(json!({ "password": "not the password" })),
        )
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = alice
        .call(
            reqwest::Method::DELETE,
            "/v1/accounts/me",
            Some(json!({ "password": PASSWORD })),
        )
        .await?;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, _) = alice
        .call(reqwest::Method::GET, "/v1/devices", None)
        .await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = post(&server, "/v1/sessions", sign_in("Alice", PASSWORD), None).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Someone else may now take the name; the old account is nowhere under it.
    let newcomer = register(&server, "alice").await?;
    assert_ne!(newcomer.account(), alice.account());
    Ok(())
}

#[tokio::test]
async fn names_that_impersonate_with_invisible_characters_are_refused() -> Result<()> {
    let server = TestServer::start().await?;
    register(&server, "Admin").await?;
    for spoof in ["Ad\u{200B}min", "\u{202E}nimdA", "Admin\u{2069}"] {
        let (status, _, body) = post(&server, "/v1/accounts", sign_up(spoof), None).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{spoof:?}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("invisible"),
            "{body}"
        );
    }
    Ok(())
}
