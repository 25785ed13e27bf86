//! `strom bench durable-rtt`: the floor of an `acks=all` acknowledgement's latency on this
//! machine, measured without a broker.
//!
//! An `acks=all` produce is acknowledged once its records are in the log and durable: at least a
//! loopback round trip plus an fdatasync. The two do not simply add up, though: a request that
//! arrives while the previous fdatasync is in flight waits for it, one fdatasync covers every
//! request that arrived meanwhile (group commit), and the threads compete with the client for the
//! CPUs. So the p99 of a bare fdatasync (`strom bench disk`, phase 3) is not a floor any server
//! can reach; this command measures the floor with the least server there can be:
//!
//! - **Server**: one thread with std's blocking sockets on 127.0.0.1 (TCP_NODELAY). It accepts
//!   one connection and loops: read whatever has arrived (up to 1 MiB); append the complete
//!   requests to a scratch file in `--dir` with one write; fdatasync it (`File::sync_data`, one per
//!   read: a serial group commit, as a partition's log does); then answer every request of the
//!   read in one write, 8 bytes per request (the request's first 8 bytes, echoed). A partial
//!   request waits for the next read. No parsing, no index, no queue, no other thread; at the end
//!   of the stream it closes the connection and removes the file.
//! - **Client**: a sender thread paced at `--rate` as `strom bench produce` paces (request *i* is
//!   due at start + *i* / rate) writes `--record-size`-byte requests whose first 8 bytes are the
//!   send time (nanoseconds on the monotonic clock, taken right before the write); the calling
//!   thread reads the answers and records receive time minus the echoed send time.
//!
//! Whatever a broker does on top of this (decoding, the log's index, high watermarks, a runtime's
//! scheduling) adds to it, so the p99 of this round trip, not that of a bare fdatasync, is the
//! practical floor of the produce-to-ack p99 on this machine at this rate and request size. (A
//! floor for serial group commit: a server that overlaps fdatasyncs, as Strom's log does with up
//! to two at once, can shorten a request's wait behind a sync already in flight, though not the
//! syncs themselves.) With `--no-sync` the server skips the fdatasync, everything else the same:
//! the loopback round trip with the append, which separates the disk's share from the network's
//! and the scheduler's.
//!
//! Percentiles are nearest rank over every request, in milliseconds. The human-readable line goes
//! to stdout; with `--json` the last stdout line is one JSON object with the figures.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::baseline::{filesystem_of, Latency, ScratchFile};
use super::common::Rng;
use super::stats::{round3, thousands};

#[derive(Args)]
pub struct DurableRttArgs {
    /// Directory whose filesystem the server appends to (a temporary file is written there).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Requests per second, paced evenly.
    #[arg(long, default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub rate: u64,
    /// Size of each request in bytes (the first 8 carry the send time).
    #[arg(long, value_name = "BYTES", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(8..=MAX_RECORD_SIZE))]
    pub record_size: u64,
    /// How long the client sends, in seconds (at most 3600).
    #[arg(long, default_value_t = 8.0, value_parser = parse_seconds)]
    pub seconds: f64,
    /// Skip the fdatasync: the plain loopback round trip with the same append.
    #[arg(long)]
    pub no_sync: bool,
    /// Print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
}

/// Largest `--record-size`: a request always fits the server's read buffer.
const MAX_RECORD_SIZE: u64 = SERVER_BUFFER as u64;
/// The server's read buffer.
const SERVER_BUFFER: usize = 1024 * 1024;
/// The client's read buffer for answers.
const CLIENT_BUFFER: usize = 64 * 1024;
/// Size of an answer: the request's send time, echoed.
const ANSWER: usize = 8;
/// Most latency samples preallocated (more grow the vector).
const PREALLOCATED_SAMPLES: u64 = 1 << 22;

/// Parses `--seconds`: a number in (0, 3600].
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(secs),
        _ => Err(format!(
            "expected a number of seconds in (0, 3600], got {s:?}"
        )),
    }
}

/// What the server did.
#[derive(Default)]
struct Served {
    /// Requests appended and answered.
    requests: u64,
    /// Writes to the file (one per read that completed at least one request).
    appends: u64,
    fdatasyncs: u64,
}

