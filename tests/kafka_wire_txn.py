"""Wire-level helpers for the idempotent producer and transactions, on top of kafka_wire.py.

Encodings follow the Apache Kafka protocol guide:

* InitProducerId (api key 22): v0-v1 are non-flexible (request header v1, response header v0);
  v2+ are flexible (request header v2 with tagged fields, compact strings; response header v1).
  v3+ carry the current producer id and epoch (KIP-360) in the request.
* Produce v3 with a magic-v2 record batch that carries producerId, producerEpoch, baseSequence
  and, for transactional batches, attribute bit 4 (isTransactional).
* ListOffsets v2 with isolation_level (0 = READ_UNCOMMITTED, 1 = READ_COMMITTED): with
  READ_COMMITTED, LATEST (-1) answers the last stable offset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka_wire import (
    LIST_OFFSETS,
    PRODUCE,
    Reader,
    Record,
    api_versions,
    array,
    connect,
    crc32c,
    encode_record,
    frame,
    int8,
    int16,
    int32,
    int64,
    nbytes,
    nullable_string,
    parse_produce_response_v3,
    request_header_v1,
    roundtrip,
    string,
    uint32,
    uvarint,
)

INIT_PRODUCER_ID = 22

# Error codes (org.apache.kafka.common.protocol.Errors).
NONE = 0
NOT_COORDINATOR = 16
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
INVALID_TXN_STATE = 48
OUT_OF_ORDER_SEQUENCE_NUMBER = 45
DUPLICATE_SEQUENCE_NUMBER = 46
INVALID_PRODUCER_EPOCH = 47
INVALID_PRODUCER_ID_MAPPING = 49
INVALID_TRANSACTION_TIMEOUT = 50
CONCURRENT_TRANSACTIONS = 51
UNKNOWN_PRODUCER_ID = 59
PRODUCER_FENCED = 90

ISOLATION_READ_UNCOMMITTED = 0
ISOLATION_READ_COMMITTED = 1
LATEST = -1
EARLIEST = -2

ATTR_TRANSACTIONAL = 0x10


# --- record batches with producer fields ------------------------------------------------


def producer_batch(
    records: list[Record],
    producer_id: int,
    producer_epoch: int,
    base_sequence: int,
    transactional: bool = False,
    base_timestamp: int | None = None,
) -> bytes:
    """An uncompressed magic-v2 batch (base offset 0) stamped with a producer id, epoch and
    base sequence; `transactional` sets attribute bit 4."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    recs = b"".join(encode_record(i, r) for i, r in enumerate(records))
    max_ts = base_timestamp + max((r.timestamp_delta for r in records), default=0)
    after_crc = (
        int16(ATTR_TRANSACTIONAL if transactional else 0)
        + int32(len(records) - 1)  # lastOffsetDelta
        + int64(base_timestamp)
        + int64(max_ts)
        + int64(producer_id)
        + int16(producer_epoch)
        + int32(base_sequence)
        + int32(len(records))
        + recs
    )
    crc = crc32c(after_crc)
    batch_length = 4 + 1 + 4 + len(after_crc)
    return int64(0) + int32(batch_length) + int32(-1) + int8(2) + uint32(crc) + after_crc


def values_batch(values: list[bytes], producer_id: int, epoch: int, base_sequence: int, **kw) -> bytes:
    return producer_batch([Record(value=v) for v in values], producer_id, epoch, base_sequence, **kw)


# --- Produce v3 with a transactional id -------------------------------------------------


def produce_request_v3_txn(
    topic: str,
    partition: int,
    records: bytes,
    transactional_id: str | None = None,
    acks: int = -1,
    timeout_ms: int = 10_000,
    correlation_id: int = 1,
    client_id: str = "strom-wire-test",
) -> bytes:
    body = (
        nullable_string(transactional_id)
        + int16(acks)
        + int32(timeout_ms)
        + array([string(topic) + array([int32(partition) + nbytes(records)])])
    )
    return frame(request_header_v1(PRODUCE, 3, correlation_id, client_id) + body)


@dataclass
class ProduceResult:
    error_code: int
    base_offset: int


class WireProducer:
    """One connection that sends Produce v3 requests and returns (error_code, base_offset)."""

    def __init__(self, bootstrap: str, timeout: float = 15.0):
        self.sock = connect(bootstrap, timeout=timeout)
        self.correlation_id = 100

    def produce(
        self, topic: str, partition: int, batch: bytes, transactional_id: str | None = None
    ) -> ProduceResult:
        self.correlation_id += 1
        cid = self.correlation_id
        payload = roundtrip(
            self.sock, produce_request_v3_txn(topic, partition, batch, transactional_id, correlation_id=cid)
        )
        got_cid, parts = parse_produce_response_v3(payload)
        assert got_cid == cid, (got_cid, cid)
        assert len(parts) == 1, parts
        return ProduceResult(parts[0].error_code, parts[0].base_offset)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "WireProducer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- InitProducerId ---------------------------------------------------------------------


def compact_nullable_string(s: str | None) -> bytes:
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def request_header_v2(api_key: int, api_version: int, correlation_id: int, client_id: str | None) -> bytes:
    return request_header_v1(api_key, api_version, correlation_id, client_id) + uvarint(0)


