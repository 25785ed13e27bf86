"""Broker configuration end to end, judged by Apache Kafka's semantics: DescribeConfigs of the
broker resource (values, sources, read-only), dynamic broker configs (cluster default "" and
per-broker "0", KIP-226) applied, inherited by topics and persisted, static configs refused,
topic config validation, and the server's own flags (--set, --config)."""

from __future__ import annotations

import subprocess
import time

import pytest
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

import kafka_wire as kw
from conftest import strom_bin
from helpers import ck_admin, ck_create_topic, ck_wait_for_partitions, free_port, unique_topic, wait_until

# DescribeConfigs sources (Kafka's wire codes; librdkafka uses the same numbers)
DYNAMIC_TOPIC_CONFIG = 1
DYNAMIC_BROKER_CONFIG = 2
DYNAMIC_DEFAULT_BROKER_CONFIG = 3
STATIC_BROKER_CONFIG = 4
DEFAULT_CONFIG = 5


def source(entry: ConfigEntry) -> int:
    return int(getattr(entry.source, "value", entry.source))


def describe(admin, rtype: ResourceType, name: str) -> dict[str, ConfigEntry]:
    res = ConfigResource(rtype, name)
    return admin.describe_configs([res], request_timeout=15)[res].result(timeout=20)


def describe_broker(admin, name: str = "0") -> dict[str, ConfigEntry]:
    return describe(admin, ResourceType.BROKER, name)


def describe_topic(admin, topic: str) -> dict[str, ConfigEntry]:
    return describe(admin, ResourceType.TOPIC, topic)


def incremental_alter(admin, rtype: ResourceType, name: str, sets: dict[str, str | None]):
    """IncrementalAlterConfigs: value None deletes the config. Returns the future's result
    (raises KafkaException on a per-resource error)."""
    entries = [
        ConfigEntry(
            k,
            v,
            incremental_operation=AlterConfigOpType.DELETE if v is None else AlterConfigOpType.SET,
        )
        for k, v in sets.items()
    ]
    res = ConfigResource(rtype, name, incremental_configs=entries)
    return admin.incremental_alter_configs([res], request_timeout=15)[res].result(timeout=20)


def alter_error(admin, rtype: ResourceType, name: str, sets: dict[str, str | None]) -> KafkaError:
    with pytest.raises(KafkaException) as exc:
        incremental_alter(admin, rtype, name, sets)
    return exc.value.args[0]


# --- raw DescribeConfigs v1 / IncrementalAlterConfigs v0 --------------------------------
# confluent-kafka refuses an empty resource name client-side, but "" is how Kafka names the
# cluster-wide default broker resource (kafka-configs --entity-default), so these go by hand.

DESCRIBE_CONFIGS = 32
INCREMENTAL_ALTER_CONFIGS = 44
BROKER_RESOURCE = 4


class RawEntry:
    def __init__(self, name, value, read_only, source, sensitive, synonyms):
        self.name, self.value, self.is_read_only = name, value, read_only
        self.source, self.is_sensitive, self.synonyms = source, sensitive, synonyms

    def __repr__(self):
        return f"RawEntry({self.name}={self.value!r}, source={self.source}, synonyms={self.synonyms})"


def _bool(r: kw.Reader) -> bool:
    return r.int8() != 0


def raw_describe_broker(bootstrap: str, name: str) -> tuple[int, dict[str, RawEntry]]:
    """DescribeConfigs v1 (with synonyms) of broker resource `name`: (error_code, entries)."""
    body = kw.array([kw.int8(BROKER_RESOURCE) + kw.string(name) + kw.int32(-1)]) + kw.int8(1)
    req = kw.frame(kw.request_header_v1(DESCRIBE_CONFIGS, 1, 21, "strom-wire-test") + body)
    with kw.connect(bootstrap) as s:
        r = kw.Reader(kw.roundtrip(s, req))
    assert r.int32() == 21
    r.int32()  # throttle
    n = r.int32()
    assert n == 1, n
    error_code = r.int16()
    r.string()  # error message
    r.int8()
    r.string()
    entries = {}
    for _ in range(max(r.int32(), 0)):
        cname, value, ro, src, sens = r.string(), r.string(), _bool(r), r.int8(), _bool(r)
        syns = [(r.string(), r.string(), r.int8()) for _ in range(max(r.int32(), 0))]
        entries[cname] = RawEntry(cname, value, ro, src, sens, syns)
    return error_code, entries


