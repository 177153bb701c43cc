//! The local API in the real app: turned on in Settings on a free port, used with its key, out
//! of reach of the app's own page, of a page of another origin in the webview and of foreign
//! Hosts and Origins, its answer kept in the history with an "API" badge, and the port closed
//! again when it is turned off.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::key::Key;
use oa_e2e::{AppUnderTest, Display, Launch};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEST_TIMEOUT: Duration = Duration::from_secs(400);
const SHORT: Duration = Duration::from_secs(10);
/// A chat completion with the small model, in a debug build, on a busy machine.
const ANSWER: Duration = Duration::from_secs(120);

/// One HTTP/1.1 request over a fresh connection; answers with the status and the body.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connecting to port {port}"))?;
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        request.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(ANSWER, stream.read_to_end(&mut answer))
        .await
        .context("the API did not answer in time")??;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .with_context(|| format!("not an HTTP answer: {answer:?}"))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Serves one empty HTML page on a free port, on a thread of its own, for as long as the test
/// runs: a web page of an origin the API does not know.
fn serve_foreign_page() -> Result<u16> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let page = "<!doctype html><title>another site</title><p>another site</p>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    Ok(port)
}

/// A port nothing listens on now.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether a checkbox is checked now (its property, which the page sets).
async fn checked(app: &AppUnderTest, css: &str) -> Result<bool> {
    let value = app
        .client
        .execute(
            "const el = document.querySelector(arguments[0]); return !!(el && el.checked);",
            vec![serde_json::json!(css)],
        )
        .await?;
    Ok(value.as_bool().unwrap_or(false))
}

