//! Machine baselines: what the disk and the loopback network can do, measured the same way
//! every time so that Strom's figures can be given as a ratio of them.
//!
//! # `strom bench disk`
//!
//! Everything happens in temporary files in `--dir` (removed afterwards, also on error), which
//! grow by appending exactly as a partition's active segment does: no preallocation, no
//! `O_DIRECT`, page-cache writes made durable with `fdatasync` (`File::sync_data`). The data is
//! pseudo-random so that a compressing filesystem cannot cheat.
//!
//! 1. **Write + fdatasync bandwidth, the baseline** (`write_fdatasync_mb_per_sec`): `--block-kb`
//!    (default 1024) KiB appends, each followed by an fdatasync. One MiB is the size of a
//!    well-batched produce request (librdkafka's `batch.size` and `message.max.bytes` are about
//!    1 MB), and the broker writes a partition's batches of one request with one write and covers
//!    it with one (group-committed) fdatasync; so this is what a single-partition `acks=all` log
//!    reaches on this disk when every full request gets its own fdatasync, and the figure produce
//!    throughput is given as a ratio of.
//! 2. **The same with 64 KiB appends** (`write_fdatasync_64k_mb_per_sec`): what smaller requests
//!    (a lightly loaded or low-linger producer) reach with one fdatasync each; the gap to phase 1
//!    is the per-fdatasync cost. Reported, not used as the baseline.
//! 3. **fdatasync latency** (`fdatasync_latency_ms`): 1 KiB appends, each followed by an
//!    fdatasync, timed around the fdatasync alone; p50, p99, p99.9 and max in milliseconds. This is
//!    the disk's share of an `acks=all` produce's acknowledgement latency; `strom bench
//!    durable-rtt` (durable_rtt.rs) measures the whole floor, network round trip included.
//!
//! Each phase stops after `--size-mb` MiB (phases 1 and 2) or 5,000 fdatasyncs (phase 3), or after
//! its time cap, whichever comes first, so the whole command takes under 20 s on slow disks.
//!
//! # `strom bench net`
//!
//! A sender and a receiver thread in this process, connected over 127.0.0.1 with std's blocking
//! sockets; the sender writes `--buffer-kb` KiB buffers for `--seconds`, the receiver reads with a
//! buffer of the same size and counts the bytes (`loopback_tcp_mb_per_sec`, timed on the receiver
//! from the first byte to end of stream). One stream, like one client connection to a broker.
//!
//! MB is 10^6 bytes throughout (as in `bytes_per_sec / 1e6`). Human-readable lines go to stdout;
//! with `--json` the last stdout line is one JSON object with the figures.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::common::Rng;
use super::stats::round3;

#[derive(Args)]
pub struct DiskArgs {
    /// Directory whose filesystem is measured (a temporary file is written there).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Most MiB written by each bandwidth phase (each also stops after 6 s).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub size_mb: u64,
    /// Write size of the baseline bandwidth phase, in KiB (one fdatasync per write).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub block_kb: u64,
}

#[derive(Args)]
pub struct NetArgs {
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// How long the sender writes.
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Size of each write (and of the receiver's read buffer), in KiB.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub buffer_kb: u64,
}

/// Time cap of each bandwidth phase of `bench disk`.
const BANDWIDTH_PHASE_CAP: Duration = Duration::from_secs(6);
/// Time cap of the fdatasync latency phase.
const LATENCY_PHASE_CAP: Duration = Duration::from_secs(6);
/// Most fdatasyncs timed by the latency phase.
const LATENCY_SAMPLES: usize = 5_000;
/// Append size of the latency phase.
const LATENCY_APPEND: usize = 1024;
/// Append size of the second bandwidth phase.
const SMALL_BLOCK: usize = 64 * 1024;

pub fn disk(args: DiskArgs) -> anyhow::Result<()> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("cannot resolve directory {}", args.dir.display()))?;
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let mount = filesystem_of(&dir);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "disk baseline in {} (filesystem {}, {} on {})",
        dir.display(),
        mount.fstype,
        mount.device,
        mount.mount_point
    )?;

    let limit = args.size_mb * 1024 * 1024;
    let block = usize::try_from(args.block_kb * 1024).context("block size too large")?;
    let big = write_fdatasync_bandwidth(&dir, block, limit)?;
    writeln!(
        out,
        "write+fdatasync, {} KiB per write: {:.1} MB/s ({} MiB in {:.2} s, {} fdatasyncs)",
        args.block_kb,
        big.mb_per_sec(),
        big.bytes / (1024 * 1024),
        big.elapsed.as_secs_f64(),
        big.syncs
    )?;
    let small = write_fdatasync_bandwidth(&dir, SMALL_BLOCK, limit)?;
    writeln!(
        out,
        "write+fdatasync, 64 KiB per write: {:.1} MB/s ({} MiB in {:.2} s, {} fdatasyncs)",
        small.mb_per_sec(),
        small.bytes / (1024 * 1024),
        small.elapsed.as_secs_f64(),
        small.syncs
    )?;
    let latency = fdatasync_latency(&dir, LATENCY_SAMPLES)?;
    writeln!(
        out,
        "fdatasync latency after 1 KiB appends ({} samples): p50 {:.3} ms, p99 {:.3} ms, \
         p99.9 {:.3} ms, max {:.3} ms",
        latency.samples, latency.p50, latency.p99, latency.p999, latency.max
    )?;

    if args.json {
        let report = json!({
            "write_fdatasync_mb_per_sec": round3(big.mb_per_sec()),
            "write_fdatasync_block_kb": args.block_kb,
            "write_fdatasync_64k_mb_per_sec": round3(small.mb_per_sec()),
            "fdatasync_latency_ms": latency.json(),
            "dir": dir.display().to_string(),
            "filesystem": mount.fstype,
            "device": mount.device,
            "mount_point": mount.mount_point,
        });
        writeln!(out, "{report}")?;
    }
    Ok(())
}

