"""Hostile and malformed input on raw sockets: the broker must refuse it the way Kafka does and
keep serving everyone else."""

from __future__ import annotations

import os
import random
import socket

import pytest

import kafka_wire as w
from helpers import ck_consume_all, ck_create_topic, unique_topic


def assert_still_serving(broker):
    assert broker.is_running(), "the broker process died"
    resp = w.api_versions(broker.bootstrap)
    assert resp.error_code == w.NONE, resp
    for key in (w.PRODUCE, w.FETCH, w.METADATA, w.API_VERSIONS):
        assert key in resp.api_keys, f"api key {key} missing from ApiVersions: {sorted(resp.api_keys)}"


def produce_raw(broker, topic: str, partition: int, batch: bytes, acks: int = -1) -> w.ProducePartitionResponse:
    with w.connect(broker.bootstrap) as s:
        cid, parts = w.parse_produce_response_v3(
            w.roundtrip(s, w.produce_request_v3(topic, partition, batch, acks=acks, correlation_id=42))
        )
    assert cid == 42
    assert len(parts) == 1, parts
    assert (parts[0].topic, parts[0].partition) == (topic, partition), parts
    return parts[0]


def test_api_versions_v0(broker):
    resp = w.api_versions(broker.bootstrap)
    assert resp.error_code == w.NONE
    lo, hi = resp.api_keys[w.API_VERSIONS]
    assert lo == 0 and hi >= 3, (lo, hi)
    lo, hi = resp.api_keys[w.PRODUCE]
    assert lo <= 3 <= hi, f"Produce v3 not supported: {(lo, hi)}"


def test_oversized_frame_closes_connection(broker):
    with w.connect(broker.bootstrap) as s:
        s.sendall(w.int32(w.MAX_REQUEST_SIZE + 1) + b"\x00\x12\x00\x00")
        assert w.closed_by_peer(s, timeout=10), "a frame over 100 MiB did not get the connection closed"
    with w.connect(broker.bootstrap) as s:
        s.sendall(w.int32(0x7FFFFFFF))
        assert w.closed_by_peer(s, timeout=10)
    with w.connect(broker.bootstrap) as s:
        s.sendall(w.int32(-5))  # a negative size
        assert w.closed_by_peer(s, timeout=10)
    assert_still_serving(broker)


@pytest.mark.parametrize("seed", range(8))
def test_garbage_frame(broker, seed):
    rng = random.Random(seed)
    body = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 512)))
    with w.connect(broker.bootstrap) as s:
        s.sendall(w.frame(body))
        s.settimeout(10)
        try:
            data = s.recv(65536)
        except socket.timeout:
            pytest.fail("the broker neither answered nor closed the connection within 10 s of a garbage frame")
        except ConnectionResetError:
            data = b""
        # Closing is what Kafka does; a well-formed error response would be acceptable too.
        if data:
            assert len(data) >= 8, data
    assert_still_serving(broker)


def test_truncated_request_header(broker):
    for payload in [b"", b"\x00", b"\x00\x12\x00", b"\x00\x12\x00\x00\x00\x00\x00", b"\x00\x12\x00\x00\x00\x00\x00\x01\x00\x10ab"]:
        with w.connect(broker.bootstrap) as s:
            s.sendall(w.frame(payload))
            assert w.closed_by_peer(s, timeout=10), f"connection kept open after header {payload!r}"
    assert_still_serving(broker)


def test_garbage_produce_body(broker):
    """A valid header for Produce v3 followed by a body that does not parse."""
    header = w.request_header_v1(w.PRODUCE, 3, 5, "garbage")
    for body in [b"\xff", random.Random(1).randbytes(64), w.nullable_string(None) + w.int16(-1) + w.int32(1000) + w.int32(1 << 30)]:
        with w.connect(broker.bootstrap) as s:
            s.sendall(w.frame(header + body))
            assert w.closed_by_peer(s, timeout=10), f"connection kept open after a garbage Produce body {body[:16]!r}"
    assert_still_serving(broker)


def test_api_versions_unsupported_version(broker):
    # Header v1 (+ an empty tagged-field section, which a v2 header parser expects and a v1
    # parser sees as the start of the body): ApiVersions v99.
    req = w.request_header_v1(w.API_VERSIONS, 99, 1234, "future-client") + b"\x00"
    with w.connect(broker.bootstrap) as s:
        resp = w.parse_api_versions_response_v0(w.roundtrip(s, w.frame(req)))
        assert resp.correlation_id == 1234
        assert resp.error_code == w.UNSUPPORTED_VERSION, resp
        assert w.API_VERSIONS in resp.api_keys and resp.api_keys[w.API_VERSIONS][1] >= 3, resp.api_keys
        assert w.PRODUCE in resp.api_keys and w.FETCH in resp.api_keys, resp.api_keys
        # The connection stays usable: the client retries with a version it now knows.
        again = w.parse_api_versions_response_v0(w.roundtrip(s, w.api_versions_request_v0(correlation_id=1235)))
        assert (again.correlation_id, again.error_code) == (1235, w.NONE)


