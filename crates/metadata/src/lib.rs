//! Cluster metadata as a log of records applied to an in-memory image, the way KRaft does it.
//!
//! Every change to topics, partitions or configs is first appended (and fsynced) to the metadata
//! log as a [`MetadataRecord`], then applied to the [`MetadataImage`]. At startup the image is
//! rebuilt by replaying the log. The cluster quorum that comes later replicates the same records
//! through Raft instead of a local file; the image and the records stay as they are.

pub mod image;
pub mod log;
pub mod record;

pub use image::{ConfigResource, MetadataImage, PartitionImage, TopicImage};
pub use log::{MetadataLog, MetadataLogError};
pub use record::MetadataRecord;
pub use uuid::Uuid;
