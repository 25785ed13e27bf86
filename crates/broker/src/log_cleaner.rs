//! The log cleaner's scheduling: one background task that, every `log.cleaner.backoff.ms` (or
//! straight after a cleaning), picks the compacted partition with the highest dirty ratio among
//! those due (ratio above `min.cleanable.dirty.ratio`, `max.compaction.lag.ms` exceeded, or a
//! delete horizon passed) and cleans it on a blocking thread. All cleanings share one
//! [`Throttler`] for `log.cleaner.io.max.bytes.per.second`, kept for the broker's lifetime so
//! that short cleanings add up. The cleaning itself lives in
//! `strom_storage::cleaner`; `__consumer_offsets` and `__transaction_state` are compacted
//! topics and are cleaned like any other.
//!
//! `log.cleaner.enable=false` or `log.cleaner.threads=0` turns it off. One cleaning runs at a
//! time whatever `log.cleaner.threads` says (more threads are a possible later improvement).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use strom_storage::{CleanerSettings, Throttler};
use tokio::sync::watch;

use crate::error::halt;
use crate::partition::Partition;
use crate::server::{now_ms, Broker};

/// Sets the flag when dropped: a cleaning in progress stops at its next read when the task
/// driving it is cancelled.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// How long a partition whose cleaning failed is left alone (Kafka marks it uncleanable until
/// a restart; we try again now and then, and clean the others meanwhile).
const FAILED_RETRY_MS: i64 = 10 * 60 * 1000;
/// The longest single sleep of the throttle, so that a stop is noticed soon.
const THROTTLE_SLICE: Duration = Duration::from_millis(100);

/// Runs until `shutdown` changes; a cleaning in progress is stopped (its files are discarded).
pub fn spawn(
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let _guard = StopOnDrop(Arc::clone(&stop));
        let throttler = Arc::new(Mutex::new(Throttler::new(f64::INFINITY)));
        // Partitions not to clean before a time: (topic, partition) -> wall-clock ms.
        let mut resting: HashMap<(String, i32), i64> = HashMap::new();
        loop {
            let (enabled, backoff, settings, rate) = {
                let config = broker.config.read();
                (
                    config.log_cleaner_enable() && config.log_cleaner_threads() > 0,
                    config.log_cleaner_backoff_ms().clamp(10, 3_600_000),
                    CleanerSettings {
                        dedupe_buffer_bytes: usize::try_from(
                            config.log_cleaner_dedupe_buffer_size(),
                        )
                        .unwrap_or(usize::MAX),
                        io_buffer_bytes: usize::try_from(config.log_cleaner_io_buffer_size())
                            .unwrap_or(1 << 20),
                    },
                    config.log_cleaner_io_max_bytes_per_second(),
                )
            };
            let now = now_ms();
            resting.retain(|_, until| *until > now);
            let next = if enabled {
                filthiest(&broker, &resting)
            } else {
                None
            };
            let Some(partition) = next else {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(backoff as u64)) => continue,
                    _ = shutdown.changed() => return,
                }
            };
            let key = (partition.topic.clone(), partition.index);
            throttler.lock().set_rate(rate);
            let (stop_now, throttler_now) = (Arc::clone(&stop), Arc::clone(&throttler));
            let cleaning = tokio::task::spawn_blocking(move || {
                let mut throttle = |bytes: u64| {
                    let mut pause = throttler_now.lock().record(bytes);
                    while !pause.is_zero() && !stop_now.load(Ordering::Acquire) {
                        let slice = pause.min(THROTTLE_SLICE);
                        std::thread::sleep(slice);
                        pause -= slice;
                    }
                };
                partition.clean(now_ms(), settings, &mut throttle, &stop_now)
            });
            tokio::pin!(cleaning);
            let finished = tokio::select! {
                finished = &mut cleaning => finished,
                _ = shutdown.changed() => {
                    stop.store(true, Ordering::Release);
                    let _ = cleaning.await;
                    return;
                }
            };
            match finished {
                Ok(Ok(Some(stats))) => broker.metrics.cleaner.cleaned(&stats),
                // Nothing to do after all, stopped, or the log changed: not again right away.
                Ok(Ok(None)) => {
                    resting.insert(key, now_ms() + backoff);
                }
                Ok(Err(error)) if error.is_fsync_failure() => {
                    halt("fsync during log cleaning failed", &error)
                }
                Ok(Err(error)) => {
                    tracing::warn!(
                        topic = %key.0,
                        partition = key.1,
                        %error,
                        retry_in_ms = FAILED_RETRY_MS,
                        "log cleaning failed; cleaning the other partitions meanwhile"
                    );
                    resting.insert(key, now_ms() + FAILED_RETRY_MS);
                }
                Err(error) => {
                    tracing::error!(topic = %key.0, partition = key.1, %error, "log cleaner thread panicked");
                    resting.insert(key, now_ms() + FAILED_RETRY_MS);
                }
            }
        }
    })
}

/// The due compacted partition with the highest dirty ratio, among those not resting.
fn filthiest(broker: &Broker, resting: &HashMap<(String, i32), i64>) -> Option<Arc<Partition>> {
    let now = now_ms();
    broker
        .replicas
        .all()
        .into_iter()
        .filter(|p| !resting.contains_key(&(p.topic.clone(), p.index)))
        .filter_map(|partition| {
            let state = partition.cleaning_state(now)?;
            state.is_due().then(|| (state.dirty_ratio(), partition))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, partition)| partition)
}
