//! A throw-away PostgreSQL cluster for tests of this crate and of the crates that talk to it.
//!
//! The first test of a test process that asks for a database starts a private cluster: `initdb`
//! in a temporary directory, then `pg_ctl start` listening only on `127.0.0.1` on a free port,
//! with its Unix socket inside that directory. Every later test in the process shares that
//! cluster but gets its own fresh database from [`database`], so tests never see each other's
//! rows. When the process exits the cluster is stopped and its directory removed.
//!
//! The server programs are found in `$OA_PG_BIN`, else in the newest `/usr/lib/postgresql/*/bin`
//! (Debian's layout), else on `PATH`. A missing PostgreSQL is an error that says what to install,
//! never a silently skipped test.
//!
//! `initdb` refuses to run as root, and tests in containers and CI often do; as root, the cluster
//! is therefore created and run as the `postgres` system user (which Debian's `postgresql` package
//! creates) through `runuser`.
//!
//! ```no_run
//! # async fn example() -> Result<(), oa_server::testing::FixtureError> {
//! // A migrated database behind the real router, on a loopback port.
//! let server = oa_server::testing::TestServer::start().await?;
//! let health_url = format!("{}/healthz", server.base_url());
//! # let _ = health_url;
//! # Ok(())
//! # }
//! ```
//!
//! Everything here needs a Tokio runtime (`#[tokio::test]`).

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgSslMode};
use sqlx::{AssertSqlSafe, Connection as _};

use crate::error::ErrorChain;

mod proxy;
mod tls;
use crate::{AppState, Config, PasswordCost};
pub use proxy::{Fault, FaultProxy};
pub use tls::TestCa;

/// The superuser `initdb` creates; with `trust` authentication it needs no password.
const SUPERUSER: &str = "oa";

/// The system user that runs the cluster when the tests run as root.
const SYSTEM_USER: &str = "postgres";

/// How many times a start is retried when another process took the free port first.
const START_ATTEMPTS: usize = 3;

/// Why a test fixture could not be set up. The message says what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FixtureError {
    /// No PostgreSQL server programs were found.
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl) not found in {searched}. Install the \
         `postgresql` package (`cargo xtask setup` does), or set OA_PG_BIN to the directory that \
         holds initdb and pg_ctl"
    )]
    NotInstalled {
        /// Where the programs were looked for.
        searched: String,
    },

    /// The tests run as root, and the cluster cannot be handed to an unprivileged user.
    #[error(
        "tests run as root and initdb refuses root, so the test cluster runs as the `postgres` \
         user through `runuser`; that failed ({detail}). Install the `postgresql` package, which \
         creates the user, or run the tests as an ordinary user"
    )]
    NoUnprivilegedUser {
        /// What failed.
        detail: String,
    },

    /// The `oa-server` program is not built where [`server_binary`] looks.
    #[error(
        "{path} is missing: build it first (`cargo build -p oa-server`, which `cargo test \
         --workspace` does) or set OA_SERVER_BINARY"
    )]
    NoServerProgram {
        /// Where it was looked for.
        path: String,
    },

    /// Preparing the cluster failed before the server was started.
    #[error("preparing the test cluster failed: {step}: {detail}")]
    Setup {
        /// The step that failed.
        step: &'static str,
        /// Its error or output.
        detail: String,
    },

    /// The server did not start.
    #[error("the test PostgreSQL server did not start: {detail}\n--- server log ---\n{log}")]
    Start {
        /// `pg_ctl`'s own account of the failure.
        detail: String,
        /// The end of the server's log.
        log: String,
    },

    /// The cluster runs, but talking to it failed.
    #[error("{what}: {message}")]
    Database {
        /// What was being done.
        what: &'static str,
        /// The error, with its causes.
        message: String,
    },
}

impl FixtureError {
    fn database(what: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |error| FixtureError::Database {
            what,
            message: ErrorChain(&error).to_string(),
        }
    }

    fn setup(step: &'static str) -> impl FnOnce(std::io::Error) -> Self {
        move |error| FixtureError::Setup {
            step,
            detail: error.to_string(),
        }
    }
}

/// The process's cluster, started by the first test that needs it. A failure is kept too, so that
/// every test reports it instead of each one trying again.
static CLUSTER: OnceLock<Result<Cluster, FixtureError>> = OnceLock::new();

/// Numbers the databases handed out; the cluster is private to this process, so a counter is
/// enough to keep names unique.
static NEXT_DATABASE: AtomicU64 = AtomicU64::new(1);

