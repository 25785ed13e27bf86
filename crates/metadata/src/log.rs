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
        let (valid_len, records) = replay(&contents, &mut image);
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

/// Applies every intact frame; returns the length of the valid prefix and the record count.
fn replay(contents: &[u8], image: &mut MetadataImage) -> (usize, u64) {
    let mut position = 0;
    let mut records = 0;
    while let Some(header) = contents.get(position..position + FRAME_HEADER) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_RECORD_BYTES {
            break;
        }
        let start = position + FRAME_HEADER;
        let Some(payload) = contents.get(start..start + len) else {
            break;
        };
        if crc32c::crc32c(payload) != crc {
            break;
        }
        let Ok(record) = serde_json::from_slice::<MetadataRecord>(payload) else {
            break;
        };
        image.apply(&record);
        records += 1;
        position = start + len;
    }
    (position, records)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

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
