"""Helpers shared by the idempotence and transaction tests (no fixtures here: see conftest.py).

Reading helpers take an explicit isolation level; note that librdkafka's default consumer
isolation.level is read_committed and kafka-python's is read_uncommitted.
"""

from __future__ import annotations

import subprocess
import time

from helpers import Rec, read_to_ends, wait_until
from kafka_wire_txn import high_watermarks_v2, last_stable_offsets

READ_COMMITTED = "read_committed"
READ_UNCOMMITTED = "read_uncommitted"


def ck_producer(bootstrap: str, **conf):
    from confluent_kafka import Producer

    c = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": 15000,
        "socket.timeout.ms": 10000,
    }
    c.update(conf)
    return Producer(c)


def ck_txn_producer(bootstrap: str, transactional_id: str, init: bool = True, **conf):
    """A confluent-kafka transactional producer; init_transactions() already called."""
    c = {
        "transactional.id": transactional_id,
        "transaction.timeout.ms": 20000,
        "message.timeout.ms": 15000,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 500,
        "retry.backoff.ms": 50,
    }
    c.update(conf)
    p = ck_producer(bootstrap, **c)
    if init:
        p.init_transactions(30)
    return p


class Deliveries:
    """A delivery callback that records (partition, offset, value) and errors."""

    def __init__(self):
        self.ok: list[tuple[int, int, bytes]] = []
        self.errors: list = []

    def __call__(self, err, msg):
        if err is not None:
            self.errors.append(err)
        else:
            self.ok.append((msg.partition(), msg.offset(), msg.value()))

    def offsets(self, partition: int) -> list[int]:
        return [o for p, o, _ in self.ok if p == partition]


def ck_produce(producer, topic: str, values: list[bytes], partition: int, dr: Deliveries | None = None,
               flush: bool = True) -> Deliveries:
    dr = dr if dr is not None else Deliveries()
    for v in values:
        producer.produce(topic, value=v, partition=partition, on_delivery=dr)
        producer.poll(0)
    if flush:
        assert producer.flush(30) == 0, "records not delivered within 30 s"
        assert not dr.errors, f"delivery errors: {dr.errors[:5]}"
    return dr


def ck_commit(producer, timeout: float = 30.0) -> None:
    """commit_transaction(), retried while the error is retriable (as the librdkafka docs
    prescribe)."""
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    while True:
        try:
            producer.commit_transaction(max(1.0, deadline - time.monotonic()))
            return
        except KafkaException as e:
            if e.args[0].retriable() and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise


def ck_abort(producer, timeout: float = 30.0) -> None:
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + timeout
    while True:
        try:
            producer.abort_transaction(max(1.0, deadline - time.monotonic()))
            return
        except KafkaException as e:
            if e.args[0].retriable() and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            raise


def ck_consumer(bootstrap: str, isolation: str, **conf):
    from confluent_kafka import Consumer

    c = {
        "bootstrap.servers": bootstrap,
        "group.id": "strom-tests-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "fetch.wait.max.ms": 100,
        "isolation.level": isolation,
    }
    c.update(conf)
    return Consumer(c)


def wait_stable(bootstrap: str, topic: str, partitions: int, timeout: float = 15.0) -> dict[int, int]:
    """Wait until no transaction is open on `topic` (LSO = HWM on every partition). EndTxn
    is answered once the coordinator has logged PrepareCommit/PrepareAbort; the markers, which
    move the LSO, follow (in Kafka too)."""
    def stable():
        lso = last_stable_offsets(bootstrap, topic, partitions)
        return lso if lso == high_watermarks_v2(bootstrap, topic, partitions) else None

    return wait_until(stable, timeout, message=f"LSO = HWM on every partition of {topic}")


def ck_read(
    bootstrap: str, topic: str, partitions: int, isolation: str, timeout: float = 30.0, settle: bool = True
) -> dict[int, list[Rec]]:
    """Every record of `topic` visible under `isolation`, from the beginning up to the end as
    of the call: the last stable offset (read_committed) or the high watermark
    (read_uncommitted), both from ListOffsets v2. No consumer group. With `settle`, a
    read_committed read first waits until no transaction is open (see wait_stable)."""
    if isolation == READ_COMMITTED and settle:
        wait_stable(bootstrap, topic, partitions)
    if isolation == READ_COMMITTED:
        ends = last_stable_offsets(bootstrap, topic, partitions)
    else:
        ends = high_watermarks_v2(bootstrap, topic, partitions)
    consumer = ck_consumer(bootstrap, isolation)
    try:
        return read_to_ends(consumer, topic, ends, timeout, what=f"{isolation} read", poll=0.2)
    finally:
        consumer.close()


def offsets_and_values(recs: list[Rec]) -> list[tuple[int, bytes]]:
    return [(r.offset, r.value) for r in recs]


def values(recs: list[Rec]) -> list[bytes]:
    return [r.value for r in recs]


def strom_cli(broker, *args: str, check: bool = True, timeout: float = 60.0) -> subprocess.CompletedProcess:
    cmd = [broker.binary, *args, "--brokers", broker.bootstrap]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, (
            f"{' '.join(cmd)} exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc
