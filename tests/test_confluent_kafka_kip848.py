"""The KIP-848 consumer group protocol (`group.protocol=consumer`) with confluent-kafka
(librdkafka 2.12+): the broker computes assignments and members reconcile incrementally."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from helpers import (
    GROUP_BROKER_ARGS,
    ck_create_topic,
    ck_produce_per_partition,
    unique_group,
    unique_topic,
)

PARTITIONS = 6


def consumer(bootstrap: str, group: str, **extra) -> Consumer:
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    config.update(extra)
    return Consumer(config)


def owned(c: Consumer) -> set[int]:
    return {tp.partition for tp in c.assignment()}


def poll_all(consumers, seconds: float, sink: list | None = None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for c in consumers:
            m = c.poll(0.1)
            if m is not None and not m.error() and sink is not None:
                sink.append((m.partition(), m.offset(), m.value()))


def wait_for(consumers, predicate, timeout: float, sink: list | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        poll_all(consumers, 0.3, sink)
        if predicate():
            return
    raise AssertionError(f"condition not met; assignments {[sorted(owned(c)) for c in consumers]}")


def test_members_join_split_and_leave_incrementally(broker_factory):
    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    topic, group = unique_topic("k848"), unique_group("k848")
    ck_create_topic(broker.bootstrap, topic, PARTITIONS)
    acked = ck_produce_per_partition(broker.bootstrap, topic, PARTITIONS, 20)

    first = consumer(broker.bootstrap, group)
    first.subscribe([topic])
    seen: list = []
    wait_for([first], lambda: len(seen) >= len(acked), 30, seen)
    assert owned(first) == set(range(PARTITIONS))
    assert {(p, o) for p, o, _ in seen} == set(acked)

    second = consumer(broker.bootstrap, group)
    second.subscribe([topic])
    wait_for([first, second], lambda: len(owned(second)) == PARTITIONS // 2 and len(owned(first)) == PARTITIONS // 2, 30)
    assert owned(first) | owned(second) == set(range(PARTITIONS))
    assert not owned(first) & owned(second)

    second.close()
    wait_for([first], lambda: owned(first) == set(range(PARTITIONS)), 30)
    first.close()


def test_commit_and_resume_and_describe(broker_factory):
    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    topic, group = unique_topic("k848c"), unique_group("k848c")
    ck_create_topic(broker.bootstrap, topic, 2)
    ck_produce_per_partition(broker.bootstrap, topic, 2, 10)

    c = consumer(broker.bootstrap, group)
    c.subscribe([topic])
    seen: list = []
    wait_for([c], lambda: len(seen) >= 20, 30, seen)
    c.commit(asynchronous=False)
    committed = c.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)], timeout=10)
    assert sorted((tp.partition, tp.offset) for tp in committed) == [(0, 10), (1, 10)]

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    described = admin.describe_consumer_groups([group])[group].result(timeout=10)
    assert len(described.members) == 1
    assert {tp.partition for tp in described.members[0].assignment.topic_partitions} == {0, 1}
    c.close()

    ck_produce_per_partition(broker.bootstrap, topic, 2, 5, tag="late")
    again = consumer(broker.bootstrap, group)
    again.subscribe([topic])
    later: list = []
    wait_for([again], lambda: len(later) >= 10, 30, later)
    assert sorted(o for _, o, _ in later) == sorted([10, 11, 12, 13, 14] * 2)
    again.close()


def test_regex_subscription_follows_new_topics(broker_factory):
    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    prefix = unique_topic("rx")
    group = unique_group("rx")
    ck_create_topic(broker.bootstrap, f"{prefix}-a", 2)
    ck_create_topic(broker.bootstrap, f"other-{prefix}", 1)
    c = consumer(broker.bootstrap, group, **{"topic.metadata.refresh.interval.ms": 1000})
    c.subscribe([f"^{prefix}-.*"])
    wait_for([c], lambda: {(tp.topic, tp.partition) for tp in c.assignment()} == {(f"{prefix}-a", 0), (f"{prefix}-a", 1)}, 30)
    ck_create_topic(broker.bootstrap, f"{prefix}-b", 1)
    wait_for([c], lambda: (f"{prefix}-b", 0) in {(tp.topic, tp.partition) for tp in c.assignment()}, 30)
    assert all(tp.topic.startswith(f"{prefix}-") for tp in c.assignment())
    c.close()