def init_producer_id_request(
    version: int,
    transactional_id: str | None = None,
    transaction_timeout_ms: int = 60_000,
    producer_id: int = -1,
    producer_epoch: int = -1,
    correlation_id: int = 1,
    client_id: str = "strom-wire-test",
) -> bytes:
    if version <= 1:
        body = nullable_string(transactional_id) + int32(transaction_timeout_ms)
        return frame(request_header_v1(INIT_PRODUCER_ID, version, correlation_id, client_id) + body)
    body = compact_nullable_string(transactional_id) + int32(transaction_timeout_ms)
    if version >= 3:
        body += int64(producer_id) + int16(producer_epoch)
    if version >= 6:
        body += int8(0) + int8(0)  # enable_2pc, keep_prepared_txn (KIP-939)
    body += uvarint(0)  # tagged fields
    return frame(request_header_v2(INIT_PRODUCER_ID, version, correlation_id, client_id) + body)


@dataclass
class InitProducerIdResponse:
    correlation_id: int
    error_code: int
    producer_id: int
    producer_epoch: int


def _read_uvarint(r: Reader) -> int:
    shift = value = 0
    while True:
        b = r.int8() & 0xFF
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value
        shift += 7


def parse_init_producer_id_response(version: int, payload: bytes) -> InitProducerIdResponse:
    r = Reader(payload)
    cid = r.int32()
    if version >= 2:
        for _ in range(_read_uvarint(r)):  # response header tagged fields
            _read_uvarint(r)
            r._take(_read_uvarint(r))
    r.int32()  # throttle_time_ms
    error_code = r.int16()
    producer_id = r.int64()
    producer_epoch = r.int16()
    return InitProducerIdResponse(cid, error_code, producer_id, producer_epoch)


def init_producer_id_version(bootstrap: str, wanted: int = 1) -> int:
    """`wanted` if the broker advertises it for InitProducerId, else the nearest it does."""
    keys = api_versions(bootstrap).api_keys
    assert INIT_PRODUCER_ID in keys, f"the broker does not advertise InitProducerId (22): {sorted(keys)}"
    lo, hi = keys[INIT_PRODUCER_ID]
    return min(max(wanted, lo), hi)


def init_producer_id(
    bootstrap: str,
    transactional_id: str | None = None,
    transaction_timeout_ms: int = 60_000,
    version: int | None = None,
    producer_id: int = -1,
    producer_epoch: int = -1,
    retry_s: float = 15.0,
) -> InitProducerIdResponse:
    """InitProducerId on a fresh connection, retried while the answer is a retriable
    coordinator error (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
    CONCURRENT_TRANSACTIONS). A transactional id must go to its coordinator; Strom is one
    node, so the bootstrap broker is it."""
    if version is None:
        version = init_producer_id_version(bootstrap, 1)
    deadline = time.monotonic() + retry_s
    cid = 40
    while True:
        cid += 1
        with connect(bootstrap) as s:
            req = init_producer_id_request(
                version, transactional_id, transaction_timeout_ms, producer_id, producer_epoch, correlation_id=cid
            )
            resp = parse_init_producer_id_response(version, roundtrip(s, req))
        assert resp.correlation_id == cid, resp
        retriable = (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, CONCURRENT_TRANSACTIONS)
        if resp.error_code in retriable and time.monotonic() < deadline:
            time.sleep(0.1)
            continue
        return resp


# --- ListOffsets v2 (isolation level) ---------------------------------------------------


def list_offsets_request_v2(
    topic: str, partitions: list[int], timestamp: int, isolation_level: int, correlation_id: int = 1
) -> bytes:
    body = (
        int32(-1)  # replica_id
        + int8(isolation_level)
        + array([string(topic) + array([int32(p) + int64(timestamp) for p in partitions])])
    )
    return frame(request_header_v1(LIST_OFFSETS, 2, correlation_id, "strom-wire-test") + body)


def list_offsets_v2(
    bootstrap: str, topic: str, partitions: list[int], isolation_level: int, timestamp: int = LATEST
) -> dict[int, int]:
    """{partition: offset} for `timestamp` (LATEST by default) under `isolation_level`;
    fails on any partition error."""
    with connect(bootstrap) as s:
        payload = roundtrip(s, list_offsets_request_v2(topic, partitions, timestamp, isolation_level, 9))
    r = Reader(payload)
    assert r.int32() == 9
    r.int32()  # throttle_time_ms
    out = {}
    for _ in range(r.int32()):
        r.string()
        for _ in range(r.int32()):
            p = r.int32()
            err = r.int16()
            r.int64()  # timestamp
            off = r.int64()
            assert err == 0, f"ListOffsets v2 partition {p}: error {err}"
            out[p] = off
    return out


def last_stable_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    return list_offsets_v2(bootstrap, topic, list(range(partitions)), ISOLATION_READ_COMMITTED)


def high_watermarks_v2(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    return list_offsets_v2(bootstrap, topic, list(range(partitions)), ISOLATION_READ_UNCOMMITTED)
