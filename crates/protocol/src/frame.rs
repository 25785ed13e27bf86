//! Length-prefixed frames: a big-endian `int32` size followed by that many bytes.
//!
//! A size that is negative or above `socket.request.max.bytes` closes the connection, as Kafka
//! does (it cannot know where the next frame starts).

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The buffer a frame starts with; it grows as the frame's bytes arrive.
const INITIAL_FRAME_CAPACITY: usize = 256 * 1024;

/// Why a frame could not be read; every variant ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame size {size} is larger than socket.request.max.bytes ({max})")]
    TooLarge { size: i64, max: usize },
    #[error("negative frame size {0}")]
    Negative(i32),
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one frame. `Ok(None)` means the peer closed the connection cleanly between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_size: usize,
) -> Result<Option<Bytes>, FrameError> {
    let mut size_bytes = [0u8; 4];
    let mut filled = 0;
    while filled < size_bytes.len() {
        let n = reader.read(&mut size_bytes[filled..]).await?;
        if n == 0 {
            return if filled == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        filled += n;
    }
    let size = i32::from_be_bytes(size_bytes);
    if size < 0 {
        return Err(FrameError::Negative(size));
    }
    let size = size as usize;
    if size > max_size {
        return Err(FrameError::TooLarge {
            size: size as i64,
            max: max_size,
        });
    }
    // Memory grows with the bytes that actually arrive, not with the size a peer claims: a
    // client announcing 100 MiB and sending nothing costs little.
    let mut body = Vec::with_capacity(size.min(INITIAL_FRAME_CAPACITY));
    let read = (&mut *reader)
        .take(size as u64)
        .read_to_end(&mut body)
        .await?;
    if read < size {
        return Err(FrameError::Truncated);
    }
    Ok(Some(Bytes::from(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_frames_and_clean_eof() {
        let mut input: &[u8] = &[0, 0, 0, 2, 7, 8, 0, 0, 0, 0];
        assert_eq!(
            read_frame(&mut input, 10).await.unwrap().unwrap(),
            &[7, 8][..]
        );
        assert_eq!(read_frame(&mut input, 10).await.unwrap().unwrap(), &[][..]);
        assert!(read_frame(&mut input, 10).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn refuses_oversized_negative_and_truncated_frames() {
        let mut big: &[u8] = &[0, 0, 1, 0];
        assert!(matches!(
            read_frame(&mut big, 255).await,
            Err(FrameError::TooLarge { .. })
        ));
        let mut negative: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut negative, 255).await,
            Err(FrameError::Negative(-1))
        ));
        let mut short: &[u8] = &[0, 0, 0, 5, 1];
        assert!(matches!(
            read_frame(&mut short, 255).await,
            Err(FrameError::Truncated)
        ));
        let mut half_size: &[u8] = &[0, 0];
        assert!(matches!(
            read_frame(&mut half_size, 255).await,
            Err(FrameError::Truncated)
        ));
    }
}
