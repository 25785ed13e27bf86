"""Producer process for test_crash_idempotent.py: produce numbered records as fast as possible
with an idempotent or a transactional confluent-kafka producer and log what the broker
confirmed.

    python crash_idempotent_producer.py idempotent    BOOTSTRAP TOPIC PARTITIONS LOG_FILE
    python crash_idempotent_producer.py transactional BOOTSTRAP TOPIC PARTITIONS LOG_FILE TXN_RECORDS

idempotent: enable.idempotence=true, acks=all. Values are "p<partition>-<seq>" (seq counts
per partition from 0, in produce order). Every delivery report without error appends
"<partition> <offset> <value>" to LOG_FILE.

transactional: transactional.id set; each transaction writes TXN_RECORDS records, round robin
over the partitions, values "t<txn>-p<partition>-<i>", then commits. Lines in LOG_FILE:
    P <txn> <count p0> <count p1> ...   records produced in txn <txn>, before commit is tried
    C <txn>                             commit_transaction() returned: committed
    A <txn>                             aborted for sure: abort_transaction() returned (every
                                        ABORT_EVERY-th txn is aborted on purpose), or
                                        the txn was fenced before its commit was sent and a new
                                        producer's init_transactions() returned
    U <txn>                             commit sent, then a fatal error: outcome unknown (the
                                        test requires all-or-nothing)
On a fatal error the producer is replaced by a new one with the same transactional.id.

Runs until SIGTERM or SIGINT, then finishes the current transaction (or flushes, up to
15 s), writes the last lines and exits 0. LOG_FILE is flushed at least every 100 ms.
"""

from __future__ import annotations

import signal
import sys
import time

from confluent_kafka import KafkaException, Producer

# Enough to cover several kill rounds, bounded so that the check afterwards stays quick: a
# steady rate keeps batches in flight at every kill instead of one burst at the start.
MAX_RECORDS = 300_000
RECORDS_PER_SECOND = 15_000
# The transactional producer aborts every ABORT_EVERY-th transaction itself (after its records
# are written), so that the log holds aborted data to filter across the crashes.
ABORT_EVERY = 5

COMMON = {
    "acks": "all",
    "linger.ms": 5,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 200,
    "retry.backoff.ms": 50,
    "retry.backoff.max.ms": 200,
    "topic.metadata.refresh.interval.ms": 1000,
    "socket.timeout.ms": 5000,
    "log_level": 3,
}


def idempotent(bootstrap: str, topic: str, partitions: int, out, should_stop) -> str:
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            **COMMON,
            "enable.idempotence": True,
            "message.timeout.ms": 20000,
            "request.timeout.ms": 3000,
            "batch.num.messages": 200,
            "queue.buffering.max.messages": 20000,
        }
    )
    counts = {"acked": 0, "failed": 0}

    def on_delivery(err, msg):
        if err is None:
            out.write(f"{msg.partition()} {msg.offset()} {msg.value().decode()}\n")
            counts["acked"] += 1
        else:
            counts["failed"] += 1

    seq = [0] * partitions
    part = 0
    started = last_flush = time.monotonic()
    while not should_stop():
        sent = sum(seq)
        if sent >= MAX_RECORDS:
            p.poll(0.01)  # past the cap, a trickle: the test still sees acknowledgements
        elif sent % 100 == 0:
            ahead = sent / RECORDS_PER_SECOND - (time.monotonic() - started)
            if ahead > 0:
                p.poll(ahead)
        try:
            p.produce(topic, value=f"p{part}-{seq[part]}".encode(), partition=part, on_delivery=on_delivery)
            seq[part] += 1
            part = (part + 1) % partitions
        except BufferError:
            p.poll(0.05)
        except KafkaException as e:
            if e.args[0].fatal():
                raise
            p.poll(0.05)
        p.poll(0)
        if time.monotonic() - last_flush >= 0.1:
            out.flush()
            last_flush = time.monotonic()
    p.flush(15)
    return f"acked={counts['acked']} failed={counts['failed']} sent={sum(seq)}"


def transactional(bootstrap: str, topic: str, partitions: int, out, should_stop, txn_records: int) -> str:
    conf = {
        "bootstrap.servers": bootstrap,
        **COMMON,
        "transactional.id": f"crash-{topic}",
        "transaction.timeout.ms": 30000,
        "message.timeout.ms": 20000,
    }

    def log(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    def new_producer() -> Producer:
        deadline = time.monotonic() + 60
        while True:
            p = Producer(conf)
            try:
                p.init_transactions(20)
                return p
            except KafkaException as e:
                if time.monotonic() > deadline:
                    raise
                print(f"init_transactions: {e}", file=sys.stderr)
                if not e.args[0].retriable():
                    p = None  # fatal: drop this instance, make another
                time.sleep(0.2)

    stats = {"C": 0, "A": 0, "U": 0, "replaced": 0}
    p = new_producer()
    txn = 0
    while not should_stop():
        txn += 1
        counts = [0] * partitions
        commit_sent = False
        try:
            p.begin_transaction()
            for i in range(txn_records):
                part = i % partitions
                while True:
                    try:
                        p.produce(topic, value=f"t{txn}-p{part}-{counts[part]}".encode(), partition=part)
                        break
                    except BufferError:
                        p.poll(0.05)
                counts[part] += 1
                p.poll(0)
            log(f"P {txn} " + " ".join(map(str, counts)))
            if txn % ABORT_EVERY == 0:
                p.flush(30)  # written, then aborted
                p.abort_transaction(30)
                log(f"A {txn}")
                stats["A"] += 1
                continue
            deadline = time.monotonic() + 60
            while True:
                try:
                    commit_sent = True
                    p.commit_transaction(30)
                    break
                except KafkaException as e:
                    if e.args[0].retriable() and time.monotonic() < deadline:
                        continue
                    raise
            log(f"C {txn}")
            stats["C"] += 1
        except KafkaException as e:
            err = e.args[0]
            print(f"txn {txn}: {err!r}", file=sys.stderr)
            if not err.fatal() and err.txn_requires_abort():
                try:
                    p.abort_transaction(30)
                    log(f"A {txn}")
                    stats["A"] += 1
                    continue
                except KafkaException as e2:
                    print(f"txn {txn} abort: {e2.args[0]!r}", file=sys.stderr)
            # Fatal (or abort failed): a new instance fences this one and aborts what is open.
            # A commit that was sent may have gone through before the failure.
            stats["replaced"] += 1
            p = new_producer()
            if commit_sent:
                log(f"U {txn}")
                stats["U"] += 1
            else:
                log(f"A {txn}")
                stats["A"] += 1
    p.flush(15)
    return f"transactions={txn} " + " ".join(f"{k}={v}" for k, v in stats.items())


def main() -> int:
    mode, bootstrap, topic, partitions, path = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
    stop = False

    def on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with open(path, "w", buffering=1 << 16) as out:
        if mode == "idempotent":
            summary = idempotent(bootstrap, topic, partitions, out, lambda: stop)
        elif mode == "transactional":
            summary = transactional(bootstrap, topic, partitions, out, lambda: stop, int(sys.argv[6]))
        else:
            raise SystemExit(f"unknown mode {mode!r}")
    print(f"crash_idempotent_producer {mode}: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