def raw_incremental_alter_broker(bootstrap: str, name: str, sets: dict[str, str | None]) -> tuple[int, str | None]:
    """IncrementalAlterConfigs v0 of broker resource `name` (value None deletes)."""
    configs = [
        kw.string(k) + kw.int8(1 if v is None else 0) + kw.nullable_string(v) for k, v in sets.items()
    ]
    body = kw.array([kw.int8(BROKER_RESOURCE) + kw.string(name) + kw.array(configs)]) + kw.int8(0)
    req = kw.frame(kw.request_header_v1(INCREMENTAL_ALTER_CONFIGS, 0, 22, "strom-wire-test") + body)
    with kw.connect(bootstrap) as s:
        r = kw.Reader(kw.roundtrip(s, req))
    assert r.int32() == 22
    r.int32()
    assert r.int32() == 1
    return r.int16(), r.string()


def set_cluster_default(bootstrap: str, sets: dict[str, str | None]) -> None:
    code, message = raw_incremental_alter_broker(bootstrap, "", sets)
    assert code == 0, f"IncrementalAlterConfigs on the cluster default {sets}: error {code} {message}"


def cluster_defaults(bootstrap: str) -> dict[str, RawEntry]:
    code, entries = raw_describe_broker(bootstrap, "")
    assert code == 0, f"DescribeConfigs of the cluster default: error {code}"
    return entries


