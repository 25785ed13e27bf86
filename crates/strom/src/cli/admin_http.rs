//! The CLI's client of the broker's admin HTTP API (`admin.listen`, see `strom_broker::admin`):
//! the `--admin URL` flag and blocking GETs of JSON and text.
//!
//! The client is `ureq` (blocking; callers run it on a blocking thread): the smallest well-kept
//! HTTP client, built without TLS (the admin API is plain HTTP) and sharing `http` and
//! `httparse` with the broker's axum, so it adds a handful of small crates where `reqwest` would
//! add a connection pool, URL and IDNA parsing. Proxies from the environment are ignored: the
//! admin API is reached directly on the broker's host.

use std::time::Duration;

use serde::de::DeserializeOwned;
use strom_broker::admin::error::ErrorBody;

use super::connection::CONNECT_TIMEOUT;

/// `--admin URL` (env `STROM_ADMIN`), shared by the commands that read the admin API.
#[derive(clap::Args, Debug, Clone)]
pub struct AdminArgs {
    /// Base URL of the broker's admin HTTP API (its admin.listen).
    #[arg(
        long = "admin",
        env = "STROM_ADMIN",
        default_value = "http://127.0.0.1:9644",
        value_name = "URL"
    )]
    pub url: String,
}

/// Why a GET of the admin API gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminGetError {
    /// No HTTP answer at all (connection refused, timeout, ...).
    Unreachable(String),
    /// An HTTP error status, with the API's error message.
    Status(u16, String),
    /// A success status with a body that is not the expected JSON.
    Unexpected(String),
}

impl std::fmt::Display for AdminGetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminGetError::Unreachable(e) => write!(f, "admin API unreachable: {e}"),
            AdminGetError::Status(status, reason) => {
                write!(f, "the admin API answered {status}: {reason}")
            }
            AdminGetError::Unexpected(e) => write!(f, "unexpected answer from the admin API: {e}"),
        }
    }
}

/// `path` (starting with `/`) under the base URL; `http://` is assumed without a scheme.
pub fn url(base: &str, path: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    let scheme = if base.contains("://") { "" } else { "http://" };
    format!("{scheme}{base}{path}")
}

/// GETs `url` and decodes its JSON answer.
pub fn get_json<T: DeserializeOwned>(url: &str) -> Result<T, AdminGetError> {
    get(url, |body| body.read_json::<T>())
}

/// GETs `url` and returns its text answer (`/metrics`).
pub fn get_text(url: &str) -> Result<String, AdminGetError> {
    get(url, |body| body.read_to_string())
}

/// GETs `url` and reads a successful answer's body with `read`.
fn get<T>(
    url: &str,
    read: impl FnOnce(&mut ureq::Body) -> Result<T, ureq::Error>,
) -> Result<T, AdminGetError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_connect(Some(CONNECT_TIMEOUT))
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|error| AdminGetError::Unreachable(error.to_string()))?;
    let status = response.status();
    if status.is_success() {
        return read(response.body_mut())
            .map_err(|error| AdminGetError::Unexpected(error.to_string()));
    }
    let reason = response
        .body_mut()
        .read_json::<ErrorBody>()
        .map(|body| body.error)
        .unwrap_or_else(|_| status.to_string());
    Err(AdminGetError::Status(status.as_u16(), reason))
}
