//! Record batches as Kafka stores them on disk and sends them on the wire (magic v2).
//!
//! On the produce path the broker never re-encodes a batch: it reads the fixed 61-byte header,
//! checks the CRC and the sizes, rewrites the base offset (and, for `LogAppendTime`, the max
//! timestamp and CRC) in place, and stores the bytes verbatim. Only the log cleaner rewrites
//! stored batches, keeping a subset of their records ([`filter`]). This crate holds those views,
//! checks and rewrites; it knows nothing of files, sockets or the async runtime.

pub mod batch;
pub mod builder;
pub mod compression;
pub mod control;
mod cursor;
pub mod filter;
pub mod header;
pub mod query;
pub mod record;
pub mod timestamp;
pub mod validate;
pub mod validation_error;
pub mod varint;

pub use batch::{batch_size, batches, BatchError, RecordBatch};
pub use builder::{BuildError, RecordBatchBuilder};
pub use compression::{compress, decompress, Compression, CompressionError};
pub use control::{
    build_marker_batch, parse_control_key, read_marker, ControlRecordType, EndTxnMarker,
};
pub use filter::{filter_batch, FilterError, FilterOptions, FilterOutcome};
pub use header::{BatchHeader, HeaderError, BATCH_HEADER_LEN, LOG_OVERHEAD};
pub use query::{first_record_at_or_after, max_timestamp_record, OffsetAndTimestamp, QueryError};
pub use record::{Header, HeaderIter, Headers, Record, RecordFormatError, RecordIter};
pub use timestamp::{set_max_timestamp, stamp_log_append_time, TimestampType, NO_TIMESTAMP};
pub use validate::{validate_batches, ValidatedBatch, ValidatedBatches, ValidationConfig};
pub use validation_error::{RecordError, ValidationError};
