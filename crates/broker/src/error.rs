//! Errors that stop the broker (startup failures, failed fsyncs). Errors a client caused are
//! never here: they become Kafka error codes in the response.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    DataDirContents(String),
    #[error(transparent)]
    Metadata(#[from] strom_metadata::MetadataLogError),
    #[error(transparent)]
    Storage(#[from] strom_storage::StorageError),
}

/// A failure of one item of a request (a topic, a partition, a config resource), reported to the
/// client as a Kafka error code with an optional message; the other items are unaffected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: i16,
    pub message: Option<String>,
}

impl ApiError {
    pub fn new(error: strom_protocol::ResponseError) -> Self {
        Self {
            code: error.code(),
            message: None,
        }
    }

    pub fn with_message(error: strom_protocol::ResponseError, message: impl Into<String>) -> Self {
        Self {
            code: error.code(),
            message: Some(message.into()),
        }
    }
}

/// Stops the process after a failure that makes acknowledging anything further unsafe, such as a
/// failed fsync: the page cache may have dropped the data, and retrying could report success for
/// bytes that are gone. Kafka halts in the same situation.
pub fn halt(what: &str, error: &dyn std::fmt::Display) -> ! {
    tracing::error!(%error, "{what}; stopping the broker to avoid acknowledging lost data");
    eprintln!("strom: fatal: {what}: {error}");
    std::process::exit(1)
}