def run_server_expect_failure(tmp_path, *args: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run `strom server` that must refuse to start; returns the finished process."""
    data = tmp_path / "data-refused"
    data.mkdir(exist_ok=True)
    cmd = [
        strom_bin(), "server", "--data-dir", str(data), "--listen", f"127.0.0.1:{free_port()}",
        "--set", "admin.listen=127.0.0.1:0", *args,
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`{' '.join(cmd)}` did not exit within {timeout} s (it should refuse to start): {e.stdout} {e.stderr}")
    return proc


# --- DescribeConfigs of the broker ------------------------------------------------------


def test_describe_broker_configs_with_sources(broker_factory):
    broker = broker_factory(extra_args=["--set", "num.partitions=2", "--set", "log.retention.hours=48"])
    admin = ck_admin(broker.bootstrap)
    cfg = describe_broker(admin, "0")
    for name in ("num.partitions", "log.retention.hours", "message.max.bytes", "log.segment.bytes", "auto.create.topics.enable"):
        assert name in cfg, f"{name} missing from the broker's DescribeConfigs ({len(cfg)} entries)"

    assert cfg["num.partitions"].value == "2"
    assert source(cfg["num.partitions"]) == STATIC_BROKER_CONFIG
    assert cfg["num.partitions"].is_read_only, "num.partitions is not dynamic in Kafka: read-only"
    assert cfg["log.retention.hours"].value == "48"
    assert source(cfg["log.retention.hours"]) == STATIC_BROKER_CONFIG
    assert cfg["message.max.bytes"].value == "1048588"
    assert source(cfg["message.max.bytes"]) == DEFAULT_CONFIG
    assert not cfg["message.max.bytes"].is_read_only, "message.max.bytes is dynamic in Kafka"
    assert cfg["log.segment.bytes"].value == "1073741824"
    assert cfg["auto.create.topics.enable"].value == "true"
    assert source(cfg["auto.create.topics.enable"]) == DEFAULT_CONFIG

    # A topic without overrides inherits retention from log.retention.hours.
    topic = unique_topic("inh")
    ck_create_topic(broker.bootstrap, topic, 1)
    tcfg = describe_topic(admin, topic)
    assert tcfg["retention.ms"].value == str(48 * 3_600_000)
    assert source(tcfg["retention.ms"]) == STATIC_BROKER_CONFIG
    assert tcfg["max.message.bytes"].value == "1048588"
    assert source(tcfg["max.message.bytes"]) == DEFAULT_CONFIG

    # The empty name is the cluster default and lists only what was set dynamically at that
    # level: nothing yet. A broker resource naming another node is refused.
    assert cluster_defaults(broker.bootstrap) == {}
    code, _ = raw_describe_broker(broker.bootstrap, "7")
    assert code == KafkaError.INVALID_REQUEST, f"DescribeConfigs of broker 7 on node 0: error {code}"


# --- dynamic broker configs -------------------------------------------------------------


def test_cluster_default_dynamic_config_applies_inherits_and_persists(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("dyn")
    ck_create_topic(broker.bootstrap, topic, 1)
    overridden = unique_topic("dynov")
    ck_create_topic(broker.bootstrap, overridden, 1, config={"retention.ms": "123456"})
    before = describe_topic(admin, topic)["retention.ms"]
    assert before.value == "604800000" and source(before) == DEFAULT_CONFIG, (before.value, source(before))

    set_cluster_default(broker.bootstrap, {"log.retention.ms": "3600000"})

    b = describe_broker(admin, "0")["log.retention.ms"]
    assert b.value == "3600000", b.value
    assert source(b) == DYNAMIC_DEFAULT_BROKER_CONFIG, source(b)
    d = cluster_defaults(broker.bootstrap)
    assert "log.retention.ms" in d and d["log.retention.ms"].value == "3600000", d
    assert d["log.retention.ms"].source == DYNAMIC_DEFAULT_BROKER_CONFIG

    t = describe_topic(admin, topic)["retention.ms"]
    assert t.value == "3600000", f"topic without override did not inherit the dynamic default: {t.value}"
    assert source(t) == DYNAMIC_DEFAULT_BROKER_CONFIG, source(t)
    o = describe_topic(admin, overridden)["retention.ms"]
    assert o.value == "123456" and source(o) == DYNAMIC_TOPIC_CONFIG, "a topic override must win"

    # survives a restart
    broker.restart()
    admin = ck_admin(broker.bootstrap)
    b = describe_broker(admin, "0")["log.retention.ms"]
    assert b.value == "3600000" and source(b) == DYNAMIC_DEFAULT_BROKER_CONFIG, (b.value, source(b))
    t = describe_topic(admin, topic)["retention.ms"]
    assert t.value == "3600000" and source(t) == DYNAMIC_DEFAULT_BROKER_CONFIG, (t.value, source(t))

    # deleting the dynamic default goes back to the built-in default
    set_cluster_default(broker.bootstrap, {"log.retention.ms": None})
    t = describe_topic(admin, topic)["retention.ms"]
    assert t.value == "604800000" and source(t) == DEFAULT_CONFIG, (t.value, source(t))
    assert "log.retention.ms" not in cluster_defaults(broker.bootstrap)


def test_per_broker_dynamic_config_wins_over_cluster_default(broker):
    """KIP-226: a value set on broker "0" has source DYNAMIC_BROKER_CONFIG and wins over the
    cluster-wide default (""), which stays as it was."""
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("perb")
    ck_create_topic(broker.bootstrap, topic, 1)
    set_cluster_default(broker.bootstrap, {"log.retention.ms": "3600000"})
    incremental_alter(admin, ResourceType.BROKER, "0", {"log.retention.ms": "7200000"})

    b = describe_broker(admin, "0")["log.retention.ms"]
    assert (b.value, source(b)) == ("7200000", DYNAMIC_BROKER_CONFIG), (b.value, source(b))
    d = cluster_defaults(broker.bootstrap)
    assert d.get("log.retention.ms") is not None and d["log.retention.ms"].value == "3600000", (
        f"the cluster default changed when broker 0 was altered: {d}"
    )
    t = describe_topic(admin, topic)["retention.ms"]
    assert (t.value, source(t)) == ("7200000", DYNAMIC_BROKER_CONFIG), (t.value, source(t))

    broker.restart()
    admin = ck_admin(broker.bootstrap)
    b = describe_broker(admin, "0")["log.retention.ms"]
    assert (b.value, source(b)) == ("7200000", DYNAMIC_BROKER_CONFIG), (b.value, source(b))

    # removing the per-broker value falls back to the cluster default
    incremental_alter(admin, ResourceType.BROKER, "0", {"log.retention.ms": None})
    t = describe_topic(admin, topic)["retention.ms"]
    assert (t.value, source(t)) == ("3600000", DYNAMIC_DEFAULT_BROKER_CONFIG), (t.value, source(t))


def test_dynamic_message_max_bytes_is_enforced(broker):
    """A dynamic broker default is not only reported: produce obeys it."""
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("mmb")
    ck_create_topic(broker.bootstrap, topic, 1)
    set_cluster_default(broker.bootstrap, {"message.max.bytes": "2000"})
    assert describe_topic(admin, topic)["max.message.bytes"].value == "2000"
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 10000, "retries": 0})
    errs = []
    p.produce(topic, value=b"x" * 5000, on_delivery=lambda e, m: errs.append(e))
    p.flush(15)
    assert errs and errs[0] is not None, "a 5000-byte record was accepted with message.max.bytes=2000"
    assert errs[0].code() == KafkaError.MSG_SIZE_TOO_LARGE, errs[0]


def test_static_broker_config_refused(broker):
    admin = ck_admin(broker.bootstrap)
    for name, value in (("log.dirs", "/tmp/elsewhere"), ("node.id", "3"), ("auto.create.topics.enable", "false")):
        # Kafka: "Cannot update these configs dynamically: Set(<name>)", INVALID_REQUEST
        err = alter_error(admin, ResourceType.BROKER, "0", {name: value})
        assert err.code() == KafkaError.INVALID_REQUEST, f"{name} on broker 0: {err}"
        assert name in err.str(), f"the error does not name {name}: {err.str()}"
        code, message = raw_incremental_alter_broker(broker.bootstrap, "", {name: value})
        assert code == KafkaError.INVALID_REQUEST, f"{name} on the cluster default: {code} {message}"
        assert message and name in message, message
    b = describe_broker(admin, "0")
    assert b["auto.create.topics.enable"].value == "true"
    assert b["node.id"].value == "0"
    # A refused resource changes nothing, even its valid configs.
    code, _ = raw_incremental_alter_broker(broker.bootstrap, "", {"log.dirs": "/x", "log.retention.ms": "5000"})
    assert code == KafkaError.INVALID_REQUEST
    assert "log.retention.ms" not in cluster_defaults(broker.bootstrap), "part of a refused alter was applied"
    # Another node's resource is refused.
    code, message = raw_incremental_alter_broker(broker.bootstrap, "7", {"log.retention.ms": "5000"})
    assert code == KafkaError.INVALID_REQUEST, (code, message)


def test_dynamic_broker_config_bad_value_refused(broker):
    admin = ck_admin(broker.bootstrap)
    for sets in ({"log.retention.ms": "soon"}, {"log.segment.bytes": "1000"}):  # min 1 MiB
        code, message = raw_incremental_alter_broker(broker.bootstrap, "", sets)
        assert code in (KafkaError.INVALID_CONFIG, KafkaError.INVALID_REQUEST), (sets, code, message)
        err = alter_error(admin, ResourceType.BROKER, "0", sets)
        assert err.code() in (KafkaError.INVALID_CONFIG, KafkaError.INVALID_REQUEST), (sets, err)
    assert describe_broker(admin, "0")["log.segment.bytes"].value == "1073741824"
    assert cluster_defaults(broker.bootstrap) == {}


# --- topic configs ----------------------------------------------------------------------


def test_topic_config_validation(broker):
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("tcfg")
    ck_create_topic(broker.bootstrap, topic, 1)
    cases = [
        {"retention.ms": "forever"},  # not a number
        {"retention.ms": "-5"},  # below -1
        {"segment.bytes": "1000"},  # below 1 MiB (Kafka 4)
        {"cleanup.policy": "shred"},
        {"message.timestamp.type": "WallClock"},
        {"min.cleanable.dirty.ratio": "1.5"},
        {"retention.msx": "1000"},  # unknown name
        {"log.retention.ms": "1000"},  # a broker config is not a topic config
    ]
    for change in cases:
        err = alter_error(admin, ResourceType.TOPIC, topic, change)
        assert err.code() == KafkaError.INVALID_CONFIG, f"{change}: {err}"
        name = next(iter(change))
        t = describe_topic(admin, topic)
        if name in t:
            assert source(t[name]) != DYNAMIC_TOPIC_CONFIG, f"{change} was applied despite the error"

    # the same at creation
    for change in ({"retention.ms": "forever"}, {"no.such.config": "1"}, {"segment.bytes": "1000"}):
        name = unique_topic("tbad")
        fut = admin.create_topics([NewTopic(name, 1, 1, config=change)], request_timeout=15)[name]
        with pytest.raises(KafkaException) as exc:
            fut.result(timeout=20)
        assert exc.value.args[0].code() == KafkaError.INVALID_CONFIG, f"create with {change}: {exc.value}"
        md = admin.list_topics(timeout=10)
        assert name not in md.topics, f"topic created despite invalid config {change}"

    # a valid change is applied with its source
    incremental_alter(admin, ResourceType.TOPIC, topic, {"retention.ms": "86400000"})
    t = describe_topic(admin, topic)["retention.ms"]
    assert (t.value, source(t)) == ("86400000", DYNAMIC_TOPIC_CONFIG)


# --- server flags -----------------------------------------------------------------------


def test_num_partitions_for_auto_created_topics(broker_factory):
    broker = broker_factory(extra_args=["--set", "num.partitions=4"])
    topic = unique_topic("auto")
    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 15000})
    errs = []
    p.produce(topic, value=b"hello", on_delivery=lambda e, m: errs.append(e))
    assert p.flush(20) == 0
    assert errs == [None], errs
    admin = ck_admin(broker.bootstrap)
    ck_wait_for_partitions(admin, topic, 4)
    # CreateTopics asking for the default partition count (-1, KIP-464) gets num.partitions too.
    name = unique_topic("dflt")
    try:
        new = NewTopic(name, num_partitions=-1, replication_factor=-1)
    except Exception as e:  # pragma: no cover - older clients
        pytest.skip(f"client cannot ask for default partitions: {e}")
    admin.create_topics([new], request_timeout=15)[name].result(timeout=20)
    ck_wait_for_partitions(admin, name, 4)


def test_auto_create_disabled(broker_factory):
    broker = broker_factory(extra_args=["--set", "auto.create.topics.enable=false"])
    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("noauto")
    md = admin.list_topics(topic=topic, timeout=10)
    t = md.topics.get(topic)
    assert t is not None and t.error is not None, f"metadata for missing topic: {t}"
    assert t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART, t.error

    p = Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 3000})
    errs = []
    p.produce(topic, value=b"x", on_delivery=lambda e, m: errs.append(e))
    p.flush(10)
    assert errs and errs[0] is not None, "produce to a missing topic succeeded with auto-create off"
    md = admin.list_topics(timeout=10)
    assert topic not in md.topics, "topic was created although auto.create.topics.enable=false"


def test_config_file_with_kafka_names(broker_factory, tmp_path):
    cfg = tmp_path / "strom.toml"
    cfg.write_text(
        '"num.partitions" = 3\n'
        '"log.retention.hours" = 24\n'
        '"auto.create.topics.enable" = false\n'
        '"message.max.bytes" = 2000000\n'
    )
    broker = broker_factory(extra_args=["--config", str(cfg), "--set", "num.partitions=5"])
    admin = ck_admin(broker.bootstrap)
    b = describe_broker(admin, "0")
    assert (b["num.partitions"].value, source(b["num.partitions"])) == ("5", STATIC_BROKER_CONFIG), "--set wins over --config"
    assert (b["log.retention.hours"].value, source(b["log.retention.hours"])) == ("24", STATIC_BROKER_CONFIG)
    assert b["auto.create.topics.enable"].value == "false"
    assert b["message.max.bytes"].value == "2000000"
    topic = unique_topic("file")
    ck_create_topic(broker.bootstrap, topic, 1)
    t = describe_topic(admin, topic)
    assert (t["retention.ms"].value, source(t["retention.ms"])) == ("86400000", STATIC_BROKER_CONFIG)
    assert (t["max.message.bytes"].value, source(t["max.message.bytes"])) == ("2000000", STATIC_BROKER_CONFIG)
    missing = unique_topic("missing")
    t = admin.list_topics(topic=missing, timeout=10).topics.get(missing)
    assert t is not None and t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_unknown_config_name_refuses_to_start(tmp_path):
    proc = run_server_expect_failure(tmp_path, "--set", "num.partition=3")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"strom server started with an unknown config: {out}"
    assert "num.partition" in out, out
    assert "num.partitions" in out, f"no suggestion of the closest name: {out}"

    # a topic config given at broker level points at its broker name
    proc = run_server_expect_failure(tmp_path, "--set", "retention.ms=1000")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "retention.ms" in out and "log.retention.ms" in out, out

    # in a config file too
    cfg = tmp_path / "bad.toml"
    cfg.write_text('"auto.create.topic.enable" = false\n')
    proc = run_server_expect_failure(tmp_path, "--config", str(cfg))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "auto.create.topic.enable" in out and "auto.create.topics.enable" in out, out


def test_bad_config_value_refuses_to_start(tmp_path):
    for arg in ("num.partitions=0", "num.partitions=many", "log.segment.bytes=1000", "log.cleanup.policy=shred"):
        proc = run_server_expect_failure(tmp_path, "--set", arg)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0, f"--set {arg} was accepted: {out}"
        assert arg.split("=")[0] in out, f"--set {arg}: the message does not name the config: {out}"


def test_incremental_append_and_subtract_on_topic_lists(broker):
    """APPEND/SUBTRACT edit list configs, starting from the default; on a non-list config they
    are INVALID_REQUEST, as in Kafka."""
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    admin = ck_admin(broker.bootstrap)
    topic = unique_topic("lists")
    ck_create_topic(broker.bootstrap, topic, 1)

    def alter(name, value, op):
        resource = ConfigResource(
            ResourceType.TOPIC, topic,
            incremental_configs=[ConfigEntry(name, value, incremental_operation=op)],
        )
        return admin.incremental_alter_configs([resource])[resource].result(timeout=10)

    def value(name):
        resource = ConfigResource(ResourceType.TOPIC, topic)
        return admin.describe_configs([resource])[resource].result(timeout=10)[name].value

    alter("cleanup.policy", "compact", AlterConfigOpType.APPEND)
    assert value("cleanup.policy") == "delete,compact"
    alter("cleanup.policy", "delete", AlterConfigOpType.SUBTRACT)
    assert value("cleanup.policy") == "compact"
    with pytest.raises(KafkaException) as refused:
        alter("retention.ms", "5", AlterConfigOpType.APPEND)
    assert refused.value.args[0].code() == KafkaError.INVALID_REQUEST