pub fn net(args: NetArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 3600.0,
        "--seconds must be in (0, 3600]"
    );
    let duration = Duration::from_secs_f64(args.seconds);
    let buffer = usize::try_from(args.buffer_kb * 1024).context("buffer size too large")?;

    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let address = listener
        .local_addr()
        .context("cannot read the listener's address")?;
    let receiver = std::thread::Builder::new()
        .name("bench-net-recv".into())
        .spawn(move || receive_all(&listener, buffer))
        .context("cannot start the receiver thread")?;

    let sent = send_for(address, buffer, duration);
    let received = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the receiver thread panicked"))?;
    let sent = sent?;
    let (received, elapsed) = received?;
    anyhow::ensure!(
        received == sent,
        "receiver counted {received} bytes but {sent} were sent"
    );
    let mb_per_sec = megabytes_per_sec(received, elapsed);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "loopback TCP, {} KiB writes, one stream: {:.1} MB/s ({} MiB in {:.2} s)",
        args.buffer_kb,
        mb_per_sec,
        received / (1024 * 1024),
        elapsed.as_secs_f64()
    )?;
    if args.json {
        let report = json!({
            "loopback_tcp_mb_per_sec": round3(mb_per_sec),
            "buffer_kb": args.buffer_kb,
            "seconds": round3(elapsed.as_secs_f64()),
        });
        writeln!(out, "{report}")?;
    }
    Ok(())
}

/// Sends `buffer`-sized writes to `address` for `duration`, then closes the write side.
/// Returns the bytes sent.
fn send_for(
    address: std::net::SocketAddr,
    buffer: usize,
    duration: Duration,
) -> anyhow::Result<u64> {
    let mut stream =
        TcpStream::connect(address).with_context(|| format!("cannot connect to {address}"))?;
    stream
        .set_nodelay(true)
        .context("cannot set TCP_NODELAY on the sender")?;
    let mut data = vec![0u8; buffer];
    Rng::seeded(0x5eed).fill(&mut data);
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed() < duration {
        stream.write_all(&data).context("loopback send failed")?;
        sent += data.len() as u64;
    }
    stream
        .shutdown(Shutdown::Write)
        .context("cannot close the sender's stream")?;
    Ok(sent)
}

/// Accepts one connection and reads it to the end. Returns the bytes read and the time from the
/// first byte to the end of the stream.
fn receive_all(listener: &TcpListener, buffer: usize) -> anyhow::Result<(u64, Duration)> {
    let (mut stream, _) = listener
        .accept()
        .context("cannot accept the sender's connection")?;
    let mut data = vec![0u8; buffer];
    let mut received = 0u64;
    let mut started = None;
    loop {
        let n = stream.read(&mut data).context("loopback receive failed")?;
        if n == 0 {
            break;
        }
        started.get_or_insert_with(Instant::now);
        received += n as u64;
    }
    let elapsed = started.map(|t| t.elapsed()).unwrap_or_default();
    anyhow::ensure!(received > 0, "the receiver got no data");
    Ok((received, elapsed))
}

/// Result of one write+fdatasync bandwidth phase.
struct Bandwidth {
    bytes: u64,
    syncs: u64,
    elapsed: Duration,
}

impl Bandwidth {
    fn mb_per_sec(&self) -> f64 {
        megabytes_per_sec(self.bytes, self.elapsed)
    }
}

