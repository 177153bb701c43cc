//! When the process started, and the log line of the UI's first paint that times the start.

use std::sync::OnceLock;
use std::time::Instant;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Notes the start; the first call wins.
pub(crate) fn now() {
    STARTED.get_or_init(Instant::now);
}

/// Logs how long the start took, up to the UI's first painted frame (`cargo xtask bench` reads
/// the line).
pub(crate) fn log_first_paint() {
    let ms = STARTED
        .get()
        .map_or(0, |started| started.elapsed().as_millis());
    tracing::info!(ms, "first paint");
}