/// A running cluster. Its directory holds `data/`, the Unix socket and the server log.
#[derive(Debug)]
struct Cluster {
    dir: tempfile::TempDir,
    programs: Programs,
    port: u16,
}

/// How to run `initdb` and `pg_ctl`: directly, or as the `postgres` user when we are root.
#[derive(Debug)]
struct Programs {
    bin: PathBuf,
    as_system_user: bool,
}

impl Programs {
    fn command(&self, program: &str, cwd: &Path) -> Command {
        let path = self.bin.join(program);
        let mut command = if self.as_system_user {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", SYSTEM_USER, "--"]).arg(path);
            runuser
        } else {
            Command::new(path)
        };
        // The caller's working directory may be unreadable for the `postgres` user, and pg_ctl
        // refuses to run where it cannot resolve its working directory.
        command.current_dir(cwd).stdin(Stdio::null());
        command
    }
}

impl Cluster {
    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn connect_options(&self, database: &str) -> PgConnectOptions {
        connect_options(self.port, database)
    }

    /// Stops the server at once (its data is thrown away anyway) and removes the directory.
    fn stop(&self) {
        let _ = self
            .programs
            .command("pg_ctl", self.dir.path())
            .arg("stop")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(self.dir.path());
    }
}

/// Loopback TCP as the superuser; the client is built without TLS, and loopback needs none.
fn connect_options(port: u16, database: &str) -> PgConnectOptions {
    PgConnectOptions::new_without_pgpass()
        .host("127.0.0.1")
        .port(port)
        .username(SUPERUSER)
        .database(database)
        .ssl_mode(PgSslMode::Disable)
}

/// The shared cluster, started on first use. Blocks while it starts.
fn cluster() -> Result<&'static Cluster, FixtureError> {
    CLUSTER
        .get_or_init(|| {
            let cluster = start_cluster()?;
            stop_cluster_at_exit();
            Ok(cluster)
        })
        .as_ref()
        .map_err(Clone::clone)
}

fn start_cluster() -> Result<Cluster, FixtureError> {
    let programs = Programs {
        bin: find_programs()?,
        as_system_user: running_as_root(),
    };
    // The system temp dir, not the crate's: the `postgres` user must be able to reach it.
    let dir = tempfile::Builder::new()
        .prefix("oa-test-pg-")
        .tempdir()
        .map_err(FixtureError::setup("creating a temporary directory"))?;
    if programs.as_system_user {
        hand_to_system_user(dir.path())?;
    }

    let data = dir.path().join("data");
    let initdb = programs
        .command("initdb", dir.path())
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", SUPERUSER, "--no-sync"])
        // Fixed encoding and locale: tests must not depend on the machine's LANG.
        .args(["-E", "UTF8", "--locale=C"])
        .output()
        .map_err(|error| spawn_error("initdb", &programs, error))?;
    if !initdb.status.success() {
        return Err(FixtureError::Setup {
            step: "initdb",
            detail: output_text(&initdb),
        });
    }

    // Only loopback TCP, a socket no other cluster uses, and no durability: the data dies with
    // the test process, so waiting for the disk would only slow the tests down.
    let settings = format!(
        "\nlisten_addresses = '127.0.0.1'\n\
         unix_socket_directories = '{}'\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n",
        dir.path().display()
    );
    OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .and_then(|mut conf| conf.write_all(settings.as_bytes()))
        .map_err(FixtureError::setup("writing postgresql.conf"))?;

    let mut attempt = 1;
    loop {
        let port = free_port()?;
        match start_server(&programs, dir.path(), port) {
            Ok(()) => {
                return Ok(Cluster {
                    dir,
                    programs,
                    port,
                });
            }
            // The port was free when we looked, but another process may have taken it since.
            Err(FixtureError::Start { log, .. })
                if attempt < START_ATTEMPTS && log.contains("could not bind") =>
            {
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Runs `pg_ctl start` and waits until the server accepts connections.
fn start_server(programs: &Programs, dir: &Path, port: u16) -> Result<(), FixtureError> {
    let log_path = dir.join("server.log");
    let _ = std::fs::remove_file(&log_path);
    // pg_ctl's own output goes to a file, not a pipe: the server it forks could otherwise hold
    // the pipe open and leave us waiting for an end of file that never comes.
    let pg_ctl_path = dir.join("pg_ctl.out");
    let pg_ctl_out =
        File::create(&pg_ctl_path).map_err(FixtureError::setup("creating pg_ctl.out"))?;
    let pg_ctl_err = pg_ctl_out
        .try_clone()
        .map_err(FixtureError::setup("creating pg_ctl.out"))?;
    let status = programs
        .command("pg_ctl", dir)
        .arg("start")
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-l")
        .arg(&log_path)
        .args(["-w", "-t", "60", "-o"])
        .arg(format!("-p {port}"))
        .stdout(pg_ctl_out)
        .stderr(pg_ctl_err)
        .status()
        .map_err(|error| spawn_error("pg_ctl", programs, error))?;
    if status.success() {
        return Ok(());
    }

    let detail = std::fs::read_to_string(&pg_ctl_path)
        .unwrap_or_default()
        .trim()
        .to_owned();
    let log = std::fs::read_to_string(&log_path)
        .map(|log| last_lines(&log, 60))
        .unwrap_or_else(|error| format!("(no server log at {}: {error})", log_path.display()));
    // `-w` gave up, but the server may still be coming up: do not leave it running.
    let _ = programs
        .command("pg_ctl", dir)
        .arg("stop")
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-m", "immediate"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    Err(FixtureError::Start {
        detail: format!("pg_ctl start exited with {status}: {detail}"),
        log,
    })
}

/// The directory holding `initdb` and `pg_ctl`.
fn find_programs() -> Result<PathBuf, FixtureError> {
    let has_programs = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();

    if let Some(dir) = std::env::var_os("OA_PG_BIN") {
        let dir = PathBuf::from(dir);
        // An explicit choice that does not work is reported, not replaced by another version.
        return if has_programs(&dir) {
            Ok(dir)
        } else {
            Err(FixtureError::NotInstalled {
                searched: format!("OA_PG_BIN={}", dir.display()),
            })
        };
    }

    let newest_debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = parse_version(&entry.file_name())?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_programs(bin))
        .max_by(|(a, _), (b, _)| a.cmp(b));
    if let Some((_, bin)) = newest_debian {
        return Ok(bin);
    }

    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_programs(dir))
        .ok_or_else(|| FixtureError::NotInstalled {
            searched: "/usr/lib/postgresql/*/bin and PATH".to_owned(),
        })
}

