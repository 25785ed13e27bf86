"""Transactions (KIP-98, KIP-447) with confluent-kafka (librdkafka 2.12), held to Apache
Kafka's behaviour.

Exercised: InitProducerId with a transactional id (raw wire: epoch bump, timeout
bound; and through librdkafka), AddPartitionsToTxn, transactional Produce,
EndTxn and the COMMIT/ABORT control records (markers) they leave in each partition,
AddOffsetsToTxn + TxnOffsetCommit (send_offsets_to_transaction with the consumer's group
metadata), Fetch with isolation_level READ_COMMITTED (aborted data filtered, nothing past the
last stable offset) and READ_UNCOMMITTED, ListOffsets v2 LATEST under both isolation levels
(LSO vs high watermark), OffsetFetch of offsets committed in a transaction (require_stable),
producer fencing by transactional id (a second InitProducerId bumps the epoch), the
coordinator aborting a transaction that outlives transaction.timeout.ms, a broker restart
(clean and SIGKILL) in the middle of a transaction, and the `strom txn` CLI.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from helpers import (
    GROUP_BROKER_ARGS,
    GROUP_HEARTBEAT_MS,
    GROUP_SESSION_TIMEOUT_MS,
    ck_create_topic,
    ck_produce_per_partition,
    unique_group,
    unique_topic,
    wait_until,
)
from kafka_wire_txn import (
    INVALID_TRANSACTION_TIMEOUT,
    NONE,
    high_watermarks_v2,
    init_producer_id,
    last_stable_offsets,
)
from txn_helpers import (
    READ_COMMITTED,
    READ_UNCOMMITTED,
    Deliveries,
    ck_abort,
    ck_commit,
    ck_consumer,
    ck_produce,
    ck_producer,
    ck_read,
    ck_txn_producer,
    offsets_and_values,
    strom_cli,
    wait_stable,
)

# Broker flags for the timer-driven tests: look for timed-out transactions every 500 ms
# (Kafka's default is 10 s).
FAST_TXN_TIMERS = ["--set", "transaction.abort.timed.out.transaction.cleanup.interval.ms=500"]


def fenced(err: KafkaError) -> bool:
    return err.fatal() or err.code() in (
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    )


# --- InitProducerId with a transactional id (raw wire) -----------------------------------


def test_wire_init_producer_id_with_transactional_id(broker):
    """The same transactional id keeps its producer id and gets the next epoch on each
    InitProducerId; a timeout above transaction.max.timeout.ms (default 900000) is
    INVALID_TRANSACTION_TIMEOUT."""
    tid = unique_topic("tid")
    first = init_producer_id(broker.bootstrap, tid, 10_000)
    assert first.error_code == NONE and first.producer_id >= 0 and first.producer_epoch >= 0, first
    second = init_producer_id(broker.bootstrap, tid, 10_000)
    assert second.error_code == NONE, second
    assert (second.producer_id, second.producer_epoch) == (first.producer_id, first.producer_epoch + 1)
    other = init_producer_id(broker.bootstrap, unique_topic("tid"), 10_000)
    assert other.error_code == NONE and other.producer_id != first.producer_id, other
    too_long = init_producer_id(broker.bootstrap, unique_topic("tid"), 900_001)
    assert too_long.error_code == INVALID_TRANSACTION_TIMEOUT, too_long


# --- commit, abort, isolation levels ------------------------------------------------------


def test_commit_and_abort_under_both_isolation_levels(broker):
    """Three transactions over two partitions: commit, abort, commit. Each leaves one control
    record per partition, so offsets skip one after each; read_committed sees the committed
    records only, read_uncommitted the aborted ones too, never the markers."""
    topic = unique_topic("txn")
    ck_create_topic(broker.bootstrap, topic, 2)
    p = ck_txn_producer(broker.bootstrap, unique_topic("tid"))
    dr = Deliveries()
    plan = [("A", 3, "commit"), ("B", 2, "abort"), ("C", 2, "commit")]
    for name, n, outcome in plan:
        p.begin_transaction()
        for part in (0, 1):
            ck_produce(p, topic, [f"{name}{part}-{i}".encode() for i in range(n)], part, dr, flush=False)
        if outcome == "commit":
            ck_commit(p)
        else:
            assert p.flush(30) == 0
            ck_abort(p)
    assert not dr.errors, dr.errors
    for part in (0, 1):
        # A at 0..2, its marker at 3, B at 4..5, marker 6, C at 7..8, marker 9.
        assert sorted(dr.offsets(part)) == [0, 1, 2, 4, 5, 7, 8], f"partition {part}: acknowledged offsets"
    assert wait_stable(broker.bootstrap, topic, 2) == {0: 10, 1: 10}

    committed = ck_read(broker.bootstrap, topic, 2, READ_COMMITTED)
    uncommitted = ck_read(broker.bootstrap, topic, 2, READ_UNCOMMITTED)
    for part in (0, 1):
        assert offsets_and_values(committed[part]) == [
            (0, f"A{part}-0".encode()), (1, f"A{part}-1".encode()), (2, f"A{part}-2".encode()),
            (7, f"C{part}-0".encode()), (8, f"C{part}-1".encode()),
        ]
        assert offsets_and_values(uncommitted[part]) == [
            (0, f"A{part}-0".encode()), (1, f"A{part}-1".encode()), (2, f"A{part}-2".encode()),
            (4, f"B{part}-0".encode()), (5, f"B{part}-1".encode()),
            (7, f"C{part}-0".encode()), (8, f"C{part}-1".encode()),
        ]
    p.flush(5)


def test_open_transaction_holds_back_read_committed(broker):
    """While a transaction is open, ListOffsets LATEST under READ_COMMITTED answers its first
    offset (the LSO) and a read_committed consumer gets nothing from there on, not even the
    non-transactional records written after it; both move on at commit."""
    topic = unique_topic("lso")
    ck_create_topic(broker.bootstrap, topic, 1)
    plain = ck_producer(broker.bootstrap)
    ck_produce(plain, topic, [b"before-0", b"before-1"], 0)
    txp = ck_txn_producer(broker.bootstrap, unique_topic("tid"))
    txp.begin_transaction()
    tdr = ck_produce(txp, topic, [b"txn-0", b"txn-1", b"txn-2"], 0)
    assert tdr.offsets(0) == [2, 3, 4]
    ck_produce(plain, topic, [b"after-0", b"after-1"], 0)

    assert high_watermarks_v2(broker.bootstrap, topic, 1) == {0: 7}
    assert last_stable_offsets(broker.bootstrap, topic, 1) == {0: 2}
    rc = ck_consumer(broker.bootstrap, READ_COMMITTED)
    ru = ck_consumer(broker.bootstrap, READ_UNCOMMITTED)
    try:
        # librdkafka's watermark query sends ListOffsets with the consumer's isolation level.
        tp = TopicPartition(topic, 0)
        assert rc.get_watermark_offsets(tp, timeout=10, cached=False)[1] == 2
        assert ru.get_watermark_offsets(tp, timeout=10, cached=False)[1] == 7

        rc.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        seen: list[tuple[int, bytes]] = []

        def poll_for(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                m = rc.poll(0.1)
                if m is not None and not m.error():
                    seen.append((m.offset(), m.value()))

        poll_for(2.0)
        assert seen == [(0, b"before-0"), (1, b"before-1")], "read_committed read past the open transaction"

        ck_commit(txp)
        assert wait_stable(broker.bootstrap, topic, 1) == {0: 8}  # marker at 7
        wait_until(lambda: poll_for(0.3) or len(seen) >= 7, 15, message="records after the commit")
        poll_for(0.5)
        assert seen == [
            (0, b"before-0"), (1, b"before-1"), (2, b"txn-0"), (3, b"txn-1"), (4, b"txn-2"),
            (5, b"after-0"), (6, b"after-1"),
        ]
        assert rc.get_watermark_offsets(tp, timeout=10, cached=False)[1] == 8
    finally:
        rc.close()
        ru.close()


# --- consume-transform-produce ------------------------------------------------------------


class Pipe:
    """One member of a consume-transform-produce pipeline: a read_committed group consumer and
    its own transactional producer. Each step takes a few input records and, in one
    transaction, writes "out-<value>" to the same partition of the output topic and commits
    the consumer's position with send_offsets_to_transaction."""

    def __init__(self, broker, group: str, src: str, dst: str, name: str):
        self.name = name
        self.src, self.dst = src, dst
        self.processed = 0
        self.aborts = 0
        self.committed: dict[int, int] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": group,
                "client.id": name,
                "isolation.level": READ_COMMITTED,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
                "heartbeat.interval.ms": GROUP_HEARTBEAT_MS,
                "partition.assignment.strategy": "range",
                "fetch.wait.max.ms": 100,
            }
        )
        self.consumer.subscribe([src])
        self.producer = ck_txn_producer(broker.bootstrap, f"{group}-{name}")

    def owned(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}

    def step(self, max_records: int = 5) -> int:
        msgs = self.consumer.consume(num_messages=max_records, timeout=0.1)
        for m in msgs:
            assert not m.error(), f"{self.name}: consume error {m.error()}"
        if not msgs:
            return 0
        parts = sorted({m.partition() for m in msgs})
        self.producer.begin_transaction()
        try:
            for m in msgs:
                self.producer.produce(self.dst, value=b"out-" + m.value(), key=m.key(), partition=m.partition())
            positions = self.consumer.position([TopicPartition(self.src, p) for p in parts])
            self.producer.send_offsets_to_transaction(positions, self.consumer.consumer_group_metadata(), 30)
            ck_commit(self.producer)
        except KafkaException as e:
            # A rebalance between consume() and the commit makes the offsets stale
            # (ILLEGAL_GENERATION and the like): abort and go back to the committed offsets.
            assert e.args[0].txn_requires_abort(), f"{self.name}: {e}"
            ck_abort(self.producer)
            self.aborts += 1
            self.rewind()
            return 0
        for tp in positions:
            self.committed[tp.partition] = max(self.committed.get(tp.partition, 0), tp.offset)
        self.processed += len(msgs)
        return len(msgs)

    def rewind(self) -> None:
        assignment = self.consumer.assignment()
        if not assignment:
            return
        for tp in self.consumer.committed(assignment, timeout=10):
            offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            self.consumer.seek(TopicPartition(tp.topic, tp.partition, offset))

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush(5)