/// Appends `block`-byte writes to a fresh file in `dir`, each followed by an fdatasync, until
/// `limit` bytes or [`BANDWIDTH_PHASE_CAP`].
fn write_fdatasync_bandwidth(dir: &Path, block: usize, limit: u64) -> anyhow::Result<Bandwidth> {
    let scratch = ScratchFile::create(dir)?;
    let mut file = scratch.file()?;
    let mut data = vec![0u8; block];
    Rng::seeded(block as u64).fill(&mut data);
    let started = Instant::now();
    let mut bytes = 0u64;
    let mut syncs = 0u64;
    while bytes < limit && started.elapsed() < BANDWIDTH_PHASE_CAP {
        // Change the block a little so that no two writes carry the same bytes.
        data[..8].copy_from_slice(&syncs.to_le_bytes());
        file.write_all(&data)
            .with_context(|| format!("write to {} failed", scratch.path.display()))?;
        file.sync_data()
            .with_context(|| format!("fdatasync of {} failed", scratch.path.display()))?;
        bytes += block as u64;
        syncs += 1;
    }
    let elapsed = started.elapsed();
    drop(file);
    scratch.remove()?;
    Ok(Bandwidth {
        bytes,
        syncs,
        elapsed,
    })
}

/// Latency percentiles (nearest rank), in milliseconds.
pub(super) struct Latency {
    pub(super) samples: usize,
    pub(super) p50: f64,
    pub(super) p99: f64,
    pub(super) p999: f64,
    pub(super) max: f64,
}

impl Latency {
    /// The percentiles of `samples` (sorted here), or `None` when there are none.
    pub(super) fn of(samples: &mut [Duration]) -> Option<Latency> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        Some(Latency {
            samples: samples.len(),
            p50: ms(percentile(samples, 50.0)),
            p99: ms(percentile(samples, 99.0)),
            p999: ms(percentile(samples, 99.9)),
            max: ms(samples[samples.len() - 1]),
        })
    }

    /// The figures as the `{"p50", "p99", "p999", "max", "samples"}` object of the JSON reports.
    pub(super) fn json(&self) -> serde_json::Value {
        json!({
            "p50": round3(self.p50),
            "p99": round3(self.p99),
            "p999": round3(self.p999),
            "max": round3(self.max),
            "samples": self.samples,
        })
    }
}

/// Times the fdatasync after each of up to `max_samples` small appends.
fn fdatasync_latency(dir: &Path, max_samples: usize) -> anyhow::Result<Latency> {
    let scratch = ScratchFile::create(dir)?;
    let mut file = scratch.file()?;
    let mut data = vec![0u8; LATENCY_APPEND];
    Rng::seeded(42).fill(&mut data);
    let mut samples = Vec::with_capacity(max_samples);
    let started = Instant::now();
    while samples.len() < max_samples && started.elapsed() < LATENCY_PHASE_CAP {
        data[..8].copy_from_slice(&(samples.len() as u64).to_le_bytes());
        file.write_all(&data)
            .with_context(|| format!("write to {} failed", scratch.path.display()))?;
        let before = Instant::now();
        file.sync_data()
            .with_context(|| format!("fdatasync of {} failed", scratch.path.display()))?;
        samples.push(before.elapsed());
    }
    drop(file);
    scratch.remove()?;
    Latency::of(&mut samples).context("no fdatasync completed")
}

