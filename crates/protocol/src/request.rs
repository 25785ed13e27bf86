//! Decoding one request frame into its header and typed body.
//!
//! The API key, version and correlation id are read by hand first (the first eight bytes), so
//! that a request Strom cannot decode still gets the answer Kafka gives: ApiVersions of an
//! unknown version is answered with UNSUPPORTED_VERSION (KIP-511); other failures close the
//! connection.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind};
use kafka_protocol::protocol::Decodable;

use crate::versions;

/// A decoded request.
#[derive(Debug)]
pub struct Request {
    pub api_key: ApiKey,
    pub header: RequestHeader,
    pub body: RequestKind,
}

impl Request {
    pub fn api_version(&self) -> i16 {
        self.header.request_api_version
    }

    pub fn correlation_id(&self) -> i32 {
        self.header.correlation_id
    }

    pub fn client_id(&self) -> &str {
        self.header.client_id.as_deref().unwrap_or("")
    }
}

/// Why a frame is not a request Strom can serve.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("request frame of {0} bytes is shorter than a request header")]
    TooShort(usize),
    #[error("unknown api key {api_key}")]
    UnknownApiKey { api_key: i16, correlation_id: i32 },
    #[error("unsupported version {api_version} of {api_key:?}")]
    UnsupportedVersion {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
    },
    #[error("malformed {api_key:?} v{api_version} request: {reason}")]
    Malformed {
        api_key: ApiKey,
        api_version: i16,
        correlation_id: i32,
        reason: String,
    },
}

/// Decodes a request frame (without its size prefix).
pub fn decode_request(frame: Bytes) -> Result<Request, DecodeError> {
    let mut prefix = frame.as_ref();
    if prefix.len() < 8 {
        return Err(DecodeError::TooShort(prefix.len()));
    }
    let raw_api_key = prefix.get_i16();
    let api_version = prefix.get_i16();
    let correlation_id = prefix.get_i32();
    let Ok(api_key) = ApiKey::try_from(raw_api_key) else {
        return Err(DecodeError::UnknownApiKey {
            api_key: raw_api_key,
            correlation_id,
        });
    };
    let Some(range) = versions::supported(api_key) else {
        return Err(DecodeError::UnknownApiKey {
            api_key: raw_api_key,
            correlation_id,
        });
    };
    if api_version < range.min_version || api_version > range.max_version {
        return Err(DecodeError::UnsupportedVersion {
            api_key,
            api_version,
            correlation_id,
        });
    }
    let malformed = |reason: String| DecodeError::Malformed {
        api_key,
        api_version,
        correlation_id,
        reason,
    };
    let mut buf = frame;
    let header_version = api_key.request_header_version(api_version);
    let header = RequestHeader::decode(&mut buf, header_version)
        .map_err(|e| malformed(format!("header: {e}")))?;
    let body = RequestKind::decode(api_key, &mut buf, api_version)
        .map_err(|e| malformed(format!("body: {e}")))?;
    Ok(Request {
        api_key,
        header,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::ApiVersionsRequest;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn encode(api_key: ApiKey, version: i16, body: &impl Encodable) -> Bytes {
        let mut buf = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(api_key as i16)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .with_client_id(Some(StrBytes::from_static_str("test")));
        header
            .encode(&mut buf, api_key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn decodes_every_api_versions_version() {
        for version in 0..=4 {
            let frame = encode(ApiKey::ApiVersions, version, &ApiVersionsRequest::default());
            let request = decode_request(frame).unwrap();
            assert_eq!(request.api_key, ApiKey::ApiVersions);
            assert_eq!(request.correlation_id(), 7);
            assert_eq!(request.client_id(), "test");
        }
    }

    #[test]
    fn reports_unknown_keys_and_versions() {
        let mut frame = BytesMut::new();
        frame.put_i16(999);
        frame.put_i16(0);
        frame.put_i32(42);
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::UnknownApiKey {
                api_key: 999,
                correlation_id: 42
            })
        ));
        let mut frame = BytesMut::new();
        frame.put_i16(ApiKey::ApiVersions as i16);
        frame.put_i16(99);
        frame.put_i32(5);
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::UnsupportedVersion {
                api_version: 99,
                correlation_id: 5,
                ..
            })
        ));
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..64u8 {
            let frame: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let _ = decode_request(Bytes::from(frame));
        }
        // Valid prefixes of every implemented API and version with pseudo-random bodies, so
        // that the bytes reach the header and body decoders.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut decoded_headers = 0;
        for range in versions::all_supported() {
            for version in range.min_version..=range.max_version {
                for len in [0usize, 1, 2, 5, 13, 40, 200] {
                    let mut frame = BytesMut::new();
                    frame.put_i16(range.api_key as i16);
                    frame.put_i16(version);
                    frame.put_i32(9);
                    frame.put_i16(-1); // null client id: a valid header for every version
                    for _ in 0..len {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        frame.put_u8(seed as u8);
                    }
                    match decode_request(frame.freeze()) {
                        Ok(_) => decoded_headers += 1,
                        Err(DecodeError::Malformed { reason, .. }) => {
                            if reason.starts_with("body") {
                                decoded_headers += 1;
                            }
                        }
                        Err(other) => panic!("valid prefix refused: {other}"),
                    }
                }
            }
        }
        assert!(decoded_headers > 0, "no frame reached the body decoder");
        // A produce request claiming two billion topics must not allocate for them.
        let mut frame = BytesMut::new();
        frame.put_i16(ApiKey::Produce as i16);
        frame.put_i16(3);
        frame.put_i32(1);
        frame.put_i16(-1); // client id
        frame.put_i16(-1); // transactional id
        frame.put_i16(1);
        frame.put_i32(1000);
        frame.put_i32(i32::MAX);
        assert!(matches!(
            decode_request(frame.freeze()),
            Err(DecodeError::Malformed { .. })
        ));
    }
}
