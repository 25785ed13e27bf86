"""Retention end to end: retention.bytes and retention.ms delete old segments, segment.ms rolls
feed time-based retention, the log start offset (ListOffsets earliest) follows, consumers start
there, and a fetch below it is OFFSET_OUT_OF_RANGE (handled by auto.offset.reset).

Kafka 4 requires segment.bytes >= 1 MiB, so the tiny segments here use the internal, test-only
topic config `internal.segment.bytes` (as Kafka's own tests do). The broker checks retention
every 200 ms (`log.retention.check.interval.ms`, a static broker config)."""

from __future__ import annotations

import time
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from helpers import ck_consume_all, ck_create_topic, unique_topic, wait_until

RETENTION_ARGS = ["--set", "log.retention.check.interval.ms=200"]


def make_producer(bootstrap: str, **conf) -> Producer:
    c = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 0,
        "batch.num.messages": 5,  # many small batches, so that segments roll often
        "message.timeout.ms": 20000,
    }
    c.update(conf)
    return Producer(c)


def produce_n(p: Producer, topic: str, n: int, size: int = 100, start: int = 0, partition: int = 0) -> list[int]:
    """Produce n records (values `v<i>` padded to size bytes); return their offsets."""
    offsets: dict[int, int] = {}
    errors = []

    def cb(err, msg):
        if err is not None:
            errors.append(err)
        else:
            offsets[int(msg.value().split(b"|")[0][1:])] = msg.offset()

    for i in range(start, start + n):
        value = f"v{i}|".encode().ljust(size, b"x")
        p.produce(topic, value=value, partition=partition, on_delivery=cb)
        p.poll(0)
    assert p.flush(30) == 0, "records not delivered within 30 s"
    assert not errors, f"delivery errors: {errors[:5]}"
    return [offsets[i] for i in range(start, start + n)]


