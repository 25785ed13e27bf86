//! Measurements: a [`Recorder`] per load thread (counters plus a latency histogram, so that
//! threads never contend), their sums, latency percentiles (HdrHistogram, microsecond
//! resolution) and the human formats of the report and the progress line.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// The largest latency a histogram holds, in microseconds (one hour); larger ones are clamped.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// An empty latency histogram: 1 µs to one hour, three significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// What one load thread measured. Its owner updates it; the progress line and the report read
/// it from other threads.
pub struct Recorder {
    records: AtomicU64,
    bytes: AtomicU64,
    errors: AtomicU64,
    /// `now_us()` of the first and last recorded record (`u64::MAX` / 0 when none).
    first_us: AtomicU64,
    last_us: AtomicU64,
    first_error: Mutex<Option<String>>,
    latency: Mutex<Latency>,
}

/// Latencies since the last progress line, and all the earlier ones.
struct Latency {
    interval: Histogram<u64>,
    total: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder {
            records: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            first_us: AtomicU64::new(u64::MAX),
            last_us: AtomicU64::new(0),
            first_error: Mutex::new(None),
            latency: Mutex::new(Latency {
                interval: histogram(),
                total: histogram(),
            }),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recorder {
    /// Counts one record of `bytes` payload bytes seen at `now_us`, with its latency if known.
    pub fn record(&self, bytes: u64, now_us: u64, latency_us: Option<u64>) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.first_us.fetch_min(now_us, Ordering::Relaxed);
        self.last_us.fetch_max(now_us, Ordering::Relaxed);
        if let Some(latency) = latency_us {
            lock(&self.latency)
                .interval
                .saturating_record(latency.clamp(1, MAX_LATENCY_US));
        }
    }

    /// Counts a failed record; the first error's text is kept for the report.
    pub fn error(&self, text: impl FnOnce() -> String) {
        if self.errors.fetch_add(1, Ordering::Relaxed) == 0 {
            lock(&self.first_error).get_or_insert_with(text);
        }
    }

    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Adds the latencies recorded since the last call to `out` (and to the total).
    pub fn drain_interval(&self, out: &mut Histogram<u64>) {
        let mut latency = lock(&self.latency);
        let Latency { interval, total } = &mut *latency;
        // Same bounds everywhere, so adding cannot fail.
        let _ = out.add(&*interval);
        let _ = total.add(&*interval);
        interval.reset();
    }
}

/// The sums over a set of recorders.
pub struct Totals {
    pub records: u64,
    pub bytes: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// `now_us()` of the first and last record any of them saw (0 when none).
    pub first_us: u64,
    pub last_us: u64,
    pub latency: Histogram<u64>,
}

impl Totals {
    pub fn of(recorders: &[std::sync::Arc<Recorder>]) -> Totals {
        let mut latency = histogram();
        let mut totals = Totals {
            records: 0,
            bytes: 0,
            errors: 0,
            first_error: None,
            first_us: u64::MAX,
            last_us: 0,
            latency: histogram(),
        };
        for recorder in recorders {
            recorder.drain_interval(&mut histogram());
            let _ = latency.add(&lock(&recorder.latency).total);
            totals.records += recorder.records();
            totals.bytes += recorder.bytes();
            totals.errors += recorder.errors.load(Ordering::Relaxed);
            totals.first_us = totals
                .first_us
                .min(recorder.first_us.load(Ordering::Relaxed));
            totals.last_us = totals.last_us.max(recorder.last_us.load(Ordering::Relaxed));
            if totals.first_error.is_none() {
                totals.first_error = lock(&recorder.first_error).clone();
            }
        }
        if totals.first_us == u64::MAX {
            totals.first_us = 0;
        }
        totals.latency = latency;
        totals
    }

    /// Time between the first and the last record.
    pub fn span(&self) -> Duration {
        Duration::from_micros(self.last_us.saturating_sub(self.first_us))
    }
}

/// Records and payload bytes per second over `elapsed`.
pub fn rates(records: u64, bytes: u64, elapsed: Duration) -> (f64, f64) {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return (0.0, 0.0);
    }
    (records as f64 / secs, bytes as f64 / secs)
}

/// Latency percentiles in milliseconds: `{p50, p99, p999, max, mean, count}`, or null when
/// nothing was measured.
pub fn percentiles_json(histogram: &Histogram<u64>) -> Value {
    if histogram.is_empty() {
        return Value::Null;
    }
    let ms = |us: u64| us as f64 / 1000.0;
    json!({
        "p50": ms(histogram.value_at_quantile(0.5)),
        "p99": ms(histogram.value_at_quantile(0.99)),
        "p999": ms(histogram.value_at_quantile(0.999)),
        "max": ms(histogram.max()),
        "mean": histogram.mean().round() / 1000.0,
        "count": histogram.len(),
    })
}

/// `p50 1.2 ms  p99 3.4 ms  p99.9 5.6 ms  max 7.8 ms`, or `none measured`.
pub fn percentiles_text(histogram: &Histogram<u64>) -> String {
    if histogram.is_empty() {
        return "none measured".to_owned();
    }
    format!(
        "p50 {}  p99 {}  p99.9 {}  max {}",
        millis(histogram.value_at_quantile(0.5)),
        millis(histogram.value_at_quantile(0.99)),
        millis(histogram.value_at_quantile(0.999)),
        millis(histogram.max()),
    )
}

/// A latency in microseconds as milliseconds with a precision that suits its size.
pub fn millis(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// An integer with thousands separators: `412,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes per second as `402.7 MiB/s`.
pub fn mib_per_sec(bytes_per_sec: f64) -> String {
    format!("{:.1} MiB/s", bytes_per_sec / (1024.0 * 1024.0))
}

/// The throughput line of a report: `412,345 rec/s  402.7 MiB/s`.
pub fn throughput_text(records_per_sec: f64, bytes_per_sec: f64) -> String {
    format!(
        "{} rec/s  {}",
        thousands(records_per_sec.round() as u64),
        mib_per_sec(bytes_per_sec)
    )
}

/// Rounds a figure for JSON to three decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Prints the human report on stdout, then the JSON object as the last line when asked.
pub fn print_report(lines: &[String], json: Option<&Value>) {
    for line in lines {
        println!("{line}");
    }
    if let Some(value) = json {
        println!("{value}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(412_345), "412,345");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn percentiles_of_known_values() {
        let recorder = Recorder::default();
        for us in 1..=1000 {
            recorder.record(10, us, Some(us));
        }
        let totals = Totals::of(&[std::sync::Arc::new(recorder)]);
        assert_eq!(totals.records, 1000);
        assert_eq!(totals.bytes, 10_000);
        assert_eq!(totals.span(), Duration::from_micros(999));
        let json = percentiles_json(&totals.latency);
        assert_eq!(json["p50"], 0.5);
        assert_eq!(json["max"], 1.0);
        assert_eq!(json["count"], 1000);
        assert!(percentiles_json(&histogram()).is_null());
    }
}
