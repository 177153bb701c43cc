//! Sending 2,000 shared events while everything between the desktop and the dataset server
//! breaks: the real `oa-server` process on its own PostgreSQL database, behind a TCP proxy the
//! test drives (`oa_server::testing::FaultProxy`), and the real `oa sync` process sending from
//! the app's SQLite file. Connections are cut mid-request and mid-answer, reset and delayed;
//! the server is killed mid-batch and restarted; `oa sync` is killed while its batch is at the
//! server and started again. What the server holds is read from its database.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use oa_server::testing::{Fault, FaultProxy, TestDatabase, model_provenance};
use oa_store::Store;
use oa_store::testing::{EVENTS_PER_CONVERSATION, shared_conversations};
use oa_types::ConsentState;

const CONVERSATIONS: usize = 400;
const EVENTS: usize = CONVERSATIONS * EVENTS_PER_CONVERSATION;

/// The real server as a process of its own.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    async fn start(database: &TestDatabase, log: &Path) -> Result<ServerProcess> {
        let addr = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let child = Command::new(oa_server::testing::server_binary()?)
            .args(["serve", "--listen", &addr.to_string()])
            // The account sends 2,000 events and some twice within a minute; the rate limits
            // are not what this test is about.
            .args(["--events-per-minute-account", "1000000"])
            .args(["--events-per-minute-device", "1000000"])
            .env("OA_DATABASE_URL", database.url())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("cannot start oa-server")?;
        let mut server = ServerProcess { child, addr };
        let client = oa_sync::ServerClient::new(&format!("http://{addr}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.health().await.is_err() {
            if let Some(status) = server.child.try_wait()? {
                bail!("oa-server exited with {status}");
            }
            ensure!(Instant::now() < deadline, "oa-server did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// SIGKILL: no graceful shutdown, requests in flight die with it.
    fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

fn oa(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_oa"));
    command.env("OA_DATA_DIR", data_dir).env_remove("OA_MODEL");
    command
}

/// Starts `oa sync`, its output kept in `log`.
fn start_sync(data_dir: &Path, log: &Path) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Ok(oa(data_dir)
        .args(["sync", "--max-wait", "2"])
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?)
}

async fn with_timeout<T>(what: &str, future: impl Future<Output = T>) -> Result<T> {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .with_context(|| format!("timed out waiting for {what}"))
}

fn local_counts(database: &Path) -> Result<[u64; 4]> {
    let store = Store::open(database)?;
    Ok([
        ConsentState::Queued,
        ConsentState::Sent,
        ConsentState::Accepted,
        ConsentState::Rejected,
    ]
    .map(|state| store.count_events(&[state]).unwrap_or(u64::MAX)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_events_arrive_exactly_once_whatever_breaks_on_the_way() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let server_log = dir.path().join("server.log");
    let sync_log = dir.path().join("sync.log");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir)?;
    let store_path = oa_app::AppConfig::new(data_dir.clone(), None).database_path();

    let database = oa_server::testing::database().await?;
    let mut server = ServerProcess::start(&database, &server_log).await?;
    let pool = database.pool().await?;
    let proxy = FaultProxy::start(server.addr).await?;

    let written = {
        let mut store = Store::open(&store_path)?;
        shared_conversations(&mut store, CONVERSATIONS, "faults", &model_provenance())?;
        store.count_events(&[ConsentState::Queued])?
    };
    assert_eq!(written, EVENTS as u64);

    let login = oa(&data_dir)
        .args(["account", "login", "--create", "--name", "Grace"])
        .args(["--server", &proxy.url()])
        .env("OA_PASSWORD", "a long enough passphrase")
        .output()?;
    ensure!(
        login.status.success(),
        "login failed: {}",
        String::from_utf8_lossy(&login.stderr)
    );

    // The first batch: its connection is cut mid-request, the retry is reset, the next one
    // waits 2 s and goes through. The second batch's request stalls half-way at the server.
    proxy.inject([
        Fault::CutRequest,
        Fault::Reset,
        Fault::Delay(Duration::from_secs(2)),
        Fault::StallRequest,
    ]);
    let mut sync = start_sync(&data_dir, &sync_log)?;
    with_timeout("the second batch to stall", proxy.stalled()).await?;
    let first_batch: i64 = sqlx::query_scalar("SELECT count(*) FROM contribution_events")
        .fetch_one(&pool)
        .await?;
    assert!(first_batch > 0, "the first batch got through the faults");

    // The server dies with half a batch read; it comes back on another port.
    server.kill()?;
    proxy.release();
    let held_before_kill = first_batch;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server = ServerProcess::start(&database, &server_log).await?;
    proxy.set_upstream(server.addr);
    let after_restart: i64 = sqlx::query_scalar("SELECT count(*) FROM contribution_events")
        .fetch_one(&pool)
        .await?;
    assert_eq!(
        after_restart, held_before_kill,
        "half a request stored nothing"
    );

    // The next batch reaches the server, which stores it; its answer is held back and `oa sync`
    // is killed before it arrives. Those events stay "sent" on the desktop.
    proxy.inject([Fault::HoldResponse]);
    with_timeout("a batch to be held at the server", proxy.stalled()).await?;
    sync.kill()?;
    sync.wait()?;
    proxy.release();
    let [_, sent, _, _] = local_counts(&store_path)?;
    assert!(sent > 0, "the killed sync left its batch marked sent");

    // Started again, it sends the unanswered batch first: the server already has it, and the
    // answer to that is cut too; the retry hears "duplicate" and everything else goes.
    proxy.inject([Fault::CutResponse]);
    let mut sync = start_sync(&data_dir, &sync_log)?;
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = sync.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            sync.kill()?;
            bail!(
                "oa sync did not finish:\n{}",
                std::fs::read_to_string(&sync_log)?
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = std::fs::read_to_string(&sync_log)?;
    ensure!(status.success(), "oa sync failed:\n{output}");
    assert_eq!(proxy.pending_faults(), 0, "every fault was used");
    assert!(
        output.contains("Retrying in"),
        "the failures were seen and retried:\n{output}"
    );

    // The server holds each event exactly once, and the desktop's outbox agrees.
    let (events, distinct, messages): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT id), (SELECT count(*) FROM messages)
         FROM contribution_events",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!((events, distinct), (EVENTS as i64, EVENTS as i64));
    assert_eq!(
        messages,
        (CONVERSATIONS * 3) as i64,
        "prompt and two replies each"
    );
    let server_ids: std::collections::HashSet<oa_types::Uuid> =
        sqlx::query_scalar("SELECT id FROM contribution_events")
            .fetch_all(&pool)
            .await?
            .into_iter()
            .collect();
    let store = Store::open(&store_path)?;
    let accepted = store.events(ConsentState::Accepted)?;
    assert_eq!(accepted.len(), EVENTS);
    assert!(accepted.iter().all(|e| server_ids.contains(&e.id)));
    assert_eq!(local_counts(&store_path)?, [0, 0, EVENTS as u64, 0]);
    drop(server);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_says_what_to_do_when_nothing_is_linked_and_login_names_a_bad_password() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let status = oa(dir.path()).arg("account").output()?;
    assert!(status.status.success());
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(said.contains("No dataset server set"), "{said}");

    let sync = oa(dir.path()).arg("sync").output()?;
    assert!(!sync.status.success(), "nothing to send to");
    let said = String::from_utf8_lossy(&sync.stderr);
    assert!(said.contains("oa account login"), "{said}");

    let server = oa_server::testing::TestServer::start().await?;
    let login = |password: &str| {
        oa(dir.path())
            .args(["account", "login", "--name", "Hal", "--server"])
            .arg(server.base_url())
            .env("OA_PASSWORD", password)
            .output()
    };
    let created = oa(dir.path())
        .args(["account", "login", "--create", "--name", "Hal", "--server"])
        .arg(server.base_url())
        .env("OA_PASSWORD", "a long enough passphrase")
        .output()?;
    assert!(created.status.success());
    let said = String::from_utf8_lossy(&created.stdout);
    assert!(said.contains("as Hal"), "{said}");
    let wrong = login("not the passphrase")?;
    assert!(!wrong.status.success());
    let said = String::from_utf8_lossy(&wrong.stderr).to_lowercase();
    assert!(said.contains("password"), "{said}");

    // Signed in (the failed login kept the earlier session) and nothing shared: a sync is a
    // no-op that says so.
    let sync = oa(dir.path()).arg("sync").output()?;
    let said = String::from_utf8_lossy(&sync.stdout);
    assert!(sync.status.success(), "{said}");
    assert!(said.contains("0 accepted"), "{said}");
    let out = oa(dir.path()).args(["account", "logout"]).output()?;
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("signed out"), "{said}");
    Ok(())
}
