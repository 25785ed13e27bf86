//! Writing a response frame to a client's socket. Frames held in memory go out with vectored
//! writes on the connection's task. Frames with record sets left in segment files (large Fetch
//! responses) are written on a blocking thread, their file ranges with `sendfile`: the kernel
//! sends the page cache's pages without the broker copying them, and reading pages that are not
//! cached yet blocks that thread, never the async runtime.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use strom_protocol::{Chunk, ResponseFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

/// How long a blocked write waits for the client to read before the connection is given up
/// (a client that stops reading mid-response is gone or stuck).
const STALLED_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Writes the whole frame.
pub async fn write_frame(writer: &mut OwnedWriteHalf, frame: ResponseFrame) -> io::Result<()> {
    match frame.into_buf() {
        Ok(mut buf) => writer.write_all_buf(&mut buf).await,
        Err(frame) => {
            // A second descriptor of the same socket, owned by the blocking task. The
            // connection's task awaits it, so nothing else writes to the socket meanwhile.
            let socket = rustix::io::dup(writer.as_ref().as_fd())?;
            match tokio::task::spawn_blocking(move || send_blocking(&socket, &frame)).await {
                Ok(result) => result,
                Err(error) => Err(io::Error::other(error)),
            }
        }
    }
}

/// Sends every chunk of `frame` on the (non-blocking) socket, waiting for it to be writable
/// whenever its buffer is full.
fn send_blocking(socket: &OwnedFd, frame: &ResponseFrame) -> io::Result<()> {
    for chunk in frame.chunks() {
        match chunk {
            Chunk::Bytes(bytes) => {
                let mut at = 0;
                while at < bytes.len() {
                    match rustix::io::write(socket, &bytes[at..]) {
                        Ok(n) => at += n,
                        Err(Errno::AGAIN) => wait_writable(socket)?,
                        Err(Errno::INTR) => {}
                        Err(errno) => return Err(errno.into()),
                    }
                }
            }
            Chunk::File(range) => {
                let mut position = range.position;
                let end = range.position + range.len as u64;
                while position < end {
                    let left = usize::try_from(end - position).unwrap_or(usize::MAX);
                    match rustix::fs::sendfile(socket, &*range.file, Some(&mut position), left) {
                        // The file ends before the range: it was truncated under the fetch. The
                        // frame's length is already on the wire; only closing is left.
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(_) => {}
                        Err(Errno::AGAIN) => wait_writable(socket)?,
                        Err(Errno::INTR) => {}
                        Err(errno) => return Err(errno.into()),
                    }
                }
            }
        }
    }
    Ok(())
}

fn wait_writable(socket: &OwnedFd) -> io::Result<()> {
    let timeout = Timespec {
        tv_sec: STALLED_WRITE_TIMEOUT.as_secs() as i64,
        tv_nsec: 0,
    };
    let mut fds = [PollFd::new(socket, PollFlags::OUT)];
    match rustix::event::poll(&mut fds, Some(&timeout)) {
        Ok(0) => Err(io::ErrorKind::TimedOut.into()),
        Ok(_) | Err(Errno::INTR) => Ok(()),
        Err(errno) => Err(errno.into()),
    }
}
