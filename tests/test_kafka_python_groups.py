"""Consumer groups with kafka-python (its own pure-Python implementation of the group
protocol): subscribe with group_id, explicit commit(), two members splitting a topic, and
KafkaAdminClient's group APIs (kafka-python 3.0 names them list_groups, describe_groups,
list_group_offsets and delete_groups)."""

from __future__ import annotations

import base64
import struct
import threading
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from helpers import (
    GROUP_BROKER_ARGS,
    GROUP_HEARTBEAT_MS,
    GROUP_SESSION_TIMEOUT_MS,
    ck_create_topic,
    unique_group,
    unique_topic,
    wait_until,
)


@pytest.fixture
def broker(broker_factory):
    return broker_factory(extra_args=GROUP_BROKER_ARGS)


def produce(broker, topic: str, partitions: int, per_partition: int, tag: str) -> set[tuple[int, int]]:
    """Produce per_partition records to each partition; return the acknowledged (partition, offset)."""
    # kafka-python 3 enables idempotence by default; the broker has no InitProducerId yet.
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False)
    try:
        futures = [
            producer.send(topic, value=f"{tag}-{p}-{i}".encode(), partition=p)
            for i in range(per_partition)
            for p in range(partitions)
        ]
        producer.flush(timeout=30)
        return {(md.partition, md.offset) for md in (f.get(timeout=30) for f in futures)}
    finally:
        producer.close(timeout=10)


def consumer(broker, topic: str, group: str, name: str, **conf) -> KafkaConsumer:
    c = dict(
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        client_id=name,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=GROUP_SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=GROUP_HEARTBEAT_MS,
        fetch_max_wait_ms=100,
    )
    c.update(conf)
    return KafkaConsumer(topic, **c)


# kafka-python 3.0.12 loses a rejoin when poll() times out while the group leader's JoinGroup /
# SyncGroup is in flight: the assignment is computed in the background, need_rejoin() turns
# false, the join task is never awaited again, heartbeats stay disabled and the member's session
# expires (against any broker). Polls long enough to outlast a rebalance avoid that; poll()
# returns as soon as records arrive anyway.
POLL_MS = 3000


def poll_until(c: KafkaConsumer, records: list, until, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; have {len(records)} records")
        for tp, msgs in c.poll(timeout_ms=POLL_MS).items():
            records.extend((tp.partition, m.offset, m.value) for m in msgs)


def test_subscribe_commit_and_resume(broker):
    topic, group = unique_topic("kp-cg"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 3)
    batch1 = produce(broker, topic, 3, 8, "b1")

    c = consumer(broker, topic, group, "first")
    records: list = []
    try:
        poll_until(c, records, lambda: {(p, o) for p, o, _ in records} >= batch1, 30, "the first batch")
        assert sorted((p, o) for p, o, _ in records) == sorted(batch1)
        c.commit()
        for p in range(3):
            assert c.committed(TopicPartition(topic, p)) == 8, p
    finally:
        c.close()

    batch2 = produce(broker, topic, 3, 4, "b2")
    c2 = consumer(broker, topic, group, "second")
    records2: list = []
    try:
        poll_until(c2, records2, lambda: {(p, o) for p, o, _ in records2} >= batch2, 30, "the second batch")
        # It resumed at the committed offsets: nothing of the first batch again.
        assert sorted((p, o) for p, o, _ in records2) == sorted(batch2)
        c2.commit({TopicPartition(topic, 0): _offset_and_metadata(10, "kp-meta")})
        committed = c2.committed(TopicPartition(topic, 0), metadata=True)
        assert (committed.offset, committed.metadata) == (10, "kp-meta"), committed
    finally:
        c2.close()


def _offset_and_metadata(offset: int, metadata: str):
    from kafka.structs import OffsetAndMetadata

    fields = OffsetAndMetadata._fields
    values = {"offset": offset, "metadata": metadata, "leader_epoch": -1}
    return OffsetAndMetadata(**{k: values[k] for k in fields})


class Runner(threading.Thread):
    """One KafkaConsumer in its own thread (the client is not thread-safe): polls, commits
    after every batch it receives, and publishes its assignment."""

    def __init__(self, broker, topic: str, group: str, name: str):
        super().__init__(daemon=True, name=name)
        self.consumer = consumer(broker, topic, group, name)
        self.records: list[tuple[int, int]] = []
        self.assignment: set[int] = set()
        self.error: BaseException | None = None
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                polled = self.consumer.poll(timeout_ms=POLL_MS)
                got = [(tp.partition, m.offset) for tp, msgs in polled.items() for m in msgs]
                if got:
                    self.consumer.commit()
                with self._lock:
                    self.records.extend(got)
                    self.assignment = {tp.partition for tp in self.consumer.assignment()}
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.consumer.close()

    def snapshot(self) -> tuple[set[int], list[tuple[int, int]]]:
        with self._lock:
            return set(self.assignment), list(self.records)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=30)
        assert not self.is_alive(), f"{self.name} did not stop"
        assert self.error is None, f"{self.name} failed: {self.error!r}"