def test_consume_transform_produce_exactly_once_across_rebalance(broker_factory):
    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    src, dst = unique_topic("in"), unique_topic("out")
    partitions, per_partition = 3, 40
    ck_create_topic(broker.bootstrap, src, partitions)
    ck_create_topic(broker.bootstrap, dst, partitions)
    ck_produce_per_partition(broker.bootstrap, src, partitions, per_partition, tag="in")
    group = unique_group("eos")

    a = Pipe(broker, group, src, dst, "a")
    b = None
    try:
        # Phase 1: one member, a few transactions (fewer records than one partition holds,
        # so every partition still has input left for whoever owns it next).
        deadline = time.monotonic() + 30
        while a.processed < 12:
            a.step(4)
            assert time.monotonic() < deadline, f"member a processed only {a.processed} records"
        # Phase 2: a second member joins; a holds back until the rebalance has given b some
        # partitions, then both run the pipeline to the end.
        a.consumer.pause(list(a.consumer.assignment()))
        b = Pipe(broker, group, src, dst, "b")
        deadline = time.monotonic() + 40
        while not (b.owned() and a.owned() and not (a.owned() & b.owned())
                   and (a.owned() | b.owned()) == set(range(partitions))):
            a.consumer.consume(num_messages=1, timeout=0.05)  # paused: serves the rebalance only
            b.step()
            assert time.monotonic() < deadline, f"no rebalance: a owns {a.owned()}, b owns {b.owned()}"
        a.consumer.resume(list(a.consumer.assignment()))

        def done() -> bool:
            merged: dict[int, int] = {}
            for m in (a, b):
                for p, off in m.committed.items():
                    merged[p] = max(merged.get(p, 0), off)
            return all(merged.get(p, 0) >= per_partition for p in range(partitions))

        deadline = time.monotonic() + 60
        while not done():
            a.step()
            b.step()
            assert time.monotonic() < deadline, (
                f"pipeline stalled: a committed {a.committed} owns {a.owned()}, "
                f"b committed {b.committed} owns {b.owned()}"
            )
        assert b.processed > 0, "the member that joined processed nothing"
        print(f"a processed {a.processed} (aborts {a.aborts}), b processed {b.processed} (aborts {b.aborts})")
    finally:
        a.close()
        if b is not None:
            b.close()

    out = ck_read(broker.bootstrap, dst, partitions, READ_COMMITTED)
    for p in range(partitions):
        got = [r.value for r in out[p]]
        expected = [f"out-in-{p}-{i}".encode() for i in range(per_partition)]
        dups = sorted({v for v in got if got.count(v) > 1})[:5]
        missing = [v for v in expected if v not in got][:5]
        assert got == expected, f"output partition {p}: {len(got)} records, duplicates {dups}, missing {missing}"

    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "isolation.level": READ_COMMITTED})
    try:
        committed = c.committed([TopicPartition(src, p) for p in range(partitions)], timeout=10)
    finally:
        c.close()
    assert {tp.partition: tp.offset for tp in committed} == {p: per_partition for p in range(partitions)}


