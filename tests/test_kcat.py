"""Compatibility with Debian's kcat (librdkafka 2.0.2: an older client than the wheel's)."""

from __future__ import annotations

import collections
import json
import shutil
import subprocess

import pytest

from helpers import ck_create_topic, now_ms, unique_topic

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


@pytest.fixture(autouse=True)
def _need_kcat():
    if KCAT is None:
        pytest.fail("kcat is not installed (scripts/test.sh installs Debian's kcat)", pytrace=False)


def kcat(broker, *args: str, stdin: str | None = None, timeout: float = 60.0) -> str:
    cmd = [KCAT, "-b", broker.bootstrap, "-X", "socket.timeout.ms=10000", *args]
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} exited with {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


def test_metadata_list(broker):
    topic = unique_topic("kc-md")
    ck_create_topic(broker.bootstrap, topic, 3)
    out = kcat(broker, "-L")
    assert "1 brokers:" in out, out
    assert f"at 127.0.0.1:{broker.port}" in out, out
    assert f'topic "{topic}" with 3 partitions:' in out, out

    data = json.loads(kcat(broker, "-L", "-J", "-t", topic))
    (b,) = data["brokers"]
    assert b["name"] == f"127.0.0.1:{broker.port}", b
    (t,) = data["topics"]
    assert t["topic"] == topic and "error" not in t, t
    parts = sorted(t["partitions"], key=lambda p: p["partition"])
    assert [p["partition"] for p in parts] == [0, 1, 2]
    for p in parts:
        assert p["leader"] == b["id"] and "error" not in p, p
        assert [r["id"] for r in p["replicas"]] == [b["id"]], p
        assert [r["id"] for r in p["isrs"]] == [b["id"]], p


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produce_consume(broker, codec):
    topic = unique_topic(f"kc-{codec}")
    ck_create_topic(broker.bootstrap, topic, 3)
    lines = [f"k{i % 5}:value-{i}-" + "abc" * (i % 40) for i in range(200)]
    before = now_ms()
    kcat(broker, "-P", "-t", topic, "-K:", "-H", "h1=v1", "-H", "h2=two", "-z", codec, stdin="\n".join(lines) + "\n")
    after = now_ms()

    out = kcat(broker, "-C", "-t", topic, "-e", "-o", "beginning", "-q", "-f", "%k %s %p %o %T %h\n")
    rows = [line.split(" ") for line in out.splitlines() if line]
    assert len(rows) == len(lines), out[-2000:]
    expected = sorted(tuple(line.split(":", 1)) for line in lines)
    assert sorted((r[0], r[1]) for r in rows) == expected

    offsets = collections.defaultdict(list)
    key_parts = collections.defaultdict(set)
    for key, value, part, offset, ts, headers in rows:
        offsets[int(part)].append(int(offset))
        key_parts[key].add(int(part))
        assert before - 1000 <= int(ts) <= after + 1000, (ts, before, after)
        assert headers == "h1=v1,h2=two", headers
    for part, offs in offsets.items():
        assert offs == list(range(len(offs))), f"partition {part}: offsets {offs[:20]}..."
    assert all(len(ps) == 1 for ps in key_parts.values()), dict(key_parts)

    # Values were produced in order per key: consumed order per partition keeps it.
    per_key = collections.defaultdict(list)
    for key, value, part, offset, *_ in rows:
        per_key[key].append((int(offset), int(value.split("-")[1])))
    for key, seq in per_key.items():
        seq.sort()
        assert [v for _, v in seq] == sorted(v for _, v in seq), f"key {key} reordered"


def test_consume_from_offset(broker):
    topic = unique_topic("kc-off")
    ck_create_topic(broker.bootstrap, topic, 2)
    kcat(broker, "-P", "-t", topic, "-p", "1", stdin="".join(f"m{i}\n" for i in range(10)))
    out = kcat(broker, "-C", "-t", topic, "-p", "1", "-o", "3", "-c", "2", "-e", "-q", "-f", "%o %s\n")
    assert out.splitlines() == ["3 m3", "4 m4"]
    out = kcat(broker, "-C", "-t", topic, "-p", "1", "-o", "-2", "-e", "-q", "-f", "%o %s\n")  # last two
    assert out.splitlines() == ["8 m8", "9 m9"]
    out = kcat(broker, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%o %s\n")
    assert out == ""


def test_query_offsets_by_time(broker):
    topic = unique_topic("kc-q")
    ck_create_topic(broker.bootstrap, topic, 1)
    from confluent_kafka import Producer

    t0 = now_ms() - 500_000
    p = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all"})
    for i in range(10):
        p.produce(topic, value=f"v{i}".encode(), partition=0, timestamp=t0 + i * 1000)
    assert p.flush(30) == 0

    out = kcat(broker, "-Q", "-t", f"{topic}:0:{t0 + 6500}")
    assert f"{topic} [0] offset 7" in out, out
    out = kcat(broker, "-Q", "-t", f"{topic}:0:{t0}")
    assert f"{topic} [0] offset 0" in out, out
    out = kcat(broker, "-Q", "-t", f"{topic}:0:{t0 + 20_000}")
    assert f"{topic} [0] offset -1" in out, out
