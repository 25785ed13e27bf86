"""Fetches of large batches, which the broker sends from the segment files (sendfile) instead of
reading them into memory, checked record by record with confluent-kafka (librdkafka) and
kafka-python: batches of every size around the 64 KiB threshold, mixed with small ones, a batch
larger than the partition's fetch size (KIP-74), fetches from inside a batch, and
read_committed over large transactional batches."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KTopicPartition

from helpers import ck_create_topic, unique_topic


def produce_batches(broker, topic: str, sizes: list[tuple[int, int]]) -> list[bytes]:
    """Produces `count` records of `size` bytes per (count, size), each group flushed as one
    batch (linger long, one partition); returns every value in offset order."""
    p = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "linger.ms": 1000,
            "batch.size": 4 * 1024 * 1024,
            "batch.num.messages": 100000,
            "message.max.bytes": 8 * 1024 * 1024,
            "enable.idempotence": False,
            "acks": "all",
        }
    )
    values = []
    for group, (count, size) in enumerate(sizes):
        for i in range(count):
            head = f"{group}:{i}:".encode()
            value = head + bytes([(group * 31 + i) % 251]) * (size - len(head))
            p.produce(topic, value=value, key=f"k{i}".encode(), partition=0)
            values.append(value)
        assert p.flush(30) == 0
    return values


SIZES = [
    (1, 100),  # small
    (70, 1024),  # ~72 KiB: just over the threshold
    (3, 50),
    (300, 1000),  # ~300 KiB
    (60, 1024),  # ~61 KiB: just under
    (1, 2 * 1024 * 1024),  # one record larger than a 1 MiB partition fetch (KIP-74)
    (500, 2000),  # ~1 MiB
    (2, 10),
]


def create(broker, topic):
    ck_create_topic(broker.bootstrap, topic, partitions=1, config={"max.message.bytes": str(8 * 1024 * 1024)})


def confluent_read(broker, topic, start, count, **conf):
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "enable.auto.commit": False,
            **conf,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, start)])
        got = []
        while len(got) < count:
            m = c.poll(10)
            assert m is not None, f"no record after {len(got)}"
            assert m.error() is None, m.error()
            got.append((m.offset(), m.value()))
        return got
    finally:
        c.close()


def test_confluent_kafka_reads_large_and_small_batches(broker):
    topic = unique_topic("zc")
    create(broker, topic)
    values = produce_batches(broker, topic, SIZES)
    got = confluent_read(broker, topic, 0, len(values), **{"max.partition.fetch.bytes": 1048576})
    assert [o for o, _ in got] == list(range(len(values)))
    assert [v for _, v in got] == values
    # From inside batches: the first record returned is the one asked for.
    for start in [1, 40, 100, 74 + 150, len(values) - 3]:
        got = confluent_read(broker, topic, start, len(values) - start)
        assert got[0][0] == start and [v for _, v in got] == values[start:]


def test_kafka_python_reads_large_and_small_batches(broker):
    topic = unique_topic("zc")
    create(broker, topic)
    values = produce_batches(broker, topic, SIZES)
    for fetch_bytes in [1048576, 100_000]:
        c = KafkaConsumer(
            bootstrap_servers=broker.bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=fetch_bytes,
            fetch_max_bytes=fetch_bytes,
            request_timeout_ms=30000,
            fetch_max_wait_ms=100,
        )
        try:
            tp = KTopicPartition(topic, 0)
            c.assign([tp])
            c.seek(tp, 0)
            got = []
            while len(got) < len(values):
                batch = c.poll(timeout_ms=10000)
                assert batch, f"no record after {len(got)} (fetch size {fetch_bytes})"
                for records in batch.values():
                    got.extend((r.offset, r.value) for r in records)
            assert [o for o, _ in got] == list(range(len(values)))
            assert [v for _, v in got] == values
        finally:
            c.close()


def test_read_committed_over_large_transactional_batches(broker):
    topic = unique_topic("zc-txn")
    create(broker, topic)
    p = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "transactional.id": f"zc-{uuid.uuid4()}",
            "linger.ms": 1000,
            "batch.size": 4 * 1024 * 1024,
        }
    )
    p.init_transactions(30)
    committed = []
    for round_ in range(3):
        for abort in (False, True):
            p.begin_transaction()
            for i in range(200):
                value = f"{round_}:{abort}:{i}:".encode() + b"x" * 1000
                p.produce(topic, value=value, partition=0)
                if not abort:
                    committed.append(value)
            p.flush(30)
            if abort:
                p.abort_transaction(30)
            else:
                p.commit_transaction(30)
    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"g-{uuid.uuid4()}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        got = []
        while True:
            m = c.poll(10)
            assert m is not None
            if m.error():
                assert m.error().code() == -191, m.error()  # partition EOF
                break
            got.append(m.value())
        assert got == committed
    finally:
        c.close()
