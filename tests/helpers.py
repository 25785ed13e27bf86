"""Small helpers shared by the Python compatibility tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

import socket
import time
import uuid
from dataclasses import dataclass, field


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (bind :0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unique_topic(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    """Poll predicate() until it returns a truthy value; return that value or fail."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - reported below if we time out
            last_exc = exc
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {message}"
        + (f" (last error: {last_exc!r})" if last_exc else "")
    )


# --- confluent-kafka helpers ---------------------------------------------------------


def ck_admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})


def ck_create_topic(bootstrap: str, name: str, partitions: int = 3, config: dict | None = None):
    """Create a topic with confluent-kafka's AdminClient and wait until every partition has
    a leader in the metadata."""
    from confluent_kafka.admin import NewTopic

    admin = ck_admin(bootstrap)
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
        operation_timeout=10,
        request_timeout=15,
    )
    futures[name].result(timeout=20)
    ck_wait_for_partitions(admin, name, partitions)
    return admin


def ck_wait_for_partitions(admin, name: str, partitions: int, timeout: float = 15.0):
    def ready():
        md = admin.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        if t is None or t.error is not None or len(t.partitions) != partitions:
            return False
        return all(p.leader >= 0 and p.error is None for p in t.partitions.values())

    wait_until(ready, timeout, message=f"topic {name} with {partitions} partitions led")


@dataclass
class Rec:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: list = field(default_factory=list)


def ck_consume_all(
    bootstrap: str, topic: str, partitions: int, timeout: float = 30.0, extra: dict | None = None
) -> dict[int, list[Rec]]:
    """Read every partition of `topic` from the beginning up to its high watermark (as of
    the call) with confluent-kafka, no consumer group. Returns {partition: [Rec, ...]}."""
    from confluent_kafka import Consumer, TopicPartition

    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "strom-tests-unused",  # required by librdkafka; nothing is committed
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    }
    conf.update(extra or {})
    consumer = Consumer(conf)
    try:
        ends = {}
        for p in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            ends[p] = high
        return read_to_ends(consumer, topic, ends, timeout)
    finally:
        consumer.close()


def read_to_ends(
    consumer, topic: str, ends: dict[int, int], timeout: float, what: str = "consume", poll: float = 0.5
) -> dict[int, list[Rec]]:
    """Reads every partition of `topic` with the (unassigned, group-less) `consumer` from the
    beginning up to `ends[partition]` (exclusive). Returns {partition: [Rec, ...]}."""
    from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

    out: dict[int, list[Rec]] = {p: [] for p in ends}
    todo = {p for p in ends if ends[p] > 0}
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
    deadline = time.monotonic() + timeout
    while todo:
        if time.monotonic() > deadline:
            got = {p: (out[p][-1].offset if out[p] else None) for p in ends}
            raise AssertionError(f"{what} of {topic} timed out: ends {ends}, last offsets read {got}")
        msg = consumer.poll(poll)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                if msg.offset() >= ends[msg.partition()]:
                    todo.discard(msg.partition())
                continue
            raise AssertionError(f"consume error: {msg.error()}")
        p = msg.partition()
        if msg.offset() >= ends[p]:
            todo.discard(p)
            continue
        _, ts = msg.timestamp()
        out[p].append(Rec(p, msg.offset(), msg.key(), msg.value(), ts, list(msg.headers() or [])))
        if msg.offset() + 1 >= ends[p]:
            todo.discard(p)
    return out


# --- consumer groups -----------------------------------------------------------------

# Broker flags for the consumer-group tests: the first rebalance of a new group starts at once
# instead of after Kafka's default group.initial.rebalance.delay.ms (3 s).
GROUP_BROKER_ARGS = ["--set", "group.initial.rebalance.delay.ms=0"]

# Client settings that keep session-timeout tests short. 6000 ms is the broker's
# group.min.session.timeout.ms (Kafka's default too).
GROUP_SESSION_TIMEOUT_MS = 6000
GROUP_HEARTBEAT_MS = 1000


def unique_group(prefix: str = "g") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def ck_produce_per_partition(
    bootstrap: str, topic: str, partitions: int, per_partition: int, tag: str = "r"
) -> dict[tuple[int, int], bytes]:
    """Produce `per_partition` records to each partition (explicitly, no partitioner) with
    acks=all; return {(partition, offset): value} of what was acknowledged."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "message.timeout.ms": 20000})
    acked: dict[tuple[int, int], bytes] = {}
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err)
        else:
            acked[(msg.partition(), msg.offset())] = msg.value()

    for i in range(per_partition):
        for part in range(partitions):
            p.produce(topic, value=f"{tag}-{part}-{i}".encode(), key=f"k{i}".encode(),
                      partition=part, on_delivery=on_delivery)
        p.poll(0)
    remaining = p.flush(30)
    assert remaining == 0 and not errors, f"{remaining} undelivered, errors {errors[:3]}"
    assert len(acked) == partitions * per_partition
    return acked


def high_watermarks(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "strom-tests-unused"})
    try:
        return {
            p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in range(partitions)
        }
    finally:
        c.close()


def stop_producer_process(proc, timeout: float = 40.0) -> None:
    """Asks a producer subprocess to finish (SIGTERM: it flushes and logs its last
    acknowledgements), killing it if it does not within `timeout` seconds."""
    import signal
    import subprocess

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

