//! Prometheus metrics at `GET /metrics`, in the text exposition format.
//!
//! A handful of counters and one latency histogram, kept in atomics: requests by route and status
//! class, request duration, ingested events by outcome, and the password hashes running now and
//! at most. The route is the matched pattern
//! (`/v1/devices/{id}`), never the raw path, so ids do not explode the label space.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oa_types::{EventResult, EventStatus};

use crate::AppState;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    events: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Metrics {
    fn observe(&self, route: &str, status: u16, seconds: f64) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route.to_owned(), status)).or_default() += 1;
        }
        for (bound, counter) in BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// Counts the outcome of every event of an ingested batch.
    pub fn count_events(&self, results: &[EventResult]) {
        if let Ok(mut events) = self.events.lock() {
            for result in results {
                let status = match result.status {
                    EventStatus::Accepted => "accepted",
                    EventStatus::Duplicate => "duplicate",
                    EventStatus::Rejected => "rejected",
                };
                let reason = result.reason.map_or("", |r| r.as_str());
                *events.entry((status, reason)).or_default() += 1;
            }
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP oa_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE oa_http_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "oa_http_requests_total{{route=\"{}\",status=\"{status}\"}} {count}",
                    escape(route)
                );
            }
        }
        out.push_str("# HELP oa_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE oa_http_request_duration_seconds histogram\n");
        for (bound, counter) in BUCKETS.iter().zip(&self.latency_buckets) {
            let _ = writeln!(
                out,
                "oa_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "oa_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "oa_http_request_duration_seconds_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "oa_http_request_duration_seconds_count {count}");
        out.push_str("# HELP oa_ingested_events_total Contribution events by outcome.\n");
        out.push_str("# TYPE oa_ingested_events_total counter\n");
        if let Ok(events) = self.events.lock() {
            for ((status, reason), count) in events.iter() {
                let _ = writeln!(
                    out,
                    "oa_ingested_events_total{{status=\"{status}\",reason=\"{reason}\"}} {count}"
                );
            }
        }
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times every request and logs it as one structured line.
pub(crate) async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics().observe(&route, status, seconds);
    tracing::debug!(%method, route, status, ms = seconds * 1e3, "request");
    response
}

/// `GET /metrics`: the server's counters in Prometheus' text format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses((
        status = 200,
        description = "Prometheus metrics in its text format",
        body = String,
        content_type = "text/plain"
    ))
)]
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics().render();
    let hashes = state.hashes();
    text.push_str("# HELP oa_password_hashes_running Password hashes being computed now.\n");
    text.push_str("# TYPE oa_password_hashes_running gauge\n");
    let _ = writeln!(text, "oa_password_hashes_running {}", hashes.running());
    text.push_str(
        "# HELP oa_password_hashes_peak The most password hashes computed at once since start.\n",
    );
    text.push_str("# TYPE oa_password_hashes_peak gauge\n");
    let _ = writeln!(text, "oa_password_hashes_peak {}", hashes.peak());
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}
