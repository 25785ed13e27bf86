//! One client connection: read a frame, decode it, answer it, in order. Kafka serves one request
//! of a connection at a time (it mutes the channel while a request is in flight), so a
//! connection's responses leave in request order by construction; connections run concurrently.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use strom_protocol::frame::{read_frame, FrameError};
use strom_protocol::messages::{ApiKey, ResponseKind};
use strom_protocol::{decode_request, encode_response, DecodeError};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::apis::{self, Reply};
use crate::server::Broker;

/// Serves one connection until the client closes it, it sends something Kafka would close the
/// connection for, or the broker shuts down.
pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    // Small: idle connections cost this much each; large frames bypass the buffer anyway.
    let mut reader = BufReader::with_capacity(8 * 1024, reader);
    loop {
        if *shutdown.borrow() {
            break;
        }
        let (max_frame, max_idle_ms) = {
            let config = broker.config.read();
            (
                config.socket_request_max_bytes().max(0) as usize,
                config.connections_max_idle_ms().max(1) as u64,
            )
        };
        let idle = tokio::time::sleep(std::time::Duration::from_millis(max_idle_ms));
        let frame = tokio::select! {
            frame = read_frame(&mut reader, max_frame) => frame,
            _ = shutdown.changed() => break,
            // Kafka's connections.max.idle.ms: a connection that sends nothing is closed.
            _ = idle => {
                tracing::debug!(%peer, "closing idle connection");
                break;
            }
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(FrameError::Io(error)) => {
                tracing::debug!(%peer, %error, "connection error");
                break;
            }
            Err(error) => {
                tracing::warn!(%peer, %error, "closing connection");
                break;
            }
        };
        let response = match decode_request(frame) {
            Ok(request) => {
                let correlation_id = request.correlation_id();
                let api_version = request.api_version();
                match apis::handle(&broker, request, peer).await {
                    Reply::Response(body) => encode(correlation_id, api_version, &body, peer),
                    Reply::None => continue,
                    Reply::Close => break,
                }
            }
            Err(DecodeError::UnsupportedVersion {
                api_key: ApiKey::ApiVersions,
                api_version,
                correlation_id,
            }) => {
                // KIP-511: answer in v0 with UNSUPPORTED_VERSION and our ranges, so the client
                // can pick a version it shares with us.
                tracing::debug!(%peer, api_version, "ApiVersions of an unsupported version");
                let body = ResponseKind::ApiVersions(
                    crate::handlers::api_versions::unsupported_version_response(),
                );
                encode(correlation_id, 0, &body, peer)
            }
            Err(error) => {
                tracing::warn!(%peer, %error, "closing connection after an undecodable request");
                break;
            }
        };
        let Some(response) = response else { break };
        if let Err(error) = writer.write_all(&response).await {
            tracing::debug!(%peer, %error, "cannot write response");
            break;
        }
    }
    let _ = writer.shutdown().await;
}

fn encode(
    correlation_id: i32,
    api_version: i16,
    body: &ResponseKind,
    peer: SocketAddr,
) -> Option<Bytes> {
    match encode_response(correlation_id, api_version, body) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            tracing::error!(%peer, %error, api_version, "cannot encode response; closing connection");
            None
        }
    }
}
