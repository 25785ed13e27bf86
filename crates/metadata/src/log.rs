//! The local metadata log: a file of framed [`MetadataRecord`]s, fsynced on every append.
//!
//! Frame: `length u32 BE | crc32c u32 BE of the payload | payload (JSON)`. Replay stops at the
//! first incomplete or corrupt frame and truncates the file there: a torn tail can only be a
//! change that was never acknowledged, because an append returns after the fsync.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::image::MetadataImage;
use crate::record::MetadataRecord;

/// The directory (inside the data dir) that holds the metadata log, named as KRaft names it.
pub const METADATA_DIR: &str = "__cluster_metadata-0";
const LOG_FILE: &str = "metadata.log";
const FRAME_HEADER: usize = 8;
/// No single metadata record comes near this; a larger length is corruption.
const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum MetadataLogError {
    #[error("metadata log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot encode metadata record: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("fsync of the metadata log failed: {0}")]
    FsyncFailed(std::io::Error),
    #[error(
        "metadata log {path} is damaged at byte {position} ({reason}), before its end; refusing to start rather than forget the topics recorded after it"
    )]
    Corrupt {
        path: PathBuf,
        position: usize,
        reason: String,
    },
}

/// The metadata log file and the image built from it.
pub struct MetadataLog {
    path: PathBuf,
    file: File,
    image: MetadataImage,
    records: u64,
}

impl MetadataLog {
    /// Opens (or creates) the metadata log under `data_dir` and replays it into an image.
    pub fn open(data_dir: &Path) -> Result<Self, MetadataLogError> {
        let dir = data_dir.join(METADATA_DIR);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| MetadataLogError::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io(&path))?;
        let mut contents = Vec::new();
        file.read_to_end(&mut contents).map_err(io(&path))?;
        let mut image = MetadataImage::default();
        let (valid_len, records) = match replay(&contents, &mut image) {
            Replay::Complete { valid_len, records } => (valid_len, records),
            Replay::Damaged { position, reason } => {
                return Err(MetadataLogError::Corrupt {
                    path,
                    position,
                    reason,
                })
            }
        };
        if valid_len < contents.len() {
            tracing::warn!(
                path = %path.display(),
                valid_bytes = valid_len,
                truncated_bytes = contents.len() - valid_len,
                "truncating a torn or corrupt tail of the metadata log"
            );
            file.set_len(valid_len as u64).map_err(io(&path))?;
            file.sync_all().map_err(MetadataLogError::FsyncFailed)?;
        }
        sync_dir(&dir).map_err(io(&dir))?;
        tracing::info!(path = %path.display(), records, "metadata log replayed");
        Ok(Self {
            path,
            file,
            image,
            records,
        })
    }

    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// Number of records applied so far (the offset of the next record).
    pub fn next_offset(&self) -> u64 {
        self.records
    }

    /// Appends records durably as one write, then applies them to the image. Either all of them
    /// are in the log and the image, or (on error) the caller must treat the broker as failed.
    pub fn append(&mut self, records: &[MetadataRecord]) -> Result<(), MetadataLogError> {
        let mut buf = Vec::new();
        for record in records {
            let payload = serde_json::to_vec(record)?;
            buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            buf.extend_from_slice(&crc32c::crc32c(&payload).to_be_bytes());
            buf.extend_from_slice(&payload);
        }
        self.file
            .write_all(&buf)
            .map_err(|source| MetadataLogError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.file
            .sync_data()
            .map_err(MetadataLogError::FsyncFailed)?;
        for record in records {
            self.image.apply(record);
            self.records += 1;
        }
        Ok(())
    }
}

/// How a replay ended.
enum Replay {
    /// Every frame was applied, except perhaps a torn last one: `valid_len` bytes are good.
    Complete { valid_len: usize, records: u64 },
    /// A bad frame with more data after it: not a torn write, so never truncated silently.
    Damaged { position: usize, reason: String },
}

/// Applies every intact frame. A damaged frame is a torn tail (the only thing a crash can leave,
/// since appends return after the fsync) when it reaches the end of the file; anywhere else it
/// is corruption, and a record that checks out but does not parse comes from a newer Strom.
fn replay(contents: &[u8], image: &mut MetadataImage) -> Replay {
    let mut position = 0;
    let mut records = 0;
    while let Some(header) = contents.get(position..position + FRAME_HEADER) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let start = position + FRAME_HEADER;
        let end = start.saturating_add(len);
        let reaches_end = end >= contents.len();
        let damaged = |reason: &str| {
            if reaches_end {
                Replay::Complete {
                    valid_len: position,
                    records,
                }
            } else {
                Replay::Damaged {
                    position,
                    reason: reason.to_string(),
                }
            }
        };
        if len > MAX_RECORD_BYTES {
            return damaged("frame length out of range");
        }
        let Some(payload) = contents.get(start..end) else {
            return damaged("truncated frame");
        };
        if crc32c::crc32c(payload) != crc {
            return damaged("checksum mismatch");
        }
        let record = match serde_json::from_slice::<MetadataRecord>(payload) {
            Ok(record) => record,
            Err(error) => {
                return Replay::Damaged {
                    position,
                    reason: format!("unreadable record, written by a newer version? {error}"),
                }
            }
        };
        image.apply(&record);
        records += 1;
        position = end;
    }
    Replay::Complete {
        valid_len: position,
        records,
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn damage_before_the_end_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = MetadataLog::open(dir.path()).unwrap();
            for name in ["a", "b"] {
                log.append(&[MetadataRecord::Topic {
                    name: name.into(),
                    topic_id: Uuid::new_v4(),
                }])
                .unwrap();
            }
        }
        let path = dir.path().join(METADATA_DIR).join(LOG_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[FRAME_HEADER + 2] ^= 0x40; // inside the first record's payload
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            MetadataLog::open(dir.path()),
            Err(MetadataLogError::Corrupt { position: 0, .. })
        ));
        // Nothing was truncated.
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn survives_reopen_and_truncates_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let topic_id = Uuid::new_v4();
        {
            let mut log = MetadataLog::open(dir.path()).unwrap();
            log.append(&[MetadataRecord::Topic {
                name: "a".into(),
                topic_id,
            }])
            .unwrap();
        }
        let path = dir.path().join(METADATA_DIR).join(LOG_FILE);
        let intact_len = std::fs::metadata(&path).unwrap().len();
        {
            let mut file = OpenOptions::new().append(true).open(&path).unwrap();
            file.write_all(&[0, 0, 0, 50, 1, 2, 3, 4, b'{']).unwrap();
        }
        let log = MetadataLog::open(dir.path()).unwrap();
        assert_eq!(log.image().topic("a").unwrap().topic_id, topic_id);
        assert_eq!(log.next_offset(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), intact_len);
    }
}
