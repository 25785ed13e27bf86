"""Broker and topic life cycle: graceful shutdown under load, the node identity of a data
directory, topic deletion and re-creation, CreatePartitions, DeleteRecords bounds, and the
cluster/topic descriptions (DescribeCluster, DescribeTopicPartitions or Metadata)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicCollection, TopicPartition
from confluent_kafka.admin import NewPartitions

from conftest import strom_bin
from helpers import ck_admin, ck_consume_all, ck_create_topic, ck_wait_for_partitions, free_port, unique_topic, wait_until


def make_producer(bootstrap: str, **conf) -> Producer:
    c = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 15000,
    }
    c.update(conf)
    return Producer(c)


def produce_sync(p: Producer, topic: str, values: list[bytes], partition: int | None = None) -> list[tuple[int, int]]:
    out: list = [None] * len(values)
    errors = []

    def cb(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append((i, err))
            else:
                out[i] = (msg.partition(), msg.offset())

        return on_delivery

    for i, v in enumerate(values):
        kwargs = {} if partition is None else {"partition": partition}
        p.produce(topic, value=v, on_delivery=cb(i), **kwargs)
        p.poll(0)
    assert p.flush(30) == 0, "records not delivered within 30 s"
    assert not errors, f"delivery errors: {errors[:5]}"
    return out


def watermarks(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "strom-tests-unused"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def delete_topic(admin, topic: str) -> None:
    admin.delete_topics([topic], operation_timeout=10, request_timeout=15)[topic].result(timeout=20)
    wait_until(lambda: topic not in admin.list_topics(timeout=5).topics, 15, message=f"{topic} to disappear")


# --- graceful shutdown ------------------------------------------------------------------


def test_sigterm_under_load_is_clean_and_loses_no_ack(broker):
    topic = unique_topic("term")
    partitions = 3
    ck_create_topic(broker.bootstrap, topic, partitions)
    acked: list[tuple[int, int, bytes]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def on_delivery(err, msg):
        if err is None:
            with lock:
                acked.append((msg.partition(), msg.offset(), msg.value()))

    def run():
        p = make_producer(broker.bootstrap, **{"message.timeout.ms": 5000, "retries": 0, "linger.ms": 2})
        i = 0
        while not stop.is_set():
            try:
                p.produce(topic, value=f"v{i}".encode(), partition=i % partitions, on_delivery=on_delivery)
                i += 1
            except BufferError:
                p.poll(0.05)
            if i % 50 == 0:
                p.poll(0)
        p.flush(10)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    wait_until(lambda: len(acked) >= 2000, 30, message="2000 acknowledged records before SIGTERM")

    started = time.monotonic()
    broker.proc.send_signal(signal.SIGTERM)
    try:
        code = broker.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("strom server did not exit within 10 s of SIGTERM while a producer was sending")
    elapsed = time.monotonic() - started
    stop.set()
    t.join(timeout=30)
    assert code == 0, f"exit code {code} after SIGTERM under load"
    assert elapsed < 5, f"SIGTERM took {elapsed:.1f} s"

    log_before = len(broker.log_text())
    broker.start()
    restart_log = broker.log_text()[log_before:]
    opened = [line for line in restart_log.splitlines() if "opened partition log" in line and topic in line]
    assert len(opened) == partitions, f"expected {partitions} 'opened partition log' lines for {topic}: {opened}"
    for line in opened:
        assert "clean_shutdown=true" in line, f"log not closed cleanly by SIGTERM: {line}"

    with lock:
        acks = list(acked)
    recs = ck_consume_all(broker.bootstrap, topic, partitions, timeout=60)
    stored = {(r.partition, r.offset): r.value for p in recs for r in recs[p]}
    missing = [(p, o, v) for p, o, v in acks if stored.get((p, o)) != v]
    assert not missing, f"{len(missing)} of {len(acks)} acknowledged records lost or changed, e.g. {missing[:5]}"
    for p in range(partitions):
        assert [r.offset for r in recs[p]] == list(range(len(recs[p]))), f"partition {p}: offsets not dense"


# --- node identity ----------------------------------------------------------------------


def test_data_dir_of_another_node_is_refused(broker):
    topic = unique_topic("node")
    ck_create_topic(broker.bootstrap, topic, 1)
    produce_sync(make_producer(broker.bootstrap), topic, [b"a", b"b"])
    broker.stop()

    cmd = [
        strom_bin(), "server", "--data-dir", str(broker.data_dir), "--listen", f"127.0.0.1:{free_port()}",
        "--set", "admin.listen=127.0.0.1:0", "--set", "node.id=5",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=20, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    except subprocess.TimeoutExpired:
        pytest.fail("strom server with node.id=5 on node 0's data dir did not exit (it started?)")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"node.id=5 accepted node 0's data directory: {out}"
    assert "node.id" in out and "5" in out and "0" in out, f"unclear message: {out}"

    # the data dir is untouched: node 0 starts on it and has its data
    broker.start()
    assert watermarks(broker.bootstrap, topic) == (0, 2)


# --- topic deletion and re-creation -----------------------------------------------------


def topic_id(admin, topic: str):
    desc = admin.describe_topics(TopicCollection([topic]), request_timeout=15)[topic].result(timeout=20)
    return desc.topic_id


def test_recreated_topic_starts_empty(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("recreate")
    ck_create_topic(broker.bootstrap, topic, 2)
    old_id = str(topic_id(admin, topic))
    p = make_producer(broker.bootstrap)
    produce_sync(p, topic, [f"old{i}".encode() for i in range(20)], partition=0)
    produce_sync(p, topic, [f"old{i}".encode() for i in range(7)], partition=1)

    delete_topic(admin, topic)
    ck_create_topic(broker.bootstrap, topic, 2)
    assert str(topic_id(admin, topic)) != old_id, "re-created topic has the old topic id"
    assert watermarks(broker.bootstrap, topic, 0) == (0, 0)
    assert watermarks(broker.bootstrap, topic, 1) == (0, 0)
    p2 = make_producer(broker.bootstrap)
    assert produce_sync(p2, topic, [b"new0"], partition=0) == [(0, 0)]
    recs = ck_consume_all(broker.bootstrap, topic, 2)
    assert [(r.offset, r.value) for r in recs[0]] == [(0, b"new0")], recs[0]
    assert recs[1] == []

    broker.restart()
    assert watermarks(broker.bootstrap, topic, 0) == (0, 1)
    assert watermarks(broker.bootstrap, topic, 1) == (0, 0)
    recs = ck_consume_all(broker.bootstrap, topic, 2)
    assert [(r.offset, r.value) for r in recs[0]] == [(0, b"new0")], recs[0]


def test_deleted_topic_gone_after_restart(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("gone")
    ck_create_topic(broker.bootstrap, topic, 1)
    produce_sync(make_producer(broker.bootstrap), topic, [b"x"] * 5)
    delete_topic(admin, topic)
    broker.restart()
    admin = ck_admin(broker.bootstrap)
    # (all-topics metadata: asking for the topic by name would auto-create it again)
    assert topic not in admin.list_topics(timeout=10).topics
    assert not any(d.name.startswith(topic + "-") for d in broker.data_dir.iterdir()), (
        f"partition directories of deleted topic {topic} remain: {sorted(d.name for d in broker.data_dir.iterdir())}"
    )


# --- CreatePartitions -------------------------------------------------------------------


def test_create_partitions_then_produce_and_restart(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("grow")
    ck_create_topic(broker.bootstrap, topic, 2)
    p = make_producer(broker.bootstrap)
    for part in range(2):
        produce_sync(p, topic, [f"p{part}-{i}".encode() for i in range(3)], partition=part)

    admin.create_partitions([NewPartitions(topic, 5)], request_timeout=15)[topic].result(timeout=20)
    ck_wait_for_partitions(admin, topic, 5)
    p = make_producer(broker.bootstrap)  # fresh metadata
    for part in range(2, 5):
        got = produce_sync(p, topic, [f"p{part}-{i}".encode() for i in range(4)], partition=part)
        assert got == [(part, i) for i in range(4)], got

    # shrinking or keeping the count is refused with INVALID_PARTITIONS
    for count in (3, 5):
        with pytest.raises(KafkaException) as exc:
            admin.create_partitions([NewPartitions(topic, count)], request_timeout=15)[topic].result(timeout=20)
        assert exc.value.args[0].code() == KafkaError.INVALID_PARTITIONS, f"to {count}: {exc.value}"

    broker.restart()
    admin = ck_admin(broker.bootstrap)
    ck_wait_for_partitions(admin, topic, 5)
    recs = ck_consume_all(broker.bootstrap, topic, 5)
    for part in range(5):
        n = 3 if part < 2 else 4
        assert [r.value for r in recs[part]] == [f"p{part}-{i}".encode() for i in range(n)], f"partition {part}"


# --- DeleteRecords ----------------------------------------------------------------------


def delete_records(admin, topic: str, partition: int, offset: int):
    fut = admin.delete_records([TopicPartition(topic, partition, offset)], request_timeout=15)
    futures = list(fut.values()) if isinstance(fut, dict) else [fut]
    return futures[0].result(timeout=20)


def test_delete_records_bounds(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("delrec")
    ck_create_topic(broker.bootstrap, topic, 1)
    produce_sync(make_producer(broker.bootstrap), topic, [f"r{i}".encode() for i in range(10)], partition=0)

    res = delete_records(admin, topic, 0, 5)
    assert res.low_watermark == 5, res
    assert watermarks(broker.bootstrap, topic) == (5, 10)

    # Above the high watermark: OFFSET_OUT_OF_RANGE, nothing changes.
    with pytest.raises(KafkaException) as exc:
        delete_records(admin, topic, 0, 11)
    assert exc.value.args[0].code() == KafkaError.OFFSET_OUT_OF_RANGE, exc.value
    assert watermarks(broker.bootstrap, topic) == (5, 10)

    # Below the log start offset: Kafka only ever moves the log start forward, so this is a
    # successful no-op that reports the current low watermark (Partition.deleteRecordsOnLeader
    # throws OFFSET_OUT_OF_RANGE only for a negative offset or one above the high watermark).
    res = delete_records(admin, topic, 0, 2)
    assert res.low_watermark == 5, res
    assert watermarks(broker.bootstrap, topic) == (5, 10)

    # Exactly the high watermark deletes everything; -1 means "the high watermark".
    res = delete_records(admin, topic, 0, 10)
    assert res.low_watermark == 10, res
    produce_sync(make_producer(broker.bootstrap), topic, [b"r10", b"r11"], partition=0)
    res = delete_records(admin, topic, 0, -1)
    assert res.low_watermark == 12, res
    assert watermarks(broker.bootstrap, topic) == (12, 12)

    broker.restart()
    assert watermarks(broker.bootstrap, topic) == (12, 12), "DeleteRecords did not survive a restart"


def test_delete_records_refused_on_compacted_topic(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("delcompact")
    ck_create_topic(broker.bootstrap, topic, 1, config={"cleanup.policy": "compact"})
    p = make_producer(broker.bootstrap)
    for i in range(3):
        p.produce(topic, key=b"k", value=b"v", partition=0)
    assert p.flush(20) == 0
    # Kafka (Partition.deleteRecordsOnLeader): records of a log whose cleanup.policy lacks
    # "delete" cannot be deleted: POLICY_VIOLATION.
    with pytest.raises(KafkaException) as exc:
        delete_records(admin, topic, 0, 1)
    assert exc.value.args[0].code() == KafkaError.POLICY_VIOLATION, exc.value
    assert watermarks(broker.bootstrap, topic) == (0, 3)

    both = unique_topic("delboth")
    ck_create_topic(broker.bootstrap, both, 1, config={"cleanup.policy": "compact,delete"})
    for i in range(3):
        p.produce(both, key=b"k", value=b"v", partition=0)
    assert p.flush(20) == 0
    assert delete_records(admin, both, 0, 1).low_watermark == 1


# --- cluster and topic descriptions -----------------------------------------------------


def test_describe_cluster_stable_across_restarts(broker):
    admin = ck_admin(broker.bootstrap)
    desc = admin.describe_cluster(request_timeout=15).result(timeout=20)
    assert len(desc.nodes) == 1, desc.nodes
    node = desc.nodes[0]
    assert node.id == 0
    assert (node.host, node.port) == (broker.host, broker.port), (node.host, node.port)
    assert desc.cluster_id and len(desc.cluster_id) >= 16, desc.cluster_id
    assert desc.controller is not None and desc.controller.id == 0, desc.controller
    cluster_id = desc.cluster_id
    # Metadata agrees
    md = admin.list_topics(timeout=10)
    assert md.cluster_id == cluster_id and md.controller_id == 0 and list(md.brokers) == [0]

    broker.restart()
    broker.restart()
    admin = ck_admin(broker.bootstrap)
    desc = admin.describe_cluster(request_timeout=15).result(timeout=20)
    assert desc.cluster_id == cluster_id, f"cluster id changed across restarts: {cluster_id} -> {desc.cluster_id}"
    assert [n.id for n in desc.nodes] == [0]


def test_describe_topics(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("desc")
    ck_create_topic(broker.bootstrap, topic, 3)
    desc = admin.describe_topics(TopicCollection([topic]), request_timeout=15)[topic].result(timeout=20)
    assert desc.name == topic
    assert not desc.is_internal
    assert desc.topic_id is not None and str(desc.topic_id) not in ("", "AAAAAAAAAAAAAAAAAAAAAA"), desc.topic_id
    assert [p.id for p in sorted(desc.partitions, key=lambda p: p.id)] == [0, 1, 2]
    for p in desc.partitions:
        assert p.leader is not None and p.leader.id == 0, p
        assert [n.id for n in p.replicas] == [0], p
        assert [n.id for n in p.isr] == [0], p
    # stable across a restart
    tid = str(desc.topic_id)
    broker.restart()
    admin = ck_admin(broker.bootstrap)
    desc2 = admin.describe_topics(TopicCollection([topic]), request_timeout=15)[topic].result(timeout=20)
    assert str(desc2.topic_id) == tid

    missing = unique_topic("nope")
    with pytest.raises(KafkaException) as exc:
        admin.describe_topics(TopicCollection([missing]), request_timeout=15)[missing].result(timeout=20)
    assert exc.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART, exc.value
    # describing does not create it
    assert missing not in admin.list_topics(timeout=10).topics


def test_topic_deleted_under_a_long_poll_leaves_no_directory(broker):
    """A fetch parked on a partition holds it while its topic is deleted; the deletion wakes it,
    and once it lets go the partition's directory is gone without a restart."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    topic = unique_topic("dlp")
    ck_create_topic(broker.bootstrap, topic, 1)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "unused",
                  "fetch.wait.max.ms": 5000, "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    c.poll(1.0)  # a long poll is now parked on the empty partition
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    admin.delete_topics([topic])[topic].result(timeout=10)
    wait_until(
        lambda: not any(p.name.startswith(f"{topic}-") for p in broker.data_dir.iterdir()),
        15,
        message="the deleted topic's directories to disappear",
    )
    c.close()
    ck_create_topic(broker.bootstrap, topic, 1)
    assert (broker.data_dir / f"{topic}-0").is_dir()