def test_two_members_split_partitions(broker):
    topic, group = unique_topic("kp-split"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 6)
    runners = [Runner(broker, topic, group, f"kp{i}") for i in (1, 2)]
    for r in runners:
        r.start()
    try:
        def split():
            sets = [r.snapshot()[0] for r in runners]
            return (
                all(len(s) == 3 for s in sets) and sets[0] | sets[1] == set(range(6)) and sets
            )

        owners = wait_until(split, 40, message="two members owning 3 partitions each")
        time.sleep(1.5)
        assert [r.snapshot()[0] for r in runners] == owners, "the assignment did not hold"

        batch = produce(broker, topic, 6, 5, "s")

        def all_read():
            return {rec for r in runners for rec in r.snapshot()[1]} >= batch

        wait_until(all_read, 30, message="the batch to be read by the two members")
        seen: dict[tuple[int, int], list[str]] = {}
        for r in runners:
            for rec in r.snapshot()[1]:
                seen.setdefault(rec, []).append(r.name)
        for rec in batch:
            assert len(seen[rec]) == 1, f"{rec} read by {seen[rec]}"
            owner = [r.name for r in runners].index(seen[rec][0])
            assert rec[0] in owners[owner], f"{rec} read by {seen[rec][0]} owning {owners[owner]}"
    finally:
        for r in runners:
            r.stop()


def _decode_assignment(raw) -> set[tuple[str, int]]:
    """Partitions of a DescribeGroups member assignment as kafka-python hands it over: a decoded
    ConsumerProtocolAssignment, its dict form, raw bytes, or base64 text."""
    if raw is None:
        return set()
    if hasattr(raw, "partitions") and callable(raw.partitions):
        return {(tp.topic, tp.partition) for tp in raw.partitions()}
    if isinstance(raw, dict):
        entries = raw.get("assigned_partitions") or raw.get("assignment") or []
        out = set()
        for e in entries:
            topic, parts = (e["topic"], e["partitions"]) if isinstance(e, dict) else (e[0], e[1])
            out |= {(topic, p) for p in parts}
        return out
    if isinstance(raw, str):
        raw = base64.b64decode(raw)
    data = bytes(raw)
    if not data:
        return set()
    pos = 2  # version
    (n,) = struct.unpack_from(">i", data, pos)
    pos += 4
    out = set()
    for _ in range(n):
        (ln,) = struct.unpack_from(">h", data, pos)
        topic = data[pos + 2 : pos + 2 + ln].decode()
        pos += 2 + ln
        (count,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(count):
            out.add((topic, struct.unpack_from(">i", data, pos)[0]))
            pos += 4
    return out


def test_admin_client_group_apis(broker):
    topic, group = unique_topic("kp-admin"), unique_group("kp-admin")
    ck_create_topic(broker.bootstrap, topic, 4)
    produce(broker, topic, 4, 3, "a")
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    runner = Runner(broker, topic, group, "kp-admin-member")
    runner.start()
    try:
        wait_until(lambda: runner.snapshot()[0] == set(range(4)) and len(runner.snapshot()[1]) == 12,
                   40, message="the member to own and read all 4 partitions")

        listed = {g["group_id"]: g for g in admin.list_groups()}
        assert group in listed, listed
        assert listed[group]["protocol_type"] == "consumer", listed[group]

        described = admin.describe_groups([group])[group]
        assert described["error"] is None, described
        assert described["group_state"] == "Stable", described
        assert described["protocol_type"] == "consumer"
        assert described["protocol_data"] in ("range", "roundrobin"), described["protocol_data"]
        (member,) = described["members"]
        assert member["client_id"] == "kp-admin-member", member
        assert _decode_assignment(member["member_assignment"]) == {(topic, p) for p in range(4)}

        wait_until(
            lambda: {tp.partition: om.offset for tp, om in admin.list_group_offsets(group)[group].items()}
            == {p: 3 for p in range(4)},
            15,
            message="the committed offsets to be 3 on every partition",
        )
    finally:
        runner.stop()  # closes the consumer: LeaveGroup

    wait_until(lambda: admin.describe_groups([group])[group]["group_state"] == "Empty", 15,
               message="the group to be Empty once its member left")
    offsets = admin.list_group_offsets({group: [TopicPartition(topic, p) for p in range(4)]})[group]
    assert {tp.partition: om.offset for tp, om in offsets.items()} == {p: 3 for p in range(4)}

    assert admin.delete_groups([group]) == {group: "OK"}
    assert group not in {g["group_id"] for g in admin.list_groups()}
    assert admin.delete_groups([group]) == {group: "GroupIdNotFoundError"}
    admin.close()
