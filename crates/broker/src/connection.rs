//! One client connection: read frames, decode them, answer them, with responses leaving in
//! request order.
//!
//! Requests are handled one at a time, in order, as Kafka does. A produce is answered in two
//! parts: its append happens while it is being handled, its acknowledgement (which may wait for
//! an fsync) is a deferred reply. The connection goes on reading and handling the next requests
//! while deferred replies wait, so a producer that pipelines requests (librdkafka sends up to
//! `max.in.flight` of them) has them all covered by one group-committed fsync instead of one
//! fsync each. Replies are queued in request order and written as each becomes ready; at most
//! [`MAX_IN_FLIGHT`] wait at once. Reading runs in its own task so that a frame is never cut
//! in half by the connection's other work.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{FuturesOrdered, StreamExt};
use strom_protocol::frame::{read_frame, FrameError};
use strom_protocol::messages::{ApiKey, ResponseKind};
use strom_protocol::{
    decode_request, encode_fetch_frame, encode_response_frame, DecodeError, ResponseFrame,
};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::apis::{self, FetchReply, Reply};
use crate::metrics::{Metrics, RequestTimer};
use crate::server::Broker;

/// Replies of one connection that may wait (for durability) at once; past this the connection
/// stops reading until the oldest is written (Kafka's `max.in.flight` is 5 per producer by
/// default; librdkafka's is higher for non-idempotent producers).
pub const MAX_IN_FLIGHT: usize = 64;

/// What to do with the connection once a reply is ready.
enum Output {
    Write(ResponseFrame),
    Skip,
    Close,
}

type Pending = Pin<Box<dyn Future<Output = Output> + Send>>;

/// Serves one connection until the client closes it, it sends something Kafka would close the
/// connection for, or the broker shuts down.
pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let _connection = broker.metrics.requests.connection_opened();
    let _ = stream.set_nodelay(true);
    let (reader, mut writer) = stream.into_split();
    let (frames_tx, mut frames) = mpsc::channel(1);
    let reading = tokio::spawn(read_frames(broker.clone(), reader, peer, frames_tx));
    let mut in_flight: FuturesOrdered<Pending> = FuturesOrdered::new();
    let mut open = true;
    while open {
        if *shutdown.borrow() {
            break;
        }
        let max_idle_ms = broker.config.read().connections_max_idle_ms().max(1) as u64;
        let idle = tokio::time::sleep(Duration::from_millis(max_idle_ms));
        tokio::select! {
            biased;
            Some(output) = in_flight.next(), if !in_flight.is_empty() => {
                open = write(&mut writer, output, peer).await;
            }
            frame = frames.recv(), if in_flight.len() < MAX_IN_FLIGHT => {
                let Some(frame) = frame else { break };
                let pending = handle(&broker, frame, peer, &mut in_flight, &mut writer).await;
                match pending {
                    Some(pending) => {
                        let closes = matches!(pending, Queued::Ready(Output::Close));
                        in_flight.push_back(pending.into_future());
                        if closes {
                            // Answer what came before, then close; read nothing more.
                            break;
                        }
                    }
                    None => open = false,
                }
            }
            _ = shutdown.changed() => break,
            // Kafka's connections.max.idle.ms: a connection that sends nothing is closed.
            _ = idle, if in_flight.is_empty() => {
                tracing::debug!(%peer, "closing idle connection");
                break;
            }
        }
    }
    reading.abort();
    // Requests already handled get their answers (a stopping broker finishes in-flight work).
    while open {
        let Some(output) = in_flight.next().await else {
            break;
        };
        open = write(&mut writer, output, peer).await;
    }
    let _ = writer.shutdown().await;
}

/// A handled request's place in the reply queue.
enum Queued {
    Ready(Output),
    /// A deferred reply with what encoding it needs.
    Deferred(Pin<Box<dyn Future<Output = Reply> + Send>>, ReplyContext),
}

/// What a request's reply needs to be encoded and counted.
struct ReplyContext {
    correlation_id: i32,
    api_version: i16,
    api: ApiKey,
    peer: SocketAddr,
    metrics: Arc<Metrics>,
    /// Started once the request was decoded; stopped when its reply is ready.
    timer: RequestTimer,
}

impl Queued {
    fn into_future(self) -> Pending {
        match self {
            Queued::Ready(output) => Box::pin(std::future::ready(output)),
            Queued::Deferred(reply, context) => {
                Box::pin(async move { output_of(reply.await, context) })
            }
        }
    }
}

/// Reads frames into `frames` until the connection ends or an invalid frame arrives.
async fn read_frames(
    broker: Arc<Broker>,
    reader: OwnedReadHalf,
    peer: SocketAddr,
    frames: mpsc::Sender<Bytes>,
) {
    // Small: idle connections cost this much each; large frames bypass the buffer anyway.
    let mut reader = BufReader::with_capacity(8 * 1024, reader);
    loop {
        let max_frame = broker.config.read().socket_request_max_bytes().max(0) as usize;
        let frame = match read_frame(&mut reader, max_frame).await {
            Ok(Some(frame)) => frame,
            Ok(None) => return,
            Err(FrameError::Io(error)) => {
                tracing::debug!(%peer, %error, "connection error");
                return;
            }
            Err(error) => {
                tracing::warn!(%peer, %error, "closing connection");
                return;
            }
        };
        if frames.send(frame).await.is_err() {
            return;
        }
    }
}

