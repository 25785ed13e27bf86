"""Prometheus metrics at the admin API's GET /metrics move as real client traffic says.

confluent-kafka produces records of a known size to a fresh topic and reads them back; the
metrics scraped before and after must show exactly those records in, the same bytes in as the
partition's log holds (batches are stored verbatim), at least those bytes out, the partition's
log end offset, the requests per API, the open connections and the process figures.
"""

from __future__ import annotations

import re
import socket
import struct
import time
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition

from helpers import ck_create_topic, unique_topic, wait_until

RECORDS = 200
VALUE_BYTES = 100
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def admin_address(broker) -> str:
    """The admin listener's address, as the broker logs it (admin.listen is 127.0.0.1:0)."""
    match = wait_until(
        lambda: re.search(r"admin listener ready listen=(\S+)", broker.log_text()),
        10,
        message="the admin listener's address in the broker log",
    )
    return match.group(1)


def scrape(admin: str) -> dict[str, float]:
    """Every sample of GET /metrics: {'name{labels}': value}."""
    with urllib.request.urlopen(f"http://{admin}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == OPENMETRICS, response.headers
        text = response.read().decode()
    assert text.endswith("# EOF\n"), text[-200:]
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        samples[name] = float(value)
    return samples


def delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


def test_metrics_follow_produce_and_fetch_of_a_topic(broker):
    admin = admin_address(broker)
    topic = unique_topic("metrics")
    ck_create_topic(broker.bootstrap, topic, partitions=1)
    by_topic = f'{{topic="{topic}"}}'
    by_partition = f'{{topic="{topic}",partition="0"}}'
    before = scrape(admin)

    producer = Producer(
        {"bootstrap.servers": broker.bootstrap, "compression.type": "none", "linger.ms": 5}
    )
    for i in range(RECORDS):
        producer.produce(topic, key=f"k{i}".encode(), value=b"v" * VALUE_BYTES)
    assert producer.flush(30) == 0
    after_produce = scrape(admin)

    assert delta(before, after_produce, f"strom_topic_records_in_total{by_topic}") == RECORDS
    bytes_in = delta(before, after_produce, f"strom_topic_bytes_in_total{by_topic}")
    assert bytes_in >= RECORDS * VALUE_BYTES
    # Batches are stored as sent: the log holds exactly the bytes counted in.
    assert after_produce[f"strom_log_size_bytes{by_partition}"] == bytes_in
    assert after_produce[f"strom_log_end_offset{by_partition}"] == RECORDS
    assert after_produce[f"strom_log_start_offset{by_partition}"] == 0
    assert delta(before, after_produce, 'strom_requests_total{api="Produce"}') > 0
    assert delta(before, after_produce, 'strom_request_duration_seconds_count{api="Produce"}') > 0
    assert delta(before, after_produce, "strom_produce_request_bytes_count") > 0
    assert delta(before, after_produce, "strom_produce_request_bytes_sum") >= bytes_in
    # The default flush policy fsyncs before acknowledging acks=all produces.
    assert delta(before, after_produce, "strom_fsync_duration_seconds_count") > 0

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "strom-metrics-unused",  # required by librdkafka; assign() is used
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
        }
    )
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        received = 0
        deadline = time.monotonic() + 30
        while received < RECORDS and time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                received += 1
        assert received == RECORDS
        after_fetch = scrape(admin)
        # The producer and the consumer are connected while this is scraped.
        assert after_fetch["strom_active_connections"] >= 1
    finally:
        consumer.close()

    assert delta(before, after_fetch, f"strom_topic_bytes_out_total{by_topic}") >= bytes_in
    assert delta(before, after_fetch, 'strom_requests_total{api="Fetch"}') > 0
    assert delta(before, after_fetch, "strom_fetch_response_bytes_sum") >= bytes_in
    assert after_fetch["process_resident_memory_bytes"] > 0
    assert after_fetch["process_open_fds"] > 0
    # Nothing failed: no request was undecodable or answered by closing the connection.
    assert not any(
        value for name, value in after_fetch.items() if name.startswith("strom_request_failures_total")
    ), {name: value for name, value in after_fetch.items() if "failures" in name}


def test_active_connections_count_open_connections(broker):
    admin = admin_address(broker)
    # The start-up probe's connection (connect, close) may not have been noticed yet.
    wait_until(
        lambda: scrape(admin)["strom_active_connections"] == 0,
        10,
        message="no connection counted before any client",
    )
    sockets = [socket.create_connection((broker.host, broker.port)) for _ in range(3)]
    try:
        wait_until(
            lambda: scrape(admin)["strom_active_connections"] == 3,
            10,
            message="three open connections counted",
        )
    finally:
        for s in sockets:
            s.close()
    wait_until(
        lambda: scrape(admin)["strom_active_connections"] == 0,
        10,
        message="the closed connections no longer counted",
    )


def test_an_undecodable_request_counts_as_a_failed_request(broker):
    admin = admin_address(broker)
    with socket.create_connection((broker.host, broker.port)) as s:
        # A request header with API key 999, which no Kafka API has: the broker closes.
        s.sendall(struct.pack(">ihhi", 8, 999, 0, 7))
        s.settimeout(10)
        assert s.recv(1) == b""
    after = scrape(admin)
    assert after['strom_requests_total{api="unknown"}'] == 1
    assert after['strom_request_failures_total{api="unknown"}'] == 1