# --- fencing and timeouts -----------------------------------------------------------------


def test_zombie_producer_is_fenced(broker):
    """A second producer with the same transactional.id bumps the epoch, which aborts the
    first one's open transaction; the first one's next operation fails as fenced (fatal)."""
    topic = unique_topic("zombie")
    ck_create_topic(broker.bootstrap, topic, 1)
    tid = unique_topic("tid")
    old = ck_txn_producer(broker.bootstrap, tid)
    old.begin_transaction()
    ck_produce(old, topic, [b"zombie-0", b"zombie-1"], 0)

    new = ck_txn_producer(broker.bootstrap, tid)
    with pytest.raises(KafkaException) as info:
        old.commit_transaction(15)
    err = info.value.args[0]
    assert fenced(err), f"the fenced producer's commit failed with {err!r} (not fatal, not fenced)"

    new.begin_transaction()
    ck_produce(new, topic, [b"new-0"], 0)
    ck_commit(new)
    committed = ck_read(broker.bootstrap, topic, 1, READ_COMMITTED)
    assert [r.value for r in committed[0]] == [b"new-0"]
    uncommitted = ck_read(broker.bootstrap, topic, 1, READ_UNCOMMITTED)
    assert [r.value for r in uncommitted[0]] == [b"zombie-0", b"zombie-1", b"new-0"]