/// What the client measured.
struct Measured {
    /// Requests sent.
    sent: u64,
    /// One round trip per answer received.
    latencies: Vec<Duration>,
}

/// Runs `strom bench durable-rtt`.
pub fn run(args: DurableRttArgs) -> anyhow::Result<()> {
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("cannot resolve directory {}", args.dir.display()))?;
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    let mount = filesystem_of(&dir);
    let record_size = usize::try_from(args.record_size).context("record size too large")?;
    let sync = !args.no_sync;
    let (served, mut measured) = round_trips(
        &dir,
        args.rate,
        record_size,
        Duration::from_secs_f64(args.seconds),
        sync,
    )?;
    let latency = Latency::of(&mut measured.latencies).context("no request was answered")?;
    let per_sync =
        (served.fdatasyncs > 0).then(|| served.requests as f64 / served.fdatasyncs as f64);

    let mut out = std::io::stdout().lock();
    let what = if sync {
        format!(
            "durable round trip, {} B requests at {}/s, fdatasync per read ({} requests, {} \
             fdatasyncs, {:.2} requests per fdatasync)",
            args.record_size,
            thousands(args.rate),
            thousands(measured.sent),
            thousands(served.fdatasyncs),
            per_sync.unwrap_or_default()
        )
    } else {
        format!(
            "round trip without fdatasync, {} B requests at {}/s, append per read ({} requests, \
             {} appends)",
            args.record_size,
            thousands(args.rate),
            thousands(measured.sent),
            thousands(served.appends)
        )
    };
    writeln!(
        out,
        "{what} in {} ({}): p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        dir.display(),
        mount.fstype,
        latency.p50,
        latency.p99,
        latency.p999,
        latency.max
    )?;
    if args.json {
        let report = json!({
            "durable_rtt_ms": latency.json(),
            "rate": args.rate,
            "record_size": args.record_size,
            "seconds": args.seconds,
            "fdatasync": sync,
            "requests": measured.sent,
            "appends": served.appends,
            "fdatasyncs": served.fdatasyncs,
            "requests_per_fdatasync": per_sync.map(round3),
            "dir": dir.display().to_string(),
            "filesystem": mount.fstype,
            "device": mount.device,
            "mount_point": mount.mount_point,
        });
        writeln!(out, "{report}")?;
    }
    Ok(())
}

/// Sends `record_size`-byte requests at `rate` for `duration` to a minimal server appending to a
/// scratch file in `dir` (with an fdatasync per read when `sync`), and times their answers.
fn round_trips(
    dir: &Path,
    rate: u64,
    record_size: usize,
    duration: Duration,
    sync: bool,
) -> anyhow::Result<(Served, Measured)> {
    anyhow::ensure!(
        (ANSWER..=SERVER_BUFFER).contains(&record_size),
        "the record size must be between {ANSWER} and {SERVER_BUFFER} bytes"
    );
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let address = listener
        .local_addr()
        .context("cannot read the listener's address")?;
    let scratch = ScratchFile::create(dir)?;
    let file = scratch.file()?;
    // Connected before the server thread starts (the kernel completes the handshake into the
    // listen backlog), so that no thread is left waiting in accept() when this fails.
    let stream =
        TcpStream::connect(address).with_context(|| format!("cannot connect to {address}"))?;
    stream
        .set_nodelay(true)
        .context("cannot set TCP_NODELAY on the client")?;
    let sending = stream
        .try_clone()
        .context("cannot clone the client's socket")?;
    let server = thread::Builder::new()
        .name("bench-rtt-server".into())
        .spawn(move || serve(&listener, scratch, file, record_size, sync))
        .context("cannot start the server thread")?;

    let clock = Instant::now();
    let sender = thread::Builder::new()
        .name("bench-rtt-send".into())
        .spawn(move || send_paced(sending, clock, rate, record_size, duration));
    let sender = match sender {
        Ok(sender) => sender,
        Err(e) => {
            // End the server's stream so that it returns.
            let _ = stream.shutdown(Shutdown::Both);
            let _ = server.join();
            return Err(e).context("cannot start the sender thread");
        }
    };
    let capacity = (rate as f64 * duration.as_secs_f64()) as u64 + 1;
    let received = receive_answers(&stream, clock, capacity.min(PREALLOCATED_SAMPLES) as usize);
    if received.is_err() {
        // Make the sender fail fast instead of sending to the end of the run.
        let _ = stream.shutdown(Shutdown::Both);
    }
    let sent = sender
        .join()
        .map_err(|_| anyhow::anyhow!("the sender thread panicked"))?;
    let served = server
        .join()
        .map_err(|_| anyhow::anyhow!("the server thread panicked"))?;
    // The server's error first: when it fails, it closes the connection and the client fails too.
    let served = served?;
    let sent = sent?;
    let latencies = received?;
    anyhow::ensure!(
        served.requests == sent,
        "the server answered {} requests but {sent} were sent",
        served.requests
    );
    anyhow::ensure!(
        latencies.len() as u64 == sent,
        "the client received {} answers but sent {sent} requests",
        latencies.len()
    );
    Ok((served, Measured { sent, latencies }))
}