/// The nearest-rank percentile of sorted, non-empty `samples`.
pub(super) fn percentile(samples: &[Duration], p: f64) -> Duration {
    // The epsilon keeps 0.99 * 1000 = 990.0000000000001 from ranking 991.
    let rank = (p * samples.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn megabytes_per_sec(bytes: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        bytes as f64 / 1e6 / secs
    } else {
        0.0
    }
}

/// A temporary file, removed when dropped (errors ignored) or by [`ScratchFile::remove`].
pub(super) struct ScratchFile {
    pub(super) path: PathBuf,
    removed: bool,
}

impl ScratchFile {
    pub(super) fn create(dir: &Path) -> anyhow::Result<ScratchFile> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = dir.join(format!(
            ".strom-bench-disk-{}-{nanos:09}",
            std::process::id()
        ));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(ScratchFile {
            path,
            removed: false,
        })
    }

    pub(super) fn file(&self) -> anyhow::Result<File> {
        OpenOptions::new()
            .append(true)
            .open(&self.path)
            .with_context(|| format!("cannot open {}", self.path.display()))
    }

    pub(super) fn remove(mut self) -> anyhow::Result<()> {
        self.removed = true;
        std::fs::remove_file(&self.path)
            .with_context(|| format!("cannot remove {}", self.path.display()))
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        if !self.removed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The mount a path lives on, as far as /proc/mounts (or `stat -f`) tells.
pub(super) struct Mount {
    pub(super) fstype: String,
    pub(super) device: String,
    pub(super) mount_point: String,
}

/// Best effort: the longest mount point of /proc/mounts that contains `dir`; `stat -f` when
/// /proc is unavailable; "unknown" otherwise.
pub(super) fn filesystem_of(dir: &Path) -> Mount {
    let mut best: Option<Mount> = None;
    if let Ok(mounts) = std::fs::read_to_string("/proc/mounts") {
        for line in mounts.lines() {
            let mut fields = line.split_whitespace();
            let (Some(device), Some(point), Some(fstype)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let point = unescape_mount_field(point);
            // The last matching line of the longest mount point wins (later mounts shadow
            // earlier ones on the same point).
            let longer = best
                .as_ref()
                .is_none_or(|b| point.len() >= b.mount_point.len());
            if dir.starts_with(&point) && longer {
                best = Some(Mount {
                    fstype: fstype.to_string(),
                    device: unescape_mount_field(device),
                    mount_point: point,
                });
            }
        }
    }
    if let Some(mount) = best {
        return mount;
    }
    let fstype = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string());
    Mount {
        fstype,
        device: "unknown".to_string(),
        mount_point: "unknown".to_string(),
    }
}

/// Decodes the octal escapes (`\040` for a space, ...) of a /proc/mounts field.
fn unescape_mount_field(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 3 < bytes.len() {
            let digits = &field[i + 1..i + 4];
            if let Ok(value) = u8::from_str_radix(digits, 8) {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand)]
    enum Sub {
        Disk(DiskArgs),
        Net(NetArgs),
    }

    fn parse(args: &[&str]) -> Result<Sub, clap::Error> {
        use clap::Parser as _;
        Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn disk_arguments_have_defaults_and_ranges() {
        let Sub::Disk(args) = parse(&["disk"]).unwrap() else {
            panic!("not disk")
        };
        assert_eq!(args.dir, PathBuf::from("."));
        assert_eq!(
            (args.size_mb, args.block_kb, args.json),
            (1024, 1024, false)
        );
        let Sub::Disk(args) = parse(&[
            "disk",
            "--dir",
            "/d",
            "--size-mb",
            "8",
            "--block-kb",
            "64",
            "--json",
        ])
        .unwrap() else {
            panic!("not disk")
        };
        assert_eq!(args.dir, PathBuf::from("/d"));
        assert_eq!((args.size_mb, args.block_kb, args.json), (8, 64, true));
        assert!(parse(&["disk", "--size-mb", "0"]).is_err());
        assert!(parse(&["disk", "--block-kb", "0"]).is_err());
        assert!(parse(&["disk", "--block-kb", "65537"]).is_err());
    }

    #[test]
    fn net_arguments_have_defaults_and_ranges() {
        let Sub::Net(args) = parse(&["net"]).unwrap() else {
            panic!("not net")
        };
        assert_eq!((args.seconds, args.buffer_kb, args.json), (5.0, 256, false));
        assert!(parse(&["net", "--buffer-kb", "0"]).is_err());
        assert!(parse(&["net", "--seconds", "x"]).is_err());
        for seconds in ["0", "-1", "inf", "NaN"] {
            let Sub::Net(args) = parse(&["net", &format!("--seconds={seconds}")]).unwrap() else {
                panic!("not net")
            };
            assert!(net(args).is_err(), "--seconds {seconds} accepted");
        }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<Duration> = (1..=1000).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(500));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(990));
        assert_eq!(percentile(&samples, 99.9), Duration::from_millis(999));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(1000));
        let one = [Duration::from_millis(7)];
        assert_eq!(percentile(&one, 99.9), Duration::from_millis(7));
    }

    #[test]
    fn mount_fields_are_unescaped() {
        assert_eq!(unescape_mount_field("/mnt/my\\040disk"), "/mnt/my disk");
        assert_eq!(unescape_mount_field("/plain"), "/plain");
        assert_eq!(unescape_mount_field("/trailing\\04"), "/trailing\\04");
    }

    #[test]
    fn disk_phases_run_and_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        let bandwidth = write_fdatasync_bandwidth(dir.path(), 64 * 1024, 1024 * 1024).unwrap();
        assert_eq!(bandwidth.bytes, 1024 * 1024);
        assert_eq!(bandwidth.syncs, 16);
        let latency = fdatasync_latency(dir.path(), 20).unwrap();
        assert_eq!(latency.samples, 20);
        assert!(latency.p50 <= latency.p99 && latency.p99 <= latency.p999);
        assert!(latency.p999 <= latency.max);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn the_filesystem_of_a_directory_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let mount = filesystem_of(&dir.path().canonicalize().unwrap());
        assert_ne!(mount.fstype, "");
    }

    #[test]
    fn net_baseline_runs() {
        net(NetArgs {
            json: true,
            seconds: 0.2,
            buffer_kb: 64,
        })
        .unwrap();
    }
}
