//! `oa serve` as programs use it: the official `openai` Python client and plain curl against a
//! real server on a real model, the guard that keeps web pages and strangers out, and one
//! server per data folder.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MODEL_ID: &str = "SmolLM2-135M-Instruct.Q4_1";

/// A running `oa serve`, stopped when dropped.
struct Served {
    child: Child,
    port: u16,
    key: String,
    log: Arc<Mutex<String>>,
    data: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Served {
    fn start(args: &[&str]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_owned();
        let mut served = Served::start_in(&data, args).expect("oa serve did not start");
        served._dir = Some(dir);
        served
    }

    /// Starts `oa serve` on `data`; `Err` with what it printed when it exits instead.
    fn start_in(data: &Path, args: &[&str]) -> Result<Served, String> {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_oa"))
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .arg("--model")
            .arg(oa_engine::testing::default_model())
            .args(["--port", &port.to_string()])
            .args(args)
            .env("RUST_LOG", "oa_api=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.starts_with("Model ready") {
                    let _ = ready_tx.send(());
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if ready_rx.recv_timeout(Duration::from_millis(200)).is_ok() {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200));
                return Err(format!("{status}: {}", log.lock().unwrap()));
            }
            assert!(Instant::now() < deadline, "{}", log.lock().unwrap());
        }
        let printed = log.lock().unwrap().clone();
        let key = printed
            .split_whitespace()
            .find(|w| w.starts_with("oa-sk-"))
            .expect("oa serve prints the key")
            .to_owned();
        Ok(Served {
            child,
            port,
            key,
            log,
            data: data.to_owned(),
            _dir: None,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Runs one case of `tests/api/openai_client.py`.
    fn python(&self, case: &str) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/openai_client.py");
        let out = Command::new("python3")
            .arg(script)
            .arg(case)
            .env("OA_API_URL", self.url())
            .env("OA_API_KEY", &self.key)
            .env("OA_API_MODEL", MODEL_ID)
            .output()
            .expect("python3 runs (`cargo xtask setup` installs the openai client)");
        assert!(
            out.status.success(),
            "case {case} failed:\n{}\n{}\n--- server ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log.lock().unwrap()
        );
    }

    /// curl with `args` against `path`; returns the status and the body.
    fn curl(&self, path: &str, args: &[&str]) -> (u16, String) {
        let out: Output = Command::new("curl")
            .args(["-sS", "-N", "-o", "-", "-w", "\n%{http_code}"])
            .args(args)
            .arg(format!("http://127.0.0.1:{}{path}", self.port))
            .output()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (status.trim().parse().unwrap_or(0), body.to_owned())
    }
}

fn chat_body(stream: bool) -> String {
    serde_json::json!({
        "model": MODEL_ID,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 8,
        "stream": stream,
    })
    .to_string()
}

#[test]
fn the_openai_client_chats_streams_and_counts_usage() {
    let served = Served::start(&[]);
    served.python("chat");
    served.python("stream");
}

#[test]
fn seeds_stop_strings_several_answers_and_logprobs_behave_as_openai_documents() {
    let served = Served::start(&[]);
    served.python("seed");
    served.python("stop");
    served.python("n");
    served.python("logprobs");
}

#[test]
fn json_schema_answers_are_valid_on_ten_schemas() {
    let served = Served::start(&[]);
    served.python("json_schema");
}

#[test]
fn forced_tool_calls_validate_and_stream_as_deltas() {
    let served = Served::start(&[]);
    served.python("tool_call");
    served.python("tool_stream");
}

#[test]
fn errors_have_openai_shapes_and_statuses() {
    let served = Served::start(&[]);
    served.python("errors");
}

#[test]
fn four_streams_at_once_all_finish() {
    let served = Served::start(&[]);
    served.python("concurrent");
}

#[test]
fn a_client_that_hangs_up_cancels_its_answer() {
    let served = Served::start(&[]);
    served.python("hang_up");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !served.log.lock().unwrap().contains("hung up") {
        assert!(
            Instant::now() < deadline,
            "the server never noticed the client leave:\n{}",
            served.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn curl_gets_answers_whole_and_as_server_sent_events() {
    let served = Served::start(&[]);
    let (status, body) = served.curl("/v1/models", &[]);
    assert_eq!(status, 200, "{body}");
    let models: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == MODEL_ID),
        "{body}"
    );
    let json = ["-H", "Content-Type: application/json", "-d"];
    let whole = chat_body(false);
    let (status, body) = served.curl("/v1/chat/completions", &[&json[..], &[&whole]].concat());
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );
    let streamed = chat_body(true);
    let (status, body) = served.curl("/v1/chat/completions", &[&json[..], &[&streamed]].concat());
    assert_eq!(status, 200, "{body}");
    let events: Vec<&str> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{body}");
    for event in &events[..events.len() - 1] {
        let chunk: serde_json::Value = serde_json::from_str(event).unwrap();
        assert_eq!(chunk["object"], "chat.completion.chunk");
    }
}

#[test]
fn foreign_hosts_and_origins_are_refused_and_allowed_origins_get_cors() {
    let served = Served::start(&["--allow-origin", "http://localhost:3000"]);
    let (status, body) = served.curl("/v1/models", &["-H", "Host: rebind.example:80"]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("host_not_allowed"), "{body}");
    let whole = chat_body(false);
    let post = ["-H", "Content-Type: text/plain", "-d", &whole];
    let (status, body) = served.curl(
        "/v1/chat/completions",
        &[&post[..], &["-H", "Origin: https://evil.example"]].concat(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("origin_not_allowed"), "{body}");
    // An allowed origin's preflight and request carry the CORS headers a browser wants.
    let (status, _) = served.curl(
        "/v1/chat/completions",
        &[
            "-X",
            "OPTIONS",
            "-H",
            "Origin: http://localhost:3000",
            "-H",
            "Access-Control-Request-Method: POST",
        ],
    );
    assert_eq!(status, 204);
    let (status, body) = served.curl("/v1/models", &["-i", "-H", "Origin: http://localhost:3000"]);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.to_ascii_lowercase()
            .contains("access-control-allow-origin: http://localhost:3000"),
        "{body}"
    );
}

#[test]
fn beyond_loopback_the_key_is_required() {
    let served = Served::start(&["--network"]);
    let (status, body) = served.curl("/v1/models", &[]);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("invalid_api_key"), "{body}");
    let wrong = "Authorization: Bearer oa-sk-wrong";
    assert_eq!(served.curl("/v1/models", &["-H", wrong]).0, 401);
    let right = format!("Authorization: Bearer {}", served.key);
    assert_eq!(served.curl("/v1/models", &["-H", &right]).0, 200);
    // An address typed by hand passes the Host check there; a name does not.
    let ip_host = format!("Host: 127.0.0.2:{}", served.port);
    assert_eq!(
        served.curl("/v1/models", &["-H", &right, "-H", &ip_host]).0,
        200
    );
    let name_host = format!("Host: rebind.example:{}", served.port);
    assert_eq!(
        served
            .curl("/v1/models", &["-H", &right, "-H", &name_host])
            .0,
        403
    );
}

