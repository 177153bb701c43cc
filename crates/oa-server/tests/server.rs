//! The server against a real PostgreSQL cluster (see `oa_server::testing`), spoken to over real
//! HTTP on loopback, as a load balancer, a monitor or the desktop app would.

mod server {
    mod account_defences;
    mod accounts;
    mod bounds;
    pub(crate) mod client;
    mod collusion;
    mod concurrency;
    mod crowd;
    mod garbage;
    mod ingest;
    mod observability;
    mod openapi;
    pub(crate) mod pipeline;
    mod scores;
    mod simulation;
}

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use oa_server::testing::{self, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;

fn http() -> reqwest::Client {
    // A generous limit only so that a hang fails the test instead of stalling the suite.
    testing::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a plain HTTP client builds")
}

async fn get_json(url: &str) -> Result<(StatusCode, Value)> {
    let response = http().get(url).send().await.context("GET")?;
    let status = response.status();
    let body = response.json().await.context("response body is not JSON")?;
    Ok((status, body))
}

async fn table_names(pool: &sqlx::PgPool) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY table_name",
    )
    .fetch_all(pool)
    .await?)
}

#[tokio::test]
async fn migrations_apply_and_running_them_again_changes_nothing() -> Result<()> {
    let db = testing::database().await?;
    let pool = db.pool().await?;

    oa_server::migrate(&pool).await?;
    let tables = table_names(&pool).await?;
    for table in ["accounts", "devices", "contribution_events"] {
        assert!(tables.iter().any(|t| t == table), "{table} in {tables:?}");
    }

    oa_server::migrate(&pool).await.context("second run")?;
    assert_eq!(table_names(&pool).await?, tables);
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(&pool)
            .await?;
    assert_eq!(applied.last(), Some(&oa_server::latest_schema_version()));
    let mut unique = applied.clone();
    unique.dedup();
    assert_eq!(applied, unique, "each migration is recorded once");
    Ok(())
}

