"""Produce acknowledgements: acks=0 (no response, every record still appended), acks=1 and
acks=all (offsets reported), and invalid acks values refused with INVALID_REQUIRED_ACKS (21)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import kafka_wire as kw
from helpers import ck_consume_all, ck_create_topic, unique_topic

INVALID_REQUIRED_ACKS = 21


def make_producer(bootstrap: str, acks, **conf) -> Producer:
    c = {
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "linger.ms": 5,
        "message.timeout.ms": 15000,
    }
    c.update(conf)
    return Producer(c)


def produce_all(p: Producer, topic: str, n: int, partitions: int, prefix: str = "m") -> list:
    results: list = [None] * n

    def cb(i):
        def on_delivery(err, msg):
            results[i] = (err, msg)

        return on_delivery

    for i in range(n):
        p.produce(topic, value=f"{prefix}{i}".encode(), partition=i % partitions, on_delivery=cb(i))
        if i % 100 == 0:
            p.poll(0)
    assert p.flush(30) == 0, "records not delivered/failed within 30 s"
    return results


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> list[int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "strom-tests-unused"})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1] for p in range(partitions)]
    finally:
        c.close()


def test_acks_0_delivers_every_record(broker):
    topic = unique_topic("acks0")
    ck_create_topic(broker.bootstrap, topic, 3)
    p = make_producer(broker.bootstrap, 0)
    n = 3000
    results = produce_all(p, topic, n, 3)
    for i, (err, msg) in enumerate(results):
        assert err is None, f"record {i}: {err}"
    # acks=0: the producer's "delivery" means "written to the socket", so the broker may still
    # be appending the last requests. Wait (bounded) for them to land before reading.
    deadline = time.monotonic() + 15
    while sum(high_watermarks(broker.bootstrap, topic, 3)) < n and time.monotonic() < deadline:
        time.sleep(0.1)
    recs = ck_consume_all(broker.bootstrap, topic, 3)
    for part in range(3):
        values = [r.value for r in recs[part]]
        expected = [f"m{i}".encode() for i in range(part, n, 3)]
        assert values == expected, f"partition {part}: {len(values)} records, expected {len(expected)}"
        assert [r.offset for r in recs[part]] == list(range(len(expected)))


@pytest.mark.parametrize("acks", [1, "all", -1])
def test_acks_1_and_all_report_offsets(broker, acks):
    topic = unique_topic("acks")
    ck_create_topic(broker.bootstrap, topic, 2)
    p = make_producer(broker.bootstrap, acks)
    n = 200
    results = produce_all(p, topic, n, 2)
    seen = {0: [], 1: []}
    for i, (err, msg) in enumerate(results):
        assert err is None, f"record {i}: {err}"
        assert msg.partition() == i % 2
        seen[msg.partition()].append(msg.offset())
    for part in (0, 1):
        assert seen[part] == list(range(n // 2)), f"partition {part}: offsets {seen[part][:10]}..."
    assert high_watermarks(broker.bootstrap, topic, 2) == [n // 2, n // 2]


def test_invalid_acks_with_confluent_kafka(broker):
    topic = unique_topic("acks2")
    ck_create_topic(broker.bootstrap, topic, 1)
    p = make_producer(broker.bootstrap, 2, retries=0)  # librdkafka accepts -1..1000 client-side
    results = produce_all(p, topic, 5, 1)
    for i, (err, msg) in enumerate(results):
        assert err is not None, f"record {i} with acks=2 was accepted at offset {msg.offset()}"
        assert err.code() == KafkaError.INVALID_REQUIRED_ACKS, f"record {i}: {err}"
    assert high_watermarks(broker.bootstrap, topic, 1) == [0], "records with invalid acks were appended"


@pytest.mark.parametrize("acks", [2, 3, -2, 100])
def test_invalid_acks_raw_every_partition(broker, acks):
    topic = unique_topic("acksraw")
    ck_create_topic(broker.bootstrap, topic, 2)
    batch = kw.record_batch([kw.Record(value=b"x")])
    # One request, two partitions and one unknown topic: every partition gets error 21.
    body = (
        kw.nullable_string(None)
        + kw.int16(acks)
        + kw.int32(10_000)
        + kw.array(
            [
                kw.string(topic) + kw.array([kw.int32(0) + kw.nbytes(batch), kw.int32(1) + kw.nbytes(batch)]),
            ]
        )
    )
    req = kw.frame(kw.request_header_v1(kw.PRODUCE, 3, 5, "strom-wire-test") + body)
    with kw.connect(broker.bootstrap) as s:
        corr, parts = kw.parse_produce_response_v3(kw.roundtrip(s, req))
    assert corr == 5
    assert [(p.topic, p.partition) for p in parts] == [(topic, 0), (topic, 1)], parts
    for part in parts:
        assert part.error_code == INVALID_REQUIRED_ACKS, f"acks={acks}: {part}"
        assert part.base_offset == -1, part
    assert high_watermarks(broker.bootstrap, topic, 2) == [0, 0]


def test_acks_0_sends_no_response_and_keeps_connection(broker):
    topic = unique_topic("acks0raw")
    ck_create_topic(broker.bootstrap, topic, 1)
    batch = kw.record_batch([kw.Record(value=b"fire-and-forget")])
    with kw.connect(broker.bootstrap) as s:
        s.sendall(kw.produce_request_v3(topic, 0, batch, acks=0, correlation_id=1))
        # The next response on the connection is that of the next request (no produce response).
        resp = kw.parse_api_versions_response_v0(kw.roundtrip(s, kw.api_versions_request_v0(correlation_id=2)))
        assert resp.correlation_id == 2, f"expected the ApiVersions response (2), got correlation id {resp.correlation_id}"
    assert high_watermarks(broker.bootstrap, topic, 1) == [1]


def test_acks_0_error_closes_connection(broker):
    """Kafka answers nothing to acks=0, so an error can only be signalled by closing."""
    batch = kw.record_batch([kw.Record(value=b"x")])
    with kw.connect(broker.bootstrap) as s:
        s.sendall(kw.produce_request_v3(unique_topic("missing"), 0, batch, acks=0, correlation_id=1))
        assert kw.closed_by_peer(s, timeout=10), "acks=0 produce to an unknown topic did not close the connection"
