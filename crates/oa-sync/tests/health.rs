//! The sync client against the real `oa-server` router, served on loopback with a real PostgreSQL
//! database from `oa_server::testing`.

use anyhow::{Context as _, Result};
use oa_server::testing::TestServer;
use oa_sync::{Error, ServerClient};

#[tokio::test]
async fn healthy_server_reports_its_schema_version() -> Result<()> {
    let server = TestServer::start().await?;

    for base_url in [server.base_url(), format!("{}/", server.base_url())] {
        let health = ServerClient::new(&base_url)?.health().await?;
        assert_eq!(
            health.schema_version,
            oa_server::latest_schema_version(),
            "via {base_url}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn server_without_its_database_is_a_503_with_the_reason() -> Result<()> {
    let server = TestServer::start().await?;
    let client = ServerClient::new(&server.base_url())?;
    client.health().await?;

    server
        .database()
        .context("start() creates one")?
        .drop_database()
        .await?;

    match client.health().await {
        Err(Error::Status { status, message }) => {
            assert_eq!(status, 503);
            assert_eq!(
                message,
                "its database is unavailable (database does not exist)"
            );
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn wrong_path_on_a_real_server_is_a_404_with_the_servers_message() -> Result<()> {
    let server = TestServer::start().await?;
    let client = ServerClient::new(&format!("{}/not-the-api/", server.base_url()))?;
    match client.health().await {
        Err(Error::Status { status, message }) => {
            assert_eq!(status, 404);
            assert_eq!(message, "no such resource");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn closed_port_is_unreachable() -> Result<()> {
    // Take a free port and release it: nothing listens there afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let client = ServerClient::new(&format!("http://127.0.0.1:{port}"))?;
    match client.health().await {
        Err(error @ Error::Unreachable { .. }) => {
            assert_eq!(
                error.to_string(),
                format!("cannot reach the server at http://127.0.0.1:{port}/")
            );
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    Ok(())
}

#[test]
fn bad_urls_are_rejected_before_any_request() {
    for input in [
        "",
        "127.0.0.1:8080",
        "ftp://example.org",
        "http://",
        "https://a:b@example.org",
    ] {
        match ServerClient::new(input) {
            Err(Error::InvalidUrl { reason }) => assert!(!reason.is_empty(), "{input:?}"),
            other => panic!("{input:?} should be an invalid URL, got {other:?}"),
        }
    }
}