/// `15` or `9.6` as comparable numbers; anything else is not a version directory.
fn parse_version(name: &std::ffi::OsStr) -> Option<Vec<u32>> {
    name.to_str()?
        .split('.')
        .map(|part| part.parse().ok())
        .collect()
}

/// Gives the temporary directory to the `postgres` user, who will own the cluster in it.
fn hand_to_system_user(dir: &Path) -> Result<(), FixtureError> {
    // `user:` also sets the group to the user's login group.
    let output = Command::new("chown")
        .arg(format!("{SYSTEM_USER}:"))
        .arg(dir)
        .output()
        .map_err(|error| FixtureError::NoUnprivilegedUser {
            detail: format!("cannot run chown: {error}"),
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(FixtureError::NoUnprivilegedUser {
            detail: output_text(&output),
        })
    }
}

fn spawn_error(program: &'static str, programs: &Programs, error: std::io::Error) -> FixtureError {
    if programs.as_system_user && error.kind() == std::io::ErrorKind::NotFound {
        FixtureError::NoUnprivilegedUser {
            detail: format!("cannot run runuser: {error}"),
        }
    } else {
        FixtureError::Setup {
            step: program,
            detail: format!(
                "cannot run {}: {error}",
                programs.bin.join(program).display()
            ),
        }
    }
}

/// A loopback port that nothing listens on right now.
fn free_port() -> Result<u16, FixtureError> {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(FixtureError::setup("finding a free port"))
}

fn output_text(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let text = text.trim();
    if text.is_empty() {
        format!("exited with {} and printed nothing", output.status)
    } else {
        text.to_owned()
    }
}

fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

#[allow(unsafe_code)]
fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() == 0 }
}

/// Stops the cluster when the test process exits. Statics are never dropped, so a `Drop` impl
/// would not run; the test harness leaves through libc's `exit`, which runs `atexit` handlers,
/// whether the tests passed or failed.
#[allow(unsafe_code)]
fn stop_cluster_at_exit() {
    extern "C" fn stop() {
        if let Some(Ok(cluster)) = CLUSTER.get() {
            cluster.stop();
        }
    }
    // SAFETY: `stop` is an `extern "C" fn()` as atexit expects. It runs after `main` returned,
    // when the cluster is initialised and immutable; it only reads it, runs pg_ctl and deletes
    // files, ignoring every error, so it cannot unwind across the C boundary.
    let registered = unsafe { libc::atexit(stop) } == 0;
    if !registered {
        eprintln!(
            "oa-server testing: cannot register the exit hook; the test PostgreSQL server will \
             keep running after the tests"
        );
    }
}