/// The server: accepts one connection; per read, appends the complete requests with one write,
/// fdatasyncs when `sync`, and answers each with its first 8 bytes, all in one write. Closes the
/// connection at the end of the stream, then removes the scratch file.
fn serve(
    listener: &TcpListener,
    scratch: ScratchFile,
    mut file: File,
    record_size: usize,
    sync: bool,
) -> anyhow::Result<Served> {
    let (mut stream, _) = listener
        .accept()
        .context("cannot accept the client's connection")?;
    stream
        .set_nodelay(true)
        .context("cannot set TCP_NODELAY on the server")?;
    let mut buffer = vec![0u8; SERVER_BUFFER];
    let mut answers = Vec::with_capacity(SERVER_BUFFER / record_size * ANSWER);
    let mut filled = 0;
    let mut served = Served::default();
    loop {
        let n = match stream.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("the server's read failed"),
        };
        filled += n;
        let complete = filled / record_size * record_size;
        if complete == 0 {
            continue;
        }
        file.write_all(&buffer[..complete])
            .with_context(|| format!("write to {} failed", scratch.path.display()))?;
        served.appends += 1;
        if sync {
            file.sync_data()
                .with_context(|| format!("fdatasync of {} failed", scratch.path.display()))?;
            served.fdatasyncs += 1;
        }
        answers.clear();
        for request in buffer[..complete].chunks_exact(record_size) {
            answers.extend_from_slice(&request[..ANSWER]);
        }
        stream
            .write_all(&answers)
            .context("the server's answer failed")?;
        served.requests += (complete / record_size) as u64;
        // Keep the partial request, if any, for the next read.
        buffer.copy_within(complete..filled, 0);
        filled -= complete;
    }
    // The client reads answers until the end of the stream.
    drop(stream);
    drop(file);
    anyhow::ensure!(
        filled == 0,
        "the client's stream ended in the middle of a request ({filled} of {record_size} bytes)"
    );
    scratch.remove()?;
    Ok(served)
}

/// The sender: request `i` is due at start + i / `rate`; each carries its send time (nanoseconds
/// since `clock`) in its first 8 bytes. Stops at the first request due after `duration`, then
/// closes its side of the connection (also after an error, so that the server and the receiver
/// see the end of the stream). Returns the requests sent.
fn send_paced(
    mut stream: TcpStream,
    clock: Instant,
    rate: u64,
    record_size: usize,
    duration: Duration,
) -> anyhow::Result<u64> {
    let mut request = vec![0u8; record_size];
    Rng::seeded(0x5eed).fill(&mut request);
    let start = Instant::now();
    let deadline = start + duration;
    let mut sent = 0u64;
    let result = loop {
        let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
        if due >= deadline {
            break Ok(());
        }
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let stamp = clock.elapsed().as_nanos() as u64;
        request[..ANSWER].copy_from_slice(&stamp.to_le_bytes());
        if let Err(e) = stream.write_all(&request) {
            break Err(e);
        }
        sent += 1;
    };
    let closed = stream.shutdown(Shutdown::Write);
    result.context("sending a request failed")?;
    closed.context("cannot close the client's sending side")?;
    Ok(sent)
}

