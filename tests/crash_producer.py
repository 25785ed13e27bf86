"""Producer process for test_crash.py: produce numbered records as fast as possible and log
every acknowledged one.

    python crash_producer.py BOOTSTRAP TOPIC PARTITIONS ACK_FILE

Each record's value is "p<partition>-<seq>" (seq counts per partition, from 0). On every
delivery report without error the line "<partition> <offset> <value>" is appended to
ACK_FILE, which is flushed at least every 100 ms. Runs until SIGTERM or SIGINT, then flushes
what is in flight (up to 15 s), writes the last acknowledgements and exits 0.

acks=all with enable.idempotence=false: retries may write a record twice (that is allowed);
an acknowledged record must be in the log at the acknowledged offset.
"""

from __future__ import annotations

import signal
import sys
import time

from confluent_kafka import KafkaException, Producer


# Enough to cover several kill rounds, bounded so that the check afterwards stays quick.
MAX_RECORDS = 2_000_000


def main() -> int:
    bootstrap, topic, partitions, ack_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": False,
            "message.timeout.ms": 5000,
            "request.timeout.ms": 3000,
            "linger.ms": 5,
            "batch.num.messages": 200,
            "queue.buffering.max.messages": 20000,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 200,
            "retry.backoff.ms": 50,
            "retry.backoff.max.ms": 200,
            "topic.metadata.refresh.interval.ms": 1000,
            "log_level": 3,
        }
    )
    out = open(ack_path, "w", buffering=1 << 16)
    counts = {"acked": 0, "failed": 0}

    def on_delivery(err, msg):
        if err is None:
            out.write(f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n")
            counts["acked"] += 1
        else:
            counts["failed"] += 1

    seq = [0] * partitions
    last_flush = time.monotonic()
    part = 0
    while not stop:
        if sum(seq) >= MAX_RECORDS:
            # Past the cap, keep a trickle going so that the test still sees new
            # acknowledgements after the last restart.
            p.poll(0.01)
        value = f"p{part}-{seq[part]}"
        try:
            p.produce(topic, value=value.encode(), partition=part, on_delivery=on_delivery)
            seq[part] += 1
            part = (part + 1) % partitions
        except BufferError:
            p.poll(0.05)  # queue full (broker down): wait for deliveries or timeouts
        except KafkaException:  # e.g. partition unknown until metadata arrives
            p.poll(0.05)
        p.poll(0)
        now = time.monotonic()
        if now - last_flush >= 0.1:
            out.flush()
            last_flush = now
    p.flush(15)
    out.flush()
    out.close()
    print(f"crash_producer: acked={counts['acked']} failed={counts['failed']} sent={sum(seq)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