def test_hung_transaction_is_aborted_after_its_timeout(broker_factory):
    broker = broker_factory(extra_args=FAST_TXN_TIMERS)
    topic = unique_topic("hung")
    ck_create_topic(broker.bootstrap, topic, 1)
    tid = unique_topic("tid")
    p = ck_txn_producer(
        broker.bootstrap, tid,
        **{"transaction.timeout.ms": 2000, "message.timeout.ms": 2000, "socket.timeout.ms": 2000},
    )
    p.begin_transaction()
    ck_produce(p, topic, [b"hung-0", b"hung-1", b"hung-2"], 0)
    assert last_stable_offsets(broker.bootstrap, topic, 1) == {0: 0}
    started = time.monotonic()

    # The coordinator aborts it: an abort marker at 3, and the LSO catches up with the HWM.
    wait_until(
        lambda: last_stable_offsets(broker.bootstrap, topic, 1) == {0: 4}
        == high_watermarks_v2(broker.bootstrap, topic, 1),
        20,
        interval=0.2,
        message="the timed-out transaction to be aborted (LSO = HWM = 4)",
    )
    elapsed = time.monotonic() - started
    assert elapsed >= 1.0, f"aborted after {elapsed:.1f} s, before its 2 s timeout"
    assert ck_read(broker.bootstrap, topic, 1, READ_COMMITTED)[0] == []

    with pytest.raises(KafkaException) as info:
        p.commit_transaction(15)
    print(f"commit after the coordinator's abort: {info.value.args[0]!r}")

    # The transactional id is usable again.
    again = ck_txn_producer(broker.bootstrap, tid)
    again.begin_transaction()
    ck_produce(again, topic, [b"later"], 0)
    ck_commit(again)
    assert [(r.offset, r.value) for r in ck_read(broker.bootstrap, topic, 1, READ_COMMITTED)[0]] == [(4, b"later")]