def test_a_lagging_group_shows_its_lag(broker):
    """strom_consumer_group_lag is the high watermark minus the group's committed offset, per
    partition, and follows the group's commits."""
    from helpers import unique_group

    admin = admin_address(broker)
    topic, group = unique_topic("lag"), unique_group("lag")
    ck_create_topic(broker.bootstrap, topic, 2)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(100):
        producer.produce(topic, value=b"x", partition=i % 2)
    assert producer.flush(15) == 0
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group})
    consumer.commit(offsets=[TopicPartition(topic, 0, 10), TopicPartition(topic, 1, 50)], asynchronous=False)
    lag = f'strom_consumer_group_lag{{group="{group}",topic="{topic}",partition="%d"}}'
    metrics = scrape(admin)
    assert metrics.get(lag % 0) == 40, metrics
    assert metrics.get(lag % 1) == 0, metrics
    consumer.commit(offsets=[TopicPartition(topic, 0, 45)], asynchronous=False)
    assert scrape(admin).get(lag % 0) == 5
    for i in range(7):
        producer.produce(topic, value=b"x", partition=1)
    assert producer.flush(15) == 0
    assert scrape(admin).get(lag % 1) == 7
    consumer.close()


def test_two_consumers_joining_a_group_count_its_rebalances(broker_factory):
    """strom_group_rebalances_total{group} counts the group's new generations: the first member's
    join starts one, the second member's join another."""
    from helpers import GROUP_BROKER_ARGS, GROUP_HEARTBEAT_MS, GROUP_SESSION_TIMEOUT_MS, unique_group

    broker = broker_factory(extra_args=GROUP_BROKER_ARGS)
    admin = admin_address(broker)
    topic, group = unique_topic("rebalance"), unique_group("rebalance")
    ck_create_topic(broker.bootstrap, topic, 2)
    rebalances = f'strom_group_rebalances_total{{group="{group}"}}'
    assert rebalances not in scrape(admin)

    def member(name: str) -> Consumer:
        consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": group,
                "client.id": name,
                "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
                "heartbeat.interval.ms": GROUP_HEARTBEAT_MS,
            }
        )
        consumer.subscribe([topic])
        return consumer

    def pump_until(consumers, predicate, what: str):
        deadline = time.monotonic() + 30
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            for consumer in consumers:
                consumer.poll(0.05)

    first = member("first")
    second = None
    try:
        pump_until([first], lambda: len(first.assignment()) == 2, "the first member's assignment")
        after_first = scrape(admin).get(rebalances, 0)
        assert after_first >= 1, after_first
        second = member("second")
        pump_until(
            [first, second],
            lambda: len(first.assignment()) == 1 and len(second.assignment()) == 1,
            "the partitions split between both members",
        )
        after_second = scrape(admin)[rebalances]
        assert after_second > after_first, (after_first, after_second)
    finally:
        first.close()
        if second is not None:
            second.close()


def test_error_codes_of_responses_are_counted_per_api_and_error(broker_factory):
    """strom_request_errors_total{api,error} counts the error codes the broker answers with: a
    produce to a topic that does not exist (auto-creation off), the metadata of that topic asked
    by confluent-kafka, and its consumer fetching past the end of a partition."""
    from confluent_kafka import KafkaError

    import kafka_wire as wire

    broker = broker_factory(extra_args=["--set", "auto.create.topics.enable=false"])
    admin = admin_address(broker)
    before = scrape(admin)
    missing, topic = unique_topic("missing"), unique_topic("errors")

    # Produce, spoken on the wire: the client library would stop at the metadata's error.
    batch = wire.record_batch([wire.Record(key=b"k", value=b"v")])
    with wire.connect(broker.bootstrap) as sock:
        payload = wire.roundtrip(sock, wire.produce_request_v3(missing, 0, batch, acks=1))
    _, partitions = wire.parse_produce_response_v3(payload)
    assert [p.error_code for p in partitions] == [3], partitions

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "strom-errors-unused",  # assign() is used
            "auto.offset.reset": "error",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic=missing, timeout=10)
        assert metadata.topics[missing].error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
        ck_create_topic(broker.bootstrap, topic, 1)
        consumer.assign([TopicPartition(topic, 0, 1000)])
        deadline = time.monotonic() + 20
        while True:
            assert time.monotonic() < deadline, "no offset-out-of-range error"
            message = consumer.poll(0.5)
            if message is not None and message.error() is not None:
                # librdkafka reports the broker's OFFSET_OUT_OF_RANGE as a failed offset reset.
                assert message.error().code() == KafkaError._AUTO_OFFSET_RESET, message.error()
                assert "Offset out of range" in message.error().str(), message.error()
                break
    finally:
        consumer.close()

    after = scrape(admin)
    errors = {name: value for name, value in after.items() if name.startswith("strom_request_errors_total")}
    unknown = 'strom_request_errors_total{api="%s",error="UNKNOWN_TOPIC_OR_PARTITION"}'
    assert delta(before, after, unknown % "Produce") == 1, errors
    assert delta(before, after, unknown % "Metadata") >= 1, errors
    assert delta(before, after, 'strom_request_errors_total{api="Fetch",error="OFFSET_OUT_OF_RANGE"}') >= 1, errors