def make_consumer(bootstrap: str, **conf) -> Consumer:
    c = {
        "bootstrap.servers": bootstrap,
        "group.id": "strom-tests-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    }
    c.update(conf)
    return Consumer(c)


def watermarks(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, int]:
    c = make_consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def first_consumed(bootstrap: str, topic: str, offset: int, partition: int = 0, timeout: float = 20.0, **conf):
    """Assign at `offset` and return the first message (or error event) the consumer yields."""
    c = make_consumer(bootstrap, **conf)
    try:
        c.assign([TopicPartition(topic, partition, offset)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is not None:
                return msg
        raise AssertionError(f"nothing consumed from {topic}[{partition}] at {offset} within {timeout} s")
    finally:
        c.close()


def settled_log_start(bootstrap: str, topic: str) -> int | None:
    """The log start offset once it is past 0 and unchanged over several retention checks."""
    low, _ = watermarks(bootstrap, topic)
    if low == 0:
        return None
    time.sleep(0.8)  # four retention checks
    return low if watermarks(bootstrap, topic)[0] == low else None


def partition_dir(broker, topic: str, partition: int = 0) -> Path:
    d = broker.data_dir / f"{topic}-{partition}"
    assert d.is_dir(), f"no partition directory {d}: {sorted(p.name for p in broker.data_dir.iterdir())}"
    return d


def live_segment_files(broker, topic: str, partition: int = 0) -> list[str]:
    """The segment `.log` files of a partition not yet marked for deletion."""
    return sorted(p.name for p in partition_dir(broker, topic, partition).iterdir() if p.name.endswith(".log"))


def test_retention_bytes_moves_log_start_offset(broker_factory):
    broker = broker_factory(extra_args=RETENTION_ARGS)
    topic = unique_topic("ret-bytes")
    ck_create_topic(
        broker.bootstrap, topic, 1, config={"internal.segment.bytes": "1024", "retention.bytes": "4096"}
    )
    p = make_producer(broker.bootstrap)
    offsets = produce_n(p, topic, 500, size=100)  # ~50 KiB of values
    assert offsets == list(range(500)), f"offsets not 0..499: {offsets[:10]}..."

    # Kafka keeps at least retention.bytes (segments are deleted only while what remains is
    # still >= retention.bytes), and deletes while the excess covers a whole segment, so what
    # is left is roughly 4 KiB plus at most a segment (~40 records of ~110 bytes): far fewer
    # than the 500 records produced. Retention runs periodically (also while producing), so
    # wait for a check that ran after the last append.
    seen = []

    def converged():
        low, high = watermarks(broker.bootstrap, topic)
        seen.append((low, high))
        return (low, high) if 0 < high - low < 150 else None

    try:
        low, high = wait_until(converged, 20, interval=0.3, message="retention.bytes=4096 to trim the log")
    except AssertionError as e:
        raise AssertionError(f"{e}; watermarks seen (low, high): {seen[:3]} ... {seen[-3:]}") from None
    assert high == 500, f"high watermark {high}, expected 500"
    remaining = high - low
    # the retained bytes must hold at least retention.bytes worth of records (~100-byte values)
    assert remaining >= 4096 // 200, f"only {remaining} records remain: retention deleted too much"

    # Consuming from the beginning starts exactly at the log start offset, and reads to the end.
    wait_until(lambda: settled_log_start(broker.bootstrap, topic), 10, interval=0.1, message="log start to settle")
    msg = first_consumed(broker.bootstrap, topic, OFFSET_BEGINNING)
    assert msg.error() is None, msg.error()
    low_now, _ = watermarks(broker.bootstrap, topic)
    assert msg.offset() == low_now, f"first consumed offset {msg.offset()}, log start offset {low_now}"
    assert msg.value().startswith(f"v{msg.offset()}|".encode()), msg.value()[:20]
    recs = ck_consume_all(broker.bootstrap, topic, 1)[0]
    assert recs, "nothing consumed"
    assert [r.offset for r in recs] == list(range(recs[0].offset, 500)), "gap in the retained records"
    for r in recs:
        assert r.value.startswith(f"v{r.offset}|".encode())

    # The log start offset survives a restart.
    low_before, _ = watermarks(broker.bootstrap, topic)
    broker.restart()
    low_after, high_after = watermarks(broker.bootstrap, topic)
    assert high_after == 500
    assert low_after >= low_before, f"log start offset went back from {low_before} to {low_after} on restart"


def test_retention_ms_deletes_old_segments(broker_factory):
    broker = broker_factory(extra_args=RETENTION_ARGS)
    topic = unique_topic("ret-ms")
    ck_create_topic(
        broker.bootstrap,
        topic,
        1,
        config={"internal.segment.bytes": "1024", "retention.ms": "1000", "file.delete.delay.ms": "0"},
    )
    p = make_producer(broker.bootstrap)
    produce_n(p, topic, 200, size=100)  # ~20 KiB, many segments
    low0, high0 = watermarks(broker.bootstrap, topic)
    assert high0 == 200

    # Every segment (the active one included: Kafka rolls it first) is older than retention.ms
    # after a second; the log becomes empty at offset 200.
    wait_until(
        lambda: watermarks(broker.bootstrap, topic) == (200, 200),
        20,
        interval=0.3,
        message="retention.ms=1000 to delete every segment (watermarks (200, 200))",
    )
    # The segment files are gone from disk too (file.delete.delay.ms=0), apart from the new
    # empty active segment.
    wait_until(
        lambda: len(live_segment_files(broker, topic)) <= 1,
        10,
        message="old segment files to be removed from disk",
    )
    # The log goes on at offset 200, and consuming from the beginning starts there.
    offsets = produce_n(p, topic, 3, size=10, start=1000)
    assert offsets == [200, 201, 202], offsets
    msg = first_consumed(broker.bootstrap, topic, OFFSET_BEGINNING)
    assert msg.error() is None, msg.error()
    assert msg.offset() == 200 and msg.value().startswith(b"v1000|"), (msg.offset(), msg.value())


def test_segment_ms_roll_with_time_retention(broker_factory):
    """With the default (1 GiB) segment size only segment.ms rolls segments; retention.ms then
    deletes the old ones while the recent records stay."""
    broker = broker_factory(extra_args=RETENTION_ARGS)
    topic = unique_topic("ret-roll")
    ck_create_topic(broker.bootstrap, topic, 1, config={"segment.ms": "300", "retention.ms": "2000"})
    p = make_producer(broker.bootstrap)
    produced_at: list[float] = []
    deadline = time.monotonic() + 6.0
    i = 0
    while time.monotonic() < deadline:
        produce_n(p, topic, 1, size=20, start=i)
        produced_at.append(time.time())
        i += 1
        time.sleep(0.2)
    n = i
    low, high = watermarks(broker.bootstrap, topic)
    assert high == n
    # The first records are ~6 s old (> retention.ms = 2 s), in segments rolled by segment.ms.
    low = wait_until(
        lambda: watermarks(broker.bootstrap, topic)[0] or None, 10, message="retention to delete rolled segments"
    )
    assert low > 0
    assert len(live_segment_files(broker, topic)) >= 1
    # Records of the last ~second are younger than retention.ms and must still be there
    # (unless they were just now deleted, which needs 2 s to pass: check quickly).
    low, high = watermarks(broker.bootstrap, topic)
    recent = [k for k, t in enumerate(produced_at) if time.time() - t < 1.0]
    if recent:
        assert low <= recent[0], f"log start {low} is past record {recent[0]} produced less than 1 s ago"
    # several segments were rolled: more than one segment file ever existed means the base
    # offsets of the surviving files are not all 0
    names = live_segment_files(broker, topic)
    assert any(not name.startswith("00000000000000000000") for name in names), (
        f"segment.ms=300 never rolled a segment: {names}"
    )


def test_fetch_below_log_start_is_out_of_range(broker_factory):
    broker = broker_factory(extra_args=RETENTION_ARGS)
    topic = unique_topic("ret-oor")
    ck_create_topic(
        broker.bootstrap, topic, 1, config={"internal.segment.bytes": "1024", "retention.bytes": "2048"}
    )
    p = make_producer(broker.bootstrap)
    produce_n(p, topic, 300, size=100)
    low = wait_until(lambda: settled_log_start(broker.bootstrap, topic), 20, interval=0.1, message="log start to move and settle")
    assert low > 10

    # auto.offset.reset=earliest: a fetch at 0 (below the log start) resets to the log start.
    msg = first_consumed(broker.bootstrap, topic, 0, **{"auto.offset.reset": "earliest"})
    assert msg.error() is None, f"expected a record after the reset, got {msg.error()}"
    low_now, _ = watermarks(broker.bootstrap, topic)
    assert msg.offset() == low_now, f"reset to {msg.offset()}, log start offset {low_now}"
    assert msg.value().startswith(f"v{msg.offset()}|".encode())

    # auto.offset.reset=error surfaces the broker's OFFSET_OUT_OF_RANGE to the application.
    msg = first_consumed(broker.bootstrap, topic, 1, **{"auto.offset.reset": "error"})
    assert msg.error() is not None, f"fetch at offset 1 (log start {low}) returned a record at {msg.offset()}"
    assert msg.error().code() == KafkaError._AUTO_OFFSET_RESET, msg.error()
    assert "out of range" in msg.error().str().lower(), msg.error().str()

    # A fetch above the high watermark is out of range too; `latest` resets to the end.
    msg_err = first_consumed(broker.bootstrap, topic, 10_000, **{"auto.offset.reset": "error"})
    assert msg_err.error() is not None and msg_err.error().code() == KafkaError._AUTO_OFFSET_RESET, msg_err.error()
