"""Just enough of the Kafka wire protocol, by hand, to poke a broker with raw sockets.

Encodings follow the Apache Kafka protocol guide: big-endian integers, STRING = int16 length
+ UTF-8, NULLABLE_STRING with length -1 for null, BYTES = int32 length, ARRAY = int32 count;
record batches are magic v2 with CRC-32C (Castagnoli) over attributes..end.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

# --- API keys and error codes ----------------------------------------------------------
PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2
METADATA = 3
API_VERSIONS = 18

NONE = 0
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
UNSUPPORTED_VERSION = 35

MAX_REQUEST_SIZE = 100 * 1024 * 1024  # socket.request.max.bytes default: 104857600
DEFAULT_MESSAGE_MAX_BYTES = 1048588  # message.max.bytes / max.message.bytes default

# --- CRC-32C ---------------------------------------------------------------------------


def _make_crc32c_table() -> list[int]:
    poly = 0x82F63B78  # reflected Castagnoli polynomial
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C_TABLE = _make_crc32c_table()


def crc32c_py(data: bytes, crc: int = 0) -> int:
    """Table-driven CRC-32C in pure Python (slow: use for small inputs or as a fallback)."""
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


try:  # the C implementation from PyPI (pinned in requirements.txt), if installed
    import crc32c as _crc32c_mod

    def crc32c(data: bytes) -> int:
        return _crc32c_mod.crc32c(data)

except ImportError:  # pragma: no cover - exercised only without the package
    crc32c = crc32c_py

assert crc32c_py(b"123456789") == 0xE3069283, "CRC-32C check value"
assert crc32c(b"123456789") == 0xE3069283, "CRC-32C check value"

# --- primitive encoders ----------------------------------------------------------------


def int8(v: int) -> bytes:
    return struct.pack(">b", v)


def int16(v: int) -> bytes:
    return struct.pack(">h", v)


def int32(v: int) -> bytes:
    return struct.pack(">i", v)


def int64(v: int) -> bytes:
    return struct.pack(">q", v)


def uint32(v: int) -> bytes:
    return struct.pack(">I", v)


def string(s: str) -> bytes:
    b = s.encode()
    return int16(len(b)) + b


def nullable_string(s: str | None) -> bytes:
    return int16(-1) if s is None else string(s)


def nbytes(b: bytes | None) -> bytes:
    return int32(-1) if b is None else int32(len(b)) + b


def array(items: list[bytes]) -> bytes:
    return int32(len(items)) + b"".join(items)


def uvarint(v: int) -> bytes:
    out = bytearray()
    while True:
        byte = v & 0x7F
        v >>= 7
        if v:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint(v: int) -> bytes:
    """Zig-zag signed varint (also used for varlong)."""
    return uvarint((v << 1) ^ (v >> 63))


# --- decoding --------------------------------------------------------------------------


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"truncated: need {n} bytes at {self.pos} of {len(self.data)}")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def int8(self) -> int:
        return struct.unpack(">b", self._take(1))[0]

    def int16(self) -> int:
        return struct.unpack(">h", self._take(2))[0]

    def int32(self) -> int:
        return struct.unpack(">i", self._take(4))[0]

    def int64(self) -> int:
        return struct.unpack(">q", self._take(8))[0]

    def string(self) -> str | None:
        n = self.int16()
        return None if n < 0 else self._take(n).decode()

    def remaining(self) -> int:
        return len(self.data) - self.pos


# --- record batches --------------------------------------------------------------------


@dataclass
class Record:
    value: bytes | None
    key: bytes | None = None
    headers: tuple = ()
    timestamp_delta: int = 0


def encode_record(offset_delta: int, r: Record) -> bytes:
    body = bytearray()
    body += int8(0)  # attributes
    body += varint(r.timestamp_delta)
    body += varint(offset_delta)
    body += varint(-1) if r.key is None else varint(len(r.key)) + r.key
    body += varint(-1) if r.value is None else varint(len(r.value)) + r.value
    body += varint(len(r.headers))
    for hk, hv in r.headers:
        hk = hk.encode() if isinstance(hk, str) else hk
        body += varint(len(hk)) + hk
        body += varint(-1) if hv is None else varint(len(hv)) + hv
    return varint(len(body)) + bytes(body)


def record_batch(records: list[Record], base_timestamp: int | None = None) -> bytes:
    """An uncompressed magic-v2 record batch with base offset 0, no producer id."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    recs = b"".join(encode_record(i, r) for i, r in enumerate(records))
    max_ts = base_timestamp + max((r.timestamp_delta for r in records), default=0)
    after_crc = (
        int16(0)  # attributes: no compression, CreateTime, not transactional, not control
        + int32(len(records) - 1)  # lastOffsetDelta
        + int64(base_timestamp)
        + int64(max_ts)
        + int64(-1)  # producerId
        + int16(-1)  # producerEpoch
        + int32(-1)  # baseSequence
        + int32(len(records))
        + recs
    )
    crc = crc32c(after_crc)
    # batchLength counts everything after itself: epoch(4) + magic(1) + crc(4) + rest.
    batch_length = 4 + 1 + 4 + len(after_crc)
    return int64(0) + int32(batch_length) + int32(-1) + int8(2) + uint32(crc) + after_crc


