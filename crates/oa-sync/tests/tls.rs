//! The sync client over real TLS, with certificates the test makes (a test CA the client is told
//! to trust through its file): the server terminating TLS itself, and behind nginx as a
//! TLS-terminating reverse proxy. And the client against hostile servers: plain HTTP to another
//! host, a redirect from HTTPS to HTTP, a body of a gigabyte.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, bail, ensure};
use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use oa_server::testing::{TestCa, TestServer};
use oa_store::Store;
use oa_sync::{Error, MAX_RESPONSE_BYTES, ServerClient};
use oa_types::EventStatus;

mod common;
use common::{register_request, shared_conversation};

/// Registers, sends a shared conversation twice over `client`: the first time everything is
/// accepted, the second time everything is a duplicate (exactly once).
async fn sync_exactly_once(client: &ServerClient, name: &str) -> Result<()> {
    let session = client.register(&register_request(name)).await?;
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&dir.path().join("open-assistant.sqlite3"))?;
    let events = shared_conversation(&mut store, "Why is the sea salty?")?;
    let first = client.ingest(&session.token, &events).await?;
    ensure!(
        first.iter().all(|r| r.status == EventStatus::Accepted),
        "{first:?}"
    );
    let again = client.ingest(&session.token, &events).await?;
    ensure!(
        again.iter().all(|r| r.status == EventStatus::Duplicate),
        "{again:?}"
    );
    Ok(())
}

#[tokio::test]
async fn contributions_reach_a_server_that_terminates_tls_itself_exactly_once() -> Result<()> {
    let ca = TestCa::new()?;
    let server = TestServer::start_tls(&ca).await?;
    assert!(server.base_url().starts_with("https://"));

    // Without the CA the certificate is unknown: nothing is sent.
    let untrusting = ServerClient::new(&server.base_url())?;
    match untrusting.register(&register_request("Mallory")).await {
        Err(Error::Unreachable { .. }) => {}
        other => panic!("an unknown certificate must not be trusted, got {other:?}"),
    }

    let client = ServerClient::with_ca_file(&server.base_url(), Some(&ca.ca_file()))?;
    client.health().await?;
    sync_exactly_once(&client, "Alice").await
}

/// nginx in the foreground with a configuration of its own in `dir`, killed when dropped.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts nginx terminating TLS on `port` with the test CA's server certificate and proxying to
/// `backend` over plain HTTP, appending the client's address to `X-Forwarded-For`.
fn start_nginx(dir: &Path, ca: &TestCa, port: u16, backend: SocketAddr) -> Result<Nginx> {
    let config = format!(
        "daemon off;\n\
         master_process off;\n\
         worker_processes 1;\n\
         pid {dir}/nginx.pid;\n\
         error_log {dir}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {dir}/body;\n\
           proxy_temp_path {dir}/proxy;\n\
           fastcgi_temp_path {dir}/fastcgi;\n\
           uwsgi_temp_path {dir}/uwsgi;\n\
           scgi_temp_path {dir}/scgi;\n\
           server {{\n\
             listen 127.0.0.1:{port} ssl;\n\
             server_name localhost;\n\
             ssl_certificate {cert};\n\
             ssl_certificate_key {key};\n\
             client_max_body_size 8m;\n\
             location / {{\n\
               proxy_pass http://{backend};\n\
               proxy_set_header Host $host;\n\
               proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
               proxy_set_header X-Forwarded-Proto https;\n\
             }}\n\
           }}\n\
         }}\n",
        dir = dir.display(),
        cert = ca.cert_file().display(),
        key = ca.key_file().display(),
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config)?;
    let program = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").output().is_ok())
        .context("nginx is not installed: run `cargo xtask setup`")?;
    let child = Command::new(program)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting nginx")?;
    Ok(Nginx(child))
}