/// A fresh, empty database in the shared test cluster.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    port: u16,
}

/// Creates a fresh, empty database, starting the process's cluster first if needed.
///
/// Apply the schema with [`crate::migrate`], or use [`TestServer::start`], which does.
pub async fn database() -> Result<TestDatabase, FixtureError> {
    // Starting the cluster blocks for a few seconds the first time; keep that off the runtime.
    let cluster = tokio::task::spawn_blocking(cluster)
        .await
        .map_err(|error| FixtureError::Setup {
            step: "starting the cluster",
            detail: error.to_string(),
        })??;
    let name = format!("t_{}", NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));

    let mut admin = PgConnection::connect_with(&cluster.connect_options("postgres"))
        .await
        .map_err(FixtureError::database("connecting to the test cluster"))?;
    // The name is ours (`t_` and a number), so formatting it into the statement is safe.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .map_err(FixtureError::database("creating a test database"))?;
    let _ = admin.close().await;

    Ok(TestDatabase {
        name,
        port: cluster.port,
    })
}

impl TestDatabase {
    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL for the database, as `oa-server --database-url` takes it. It has no password.
    pub fn url(&self) -> String {
        format!(
            "postgres://{SUPERUSER}@127.0.0.1:{}/{}?sslmode=disable",
            self.port, self.name
        )
    }

    /// Options to connect to the database.
    pub fn connect_options(&self) -> PgConnectOptions {
        connect_options(self.port, &self.name)
    }

    /// A small pool on the database; tests share one cluster, so each keeps few connections.
    pub async fn pool(&self) -> Result<PgPool, FixtureError> {
        PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(self.connect_options())
            .await
            .map_err(FixtureError::database("connecting to the test database"))
    }

    /// Drops the database, cutting off everyone still connected to it: a database that went away
    /// under a running server.
    pub async fn drop_database(&self) -> Result<(), FixtureError> {
        let cluster = cluster()?;
        let mut admin = PgConnection::connect_with(&cluster.connect_options("postgres"))
            .await
            .map_err(FixtureError::database("connecting to the test cluster"))?;
        sqlx::query(AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut admin)
        .await
        .map_err(FixtureError::database("dropping a test database"))?;
        let _ = admin.close().await;
        Ok(())
    }
}

/// The `oa-server` program, for tests of other crates that run it as a process:
/// `$OA_SERVER_BINARY`, else the one beside the running test's folder (`cargo test
/// --workspace` builds it into the same `target/<profile>/`).
pub fn server_binary() -> Result<PathBuf, FixtureError> {
    if let Some(path) = std::env::var_os("OA_SERVER_BINARY") {
        return Ok(path.into());
    }
    // target/<profile>/deps/<test>-<hash> → target/<profile>/oa-server
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_owned()))
        .map(|dir| dir.join(format!("oa-server{}", std::env::consts::EXE_SUFFIX)));
    match beside {
        Some(path) if path.is_file() => Ok(path),
        other => Err(FixtureError::NoServerProgram {
            path: other.map_or_else(|| "oa-server".to_owned(), |p| p.display().to_string()),
        }),
    }
}

/// Installs ring as rustls's crypto provider, which every reqwest client of this workspace needs
/// before it is built (the server's and the desktop's do it themselves; a test's own client
/// calls this first).
pub fn install_crypto_provider() {
    crate::install_crypto_provider();
}

/// The configuration of most tests: the defaults, except the cheapest password hashing and no
/// sign-up or sign-in throttling (tests sign many accounts in from one address). Tests of the
/// throttles start from [`Config::default`].
pub fn test_config() -> Config {
    Config {
        password: PasswordCost::insecure_fast(),
        limits: crate::Limits::default().without_account_throttles(),
        ..Config::default()
    }
}

/// The configuration for load generators: [`test_config`] without per-account or per-device
/// event limits either, so that what is measured is the server, not its limits.
pub fn load_config() -> Config {
    let config = test_config();
    Config {
        limits: crate::Limits {
            events_per_minute_account: u32::MAX / 2,
            events_per_minute_device: u32::MAX / 2,
            ..config.limits
        },
        ..config
    }
}

