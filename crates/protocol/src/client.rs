//! The client side of the wire, for tools that send requests to a broker: encoding a request
//! frame (size prefix, request header v1/v2, body) and decoding a response frame (response
//! header v0/v1, body). The header versions follow the API version, as `kafka-protocol` knows
//! them.
//!
//! Generic over `kafka-protocol`'s request trait, re-exported as [`KafkaRequest`], so a caller
//! names the request struct (`messages::ListTransactionsRequest`) and gets its response type.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message, StrBytes};

pub use kafka_protocol::protocol::Request as KafkaRequest;

/// A request that could not be encoded or a response that could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot encode the {api} v{version} request: {reason}")]
    Encode {
        api: String,
        version: i16,
        reason: String,
    },
    #[error("malformed {api} v{version} response: {reason}")]
    Decode {
        api: String,
        version: i16,
        reason: String,
    },
    #[error("the response carries correlation id {got}, expected {expected}")]
    CorrelationMismatch { expected: i32, got: i32 },
}

/// The API key of request type `R`.
pub fn api_key<R: KafkaRequest>() -> i16 {
    R::KEY
}

/// The name of request type `R`'s API as Kafka spells it (`ListTransactions`).
pub fn api_name<R: KafkaRequest>() -> String {
    match ApiKey::try_from(R::KEY) {
        Ok(key) => format!("{key:?}"),
        Err(()) => format!("api key {}", R::KEY),
    }
}

/// The versions of `R` this library can encode (and whose responses it can decode).
pub fn client_versions<R: KafkaRequest>() -> (i16, i16) {
    (R::VERSIONS.min, R::VERSIONS.max)
}

/// Encodes a full request frame, size prefix included.
pub fn encode_request<R: KafkaRequest>(
    request: &R,
    version: i16,
    correlation_id: i32,
    client_id: &str,
) -> Result<Bytes, ClientError> {
    let fail = |reason: String| ClientError::Encode {
        api: api_name::<R>(),
        version,
        reason,
    };
    let mut buf = BytesMut::with_capacity(128);
    buf.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_string(client_id.to_owned())))
        .encode(&mut buf, R::header_version(version))
        .map_err(|e| fail(format!("header: {e}")))?;
    request
        .encode(&mut buf, version)
        .map_err(|e| fail(e.to_string()))?;
    let size = i32::try_from(buf.len() - 4).map_err(|e| fail(e.to_string()))?;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    Ok(buf.freeze())
}

/// The correlation id a response frame (without its size prefix) starts with.
pub fn response_correlation_id(frame: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = frame.get(0..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(bytes))
}

/// Decodes a response frame (without its size prefix) to request type `R`, sent at `version`
/// with `correlation_id`. Bytes left after the body are an error: they mean the version or the
/// header was misread.
pub fn decode_response<R: KafkaRequest>(
    frame: Bytes,
    version: i16,
    correlation_id: i32,
) -> Result<R::Response, ClientError> {
    let fail = |reason: String| ClientError::Decode {
        api: api_name::<R>(),
        version,
        reason,
    };
    let mut buf = frame;
    let header = ResponseHeader::decode(&mut buf, R::Response::header_version(version))
        .map_err(|e| fail(format!("header: {e}")))?;
    if header.correlation_id != correlation_id {
        return Err(ClientError::CorrelationMismatch {
            expected: correlation_id,
            got: header.correlation_id,
        });
    }
    let body = R::Response::decode(&mut buf, version).map_err(|e| fail(e.to_string()))?;
    if buf.has_remaining() {
        return Err(fail(format!(
            "{} bytes left after the body",
            buf.remaining()
        )));
    }
    Ok(body)
}

/// The highest version of `R` both this library and a broker advertising `broker` (inclusive
/// min, max) speak, if any.
pub fn common_version<R: KafkaRequest>(broker: (i16, i16)) -> Option<i16> {
    let ours = <R as Message>::VERSIONS;
    let min = ours.min.max(broker.0);
    let max = ours.max.min(broker.1);
    (min <= max).then_some(max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{
        ApiVersionsRequest, ApiVersionsResponse, ListTransactionsRequest, MetadataRequest,
        MetadataResponse, ResponseKind,
    };
    use crate::{decode_request, encode_response};

    #[test]
    fn requests_decode_as_the_broker_reads_them() {
        for version in 0..=4 {
            let frame =
                encode_request(&ApiVersionsRequest::default(), version, 9, "strom-cli").unwrap();
            let size = i32::from_be_bytes(frame[0..4].try_into().unwrap());
            assert_eq!(size as usize, frame.len() - 4);
            let request = decode_request(frame.slice(4..)).unwrap();
            assert_eq!(request.api_version(), version);
            assert_eq!(request.correlation_id(), 9);
            assert_eq!(request.client_id(), "strom-cli");
        }
        let frame = encode_request(&MetadataRequest::default(), 12, 3, "x").unwrap();
        assert_eq!(decode_request(frame.slice(4..)).unwrap().api_version(), 12);
    }

    #[test]
    fn responses_decode_as_the_broker_writes_them() {
        for version in [0, 3, 4] {
            let body =
                ResponseKind::ApiVersions(ApiVersionsResponse::default().with_error_code(35));
            let frame = encode_response(77, version, &body).unwrap();
            let decoded =
                decode_response::<ApiVersionsRequest>(frame.slice(4..), version, 77).unwrap();
            assert_eq!(decoded.error_code, 35);
            assert_eq!(response_correlation_id(&frame[4..]), Some(77));
        }
        let body = ResponseKind::Metadata(MetadataResponse::default());
        let frame = encode_response(5, 12, &body).unwrap();
        assert!(decode_response::<MetadataRequest>(frame.slice(4..), 12, 5).is_ok());
        assert!(matches!(
            decode_response::<MetadataRequest>(frame.slice(4..), 12, 6),
            Err(ClientError::CorrelationMismatch {
                expected: 6,
                got: 5
            })
        ));
        // A truncated body is an error, not a panic.
        assert!(
            decode_response::<MetadataRequest>(frame.slice(4..frame.len() - 1), 12, 5).is_err()
        );
    }

    #[test]
    fn fields_a_version_lacks_are_refused() {
        let request = ListTransactionsRequest::default().with_duration_filter(1000);
        assert!(matches!(
            encode_request(&request, 0, 1, "x"),
            Err(ClientError::Encode { version: 0, .. })
        ));
        assert!(encode_request(&request, 1, 1, "x").is_ok());
    }

    #[test]
    fn versions_are_negotiated() {
        assert_eq!(api_name::<ListTransactionsRequest>(), "ListTransactions");
        assert_eq!(api_key::<ListTransactionsRequest>(), 66);
        assert_eq!(client_versions::<ListTransactionsRequest>(), (0, 2));
        assert_eq!(common_version::<ListTransactionsRequest>((0, 5)), Some(2));
        assert_eq!(common_version::<ListTransactionsRequest>((1, 1)), Some(1));
        assert_eq!(common_version::<ListTransactionsRequest>((3, 5)), None);
    }
}
