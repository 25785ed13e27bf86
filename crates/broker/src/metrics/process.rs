//! Process metrics under the names every Prometheus client uses: `process_resident_memory_bytes`
//! (VmRSS of `/proc/self/status`) and `process_open_fds` (entries of `/proc/self/fd`), read when
//! `/metrics` is scraped. Linux only: where `/proc` cannot be read the metric is left out.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;

/// Encodes the process figures at each scrape.
#[derive(Debug, Default)]
pub(super) struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let resident = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|status| vm_rss_bytes(&status));
        if let Some(bytes) = resident {
            let gauge = ConstGauge::new(bytes);
            gauge.encode(encoder.encode_descriptor(
                "process_resident_memory",
                "Resident memory size in bytes.",
                Some(&Unit::Bytes),
                MetricType::Gauge,
            )?)?;
        }
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|entries| entries.count() as u64);
        if let Some(count) = open_fds {
            ConstGauge::new(count).encode(encoder.encode_descriptor(
                "process_open_fds",
                "Number of open file descriptors.",
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}

/// The `VmRSS:  1234 kB` line of `/proc/self/status`, in bytes.
fn vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?;
    let mut fields = line.split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::vm_rss_bytes;

    #[test]
    fn vm_rss_is_read_in_bytes() {
        let status = "Name:\tstrom\nVmPeak:\t  9000 kB\nVmRSS:\t    5120 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_bytes(status), Some(5 * 1024 * 1024));
        assert_eq!(vm_rss_bytes("Name:\tstrom\n"), None);
        assert_eq!(vm_rss_bytes("VmRSS:\tlots kB\n"), None);
    }
}
