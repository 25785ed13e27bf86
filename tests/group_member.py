"""A confluent-kafka group member run as a child process, so that a test can SIGKILL it.

    python group_member.py BOOTSTRAP TOPIC GROUP COMMIT_EVERY [ASSIGNOR]

It subscribes to TOPIC in GROUP (classic protocol), consumes slowly, and commits synchronously
(explicit offsets, enable.auto.commit=false) after every COMMIT_EVERY records of a partition.
It reports on stdout, one JSON object per line, flushed at once:

    {"event": "assigned", "partitions": [0, 1, 2]}
    {"event": "revoked", "partitions": [0, 1, 2]}
    {"event": "msg", "p": 0, "o": 12, "v": "..."}
    {"event": "committed", "p": 0, "o": 13}      # after the commit returned successfully

A "committed" line is printed only once the broker acknowledged the commit, so the offsets a
test reads from these lines are at most the ones the group really has.
"""

from __future__ import annotations

import json
import sys
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition

from helpers import GROUP_HEARTBEAT_MS, GROUP_SESSION_TIMEOUT_MS


def say(**event) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    bootstrap, topic, group, commit_every = sys.argv[1:5]
    assignor = sys.argv[5] if len(sys.argv) > 5 else "range"
    commit_every = int(commit_every)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": "killed-member",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": GROUP_SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": GROUP_HEARTBEAT_MS,
            "partition.assignment.strategy": assignor,
            "fetch.wait.max.ms": 100,
        }
    )

    def on_assign(c, partitions):
        say(event="assigned", partitions=sorted(p.partition for p in partitions))

    def on_revoke(c, partitions):
        say(event="revoked", partitions=sorted(p.partition for p in partitions))

    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    uncommitted: dict[int, int] = {}
    while True:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            say(event="error", error=str(msg.error()))
            continue
        p, o = msg.partition(), msg.offset()
        say(event="msg", p=p, o=o, v=msg.value().decode())
        uncommitted[p] = uncommitted.get(p, 0) + 1
        if uncommitted[p] >= commit_every:
            try:
                consumer.commit(offsets=[TopicPartition(topic, p, o + 1)], asynchronous=False)
            except KafkaException as exc:
                say(event="commit-failed", p=p, o=o + 1, error=str(exc))
            else:
                uncommitted[p] = 0
                say(event="committed", p=p, o=o + 1)
        # Slow, so that the test can kill it in the middle of its work.
        time.sleep(0.02)


if __name__ == "__main__":
    main()
