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


class StopFlag:
    """Set by SIGTERM or SIGINT: the producer loop ends, flushes and exits."""

    def __init__(self):
        self.set = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, frame):
        self.set = True


class AckLog:
    """An acks=all, non-idempotent producer whose delivery reports append `line(msg)` to a file
    (flushed by `maybe_flush` at least every 100 ms), with acked/failed counts. Shared by the
    crash producers."""

    def __init__(self, bootstrap: str, ack_path: str, batch_num_messages: int, line):
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": False,
                "message.timeout.ms": 5000,
                "request.timeout.ms": 3000,
                "linger.ms": 5,
                "batch.num.messages": batch_num_messages,
                "queue.buffering.max.messages": 20000,
                "reconnect.backoff.ms": 50,
                "reconnect.backoff.max.ms": 200,
                "retry.backoff.ms": 50,
                "retry.backoff.max.ms": 200,
                "topic.metadata.refresh.interval.ms": 1000,
                "log_level": 3,
            }
        )
        self.out = open(ack_path, "w", buffering=1 << 16)
        self.acked = 0
        self.failed = 0
        self._line = line
        self._last_flush = time.monotonic()

    def on_delivery(self, err, msg):
        if err is None:
            self.out.write(self._line(msg))
            self.acked += 1
        else:
            self.failed += 1

    def maybe_flush(self, now: float):
        if now - self._last_flush >= 0.1:
            self.out.flush()
            self._last_flush = now

    def close(self):
        self.producer.flush(15)
        self.out.flush()
        self.out.close()


def main() -> int:
    bootstrap, topic, partitions, ack_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    stop = StopFlag()
    acks = AckLog(
        bootstrap, ack_path, 200, lambda msg: f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n"
    )
    p = acks.producer

    seq = [0] * partitions
    part = 0
    while not stop.set:
        if sum(seq) >= MAX_RECORDS:
            # Past the cap, keep a trickle going so that the test still sees new
            # acknowledgements after the last restart.
            p.poll(0.01)
        value = f"p{part}-{seq[part]}"
        try:
            p.produce(topic, value=value.encode(), partition=part, on_delivery=acks.on_delivery)
            seq[part] += 1
            part = (part + 1) % partitions
        except BufferError:
            p.poll(0.05)  # queue full (broker down): wait for deliveries or timeouts
        except KafkaException:  # e.g. partition unknown until metadata arrives
            p.poll(0.05)
        p.poll(0)
        acks.maybe_flush(time.monotonic())
    acks.close()
    print(f"crash_producer: acked={acks.acked} failed={acks.failed} sent={sum(seq)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