# --- restarts ---------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["commit", "abort"])
@pytest.mark.parametrize("how", ["stop", "kill"])
def test_broker_restart_in_the_middle_of_a_transaction(broker_factory, how, outcome):
    """The transaction's state (__transaction_state) and the partitions' open transactions
    survive a restart: the producer finishes the transaction afterwards."""
    broker = broker_factory()
    topic = unique_topic("txrs")
    ck_create_topic(broker.bootstrap, topic, 2)
    p = ck_txn_producer(broker.bootstrap, unique_topic("tid"))
    p.begin_transaction()
    ck_produce(p, topic, [b"first"], 0)
    ck_produce(p, topic, [b"second"], 1)
    broker.stop() if how == "stop" else broker.kill()
    broker.restart()
    # Still open after the restart: nothing stable past it.
    assert last_stable_offsets(broker.bootstrap, topic, 2) == {0: 0, 1: 0}
    if outcome == "commit":
        ck_commit(p, timeout=60)
    else:
        ck_abort(p, timeout=60)
    wait_until(
        lambda: last_stable_offsets(broker.bootstrap, topic, 2) == {0: 2, 1: 2},
        15,
        message="the markers after the restart",
    )
    rc = ck_read(broker.bootstrap, topic, 2, READ_COMMITTED)
    expected = {0: [b"first"], 1: [b"second"]} if outcome == "commit" else {0: [], 1: []}
    assert {q: [r.value for r in rc[q]] for q in (0, 1)} == expected
    # And the next transaction of the same producer works.
    p.begin_transaction()
    ck_produce(p, topic, [b"next"], 0)
    ck_commit(p)
    assert [r.value for r in ck_read(broker.bootstrap, topic, 2, READ_COMMITTED)[0]][-1] == b"next"


# --- CLI --------------------------------------------------------------------------------


def test_strom_txn_cli(broker):
    topic = unique_topic("cli")
    ck_create_topic(broker.bootstrap, topic, 2)
    tid = unique_topic("tid")
    p = ck_txn_producer(broker.bootstrap, tid, **{"transaction.timeout.ms": 45000})
    p.begin_transaction()
    ck_produce(p, topic, [b"x"], 0)
    ck_produce(p, topic, [b"y"], 1)

    table = strom_cli(broker, "txn", "list").stdout
    header = re.sub(r"[-_]", " ", table.splitlines()[0].upper())
    for col in ("TRANSACTIONAL ID", "PRODUCER ID", "STATE"):
        assert col in header, f"column {col!r} missing from {table.splitlines()[0]!r}"
    row = next(line for line in table.splitlines() if tid in line)
    assert "Ongoing" in row, row

    listed = json.loads(strom_cli(broker, "txn", "list", "--json").stdout)
    entry = next(t for t in listed if t["transactional_id"] == tid)
    assert entry["state"] == "Ongoing", entry
    pid = entry["producer_id"]
    assert isinstance(pid, int) and pid >= 0

    desc = json.loads(strom_cli(broker, "txn", "describe", tid, "--json").stdout)
    assert desc["transactional_id"] == tid
    assert desc["state"] == "Ongoing", desc
    assert desc["producer_id"] == pid
    assert desc["producer_epoch"] >= 0
    assert desc["transaction_timeout_ms"] == 45000
    assert desc["transaction_start_time_ms"] > 0
    assert sorted((tp["topic"], tp["partition"]) for tp in desc["topic_partitions"]) == [(topic, 0), (topic, 1)]

    ck_commit(p)
    # EndTxn answers once PrepareCommit is durable; the markers then complete it.
    deadline = time.monotonic() + 10
    while True:
        desc = json.loads(strom_cli(broker, "txn", "describe", tid, "--json").stdout)
        if desc["state"] == "CompleteCommit" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert desc["state"] == "CompleteCommit", desc
    assert desc["topic_partitions"] == [], desc
    text = strom_cli(broker, "txn", "describe", tid).stdout
    assert str(pid) in text and "CompleteCommit" in text, text
