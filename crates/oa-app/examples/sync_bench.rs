//! The sync part of `cargo xtask bench`: how long the desktop takes to send 10,000 queued
//! events to the real dataset server over loopback.
//!
//! Starts `oa-server` on a throw-away PostgreSQL cluster (`oa_server::testing`), fills a fresh
//! app database with shared conversations (five events each), then times `App::sync_now` from
//! the first request to the last answer recorded in SQLite, and checks in the server's
//! database that every event arrived once. Prints one JSON object (or writes it to `--out`).
//!
//! The server's per-account and per-device rate limits are lifted: with its defaults (3,000
//! events a minute per device) the limit, not the software, would set the time, and the agent
//! honours its answers.

use std::time::Instant;

use anyhow::{Context as _, Result, ensure};
use oa_app::{App, AppConfig};
use oa_server::testing::{TestServer, load_config, model_provenance};
use oa_store::Store;
use oa_store::testing::{EVENTS_PER_CONVERSATION, shared_conversations};
use oa_sync::ServerClient;
use oa_types::{ConsentState, RegisterRequest};
use serde_json::json;

const EVENTS: usize = 10_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let out = std::env::args()
        .skip_while(|a| a != "--out")
        .nth(1)
        .map(std::path::PathBuf::from);
    let server = TestServer::start_with(load_config()).await?;
    let client = ServerClient::new(&server.base_url())?;
    let session = client
        .register(&RegisterRequest {
            display_name: "bench".into(),
            password: "benchmark password".into(),
            device_name: "sync bench".into(),
        })
        .await?;

    let dir = tempfile::tempdir()?;
    let config = AppConfig::new(dir.path().to_owned(), None);
    let fill = Instant::now();
    {
        let mut store = Store::open(&config.database_path())?;
        shared_conversations(
            &mut store,
            EVENTS / EVENTS_PER_CONVERSATION,
            "bench",
            &model_provenance(),
        )?;
        ensure!(store.count_events(&[ConsentState::Queued])? == EVENTS as u64);
    }
    let fill_seconds = fill.elapsed().as_secs_f64();

    let app = App::open_without_model(config.clone());
    let start = Instant::now();
    let report = app.sharing().sync_now(&client, &session.token).await?;
    let seconds = start.elapsed().as_secs_f64();
    ensure!(
        report.accepted == EVENTS && report.rejected == 0,
        "the server did not accept everything: {report:?}"
    );
    let held: i64 = sqlx::query_scalar("SELECT count(*) FROM contribution_events")
        .fetch_one(server.pool())
        .await
        .context("counting the server's events")?;
    ensure!(held == EVENTS as i64, "the server holds {held} events");
    let store = Store::open(&config.database_path())?;
    ensure!(store.count_events(&[ConsentState::Accepted])? == EVENTS as u64);

    let result = json!({
        "events": EVENTS,
        "batches": report.batches,
        "seconds": seconds,
        "events_per_second": EVENTS as f64 / seconds,
        "server_events": held,
        "fill_seconds": fill_seconds,
    });
    let text = serde_json::to_string_pretty(&result)?;
    match out {
        Some(path) => std::fs::write(&path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}
