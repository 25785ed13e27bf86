//! ApiVersions: the API keys and version ranges this broker serves.

use strom_protocol::messages::api_versions_response::ApiVersion;
use strom_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use strom_protocol::versions;
use strom_protocol::ResponseError;

fn api_keys() -> Vec<ApiVersion> {
    versions::all_supported()
        .map(|range| {
            ApiVersion::default()
                .with_api_key(range.api_key as i16)
                .with_min_version(range.min_version)
                .with_max_version(range.max_version)
        })
        .collect()
}

pub fn handle(_request: &ApiVersionsRequest, _version: i16) -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(0)
        .with_api_keys(api_keys())
        .with_finalized_features_epoch(-1)
}

/// The v0 answer to an ApiVersions request of a version we do not know (KIP-511).
pub fn unsupported_version_response() -> ApiVersionsResponse {
    ApiVersionsResponse::default()
        .with_error_code(ResponseError::UnsupportedVersion.code())
        .with_api_keys(api_keys())
}
