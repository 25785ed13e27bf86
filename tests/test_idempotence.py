"""The idempotent producer (KIP-98), held to Apache Kafka's behaviour.

* confluent-kafka (librdkafka 2.12) with enable.idempotence=true: InitProducerId, producer id
  and per-partition sequence numbers in every batch, up to 5 batches in flight; every record
  lands exactly once, in order; also across a broker restart.
* kafka-python 3's default producer (idempotent by default, like the Java client).
* Raw wire (kafka_wire_txn.py): InitProducerId (key 22, v1 or the nearest advertised version)
  and Produce v3 batches carrying producerId/producerEpoch/baseSequence:
  - a retried batch (same producer id, epoch, base sequence) is answered with NONE and the
    offset of the original, and is not appended again; this holds for each of the last 5
    batches of a producer and after a broker restart (clean or SIGKILL), since the producer
    state is rebuilt from the log;
  - a gap in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER (45) and appends nothing;
  - a batch with an epoch lower than the partition has seen is INVALID_PRODUCER_EPOCH (47;
    Kafka >= 2.7 answers that, not PRODUCER_FENCED, on Produce);
  - a new (client-bumped) epoch must start at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER;
  - InitProducerId in every advertised version (v0-v1 classic, v2+ flexible).
"""

from __future__ import annotations

from dataclasses import astuple

import pytest
from kafka import KafkaProducer

from helpers import ck_consume_all, ck_create_topic, unique_topic
from kafka_wire import Record, api_versions, record_batch
from kafka_wire_txn import (
    INIT_PRODUCER_ID,
    INVALID_PRODUCER_EPOCH,
    NONE,
    OUT_OF_ORDER_SEQUENCE_NUMBER,
    WireProducer,
    high_watermarks_v2,
    init_producer_id,
    values_batch,
)
from txn_helpers import Deliveries, ck_producer


def log_values(bootstrap: str, topic: str, partitions: int) -> dict[int, list[tuple[int, bytes]]]:
    logs = ck_consume_all(bootstrap, topic, partitions)
    return {p: [(r.offset, r.value) for r in logs[p]] for p in range(partitions)}


def new_pid(bootstrap: str) -> tuple[int, int]:
    resp = init_producer_id(bootstrap, None)
    assert resp.error_code == NONE, f"InitProducerId error {resp.error_code}"
    assert resp.producer_id >= 0 and resp.producer_epoch == 0, resp
    return resp.producer_id, resp.producer_epoch


# --- clients -----------------------------------------------------------------------------