/// The receiver: reads answers until the end of the stream and returns, for each, the time from
/// its send time to the read that completed it.
fn receive_answers(
    mut stream: &TcpStream,
    clock: Instant,
    capacity: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut buffer = vec![0u8; CLIENT_BUFFER];
    let mut filled = 0;
    let mut latencies = Vec::with_capacity(capacity);
    loop {
        let n = match stream.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("receiving an answer failed"),
        };
        let now = clock.elapsed().as_nanos() as u64;
        filled += n;
        let complete = filled / ANSWER * ANSWER;
        for answer in buffer[..complete].chunks_exact(ANSWER) {
            let mut stamp = [0u8; ANSWER];
            stamp.copy_from_slice(answer);
            let sent = u64::from_le_bytes(stamp);
            latencies.push(Duration::from_nanos(now.saturating_sub(sent)));
        }
        buffer.copy_within(complete..filled, 0);
        filled -= complete;
    }
    anyhow::ensure!(
        filled == 0,
        "the server's answers ended in the middle of one ({filled} bytes)"
    );
    Ok(latencies)
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
        DurableRtt(DurableRttArgs),
    }

    fn parse(args: &[&str]) -> Result<DurableRttArgs, clap::Error> {
        use clap::Parser as _;
        Cli::try_parse_from(
            ["bench", "durable-rtt"]
                .into_iter()
                .chain(args.iter().copied()),
        )
        .map(|c| match c.command {
            Sub::DurableRtt(args) => args,
        })
    }

    #[test]
    fn arguments_have_defaults() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.dir, PathBuf::from("."));
        assert_eq!(
            (args.rate, args.record_size, args.seconds),
            (5000, 1024, 8.0)
        );
        assert!(!args.no_sync && !args.json);
        let args = parse(&[
            "--dir",
            "/d",
            "--rate",
            "100",
            "--record-size",
            "8",
            "--seconds",
            "0.5",
            "--no-sync",
            "--json",
        ])
        .unwrap();
        assert_eq!(args.dir, PathBuf::from("/d"));
        assert_eq!((args.rate, args.record_size, args.seconds), (100, 8, 0.5));
        assert!(args.no_sync && args.json);
    }

    #[test]
    fn arguments_have_ranges() {
        for ok in [
            "--rate=1",
            "--rate=1000000",
            "--record-size=1048576",
            "--seconds=3600",
            "--seconds=0.001",
        ] {
            assert!(parse(&[ok]).is_ok(), "{ok} refused");
        }
        for bad in [
            "--rate=0",
            "--rate=1000001",
            "--rate=x",
            "--record-size=7",
            "--record-size=1048577",
            "--seconds=0",
            "--seconds=-1",
            "--seconds=3600.5",
            "--seconds=inf",
            "--seconds=NaN",
            "--seconds=x",
        ] {
            assert!(parse(&[bad]).is_err(), "{bad} accepted");
        }
    }

    fn check_run(record_size: usize, rate: u64, sync: bool) {
        let dir = tempfile::tempdir().unwrap();
        let (served, measured) = round_trips(
            dir.path(),
            rate,
            record_size,
            Duration::from_millis(200),
            sync,
        )
        .unwrap();
        assert!(measured.sent > 0);
        assert_eq!(measured.latencies.len() as u64, measured.sent);
        assert_eq!(served.requests, measured.sent);
        assert!(served.appends > 0 && served.appends <= served.requests);
        assert_eq!(served.fdatasyncs, if sync { served.appends } else { 0 });
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn round_trips_with_fdatasync_are_answered_and_clean_up() {
        check_run(1024, 2000, true);
    }

    #[test]
    fn round_trips_without_fdatasync_are_answered_and_clean_up() {
        check_run(1024, 2000, false);
    }

    #[test]
    fn requests_split_over_reads_are_answered() {
        // 1 MiB requests arrive over several reads; odd sizes straddle reads too.
        check_run(1024 * 1024, 20, true);
        check_run(100_003, 200, false);
    }

    #[test]
    fn the_command_runs() {
        let dir = tempfile::tempdir().unwrap();
        run(DurableRttArgs {
            dir: dir.path().to_path_buf(),
            rate: 1000,
            record_size: 64,
            seconds: 0.1,
            no_sync: false,
            json: true,
        })
        .unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
