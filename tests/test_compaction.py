"""Log compaction end to end (Kafka's log cleaner): topics with `cleanup.policy=compact` keep,
once the cleaner has run, the latest record of every key; offsets never change (removed records
leave gaps that consumers skip) and the high watermark stays; a tombstone (null value) stays
`delete.retention.ms` after the cleaning that first saw it, then goes with its key; records of
aborted transactions go; a record without a key is refused (INVALID_RECORD).

The cleaner cleans closed segments only, so the tests make segments roll (the internal test-only
topic config `internal.segment.bytes`, as in test_broker_retention.py, or `segment.ms`) and
push the records they care about out of the active segment with "filler" records of another
key produced afterwards. The broker looks for work every `log.cleaner.backoff.ms` (15 s by
default: set to 100 ms here) and logs one line per cleaning containing `cleaned log`.
Cleaning is asynchronous: every check polls, with a bounded wait, until the expected state.
"""

from __future__ import annotations

import collections
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, Producer, TopicPartition

from helpers import (
    GROUP_BROKER_ARGS,
    Rec,
    ck_admin,
    ck_consume_all,
    ck_create_topic,
    high_watermarks,
    stop_producer_process,
    unique_group,
    unique_topic,
    wait_until,
)

HERE = Path(__file__).resolve().parent

CLEANER_ARGS = ["--set", "log.cleaner.backoff.ms=100"]
FILLER_KEY = b"~filler"
CLEANED = "cleaned log"


# --- helpers -------------------------------------------------------------------------------


def compact_config(**overrides: str) -> dict[str, str]:
    """A compacted topic with tiny segments that the cleaner takes at once. Keyword names use
    '_' for '.' (min_cleanable_dirty_ratio="0.5")."""
    config = {
        "cleanup.policy": "compact",
        "internal.segment.bytes": "2048",
        "min.cleanable.dirty.ratio": "0.01",
    }
    for name, value in overrides.items():
        name = name.replace("_", ".")
        if value is None:
            config.pop(name, None)
        else:
            config[name] = value
    return config


def make_producer(bootstrap: str, **conf) -> Producer:
    c = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": False,
        "linger.ms": 2,
        "batch.num.messages": 10,  # many small batches, so that segments roll often
        "message.timeout.ms": 20000,
        "log_level": 2,  # a failed test's producers outlive it: no connection-refused noise
    }
    c.update(conf)
    return Producer(c)


Acked = collections.namedtuple("Acked", "partition offset key value")


def produce_keyed(p: Producer, topic: str, records, partition: int | None = None) -> list[Acked]:
    """Produce (key, value) pairs (value None = tombstone), wait for all; returns what was
    acknowledged, in acknowledgement order."""
    acked: list[Acked] = []
    errors = []

    def cb(err, msg):
        if err is not None:
            errors.append((msg.key(), err))
        else:
            acked.append(Acked(msg.partition(), msg.offset(), msg.key(), msg.value()))

    n = 0
    for key, value in records:
        kw = {} if partition is None else {"partition": partition}
        while True:
            try:
                p.produce(topic, key=key, value=value, on_delivery=cb, **kw)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        p.poll(0)
    assert p.flush(30) == 0, "records not delivered within 30 s"
    assert not errors, f"delivery errors: {errors[:5]}"
    assert len(acked) == n
    return acked


def filler(n: int, size: int = 100, tag: str = "f") -> list[tuple[bytes, bytes]]:
    """n records of one key, big enough to roll tiny segments: produced after the records a
    test checks, they move those out of the active segment (which is never cleaned)."""
    stamp = f"{tag}-{time.monotonic_ns()}"
    # random (incompressible) padding: the records roll segments whatever the codec
    return [(FILLER_KEY, (f"{stamp}-{i}|".encode() + os.urandom(size).hex().encode())[:size]) for i in range(n)]


def latest_acked(acked: list[Acked]) -> dict[tuple[int, bytes], Acked]:
    """(partition, key) -> the acknowledged record at the highest offset."""
    out: dict[tuple[int, bytes], Acked] = {}
    for a in acked:
        cur = out.get((a.partition, a.key))
        if cur is None or a.offset > cur.offset:
            out[(a.partition, a.key)] = a
    return out


def by_key(recs: list[Rec]) -> dict[bytes, list[Rec]]:
    out: dict[bytes, list[Rec]] = collections.defaultdict(list)
    for r in recs:
        out[r.key].append(r)
    return out


def read_partition(broker, topic: str, partition: int = 0, partitions: int = 1, timeout: float = 30.0) -> list[Rec]:
    return ck_consume_all(broker.bootstrap, topic, partitions, timeout=timeout)[partition]


def watermarks(bootstrap: str, topic: str, partition: int = 0) -> tuple[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "strom-tests-unused"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)
    finally:
        c.close()


def cleaning_lines(broker, topic: str | None = None) -> list[str]:
    """The server log's `cleaned log` lines (of `topic`'s partitions when given)."""
    lines = [line for line in broker.log_text().splitlines() if CLEANED in line]
    if topic is not None:
        lines = [line for line in lines if topic in line]
    return lines


def log_field(line: str, name: str) -> int | None:
    m = re.search(rf"\b{re.escape(name)}[=:]\s*(\d+)", line)
    return int(m.group(1)) if m else None


def partition_dir(broker, topic: str, partition: int = 0) -> Path:
    return broker.data_dir / f"{topic}-{partition}"


def segment_bytes_on_disk(broker, topic: str, partition: int = 0) -> int:
    """Total size of the partition's live segment files (`*.log`: not the `.deleted` ones)."""
    d = partition_dir(broker, topic, partition)
    return sum(f.stat().st_size for f in d.iterdir() if f.name.endswith(".log"))


def leftover_cleaner_files(broker, topic: str, partitions: int) -> list[str]:
    out = []
    for p in range(partitions):
        d = partition_dir(broker, topic, p)
        if d.is_dir():
            out += [f"{d.name}/{f.name}" for f in d.iterdir() if f.name.endswith((".cleaned", ".swap"))]
    return out


