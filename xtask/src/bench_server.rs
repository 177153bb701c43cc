//! `cargo xtask bench`, server part: ingest throughput and latency over loopback, and the time to
//! export a million messages. Writes `target/bench/server.json`.
//!
//! `oa-server`'s `bench_server` example runs the real server over a throw-away PostgreSQL cluster
//! in its own process. This module is the load generator: one thread per connection, each signed
//! in as its own account, sending batches of contribution events over a kept-alive HTTP/1.1
//! connection written by hand (the xtask has no HTTP client dependency, and needs none for
//! `POST` with a length). Every batch is a few fresh desktop conversations: a prompt, two
//! model-written replies, a thumbs vote and a label set, all written before the clock starts.
//! Throughput counts accepted events only.
//! A missed goal is reported, never a failure.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::bench::{Machine, build_release_example, percentile, release_example, verdict};
use crate::command;
use crate::project::Project;
use crate::step::{Timings, headline, ok};

/// Ingested events per second the server should sustain on a 2-core machine.
pub const EVENTS_PER_SECOND_GOAL: f64 = 5_000.0;
/// 99th percentile of one batch request, in milliseconds.
pub const P99_GOAL_MS: f64 = 50.0;
/// Seconds to export a million messages.
pub const EXPORT_GOAL_SECONDS: f64 = 60.0;

const SERVER_PACKAGE: &str = "oa-server";
const SERVER_BENCH_EXAMPLE: &str = "bench_server";
/// Load connections, each its own account (`OA_BENCH_CONNECTIONS` overrides).
const CONNECTIONS: usize = 2;
/// Conversations per batch, five events each (`OA_BENCH_CONVERSATIONS` overrides).
const CONVERSATIONS_PER_BATCH: usize = 10;

/// The load's shape: connections and conversations per batch.
#[derive(Debug, Clone, Copy)]
struct Shape {
    connections: usize,
    conversations: usize,
}

impl Shape {
    fn from_env() -> Shape {
        let number = |name: &str, default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        Shape {
            connections: number("OA_BENCH_CONNECTIONS", CONNECTIONS),
            conversations: number("OA_BENCH_CONVERSATIONS", CONVERSATIONS_PER_BATCH),
        }
    }
}
const EVENTS_PER_CONVERSATION: usize = 5;
const WARMUP: Duration = Duration::from_secs(3);
const MEASURE: Duration = Duration::from_secs(20);
/// Events per second the prepared batches can feed, all connections together: three times the
/// goal. A server that fast empties them early, and the figures cover the time they lasted.
const LOAD_CAPACITY_EVENTS_PER_SECOND: f64 = 3.0 * EVENTS_PER_SECOND_GOAL;
const EXPORT_MESSAGES: u64 = 1_000_000;

pub fn run(project: &Project) -> Result<()> {
    let dir = project.bench_dir();
    fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    let report_path = dir.join("server.json");
    let shape = Shape::from_env();
    let mut timings = Timings::default();
    timings.step("server benchmark build (release)", || {
        build_release_example(project, SERVER_PACKAGE, SERVER_BENCH_EXAMPLE)
    })?;
    let mut server = timings.step("server start (PostgreSQL cluster, accounts)", || {
        BenchServer::start(project, shape)
    })?;
    let ingest = timings.step("ingest load over loopback", || {
        drive(&server.base_url, &server.tokens, shape.conversations)
    })?;
    let export = timings.step("export of 1,000,000 generated messages", || {
        server.export(EXPORT_MESSAGES)
    })?;
    drop(server);
    let report = ServerReport::new(ingest, export, Machine::this());
    let json = serde_json::to_string_pretty(&report).context("could not encode the report")?;
    fs::write(&report_path, json + "\n")
        .with_context(|| format!("could not write {}", report_path.display()))?;
    ok(format!("wrote {}", report_path.display()));
    headline("server");
    print!("{}", report.table());
    headline("time per step");
    print!("{}", timings.summary());
    Ok(())
}

