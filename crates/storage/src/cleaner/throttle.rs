//! Rate limiting of the cleaner's I/O (`log.cleaner.io.max.bytes.per.second`, Kafka's
//! `Throttler`): callers report the bytes they read or wrote and are put to sleep when they run
//! ahead of the rate, so that cleaning never starves produce and fetch of disk bandwidth.

use std::time::{Duration, Instant};

/// How often the rate is checked.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// A byte-rate limiter shared by the cleaner threads (behind a lock) and kept across
/// cleanings, so that many short cleanings add up as one long one would.
#[derive(Debug)]
pub struct Throttler {
    bytes_per_sec: f64,
    period_start: Instant,
    bytes_in_period: f64,
}

impl Throttler {
    /// `bytes_per_sec` <= 0 or infinite means unlimited.
    pub fn new(bytes_per_sec: f64) -> Self {
        Throttler {
            bytes_per_sec,
            period_start: Instant::now(),
            bytes_in_period: 0.0,
        }
    }

    /// Changes the rate (a config change), keeping what was counted so far.
    pub fn set_rate(&mut self, bytes_per_sec: f64) {
        self.bytes_per_sec = bytes_per_sec;
    }

    pub fn is_unlimited(&self) -> bool {
        !(self.bytes_per_sec.is_finite() && self.bytes_per_sec > 0.0)
    }

    /// Accounts `bytes`; returns how long the caller should sleep to stay under the rate.
    pub fn record(&mut self, bytes: u64) -> Duration {
        if self.is_unlimited() {
            return Duration::ZERO;
        }
        self.bytes_in_period += bytes as f64;
        let elapsed = self.period_start.elapsed();
        if elapsed < CHECK_INTERVAL {
            return Duration::ZERO;
        }
        // At most an hour per check, whatever the rate (and no overflow for absurd ones).
        let allowed = (self.bytes_in_period / self.bytes_per_sec).min(3600.0);
        let sleep = Duration::try_from_secs_f64(allowed)
            .unwrap_or(Duration::ZERO)
            .saturating_sub(elapsed);
        self.period_start = Instant::now() + sleep;
        self.bytes_in_period = 0.0;
        sleep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_sleeps() {
        let mut t = Throttler::new(f64::INFINITY);
        assert_eq!(t.record(u64::MAX), Duration::ZERO);
        let mut t = Throttler::new(0.0);
        assert_eq!(t.record(1 << 40), Duration::ZERO);
    }

    #[test]
    fn running_ahead_of_the_rate_sleeps() {
        let mut t = Throttler::new(1_000_000.0);
        std::thread::sleep(CHECK_INTERVAL);
        // 10 MB at 1 MB/s should take 10 s; about 0.1 s has passed.
        let sleep = t.record(10_000_000);
        assert!(
            sleep > Duration::from_secs(9) && sleep <= Duration::from_secs(10),
            "{sleep:?}"
        );
    }
}
