"""Compatibility with kafka-python (pure-Python client): admin, produce, consume, offsets."""

from __future__ import annotations

import collections
import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka import errors as kerrors
from kafka.admin import ConfigResource, ConfigResourceType

from helpers import now_ms, unique_topic, wait_until

KAFKA_DEFAULT_RETENTION_MS = "604800000"  # 7 days


def admin(broker) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="strom-test-admin", request_timeout_ms=15000)


def create_topic(adm: KafkaAdminClient, name: str, partitions: int = 3, configs: dict | None = None):
    adm.create_topics(
        {name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs or {}}},
        timeout_ms=10000,
        wait_for_metadata=True,
    )


def producer(broker, **kw) -> KafkaProducer:
    # Idempotence (kafka-python's default since 3.0, as in the Java client) is judged on its
    # own in test_default_producer_is_idempotent; the other tests are about their own area.
    conf = dict(
        bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=False, linger_ms=20, request_timeout_ms=15000
    )
    conf.update(kw)
    return KafkaProducer(**conf)


def consumer(broker, **kw) -> KafkaConsumer:
    conf = dict(
        bootstrap_servers=broker.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15000,
        fetch_max_wait_ms=100,
    )
    conf.update(kw)
    return KafkaConsumer(**conf)


def consume_all(broker, topic: str, partitions: int, timeout: float = 30.0) -> dict[int, list]:
    """assign + seek_to_beginning, read up to the end offsets as of now."""
    c = consumer(broker)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        c.assign(tps)
        c.seek_to_beginning()
        ends = c.end_offsets(tps)
        out = {p: [] for p in range(partitions)}
        deadline = time.monotonic() + timeout
        while any(c.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, (
                f"consume timed out: end offsets {ends}, positions { {tp.partition: c.position(tp) for tp in tps} }"
            )
            for tp, recs in c.poll(timeout_ms=500).items():
                out[tp.partition].extend(recs)
        return out
    finally:
        c.close()


def test_produce_consume_roundtrip(broker):
    topic = unique_topic("kp")
    adm = admin(broker)
    create_topic(adm, topic, 3)

    p = producer(broker)
    base_ts = now_ms() - 60_000
    sent = []  # (metadata, key, value, headers, ts)
    for i in range(60):
        key = f"key-{i % 7}".encode()
        value = f"value-{i}".encode() * (1 + i % 5)
        headers = [("seq", str(i).encode()), ("dup", b"a"), ("dup", b"b")]
        ts = base_ts + i * 10
        md = p.send(topic, value=value, key=key, headers=headers, timestamp_ms=ts).get(timeout=20)
        sent.append((md, key, value, headers, ts))
    # a record with a null key and an empty value, and a tombstone (null value)
    md = p.send(topic, value=b"", partition=0, timestamp_ms=base_ts).get(timeout=20)
    sent.append((md, None, b"", [], base_ts))
    md = p.send(topic, value=None, key=b"tomb", partition=1, timestamp_ms=base_ts).get(timeout=20)
    sent.append((md, b"tomb", None, [], base_ts))
    p.close()

    # The producer's view: offsets per partition are 0..n-1 in send order (acks=all, sync sends).
    by_partition = collections.defaultdict(list)
    for md, *_ in sent:
        assert md.topic == topic
        by_partition[md.partition].append(md.offset)
    for part, offsets in by_partition.items():
        assert offsets == list(range(len(offsets))), f"partition {part} offsets {offsets}"

    # Same key -> same partition.
    key_parts = collections.defaultdict(set)
    for md, key, *_ in sent[:60]:
        key_parts[key].add(md.partition)
    assert all(len(ps) == 1 for ps in key_parts.values()), dict(key_parts)

    got = consume_all(broker, topic, 3)
    at = {(r.partition, r.offset): r for recs in got.values() for r in recs}
    assert len(at) == len(sent), f"consumed {len(at)} records, produced {len(sent)}"
    for md, key, value, headers, ts in sent:
        r = at.get((md.partition, md.offset))
        assert r is not None, f"no record at partition {md.partition} offset {md.offset}"
        assert r.key == key and r.value == value, (r, key, value)
        assert list(r.headers) == headers, (r.headers, headers)
        assert r.timestamp == ts, (r.timestamp, ts)
        assert r.timestamp_type == 0  # CreateTime
    for part, recs in got.items():
        assert [r.offset for r in recs] == list(range(len(recs))), f"partition {part} offsets not contiguous"
    adm.close()


def test_default_producer_is_idempotent(broker):
    """kafka-python's producer with its defaults: idempotence on (InitProducerId, producer id
    and sequence numbers in every batch), acks=all."""
    topic = unique_topic("kpi")
    adm = admin(broker)
    create_topic(adm, topic, 2)
    p = KafkaProducer(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    futures = [p.send(topic, value=f"i{i}".encode(), partition=i % 2) for i in range(100)]
    p.flush(timeout=30)
    mds = [f.get(timeout=20) for f in futures]
    p.close()
    assert sorted((m.partition, m.offset) for m in mds) == sorted((i % 2, i // 2) for i in range(100))
    got = consume_all(broker, topic, 2)
    assert [r.value for r in got[0]] == [f"i{i}".encode() for i in range(0, 100, 2)]
    assert [r.value for r in got[1]] == [f"i{i}".encode() for i in range(1, 100, 2)]
    adm.close()


@pytest.mark.parametrize("codec", [None, "gzip", "snappy", "lz4", "zstd"])
def test_compression_codecs(broker, codec):
    topic = unique_topic("kpz")
    adm = admin(broker)
    create_topic(adm, topic, 1)
    p = producer(broker, compression_type=codec, linger_ms=50, batch_size=64 * 1024)
    values = [(f"record {i} " + "compressible text " * (i % 20)).encode() for i in range(500)]
    futures = [p.send(topic, value=v, key=str(i).encode(), partition=0) for i, v in enumerate(values)]
    p.flush(timeout=30)
    mds = [f.get(timeout=20) for f in futures]
    p.close()
    assert [m.offset for m in mds] == list(range(len(values)))

    got = consume_all(broker, topic, 1)[0]
    assert [r.offset for r in got] == list(range(len(values)))
    assert [r.value for r in got] == values
    assert [r.key for r in got] == [str(i).encode() for i in range(len(values))]
    adm.close()


def test_offsets_for_times(broker):
    topic = unique_topic("kpt")
    adm = admin(broker)
    create_topic(adm, topic, 1)
    p = producer(broker)
    t0 = now_ms() - 100_000
    for i in range(10):
        p.send(topic, value=f"v{i}".encode(), partition=0, timestamp_ms=t0 + i * 1000).get(timeout=20)
    p.close()

    c = consumer(broker)
    tp = TopicPartition(topic, 0)
    res = c.offsets_for_times({tp: t0 + 4500})
    assert res[tp] is not None and res[tp].offset == 5 and res[tp].timestamp == t0 + 5000, res
    res = c.offsets_for_times({tp: t0 + 3000})  # exact hit
    assert res[tp].offset == 3 and res[tp].timestamp == t0 + 3000, res
    res = c.offsets_for_times({tp: 0})  # before everything: the first record
    assert res[tp].offset == 0 and res[tp].timestamp == t0, res
    res = c.offsets_for_times({tp: t0 + 10_000})  # after everything: no such record
    assert res[tp] is None, res
    c.close()
    adm.close()


def test_beginning_and_end_offsets(broker):
    topic = unique_topic("kpo")
    adm = admin(broker)
    create_topic(adm, topic, 3)
    c = consumer(broker)
    tps = [TopicPartition(topic, p) for p in range(3)]
    assert c.beginning_offsets(tps) == {tp: 0 for tp in tps}
    assert c.end_offsets(tps) == {tp: 0 for tp in tps}

    p = producer(broker)
    for i in range(7):
        p.send(topic, value=b"x", partition=0).get(timeout=20)
    for i in range(2):
        p.send(topic, value=b"y", partition=2).get(timeout=20)
    p.close()
    assert c.beginning_offsets(tps) == {tps[0]: 0, tps[1]: 0, tps[2]: 0}
    assert c.end_offsets(tps) == {tps[0]: 7, tps[1]: 0, tps[2]: 2}
    c.close()
    adm.close()


def test_delete_topic(broker):
    topic = unique_topic("kpd")
    adm = admin(broker)
    create_topic(adm, topic, 3)
    assert topic in adm.list_topics()
    with pytest.raises(kerrors.TopicAlreadyExistsError):
        create_topic(adm, topic, 3)

    adm.delete_topics([topic], timeout_ms=10000)
    wait_until(lambda: topic not in adm.list_topics(), 15, message=f"{topic} gone from metadata")
    with pytest.raises(kerrors.UnknownTopicOrPartitionError):
        adm.delete_topics([topic], timeout_ms=10000)

    # The name can be used again, and the new topic starts empty.
    create_topic(adm, topic, 1)
    c = consumer(broker)
    tp = TopicPartition(topic, 0)
    assert c.end_offsets([tp]) == {tp: 0}
    c.close()
    adm.close()


@pytest.mark.parametrize("name", ["bad name!", "a" * 250, ".", "..", "slash/topic"])
def test_illegal_topic_name(broker, name):
    adm = admin(broker)
    with pytest.raises(kerrors.InvalidTopicError):
        adm.create_topics({name: {"num_partitions": 1, "replication_factor": 1}}, timeout_ms=10000)
    assert name not in adm.list_topics()
    adm.close()


def test_describe_configs(broker):
    topic = unique_topic("kpc")
    adm = admin(broker)
    create_topic(adm, topic, 1, configs={"retention.ms": "3600000", "cleanup.policy": "delete"})
    other = unique_topic("kpc")
    create_topic(adm, other, 1)

    res = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, other)], config_filter="all")
    cfg = res["topic"][other]
    for key in ("retention.ms", "retention.bytes", "cleanup.policy", "segment.bytes", "max.message.bytes"):
        assert key in cfg, f"{key} missing from describe_configs: {sorted(cfg)}"
    assert cfg["retention.ms"]["value"] == KAFKA_DEFAULT_RETENTION_MS, cfg["retention.ms"]
    assert cfg["retention.ms"]["config_source"] in ("DEFAULT_CONFIG", "STATIC_BROKER_CONFIG"), cfg["retention.ms"]
    assert cfg["cleanup.policy"]["value"] == "delete"
    assert cfg["max.message.bytes"]["value"] == "1048588"

    # Only the overrides are "modified" (the default filter).
    res = adm.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    cfg = res["topic"][topic]
    assert cfg["retention.ms"]["value"] == "3600000", cfg
    assert cfg["retention.ms"]["config_source"] == "DYNAMIC_TOPIC_CONFIG", cfg
    assert "segment.bytes" not in cfg, cfg

    # Asking for named keys returns just those.
    res = adm.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, ["retention.ms", "segment.bytes"])], config_filter="all"
    )
    assert set(res["topic"][topic]) == {"retention.ms", "segment.bytes"}, res
    adm.close()


def test_create_partitions(broker):
    topic = unique_topic("kpp")
    adm = admin(broker)
    create_topic(adm, topic, 3)
    adm.create_partitions({topic: 5}, timeout_ms=10000)

    def five():
        (t,) = adm.describe_topics([topic])
        return len(t["partitions"]) == 5

    wait_until(five, 15, message=f"{topic} to have 5 partitions")
    # Shrinking is refused.
    with pytest.raises(kerrors.InvalidPartitionsError):
        adm.create_partitions({topic: 2}, timeout_ms=10000)

    p = producer(broker)
    wait_until(lambda: len(p.partitions_for(topic) or ()) == 5, 15, message="producer to see 5 partitions")
    md = p.send(topic, value=b"in the new partition", partition=4).get(timeout=20)
    assert (md.partition, md.offset) == (4, 0)
    p.close()
    got = consume_all(broker, topic, 5)
    assert [r.value for r in got[4]] == [b"in the new partition"]
    adm.close()
