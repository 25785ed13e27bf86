"""Compatibility with confluent-kafka (librdkafka 2.x bundled in the wheel)."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
    ResourceType,
)

from helpers import ck_admin, ck_consume_all, ck_create_topic, ck_wait_for_partitions, now_ms, unique_topic, wait_until

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


def producer(broker, **conf) -> Producer:
    c = {
        "bootstrap.servers": broker.bootstrap,
        "acks": "all",
        "linger.ms": 20,
        "message.timeout.ms": 20000,
    }
    c.update(conf)
    return Producer(c)


def consumer(broker, **conf) -> Consumer:
    c = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": "strom-tests-unused",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
    }
    c.update(conf)
    return Consumer(c)


def source(entry: ConfigEntry) -> int:
    """ConfigEntry.source as an int (the C layer hands over ints, the docs say ConfigSource)."""
    return int(getattr(entry.source, "value", entry.source))


def produce_sync(p: Producer, topic: str, records: list[dict]) -> list:
    """Produce records (dicts of produce() kwargs) and return the delivered messages in order."""
    delivered: list = [None] * len(records)
    errors = []

    def cb(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append((i, err))
            delivered[i] = msg

        return on_delivery

    for i, r in enumerate(records):
        p.produce(topic, on_delivery=cb(i), **r)
        p.poll(0)
    remaining = p.flush(30)
    assert remaining == 0, f"{remaining} messages not delivered within 30 s"
    assert not errors, f"delivery errors: {errors[:5]}"
    return delivered


@pytest.mark.parametrize("codec", CODECS)
def test_produce_consume_roundtrip(broker, codec):
    topic = unique_topic(f"ck-{codec}")
    ck_create_topic(broker.bootstrap, topic, 3)
    p = producer(broker, **{"compression.type": codec, "linger.ms": 50})
    base_ts = now_ms() - 3_600_000
    records = []
    for i in range(300):
        records.append(
            dict(
                key=f"user-{i % 11}".encode(),
                value=(f"event {i} " + "payload " * (i % 30)).encode(),
                headers=[("seq", str(i).encode()), ("trace", b"abc"), ("trace", b"def"), ("nullable", None)],
                timestamp=base_ts + i,
            )
        )
    records.append(dict(key=None, value=b"", partition=0, timestamp=base_ts))  # null key, empty value
    records.append(dict(key=b"gone", value=None, partition=2, timestamp=base_ts))  # tombstone
    delivered = produce_sync(p, topic, records)

    key_parts: dict = {}
    for r, m in zip(records, delivered):
        if r.get("partition") is None:
            key_parts.setdefault(r["key"], set()).add(m.partition())
    assert all(len(v) == 1 for v in key_parts.values()), key_parts

    got = ck_consume_all(broker.bootstrap, topic, 3)
    at = {(rec.partition, rec.offset): rec for recs in got.values() for rec in recs}
    assert len(at) == len(records)
    for part, recs in got.items():
        assert [x.offset for x in recs] == list(range(len(recs))), f"partition {part}: offsets not contiguous"
    for r, m in zip(records, delivered):
        rec = at.get((m.partition(), m.offset()))
        assert rec is not None, f"nothing at partition {m.partition()} offset {m.offset()}"
        assert rec.key == r["key"] and rec.value == r["value"], (rec, r)
        assert rec.timestamp == r["timestamp"]
        assert rec.headers == list(r.get("headers") or []), (rec.headers, r.get("headers"))


def test_offsets_for_times_and_list_offsets(broker):
    topic = unique_topic("ck-t")
    admin = ck_create_topic(broker.bootstrap, topic, 2)
    t0 = now_ms() - 1_000_000
    p = producer(broker)
    produce_sync(p, topic, [dict(value=f"v{i}".encode(), partition=0, timestamp=t0 + 1000 * i) for i in range(10)])

    c = consumer(broker)
    res = c.offsets_for_times([TopicPartition(topic, 0, t0 + 2500)], timeout=10)
    assert (res[0].offset, res[0].error) == (3, None), res
    res = c.offsets_for_times([TopicPartition(topic, 0, t0)], timeout=10)
    assert res[0].offset == 0, res
    res = c.offsets_for_times([TopicPartition(topic, 0, t0 + 60_000)], timeout=10)
    assert res[0].offset == -1, res  # no record at or after that time: OFFSET_END
    res = c.offsets_for_times([TopicPartition(topic, 1, t0)], timeout=10)  # empty partition
    assert res[0].offset == -1, res
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (0, 10)
    c.close()

    tp = TopicPartition(topic, 0)
    for spec, want in [
        (OffsetSpec.earliest(), 0),
        (OffsetSpec.latest(), 10),
        (OffsetSpec.for_timestamp(t0 + 4000), 4),
        (OffsetSpec.max_timestamp(), 9),
    ]:
        info = admin.list_offsets({tp: spec}, request_timeout=10)[tp].result(timeout=15)
        assert info.offset == want, (spec, info.offset, want)


def test_admin_topics_configs_partitions(broker):
    admin = ck_admin(broker.bootstrap)
    t1, t2 = unique_topic("ck-a"), unique_topic("ck-b")
    fs = admin.create_topics(
        [
            NewTopic(t1, num_partitions=3, replication_factor=1),
            NewTopic(t2, num_partitions=1, replication_factor=1, config={"retention.ms": "86400000"}),
        ],
        operation_timeout=10,
    )
    for f in fs.values():
        f.result(timeout=20)
    ck_wait_for_partitions(admin, t1, 3)
    md = admin.list_topics(timeout=10)
    assert {t1, t2} <= set(md.topics), sorted(md.topics)
    assert len(md.brokers) == 1
    (b,) = md.brokers.values()
    assert (b.host, b.port) == ("127.0.0.1", broker.port), b
    assert all(p.leader == b.id for p in md.topics[t1].partitions.values())

    # Creating an existing topic fails with TOPIC_ALREADY_EXISTS.
    fs = admin.create_topics([NewTopic(t1, num_partitions=3, replication_factor=1)], operation_timeout=10)
    with pytest.raises(KafkaException) as ei:
        fs[t1].result(timeout=20)
    assert ei.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    # describe_configs: the defaults and an override.
    r1, r2 = ConfigResource(ResourceType.TOPIC, t1), ConfigResource(ResourceType.TOPIC, t2)
    fs = admin.describe_configs([r1, r2], request_timeout=10)
    c1, c2 = fs[r1].result(timeout=15), fs[r2].result(timeout=15)
    assert c1["retention.ms"].value == "604800000", c1["retention.ms"]
    assert c1["cleanup.policy"].value == "delete"
    assert source(c1["retention.ms"]) in (ConfigSource.DEFAULT_CONFIG.value, ConfigSource.STATIC_BROKER_CONFIG.value)
    assert c2["retention.ms"].value == "86400000"
    assert source(c2["retention.ms"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value, c2["retention.ms"]

    # incremental_alter_configs: SET one key, DELETE (back to default) another.
    res = ConfigResource(
        ResourceType.TOPIC,
        t2,
        incremental_configs=[
            ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
            ConfigEntry("max.message.bytes", "2000000", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    admin.incremental_alter_configs([res], request_timeout=10)[res].result(timeout=15)
    c2 = admin.describe_configs([r2], request_timeout=10)[r2].result(timeout=15)
    assert c2["max.message.bytes"].value == "2000000"
    assert source(c2["max.message.bytes"]) == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert c2["retention.ms"].value == "604800000", c2["retention.ms"]

    # An unknown config key is refused (INVALID_CONFIG), and nothing changes.
    bad = ConfigResource(
        ResourceType.TOPIC,
        t2,
        incremental_configs=[ConfigEntry("no.such.config", "1", incremental_operation=AlterConfigOpType.SET)],
    )
    with pytest.raises(KafkaException) as ei:
        admin.incremental_alter_configs([bad], request_timeout=10)[bad].result(timeout=15)
    assert ei.value.args[0].code() == KafkaError.INVALID_CONFIG, ei.value

    # The configs survive a restart.
    broker.stop()
    broker.restart()
    admin = ck_admin(broker.bootstrap)
    c2 = admin.describe_configs([r2], request_timeout=10)[r2].result(timeout=15)
    assert c2["max.message.bytes"].value == "2000000"

    # create_partitions: 3 -> 6.
    fs = admin.create_partitions([NewPartitions(t1, 6)], operation_timeout=10)
    fs[t1].result(timeout=20)
    ck_wait_for_partitions(admin, t1, 6)
    p = producer(broker)
    msgs = produce_sync(p, topic=t1, records=[dict(value=b"new", partition=5)])
    assert (msgs[0].partition(), msgs[0].offset()) == (5, 0)

    # delete_topics
    fs = admin.delete_topics([t1, t2], operation_timeout=10)
    for f in fs.values():
        f.result(timeout=20)
    wait_until(
        lambda: not ({t1, t2} & set(admin.list_topics(timeout=10).topics)), 15, message="deleted topics to vanish"
    )
    fs = admin.delete_topics([t1], operation_timeout=10)
    with pytest.raises(KafkaException) as ei:
        fs[t1].result(timeout=20)
    assert ei.value.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_delete_records_moves_low_watermark(broker):
    topic = unique_topic("ck-dr")
    admin = ck_create_topic(broker.bootstrap, topic, 1)
    p = producer(broker)
    produce_sync(p, topic, [dict(value=f"r{i}".encode(), partition=0) for i in range(20)])

    tp = TopicPartition(topic, 0, 5)
    res = admin.delete_records([tp], request_timeout=10, operation_timeout=10)
    (f,) = res.values()
    assert f.result(timeout=15).low_watermark == 5

    c = consumer(broker)
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (5, 20)
    c.close()
    got = ck_consume_all(broker.bootstrap, topic, 1)[0]
    assert [r.offset for r in got] == list(range(5, 20))
    assert got[0].value == b"r5"

    # Deleting beyond the high watermark is refused (OFFSET_OUT_OF_RANGE).
    tp = TopicPartition(topic, 0, 21)
    (f,) = admin.delete_records([tp], request_timeout=10, operation_timeout=10).values()
    with pytest.raises(KafkaException) as ei:
        f.result(timeout=15)
    assert ei.value.args[0].code() == KafkaError.OFFSET_OUT_OF_RANGE, ei.value

    # The new log start survives a restart.
    broker.stop()
    broker.restart()
    c = consumer(broker)
    assert c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10) == (5, 20)
    c.close()


@pytest.mark.parametrize("name", ["bad name!", "x" * 250, "ümlaut"])
def test_invalid_topic_name_refused(broker, name):
    admin = ck_admin(broker.bootstrap)
    fs = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)], operation_timeout=10)
    with pytest.raises(KafkaException) as ei:
        fs[name].result(timeout=20)
    err = ei.value.args[0]
    assert err.code() == KafkaError.TOPIC_EXCEPTION, f"{err.code()} {err}"
    assert name not in admin.list_topics(timeout=10).topics


def assert_nothing(msg) -> None:
    if msg is not None:
        raise AssertionError(f"expected nothing from an empty partition, got error={msg.error()} value={msg.value()!r}")


def test_long_poll_wakes_up_and_does_not_spin(broker):
    topic = unique_topic("ck-lp")
    ck_create_topic(broker.bootstrap, topic, 2)
    p = producer(broker, **{"linger.ms": 0})
    produce_sync(p, topic, [dict(value=b"warm-up", partition=1)])  # connection and metadata ready

    c = consumer(broker, **{"fetch.wait.max.ms": 10000, "fetch.min.bytes": 1})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    # Let the consumer reach its steady state: fetch requests parked on the broker.
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        assert_nothing(c.poll(0.1))

    # Idle: a parked long-poll must not cost the broker CPU.
    cpu0 = broker.cpu_seconds()
    end = time.monotonic() + 3.0
    while time.monotonic() < end:
        assert_nothing(c.poll(0.1))
    idle_cpu = broker.cpu_seconds() - cpu0
    print(f"broker CPU over a 3 s idle long-poll: {idle_cpu:.3f} s")
    assert idle_cpu < 0.5, f"broker used {idle_cpu:.2f} s of CPU in 3 s with one consumer long-polling"

    # A record produced 1 s into the wait reaches the consumer long before fetch.wait.max.ms.
    produced_at = []

    def produce_later():
        time.sleep(1.0)
        produced_at.append(time.monotonic())
        p.produce(topic, value=b"wake up", partition=0)
        p.flush(10)

    t = threading.Thread(target=produce_later)
    start = time.monotonic()
    t.start()
    msg = None
    while time.monotonic() - start < 8.0:
        msg = c.poll(0.05)
        if msg is not None:
            break
    received = time.monotonic()
    t.join()
    c.close()
    print(f"record produced at +{produced_at[0] - start:.2f} s, received at +{received - start:.2f} s")
    assert msg is not None, "record produced during a long poll not received within 8 s"
    assert msg.error() is None, msg.error()
    assert msg.value() == b"wake up"
    assert received - start < 3.0, (
        f"record produced at +{produced_at[0] - start:.2f} s arrived at +{received - start:.2f} s "
        "(fetch.wait.max.ms=10000: the broker must answer a parked fetch as soon as data arrives)"
    )


def test_sigterm_does_not_wait_for_parked_long_polls(broker):
    """Shutdown answers (or drops) fetches parked in long-poll instead of waiting them out."""
    topic = unique_topic("ck-sd")
    ck_create_topic(broker.bootstrap, topic, 1)
    c = consumer(broker, **{"fetch.wait.max.ms": 30000, "socket.timeout.ms": 60000})
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        assert_nothing(c.poll(0.1))
    start = time.monotonic()
    broker.stop(timeout=25)
    took = time.monotonic() - start
    c.close()
    assert took < 5.0, f"SIGTERM took {took:.1f} s with one consumer long-polling (fetch.wait.max.ms=30000)"
