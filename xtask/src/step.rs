//! Headlines for the steps of a task, and the time each one took.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Prints the headline that starts a step.
pub fn headline(title: &str) {
    println!("==> {title}");
}

/// Prints what a step did, or that there was nothing to do.
pub fn ok(message: impl std::fmt::Display) {
    println!("ok: {message}");
}

/// Steps run so far and how long each took, for the summary at the end of a long task.
#[derive(Debug, Default)]
pub struct Timings {
    steps: Vec<(String, Duration, bool)>,
}

impl Timings {
    /// Runs one step under its headline and records its duration, whether it succeeds or not.
    pub fn step<T>(&mut self, title: &str, body: impl FnOnce() -> Result<T>) -> Result<T> {
        headline(title);
        let start = Instant::now();
        let outcome = body();
        self.steps
            .push((title.to_owned(), start.elapsed(), outcome.is_ok()));
        outcome.with_context(|| format!("step `{title}` failed"))
    }

    /// The table printed at the end: one line per step, then the total.
    pub fn summary(&self) -> String {
        let mut text = String::new();
        let mut total = Duration::ZERO;
        for (title, elapsed, succeeded) in &self.steps {
            total += *elapsed;
            let mark = if *succeeded { "" } else { "  FAILED" };
            text.push_str(&format!("{:>8.1}s  {title}{mark}\n", elapsed.as_secs_f64()));
        }
        text.push_str(&format!("{:>8.1}s  total\n", total.as_secs_f64()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_lists_every_step_and_marks_the_failed_one() {
        let mut timings = Timings::default();
        timings.step("first", || Ok(())).unwrap();
        let failed: Result<()> = timings.step("second", || anyhow::bail!("broken"));
        assert_eq!(
            format!("{:#}", failed.unwrap_err()),
            "step `second` failed: broken"
        );

        let summary = timings.summary();
        let lines: Vec<&str> = summary.lines().collect();
        assert_eq!(lines.len(), 3, "{summary}");
        assert!(lines[0].ends_with("s  first"), "{summary}");
        assert!(lines[1].ends_with("s  second  FAILED"), "{summary}");
        assert!(lines[2].ends_with("s  total"), "{summary}");
    }
}
