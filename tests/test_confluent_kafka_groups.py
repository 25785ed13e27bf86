"""Consumer groups (Kafka's classic group protocol) with confluent-kafka: librdkafka 2.x from
the wheel as a group member, a committer, and an admin client.

What a Kafka broker guarantees and these tests hold Strom to: every partition of a subscribed
topic is owned by exactly one member of a stable group, and all are owned; a member that leaves
(LeaveGroup) or dies (session timeout) hands its partitions over; committed offsets survive a
broker restart and are where a new member resumes; a static member (group.instance.id) that
comes back within its session timeout gets its partitions back without a rebalance.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from confluent_kafka import (
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)

from helpers import (
    GROUP_BROKER_ARGS,
    GROUP_HEARTBEAT_MS,
    GROUP_SESSION_TIMEOUT_MS,
    ck_admin,
    ck_create_topic,
    ck_produce_per_partition,
    ck_wait_for_partitions,
    unique_group,
    unique_topic,
    wait_until,
)

ASSIGNORS = ["range", "cooperative-sticky"]
HERE = Path(__file__).resolve().parent


@pytest.fixture
def broker(broker_factory):
    """A broker whose new groups rebalance at once (group.initial.rebalance.delay.ms=0)."""
    return broker_factory(extra_args=GROUP_BROKER_ARGS)


class Member:
    """A subscribed confluent-kafka consumer that counts its rebalance callbacks and keeps the
    records it received. Members of one test are polled in turn from the test's thread."""

    def __init__(self, broker, group: str, topic: str, assignor: str = "range", name: str = "m", **conf):
        self.name = name
        self.assigned_calls = 0
        self.revoked_calls = 0
        self.lost_calls = 0
        self.records: list[tuple[int, int, bytes]] = []
        c = {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "client.id": name,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": GROUP_HEARTBEAT_MS,
            "partition.assignment.strategy": assignor,
            "fetch.wait.max.ms": 100,
            "enable.partition.eof": False,
        }
        c.update(conf)
        self.consumer = Consumer(c)
        self.consumer.subscribe(
            [topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        self.closed = False

    def _on_assign(self, consumer, partitions):
        self.assigned_calls += 1

    def _on_revoke(self, consumer, partitions):
        self.revoked_calls += 1

    def _on_lost(self, consumer, partitions):
        self.lost_calls += 1

    def poll_once(self, timeout: float = 0.05) -> None:
        msg = self.consumer.poll(timeout)
        if msg is None:
            return
        if msg.error():
            raise AssertionError(f"member {self.name}: consume error {msg.error()}")
        self.records.append((msg.partition(), msg.offset(), msg.value()))

    def owned(self) -> set[int]:
        return {tp.partition for tp in self.consumer.assignment()}

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.consumer.close()


def pump(members, until, timeout: float, what: str):
    """Poll every member in turn until until() is true; fail with the members' state."""
    deadline = time.monotonic() + timeout
    while True:
        for m in members:
            m.poll_once()
        if until():
            return
        if time.monotonic() > deadline:
            state = {m.name: sorted(m.owned()) for m in members}
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; assignments {state}")


def pump_for(members, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for m in members:
            m.poll_once()


def balanced(members, partitions: int) -> bool:
    """Each partition owned by exactly one member, all owned, counts differing by at most one."""
    sets = [m.owned() for m in members]
    union = set().union(*sets)
    sizes = sorted(len(s) for s in sets)
    return (
        union == set(range(partitions))
        and sum(sizes) == partitions
        and sizes[0] >= partitions // len(members)
        and sizes[-1] - sizes[0] <= 1
    )


def wait_balanced(members, partitions: int, timeout: float = 30.0, hold: float = 1.5) -> dict:
    """Waits for a balanced assignment that then holds for `hold` seconds; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        pump(members, lambda: balanced(members, partitions), max(0.1, deadline - time.monotonic()),
             f"a balanced assignment of {partitions} partitions over {len(members)} members")
        before = {m.name: m.owned() for m in members}
        pump_for(members, hold)
        if balanced(members, partitions) and before == {m.name: m.owned() for m in members}:
            return before


def received(members) -> dict[tuple[int, int], list[str]]:
    """(partition, offset) -> names of the members that received it."""
    out: dict[tuple[int, int], list[str]] = {}
    for m in members:
        for p, o, _ in m.records:
            out.setdefault((p, o), []).append(m.name)
    return out


def check_batch(members, batch: dict, owners: dict[str, set[int]]) -> None:
    """Every record of `batch` arrived exactly once, at the member that owns its partition."""
    got = received(members)
    for (p, o) in batch:
        names = got.get((p, o), [])
        assert len(names) == 1, f"record {p}/{o} received by {names} (expected exactly one member)"
        assert p in owners[names[0]], f"record {p}/{o} went to {names[0]} that owns {owners[names[0]]}"


def consumed_all(members, batch: dict):
    return lambda: set(batch) <= set(received(members))


@pytest.mark.parametrize("assignor", ASSIGNORS)
def test_two_then_three_members_split_six_partitions(broker, assignor):
    topic, group = unique_topic("cg-split"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 6)
    members = [Member(broker, group, topic, assignor, name=f"m{i}") for i in (1, 2)]
    try:
        owners = wait_balanced(members, 6)
        assert sorted(len(s) for s in owners.values()) == [3, 3], owners

        batch1 = ck_produce_per_partition(broker.bootstrap, topic, 6, 10, tag="b1")
        pump(members, consumed_all(members, batch1), 30, "the first batch to be consumed")
        check_batch(members, batch1, owners)

        members.append(Member(broker, group, topic, assignor, name="m3"))
        owners = wait_balanced(members, 6)
        assert sorted(len(s) for s in owners.values()) == [2, 2, 2], owners

        batch2 = ck_produce_per_partition(broker.bootstrap, topic, 6, 10, tag="b2")
        pump(members, consumed_all(members, batch2), 30, "the second batch to be consumed")
        check_batch(members, batch2, owners)
        # The first batch was committed on revocation (auto commit): nobody reads it again.
        check_batch(members, batch1, {m.name: set(range(6)) for m in members})
    finally:
        for m in members:
            m.close()


@pytest.mark.parametrize("assignor", ASSIGNORS)
def test_member_closing_cleanly_hands_its_partitions_over(broker, assignor):
    topic, group = unique_topic("cg-leave"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 6)
    members = [Member(broker, group, topic, assignor, name=f"m{i}") for i in (1, 2, 3)]
    try:
        owners = wait_balanced(members, 6)
        batch1 = ck_produce_per_partition(broker.bootstrap, topic, 6, 5, tag="b1")
        pump(members, consumed_all(members, batch1), 30, "the first batch to be consumed")
        check_batch(members, batch1, owners)

        leaving = members.pop()
        left_partitions = owners[leaving.name]
        closed_at = time.monotonic()
        leaving.close()  # commits its offsets and sends LeaveGroup
        owners = wait_balanced(members, 6, hold=0.5)
        took = time.monotonic() - closed_at
        # LeaveGroup starts the rebalance at once; without it the broker would wait for the
        # session timeout (6 s) before the others could take the partitions.
        assert took < 5.0 + 0.5, f"the rebalance after LeaveGroup took {took:.1f} s"
        assert left_partitions <= owners["m1"] | owners["m2"]

        batch2 = ck_produce_per_partition(broker.bootstrap, topic, 6, 5, tag="b2")
        pump(members, consumed_all(members, batch2), 30, "the second batch to be consumed")
        check_batch(members, batch2, owners)
        # The leaving member committed what it had read: the others do not read it again.
        got = received(members + [leaving])
        for key in batch1:
            assert len(got[key]) == 1, f"record {key} of the first batch read by {got[key]}"
    finally:
        for m in members:
            m.close()


class ChildMember:
    """tests/group_member.py in a child process; its JSON events are collected by a thread."""

    def __init__(self, broker, topic: str, group: str, commit_every: int):
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "group_member.py"), broker.bootstrap, topic, group,
             str(commit_every)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=HERE,
        )
        self.events: list[dict] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.events.append(event)

    def snapshot(self) -> list[dict]:
        with self._lock:
            return list(self.events)

    def assignment(self) -> set[int] | None:
        assigned = [e for e in self.snapshot() if e["event"] == "assigned"]
        return set(assigned[-1]["partitions"]) if assigned else None

    def records(self) -> set[tuple[int, int]]:
        return {(e["p"], e["o"]) for e in self.snapshot() if e["event"] == "msg"}

    def commits(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for e in self.snapshot():
            if e["event"] == "committed":
                out[e["p"]] = max(out.get(e["p"], 0), e["o"])
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr else ""


def test_killed_member_loses_its_partitions_after_the_session_timeout(broker):
    topic, group = unique_topic("cg-kill"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 6)
    batch1 = ck_produce_per_partition(broker.bootstrap, topic, 6, 30, tag="b1")

    child = ChildMember(broker, topic, group, commit_every=4)
    survivor = None
    try:
        wait_until(lambda: child.assignment() == set(range(6)), 30,
                   message="the child member to own all 6 partitions")
        survivor = Member(broker, group, topic, "range", name="survivor",
                          **{"enable.auto.commit": False})
        pump([survivor], lambda: len(survivor.owned()) == 3 and child.assignment() == set(range(6)) - survivor.owned(),
             30, "the child and the survivor to share the partitions")
        child_owned = child.assignment()
        # Let the child read (and commit part of) its partitions, then kill it mid-way.
        pump([survivor], lambda: len(child.records()) >= 20, 30, "the child to read 20 records")
        child.kill()
        killed_at = time.monotonic()
        commits_at_kill = child.commits()
        child_records = child.records()
        assert child_records, "the child read nothing before it was killed"

        pump([survivor], lambda: survivor.owned() == set(range(6)), 30,
             "the survivor to own every partition after the session timeout")
        took = time.monotonic() - killed_at
        assert took < GROUP_SESSION_TIMEOUT_MS / 1000 + 15, f"takeover took {took:.1f} s"

        batch2 = ck_produce_per_partition(broker.bootstrap, topic, 6, 5, tag="b2")
        everything = set(batch1) | set(batch2)

        def all_seen():
            return everything <= child_records | {(p, o) for p, o, _ in survivor.records}

        pump([survivor], all_seen, 40, "every record to be consumed by the child or the survivor")

        # At least once: nothing was skipped (checked above). The survivor resumed each of the
        # child's partitions at the group's committed offset: not before the child's last
        # acknowledged commit (an acknowledged commit is not lost), not after what the child
        # read. The survivor never owned those partitions before the takeover.
        resumed: dict[int, int] = {}
        for p, o, _ in survivor.records:
            resumed.setdefault(p, o)
        for p in child_owned:
            committed = commits_at_kill.get(p, 0)
            assert p in resumed, f"the survivor read nothing of partition {p} after the takeover"
            assert resumed[p] >= committed, (
                f"partition {p}: the survivor resumed at {resumed[p]}, before the child's "
                f"acknowledged commit {committed}"
            )
            read_by_child = max((o for q, o in child_records if q == p), default=-1)
            assert resumed[p] <= read_by_child + 1, (
                f"partition {p}: the survivor resumed at {resumed[p]} but the child read only "
                f"up to {read_by_child}"
            )
    finally:
        child.kill()
        if survivor is not None:
            survivor.close()


def test_committed_offsets_survive_a_broker_restart(broker):
    topic, group = unique_topic("cg-restart"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 3)
    batch1 = ck_produce_per_partition(broker.bootstrap, topic, 3, 10, tag="b1")
    m = Member(broker, group, topic, name="before", **{"enable.auto.commit": False})
    try:
        pump([m], consumed_all([m], batch1), 30, "the first batch")
        m.consumer.commit(asynchronous=False)
        tps = [TopicPartition(topic, p) for p in range(3)]
        committed = m.consumer.committed(tps, timeout=10)
        assert {(tp.partition, tp.offset) for tp in committed} == {(0, 10), (1, 10), (2, 10)}
    finally:
        m.close()

    broker.stop()
    broker.restart()
    ck_wait_for_partitions(ck_admin(broker.bootstrap), topic, 3)
    batch2 = ck_produce_per_partition(broker.bootstrap, topic, 3, 5, tag="b2")

    m2 = Member(broker, group, topic, name="after", **{"enable.auto.commit": False})
    try:
        committed = m2.consumer.committed([TopicPartition(topic, p) for p in range(3)], timeout=10)
        assert {(tp.partition, tp.offset) for tp in committed} == {(0, 10), (1, 10), (2, 10)}, (
            "committed offsets after the restart"
        )
        pump([m2], consumed_all([m2], batch2), 30, "the second batch after the restart")
        pump_for([m2], 1.0)
        got = sorted((p, o) for p, o, _ in m2.records)
        assert got == sorted(batch2), f"after the restart the group read {got[:10]}..."
    finally:
        m2.close()


def test_static_member_rejoining_within_its_session_timeout_keeps_its_partitions(broker):
    topic, group = unique_topic("cg-static"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 6)
    static = {"session.timeout.ms": 30000}
    b = Member(broker, group, topic, name="b", **{"group.instance.id": "instance-b"}, **static)
    a = a2 = None
    try:
        # b joins first and leads; then a joins.
        pump([b], lambda: b.owned() == set(range(6)), 30, "b to own all partitions")
        a = Member(broker, group, topic, name="a", **{"group.instance.id": "instance-a"}, **static)
        owners = wait_balanced([a, b], 6)
        b_assigns, b_revokes = b.assigned_calls, b.revoked_calls

        # A static member does not send LeaveGroup on close: its partitions stay its own.
        a.close()
        pump_for([b], 2.0)
        assert b.owned() == owners["b"], "b's partitions changed while a was away"

        a2 = Member(broker, group, topic, name="a", **{"group.instance.id": "instance-a"}, **static)
        pump([a2, b], lambda: bool(a2.owned()), 20, "a to get its partitions back")
        assert a2.owned() == owners["a"], f"a came back with {a2.owned()}, had {owners['a']}"
        # Several heartbeats later, b has seen no rebalance at all.
        pump_for([a2, b], 3.0)
        assert (b.assigned_calls, b.revoked_calls) == (b_assigns, b_revokes), (
            f"b went through a rebalance: on_assign {b_assigns}->{b.assigned_calls}, "
            f"on_revoke {b_revokes}->{b.revoked_calls}"
        )
        assert b.owned() == owners["b"] and a2.owned() == owners["a"]

        batch = ck_produce_per_partition(broker.bootstrap, topic, 6, 3, tag="s")
        pump([a2, b], consumed_all([a2, b], batch), 30, "the batch after a's return")
        check_batch([a2, b], batch, {"a": owners["a"], "b": owners["b"]})
    finally:
        for m in (a, a2, b):
            if m is not None:
                m.close()


def _result(future, timeout: float = 20):
    return future.result(timeout=timeout)


def test_admin_client_lists_describes_alters_and_deletes_groups(broker):
    topic, group = unique_topic("cg-admin"), unique_group("admin")
    ck_create_topic(broker.bootstrap, topic, 6)
    admin = ck_admin(broker.bootstrap)
    members = [Member(broker, group, topic, name=f"m{i}", **{"enable.auto.commit": False}) for i in (1, 2)]
    try:
        owners = wait_balanced(members, 6)
        batch = ck_produce_per_partition(broker.bootstrap, topic, 6, 4, tag="a")
        pump(members, consumed_all(members, batch), 30, "the batch")
        for m in members:
            m.consumer.commit(asynchronous=False)

        listing = _result(admin.list_consumer_groups(request_timeout=10))
        assert not listing.errors, listing.errors
        mine = [g for g in listing.valid if g.group_id == group]
        assert len(mine) == 1, [g.group_id for g in listing.valid]
        assert mine[0].state == ConsumerGroupState.STABLE, mine[0].state
        assert not mine[0].is_simple_consumer_group

        desc = _result(admin.describe_consumer_groups([group], request_timeout=10)[group])
        assert desc.group_id == group
        assert desc.state == ConsumerGroupState.STABLE, desc.state
        assert desc.partition_assignor == "range", desc.partition_assignor
        assert not desc.is_simple_consumer_group
        assert len(desc.members) == 2, desc.members
        by_id = {m.consumer.memberid(): m for m in members}
        for md in desc.members:
            assert md.member_id in by_id, (md.member_id, list(by_id))
            m = by_id[md.member_id]
            assert md.client_id == m.name
            assert md.host, md
            parts = {tp.partition for tp in md.assignment.topic_partitions if tp.topic == topic}
            assert parts == owners[m.name], (m.name, parts, owners[m.name])

        # The group is active: it cannot be deleted, and its offsets cannot be altered from
        # outside (Kafka answers NON_EMPTY_GROUP and UNKNOWN_MEMBER_ID).
        with pytest.raises(KafkaException) as err:
            _result(admin.delete_consumer_groups([group], request_timeout=10)[group])
        assert err.value.args[0].code() == KafkaError.NON_EMPTY_GROUP, err.value
        alter = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, 0, 1)])
        try:
            refused = _result(admin.alter_consumer_group_offsets([alter], request_timeout=10)[group])
        except KafkaException:
            pass  # the group-level error
        else:  # or the partition-level one
            assert any(tp.error is not None for tp in refused.topic_partitions), (
                f"altering the offsets of a Stable group succeeded: {refused.topic_partitions}"
            )

        for m in members:
            m.close()

        def state_of_group():
            listing = _result(admin.list_consumer_groups(request_timeout=10))
            return {g.group_id: g.state for g in listing.valid}.get(group)

        wait_until(lambda: state_of_group() == ConsumerGroupState.EMPTY, 15,
                   message="the group to be Empty after its members closed")

        request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for p in range(6)])
        offsets = _result(admin.list_consumer_group_offsets([request], request_timeout=10)[group])
        assert {(tp.partition, tp.offset) for tp in offsets.topic_partitions} == {(p, 4) for p in range(6)}
        # Without partitions: every committed offset of the group.
        offsets = _result(
            admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)], request_timeout=10)[group]
        )
        assert {(tp.topic, tp.partition, tp.offset) for tp in offsets.topic_partitions} == {
            (topic, p, 4) for p in range(6)
        }

        alter = ConsumerGroupTopicPartitions(
            group, [TopicPartition(topic, p, p) for p in range(6)]
        )
        altered = _result(admin.alter_consumer_group_offsets([alter], request_timeout=10)[group])
        assert all(tp.error is None for tp in altered.topic_partitions), altered.topic_partitions
        offsets = _result(admin.list_consumer_group_offsets([request], request_timeout=10)[group])
        assert {(tp.partition, tp.offset) for tp in offsets.topic_partitions} == {(p, p) for p in range(6)}

        deleted = admin.delete_consumer_groups([group], request_timeout=10)
        assert _result(deleted[group]) is None
        listing = _result(admin.list_consumer_groups(request_timeout=10))
        assert group not in {g.group_id for g in listing.valid}
        offsets = _result(admin.list_consumer_group_offsets([request], request_timeout=10)[group])
        assert all(tp.offset < 0 for tp in offsets.topic_partitions), offsets.topic_partitions

        missing = unique_group("missing")
        with pytest.raises(KafkaException) as err:
            _result(admin.delete_consumer_groups([missing], request_timeout=10)[missing])
        assert err.value.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND, err.value
    finally:
        for m in members:
            m.close()


def test_auto_commit_and_committed_with_metadata(broker):
    topic, group = unique_topic("cg-auto"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 2)
    batch = ck_produce_per_partition(broker.bootstrap, topic, 2, 10, tag="ac")
    tps = [TopicPartition(topic, p) for p in range(2)]

    auto = Member(broker, group, topic, name="auto",
                  **{"enable.auto.commit": True, "auto.commit.interval.ms": 200})
    try:
        pump([auto], consumed_all([auto], batch), 30, "the batch")

        def committed_now():
            return {(tp.partition, tp.offset) for tp in auto.consumer.committed(tps, timeout=10)}

        pump([auto], lambda: committed_now() == {(0, 10), (1, 10)}, 10,
             "the auto commit to store offsets 10 and 10")
    finally:
        auto.close()

    manual = Member(broker, group, topic, name="manual", **{"enable.auto.commit": False})
    try:
        pump([manual], lambda: manual.owned() == {0, 1}, 20, "the manual member's assignment")
        manual.consumer.commit(
            offsets=[TopicPartition(topic, 0, 7, metadata="checkpoint-7")], asynchronous=False
        )
        committed = {tp.partition: tp for tp in manual.consumer.committed(tps, timeout=10)}
        assert committed[0].offset == 7 and committed[0].metadata == "checkpoint-7", committed[0]
        assert committed[1].offset == 10, committed[1]
    finally:
        manual.close()

    # A consumer that never joins reads the same committed offsets and metadata.
    reader = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    try:
        committed = {tp.partition: tp for tp in reader.committed(tps, timeout=10)}
        assert (committed[0].offset, committed[0].metadata) == (7, "checkpoint-7")
        assert committed[1].offset == 10
    finally:
        reader.close()



def test_deleting_a_topic_deletes_its_committed_offsets(broker_factory):
    """Kafka removes committed offsets of deleted topics: a topic created again under the same
    name must not resume at offsets that belonged to the old one."""
    from confluent_kafka import OFFSET_INVALID, Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    from helpers import GROUP_BROKER_ARGS, ck_create_topic, unique_group, unique_topic

    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    topic, group = unique_topic("del"), unique_group("del")
    ck_create_topic(broker.bootstrap, topic, 1)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    c.commit(offsets=[TopicPartition(topic, 0, 42)], asynchronous=False)
    assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == 42
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_topics([topic])[topic].result(timeout=10)
    ck_create_topic(broker.bootstrap, topic, 1)
    assert c.committed([TopicPartition(topic, 0)], timeout=10)[0].offset == OFFSET_INVALID
    c.close()


def test_offsets_log_is_compacted_and_replays_after_restart(broker_factory):
    """__consumer_offsets is a compacted topic cleaned by the general log cleaner: superseded
    commits are removed from its closed segments, and a restart replays what is left to the
    same committed offset and metadata."""
    from confluent_kafka import Consumer, TopicPartition

    from helpers import GROUP_BROKER_ARGS, ck_create_topic, unique_group, unique_topic, wait_until

    broker = broker_factory(
        extra_args=GROUP_BROKER_ARGS
        + [
            "--set", "offsets.topic.segment.bytes=1048576",
            "--set", "log.cleaner.backoff.ms=100",
        ]
    )
    topic, group = unique_topic("clean"), unique_group("clean")
    ck_create_topic(broker.bootstrap, topic, 1)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    metadata = "m" * 4000
    commits = 600  # about 2.5 MB of commits: two closed 1 MiB segments
    for offset in range(1, commits + 1):
        c.commit(offsets=[TopicPartition(topic, 0, offset, metadata=metadata)], asynchronous=False)
    def offsets_log_bytes() -> list[int]:
        return [
            sum(f.stat().st_size for f in d.iterdir() if f.suffix == ".log")
            for d in broker.data_dir.iterdir()
            if d.name.startswith("__consumer_offsets-")
        ]

    # Every closed segment gets cleaned (each cleaning follows a roll); what stays is the
    # active segment (at most 1 MiB) and one record per key.
    wait_until(
        lambda: max(offsets_log_bytes()) < commits * 4000 / 2,
        timeout=30,
        message="superseded commits removed from __consumer_offsets",
    )
    assert "cleaned log" in broker.log_text()
    c.close()
    broker.stop()
    broker.restart()
    again = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    committed = again.committed([TopicPartition(topic, 0)], timeout=10)[0]
    assert committed.offset == commits
    assert committed.metadata == metadata
    again.close()