/// The constraint a rejected insert violated, as PostgreSQL's SQLSTATE.
async fn rejected_with(
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    pool: &sqlx::PgPool,
) -> String {
    match query.execute(pool).await {
        Ok(_) => "accepted".to_owned(),
        Err(sqlx::Error::Database(error)) => error.code().unwrap_or_default().into_owned(),
        Err(other) => format!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn schema_keeps_events_unique_and_tied_to_their_accounts_devices() -> Result<()> {
    let db = testing::database().await?;
    let pool = db.pool().await?;
    oa_server::migrate(&pool).await?;

    let alice = "00000000-0000-7000-8000-00000000000a";
    let bob = "00000000-0000-7000-8000-00000000000b";
    let alices_laptop = "00000000-0000-7000-8000-0000000000d1";
    let event = "01900000-0000-7000-8000-000000000001";
    sqlx::query(
        "INSERT INTO accounts (id, display_name, trust) \
         VALUES ($1::uuid, 'alice', 0.1), ($2::uuid, 'bob', 0.1)",
    )
    .bind(alice)
    .bind(bob)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO devices (id, account_id, token_sha256) \
         VALUES ($1::uuid, $2::uuid, sha256('token'::bytea))",
    )
    .bind(alices_laptop)
    .bind(alice)
    .execute(&pool)
    .await?;

    let insert_event = |account: &'static str, payload: &'static str| {
        sqlx::query(
            "INSERT INTO contribution_events (id, account_id, device_id, kind, payload) \
             VALUES ($1::uuid, $2::uuid, $3::uuid, 'thumb', $4::jsonb)",
        )
        .bind(event)
        .bind(account)
        .bind(alices_laptop)
        .bind(payload)
    };

    // Bob cannot upload through Alice's device (foreign_key_violation).
    assert_eq!(
        rejected_with(insert_event(bob, r#"{"vote": 1}"#), &pool).await,
        "23503"
    );
    // A payload must be an object (check_violation).
    assert_eq!(
        rejected_with(insert_event(alice, "[1]"), &pool).await,
        "23514"
    );
    assert_eq!(
        rejected_with(insert_event(alice, r#"{"vote": 1}"#), &pool).await,
        "accepted"
    );
    // A retried upload of the same event is recognised (unique_violation), not stored twice.
    assert_eq!(
        rejected_with(insert_event(alice, r#"{"vote": 1}"#), &pool).await,
        "23505"
    );
    // An account with events cannot vanish by accident, not even through its devices' cascade.
    assert_eq!(
        rejected_with(
            sqlx::query("DELETE FROM accounts WHERE id = $1::uuid").bind(alice),
            &pool
        )
        .await,
        "23503"
    );
    Ok(())
}

#[tokio::test]
async fn healthz_answers_ok_with_the_schema_version() -> Result<()> {
    let server = TestServer::start().await?;
    let (status, body) = get_json(&format!("{}/healthz", server.base_url())).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "status": "ok",
            "database": "ok",
            "schema_version": oa_server::latest_schema_version(),
        })
    );
    assert!(oa_server::latest_schema_version() >= 1);
    Ok(())
}

#[tokio::test]
async fn healthz_is_unavailable_once_the_database_is_dropped() -> Result<()> {
    let server = TestServer::start().await?;
    let url = format!("{}/healthz", server.base_url());
    // Healthy first, so the pool holds a live connection that the drop then cuts.
    assert_eq!(get_json(&url).await?.0, StatusCode::OK);

    server
        .database()
        .context("start() creates one")?
        .drop_database()
        .await?;

    let (status, body) = get_json(&url).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({ "status": "unavailable", "database": "database does not exist" })
    );
    Ok(())
}

#[tokio::test]
async fn healthz_is_unavailable_when_nothing_listens_at_the_database_address() -> Result<()> {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(&format!(
            "postgres://oa:secret-password@127.0.0.1:{closed_port}/gone?sslmode=disable"
        ))?;
    let server = TestServer::with_pool(pool).await?;

    let (status, body) = get_json(&format!("{}/healthz", server.base_url())).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unavailable");
    let reason = body["database"].as_str().context("database is a string")?;
    assert!(
        ["timed out", "unreachable"].contains(&reason),
        "a short reason, not internals: {body}"
    );
    assert!(!body.to_string().contains("secret-password"));
    Ok(())
}

#[tokio::test]
async fn healthz_is_unavailable_before_the_schema_is_migrated() -> Result<()> {
    let db = testing::database().await?;
    let server = TestServer::with_pool(db.pool().await?).await?;
    let (status, body) = get_json(&format!("{}/healthz", server.base_url())).await?;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        body,
        json!({ "status": "unavailable", "database": "schema not migrated" })
    );
    Ok(())
}

#[tokio::test]
async fn unknown_paths_are_404_with_an_error_body() -> Result<()> {
    let server = TestServer::start().await?;
    let (status, body) = get_json(&format!("{}/no/such/endpoint", server.base_url())).await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        body,
        json!({ "code": "not_found", "message": "no such resource" })
    );
    Ok(())
}

/// Runs the `oa-server` binary and returns its exit success and everything it printed.
fn run_binary(args: &[&str]) -> Result<(bool, String)> {
    let output = Command::new(env!("CARGO_BIN_EXE_oa-server"))
        .args(args)
        .env_remove("OA_DATABASE_URL")
        .output()?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

#[tokio::test]
async fn migrate_command_migrates_without_printing_the_password() -> Result<()> {
    let db = testing::database().await?;
    // The test cluster trusts loopback, so any password is accepted; it must never be printed.
    let url = db.url().replace("://oa@", "://oa:hunter2-secret@");

    let (ok, printed) = run_binary(&["migrate", "--database-url", &url])?;
    assert!(ok, "{printed}");
    assert!(!printed.contains("hunter2-secret"), "{printed}");
    let tables = table_names(&db.pool().await?).await?;
    assert!(
        tables.iter().any(|t| t == "contribution_events"),
        "{tables:?}"
    );
    Ok(())
}

#[tokio::test]
async fn json_logs_are_one_object_per_line() -> Result<()> {
    let db = testing::database().await?;
    let output = Command::new(env!("CARGO_BIN_EXE_oa-server"))
        .args([
            "--log-format",
            "json",
            "migrate",
            "--database-url",
            &db.url(),
        ])
        .env_remove("OA_DATABASE_URL")
        .env("RUST_LOG", "info")
        .output()?;
    assert!(output.status.success());
    let logs = String::from_utf8(output.stderr)?;
    let lines: Vec<&str> = logs.lines().collect();
    assert!(!lines.is_empty(), "nothing was logged");
    for line in lines {
        let record: Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("not a JSON log line ({e}): {line}"))?;
        assert!(
            record["level"].is_string() && record["timestamp"].is_string(),
            "{line}"
        );
    }
    Ok(())
}

#[test]
fn migrate_command_rejects_a_malformed_url_without_echoing_it() -> Result<()> {
    let (ok, printed) = run_binary(&["migrate", "--database-url", "postgres://oa:pw-123@[::1"])?;
    assert!(!ok);
    assert!(printed.contains("not a valid PostgreSQL URL"), "{printed}");
    assert!(!printed.contains("pw-123"), "{printed}");
    Ok(())
}

/// Kills the child when a test fails halfway, so no server outlives the test process.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn serve_command_migrates_serves_and_stops_cleanly_on_sigterm() -> Result<()> {
    let db = testing::database().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_oa-server"))
        .args(["serve", "--listen", &listen])
        // The URL from the environment, as a service manager would pass it.
        .env("OA_DATABASE_URL", db.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut child = ChildGuard(child);

    // The server migrates before it listens; poll until it answers.
    let url = format!("http://{listen}/healthz");
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(response) = get_json(&url).await {
            answer = Some(response);
            break;
        }
        if let Some(status) = child.0.try_wait()? {
            bail!("oa-server serve exited early with {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, body) = answer.context("oa-server serve never answered /healthz")?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["schema_version"], oa_server::latest_schema_version());

    let terminated = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()?;
    assert!(terminated.success());
    let mut exit = None;
    for _ in 0..100 {
        if let Some(status) = child.0.try_wait()? {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let exit = exit.context("oa-server serve did not stop after SIGTERM")?;
    assert!(
        exit.success(),
        "graceful shutdown exits with success, got {exit}"
    );
    Ok(())
}
