//! The live progress line: once per second on stderr, the throughput and the p99 latency of
//! the last second, e.g. `  5.0 s  412,345 rec/s  402.7 MiB/s  p99 3.10 ms`. Shown only when
//! stderr is a terminal and `--quiet` is not given.

use std::io::{IsTerminal as _, Write as _};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::stats::{histogram, millis, throughput_text, Recorder};

/// How often the line is printed.
const INTERVAL: Duration = Duration::from_secs(1);

/// The running progress thread; [`Progress::stop`] ends it.
pub struct Progress {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts printing the sums of `counted` (records, bytes) and the p99 of `timed`'s latencies,
    /// labelled `label`, unless `quiet` or stderr is not a terminal.
    pub fn start(
        quiet: bool,
        counted: Vec<Arc<Recorder>>,
        timed: Vec<Arc<Recorder>>,
        label: &'static str,
    ) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress {
                stop: None,
                thread: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut next = start + INTERVAL;
            let (mut records, mut bytes) = (0u64, 0u64);
            let mut last = start;
            loop {
                match stopped.recv_timeout(next.saturating_duration_since(Instant::now())) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let now = Instant::now();
                let (r, b) = counted
                    .iter()
                    .fold((0, 0), |(r, b), rec| (r + rec.records(), b + rec.bytes()));
                let mut latency = histogram();
                for recorder in &timed {
                    recorder.drain_interval(&mut latency);
                }
                let secs = now.duration_since(last).as_secs_f64().max(1e-6);
                let mut line = format!(
                    "{:>6.1} s  {}",
                    now.duration_since(start).as_secs_f64(),
                    throughput_text((r - records) as f64 / secs, (b - bytes) as f64 / secs)
                );
                if !latency.is_empty() {
                    line.push_str(&format!(
                        "  {label} p99 {}",
                        millis(latency.value_at_quantile(0.99))
                    ));
                }
                let _ = writeln!(std::io::stderr().lock(), "{line}");
                (records, bytes, last) = (r, b, now);
                next += INTERVAL;
            }
        });
        Progress {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the line (the thread is joined, so no line follows the report).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