/// Clicks a switch and waits until the app kept the change (the switch shows it, enabled
/// again).
async fn switch(app: &AppUnderTest, css: &str, on: bool) -> Result<()> {
    app.click(css).await?;
    let deadline = Instant::now() + SHORT;
    while checked(app, css).await? != on || app.count(&format!("{css}:disabled")).await? > 0 {
        if Instant::now() > deadline {
            bail!("{css} did not turn {}", if on { "on" } else { "off" });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_api_serves_programs_with_the_key_and_never_the_apps_own_page() -> Result<()> {
    tokio::time::timeout(TEST_TIMEOUT, local_api())
        .await
        .context("test timed out")?
}

async fn local_api() -> Result<()> {
    let data = tempfile::tempdir()?;
    let display = Display::start()?;
    let launch = Launch::with_default_model(data.path())?;
    let model = launch
        .model
        .file_stem()
        .context("the model has a file name")?
        .to_string_lossy()
        .into_owned();
    let app = AppUnderTest::start_ready(&display, &launch).await?;
    app.click("#open-settings").await?;
    app.wait_text("#api-address", "Off", SHORT).await?;

    // A port a person cannot have is refused at the field.
    app.set_value("#api-port", "80").await?;
    let error = app
        .text_of("#api-settings label .field-error", SHORT)
        .await?;
    ensure!(error.contains("from 1024 to 65535"), "{error:?}");

    // On, on a port another program holds: a problem to read, not a failed app.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let taken_port = taken.local_addr()?.port();
    app.set_value("#api-port", &taken_port.to_string()).await?;
    app.wait_gone("#api-settings label .field-error", SHORT)
        .await?;
    switch(&app, "#api-enabled", true).await?;
    let problem = app.text_of("#api-problem", SHORT).await?;
    ensure!(problem.contains("in use"), "{problem:?}");
    drop(taken);

    // Then on a free one.
    let port = free_port()?;
    app.set_value("#api-port", &port.to_string()).await?;
    let address = app
        .wait_text("#api-address", &format!("127.0.0.1:{port}"), SHORT)
        .await?;
    ensure!(address.contains("/v1"), "{address:?}");
    let masked = app.text_of("#api-key", SHORT).await?;
    ensure!(
        masked.starts_with("oa-sk-•"),
        "the key is masked: {masked:?}"
    );
    app.click("#api-key-show").await?;
    let key = app.wait_text("#api-key", "oa-sk-", SHORT).await?;
    ensure!(
        key.len() > 40 && !key.contains('•'),
        "the key is shown: {key:?}"
    );
    app.client
        .execute(
            "document.querySelector('#api-settings').scrollIntoView();",
            vec![],
        )
        .await?;
    app.screenshot(&display, "settings-local-api.png").await?;
    let bearer = format!("Bearer {key}");

    // A program with the key.
    let (status, body) = http(port, "GET", "/v1/models", &[("Authorization", &bearer)], "").await?;
    ensure!(status == 200, "GET /v1/models: {status} {body}");
    ensure!(body.contains(&model), "{model} is offered: {body}");

    // The app's own page cannot reach it: neither a simple fetch nor a chat completion.
    let chat = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "Hello"}],
        "max_tokens": 4,
    })
    .to_string();
    let page = app
        .client
        .execute_async(
            "const [port, body, done] = arguments;
             const base = `http://127.0.0.1:${port}/v1`;
             const outcome = p => p.then(r => `status ${r.status}`, e => `error ${e}`);
             (async () => {
                 const models = await outcome(fetch(`${base}/models`));
                 const chat = await outcome(fetch(`${base}/chat/completions`, {
                     method: 'POST',
                     headers: { 'Content-Type': 'application/json' },
                     body,
                 }));
                 done({ models, chat, origin: location.origin });
             })();",
            vec![serde_json::json!(port), serde_json::json!(chat)],
        )
        .await?;
    for call in ["models", "chat"] {
        let outcome = page[call].as_str().unwrap_or_default();
        ensure!(
            outcome.starts_with("error"),
            "the page's {call} fetch was answered: {outcome:?}"
        );
    }
    // What the server answers that page's origin, and foreign pages and hosts, even with the
    // key.
    let origin = page["origin"]
        .as_str()
        .unwrap_or("tauri://localhost")
        .to_owned();
    for (name, value) in [
        ("Origin", origin.as_str()),
        ("Origin", "http://evil.example"),
        ("Host", "evil.example"),
    ] {
        let (status, body) = http(
            port,
            "GET",
            "/v1/models",
            &[("Authorization", &bearer), (name, value)],
            "",
        )
        .await?;
        ensure!(
            status == 403,
            "{name}: {value} was answered {status}: {body}"
        );
    }
    let (status, body) = http(
        port,
        "POST",
        "/v1/chat/completions",
        &[
            ("Origin", origin.as_str()),
            ("Content-Type", "application/json"),
        ],
        &chat,
    )
    .await?;
    ensure!(status == 403, "a chat from {origin}: {status} {body}");

    // Kept in the history: the answer appears in the list on its own, with its badge.
    switch(&app, "#api-keep-history", true).await?;
    app.press(&Key::Escape.to_string()).await?;
    app.wait_gone("#settings-panel", SHORT).await?;
    let question = "Name a colour.";
    let request = serde_json::json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You answer in one word."},
            {"role": "user", "content": question},
        ],
        "max_tokens": 8,
    })
    .to_string();
    let (status, body) = http(
        port,
        "POST",
        "/v1/chat/completions",
        &[
            ("Authorization", &bearer),
            ("Content-Type", "application/json"),
        ],
        &request,
    )
    .await?;
    ensure!(status == 200, "a chat completion: {status} {body}");
    let answer: serde_json::Value = serde_json::from_str(&body)?;
    ensure!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
    app.wait_count(".conversation .source-badge", 1, SHORT)
        .await?;
    let title = app
        .text_of(".conversation .conversation-title", SHORT)
        .await?;
    ensure!(title == question, "the conversation is titled {title:?}");
    app.screenshot(&display, "sidebar-api-badge.png").await?;

    // A web page of another origin, in the real browser engine: the webview itself, sent to a
    // page this test serves on another port. It can reach the API's port (a no-cors GET
    // resolves), but its chat completion — a "simple" text/plain POST, which a browser sends
    // without asking first — is refused by the server before the model runs: no second
    // conversation is kept.
    let page_port = serve_foreign_page()?;
    let home = app.client.current_url().await?;
    app.client
        .goto(&format!("http://127.0.0.1:{page_port}/"))
        .await?;
    let foreign = app
        .client
        .execute_async(
            "const [port, body, done] = arguments;
             const base = `http://127.0.0.1:${port}/v1`;
             (async () => {
                 const reach = await fetch(`${base}/models`, { mode: 'no-cors' })
                     .then(r => `reached ${r.type}`, e => `error ${e}`);
                 const chat = await fetch(`${base}/chat/completions`, {
                     method: 'POST',
                     headers: { 'Content-Type': 'text/plain' },
                     body,
                 }).then(r => `status ${r.status}`, e => `error ${e}`);
                 done({ reach, chat, origin: location.origin });
             })();",
            vec![serde_json::json!(port), serde_json::json!(request)],
        )
        .await?;
    ensure!(
        foreign["origin"] == format!("http://127.0.0.1:{page_port}").as_str(),
        "the page runs on its own origin: {foreign}"
    );
    ensure!(
        foreign["reach"] == "reached opaque",
        "the page can reach the API's port: {foreign}"
    );
    ensure!(
        foreign["chat"]
            .as_str()
            .unwrap_or_default()
            .starts_with("error"),
        "the foreign page's chat was answered: {foreign}"
    );
    app.client.goto(home.as_str()).await?;
    app.wait_count(".conversation .source-badge", 1, ANSWER)
        .await?;
    std::thread::sleep(Duration::from_secs(2));
    ensure!(
        app.count(".conversation .source-badge").await? == 1,
        "the foreign page's request ran and was kept"
    );

    // Off: the port is closed.
    app.click("#open-settings").await?;
    switch(&app, "#api-enabled", false).await?;
    app.wait_text("#api-address", "Off", SHORT).await?;
    match TcpStream::connect(("127.0.0.1", port)).await {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        other => bail!("port {port} after the API was turned off: {other:?}"),
    }
    app.quit().await
}
