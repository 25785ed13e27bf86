"""Consumer groups with aiokafka (asyncio, its own implementation of the group protocol):
a commit that survives a broker restart, and two members splitting a topic."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from helpers import (
    GROUP_BROKER_ARGS,
    GROUP_HEARTBEAT_MS,
    GROUP_SESSION_TIMEOUT_MS,
    ck_admin,
    ck_create_topic,
    ck_wait_for_partitions,
    unique_group,
    unique_topic,
)


@pytest.fixture
def broker(broker_factory):
    return broker_factory(extra_args=GROUP_BROKER_ARGS)


async def produce(bootstrap: str, topic: str, partitions: int, per_partition: int, tag: str) -> set[tuple[int, int]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=f"{tag}-{p}-{i}".encode(), partition=p)
            for i in range(per_partition)
            for p in range(partitions)
        ]
        return {(md.partition, md.offset) for md in await asyncio.gather(*futures)}
    finally:
        await producer.stop()


def group_consumer(bootstrap: str, topic: str, group: str, name: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id=name,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=GROUP_SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=GROUP_HEARTBEAT_MS,
        fetch_max_wait_ms=100,
    )


async def read_until(consumer: AIOKafkaConsumer, want: set, timeout: float, what: str) -> list[tuple[int, int]]:
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + timeout
    while not set(got) >= want:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}: {len(got)} of {len(want)}")
        batches = await consumer.getmany(timeout_ms=200)
        got.extend((tp.partition, m.offset) for tp, msgs in batches.items() for m in msgs)
    return got


def test_commit_and_resume_after_broker_restart(broker):
    topic, group = unique_topic("aio-cg"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 3)
    tps = [TopicPartition(topic, p) for p in range(3)]

    async def first() -> None:
        batch = await produce(broker.bootstrap, topic, 3, 6, "b1")
        c = group_consumer(broker.bootstrap, topic, group, "aio-first")
        await c.start()
        try:
            got = await read_until(c, batch, 30, "the first batch")
            assert sorted(got) == sorted(batch)
            await c.commit()
            assert [await c.committed(tp) for tp in tps] == [6, 6, 6]
        finally:
            await c.stop()

    asyncio.run(first())
    broker.stop()
    broker.restart()
    ck_wait_for_partitions(ck_admin(broker.bootstrap), topic, 3)

    async def second() -> None:
        batch = await produce(broker.bootstrap, topic, 3, 2, "b2")
        c = group_consumer(broker.bootstrap, topic, group, "aio-second")
        await c.start()
        try:
            got = await read_until(c, batch, 30, "the second batch")
            # Resumed at the offsets committed before the restart.
            assert sorted(got) == sorted(batch), got
            await c.commit({tps[0]: 7})
            assert await c.committed(tps[0]) == 7
        finally:
            await c.stop()

    asyncio.run(second())


def test_two_members_split_partitions(broker):
    topic, group = unique_topic("aio-split"), unique_group()
    ck_create_topic(broker.bootstrap, topic, 6)

    async def scenario() -> None:
        members = [group_consumer(broker.bootstrap, topic, group, f"aio{i}") for i in (1, 2)]
        records: dict[str, list[tuple[int, int]]] = {f"aio{i}": [] for i in (1, 2)}
        stop = asyncio.Event()

        async def run(c: AIOKafkaConsumer, name: str) -> None:
            while not stop.is_set():
                batches = await c.getmany(timeout_ms=100)
                records[name].extend((tp.partition, m.offset) for tp, msgs in batches.items() for m in msgs)
                if batches:
                    await c.commit()

        for c in members:
            await c.start()
        tasks = [asyncio.create_task(run(c, f"aio{i}")) for i, c in zip((1, 2), members)]
        try:
            def owned() -> list[set[int]]:
                return [{tp.partition for tp in c.assignment()} for c in members]

            deadline = time.monotonic() + 40
            while True:
                sets = owned()
                if all(len(s) == 3 for s in sets) and sets[0] | sets[1] == set(range(6)):
                    await asyncio.sleep(1.5)
                    if owned() == sets:
                        break
                assert time.monotonic() < deadline, f"no 3/3 split within 40 s: {sets}"
                await asyncio.sleep(0.1)
            owners = dict(zip(records, sets))

            batch = await produce(broker.bootstrap, topic, 6, 4, "s")
            deadline = time.monotonic() + 30
            while not {r for rs in records.values() for r in rs} >= batch:
                assert time.monotonic() < deadline, "the batch was not read within 30 s"
                await asyncio.sleep(0.1)
            for rec in batch:
                readers = [name for name, rs in records.items() if rec in rs]
                assert len(readers) == 1, f"{rec} read by {readers}"
                assert rec[0] in owners[readers[0]], f"{rec} read by {readers[0]} owning {owners[readers[0]]}"
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for c in members:
                await c.stop()
        for t in tasks:
            assert t.exception() is None, t.exception()

    asyncio.run(scenario())
