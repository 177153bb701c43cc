//! The server side of `cargo xtask bench`: a real server on a loopback port over a throw-away
//! PostgreSQL cluster, driven from outside by the xtask load generator.
//!
//! Speaks a line protocol on stdin/stdout so that the load comes from another process:
//!
//! 1. On start it prints one JSON line: `{"base_url": ..., "tokens": [...]}`, one signed-in
//!    device per load connection (`--accounts N`).
//! 2. `export N` makes N messages of finished trees (10 per tree, a quarter of them labelled)
//!    directly in the database, then times `oa_server::export` writing gzipped oasst files, and
//!    prints one JSON line with the figures.
//! 3. End of input stops the server and removes the cluster.
//!
//! The cluster runs with `fsync = off` (see `oa_server::testing`): the figures measure the
//! server, not the disk.

use std::io::BufRead as _;
use std::time::Instant;

use anyhow::{Context as _, Result};
use oa_server::testing::{TestServer, load_config};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<()> {
    let accounts: usize = std::env::args()
        .skip_while(|a| a != "--accounts")
        .nth(1)
        .map(|n| n.parse())
        .transpose()
        .context("--accounts takes a number")?
        .unwrap_or(4);
    // The load generator is one honest client per account that may send as fast as it can;
    // the limits would otherwise be what is measured.
    let server = TestServer::start_with(load_config()).await?;
    oa_server::testing::install_crypto_provider();
    let http = reqwest::Client::new();
    let mut tokens = Vec::new();
    for i in 0..accounts {
        let response = http
            .post(format!("{}/v1/accounts", server.base_url()))
            .json(&json!({
                "display_name": format!("bench-{i}"),
                "password": "benchmark password",
                "device_name": "load generator",
            }))
            .send()
            .await?
            .error_for_status()?;
        let session: oa_types::DeviceSession = response.json().await?;
        tokens.push(session.token);
    }
    println!(
        "{}",
        json!({ "base_url": server.base_url(), "tokens": tokens })
    );

    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let line = line?;
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("export"), Some(n)) => {
                let messages: i64 = n.parse().context("export takes a number of messages")?;
                let report = export(&server, messages).await?;
                println!("{report}");
            }
            (None, _) => {}
            _ => anyhow::bail!("unknown command {line:?}"),
        }
    }
    Ok(())
}

/// Peak resident memory of this process so far, in KiB (Linux), to show the export's footprint.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn export(server: &TestServer, messages: i64) -> Result<serde_json::Value> {
    let pool = server.pool();
    let (account, device): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("SELECT account_id, id FROM devices ORDER BY created_at LIMIT 1")
            .fetch_one(pool)
            .await?;
    let trees = messages / 10;
    let generated = Instant::now();
    let mut tx = pool.begin().await?;
    // Ten messages per tree: a prompt, three assistant replies (ranked 0..2) and two prompter
    // follow-ups under each reply. Ids are derived from the message number.
    sqlx::query(
        "INSERT INTO contribution_events (id, account_id, device_id, kind, payload) \
         SELECT md5('e' || i)::uuid, $1, $2, 'message', '{}'::jsonb \
         FROM generate_series(0, $3 - 1) AS i",
    )
    .bind(account)
    .bind(device)
    .bind(trees * 10)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO message_trees (id, state) \
         SELECT md5('m' || (t * 10))::uuid, 'ready_for_export' FROM generate_series(0, $1 - 1) t",
    )
    .bind(trees)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO messages (id, tree_id, parent_id, event_id, account_id, role, text, depth, \
                               synthetic, model_name, created_at, review_state, review_count, rank) \
         SELECT md5('m' || i)::uuid, md5('m' || (i / 10 * 10))::uuid, \
                CASE WHEN i % 10 = 0 THEN NULL \
                     WHEN i % 10 <= 3 THEN md5('m' || (i / 10 * 10))::uuid \
                     ELSE md5('m' || (i / 10 * 10 + 1 + (i % 10 - 4) / 2))::uuid END, \
                md5('e' || i)::uuid, $1, \
                CASE WHEN i % 10 BETWEEN 1 AND 3 THEN 'assistant' ELSE 'prompter' END, \
                'Generated message ' || i || repeat(' with some words of text', 8), \
                CASE WHEN i % 10 = 0 THEN 0 WHEN i % 10 <= 3 THEN 1 ELSE 2 END, \
                i % 10 BETWEEN 1 AND 3, \
                CASE WHEN i % 10 BETWEEN 1 AND 3 THEN 'bench-model' END, \
                now(), 'accepted', 3, \
                CASE WHEN i % 10 BETWEEN 1 AND 3 THEN i % 10 - 1 END \
         FROM generate_series(0, $2 - 1) AS i",
    )
    .bind(account)
    .bind(trees * 10)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO contribution_events (id, account_id, device_id, kind, payload) \
         SELECT md5('l' || i)::uuid, $1, $2, 'labels', '{}'::jsonb \
         FROM generate_series(0, $3 - 1, 4) AS i",
    )
    .bind(account)
    .bind(device)
    .bind(trees * 10)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO labels (event_id, message_id, account_id, labels) \
         SELECT md5('l' || i)::uuid, md5('m' || i)::uuid, $1, \
                '{\"quality\": 0.75, \"spam\": 0, \"helpfulness\": 1}'::jsonb \
         FROM generate_series(0, $2 - 1, 4) AS i",
    )
    .bind(account)
    .bind(trees * 10)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    let generate_seconds = generated.elapsed().as_secs_f64();

    let dir = tempfile::tempdir()?;
    let rss_before = peak_rss_kib();
    let started = Instant::now();
    let summary = oa_server::export(pool, dir.path(), "bench", true).await?;
    let export_seconds = started.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&summary.trees_path)?.len()
        + std::fs::metadata(&summary.messages_path)?.len();
    Ok(json!({
        "messages": summary.messages,
        "trees": summary.trees,
        "generate_seconds": generate_seconds,
        "export_seconds": export_seconds,
        "gzip_bytes": bytes,
        "peak_rss_kib_before": rss_before,
        "peak_rss_kib_after": peak_rss_kib(),
    }))
}
