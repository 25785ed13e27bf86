//! The identity of this node's data directory: `meta.properties`, as Kafka writes it, holding
//! the cluster id and the node id. A data directory of another node or cluster is refused.

use std::path::Path;

use crate::error::BrokerError;

const META_PROPERTIES: &str = "meta.properties";

/// Reads `meta.properties` under `data_dir`, or writes a new one with a fresh cluster id.
/// Returns the cluster id.
pub fn load_or_init(data_dir: &Path, node_id: i32) -> Result<String, BrokerError> {
    let path = data_dir.join(META_PROPERTIES);
    let io = |source| BrokerError::DataDir {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut cluster_id = None;
            let mut stored_node = None;
            for line in text.lines() {
                let line = line.trim();
                if let Some(v) = line.strip_prefix("cluster.id=") {
                    cluster_id = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("node.id=") {
                    stored_node = v.parse::<i32>().ok();
                }
            }
            let Some(cluster_id) = cluster_id else {
                return Err(BrokerError::DataDirContents(format!(
                    "{} has no cluster.id",
                    path.display()
                )));
            };
            if let Some(stored) = stored_node {
                if stored != node_id {
                    return Err(BrokerError::DataDirContents(format!(
                        "{} belongs to node.id {stored}, but this broker is node.id {node_id}",
                        path.display()
                    )));
                }
            }
            Ok(cluster_id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster_id = new_cluster_id();
            let text = format!(
                "#Written by Strom\nversion=1\ncluster.id={cluster_id}\nnode.id={node_id}\n"
            );
            let tmp = data_dir.join("meta.properties.tmp");
            std::fs::write(&tmp, text).map_err(io)?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
            std::fs::File::open(data_dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
            Ok(cluster_id)
        }
        Err(e) => Err(io(e)),
    }
}

/// Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding (22 characters).
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut bits: u128 = u128::from_be_bytes(bytes);
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        let index = (bits >> 122) as usize & 63;
        out.push(ALPHABET.get(index).copied().unwrap_or(b'A') as char);
        bits <<= 6;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_stable_and_node_checked() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_init(dir.path(), 0).unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(load_or_init(dir.path(), 0).unwrap(), id);
        assert!(load_or_init(dir.path(), 1).is_err());
    }
}
