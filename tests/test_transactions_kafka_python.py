"""Transactions with kafka-python 3 (pure Python, its own implementation of KIP-98/KIP-447 and
of the KIP-664 admin APIs), held to Apache Kafka's behaviour.

Exercised: a transactional KafkaProducer (InitProducerId, AddPartitionsToTxn, EndTxn) that
commits and aborts; KafkaConsumer with isolation_level='read_committed' (Fetch v4+ with
aborted transactions filtered) and 'read_uncommitted'; the same data read by librdkafka;
send_offsets_to_transaction with the consumer's group_metadata() (AddOffsetsToTxn,
TxnOffsetCommit) committed and aborted; fencing by a second producer with the same
transactional id; ListTransactions, DescribeTransactions and DescribeProducers through
KafkaAdminClient.
"""

from __future__ import annotations

import threading
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as kerrors
from kafka.structs import OffsetAndMetadata

from helpers import GROUP_BROKER_ARGS, ck_create_topic, unique_group, unique_topic, wait_until
from txn_helpers import READ_COMMITTED, ck_read, wait_stable

CALL_TIMEOUT_S = 30.0


def bounded(fn, *args, timeout: float = CALL_TIMEOUT_S):
    """Run a kafka-python call that may block without a timeout (commit_transaction,
    abort_transaction, send_offsets_to_transaction wait for the broker's answer forever) in a
    thread; fail the test instead of hanging the run."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise AssertionError(f"{getattr(fn, '__name__', fn)} did not return within {timeout} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def txn_producer(broker, tid: str, **kw) -> KafkaProducer:
    conf = dict(
        bootstrap_servers=broker.bootstrap,
        transactional_id=tid,
        transaction_timeout_ms=30000,
        request_timeout_ms=15000,
        max_block_ms=20000,
        linger_ms=5,
    )
    conf.update(kw)
    p = KafkaProducer(**conf)
    p.init_transactions()
    return p


def consumer(broker, isolation: str, **kw) -> KafkaConsumer:
    conf = dict(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15000,
        fetch_max_wait_ms=100,
        isolation_level=isolation,
    )
    conf.update(kw)
    return KafkaConsumer(**conf)


def read_all(broker, topic: str, partitions: int, isolation: str, timeout: float = 30.0) -> dict[int, list]:
    """assign + seek_to_beginning, read up to end_offsets (LSO under read_committed, after
    waiting until no transaction is open)."""
    if isolation == "read_committed":
        wait_stable(broker.bootstrap, topic, partitions)
    c = consumer(broker, isolation)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning()
        ends = c.end_offsets(tps)
        out = {p: [] for p in range(partitions)}
        deadline = time.monotonic() + timeout
        while any(c.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, (
                f"{isolation} read timed out: ends {ends}, "
                f"positions { {tp.partition: c.position(tp) for tp in tps} }"
            )
            for tp, recs in c.poll(timeout_ms=200).items():
                out[tp.partition].extend(recs)
        return out
    finally:
        c.close()


def send_all(p: KafkaProducer, topic: str, values: list[bytes], partition: int) -> list[int]:
    futures = [p.send(topic, value=v, partition=partition) for v in values]
    p.flush(timeout=30)
    return [f.get(timeout=20).offset for f in futures]


def test_commit_and_abort_with_read_committed_consumer(broker):
    topic = unique_topic("kptxn")
    ck_create_topic(broker.bootstrap, topic, 1)
    p = txn_producer(broker, unique_topic("tid"))
    p.begin_transaction()
    assert send_all(p, topic, [b"c0", b"c1", b"c2"], 0) == [0, 1, 2]
    bounded(p.commit_transaction)
    p.begin_transaction()
    assert send_all(p, topic, [b"a0", b"a1"], 0) == [4, 5]
    bounded(p.abort_transaction)
    p.begin_transaction()
    assert send_all(p, topic, [b"d0"], 0) == [7]
    bounded(p.commit_transaction)
    p.close(timeout=5)

    rc = read_all(broker, topic, 1, "read_committed")
    assert [(r.offset, r.value) for r in rc[0]] == [(0, b"c0"), (1, b"c1"), (2, b"c2"), (7, b"d0")]
    ru = read_all(broker, topic, 1, "read_uncommitted")
    assert [(r.offset, r.value) for r in ru[0]] == [
        (0, b"c0"), (1, b"c1"), (2, b"c2"), (4, b"a0"), (5, b"a1"), (7, b"d0")
    ]
    # The other client agrees.
    assert [(r.offset, r.value) for r in ck_read(broker.bootstrap, topic, 1, READ_COMMITTED)[0]] == [
        (0, b"c0"), (1, b"c1"), (2, b"c2"), (7, b"d0")
    ]


def test_read_committed_consumer_waits_for_open_transaction(broker):
    topic = unique_topic("kplso")
    ck_create_topic(broker.bootstrap, topic, 1)
    p = txn_producer(broker, unique_topic("tid"))
    p.begin_transaction()
    assert send_all(p, topic, [b"t0", b"t1"], 0) == [0, 1]
    c = consumer(broker, "read_committed")
    try:
        tp = TopicPartition(topic, 0)
        c.assign([tp])
        c.seek_to_beginning()
        assert c.end_offsets([tp])[tp] == 0, "read_committed end offset is not the LSO"
        got = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            got += c.poll(timeout_ms=100).get(tp, [])
        assert got == [], "read_committed consumer read an open transaction"
        bounded(p.commit_transaction)
        deadline = time.monotonic() + 15
        while len(got) < 2 and time.monotonic() < deadline:
            got += c.poll(timeout_ms=100).get(tp, [])
        assert [(r.offset, r.value) for r in got] == [(0, b"t0"), (1, b"t1")]
        assert c.end_offsets([tp])[tp] == 3
    finally:
        c.close()
        p.close(timeout=5)


def test_send_offsets_to_transaction(broker_factory):
    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    src, dst = unique_topic("kpin"), unique_topic("kpout")
    ck_create_topic(broker.bootstrap, src, 1)
    ck_create_topic(broker.bootstrap, dst, 1)
    plain = KafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=False, acks="all")
    for i in range(10):
        plain.send(src, value=f"in{i}".encode(), partition=0)
    plain.flush(timeout=30)
    plain.close()

    group = unique_group("kpeos")
    c = consumer(broker, "read_committed", group_id=group, session_timeout_ms=6000, heartbeat_interval_ms=1000)
    c.subscribe([src])
    records = []
    deadline = time.monotonic() + 30
    while len(records) < 10:
        assert time.monotonic() < deadline, f"consumed {len(records)} of 10 input records"
        # Long polls: kafka-python 3.0.12 loses a rejoin when poll() times out while its
        # JoinGroup/SyncGroup is in flight (see test_kafka_python_groups.py).
        for recs in c.poll(timeout_ms=3000).values():
            records.extend(recs)
    tp_in = TopicPartition(src, 0)
    p = txn_producer(broker, unique_topic("tid"))

    def run_txn(batch, end_offset: int, commit: bool):
        p.begin_transaction()
        for r in batch:
            p.send(dst, value=b"out-" + r.value, partition=0)
        bounded(p.send_offsets_to_transaction, {tp_in: OffsetAndMetadata(end_offset, "", -1)}, c.group_metadata())
        bounded(p.commit_transaction if commit else p.abort_transaction)

    def committed_offset() -> int | None:
        probe = consumer(broker, "read_committed", group_id=group)
        try:
            return probe.committed(tp_in)
        finally:
            probe.close()

    # Offsets of a committed transaction become visible to OffsetFetch with the markers.
    run_txn(records[:6], 6, commit=True)
    wait_until(lambda: committed_offset() == 6, 15, message="committed offset 6")
    run_txn(records[6:], 10, commit=False)
    time.sleep(0.5)
    assert committed_offset() == 6, "an aborted transaction's offsets were committed"
    run_txn(records[6:], 10, commit=True)
    wait_until(lambda: committed_offset() == 10, 15, message="committed offset 10")
    c.close()
    p.close(timeout=5)
    out = read_all(broker, dst, 1, "read_committed")
    assert [r.value for r in out[0]] == [f"out-in{i}".encode() for i in range(10)]


def test_second_producer_fences_the_first(broker):
    topic = unique_topic("kpfence")
    ck_create_topic(broker.bootstrap, topic, 1)
    tid = unique_topic("tid")
    old = txn_producer(broker, tid)
    old.begin_transaction()
    send_all(old, topic, [b"old"], 0)
    new = txn_producer(broker, tid)
    with pytest.raises(kerrors.KafkaError) as info:
        bounded(old.commit_transaction)
    # Kafka answers EndTxn with the old epoch with PRODUCER_FENCED (90) or, for clients that
    # speak KIP-588, INVALID_PRODUCER_EPOCH (47); either way the producer is done.
    assert isinstance(info.value, (kerrors.ProducerFencedError, kerrors.InvalidProducerEpochError)), repr(info.value)
    new.begin_transaction()
    send_all(new, topic, [b"new"], 0)
    bounded(new.commit_transaction)
    new.close(timeout=5)
    old.close(timeout=1)
    assert [r.value for r in read_all(broker, topic, 1, "read_committed")[0]] == [b"new"]


def test_admin_list_and_describe_transactions(broker):
    """KIP-664 admin APIs: ListTransactions (66), DescribeTransactions (65),
    DescribeProducers (61)."""
    from kafka.admin._transactions import TransactionState

    topic = unique_topic("kpadm")
    ck_create_topic(broker.bootstrap, topic, 2)
    tid = unique_topic("tid")
    p = txn_producer(broker, tid, transaction_timeout_ms=45000)
    pid = p._transaction_manager.producer_id_and_epoch.producer_id
    epoch = p._transaction_manager.producer_id_and_epoch.epoch
    p.begin_transaction()
    send_all(p, topic, [b"x"], 0)
    send_all(p, topic, [b"y", b"z"], 1)

    adm = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        listed = [t for txns in adm.list_transactions().values() for t in txns]
        mine = [t for t in listed if t.transactional_id == tid]
        assert len(mine) == 1, listed
        assert mine[0].producer_id == pid
        assert mine[0].state == TransactionState.ONGOING

        desc = adm.describe_transactions([tid])[tid]
        assert desc.state == TransactionState.ONGOING
        assert (desc.producer_id, desc.producer_epoch) == (pid, epoch)
        assert desc.transaction_timeout_ms == 45000
        assert desc.topic_partitions == {TopicPartition(topic, 0), TopicPartition(topic, 1)}
        assert desc.transaction_start_time_ms > 0

        producers = adm.describe_producers([TopicPartition(topic, 1)])[TopicPartition(topic, 1)].active_producers
        assert [(s.producer_id, s.producer_epoch) for s in producers] == [(pid, epoch)]
        assert producers[0].current_transaction_start_offset == 0
        assert producers[0].last_sequence == 1

        bounded(p.commit_transaction)
        # EndTxn answers once PrepareCommit is logged; the markers follow.
        desc = wait_until(
            lambda: (d := adm.describe_transactions([tid])[tid]).state == TransactionState.COMPLETE_COMMIT and d,
            15,
            message="CompleteCommit",
        )
        assert desc.topic_partitions == set()
        assert (desc.producer_id, desc.producer_epoch) == (pid, epoch)
        producers = adm.describe_producers([TopicPartition(topic, 1)])[TopicPartition(topic, 1)].active_producers
        assert producers[0].current_transaction_start_offset == -1

        ongoing = adm.list_transactions(state_filters=["Ongoing"])
        assert all(t.transactional_id != tid for txns in ongoing.values() for t in txns)
        with pytest.raises(kerrors.KafkaError):
            adm.describe_transactions([unique_topic("never-used")])
    finally:
        adm.close()
        p.close(timeout=5)