def test_confluent_idempotent_producer_exactly_once_in_order(broker):
    topic = unique_topic("idem")
    partitions, n = 3, 3000
    ck_create_topic(broker.bootstrap, topic, partitions)
    p = ck_producer(
        broker.bootstrap,
        **{
            "enable.idempotence": True,
            "linger.ms": 2,
            "batch.num.messages": 50,  # many small batches, several in flight per partition
            "max.in.flight.requests.per.connection": 5,
        },
    )
    dr = Deliveries()
    for i in range(n):
        p.produce(topic, value=f"v{i}".encode(), key=f"k{i}".encode(), partition=i % partitions, on_delivery=dr)
        if i % 100 == 0:
            p.poll(0)
    assert p.flush(30) == 0
    assert not dr.errors, dr.errors[:5]
    for part in range(partitions):
        acked = [(o, v) for pp, o, v in dr.ok if pp == part]
        expected = [f"v{i}".encode() for i in range(part, n, partitions)]
        assert sorted(acked) == list(enumerate(expected)), f"partition {part}: acknowledged offsets"
    logs = log_values(broker.bootstrap, topic, partitions)
    for part in range(partitions):
        expected = [f"v{i}".encode() for i in range(part, n, partitions)]
        assert logs[part] == list(enumerate(expected)), f"partition {part}: log is not each record once, in order"


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_confluent_idempotent_producer_across_broker_restart(broker_factory, how):
    """One idempotent producer keeps going across a broker restart: nothing lost, nothing
    twice, order kept (librdkafka retries its in-flight batches with their sequences)."""
    b = broker_factory()
    topic = unique_topic("idemr")
    ck_create_topic(b.bootstrap, topic, 2)
    p = ck_producer(b.bootstrap, **{"enable.idempotence": True, "message.timeout.ms": 30000,
                                     "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200})
    dr = Deliveries()
    for i in range(400):
        p.produce(topic, value=f"a{i}".encode(), partition=i % 2, on_delivery=dr)
    assert p.flush(30) == 0
    b.stop() if how == "stop" else b.kill()
    b.restart()
    for i in range(400):
        p.produce(topic, value=f"b{i}".encode(), partition=i % 2, on_delivery=dr)
    assert p.flush(30) == 0
    assert not dr.errors, dr.errors[:5]
    logs = log_values(b.bootstrap, topic, 2)
    for part in range(2):
        expected = [f"{tag}{i}".encode() for tag in "ab" for i in range(part, 400, 2)]
        assert logs[part] == list(enumerate(expected))


def test_kafka_python_default_producer_is_idempotent(broker):
    topic = unique_topic("kpidem")
    ck_create_topic(broker.bootstrap, topic, 3)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000, linger_ms=5)
    futures = [p.send(topic, value=f"i{i}".encode(), partition=i % 3) for i in range(600)]
    p.flush(timeout=30)
    mds = [f.get(timeout=20) for f in futures]
    tm = getattr(p, "_transaction_manager", None)
    if tm is not None:  # kafka-python internals: the producer id it got from InitProducerId
        assert tm.producer_id_and_epoch.producer_id >= 0, tm.producer_id_and_epoch
    p.close()
    assert sorted((m.partition, m.offset) for m in mds) == sorted((i % 3, i // 3) for i in range(600))
    logs = log_values(broker.bootstrap, topic, 3)
    for part in range(3):
        assert logs[part] == list(enumerate(f"i{i}".encode() for i in range(part, 600, 3)))


# --- wire level --------------------------------------------------------------------------


def test_wire_init_producer_id_without_transactional_id(broker):
    """A null transactional id always gets a fresh producer id with epoch 0."""
    a = new_pid(broker.bootstrap)
    b = new_pid(broker.bootstrap)
    assert a[0] != b[0], f"two InitProducerId calls returned the same producer id {a[0]}"


def test_wire_retried_batch_is_deduplicated(broker):
    topic = unique_topic("dedup")
    ck_create_topic(broker.bootstrap, topic, 2)
    pid, epoch = new_pid(broker.bootstrap)
    b0 = values_batch([b"a0", b"a1", b"a2"], pid, epoch, 0)
    b3 = values_batch([b"a3", b"a4"], pid, epoch, 3)
    with WireProducer(broker.bootstrap) as w:
        first = w.produce(topic, 0, b0)
        assert (first.error_code, first.base_offset) == (NONE, 0)
        retry = w.produce(topic, 0, b0)
        assert (retry.error_code, retry.base_offset) == (NONE, 0), f"retry of sequence 0 answered {retry}"
        # A record from another (non-idempotent) producer in between.
        other = w.produce(topic, 0, record_batch([Record(b"plain")]))
        assert (other.error_code, other.base_offset) == (NONE, 3)
        nxt = w.produce(topic, 0, b3)
        assert (nxt.error_code, nxt.base_offset) == (NONE, 4)
        # Retries of both earlier batches: the original offsets, nothing appended.
        assert astuple(w.produce(topic, 0, b0)) == (NONE, 0)
        assert astuple(w.produce(topic, 0, b3)) == (NONE, 4)
        # Sequences are per partition: sequence 0 on partition 1 is new there.
        p1 = w.produce(topic, 1, b0)
        assert (p1.error_code, p1.base_offset) == (NONE, 0)
    logs = log_values(broker.bootstrap, topic, 2)
    assert logs[0] == [(0, b"a0"), (1, b"a1"), (2, b"a2"), (3, b"plain"), (4, b"a3"), (5, b"a4")]
    assert logs[1] == [(0, b"a0"), (1, b"a1"), (2, b"a2")]
    assert high_watermarks_v2(broker.bootstrap, topic, 2) == {0: 6, 1: 3}


def test_wire_each_of_five_inflight_batches_is_deduplicated(broker):
    """Kafka keeps the metadata of a producer's last 5 batches per partition
    (max.in.flight.requests.per.connection <= 5 for idempotence): a retry of any is a dup."""
    topic = unique_topic("dedup5")
    ck_create_topic(broker.bootstrap, topic, 1)
    pid, epoch = new_pid(broker.bootstrap)
    batches = [values_batch([f"r{s}a".encode(), f"r{s}b".encode()], pid, epoch, 2 * s) for s in range(5)]
    with WireProducer(broker.bootstrap) as w:
        for s, b in enumerate(batches):
            r = w.produce(topic, 0, b)
            assert (r.error_code, r.base_offset) == (NONE, 2 * s)
        for s, b in enumerate(batches):
            r = w.produce(topic, 0, b)
            assert (r.error_code, r.base_offset) == (NONE, 2 * s), f"retry of batch {s} answered {r}"
    assert high_watermarks_v2(broker.bootstrap, topic, 1) == {0: 10}
    logs = log_values(broker.bootstrap, topic, 1)
    assert [v for _, v in logs[0]] == [f"r{s}{x}".encode() for s in range(5) for x in "ab"]


def test_wire_out_of_order_sequence_is_rejected(broker):
    topic = unique_topic("ooo")
    ck_create_topic(broker.bootstrap, topic, 1)
    pid, epoch = new_pid(broker.bootstrap)
    with WireProducer(broker.bootstrap) as w:
        r = w.produce(topic, 0, values_batch([b"s0"], pid, epoch, 0))
        assert (r.error_code, r.base_offset) == (NONE, 0)
        gap = w.produce(topic, 0, values_batch([b"s5"], pid, epoch, 5))
        assert gap.error_code == OUT_OF_ORDER_SEQUENCE_NUMBER, f"sequence 5 after 0 answered {gap}"
        # The rejected batch changed nothing: sequence 1 is still the next one.
        r = w.produce(topic, 0, values_batch([b"s1"], pid, epoch, 1))
        assert (r.error_code, r.base_offset) == (NONE, 1)
    assert log_values(broker.bootstrap, topic, 1)[0] == [(0, b"s0"), (1, b"s1")]


def test_wire_stale_epoch_is_rejected(broker):
    """An idempotent (non-transactional) producer bumps its epoch on its own (the Java
    client does after an unresolved sequence): the partition then refuses the old epoch."""
    topic = unique_topic("epoch")
    ck_create_topic(broker.bootstrap, topic, 1)
    pid, epoch = new_pid(broker.bootstrap)
    with WireProducer(broker.bootstrap) as w:
        r = w.produce(topic, 0, values_batch([b"e0-0", b"e0-1"], pid, epoch, 0))
        assert (r.error_code, r.base_offset) == (NONE, 0)
        r = w.produce(topic, 0, values_batch([b"e1-0"], pid, epoch + 1, 0))
        assert (r.error_code, r.base_offset) == (NONE, 2), f"bumped epoch starting at sequence 0 answered {r}"
        stale = w.produce(topic, 0, values_batch([b"e0-2"], pid, epoch, 2))
        assert stale.error_code == INVALID_PRODUCER_EPOCH, f"produce with the old epoch answered {stale}"
        bad = w.produce(topic, 0, values_batch([b"e2-7"], pid, epoch + 2, 7))
        assert bad.error_code == OUT_OF_ORDER_SEQUENCE_NUMBER, f"new epoch at sequence 7 answered {bad}"
        r = w.produce(topic, 0, values_batch([b"e1-1"], pid, epoch + 1, 1))
        assert (r.error_code, r.base_offset) == (NONE, 3)
    assert [v for _, v in log_values(broker.bootstrap, topic, 1)[0]] == [b"e0-0", b"e0-1", b"e1-0", b"e1-1"]


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_wire_dedup_survives_broker_restart(broker_factory, how):
    """The producer state (last batches per producer) is rebuilt on start-up, after a clean
    stop and after SIGKILL, so a retry that arrives after the restart is still a duplicate."""
    b = broker_factory()
    topic = unique_topic("deduprs")
    ck_create_topic(b.bootstrap, topic, 1)
    pid, epoch = new_pid(b.bootstrap)
    b0 = values_batch([b"x0", b"x1", b"x2"], pid, epoch, 0)
    b3 = values_batch([b"x3", b"x4"], pid, epoch, 3)
    with WireProducer(b.bootstrap) as w:
        assert astuple(w.produce(topic, 0, b0)) == (NONE, 0)
        assert astuple(w.produce(topic, 0, b3)) == (NONE, 3)
    b.stop() if how == "stop" else b.kill()
    b.restart()
    with WireProducer(b.bootstrap) as w:
        r = w.produce(topic, 0, b3)
        assert (r.error_code, r.base_offset) == (NONE, 3), f"retry of the last batch after restart answered {r}"
        r = w.produce(topic, 0, b0)
        assert (r.error_code, r.base_offset) == (NONE, 0), f"retry of an earlier batch after restart answered {r}"
        r = w.produce(topic, 0, values_batch([b"x9"], pid, epoch, 9))
        assert r.error_code == OUT_OF_ORDER_SEQUENCE_NUMBER, f"a gap after restart answered {r}"
        r = w.produce(topic, 0, values_batch([b"x5"], pid, epoch, 5))
        assert (r.error_code, r.base_offset) == (NONE, 5)
    assert [v for _, v in log_values(b.bootstrap, topic, 1)[0]] == [f"x{i}".encode() for i in range(6)]


def test_wire_init_producer_id_every_advertised_version(broker):
    """InitProducerId in each version the broker advertises (v0-v1 classic, v2+ flexible with
    compact strings and tagged fields, v3+ with the current producer id and epoch, which are
    -1/-1 for a new producer)."""
    lo, hi = api_versions(broker.bootstrap).api_keys[INIT_PRODUCER_ID]
    assert lo <= 1 and hi >= 3, f"InitProducerId versions {lo}..{hi} (Kafka 3.x/4.x: 0..5)"
    pids = set()
    for v in range(lo, min(hi, 5) + 1):
        resp = init_producer_id(broker.bootstrap, None, version=v)
        assert (resp.error_code, resp.producer_epoch) == (NONE, 0), f"v{v}: {resp}"
        pids.add(resp.producer_id)
    assert len(pids) == min(hi, 5) + 1 - lo, "a producer id was handed out twice"
