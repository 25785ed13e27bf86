//! The compression codecs of a record batch, decoded with a hard cap on the output size.
//!
//! The codec is in the low three bits of the batch attributes. Only the records section (after
//! the 61-byte header) is compressed. Formats, as Kafka clients write them:
//!
//! - gzip: a gzip stream (several members are accepted, like Java's `GZIPInputStream`).
//! - snappy: the Java client writes xerial "snappy-java" framing (`\x82SNAPPY\0`, two big-endian
//!   i32 versions, then repeated `[i32 length][raw snappy block]`); librdkafka writes one plain
//!   raw snappy block. Both are accepted, as the Java broker does.
//! - lz4: an LZ4 frame (magic `0x184D2204`), as written by Kafka's `Lz4BlockOutputStream`.
//! - zstd: standard zstd frames.
//!
//! [`decompress`] never returns (or buffers) more than `max_output` bytes: streams are read through
//! [`Read::take`], and snappy block sizes are checked against the remaining budget before the block
//! is expanded (the snappy decoder refuses a block whose output differs from its declared size).

use std::fmt;
use std::io::{Read, Write};

/// Codec of a record batch, from the low three bits of its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

/// Errors of [`decompress`] and [`compress`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressionError {
    #[error("unknown compression codec id {0}")]
    UnknownCodec(i16),
    #[error("{codec} records decompress to more than {limit} bytes")]
    DecompressedTooLarge { codec: Compression, limit: usize },
    #[error("invalid {codec} data: {reason}")]
    Corrupt { codec: Compression, reason: String },
    #[error("{codec} compression failed: {reason}")]
    CompressFailed { codec: Compression, reason: String },
}

/// Magic bytes opening a xerial snappy-java stream.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Xerial header: magic, then version and minimum compatible version (both 1).
const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial block, as snappy-java's default.
const XERIAL_BLOCK_SIZE: usize = 32 * 1024;

impl Compression {
    /// The codec of a batch from its `attributes` field.
    pub fn from_attributes(attributes: i16) -> Result<Self, CompressionError> {
        Self::from_id(attributes & crate::header::ATTR_COMPRESSION_MASK)
    }

    /// The codec with Kafka's numeric id.
    pub fn from_id(id: i16) -> Result<Self, CompressionError> {
        match id {
            0 => Ok(Self::None),
            1 => Ok(Self::Gzip),
            2 => Ok(Self::Snappy),
            3 => Ok(Self::Lz4),
            4 => Ok(Self::Zstd),
            other => Err(CompressionError::UnknownCodec(other)),
        }
    }

    /// Kafka's numeric id (the attribute bits).
    pub fn id(self) -> i16 {
        self as i16
    }

    /// Kafka's name, as in the `compression.type` config.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Snappy => "snappy",
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
        }
    }

    /// All codecs, for tests and tools.
    pub const ALL: [Compression; 5] = [Self::None, Self::Gzip, Self::Snappy, Self::Lz4, Self::Zstd];
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn corrupt(codec: Compression, err: impl fmt::Display) -> CompressionError {
    CompressionError::Corrupt {
        codec,
        reason: err.to_string(),
    }
}

fn too_large(codec: Compression, limit: usize) -> CompressionError {
    CompressionError::DecompressedTooLarge { codec, limit }
}

/// Decompresses `input`, failing with `DecompressedTooLarge` rather than producing more than
/// `max_output` bytes.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, CompressionError> {
    match codec {
        Compression::None => {
            if input.len() > max_output {
                return Err(too_large(codec, max_output));
            }
            Ok(input.to_vec())
        }
        Compression::Gzip => read_capped(
            codec,
            flate2::read::MultiGzDecoder::new(input),
            input.len(),
            max_output,
        ),
        Compression::Snappy => decompress_snappy(input, max_output),
        Compression::Lz4 => read_capped(
            codec,
            lz4_flex::frame::FrameDecoder::new(input),
            input.len(),
            max_output,
        ),
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(codec, e))?;
            read_capped(codec, decoder, input.len(), max_output)
        }
    }
}

/// Reads a decoder to its end through `take(max_output + 1)`, so at most one byte past the cap is
/// ever produced.
fn read_capped(
    codec: Compression,
    reader: impl Read,
    input_len: usize,
    max_output: usize,
) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::with_capacity(input_len.saturating_mul(4).min(max_output));
    let limit = u64::try_from(max_output)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(codec, e))?;
    if out.len() > max_output {
        return Err(too_large(codec, max_output));
    }
    Ok(out)
}

fn decompress_snappy(input: &[u8], max_output: usize) -> Result<Vec<u8>, CompressionError> {
    let mut out = Vec::new();
    match input.strip_prefix(&XERIAL_MAGIC[..]) {
        Some(after_magic) => {
            // Skip version and compatible version; snappy-java itself does not reject others.
            let mut rest = after_magic
                .get(XERIAL_HEADER_LEN - XERIAL_MAGIC.len()..)
                .ok_or_else(|| corrupt(Compression::Snappy, "truncated xerial header"))?;
            while !rest.is_empty() {
                let (len_bytes, tail) = rest
                    .split_first_chunk::<4>()
                    .ok_or_else(|| corrupt(Compression::Snappy, "truncated xerial block length"))?;
                let len = usize::try_from(i32::from_be_bytes(*len_bytes))
                    .map_err(|_| corrupt(Compression::Snappy, "negative xerial block length"))?;
                let block = tail
                    .get(..len)
                    .ok_or_else(|| corrupt(Compression::Snappy, "truncated xerial block"))?;
                rest = tail.get(len..).unwrap_or(&[]);
                if !block.is_empty() {
                    append_raw_snappy(block, &mut out, max_output)?;
                }
            }
        }
        None => append_raw_snappy(input, &mut out, max_output)?,
    }
    Ok(out)
}