def poll_state(check, timeout: float, what: str, interval: float = 0.3):
    """Call check() until it returns (True, value); check returns (done, value_or_description).
    On timeout, fail with the last description."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            done, value = check()
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 - reported on timeout
            done, value = False, f"error: {e!r}"
        if done:
            return value
        last = value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last state: {last}")
        time.sleep(interval)


def one_latest_per_key(recs: list[Rec], latest: dict[bytes, Acked]) -> tuple[bool, str]:
    """Whether every key of `latest` has exactly one record in `recs`, its latest acknowledged
    value at the acknowledged offset; else a description of how far from it the log is."""
    keys = by_key(recs)
    dup = {k: len(keys[k]) for k in latest if len(keys.get(k, [])) > 1}
    missing = [k for k in latest if not keys.get(k)]
    if dup or missing:
        return False, (
            f"{len(recs)} records; {len(dup)} keys with several records (e.g. "
            f"{sorted(dup.items())[:3]}); keys without records: {missing[:5]}"
        )
    wrong = [
        (k, keys[k][0].offset, keys[k][0].value, a.offset, a.value)
        for k, a in latest.items()
        if (keys[k][0].offset, keys[k][0].value) != (a.offset, a.value)
    ]
    if wrong:
        return False, f"keys whose only record is not the latest acknowledged one: {wrong[:5]}"
    return True, "ok"


def assert_offsets_increase(recs: list[Rec], what: str = "") -> None:
    offsets = [r.offset for r in recs]
    back = [(a, b) for a, b in zip(offsets, offsets[1:]) if b <= a]
    assert not back, f"{what}offsets not strictly increasing: {back[:10]}"


# --- 1. confluent-kafka: latest value per key, offsets kept ---------------------------------


def test_compaction_keeps_latest_value_per_key_at_its_offset(broker_factory):
    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config())
    p = make_producer(broker.bootstrap)
    keys = [f"key-{k:03d}".encode() for k in range(50)]
    versions = 20
    records = [(k, f"{k.decode()}:v{v}|".encode().ljust(60, b"x")) for v in range(versions) for k in keys]
    acked = produce_keyed(p, topic, records, partition=0)
    produced_bytes = sum(len(k) + len(v) for k, v in records)
    latest = {k: a for (_, k), a in latest_acked(acked).items()}
    assert all(a.value.startswith(f"{k.decode()}:v{versions - 1}|".encode()) for k, a in latest.items())
    tail = produce_keyed(p, topic, filler(40), partition=0)
    _, hw = watermarks(broker.bootstrap, topic)
    assert hw == len(records) + 40, f"high watermark {hw}, produced {len(records) + 40}"

    def compacted():
        recs = read_partition(broker, topic)
        ok, why = one_latest_per_key(recs, latest)
        if ok and cleaning_lines(broker, topic):
            return True, recs
        return False, f"{why}; {len(cleaning_lines(broker, topic))} '{CLEANED}' lines for the topic"

    recs = poll_state(compacted, 30, "one record per key, the latest (compaction)")

    # Offsets are the acknowledged ones, strictly increasing, with gaps; the high watermark and
    # the log start offset do not move.
    assert_offsets_increase(recs)
    assert len(recs) <= len(keys) + 40, f"{len(recs)} records left of {hw}: too little was removed"
    assert recs[-1].offset == hw - 1 and recs[-1].key == FILLER_KEY, "the active segment's last record is gone"
    assert recs[-1].value == max(tail, key=lambda a: a.offset).value
    assert watermarks(broker.bootstrap, topic) == (0, hw), (
        f"watermarks {watermarks(broker.bootstrap, topic)} after compaction, expected (0, {hw}): "
        "compaction moves neither the log start offset nor the high watermark"
    )
    stored = {r.offset for r in recs}
    assert len(stored) < hw, "no gap in the offsets"
    for a in acked:
        if a.offset not in stored:
            assert latest[a.key].offset > a.offset, f"record at {a.offset} removed though it is its key's latest"

    # Fetching at a removed offset starts at the next record kept.
    gap = next(o for o in range(hw) if o not in stored and o > 0 and o + 1 not in stored)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "strom-tests-unused",
                  "enable.auto.commit": False, "auto.offset.reset": "error"})
    try:
        c.assign([TopicPartition(topic, 0, gap)])
        msg = None
        deadline = time.monotonic() + 15
        while msg is None and time.monotonic() < deadline:
            msg = c.poll(0.5)
        assert msg is not None, f"nothing consumed from the removed offset {gap}"
        assert msg.error() is None, f"fetch at the removed offset {gap}: {msg.error()}"
        expect = min(o for o in stored if o > gap)
        assert msg.offset() == expect, f"fetch at removed offset {gap} returned offset {msg.offset()}, next kept is {expect}"
    finally:
        c.close()

    # What the cleaner logged, and what is left on disk.
    lines = cleaning_lines(broker, topic)
    removed = [log_field(line, "records_removed") for line in lines]
    if all(r is not None for r in removed):
        assert sum(removed) > 0, f"no cleaning reports removed records: {lines}"
    on_disk = segment_bytes_on_disk(broker, topic)
    assert on_disk < produced_bytes / 3, (
        f"{on_disk} bytes of segments remain after compaction; {produced_bytes} bytes of keys and values produced"
    )

    # A clean restart keeps the compacted log as it is (the filler key's records may still be
    # compacted further, by a cleaning of segments closed late).
    broker.stop()
    broker.restart()
    main = lambda rs: [(r.offset, r.key, r.value) for r in rs if r.key != FILLER_KEY]  # noqa: E731
    again = read_partition(broker, topic)
    assert main(again) == main(recs), "the compacted log changed across a restart"
    assert watermarks(broker.bootstrap, topic) == (0, hw)
    leftovers = leftover_cleaner_files(broker, topic, 1)
    assert not leftovers, f"cleaner files left after a clean restart: {leftovers}"


# --- 2. kafka-python: the same from an independent client -----------------------------------


def test_kafka_python_reads_compacted_log_with_gaps(broker_factory):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KTP

    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp-kp")
    partitions = 2
    # Segments rolled by time (segment.ms) here, with the default segment size.
    ck_create_topic(
        broker.bootstrap, topic, partitions,
        config=compact_config(internal_segment_bytes=None, segment_ms="400"),
    )
    prod = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False,
                         linger_ms=5, request_timeout_ms=15000)
    keys = [f"kp-{k:02d}".encode() for k in range(30)]
    futures = [
        (k, v, prod.send(topic, key=k, value=f"{k.decode()}@{v}".encode()))
        for v in range(15)
        for k in keys
    ]
    prod.flush(timeout=30)
    acked = []
    for k, v, f in futures:
        md = f.get(timeout=20)
        acked.append(Acked(md.partition, md.offset, k, f"{k.decode()}@{v}".encode()))
    latest = latest_acked(acked)
    time.sleep(0.5)  # older than segment.ms: the next append rolls the segment
    for p in range(partitions):
        for i in range(3):
            prod.send(topic, key=FILLER_KEY, value=f"filler-{p}-{i}".encode(), partition=p).get(timeout=20)
    prod.close()
    ends = high_watermarks(broker.bootstrap, topic, partitions)

    def kp_read() -> dict[int, list]:
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None, enable_auto_commit=False,
                          auto_offset_reset="earliest", request_timeout_ms=15000, fetch_max_wait_ms=100)
        try:
            tps = [KTP(topic, p) for p in range(partitions)]
            c.assign(tps)
            c.seek_to_beginning()
            end = c.end_offsets(tps)
            out = {p: [] for p in range(partitions)}
            deadline = time.monotonic() + 20
            while any(c.position(tp) < end[tp] for tp in tps):
                assert time.monotonic() < deadline, f"kafka-python read timed out; end offsets {end}"
                for tp, recs in c.poll(timeout_ms=300).items():
                    out[tp.partition].extend(recs)
            return out
        finally:
            c.close()

    def compacted():
        logs = kp_read()
        for p in range(partitions):
            want = {k: a for (part, k), a in latest.items() if part == p}
            recs = [Rec(p, r.offset, r.key, r.value, r.timestamp) for r in logs[p]]
            ok, why = one_latest_per_key(recs, want)
            if not ok:
                return False, f"partition {p}: {why}"
        return True, logs

    logs = poll_state(compacted, 30, "kafka-python to read one record per key, the latest")
    for p in range(partitions):
        offsets = [r.offset for r in logs[p]]
        assert offsets == sorted(set(offsets)), f"partition {p}: offsets not strictly increasing"
        assert offsets[-1] == ends[p] - 1, f"partition {p}: last offset {offsets[-1]}, high watermark {ends[p]}"
        assert len(offsets) < ends[p], f"partition {p}: no gap left by compaction"
        assert logs[p][-1].value == f"filler-{p}-2".encode()
    assert high_watermarks(broker.bootstrap, topic, partitions) == ends


# --- 2b. compressed batches, timestamps, headers ----------------------------------------------


def test_compaction_of_compressed_batches_keeps_timestamps_and_headers(broker_factory):
    """The cleaner rewrites compressed batches (each codec) keeping what survives as it was:
    key, value, headers, CreateTime timestamp, offset; ListOffsets by timestamp then finds the
    first record kept at or after the time."""
    broker = broker_factory(extra_args=CLEANER_ARGS)
    base_ts = int(time.time() * 1000) - 600_000
    keys = [f"z{k:02d}".encode() for k in range(30)]
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        topic = unique_topic(f"cmp-{codec}")
        ck_create_topic(broker.bootstrap, topic, 1, config=compact_config())
        p = make_producer(broker.bootstrap, **{"compression.type": codec, "batch.num.messages": 20})
        sent = {}  # offset -> (key, value, headers, timestamp)
        headers_of = {}  # value -> headers (delivery reports do not carry them)
        errors = []

        def cb(err, msg):
            if err is not None:
                errors.append(err)
            else:
                sent[msg.offset()] = (msg.key(), msg.value(), headers_of[msg.value()], msg.timestamp()[1])

        i = 0
        for v in range(6):
            for n, k in enumerate(keys):
                if v >= 3 and n % 3 == 0:
                    continue  # keys whose latest record ends up in the middle of the log
                value = f"{k.decode()}:{v}:".encode() + b"c" * 50
                headers_of[value] = [("v", str(v).encode()), ("codec", codec.encode()), ("i", str(i).encode())]
                p.produce(topic, key=k, value=value, partition=0, timestamp=base_ts + i * 100,
                          headers=headers_of[value], on_delivery=cb)
                i += 1
                p.poll(0)
        assert p.flush(30) == 0 and not errors, errors[:3]
        produce_keyed(p, topic, filler(40), 0)
        latest = {}
        for off in sorted(sent):
            key = sent[off][0]
            latest[key] = Acked(0, off, key, sent[off][1])

        poll_state(lambda: one_latest_per_key(read_partition(broker, topic), latest), 30,
                   f"compaction of {codec} batches")
        recs = [r for r in read_partition(broker, topic) if r.key != FILLER_KEY]
        for r in recs:
            key, value, headers, ts = sent[r.offset]
            assert (r.key, r.value, r.timestamp) == (key, value, ts), (codec, r.offset, r, sent[r.offset])
            assert r.headers == headers, (codec, r.offset, r.headers, headers)

        # offsets_for_times at a removed record's time: the first kept record at or after it
        kept = sorted(r.offset for r in recs)
        removed = [o for o in range(0, kept[-1]) if o not in set(kept)]
        c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "strom-tests-unused"})
        try:
            for off in (removed[0], removed[len(removed) // 2], removed[-1]):
                ts = sent[off][3]
                got = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)[0].offset
                want = min(o for o in kept if sent[o][3] >= ts)
                assert got == want, f"{codec}: offsets_for_times({ts}) = {got}, first kept record at or after it is {want}"
        finally:
            c.close()


# --- 3. tombstones --------------------------------------------------------------------------


def test_tombstones_kept_for_delete_retention_then_removed(broker_factory):
    broker = broker_factory(extra_args=CLEANER_ARGS)
    short, long_ = unique_topic("tomb-short"), unique_topic("tomb-long")
    retention_s = 5.0
    ck_create_topic(broker.bootstrap, short, 1,
                    config=compact_config(internal_segment_bytes="1024", delete_retention_ms=str(int(retention_s * 1000))))
    ck_create_topic(broker.bootstrap, long_, 1,
                    config=compact_config(internal_segment_bytes="1024", delete_retention_ms="3600000"))
    p = make_producer(broker.bootstrap)
    keys = [f"t-{k:02d}".encode() for k in range(20)]
    deleted, live = keys[:10], keys[10:]
    latest: dict[str, dict[bytes, Acked]] = {}
    for topic in (short, long_):
        acked = produce_keyed(p, topic, [(k, f"{k.decode()}#{v}".encode()) for v in range(3) for k in keys], 0)
        before_tombstones = time.time()
        acked += produce_keyed(p, topic, [(k, None) for k in deleted], 0)
        if topic == short:
            tombstones_acked_at = before_tombstones  # no cleaning can have seen them before this
        latest[topic] = {k: a for (_, k), a in latest_acked(acked).items()}
        assert all(latest[topic][k].value is None for k in deleted)
    for topic in (short, long_):
        produce_keyed(p, topic, filler(20), 0)

    # First: every key has one record, the latest; a deleted key's is its tombstone.
    def tombstones_only(topic):
        ok, why = one_latest_per_key(read_partition(broker, topic), latest[topic])
        return ok, why

    poll_state(lambda: tombstones_only(short), retention_s * 0.7, f"{short}: one record per key, tombstones kept",
               interval=0.2)
    seen_at = time.time()
    assert seen_at - tombstones_acked_at < retention_s, "too slow to check the tombstones before their horizon"
    poll_state(lambda: tombstones_only(long_), 20, f"{long_}: one record per key, tombstones kept")

    # Then, delete.retention.ms after the cleaning that saw them (and not before), the tombstones
    # of `short` go at a later cleaning: more records keep the log dirty.
    observations = []

    def gone():
        produce_keyed(p, short, filler(3, size=200), 0)
        recs = read_partition(broker, short)
        keys_now = by_key(recs)
        still = [k for k in deleted if keys_now.get(k)]
        observations.append((round(time.time() - tombstones_acked_at, 2), len(still)))
        for k in still:
            assert [r.value for r in keys_now[k]] == [None], (
                f"key {k!r} has {[r.value for r in keys_now[k]]} while its tombstone is kept"
            )
        ok, why = one_latest_per_key(recs, {k: latest[short][k] for k in live})
        assert ok, f"a live key lost its latest value: {why}"
        return (not still), (time.time(), recs) if not still else f"{len(still)} tombstones left"

    gone_at, recs = poll_state(gone, 25, f"the tombstones of {short} (delete.retention.ms={int(retention_s * 1000)}) to go")
    assert gone_at - tombstones_acked_at >= retention_s - 0.1, (
        f"tombstones removed {gone_at - tombstones_acked_at:.2f} s after they were written, before "
        f"delete.retention.ms ({retention_s} s) could pass; observations (s, tombstones left): {observations}"
    )
    assert not any(r.key in deleted for r in recs)

    # With delete.retention.ms=1h the tombstones stay, through later cleanings too.
    before = len(cleaning_lines(broker, long_))

    def cleaned_again():
        produce_keyed(p, long_, filler(3, size=200), 0)
        n = len(cleaning_lines(broker, long_))
        return n > before, f"{n} cleanings (before: {before})"

    poll_state(cleaned_again, 20, f"another cleaning of {long_}")
    ok, why = one_latest_per_key(read_partition(broker, long_), latest[long_])
    assert ok, f"{long_} (delete.retention.ms=1h): {why}"


# --- 4. records without a key ---------------------------------------------------------------


def test_record_without_key_is_refused_on_compacted_topics(broker):
    from kafka import KafkaProducer
    from kafka import errors as kerrors

    compact, both, plain = unique_topic("nokey-c"), unique_topic("nokey-cd"), unique_topic("nokey-d")
    ck_create_topic(broker.bootstrap, compact, 1, config={"cleanup.policy": "compact"})
    ck_create_topic(broker.bootstrap, both, 1, config={"cleanup.policy": "compact,delete"})
    ck_create_topic(broker.bootstrap, plain, 1, config={"cleanup.policy": "delete"})
    p = make_producer(broker.bootstrap, **{"linger.ms": 100, "batch.num.messages": 100})

    def produce(topic, records):
        results = []

        def cb(err, msg):
            results.append((msg.key(), err.code() if err is not None else msg.offset()))

        for key, value in records:
            p.produce(topic, key=key, value=value, partition=0, on_delivery=cb)
        assert p.flush(30) == 0
        return results

    for topic in (compact, both):
        assert produce(topic, [(None, b"no key")]) == [(None, KafkaError.INVALID_RECORD)], topic
        assert watermarks(broker.bootstrap, topic) == (0, 0), f"{topic}: the refused record was stored"
        # One batch mixing keyed and keyless records is refused as a whole.
        mixed = produce(topic, [(b"a", b"1"), (None, b"2"), (b"b", b"3")])
        assert sorted(code for _, code in mixed) == [KafkaError.INVALID_RECORD] * 3, f"{topic}: {mixed}"
        assert watermarks(broker.bootstrap, topic) == (0, 0), f"{topic}: part of a refused batch was stored"
        # Keyed records, tombstones too, are welcome.
        assert produce(topic, [(b"k", b"v")]) == [(b"k", 0)], topic
        assert produce(topic, [(b"k", None)]) == [(b"k", 1)], topic
    assert produce(plain, [(None, b"no key")]) == [(None, 0)], "cleanup.policy=delete must take keyless records"

    kp = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False, retries=0,
                       request_timeout_ms=15000)
    try:
        with pytest.raises(kerrors.InvalidRecordError):
            kp.send(compact, value=b"kafka-python, no key", partition=0).get(timeout=20)
        md = kp.send(compact, key=b"kp", value=b"with a key", partition=0).get(timeout=20)
        assert md.offset == 2
    finally:
        kp.close()


# --- 5. SIGKILL while cleaning ---------------------------------------------------------------


def read_ack_lines(path: Path) -> list[Acked]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                if line.endswith("\n"):
                    p, off, key, value = line.split()
                    out.append(Acked(int(p), int(off), key.encode(), value.encode()))
    except FileNotFoundError:
        pass
    return out


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def check_acked_survive(acks: list[Acked], logs: dict[int, list[Rec]]) -> list[str]:
    """Compaction's promise for acknowledged records: each is in the log at its offset, or a
    record of its key at a higher offset (same partition) superseded it."""
    problems = []
    acked_at: dict[tuple[int, int], Acked] = {}
    for a in acks:
        prev = acked_at.setdefault((a.partition, a.offset), a)
        if (prev.key, prev.value) != (a.key, a.value):
            problems.append(f"offset {a.partition}/{a.offset} acknowledged for {prev} and {a}")
    stored = {(p, r.offset): r for p in logs for r in logs[p]}
    last_of_key: dict[tuple[int, bytes], int] = {}
    for p in logs:
        for r in logs[p]:
            if r.key is None or not r.value or not r.value.startswith(r.key + b":"):
                problems.append(f"partition {p} offset {r.offset}: foreign record {r.key!r}={r.value!r}")
            last_of_key[(p, r.key)] = max(last_of_key.get((p, r.key), -1), r.offset)
    lost, changed = [], []
    for (p, off), a in acked_at.items():
        r = stored.get((p, off))
        if r is not None:
            if (r.key, r.value) != (a.key, a.value):
                changed.append((p, off, a.value, r.value))
        elif last_of_key.get((p, a.key), -1) <= off:
            lost.append((p, off, a.value, last_of_key.get((p, a.key))))
    if lost:
        problems.append(
            f"{len(lost)} acknowledged records neither in the log nor superseded by a later record of their key, "
            f"e.g. (partition, offset, value, last offset of the key in the log) {sorted(lost)[:10]}"
        )
    if changed:
        problems.append(f"{len(changed)} acknowledged offsets hold another record, e.g. {sorted(changed)[:10]}")
    return problems


def test_sigkill_during_cleaning_loses_no_acknowledged_record(broker_factory, tmp_path):
    seed = int(os.environ.get("STROM_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"crash test seed: {seed} (set STROM_CRASH_SEED to repeat)")
    cleaner_on = ["--set", "log.cleaner.backoff.ms=50"]
    broker = broker_factory(extra_args=cleaner_on)
    topic = unique_topic("cmp-crash")
    partitions, keys, rounds = 2, 300, 6
    ck_create_topic(broker.bootstrap, topic, partitions, config=compact_config(internal_segment_bytes="4096"))
    ack_file = tmp_path / "acks.txt"
    plog_path = tmp_path / "producer.log"
    with open(plog_path, "wb") as plog:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_compaction_producer.py"), broker.bootstrap, topic, str(keys), "3000",
             str(ack_file)],
            stdout=plog,
            stderr=subprocess.STDOUT,
        )
    dirs = [partition_dir(broker, topic, p) for p in range(partitions)]

    def cleaner_files(suffixes=(".cleaned", ".swap")) -> list[str]:
        found = []
        for d in dirs:
            try:
                found += [e.name for e in os.scandir(d) if e.name.endswith(suffixes)]
            except FileNotFoundError:
                pass
        return found

    history = []
    try:
        wait_until(lambda: count_lines(ack_file) > 0, 30, message="the producer's first acknowledgements")
        for rnd in range(rounds):
            before = count_lines(ack_file)
            time.sleep(rng.uniform(0.5, 1.5))
            # Kill the moment the cleaner has files in flight (within 3 s), to crash mid-cleaning:
            # before its commit (.cleaned files) in even rounds, after it (a .swap file: the
            # swap not finished yet) in odd ones.
            target = (".cleaned",) if rnd % 2 == 0 else (".swap",)
            deadline = time.monotonic() + 3.0
            while not cleaner_files(target) and time.monotonic() < deadline:
                time.sleep(0.0001)
            assert proc.poll() is None, f"producer died: {plog_path.read_text()[-3000:]}"
            cleanings = len(cleaning_lines(broker, topic))
            broker.kill()
            in_flight = cleaner_files()
            time.sleep(0.2)
            history.append({"round": rnd, "acks_before": before, "acks_at_kill": count_lines(ack_file),
                            "cleaner_files_at_kill": in_flight, "cleanings_so_far": cleanings})
            if rnd == rounds - 1:
                # After the last crash: the cleaner off, so that what recovery left is what we see.
                broker.extra_args = ["--set", "log.cleaner.enable=false"]
            broker.restart()
        after = count_lines(ack_file)
        wait_until(lambda: count_lines(ack_file) > after + 200, 30, message="acknowledgements after the last restart")
    finally:
        stop_producer_process(proc)
    output = plog_path.read_text()
    print("rounds:", history)
    print(output[-500:])
    assert proc.returncode == 0, f"producer exit {proc.returncode}: {output[-3000:]}"
    progressed = sum(1 for h in history if h["acks_at_kill"] > h["acks_before"])
    assert progressed >= 3, f"the producer made progress in only {progressed} of {rounds} rounds: {history}"
    assert any(h["cleanings_so_far"] for h in history), f"no cleaning happened before any kill: {history}"
    caught = [h for h in history if any(f.endswith(".cleaned") for f in h["cleaner_files_at_kill"])]
    assert caught, f"no kill landed while the cleaner had .cleaned files (no cleaning was crashed): {history}"
    swaps = [h for h in history if any(f.endswith(".swap") for f in h["cleaner_files_at_kill"])]
    print(f"kills with .cleaned files: {len(caught)}, with a .swap file: {len(swaps)}")

    # Recovery finished or undid every interrupted cleaning: no cleaner file is left.
    acks = read_ack_lines(ack_file)
    assert acks, "no record was acknowledged"
    hw = high_watermarks(broker.bootstrap, topic, partitions)
    logs = ck_consume_all(broker.bootstrap, topic, partitions, timeout=60)
    leftovers = leftover_cleaner_files(broker, topic, partitions)
    assert not leftovers, f"cleaner files left after the restart (cleaner disabled): {leftovers}"
    for p in range(partitions):
        assert_offsets_increase(logs[p], f"partition {p}: ")
        assert all(r.offset < hw[p] for r in logs[p])
    problems = check_acked_survive(acks, logs)
    assert not problems, "\n".join(problems)
    print(f"{len(acks)} acknowledgements checked; records in the log: { {p: len(logs[p]) for p in logs} }, "
          f"high watermarks {hw}")

    # The cleaner, on again, resumes on the recovered log and compacts it to one record per key.
    broker.stop()
    broker.extra_args = cleaner_on
    broker.restart()
    p = make_producer(broker.bootstrap)
    for part in range(partitions):
        produce_keyed(p, topic, filler(60), part)
    keys_in = {part: {a.key for a in acks if a.partition == part} for part in range(partitions)}

    def compacted():
        logs_now = ck_consume_all(broker.bootstrap, topic, partitions, timeout=60)
        for part in range(partitions):
            counts = collections.Counter(r.key for r in logs_now[part] if r.key != FILLER_KEY)
            dup = {k: n for k, n in counts.items() if n > 1}
            if dup:
                return False, f"partition {part}: {len(dup)} keys with several records"
            if not keys_in[part] <= set(counts):
                return False, f"partition {part}: acknowledged keys missing: {sorted(keys_in[part] - set(counts))[:5]}"
        return True, logs_now

    final = poll_state(compacted, 40, "the restarted cleaner to leave one record per key")
    filler_ok = {part: [r for r in final[part] if r.key == FILLER_KEY] for part in final}
    problems = check_acked_survive(acks, {part: [r for r in final[part] if r.key != FILLER_KEY] for part in final})
    assert not problems, "after the cleaner resumed:\n" + "\n".join(problems)
    assert all(filler_ok.values())


# --- 6. produce latency while the cleaner works ---------------------------------------------


def test_cleaner_does_not_stall_producers(broker_factory):
    broker = broker_factory(extra_args=["--set", "log.cleaner.backoff.ms=50"])
    topic = unique_topic("cmp-load")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(internal_segment_bytes="8192"))
    p = make_producer(broker.bootstrap, **{"linger.ms": 5, "batch.num.messages": 100})
    duration, rate, keys = 6.0, 2000, 200
    sent_at: dict[bytes, float] = {}
    acks: list[tuple[float, float]] = []  # (ack time, latency)
    errors = []
    acked: list[Acked] = []

    def cb(err, msg):
        now = time.monotonic()
        if err is not None:
            errors.append(err)
            return
        acks.append((now, now - sent_at[msg.value()]))
        acked.append(Acked(msg.partition(), msg.offset(), msg.key(), msg.value()))

    cleanings_before = len(cleaning_lines(broker, topic))
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < duration:
        if n < (time.monotonic() - start) * rate:
            key = f"load-{n % keys:03d}".encode()
            value = f"{key.decode()}={n}|".encode().ljust(40, b".")
            sent_at[value] = time.monotonic()
            p.produce(topic, key=key, value=value, partition=0, on_delivery=cb)
            n += 1
            p.poll(0)
        else:
            p.poll(0.001)
    assert p.flush(30) == 0
    assert not errors, f"delivery errors under cleaning: {errors[:5]}"
    cleanings = len(cleaning_lines(broker, topic)) - cleanings_before
    times = [t for t, _ in acks]
    gaps = [b - a for a, b in zip(times, times[1:])]
    worst_gap = max([times[0] - start] + gaps)
    worst_latency = max(lat for _, lat in acks)
    print(f"{n} records in {duration} s; {cleanings} cleanings; longest gap between acks {worst_gap:.3f} s; "
          f"worst latency {worst_latency:.3f} s")
    assert cleanings >= 2, f"only {cleanings} cleanings in {duration} s of produce to tiny segments"
    assert worst_gap < 2.0, f"no acknowledgement for {worst_gap:.2f} s while the cleaner ran"
    assert worst_latency < 2.0, f"a record took {worst_latency:.2f} s to be acknowledged while the cleaner ran"

    # And the log is right: the latest value of every key is its latest record.
    latest = {k: a for (_, k), a in latest_acked(acked).items()}
    recs = read_partition(broker, topic)
    last = {r.key: r for r in recs}
    wrong = [(k, a.offset, last.get(k)) for k, a in latest.items() if last.get(k) is None or last[k].offset != a.offset]
    assert not wrong, f"keys whose last record is not the latest acknowledged one: {wrong[:5]}"


# --- 7. __consumer_offsets is compacted too ---------------------------------------------------


def test_consumer_offsets_compacted_and_replayed_after_restart(broker_factory):
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    broker = broker_factory(extra_args=[*CLEANER_ARGS, *GROUP_BROKER_ARGS, "--set", "offsets.topic.num.partitions=1"])
    topic, group, gone = unique_topic("offs"), unique_group("offs"), unique_group("gone")
    ck_create_topic(broker.bootstrap, topic, 3)
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group, "enable.auto.commit": False})
    c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)  # creates __consumer_offsets
    admin = ck_admin(broker.bootstrap)
    res = ConfigResource(
        ResourceType.TOPIC,
        "__consumer_offsets",
        incremental_configs=[
            ConfigEntry("internal.segment.bytes", "1024", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("min.cleanable.dirty.ratio", "0.01", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("delete.retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    admin.incremental_alter_configs([res])[res].result(timeout=15)

    # A second group commits, then is deleted: its records become tombstones.
    c2 = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": gone, "enable.auto.commit": False})
    c2.commit(offsets=[TopicPartition(topic, p, 5) for p in range(3)], asynchronous=False)
    c2.close()
    admin.delete_consumer_groups([gone], request_timeout=15)[gone].result(timeout=20)

    last = {}
    commits = 300
    for i in range(1, commits + 1):
        offs = [TopicPartition(topic, p, i * 10 + p) for p in range(3)]
        c.commit(offsets=offs, asynchronous=False)
        last = {tp.partition: tp.offset for tp in offs}
    c.close()
    offsets_log = "__consumer_offsets"

    def compacted():
        # keep the log dirty (and rolling) so that later cleanings also remove the tombstones
        w = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": unique_group("noise"),
                      "enable.auto.commit": False})
        w.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
        w.close()
        recs = read_partition(broker, offsets_log, 0, partitions=1)
        tombstones = sum(1 for r in recs if r.value is None)
        lines = cleaning_lines(broker, offsets_log)
        done = bool(lines) and len(recs) < commits and tombstones == 0
        return done, f"{len(recs)} records, {tombstones} tombstones, {len(lines)} cleanings of {offsets_log}"

    poll_state(compacted, 30, f"{offsets_log} to be compacted (tombstones of the deleted group removed)", interval=0.5)

    def committed(g):
        cc = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": g, "enable.auto.commit": False})
        try:
            return {tp.partition: tp.offset for tp in cc.committed([TopicPartition(topic, p) for p in range(3)],
                                                                   timeout=15)}
        finally:
            cc.close()

    assert committed(group) == last
    for how in ("kill", "stop"):
        broker.kill() if how == "kill" else broker.stop()
        broker.restart()
        assert committed(group) == last, f"committed offsets after a restart ({how}) differ from the last commits"
        assert committed(gone) == {p: OFFSET_INVALID for p in range(3)}, (
            f"the deleted group's offsets came back after a restart ({how})"
        )


# --- 8. aborted transactions --------------------------------------------------------------


def test_aborted_transaction_records_removed_by_compaction(broker_factory):
    from txn_helpers import READ_COMMITTED, READ_UNCOMMITTED, ck_abort, ck_commit, ck_read, ck_txn_producer

    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp-txn")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(internal_segment_bytes="1024"))
    tp = ck_txn_producer(broker.bootstrap, unique_group("txn"))

    def txn(records, commit):
        errors = []
        tp.begin_transaction()
        for k, v in records:
            tp.produce(topic, key=k, value=v, partition=0,
                       on_delivery=lambda err, msg: errors.append(err) if err else None)
        tp.flush(20)
        assert not errors, errors
        (ck_commit if commit else ck_abort)(tp)

    txn([(f"c{i}".encode(), f"committed-{i}".encode()) for i in range(10)] + [(b"shared", b"committed")], True)
    txn([(f"a{i}".encode(), f"aborted-{i}".encode()) for i in range(10)] + [(b"shared", b"aborted")], False)
    txn([(FILLER_KEY, b"x" * 200) for _ in range(20)], True)  # roll: the above into closed segments

    def cleaned():
        recs = ck_read(broker.bootstrap, topic, 1, READ_UNCOMMITTED)[0]
        aborted = [r.offset for r in recs if r.value and r.value.startswith(b"aborted")]
        return (not aborted and bool(cleaning_lines(broker, topic))), (
            recs if not aborted else f"{len(aborted)} aborted records still read by read_uncommitted"
        )

    recs = poll_state(cleaned, 30, "compaction to remove the aborted transaction's records")
    committed = ck_read(broker.bootstrap, topic, 1, READ_COMMITTED)[0]
    assert [(r.offset, r.key, r.value) for r in committed] == [(r.offset, r.key, r.value) for r in recs], (
        "read_committed and read_uncommitted differ once the aborted records are gone"
    )
    keys = by_key(recs)
    # An aborted record never shadows the committed value of its key.
    assert [r.value for r in keys[b"shared"]] == [b"committed"], keys.get(b"shared")
    for i in range(10):
        assert [r.value for r in keys[f"c{i}".encode()]] == [f"committed-{i}".encode()]
        assert f"a{i}".encode() not in keys


def test_idempotent_producer_state_survives_compaction_and_crash(broker_factory):
    """Compaction keeps the last batch of every producer (empty if all its records are
    superseded), so that after a crash the broker still knows the producer's sequence numbers:
    an idempotent producer whose last batch was compacted away goes on without an error."""
    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp-idem")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(internal_segment_bytes="1024"))
    fatal = []
    idem = make_producer(broker.bootstrap, **{
        "enable.idempotence": True, "linger.ms": 20, "batch.num.messages": 10,
        "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 50,
        "error_cb": lambda err: fatal.append(err) if err.fatal() else None,
    })
    acked = produce_keyed(idem, topic, [(f"i{k}".encode(), f"i{k}={v}".encode()) for v in range(3) for k in range(10)], 0)
    # The idempotent producer's last batch: 10 records of keys that another producer then overwrites.
    shared = [f"shared-{k}".encode() for k in range(10)]
    acked += produce_keyed(idem, topic, [(k, b"from-idempotent") for k in shared], 0)
    other = make_producer(broker.bootstrap)
    acked += produce_keyed(other, topic, [(k, b"from-other") for k in shared], 0)
    acked += produce_keyed(other, topic, filler(20, size=200), 0)
    latest = {k: a for (_, k), a in latest_acked(acked).items() if k != FILLER_KEY}

    poll_state(lambda: one_latest_per_key(read_partition(broker, topic), latest), 20,
               "compaction to remove the idempotent producer's last records")
    _, hw = watermarks(broker.bootstrap, topic)
    broker.kill()
    broker.restart()

    more = produce_keyed(idem, topic, [(f"i{k}".encode(), f"i{k}=after".encode()) for k in range(10)], 0)
    idem.poll(0.5)
    assert not fatal, f"fatal producer errors after the broker's restart: {fatal}"
    offsets = sorted(a.offset for a in more)
    assert offsets == list(range(hw, hw + 10)), f"records after the restart at {offsets}, high watermark was {hw}"
    recs = read_partition(broker, topic)
    values = {r.key: r.value for r in recs}
    assert all(values[f"i{k}".encode()] == f"i{k}=after".encode() for k in range(10))
    assert all(values[k] == b"from-other" for k in shared)


# --- 9. compaction lags and the dirty ratio ---------------------------------------------------


def test_min_compaction_lag_delays_cleaning(broker_factory):
    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp-minlag")
    lag_s = 3.0
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(min_compaction_lag_ms=str(int(lag_s * 1000))))
    p = make_producer(broker.bootstrap)
    keys = [f"m{k}".encode() for k in range(20)]
    acked = produce_keyed(p, topic, [(k, f"{k.decode()}/{v}".encode()) for v in range(5) for k in keys], 0)
    produced_at = time.time()
    latest = {k: a for (_, k), a in latest_acked(acked).items()}
    produce_keyed(p, topic, filler(30), 0)

    # Younger than min.compaction.lag.ms: nothing is cleaned.
    while time.time() - produced_at < lag_s - 1.0:
        recs = read_partition(broker, topic)
        assert len(recs) == len(acked) + 30, (
            f"{len(acked) + 30 - len(recs)} records removed {time.time() - produced_at:.2f} s after they were "
            f"written, with min.compaction.lag.ms={int(lag_s * 1000)}"
        )
        time.sleep(0.3)

    def compacted():
        recs = read_partition(broker, topic)
        return one_latest_per_key(recs, latest)[0], one_latest_per_key(recs, latest)[1]

    poll_state(compacted, 20, "compaction once min.compaction.lag.ms passed")


def test_max_compaction_lag_forces_cleaning(broker_factory):
    """A log whose dirty ratio stays below min.cleanable.dirty.ratio is cleaned anyway once a
    dirty record is older than max.compaction.lag.ms (and not before)."""
    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp-maxlag")
    lag_s = 4.0
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(max_compaction_lag_ms=str(int(lag_s * 1000))))
    p = make_producer(broker.bootstrap)
    # A first, big clean section: 300 keys, two values each, compacted while the ratio is 0.01.
    keys = [f"x{k:03d}".encode() for k in range(300)]
    acked = produce_keyed(p, topic, [(k, f"{k.decode()}/{v}|".encode().ljust(40, b"-")) for v in range(2) for k in keys], 0)
    # The active segment's records become dirty when it rolls: the lag counts from the first of
    # them, at the earliest from here.
    dirty_since = time.time()
    produce_keyed(p, topic, filler(25), 0)
    latest = {k: a for (_, k), a in latest_acked(acked).items()}
    poll_state(lambda: one_latest_per_key(read_partition(broker, topic), latest), 20, "the first cleaning")
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("min.cleanable.dirty.ratio", "0.75", incremental_operation=AlterConfigOpType.SET)])
    admin = ck_admin(broker.bootstrap)
    admin.incremental_alter_configs([res])[res].result(timeout=15)
    first_cleanings = len(cleaning_lines(broker, topic))
    clean_records = len(read_partition(broker, topic))

    # Then a small dirty section: new values for 5 keys, and filler to close its segment. Its
    # dirty ratio is well below 0.75: only max.compaction.lag.ms can get it cleaned.
    updated = produce_keyed(p, topic, [(k, f"{k.decode()}/2|".encode()) for k in keys[:5]], 0)
    produce_keyed(p, topic, filler(25), 0)
    latest.update({a.key: a for a in updated})
    early = []
    while time.time() - dirty_since < lag_s - 0.5:
        recs = read_partition(broker, topic)
        olds = [r.offset for r in recs if r.key in {a.key for a in updated} and r.value.endswith(b"-")]
        if len(olds) < 5:
            early.append((round(time.time() - dirty_since, 2), 5 - len(olds), len(cleaning_lines(broker, topic))))
        time.sleep(0.3)

    poll_state(lambda: one_latest_per_key(read_partition(broker, topic), latest), 20,
               f"max.compaction.lag.ms={int(lag_s * 1000)} to get the small dirty section cleaned")
    cleaned_after = time.time() - dirty_since
    assert not early, (
        f"the superseded values were removed before max.compaction.lag.ms, with a dirty ratio below "
        f"min.cleanable.dirty.ratio (seconds after the first dirty record, values removed, cleanings): {early}; "
        f"{first_cleanings} cleanings before, {clean_records} records in the log then"
    )
    assert cleaned_after >= lag_s - 0.3, (
        f"cleaned {cleaned_after:.2f} s after the first dirty record, max.compaction.lag.ms is {lag_s} s"
    )


def test_dirty_ratio_must_exceed_min_cleanable_ratio(broker_factory):
    """Kafka cleans a log when its dirty ratio is *above* min.cleanable.dirty.ratio
    (LogCleanerManager: cleanableRatio > minCleanableRatio): with the ratio at 1 a log is never
    cleaned for its dirt (only max.compaction.lag.ms or a passed delete horizon could)."""
    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp-ratio1")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(min_cleanable_dirty_ratio="1.0"))
    p = make_producer(broker.bootstrap)
    produce_keyed(p, topic, [(f"r{k}".encode(), f"r{k}/{v}".encode()) for v in range(5) for k in range(20)], 0)
    produce_keyed(p, topic, filler(30), 0)
    time.sleep(1.5)
    n = len(read_partition(broker, topic))
    lines = cleaning_lines(broker, topic)
    assert n == 130 and not lines, (
        f"min.cleanable.dirty.ratio=1.0 and no max.compaction.lag.ms, yet {len(lines)} cleanings ran and "
        f"{130 - n} of 130 records were removed: a fully dirty log (ratio 1.0) is not above the minimum 1.0"
    )


# --- 10. cleaner settings -----------------------------------------------------------------


def test_cleaner_disabled_leaves_log_alone(broker_factory):
    broker = broker_factory(extra_args=[*CLEANER_ARGS, "--set", "log.cleaner.enable=false"])
    topic = unique_topic("cmp-off")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config())
    p = make_producer(broker.bootstrap)
    acked = produce_keyed(p, topic, [(f"o{k}".encode(), b"v" * 50) for _ in range(10) for k in range(20)], 0)
    produce_keyed(p, topic, filler(30), 0)
    time.sleep(2.0)
    assert len(read_partition(broker, topic)) == len(acked) + 30, "records removed with log.cleaner.enable=false"
    assert not cleaning_lines(broker), "cleanings logged with log.cleaner.enable=false"


def test_small_dedupe_buffer_still_converges(broker_factory):
    """An offset map too small for the dirty section's keys: each cleaning takes what fits, and
    successive cleanings still reach one record per key."""
    broker = broker_factory(extra_args=[*CLEANER_ARGS, "--set", f"log.cleaner.dedupe.buffer.size={24 * 120}"])
    topic = unique_topic("cmp-dedupe")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config())
    p = make_producer(broker.bootstrap)
    keys = [f"d{k:03d}".encode() for k in range(400)]
    acked = produce_keyed(p, topic, [(k, f"{k.decode()}.{v}".encode()) for v in range(4) for k in keys], 0)
    latest = {k: a for (_, k), a in latest_acked(acked).items()}
    produce_keyed(p, topic, filler(40), 0)

    def compacted():
        return one_latest_per_key(read_partition(broker, topic), latest)

    poll_state(compacted, 40, "successive cleanings with a small dedupe buffer to reach one record per key",
               interval=0.5)
    lines = cleaning_lines(broker, topic)
    assert len(lines) >= 2, lines
    keys_mapped = [log_field(line, "keys") for line in lines]
    if all(k is not None for k in keys_mapped):
        # 120 slots; a dirty segment holds at most ~100 of these records
        assert max(keys_mapped) <= 120, f"offset maps larger than the dedupe buffer allows: {keys_mapped}"


def test_policy_altered_to_compact(broker_factory):
    """A topic switched from cleanup.policy=delete to compact (IncrementalAlterConfigs) is
    compacted from then on."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    broker = broker_factory(extra_args=CLEANER_ARGS)
    topic = unique_topic("cmp-alter")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(cleanup_policy="delete"))
    p = make_producer(broker.bootstrap)
    keys = [f"alt-{k:02d}".encode() for k in range(40)]
    acked = produce_keyed(p, topic, [(k, f"{k.decode()}~{v}|".encode().ljust(80, b"a")) for v in range(10) for k in keys], 0)
    latest = {k: a for (_, k), a in latest_acked(acked).items()}
    produce_keyed(p, topic, filler(25), 0)
    time.sleep(1.0)
    assert len(read_partition(broker, topic)) == len(acked) + 25 and not cleaning_lines(broker, topic), (
        "a topic with cleanup.policy=delete was compacted"
    )

    admin = ck_admin(broker.bootstrap)
    res = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result(timeout=15)
    poll_state(lambda: one_latest_per_key(read_partition(broker, topic), latest), 30,
               "compaction after cleanup.policy was set to compact")