/// The `bench_server` example, running; dropped, it closes its input and is waited for.
struct BenchServer {
    child: Child,
    input: Option<ChildStdin>,
    output: BufReader<ChildStdout>,
    base_url: String,
    tokens: Vec<String>,
}

#[derive(Deserialize)]
struct Ready {
    base_url: String,
    tokens: Vec<String>,
}

impl BenchServer {
    fn start(project: &Project, shape: Shape) -> Result<BenchServer> {
        let mut cmd = release_example(project, SERVER_PACKAGE, SERVER_BENCH_EXAMPLE);
        cmd.args(["--accounts", &shape.connections.to_string()])
            .current_dir(project.root())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        println!("$ {}", command::display(&cmd));
        let mut child = cmd
            .spawn()
            .with_context(|| format!("could not start `{}`", command::display(&cmd)))?;
        let input = child.stdin.take();
        let output = BufReader::new(child.stdout.take().context("no stdout")?);
        let mut server = BenchServer {
            child,
            input,
            output,
            base_url: String::new(),
            tokens: Vec::new(),
        };
        let ready: Ready = serde_json::from_str(&server.line()?)
            .context("the bench server did not announce itself")?;
        server.base_url = ready.base_url;
        server.tokens = ready.tokens;
        Ok(server)
    }

    fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            bail!("the bench server exited early");
        }
        Ok(line)
    }

    fn export(&mut self, messages: u64) -> Result<ExportFigures> {
        let input = self.input.as_mut().context("input closed")?;
        writeln!(input, "export {messages}")?;
        input.flush()?;
        serde_json::from_str(&self.line()?).context("the export figures are not JSON")
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        drop(self.input.take());
        let _ = self.child.wait();
    }
}

/// One kept-alive HTTP/1.1 connection.
struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Connection {
    fn open(base_url: &str) -> Result<Connection> {
        let host = base_url
            .strip_prefix("http://")
            .context("the bench server speaks plain http")?
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host).with_context(|| format!("connecting to {host}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Connection {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            host,
        })
    }

    /// `POST path` with a JSON body; returns the status and the body.
    fn post(&mut self, path: &str, token: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.host,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.writer.write_all(&request)?;
        let mut status_line = String::new();
        self.reader.read_line(&mut status_line)?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP status line: {status_line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        loop {
            let mut header = String::new();
            self.reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16).context("chunk size")?;
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length.context("a response without a length")?, 0);
            self.reader.read_exact(&mut body)?;
        }
        Ok((status, body))
    }
}