/// Expands one raw snappy block onto `out`, refusing it if its declared size would pass the cap.
fn append_raw_snappy(
    block: &[u8],
    out: &mut Vec<u8>,
    max_output: usize,
) -> Result<(), CompressionError> {
    let codec = Compression::Snappy;
    let declared = snap::raw::decompress_len(block).map_err(|e| corrupt(codec, e))?;
    let start = out.len();
    if declared > max_output.saturating_sub(start) {
        return Err(too_large(codec, max_output));
    }
    out.resize(start + declared, 0);
    let dest = out.get_mut(start..).unwrap_or_default();
    let written = snap::raw::Decoder::new()
        .decompress(block, dest)
        .map_err(|e| corrupt(codec, e))?;
    out.truncate(start + written);
    Ok(())
}

/// Compresses `input` the way the Java client does (snappy in xerial framing). For tests, tools
/// and the log cleaner's rewritten batches ([`crate::filter`]); the produce path never
/// recompresses.
pub fn compress(codec: Compression, input: &[u8]) -> Result<Vec<u8>, CompressionError> {
    let failed = |e: &dyn fmt::Display| CompressionError::CompressFailed {
        codec,
        reason: e.to_string(),
    };
    match codec {
        Compression::None => Ok(input.to_vec()),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(input).map_err(|e| failed(&e))?;
            encoder.finish().map_err(|e| failed(&e))
        }
        Compression::Snappy => {
            let mut out = Vec::with_capacity(XERIAL_HEADER_LEN + input.len() / 2);
            out.extend_from_slice(&XERIAL_MAGIC);
            out.extend_from_slice(&1i32.to_be_bytes());
            out.extend_from_slice(&1i32.to_be_bytes());
            let mut encoder = snap::raw::Encoder::new();
            for chunk in input.chunks(XERIAL_BLOCK_SIZE) {
                let block = encoder.compress_vec(chunk).map_err(|e| failed(&e))?;
                let len = i32::try_from(block.len()).map_err(|e| failed(&e))?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&block);
            }
            Ok(out)
        }
        Compression::Lz4 => {
            use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
            let info = FrameInfo::new()
                .block_size(BlockSize::Max64KB)
                .block_mode(BlockMode::Independent);
            let mut encoder = FrameEncoder::with_frame_info(info, Vec::new());
            encoder.write_all(input).map_err(|e| failed(&e))?;
            encoder.finish().map_err(|e| failed(&e))
        }
        Compression::Zstd => zstd::stream::encode_all(input, 3).map_err(|e| failed(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MIB: usize = 1024 * 1024;

    #[test]
    fn codec_ids_round_trip() {
        for codec in Compression::ALL {
            assert_eq!(Compression::from_id(codec.id()), Ok(codec));
            assert_eq!(Compression::from_attributes(codec.id() | 0x18), Ok(codec));
        }
        assert_eq!(
            Compression::from_attributes(5),
            Err(CompressionError::UnknownCodec(5))
        );
        assert_eq!(Compression::Zstd.to_string(), "zstd");
    }

    #[test]
    fn every_codec_round_trips() {
        let input: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        for codec in Compression::ALL {
            let packed = compress(codec, &input).unwrap();
            assert_eq!(
                decompress(codec, &packed, input.len()).unwrap(),
                input,
                "{codec}"
            );
            assert!(matches!(
                decompress(codec, &packed, input.len() - 1),
                Err(CompressionError::DecompressedTooLarge { .. })
            ));
        }
    }

    #[test]
    fn snappy_xerial_framing_matches_snappy_java() {
        let packed = compress(Compression::Snappy, b"hello").unwrap();
        assert_eq!(&packed[..8], &XERIAL_MAGIC);
        assert_eq!(&packed[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
        let block_len = i32::from_be_bytes(packed[16..20].try_into().unwrap()) as usize;
        assert_eq!(packed.len(), 20 + block_len);
    }

    #[test]
    fn raw_snappy_without_framing_is_accepted() {
        // librdkafka writes a single raw snappy block.
        let raw = snap::raw::Encoder::new()
            .compress_vec(b"librdkafka")
            .unwrap();
        assert_eq!(
            decompress(Compression::Snappy, &raw, 100).unwrap(),
            b"librdkafka"
        );
    }

    #[test]
    fn gzip_bomb_is_refused() {
        let zeros = vec![0u8; 10 * MIB];
        for codec in Compression::ALL {
            let packed = compress(codec, &zeros).unwrap();
            let result = decompress(codec, &packed, MIB);
            assert_eq!(
                result,
                Err(CompressionError::DecompressedTooLarge { codec, limit: MIB }),
                "{codec}"
            );
        }
    }

    #[test]
    fn lying_snappy_length_header_is_refused_before_allocating() {
        // A raw snappy block claiming 2^31 bytes of output.
        let block = [0x80, 0x80, 0x80, 0x80, 0x08, 0x00];
        assert!(matches!(
            decompress(Compression::Snappy, &block, MIB),
            Err(CompressionError::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn truncated_streams_are_corrupt() {
        let input = vec![7u8; 10_000];
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let packed = compress(codec, &input).unwrap();
            let cut = &packed[..packed.len() / 2];
            assert!(
                matches!(
                    decompress(codec, cut, MIB),
                    Err(CompressionError::Corrupt { .. })
                ),
                "{codec}"
            );
        }
    }

    proptest! {
        #[test]
        fn garbage_never_exceeds_the_cap(
            codec_id in 1i16..5,
            bytes in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let codec = Compression::from_id(codec_id).unwrap();
            if let Ok(out) = decompress(codec, &bytes, 4096) {
                prop_assert!(out.len() <= 4096);
            }
        }
    }
}
