"""`strom cluster health`: Metadata (brokers, partitions with a leader) plus the admin API's
/health, as a table or JSON; exit status 1 only when the cluster is unhealthy."""

from __future__ import annotations

import json
import subprocess
import urllib.request

from conftest import strom_bin
from helpers import ck_create_topic, unique_topic
from test_metrics import admin_address


def health(broker, admin: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [strom_bin(), "cluster", "health", "--brokers", broker.bootstrap, "--admin", admin, *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cluster_health_reports_brokers_partitions_and_the_admin_api(broker):
    admin = admin_address(broker)
    ck_create_topic(broker.bootstrap, unique_topic("health"), 3)
    done = health(broker, admin, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["healthy"] is True
    assert report["brokers"] == 1
    assert report["partitions"] >= 3
    assert report["leaderless_partitions"] == []
    assert report["admin_api"] == {"url": f"http://{admin}/health", "ok": True, "status": "ok"}

    table = health(broker, admin)
    assert table.returncode == 0, table.stderr
    assert "HEALTHY" in table.stdout and "yes" in table.stdout, table.stdout

    # An unreachable admin API is reported, but the brokers still serve: still healthy.
    unreachable = health(broker, "http://127.0.0.1:1", "--json")
    assert unreachable.returncode == 0, unreachable.stderr
    report = json.loads(unreachable.stdout.strip().splitlines()[-1])
    assert report["healthy"] is True and report["admin_api"]["ok"] is False
    assert "unreachable" in report["admin_api"]["status"]


def test_cluster_health_fails_without_a_broker():
    done = subprocess.run(
        [strom_bin(), "cluster", "health", "--brokers", "127.0.0.1:1", "--admin", "http://127.0.0.1:1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "cannot reach a broker" in done.stderr, done.stderr


def test_admin_api_describes_the_cluster(broker):
    admin = admin_address(broker)
    ck_create_topic(broker.bootstrap, unique_topic("described"), partitions=3)
    with urllib.request.urlopen(f"http://{admin}/v1/cluster", timeout=10) as response:
        cluster = json.loads(response.read())
    host, port = broker.bootstrap.rsplit(":", 1)
    assert cluster["brokers"] == [{"node_id": cluster["controller_id"], "host": host, "port": int(port)}]
    assert cluster["cluster_id"]
    assert cluster["topics"] >= 1 and cluster["partitions"] >= 3
    assert cluster["version"]
