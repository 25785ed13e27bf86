"""Record timestamps: LogAppendTime topics stamp the broker's append time (reported in the produce
response too), and CreateTime topics refuse timestamps outside message.timestamp.before.max.ms /
message.timestamp.after.max.ms with INVALID_TIMESTAMP (error 32), as Kafka 4 does."""

from __future__ import annotations

import time

from confluent_kafka import (
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_LOG_APPEND_TIME,
    Consumer,
    KafkaError,
    Producer,
    TopicPartition,
)

import kafka_wire as kw
from helpers import ck_consume_all, ck_create_topic, now_ms, unique_topic

INVALID_TIMESTAMP = 32
HOUR_MS = 3_600_000


def make_producer(bootstrap: str, **conf) -> Producer:
    c = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 15000,
        "retries": 0,
    }
    c.update(conf)
    return Producer(c)


def produce_collect(p: Producer, topic: str, records: list[dict]) -> list[tuple]:
    """Produce records (produce() kwargs); return [(err, msg)] in order."""
    out: list = [None] * len(records)

    def cb(i):
        def on_delivery(err, msg):
            out[i] = (err, msg)

        return on_delivery

    for i, r in enumerate(records):
        p.produce(topic, on_delivery=cb(i), **r)
        p.poll(0)
    assert p.flush(30) == 0, "records not delivered/failed within 30 s"
    return out


def raw_produce(bootstrap: str, topic: str, base_timestamp: int, deltas=(0,), partition: int = 0):
    batch = kw.record_batch([kw.Record(value=b"raw", timestamp_delta=d) for d in deltas], base_timestamp=base_timestamp)
    with kw.connect(bootstrap) as s:
        _, parts = kw.parse_produce_response_v3(
            kw.roundtrip(s, kw.produce_request_v3(topic, partition, batch, acks=-1, correlation_id=11))
        )
    assert len(parts) == 1, parts
    return parts[0]


def high_watermark(bootstrap: str, topic: str, partition: int = 0) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "strom-tests-unused"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)[1]
    finally:
        c.close()


def test_log_append_time_stamps_broker_time(broker):
    topic = unique_topic("lat")
    ck_create_topic(broker.bootstrap, topic, 1, config={"message.timestamp.type": "LogAppendTime"})
    p = make_producer(broker.bootstrap)
    # The producer's CreateTime is ignored (and not validated) on a LogAppendTime topic: an hour
    # old, a day in the future, or the epoch, the stored timestamp is the broker's clock.
    create_times = [now_ms() - HOUR_MS, now_ms() + 24 * HOUR_MS, 1, None]
    before = now_ms()
    results = produce_collect(
        p, topic, [{"value": f"r{i}".encode(), **({"timestamp": ts} if ts else {})} for i, ts in enumerate(create_times)]
    )
    after = now_ms()
    delivered = {}
    for i, (err, msg) in enumerate(results):
        assert err is None, f"record {i} (CreateTime {create_times[i]}) refused: {err}"
        ts_type, ts = msg.timestamp()
        # librdkafka reports the broker's log_append_time from the produce response
        assert ts_type == TIMESTAMP_LOG_APPEND_TIME, f"delivery report timestamp type {ts_type}, ts {ts}"
        assert before - 1000 <= ts <= after + 1000, f"delivery timestamp {ts} not in [{before}, {after}]"
        delivered[msg.offset()] = ts

    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "strom-tests-unused",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        deadline = time.monotonic() + 20
        while len(got) < len(create_times) and time.monotonic() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert m.error() is None, m.error()
            got.append(m)
    finally:
        c.close()
    assert len(got) == len(create_times), f"consumed {len(got)} of {len(create_times)}"
    for m in got:
        ts_type, ts = m.timestamp()
        assert ts_type == TIMESTAMP_LOG_APPEND_TIME, f"offset {m.offset()}: timestamp type {ts_type}"
        assert before - 1000 <= ts <= after + 1000, f"offset {m.offset()}: timestamp {ts} not in [{before}, {after}]"
        assert ts == delivered[m.offset()], (
            f"offset {m.offset()}: consumed timestamp {ts} != delivery report timestamp {delivered[m.offset()]}"
        )

    # The raw produce response carries the log_append_time too (Kafka: -1 for CreateTime topics).
    t0 = now_ms()
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=12345)
    t1 = now_ms()
    assert resp.error_code == 0, resp
    assert t0 - 1000 <= resp.log_append_time <= t1 + 1000, resp


