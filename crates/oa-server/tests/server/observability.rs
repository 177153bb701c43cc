//! `/metrics` (`/openapi.json` has `openapi.rs`).

use anyhow::Result;
use oa_server::testing::TestServer;
use oa_types::{Role, Uuid};
use reqwest::StatusCode;

use super::client::{http, message, message_event, register};

#[tokio::test]
async fn metrics_count_requests_by_route_and_events_by_outcome() -> Result<()> {
    let server = TestServer::start().await?;
    let alice = register(&server, "Alice").await?;
    let prompt = message(Uuid::now_v7(), None, Role::Prompter, "Count me, please.");
    let event = message_event(&prompt);
    alice.ingest_ok(std::slice::from_ref(&event)).await?;
    alice.ingest(&[event]).await?;
    let response = http()
        .get(format!("{}/metrics", server.base_url()))
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("text/plain")
    );
    let text = response.text().await?;
    assert!(
        text.contains(r#"oa_http_requests_total{route="/v1/events",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"oa_http_requests_total{route="/v1/accounts",status="201"} 1"#));
    assert!(text.contains(r#"oa_ingested_events_total{status="accepted",reason=""} 1"#));
    assert!(text.contains(r#"oa_ingested_events_total{status="duplicate",reason=""} 1"#));
    assert!(text.contains("oa_http_request_duration_seconds_count"));
    // Tokens and ids never become labels.
    assert!(!text.contains(&alice.session.token));
    assert!(!text.contains(&prompt.id.to_string()));
    Ok(())
}
