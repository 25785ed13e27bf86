//! The Kafka listener's metrics: requests, failures (connection closed), error codes in
//! responses and latency per API, the sizes of produce requests and fetch responses, and the
//! open connections.

use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use strom_protocol::messages::{ApiKey, ResponseKind};

use super::errors::for_each_error;
use super::labels::{ApiErrorLabels, ApiLabels, ErrorName};

type HistogramFamily = Family<ApiLabels, Histogram, fn() -> Histogram>;

/// From 100 µs to about 13 s (a long-polling fetch waits up to its `max_wait_ms`).
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_1, 2.0, 18))
}

/// From 64 bytes to 256 MiB, by factors of 4.
fn size_histogram() -> Histogram {
    Histogram::new(exponential_buckets(64.0, 4.0, 12))
}

/// Counters and histograms of the Kafka listener.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    requests: Family<ApiLabels, Counter>,
    failures: Family<ApiLabels, Counter>,
    errors: Family<ApiErrorLabels, Counter>,
    duration: HistogramFamily,
    produce_request_bytes: Histogram,
    fetch_response_bytes: Histogram,
    active_connections: Gauge,
}

impl RequestMetrics {
    pub(super) fn register(registry: &mut Registry) -> RequestMetrics {
        let metrics = RequestMetrics {
            requests: Family::default(),
            failures: Family::default(),
            errors: Family::default(),
            duration: HistogramFamily::new_with_constructor(duration_histogram),
            produce_request_bytes: size_histogram(),
            fetch_response_bytes: size_histogram(),
            active_connections: Gauge::default(),
        };
        registry.register(
            "strom_requests",
            "Kafka requests received, by API (`unknown` for an API key Strom does not know)",
            metrics.requests.clone(),
        );
        registry.register(
            "strom_request_failures",
            "Kafka requests that could not be decoded or handled (the connection was closed or \
             the response could not be encoded), by API",
            metrics.failures.clone(),
        );
        registry.register(
            "strom_request_errors",
            "Error codes in Kafka responses (top-level and per topic, partition, group or \
             member), by API and error name",
            metrics.errors.clone(),
        );
        registry.register_with_unit(
            "strom_request_duration",
            "Time from a request decoded to its response ready to be written, by API \
             (acks=all produce requests include the fsync they wait for)",
            Unit::Seconds,
            metrics.duration.clone(),
        );
        registry.register_with_unit(
            "strom_produce_request",
            "Sizes of produce request frames",
            Unit::Bytes,
            metrics.produce_request_bytes.clone(),
        );
        registry.register_with_unit(
            "strom_fetch_response",
            "Sizes of encoded fetch responses",
            Unit::Bytes,
            metrics.fetch_response_bytes.clone(),
        );
        registry.register(
            "strom_active_connections",
            "Open client connections of the Kafka listener",
            metrics.active_connections.clone(),
        );
        metrics
    }

    /// Counts a request of `api` (`None`: an unknown API key) and starts timing it.
    #[must_use = "a request is timed until its timer is finished"]
    pub fn started(&self, api: Option<ApiKey>) -> RequestTimer {
        let labels = ApiLabels::new(api);
        self.requests.get_or_create(&labels).inc();
        RequestTimer {
            duration: self.duration.get_or_create_owned(&labels),
            started: Instant::now(),
        }
    }

    /// Counts an error of a request of `api` counted by [`RequestMetrics::started`]: it was
    /// answered by closing the connection, or its response could not be encoded.
    pub fn failed(&self, api: Option<ApiKey>) {
        self.failures.get_or_create(&ApiLabels::new(api)).inc();
    }

    /// Counts every non-zero error code of `body`, a response of `api` about to be encoded.
    pub fn count_errors(&self, api: ApiKey, body: &ResponseKind) {
        let api = ApiLabels::new(Some(api)).api;
        for_each_error(body, |code| {
            let labels = ApiErrorLabels {
                api,
                error: ErrorName::new(code),
            };
            self.errors.get_or_create(&labels).inc();
        });
    }

    /// Counts a request that could not be decoded (`api` is `None` when even its API key is
    /// unknown) as a request and an error; the connection is closed.
    pub fn rejected(&self, api: Option<ApiKey>) {
        let labels = ApiLabels::new(api);
        self.requests.get_or_create(&labels).inc();
        self.failures.get_or_create(&labels).inc();
    }

    /// A produce request frame of `bytes` bytes arrived.
    pub fn produce_request(&self, bytes: usize) {
        self.produce_request_bytes.observe(bytes as f64);
    }

    /// A fetch response of `bytes` bytes was encoded.
    pub fn fetch_response(&self, bytes: usize) {
        self.fetch_response_bytes.observe(bytes as f64);
    }

    /// Counts a connection as open until the returned guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.active_connections.inc();
        ConnectionGuard(self.active_connections.clone())
    }
}

/// Times one request; [`RequestTimer::finish`] records the time elapsed since it started.
#[derive(Debug)]
pub struct RequestTimer {
    duration: Histogram,
    started: Instant,
}

impl RequestTimer {
    /// The request's response is ready (or it needs none).
    pub fn finish(self) {
        self.duration.observe(self.started.elapsed().as_secs_f64());
    }
}

/// An open connection; dropping it counts the connection as closed.
#[derive(Debug)]
pub struct ConnectionGuard(Gauge);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}