#[tokio::test]
async fn contributions_reach_a_server_behind_nginx_terminating_tls() -> Result<()> {
    let ca = TestCa::new()?;
    let server = TestServer::start_with(oa_server::Config {
        limits: oa_server::Limits {
            trusted_proxies: vec!["127.0.0.1".parse()?],
            ..oa_server::testing::test_config().limits
        },
        ..oa_server::testing::test_config()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let mut nginx = start_nginx(dir.path(), &ca, port, server.addr())?;
    let client =
        ServerClient::with_ca_file(&format!("https://localhost:{port}"), Some(&ca.ca_file()))?;
    // nginx takes a moment to listen.
    let mut healthy = false;
    for _ in 0..100 {
        if client.health().await.is_ok() {
            healthy = true;
            break;
        }
        if let Some(status) = nginx.0.try_wait()? {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            bail!("nginx exited with {status}: {log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(healthy, "nginx never answered");
    sync_exactly_once(&client, "Alice").await
}

#[test]
fn plain_http_to_another_computer_is_refused_before_anything_is_sent() {
    for url in ["http://data.example.org", "http://10.1.2.3:8080/oa/"] {
        match ServerClient::new(url) {
            Err(Error::InvalidUrl { reason }) => assert!(reason.contains("https://"), "{reason}"),
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
}

/// Serves `router` over TLS with the test CA's certificate on a loopback port.
async fn serve_tls(router: Router, ca: &TestCa) -> Result<SocketAddr> {
    oa_server::testing::install_crypto_provider();
    let config =
        axum_server::tls_rustls::RustlsConfig::from_pem_file(ca.cert_file(), ca.key_file()).await?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = axum_server::from_tcp_rustls(listener, config)?;
    tokio::spawn(server.serve(router.into_make_service()));
    Ok(addr)
}

/// Serves `router` over plain HTTP on a loopback port.
async fn serve_plain(router: Router) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

#[tokio::test]
async fn a_redirect_from_https_to_plain_http_is_refused() -> Result<()> {
    let ca = TestCa::new()?;
    // Where the redirect points: it must never be asked anything.
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let plain = serve_plain(Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { StatusCode::OK }
    }))
    .await?;
    let target = format!("http://127.0.0.1:{}/v1/sessions", plain.port());
    let redirecting = Router::new().fallback(move || {
        let target = target.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response() }
    });
    let addr = serve_tls(redirecting, &ca).await?;
    let client = ServerClient::with_ca_file(
        &format!("https://localhost:{}", addr.port()),
        Some(&ca.ca_file()),
    )?;
    match client
        .log_in(&oa_types::LoginRequest {
            display_name: "Alice".into(),
            password: "correct horse battery staple".into(),
            device_name: "laptop".into(),
        })
        .await
    {
        Err(Error::RedirectRefused { from, to }) => {
            assert!(from.starts_with("https://localhost"), "{from}");
            assert!(to.starts_with("http://127.0.0.1"), "{to}");
        }
        other => panic!("expected the redirect to be refused, got {other:?}"),
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        0,
        "the password went to plain HTTP"
    );
    Ok(())
}

/// A body of `total` bytes in 64 KiB chunks, counting what was produced into `sent`.
fn endless_body(total: usize, sent: Arc<AtomicUsize>) -> Body {
    const CHUNK: usize = 64 * 1024;
    let chunks = futures_util::stream::iter((0..total / CHUNK).map(move |_| {
        sent.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::io::Error>(vec![b' '; CHUNK])
    }));
    Body::from_stream(chunks)
}

#[tokio::test]
async fn a_gigabyte_answer_ends_in_a_typed_error_without_being_read() -> Result<()> {
    const GIGABYTE: usize = 1 << 30;
    let sent = Arc::new(AtomicUsize::new(0));
    // Streamed with no length announced, so only counting while reading can stop it.
    let streamed = sent.clone();
    let hostile = Router::new().route(
        "/healthz",
        get(move || {
            let sent = streamed.clone();
            async move { Response::new(endless_body(GIGABYTE, sent)) }
        }),
    );
    let addr = serve_plain(hostile).await?;
    let client = ServerClient::new(&format!("http://127.0.0.1:{}", addr.port()))?;
    match client.health().await {
        Err(Error::ResponseTooLarge { limit, .. }) => assert_eq!(limit, MAX_RESPONSE_BYTES),
        other => panic!("expected a typed error, got {other:?}"),
    }
    // The client stopped at its limit: what the server managed to push is the limit plus what
    // the sockets buffer, far from the gigabyte.
    let produced = sent.load(Ordering::SeqCst);
    assert!(
        produced < MAX_RESPONSE_BYTES + 32 * 1024 * 1024,
        "{produced} bytes were produced"
    );

    // A length announced up front is refused before the body is read at all.
    let announced = Router::new().route(
        "/healthz",
        get(|| async {
            Response::builder()
                .header(header::CONTENT_LENGTH, GIGABYTE.to_string())
                .body(Body::from_stream(futures_util::stream::pending::<
                    Result<Vec<u8>, std::io::Error>,
                >()))
                .unwrap_or_default()
        }),
    );
    let addr = serve_plain(announced).await?;
    let client = ServerClient::new(&format!("http://127.0.0.1:{}", addr.port()))?;
    match client.health().await {
        Err(Error::ResponseTooLarge { .. }) => {}
        other => panic!("expected a typed error, got {other:?}"),
    }
    Ok(())
}
