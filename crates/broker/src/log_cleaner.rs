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

/// Runs until `shutdown` changes; a cleaning in progress is stopped (its files are discarded).
pub fn spawn(
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let _guard = StopOnDrop(Arc::clone(&stop));
        let throttler = Arc::new(Mutex::new(Throttler::new(f64::INFINITY)));
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
            let next = if enabled { filthiest(&broker) } else { None };
            let Some(partition) = next else {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(backoff as u64)) => continue,
                    _ = shutdown.changed() => return,
                }
            };
            throttler.lock().set_rate(rate);
            let (stop_now, throttler_now) = (Arc::clone(&stop), Arc::clone(&throttler));
            let cleaning = tokio::task::spawn_blocking(move || {
                let mut throttle = |bytes: u64| {
                    let pause = throttler_now.lock().record(bytes);
                    if !pause.is_zero() {
                        std::thread::sleep(pause);
                    }
                };
                let result = partition.clean(now_ms(), settings, &mut throttle, &stop_now);
                (partition, result)
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
            let Ok((partition, result)) = finished else {
                tracing::error!("log cleaner thread panicked");
                continue;
            };
            match result {
                Ok(Some(_)) => {}
                // Nothing to do after all (or stopped, or the log changed): do not spin on it.
                Ok(None) => {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(backoff as u64)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
                Err(error) if error.is_fsync_failure() => {
                    halt("fsync during log cleaning failed", &error)
                }
                Err(error) => {
                    // Kafka marks such a partition uncleanable; we back off and try again later.
                    tracing::warn!(
                        topic = %partition.topic,
                        partition = partition.index,
                        %error,
                        "log cleaning failed"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(backoff as u64)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        }
    })
}

/// The due compacted partition with the highest dirty ratio.
fn filthiest(broker: &Broker) -> Option<Arc<Partition>> {
    let now = now_ms();
    broker
        .replicas
        .all()
        .into_iter()
        .filter_map(|partition| {
            let state = partition.cleaning_state(now)?;
            let min_ratio = partition.config().min_cleanable_dirty_ratio;
            state
                .is_due(min_ratio)
                .then(|| (state.dirty_ratio(), partition))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, partition)| partition)
}