#[test]
fn a_second_server_on_one_data_folder_is_refused_with_the_first_ones_address() {
    let served = Served::start(&[]);
    let second = Served::start_in(&served.data, &[]);
    let Err(printed) = second else {
        panic!("two servers ran on one data folder");
    };
    assert!(printed.contains("already serves"), "{printed}");
    assert!(printed.contains(&served.url()), "{printed}");
}

#[test]
fn answers_are_kept_in_the_history_under_the_api_source_only_when_asked() {
    let database = |served: &Served| {
        oa_store::Store::open(&served.data.join("open-assistant.sqlite3")).unwrap()
    };
    let json = ["-H", "Content-Type: application/json", "-d"];
    let body = serde_json::json!({
        "model": MODEL_ID,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Name a fruit."},
        ],
        "max_tokens": 8,
    })
    .to_string();
    let served = Served::start(&[]);
    assert_eq!(
        served
            .curl("/v1/chat/completions", &[&json[..], &[&body]].concat())
            .0,
        200
    );
    assert!(
        database(&served)
            .list_conversation_entries()
            .unwrap()
            .is_empty()
    );
    drop(served);

    let served = Served::start(&["--keep-history"]);
    let (status, answer) = served.curl("/v1/chat/completions", &[&json[..], &[&body]].concat());
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let store = database(&served);
    let entries = store.list_conversation_entries().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].source.as_deref(), Some(oa_types::API_SOURCE));
    let conversation = store.conversation(entries[0].summary.id).unwrap();
    let texts: Vec<&str> = conversation
        .messages
        .iter()
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        texts,
        [
            "Name a fruit.",
            answer["choices"][0]["message"]["content"].as_str().unwrap()
        ]
    );
    let provenance = conversation.messages[1].provenance.as_ref().unwrap();
    assert_eq!(
        provenance.model_sha256,
        answer["x_provenance"]["model_sha256"].as_str().unwrap()
    );
}
