//! Small files replaced atomically (tmp file, fsync, rename, fsync dir), and directory fsync.
//!
//! Used for `log-start-offset`, the index files of closed segments and the clean-shutdown marker.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, StorageError};

/// Name of the file holding the log start offset moved by DeleteRecords.
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset";
/// Written by a clean `close()`, removed on open.
pub const CLEAN_SHUTDOWN_FILE: &str = ".strom_cleanshutdown";
/// Suffix of files being written; leftovers are deleted on open.
pub const TMP_SUFFIX: &str = ".tmp";

const LOG_START_VERSION: &str = "0";

/// fsyncs a directory so that created, renamed or removed entries are durable.
pub fn fsync_dir(dir: &Path) -> Result<(), StorageError> {
    let d = File::open(dir).ctx(|| format!("open directory {} for fsync", dir.display()))?;
    d.sync_all().map_err(|source| StorageError::FsyncFailed {
        path: dir.to_path_buf(),
        source,
    })
}

/// fdatasyncs one file.
pub fn fsync_file(file: &File, path: &Path) -> Result<(), StorageError> {
    file.sync_data()
        .map_err(|source| StorageError::FsyncFailed {
            path: path.to_path_buf(),
            source,
        })
}

/// Replaces `dir/name` with `contents` atomically: write `name.tmp`, fsync, rename, fsync the dir.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> Result<(), StorageError> {
    let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
    let dst = dir.join(name);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .ctx(|| format!("create {}", tmp.display()))?;
        f.write_all(contents)
            .ctx(|| format!("write {}", tmp.display()))?;
        fsync_file(&f, &tmp)?;
    }
    fs::rename(&tmp, &dst).ctx(|| format!("rename {} to {}", tmp.display(), dst.display()))?;
    fsync_dir(dir)
}

/// Encodes the `log-start-offset` file.
pub fn encode_log_start_offset(offset: i64) -> Vec<u8> {
    format!("{LOG_START_VERSION}\n{offset}\n").into_bytes()
}

/// Decodes the `log-start-offset` file; `None` when the contents are not what we write.
pub fn decode_log_start_offset(bytes: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.lines();
    if lines.next()? != LOG_START_VERSION {
        return None;
    }
    let offset = lines.next()?.trim().parse::<i64>().ok()?;
    (offset >= 0).then_some(offset)
}

/// Reads the persisted log start offset, if any. A garbled file is logged and ignored.
pub fn read_log_start_offset(dir: &Path) -> Result<Option<i64>, StorageError> {
    let path = dir.join(LOG_START_OFFSET_FILE);
    match fs::read(&path) {
        Ok(bytes) => {
            let parsed = decode_log_start_offset(&bytes);
            if parsed.is_none() {
                tracing::warn!(path = %path.display(), "ignoring unreadable log start offset file");
            }
            Ok(parsed)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io(format!("read {}", path.display()), e)),
    }
}

/// Persists the log start offset atomically.
pub fn write_log_start_offset(dir: &Path, offset: i64) -> Result<(), StorageError> {
    write_atomic(dir, LOG_START_OFFSET_FILE, &encode_log_start_offset(offset))
}

/// Removes a file, treating "already gone" as success.
pub fn remove_if_exists(path: &Path) -> Result<bool, StorageError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StorageError::io(format!("remove {}", path.display()), e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_start_offset_roundtrip() {
        for o in [0, 1, 42, i64::MAX] {
            assert_eq!(
                decode_log_start_offset(&encode_log_start_offset(o)),
                Some(o)
            );
        }
    }

    #[test]
    fn log_start_offset_rejects_garbage() {
        assert_eq!(decode_log_start_offset(b""), None);
        assert_eq!(decode_log_start_offset(b"1\n5\n"), None);
        assert_eq!(decode_log_start_offset(b"0\nx\n"), None);
        assert_eq!(decode_log_start_offset(b"0\n-3\n"), None);
        assert_eq!(decode_log_start_offset(&[0xff, 0xfe]), None);
    }

    #[test]
    fn write_atomic_replaces() {
        let dir = tempfile::tempdir().unwrap();
        write_log_start_offset(dir.path(), 7).unwrap();
        write_log_start_offset(dir.path(), 9).unwrap();
        assert_eq!(read_log_start_offset(dir.path()).unwrap(), Some(9));
        assert!(!dir
            .path()
            .join(format!("{LOG_START_OFFSET_FILE}{TMP_SUFFIX}"))
            .exists());
    }
}