# Byte offsets inside a v2 batch.
BATCH_CRC_OFFSET = 17
BATCH_ATTRIBUTES_OFFSET = 21
BATCH_RECORDS_OFFSET = 61


# --- requests and responses ------------------------------------------------------------


def request_header_v1(api_key: int, api_version: int, correlation_id: int, client_id: str | None) -> bytes:
    return int16(api_key) + int16(api_version) + int32(correlation_id) + nullable_string(client_id)


def frame(payload: bytes) -> bytes:
    return int32(len(payload)) + payload


def api_versions_request_v0(correlation_id: int = 1, client_id: str = "strom-wire-test") -> bytes:
    return frame(request_header_v1(API_VERSIONS, 0, correlation_id, client_id))


def produce_request_v3(
    topic: str,
    partition: int,
    records: bytes,
    acks: int = -1,
    timeout_ms: int = 10_000,
    correlation_id: int = 1,
    client_id: str = "strom-wire-test",
) -> bytes:
    body = (
        nullable_string(None)  # transactional_id
        + int16(acks)
        + int32(timeout_ms)
        + array([string(topic) + array([int32(partition) + nbytes(records)])])
    )
    return frame(request_header_v1(PRODUCE, 3, correlation_id, client_id) + body)


@dataclass
class ProducePartitionResponse:
    topic: str
    partition: int
    error_code: int
    base_offset: int
    log_append_time: int


def parse_produce_response_v3(payload: bytes) -> tuple[int, list[ProducePartitionResponse]]:
    """payload = the response after its 4-byte length. Returns (correlation_id, partitions)."""
    r = Reader(payload)
    correlation_id = r.int32()
    out = []
    for _ in range(r.int32()):
        topic = r.string()
        for _ in range(r.int32()):
            partition = r.int32()
            error_code = r.int16()
            base_offset = r.int64()
            log_append_time = r.int64()
            out.append(ProducePartitionResponse(topic, partition, error_code, base_offset, log_append_time))
    r.int32()  # throttle_time_ms
    return correlation_id, out


@dataclass
class ApiVersionsResponseV0:
    correlation_id: int
    error_code: int
    api_keys: dict[int, tuple[int, int]]


def parse_api_versions_response_v0(payload: bytes) -> ApiVersionsResponseV0:
    r = Reader(payload)
    correlation_id = r.int32()
    error_code = r.int16()
    keys = {}
    for _ in range(r.int32()):
        k, lo, hi = r.int16(), r.int16(), r.int16()
        keys[k] = (lo, hi)
    return ApiVersionsResponseV0(correlation_id, error_code, keys)


# --- sockets ---------------------------------------------------------------------------


def connect(bootstrap: str, timeout: float = 10.0) -> socket.socket:
    host, port = bootstrap.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> bytes:
    (n,) = struct.unpack(">i", recv_exact(sock, 4))
    if n < 0 or n > MAX_REQUEST_SIZE:
        raise ValueError(f"bad response length {n}")
    return recv_exact(sock, n)


def roundtrip(sock: socket.socket, request: bytes) -> bytes:
    sock.sendall(request)
    return recv_frame(sock)


def closed_by_peer(sock: socket.socket, timeout: float = 10.0) -> bool:
    """True if the peer closes the connection (EOF or reset) within `timeout` without sending
    anything; False if it stays open that long. Raises if it sends data instead."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        return False
    except (ConnectionResetError, BrokenPipeError):
        return True
    if data == b"":
        return True
    raise AssertionError(f"expected the connection to be closed, got {len(data)} bytes: {data[:64]!r}")


def api_versions(bootstrap: str) -> ApiVersionsResponseV0:
    """A fresh connection, an ApiVersions v0 request, the parsed response."""
    with connect(bootstrap) as s:
        resp = parse_api_versions_response_v0(roundtrip(s, api_versions_request_v0(correlation_id=7)))
    assert resp.correlation_id == 7, resp
    return resp
