//! Writing a response frame to a client's socket. Frames held in memory go out with vectored
//! writes on the connection's task. Frames with record sets left in segment files (large Fetch
//! responses) are written on a blocking thread, their file ranges with `sendfile`: the kernel
//! sends the page cache's pages without the broker copying them, and reading pages that are not
//! cached yet blocks that thread, never the async runtime.
//!
//! A blocking thread that sends waits while the client's socket buffer is full, so a slow
//! client holds it. At most [`SENDFILE_SLOTS`] frames are sent so at once; past that, a frame's
//! file ranges are read into memory (a blocking read that waits for no client) and written like
//! any other frame, so slow consumers never take the threads that appends and reads need.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use strom_protocol::{Chunk, ResponseFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Semaphore;

/// How long a blocked write waits for the client to read before the connection is given up
/// (a client that stops reading mid-response is gone or stuck).
const STALLED_WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Frames sent with `sendfile` at once (each holds a blocking thread while its client reads).
pub const SENDFILE_SLOTS: usize = 32;

static SLOTS: Semaphore = Semaphore::const_new(SENDFILE_SLOTS);

/// Writes the whole frame.
pub async fn write_frame(writer: &mut OwnedWriteHalf, frame: ResponseFrame) -> io::Result<()> {
    let frame = match frame.into_buf() {
        Ok(mut buf) => return writer.write_all_buf(&mut buf).await,
        Err(frame) => frame,
    };
    match SLOTS.try_acquire() {
        Ok(slot) => {
            // A second descriptor of the same socket, owned by the blocking task. The
            // connection's task awaits it, so nothing else writes to the socket meanwhile.
            let socket = rustix::io::dup(writer.as_ref().as_fd())?;
            let sent = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                send_blocking(&socket, &frame)
            })
            .await;
            sent.unwrap_or_else(|error| Err(io::Error::other(error)))
        }
        Err(_) => {
            let read = tokio::task::spawn_blocking(move || frame.to_bytes()).await;
            let bytes = read.unwrap_or_else(|error| Err(io::Error::other(error)))?;
            writer.write_all(&bytes).await
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::Write;
    use std::sync::Arc;

    use bytes::Bytes;
    use strom_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
    use strom_protocol::messages::FetchResponse;
    use strom_protocol::{encode_fetch_frame, FileRange, RecordPart, RecordParts};
    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// A Fetch frame of two partitions whose records are 3 MiB of a file (more than a socket
    /// buffer holds, so the sender waits for the reader) and a small in-memory set.
    fn frame() -> (ResponseFrame, Vec<u8>) {
        let data: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 253) as u8).collect();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"skip").unwrap();
        file.write_all(&data).unwrap();
        let file = Arc::new(file);
        let response =
            FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                .with_partitions(vec![
                    PartitionData::default().with_partition_index(0),
                    PartitionData::default().with_partition_index(1),
                ])]);
        let parts = vec![
            Some(RecordParts {
                parts: vec![RecordPart::File(FileRange {
                    file,
                    position: 4,
                    len: data.len(),
                })],
            }),
            Some(RecordParts {
                parts: vec![RecordPart::Memory(Bytes::from_static(b"tail"))],
            }),
        ];
        let frame = encode_fetch_frame(7, 12, &response, &parts).unwrap();
        let expected = frame.to_bytes().unwrap().to_vec();
        assert!(expected.windows(data.len()).any(|w| w == data.as_slice()));
        (frame, expected)
    }

    async fn send_and_receive(frame: ResponseFrame, expected_len: usize) -> Vec<u8> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = vec![0u8; expected_len];
            // Read slowly at first, so the sender finds the socket buffer full.
            tokio::time::sleep(Duration::from_millis(50)).await;
            socket.read_exact(&mut got).await.unwrap();
            got
        });
        let stream = TcpStream::connect(addr).await.unwrap();
        let (_read, mut write) = stream.into_split();
        write_frame(&mut write, frame).await.unwrap();
        reader.await.unwrap()
    }

    #[tokio::test]
    async fn file_ranges_are_sent_whole() {
        let (frame, expected) = frame();
        assert!(frame.has_files());
        let got = send_and_receive(frame, expected.len()).await;
        assert!(got == expected);
    }

    #[tokio::test]
    async fn without_a_slot_the_ranges_are_read_and_written() {
        let (frame, expected) = frame();
        // Every slot taken: the frame falls back to a read into memory.
        let taken = SLOTS.acquire_many(SENDFILE_SLOTS as u32).await.unwrap();
        let got = send_and_receive(frame, expected.len()).await;
        drop(taken);
        assert!(got == expected);
    }
}