def test_unknown_api_key_closes_only_that_connection(broker):
    with w.connect(broker.bootstrap) as bystander, w.connect(broker.bootstrap) as bad:
        bad.sendall(w.frame(w.request_header_v1(999, 0, 1, "bad")))
        assert w.closed_by_peer(bad, timeout=10), "unknown api key 999 did not close the connection"
        resp = w.parse_api_versions_response_v0(w.roundtrip(bystander, w.api_versions_request_v0(correlation_id=9)))
        assert (resp.correlation_id, resp.error_code) == (9, w.NONE)
    with w.connect(broker.bootstrap) as bad:
        # A known key at a version far beyond what the broker supports (not ApiVersions).
        bad.sendall(w.frame(w.request_header_v1(w.METADATA, 999, 1, "bad")))
        assert w.closed_by_peer(bad, timeout=10), "Metadata v999 did not close the connection"
    assert_still_serving(broker)


def test_produce_to_unknown_partition_or_topic(broker):
    topic = unique_topic("bad-part")
    ck_create_topic(broker.bootstrap, topic, 3)
    batch = w.record_batch([w.Record(b"v")])
    r = produce_raw(broker, topic, 7, batch)
    assert r.error_code == w.UNKNOWN_TOPIC_OR_PARTITION, r
    r = produce_raw(broker, topic, -1, batch)
    assert r.error_code == w.UNKNOWN_TOPIC_OR_PARTITION, r
    r = produce_raw(broker, unique_topic("no-such-topic"), 0, batch)
    assert r.error_code == w.UNKNOWN_TOPIC_OR_PARTITION, r


def test_corrupt_batch_is_refused(broker):
    topic = unique_topic("bad-crc")
    ck_create_topic(broker.bootstrap, topic, 1)

    good = w.record_batch([w.Record(b"first", b"k")])
    r = produce_raw(broker, topic, 0, good)
    assert (r.error_code, r.base_offset) == (w.NONE, 0), r

    corrupt = bytearray(w.record_batch([w.Record(b"second, corrupted", b"k")]))
    corrupt[w.BATCH_RECORDS_OFFSET + 5] ^= 0x55  # a byte covered by the CRC, after the CRC field
    r = produce_raw(broker, topic, 0, bytes(corrupt))
    assert r.error_code == w.CORRUPT_MESSAGE, r

    bad_crc = bytearray(w.record_batch([w.Record(b"third, bad crc")]))
    bad_crc[w.BATCH_CRC_OFFSET] ^= 0xFF
    r = produce_raw(broker, topic, 0, bytes(bad_crc))
    assert r.error_code == w.CORRUPT_MESSAGE, r

    r = produce_raw(broker, topic, 0, w.record_batch([w.Record(b"fourth")]))
    assert (r.error_code, r.base_offset) == (w.NONE, 1), r
    (recs,) = ck_consume_all(broker.bootstrap, topic, 1).values()
    assert [(x.offset, x.value) for x in recs] == [(0, b"first"), (1, b"fourth")]


def test_batch_length_mismatch_is_refused(broker):
    topic = unique_topic("bad-len")
    ck_create_topic(broker.bootstrap, topic, 1)
    batch = w.record_batch([w.Record(b"a"), w.Record(b"b")])
    # Claim two records but leave the last one's bytes off (header count says 2).
    truncated = batch[:-3]
    truncated = truncated[:8] + w.int32(len(truncated) - 12) + truncated[12:]
    r = produce_raw(broker, topic, 0, truncated)
    assert r.error_code == w.CORRUPT_MESSAGE, r
    r = produce_raw(broker, topic, 0, batch)
    assert (r.error_code, r.base_offset) == (w.NONE, 0), r


def test_oversized_batch_is_refused(broker):
    topic = unique_topic("bad-big")
    ck_create_topic(broker.bootstrap, topic, 1)
    big = w.record_batch([w.Record(os.urandom(w.DEFAULT_MESSAGE_MAX_BYTES))])
    assert len(big) > w.DEFAULT_MESSAGE_MAX_BYTES
    r = produce_raw(broker, topic, 0, big)
    assert r.error_code == w.MESSAGE_TOO_LARGE, r
    # Just under the limit is fine.
    ok = w.record_batch([w.Record(os.urandom(w.DEFAULT_MESSAGE_MAX_BYTES - 200))])
    assert len(ok) <= w.DEFAULT_MESSAGE_MAX_BYTES
    r = produce_raw(broker, topic, 0, ok)
    assert (r.error_code, r.base_offset) == (w.NONE, 0), r
    assert_still_serving(broker)
