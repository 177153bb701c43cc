//! The wall clock as the stores and the sync protocol write it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; 0 on a clock set before 1970.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_in_milliseconds_since_1970() {
        let now = now_ms();
        // 2024-01-01 and 2200-01-01: seconds or microseconds would fall outside.
        assert!(
            (1_704_067_200_000..7_258_118_400_000).contains(&now),
            "{now}"
        );
        assert!(now_ms() >= now);
    }
}
