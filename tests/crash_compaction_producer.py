"""Producer process for test_compaction.py's crash test: produce keyed records at a steady rate
to a compacted topic and log every acknowledged one.

    python crash_compaction_producer.py BOOTSTRAP TOPIC KEYS RATE ACK_FILE

Record n (counting from 0) has the key "k<n % KEYS>" (zero padded to 4 digits) and the value
"<key>:<n>"; the default partitioner places it. On every delivery report without error the
line "<partition> <offset> <key> <value>" is appended to ACK_FILE, which is flushed at least
every 100 ms. RATE is in records per second. Runs until SIGTERM or SIGINT, then flushes what is
in flight (up to 15 s), writes the last acknowledgements and exits 0.

acks=all with enable.idempotence=false: retries may write a record twice or reorder batches
(both allowed: the test judges the log by offsets, not by produce order); an acknowledged
record must be in the log at the acknowledged offset unless a later record of its key (at a
higher offset) superseded it.
"""

from __future__ import annotations

import sys
import time

from confluent_kafka import KafkaException

from crash_producer import AckLog, StopFlag


def main() -> int:
    bootstrap, topic, keys, rate, ack_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
    stop = StopFlag()
    acks = AckLog(
        bootstrap,
        ack_path,
        50,
        lambda msg: f"{msg.partition()} {msg.offset()} {msg.key().decode()} {msg.value().decode()}\n",
    )
    p = acks.producer
    n = 0
    started = time.monotonic()
    while not stop.set:
        now = time.monotonic()
        if n >= (now - started) * rate:
            p.poll(0.002)
        else:
            key = f"k{n % keys:04d}"
            try:
                p.produce(topic, key=key.encode(), value=f"{key}:{n}".encode(), on_delivery=acks.on_delivery)
                n += 1
            except BufferError:
                p.poll(0.05)  # queue full (broker down): wait for deliveries or timeouts
            except KafkaException:  # e.g. the topic's partitions unknown until metadata arrives
                p.poll(0.05)
            p.poll(0)
        acks.maybe_flush(now)
    acks.close()
    print(f"crash_compaction_producer: acked={acks.acked} failed={acks.failed} sent={n}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