def test_create_time_topic_reports_no_log_append_time(broker):
    topic = unique_topic("ct")
    ck_create_topic(broker.bootstrap, topic, 1)
    ts = now_ms() - 5000
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=ts)
    assert resp.error_code == 0, resp
    assert resp.log_append_time == -1, f"CreateTime topic: log_append_time {resp.log_append_time}, expected -1"
    recs = ck_consume_all(broker.bootstrap, topic, 1)[0]
    assert [r.timestamp for r in recs] == [ts]


def test_timestamp_bounds_refuse_with_invalid_timestamp(broker):
    topic = unique_topic("tsb")
    ck_create_topic(broker.bootstrap, topic, 1, config={"message.timestamp.before.max.ms": "60000"})
    p = make_producer(broker.bootstrap)
    now = now_ms()
    cases = [
        ("2 minutes old", now - 120_000, False),
        ("10 s old", now - 10_000, True),
        ("30 minutes ahead", now + 30 * 60_000, True),
        ("2 hours ahead (after.max.ms default 1 h)", now + 2 * HOUR_MS, False),
        ("now", now, True),
    ]
    # One record per batch (flush in between): a batch is accepted or refused as a whole.
    results = [produce_collect(p, topic, [{"value": name.encode(), "timestamp": ts}])[0] for name, ts, _ in cases]
    for (name, ts, ok), (err, msg) in zip(cases, results):
        if ok:
            assert err is None, f"{name}: refused with {err}"
            assert msg.timestamp() == (TIMESTAMP_CREATE_TIME, ts), f"{name}: {msg.timestamp()}"
        else:
            assert err is not None, f"{name} (timestamp {ts}, now {now}) was accepted at offset {msg.offset()}"
            assert err.code() == KafkaError.INVALID_TIMESTAMP, f"{name}: expected INVALID_TIMESTAMP, got {err}"
    accepted = [name.encode() for name, _, ok in cases if ok]
    recs = ck_consume_all(broker.bootstrap, topic, 1)[0]
    assert sorted(r.value for r in recs) == sorted(accepted), [r.value for r in recs]

    # The same on the wire: error 32 and nothing appended.
    hw = high_watermark(broker.bootstrap, topic)
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=now_ms() - 120_000)
    assert resp.error_code == INVALID_TIMESTAMP, resp
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=now_ms() + 2 * HOUR_MS)
    assert resp.error_code == INVALID_TIMESTAMP, resp
    # One record out of bounds refuses the whole batch (Kafka validates every record).
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=now_ms(), deltas=(0, -200_000))
    assert resp.error_code == INVALID_TIMESTAMP, resp
    assert high_watermark(broker.bootstrap, topic) == hw, "a refused batch was appended"


def test_default_topic_accepts_old_but_not_far_future(broker):
    """Defaults: before.max.ms is Long.MAX (any past timestamp), after.max.ms one hour."""
    topic = unique_topic("tsd")
    ck_create_topic(broker.bootstrap, topic, 1)
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=now_ms() - 365 * 24 * HOUR_MS)
    assert resp.error_code == 0, resp
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=now_ms() + 2 * HOUR_MS)
    assert resp.error_code == INVALID_TIMESTAMP, resp
    resp = raw_produce(broker.bootstrap, topic, base_timestamp=now_ms() + HOUR_MS // 2)
    assert resp.error_code == 0, resp


def test_mixed_batch_names_the_bad_records(broker):
    """One batch holding good and bad timestamps is refused whole with INVALID_TIMESTAMP, and the
    response's record_errors (KIP-467) name exactly the bad records: librdkafka then fails those
    with INVALID_RECORD and the others with _INVALID_DIFFERENT_RECORD."""
    topic = unique_topic("tsmix")
    ck_create_topic(broker.bootstrap, topic, 1, config={"message.timestamp.before.max.ms": "60000"})
    p = make_producer(broker.bootstrap, **{"linger.ms": 200})
    now = now_ms()
    tss = [now - 120_000, now - 10_000, now + 30 * 60_000, now + 2 * HOUR_MS, now]
    bad = {0, 3}
    results = produce_collect(p, topic, [{"value": f"x{i}".encode(), "timestamp": ts} for i, ts in enumerate(tss)])
    for i, (err, msg) in enumerate(results):
        assert err is not None, f"record {i} accepted although its batch holds invalid timestamps"
        expected = KafkaError.INVALID_RECORD if i in bad else KafkaError._INVALID_DIFFERENT_RECORD
        assert err.code() == expected, f"record {i}: {err} (expected {expected}; bad records {bad})"
    assert high_watermark(broker.bootstrap, topic) == 0