LOG_TS = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z")


def log_time(line: str) -> float | None:
    """The UTC timestamp at the start of a server log line, as a Unix time."""
    import datetime

    m = LOG_TS.match(line.strip())
    if not m:
        return None
    return datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc).timestamp()


def test_cleaner_io_rate_cap(broker_factory):
    """log.cleaner.io.max.bytes.per.second caps the cleaner's reads and writes on average: under
    a steady produce to a compacted topic (more new bytes per second than the cap) the bytes the
    cleanings report over a few seconds stay near the cap. Kafka's Throttler measures over
    300 ms periods and carries the bytes of short cleanings over to the next check; a cleaning
    may run ahead for one period only."""
    cap = 50_000
    broker = broker_factory(extra_args=["--set", "log.cleaner.backoff.ms=50",
                                        "--set", f"log.cleaner.io.max.bytes.per.second={cap}"])
    topic = unique_topic("cmp-io")
    ck_create_topic(broker.bootstrap, topic, 1, config=compact_config(internal_segment_bytes="4096"))
    p = make_producer(broker.bootstrap, **{"linger.ms": 5, "batch.num.messages": 50})
    duration, rate = 4.0, 1000  # records of ~110 bytes: ~110 KB/s of new data, twice the cap
    start_wall, start = time.time(), time.monotonic()
    n = 0
    while time.monotonic() - start < duration:
        if n < (time.monotonic() - start) * rate:
            key = f"io-{n % 50:02d}".encode()
            p.produce(topic, key=key, value=f"{key.decode()}={n}|".encode().ljust(100, b"."), partition=0)
            n += 1
            p.poll(0)
        else:
            p.poll(0.001)
    end_wall = time.time()
    assert p.flush(30) == 0
    window = [
        line for line in cleaning_lines(broker, topic)
        if (t := log_time(line)) is not None and start_wall + 0.5 <= t <= end_wall
    ]
    assert window, f"no cleaning in the produce window: {cleaning_lines(broker, topic)[:3]}"
    moved = sum((log_field(line, "bytes_read") or 0) + (log_field(line, "bytes_written") or 0) for line in window)
    seconds = end_wall - (start_wall + 0.5)
    observed = moved / seconds
    print(f"{len(window)} cleanings moved {moved} bytes in {seconds:.1f} s: {observed:.0f} B/s (cap {cap})")
    assert observed <= 2 * cap, (
        f"{len(window)} cleanings read and wrote {moved} bytes in {seconds:.1f} s ({observed:.0f} B/s) with "
        f"log.cleaner.io.max.bytes.per.second={cap}; durations (ms) "
        f"{[log_field(line, 'duration_ms') for line in window][:20]}"
    )