/// A UUID-shaped id (version 7 layout) from a per-run prefix and a counter: unique and cheap.
fn id(prefix: u64, n: u64) -> String {
    format!(
        "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
        prefix >> 32,
        (prefix >> 16) & 0xffff,
        (n >> 48) & 0xfff,
        (n >> 36) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// One batch of fresh conversations from one device.
fn batch(prefix: u64, counter: &mut u64, conversations: usize) -> Vec<u8> {
    let mut next = || {
        *counter += 1;
        id(prefix, *counter)
    };
    let now_ms = 1_764_000_000_000u64;
    let mut events = Vec::with_capacity(conversations * EVENTS_PER_CONVERSATION);
    for _ in 0..conversations {
        let conversation = next();
        let prompt = next();
        let prompt_text = format!("Question {prompt}: how would you explain this to a child?");
        let message = |id: &str, parent: Option<&str>, role: &str, text: &str, model: bool| {
            let provenance = model.then(|| {
                json!({
                    "model_id": "SmolLM2 135M Instruct", "model_sha256": "ab".repeat(32),
                    "quantization": "Q4_1", "architecture": "llama",
                    "chat_template_sha256": "cd".repeat(32),
                    "sampler": { "temperature": 0.7, "top_p": 0.9, "top_k": 40,
                                 "repeat_penalty": 1.1, "repeat_last_n": 64,
                                 "max_tokens": 512, "seed": 42 },
                    "engine_version": "0.1.0", "prompt_tokens": 20, "completion_tokens": 60,
                    "time_to_first_token_ms": 30, "total_ms": 900
                })
            });
            json!({ "id": id, "conversation_id": conversation, "parent_id": parent, "role": role,
                    "text": text, "created_at_ms": now_ms, "provenance": provenance })
        };
        let event = |id: String, kind: &str, subject: &str, payload: Value| {
            json!({ "id": id, "kind": kind, "subject_id": subject,
                    "conversation_id": conversation, "created_at_ms": now_ms,
                    "payload": payload.to_string() })
        };
        events.push(event(
            next(),
            "message",
            &prompt,
            message(&prompt, None, "prompter", &prompt_text, false),
        ));
        let mut replies = Vec::new();
        for text in [
            "Imagine the sky as a big sheet of glass that lets blue light bounce around.",
            "Sunlight is made of many colours, and air scatters the blue ones the most.",
        ] {
            let reply = next();
            events.push(event(
                next(),
                "message",
                &reply,
                message(&reply, Some(&prompt), "assistant", text, true),
            ));
            replies.push(reply);
        }
        events.push(event(
            next(),
            "rating",
            &replies[0],
            json!({ "message_id": replies[0], "thumbs": { "vote": "+1", "reasons": ["clear"] } }),
        ));
        events.push(event(
            next(),
            "labels",
            &replies[1],
            json!({ "message_id": replies[1], "labels": { "quality": 0.75, "helpfulness": 1 } }),
        ));
    }
    serde_json::to_vec(&json!({ "version": 1, "events": events })).unwrap_or_default()
}

/// How many times `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> u64 {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count() as u64
}

/// What the load generator measured.
#[derive(Debug)]
pub struct IngestFigures {
    pub accepted_events: u64,
    pub rejected_events: u64,
    pub seconds: f64,
    pub batch_latencies_ms: Vec<f64>,
    pub connections: usize,
    pub events_per_batch: usize,
}

fn drive(base_url: &str, tokens: &[String], conversations: usize) -> Result<IngestFigures> {
    let accepted = Arc::new(AtomicU64::new(0));
    let rejected = Arc::new(AtomicU64::new(0));
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64);
    // Every batch is written before the clock starts: the load generator shares the two cores
    // with the server and PostgreSQL, and building JSON while they work would take its share.
    let per_connection = ((WARMUP + MEASURE).as_secs_f64() * LOAD_CAPACITY_EVENTS_PER_SECOND
        / (conversations * EVENTS_PER_CONVERSATION * tokens.len().max(1)) as f64)
        .ceil() as usize;
    let loads: Vec<Vec<Vec<u8>>> = (0..tokens.len())
        .map(|i| {
            let prefix = seed.wrapping_mul(31).wrapping_add(i as u64 * 0x1_0000_0001);
            let mut counter = 0u64;
            (0..per_connection)
                .map(|_| batch(prefix, &mut counter, conversations))
                .collect()
        })
        .collect();
    let started = Instant::now();
    let measure_from = started + WARMUP;
    let until = measure_from + MEASURE;
    let workers: Vec<_> = tokens
        .iter()
        .zip(loads)
        .map(|(token, load)| {
            let (token, base_url) = (token.clone(), base_url.to_owned());
            let (accepted, rejected) = (Arc::clone(&accepted), Arc::clone(&rejected));
            std::thread::spawn(move || -> Result<Vec<f64>> {
                let mut connection = Connection::open(&base_url)?;
                let mut latencies = Vec::new();
                for body in load {
                    let sent = Instant::now();
                    if sent >= until {
                        return Ok(latencies);
                    }
                    let (status, answer) = connection.post("/v1/events", &token, &body)?;
                    let ms = sent.elapsed().as_secs_f64() * 1e3;
                    if status != 200 {
                        bail!(
                            "ingest answered {status}: {}",
                            String::from_utf8_lossy(&answer)
                        );
                    }
                    if sent < measure_from {
                        continue;
                    }
                    latencies.push(ms);
                    // Counting the statuses in the text keeps the load generator's own CPU use
                    // low; it shares the machine with the server it measures.
                    let ok = occurrences(&answer, br#""status":"accepted""#);
                    let all = occurrences(&answer, br#""status":"#);
                    accepted.fetch_add(ok, Ordering::Relaxed);
                    rejected.fetch_add(all - ok, Ordering::Relaxed);
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut batch_latencies_ms = Vec::new();
    for worker in workers {
        let latencies = worker
            .join()
            .map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        batch_latencies_ms.extend(latencies);
    }
    let seconds = (Instant::now().min(until + Duration::from_secs(60)) - measure_from)
        .as_secs_f64()
        .max(f64::MIN_POSITIVE);
    Ok(IngestFigures {
        connections: tokens.len(),
        events_per_batch: conversations * EVENTS_PER_CONVERSATION,
        accepted_events: accepted.load(Ordering::Relaxed),
        rejected_events: rejected.load(Ordering::Relaxed),
        seconds,
        batch_latencies_ms,
    })
}

/// What the example printed after the export.
#[derive(Debug, Deserialize)]
pub struct ExportFigures {
    pub messages: u64,
    pub trees: u64,
    pub generate_seconds: f64,
    pub export_seconds: f64,
    pub gzip_bytes: u64,
    pub peak_rss_kib_before: Option<u64>,
    pub peak_rss_kib_after: Option<u64>,
}

/// `target/bench/server.json`.
#[derive(Debug, Serialize)]
pub struct ServerReport {
    pub benchmark: &'static str,
    pub machine: Machine,
    pub ingest: IngestReport,
    pub export: ExportReport,
    pub goals: ServerGoals,
    pub meets_goals: ServerMeetsGoals,
}

#[derive(Debug, Serialize)]
pub struct IngestReport {
    pub connections: usize,
    pub events_per_batch: usize,
    pub seconds: f64,
    pub batches: usize,
    pub accepted_events: u64,
    pub rejected_events: u64,
    pub events_per_second: f64,
    pub latency_ms: Latency,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub messages: u64,
    pub trees: u64,
    pub seconds: f64,
    pub messages_per_second: f64,
    pub gzip_bytes: u64,
    pub generate_seconds: f64,
    /// Growth of the process's peak resident memory during the export.
    pub peak_rss_growth_kib: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ServerGoals {
    pub events_per_second: f64,
    pub p99_ms: f64,
    pub export_1m_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct ServerMeetsGoals {
    pub events_per_second: bool,
    pub p99_ms: bool,
    pub export_1m_seconds: bool,
}

fn rounded(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

impl ServerReport {
    pub fn new(ingest: IngestFigures, export: ExportFigures, machine: Machine) -> ServerReport {
        let latencies = &ingest.batch_latencies_ms;
        let events_per_second = ingest.accepted_events as f64 / ingest.seconds;
        let latency_ms = Latency {
            p50: rounded(percentile(latencies, 50.0)),
            p99: rounded(percentile(latencies, 99.0)),
            max: rounded(percentile(latencies, 100.0)),
        };
        let meets_goals = ServerMeetsGoals {
            events_per_second: events_per_second >= EVENTS_PER_SECOND_GOAL,
            p99_ms: !latencies.is_empty() && latency_ms.p99 <= P99_GOAL_MS,
            export_1m_seconds: export.messages >= EXPORT_MESSAGES
                && export.export_seconds <= EXPORT_GOAL_SECONDS,
        };
        ServerReport {
            benchmark: "server",
            machine,
            ingest: IngestReport {
                connections: ingest.connections,
                events_per_batch: ingest.events_per_batch,
                seconds: rounded(ingest.seconds),
                batches: latencies.len(),
                accepted_events: ingest.accepted_events,
                rejected_events: ingest.rejected_events,
                events_per_second: rounded(events_per_second),
                latency_ms,
            },
            export: ExportReport {
                messages: export.messages,
                trees: export.trees,
                seconds: rounded(export.export_seconds),
                messages_per_second: rounded(
                    export.messages as f64 / export.export_seconds.max(f64::MIN_POSITIVE),
                ),
                gzip_bytes: export.gzip_bytes,
                generate_seconds: rounded(export.generate_seconds),
                peak_rss_growth_kib: export
                    .peak_rss_kib_after
                    .zip(export.peak_rss_kib_before)
                    .map(|(after, before)| after.saturating_sub(before)),
            },
            goals: ServerGoals {
                events_per_second: EVENTS_PER_SECOND_GOAL,
                p99_ms: P99_GOAL_MS,
                export_1m_seconds: EXPORT_GOAL_SECONDS,
            },
            meets_goals,
        }
    }

    /// The short table printed after a run.
    pub fn table(&self) -> String {
        let i = &self.ingest;
        let e = &self.export;
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{} connections, {} events per batch, {} CPUs, {}",
            i.connections, i.events_per_batch, self.machine.cpus, self.machine.os
        );
        let _ = writeln!(
            text,
            "  ingest       {:>9.0} events/s  ({} accepted, {} rejected in {:.1} s, {} batches)",
            i.events_per_second, i.accepted_events, i.rejected_events, i.seconds, i.batches
        );
        let _ = writeln!(
            text,
            "  batch        p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            i.latency_ms.p50, i.latency_ms.p99, i.latency_ms.max
        );
        let _ = writeln!(
            text,
            "  export       {} messages in {} trees: {:.1} s ({:.0} messages/s, {:.1} MiB gzipped)",
            e.messages,
            e.trees,
            e.seconds,
            e.messages_per_second,
            e.gzip_bytes as f64 / (1024.0 * 1024.0)
        );
        let _ = writeln!(
            text,
            "  goals        >= {} events/s: {}; p99 <= {} ms: {}; export 1M <= {} s: {}",
            self.goals.events_per_second,
            verdict(self.meets_goals.events_per_second),
            self.goals.p99_ms,
            verdict(self.meets_goals.p99_ms),
            self.goals.export_1m_seconds,
            verdict(self.meets_goals.export_1m_seconds)
        );
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_counted_in_the_answer_text() {
        let answer = br#"{"results":[{"id":"a","status":"accepted"},{"id":"b","status":"rejected","reason":"x"}]}"#;
        assert_eq!(occurrences(answer, br#""status":"accepted""#), 1);
        assert_eq!(occurrences(answer, br#""status":"#), 2);
    }

    #[test]
    fn generated_ids_are_uuid_shaped_and_distinct() {
        let a = id(0x1234_5678_9abc_def0, 1);
        let b = id(0x1234_5678_9abc_def0, 2);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "7");
    }

    #[test]
    fn a_batch_is_a_versioned_ingest_request() {
        let mut counter = 0;
        let body: Value = serde_json::from_slice(&batch(7, &mut counter, 3)).unwrap();
        assert_eq!(body["version"], 1);
        let events = body["events"].as_array().unwrap();
        assert_eq!(events.len(), 3 * EVENTS_PER_CONVERSATION);
        let payload: Value = serde_json::from_str(events[1]["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload["role"], "assistant");
        assert_eq!(payload["parent_id"], events[0]["subject_id"]);
    }

    #[test]
    fn the_report_judges_each_goal() {
        let ingest = IngestFigures {
            accepted_events: 120_000,
            rejected_events: 0,
            seconds: 20.0,
            batch_latencies_ms: (1..=100).map(f64::from).collect(),
            connections: 2,
            events_per_batch: 100,
        };
        let export = ExportFigures {
            messages: 1_000_000,
            trees: 100_000,
            generate_seconds: 30.0,
            export_seconds: 42.0,
            gzip_bytes: 1 << 20,
            peak_rss_kib_before: Some(1000),
            peak_rss_kib_after: Some(1500),
        };
        let machine = Machine {
            cpus: 2,
            os: "linux".into(),
        };
        let report = ServerReport::new(ingest, export, machine);
        assert_eq!(report.ingest.events_per_second, 6000.0);
        assert!(report.meets_goals.events_per_second);
        assert!(!report.meets_goals.p99_ms, "p99 of 1..=100 ms is 99 ms");
        assert!(report.meets_goals.export_1m_seconds);
        assert_eq!(report.export.peak_rss_growth_kib, Some(500));
        assert!(report.table().contains("p99 <= 50 ms: MISSED"));
    }
}