/// Decodes and handles one request; `None` closes the connection at once. While the handler
/// runs, replies queued before it that become ready are written (they precede it).
async fn handle(
    broker: &Arc<Broker>,
    frame: Bytes,
    peer: SocketAddr,
    in_flight: &mut FuturesOrdered<Pending>,
    writer: &mut OwnedWriteHalf,
) -> Option<Queued> {
    let frame_bytes = frame.len();
    let metrics = &broker.metrics;
    match decode_request(frame) {
        Ok(request) => {
            let api = request.api_key;
            if api == ApiKey::Produce {
                metrics.requests.produce_request(frame_bytes);
            }
            let context = ReplyContext {
                correlation_id: request.correlation_id(),
                api_version: request.api_version(),
                api,
                peer,
                metrics: Arc::clone(metrics),
                timer: metrics.requests.started(Some(api)),
            };
            // Every event of the request's handling carries these fields (Kafka's request log).
            let span = tracing::info_span!(
                "request",
                api = ?api,
                client_id = request.client_id(),
                correlation_id = request.correlation_id(),
            );
            let api_version = request.api_version();
            let handling = tracing::Instrument::instrument(
                async move {
                    tracing::debug!(api_version, %peer, "handling request");
                    apis::handle(broker, request, peer).await
                },
                span,
            );
            tokio::pin!(handling);
            let reply = loop {
                tokio::select! {
                    biased;
                    reply = &mut handling => break reply,
                    Some(output) = in_flight.next(), if !in_flight.is_empty() => {
                        if !write(writer, output, peer).await {
                            return None;
                        }
                    }
                }
            };
            Some(match reply {
                Reply::Deferred(reply) => Queued::Deferred(reply, context),
                reply => Queued::Ready(output_of(reply, context)),
            })
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
            let context = ReplyContext {
                correlation_id,
                api_version: 0,
                api: ApiKey::ApiVersions,
                peer,
                metrics: Arc::clone(metrics),
                timer: metrics.requests.started(Some(ApiKey::ApiVersions)),
            };
            Some(Queued::Ready(output_of(Reply::Response(body), context)))
        }
        Err(error) => {
            let api = match &error {
                DecodeError::UnsupportedVersion { api_key, .. }
                | DecodeError::Malformed { api_key, .. } => Some(*api_key),
                DecodeError::TooShort(_) | DecodeError::UnknownApiKey { .. } => None,
            };
            metrics.requests.rejected(api);
            tracing::warn!(%peer, %error, "closing connection after an undecodable request");
            Some(Queued::Ready(Output::Close))
        }
    }
}

/// Writes one output; false when the connection must end.
async fn write(writer: &mut OwnedWriteHalf, output: Output, peer: SocketAddr) -> bool {
    match output {
        // A fetch response's record sets are separate chunks, sent from the buffers they were
        // read into or from the segment files.
        Output::Write(response) => match crate::send_frame::write_frame(writer, response).await {
            Ok(()) => true,
            Err(error) => {
                tracing::debug!(%peer, %error, "cannot write response");
                false
            }
        },
        Output::Skip => true,
        Output::Close => false,
    }
}

/// The bytes (or the lack of them) a reply puts on the wire; the request's metrics are
/// recorded here: its duration, its failure if the reply closes the connection, and the size
/// of a fetch response.
fn output_of(reply: Reply, context: ReplyContext) -> Output {
    let ReplyContext {
        correlation_id,
        api_version,
        api,
        peer,
        metrics,
        timer,
    } = context;
    let output = match reply {
        Reply::Response(body) => match encode_response_frame(correlation_id, api_version, &body) {
            Ok(frame) => {
                metrics.requests.count_errors(api, &body);
                if api == ApiKey::Fetch {
                    metrics.requests.fetch_response(frame.len());
                }
                Output::Write(frame)
            }
            Err(error) => {
                tracing::error!(%peer, %error, api_version, "cannot encode response; closing connection");
                Output::Close
            }
        },
        Reply::Fetch(fetch) => {
            let FetchReply { response, records } = *fetch;
            match encode_fetch_frame(correlation_id, api_version, &response, &records) {
                Ok(frame) => {
                    metrics
                        .requests
                        .count_errors(api, &ResponseKind::Fetch(response));
                    metrics.requests.fetch_response(frame.len());
                    Output::Write(frame)
                }
                Err(error) => {
                    tracing::error!(%peer, %error, api_version, "cannot encode response; closing connection");
                    Output::Close
                }
            }
        }
        Reply::None => Output::Skip,
        Reply::Close => Output::Close,
        // A deferred reply resolves to a final one; a nested deferral is a broker bug.
        Reply::Deferred(_) => {
            tracing::error!(%peer, "a deferred reply deferred again; closing connection");
            Output::Close
        }
    };
    if matches!(output, Output::Close) {
        metrics.requests.failed(Some(api));
    }
    timer.finish();
    output
}
