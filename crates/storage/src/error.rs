//! The one error type of the crate.
//!
//! `FsyncFailed` is distinct on purpose: after a failed fsync the kernel may have dropped dirty
//! pages, so nothing written since the last good sync can be trusted to be on disk. The broker
//! treats it as fatal, and the [`crate::Log`] that saw it is poisoned (see [`StorageError::Poisoned`]).

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the partition log.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// An I/O call failed; `context` says what the log was doing.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// `fsync`/`fdatasync` failed. Fatal: the log refuses further writes.
    #[error("fsync of {} failed: {source}", path.display())]
    FsyncFailed {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A write was attempted on a log whose earlier fsync failed.
    #[error("log {} is poisoned by an earlier fsync failure and refuses writes", dir.display())]
    Poisoned { dir: PathBuf },
    /// The requested offset is outside `[log_start, log_end]`.
    #[error("offset {offset} is out of range [{log_start}, {log_end}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start: i64,
        log_end: i64,
    },
    /// Bytes on disk do not form valid batches where they must.
    #[error("corrupt log data in {} at position {position}: {reason}", path.display())]
    Corrupt {
        path: PathBuf,
        position: u64,
        reason: String,
    },
    /// The bytes handed to `append` are not a sequence of complete v2 batches.
    #[error("invalid batch in append at byte {position}: {reason}")]
    InvalidBatch { position: usize, reason: String },
    /// A configuration value is out of its allowed range.
    #[error("invalid log configuration: {0}")]
    InvalidConfig(String),
    /// A read that must not wait for the disk found bytes outside the page cache (only inside
    /// the storage crate: [`crate::ReadPlan::read_parts_cached`] answers `None` instead).
    #[error("the bytes are not in the page cache")]
    NotCached,
    /// The operation needs something this build cannot do yet (e.g. look inside a compressed batch).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A batch failed the idempotence / transaction checks; nothing was written.
    /// [`crate::producer_state::ProducerStateError::kafka_error_code`] gives the produce error.
    #[error(transparent)]
    ProducerState(#[from] crate::producer_state::ProducerStateError),
}

impl StorageError {
    /// Wraps an I/O error with what the log was doing.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        StorageError::Io {
            context: context.into(),
            source,
        }
    }

    /// True for the errors that poison the log.
    pub fn is_fsync_failure(&self) -> bool {
        matches!(self, StorageError::FsyncFailed { .. })
    }
}

/// Adds context to `io::Result`s.
pub(crate) trait IoContext<T> {
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T, StorageError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, what: F) -> Result<T, StorageError> {
        self.map_err(|e| StorageError::io(what(), e))
    }
}