/// The real router, served on a loopback port by a background task until dropped.
#[derive(Debug)]
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    pool: PgPool,
    database: Option<TestDatabase>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Serves a fresh, migrated database with [`test_config`].
    pub async fn start() -> Result<Self, FixtureError> {
        Self::start_with(test_config()).await
    }

    /// Serves a fresh, migrated database with the given configuration.
    pub async fn start_with(config: Config) -> Result<Self, FixtureError> {
        Self::start_migrated(config, None).await
    }

    /// Serves a fresh, migrated database over HTTPS with [`test_config`] and the server
    /// certificate of `ca`; [`TestServer::base_url`] is then `https://localhost:<port>`.
    pub async fn start_tls(ca: &TestCa) -> Result<Self, FixtureError> {
        let identity = crate::TlsIdentity::from_pem_files(&ca.cert_file(), &ca.key_file())
            .await
            .map_err(FixtureError::setup("reading the test certificate"))?;
        Self::start_migrated(test_config(), Some(identity)).await
    }

    async fn start_migrated(
        config: Config,
        tls: Option<crate::TlsIdentity>,
    ) -> Result<Self, FixtureError> {
        let database = database().await?;
        let pool = database.pool().await?;
        crate::migrate(&pool)
            .await
            .map_err(|error| FixtureError::Database {
                what: "migrating a test database",
                message: ErrorChain(&error).to_string(),
            })?;
        let mut server = Self::serve(pool, config, tls).await?;
        server.database = Some(database);
        Ok(server)
    }

    /// Serves the given pool as it is: not migrated, or pointing nowhere, if a test wants that.
    pub async fn with_pool(pool: PgPool) -> Result<Self, FixtureError> {
        Self::serve(pool, Config::default(), None).await
    }

    async fn serve(
        pool: PgPool,
        config: Config,
        tls: Option<crate::TlsIdentity>,
    ) -> Result<Self, FixtureError> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(FixtureError::setup("binding a loopback port"))?;
        let addr = listener
            .local_addr()
            .map_err(FixtureError::setup("binding a loopback port"))?;
        let state = AppState::with_config(pool.clone(), config);
        let is_tls = tls.is_some();
        let task = tokio::spawn(async move {
            let served = match tls {
                Some(identity) => {
                    crate::serve_tls(listener, state, identity, std::future::pending()).await
                }
                None => match listener
                    .set_nonblocking(true)
                    .and_then(|()| tokio::net::TcpListener::from_std(listener))
                {
                    Ok(listener) => crate::serve(listener, state, std::future::pending()).await,
                    Err(error) => Err(error),
                },
            };
            if let Err(error) = served {
                eprintln!("oa-server testing: the test server stopped: {error}");
            }
        });
        Ok(TestServer {
            addr,
            tls: is_tls,
            pool,
            database: None,
            task,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, or `https://localhost:<port>` over TLS, without a trailing
    /// slash.
    pub fn base_url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// The pool the server uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The database behind the server, when [`TestServer::start`] created it.
    pub fn database(&self) -> Option<&TestDatabase> {
        self.database.as_ref()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The provenance of a reply SmolLM2 wrote on a desktop, as the app records it: what tests put
/// on synthetic messages.
pub fn model_provenance() -> oa_types::Provenance {
    oa_types::Provenance {
        model_id: "SmolLM2 135M Instruct".into(),
        model_sha256: "ab".repeat(32),
        quantization: "Q4_1".into(),
        architecture: "llama".into(),
        chat_template_sha256: "cd".repeat(32),
        sampler: oa_types::SamplerParams::default(),
        engine_version: "0.1.0".into(),
        prompt_tokens: 10,
        completion_tokens: 20,
        time_to_first_token_ms: 5,
        total_ms: 50,
        stopped: false,
        dropped_messages: 0,
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    #[test]
    fn debian_version_directories_compare_numerically() {
        let v = |s: &str| parse_version(&OsString::from(s));
        assert!(v("15") > v("9.6"));
        assert!(v("16") > v("15"));
        assert_eq!(v("common"), None);
    }

    #[test]
    fn server_log_is_cut_to_its_end() {
        let log = (1..=100).map(|n| n.to_string()).collect::<Vec<_>>();
        let tail = last_lines(&log.join("\n"), 3);
        assert_eq!(tail, "98\n99\n100");
    }
}
