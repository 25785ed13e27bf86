"""Crash safety of the idempotent and the transactional producer paths: SIGKILL the broker
several times under a confluent-kafka producer's load (crash_idempotent_producer.py), restart
it on the same data dir, and hold the result to Kafka's guarantees:

* idempotent (enable.idempotence=true, acks=all): every acknowledged record is in the log at
  its acknowledged offset, and no record is there twice (retries across the crash are
  deduplicated by producer id / epoch / sequence, the producer state having been rebuilt from
  the log); per partition the records are in produce order.
* transactional (a commit every TXN_RECORDS records): a read_committed reader sees every
  committed transaction's records exactly once and in order, nothing of an aborted one, and
  each transaction whose outcome the producer could not learn entirely or not at all; the
  producer aborts every 5th transaction on purpose, so aborted data sits between committed
  data across the crashes.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from helpers import ck_create_topic, unique_topic, wait_until
from kafka_wire_txn import high_watermarks_v2, last_stable_offsets
from txn_helpers import READ_COMMITTED, READ_UNCOMMITTED, ck_read

HERE = Path(__file__).resolve().parent
PARTITIONS = 3
ROUNDS = 4
TXN_RECORDS = 30


def lines(path: Path) -> list[str]:
    try:
        with open(path) as f:
            return [line[:-1] for line in f if line.endswith("\n")]
    except FileNotFoundError:
        return []


def run_with_kills(broker, tmp_path: Path, args: list[str], progress, delays: tuple[float, float]):
    """Start the producer, SIGKILL + restart the broker ROUNDS times, wait for progress after
    the last restart, stop the producer (SIGTERM, exit 0 required). Returns the rounds as
    (delay, progress before, progress at kill)."""
    seed = int(os.environ.get("STROM_CRASH_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    print(f"crash test seed: {seed} (set STROM_CRASH_SEED to repeat)")
    plog_path = tmp_path / "producer.log"
    with open(plog_path, "wb") as plog:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_idempotent_producer.py"), *args],
            stdout=plog,
            stderr=subprocess.STDOUT,
        )
    rounds = []
    try:
        wait_until(lambda: progress() > 0, 30, message="the producer's first confirmations")
        for _ in range(ROUNDS):
            before = progress()
            delay = rng.uniform(*delays)
            time.sleep(delay)
            assert proc.poll() is None, f"producer died: {plog_path.read_text()[-3000:]}"
            broker.kill()
            time.sleep(0.2)
            rounds.append((round(delay, 2), before, progress()))
            broker.restart()
        after = progress()
        wait_until(lambda: progress() > after + 2, 60, message="progress after the last restart")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    output = plog_path.read_text()
    assert proc.returncode == 0, f"producer exit {proc.returncode}: {output[-3000:]}"
    print("rounds (kill delay s, progress before, progress at kill):", rounds)
    print(output[-1500:])
    progressed = sum(1 for _, before, at_kill in rounds if at_kill > before)
    assert progressed >= ROUNDS // 2, f"the producer progressed in only {progressed} of {ROUNDS} rounds: {rounds}"
    return rounds


def test_sigkill_idempotent_producer_exactly_once_in_order(broker, tmp_path):
    topic = unique_topic("crashidem")
    ck_create_topic(broker.bootstrap, topic, PARTITIONS)
    ack_file = tmp_path / "acks.txt"
    run_with_kills(
        broker,
        tmp_path,
        ["idempotent", broker.bootstrap, topic, str(PARTITIONS), str(ack_file)],
        lambda: len(lines(ack_file)),
        (0.5, 2.0),
    )

    acked: dict[tuple[int, int], str] = {}
    conflicts = []
    for line in lines(ack_file):
        p, off, value = line.split()
        prev = acked.setdefault((int(p), int(off)), value)
        if prev != value:
            conflicts.append((p, off, prev, value))
    assert acked, "no record was acknowledged"
    assert not conflicts, f"offsets acknowledged for two different records: {conflicts[:10]}"

    logs = ck_read(broker.bootstrap, topic, PARTITIONS, READ_UNCOMMITTED, timeout=120)
    problems = []
    for p in range(PARTITIONS):
        recs = logs[p]
        offsets = [r.offset for r in recs]
        if offsets != list(range(len(offsets))):
            problems.append(f"partition {p}: offsets not contiguous from 0")
        seqs = []
        for r in recs:
            v = (r.value or b"").decode()
            if not v.startswith(f"p{p}-"):
                problems.append(f"partition {p} offset {r.offset}: foreign value {v!r}")
                break
            seqs.append(int(v.split("-")[1]))
        dups = sorted(s for s, n in Counter(seqs).items() if n > 1)
        if dups:
            problems.append(f"partition {p}: {len(dups)} records written twice, e.g. sequences {dups[:10]}")
        disorder = [(a, b) for a, b in zip(seqs, seqs[1:]) if b <= a]
        if disorder and not dups:
            problems.append(f"partition {p}: records out of produce order, e.g. {disorder[:10]}")
    stored = {(p, r.offset): r.value.decode() for p in logs for r in logs[p]}
    missing = [(k, v) for k, v in acked.items() if k not in stored]
    changed = [(k, v, stored[k]) for k, v in acked.items() if k in stored and stored[k] != v]
    if missing:
        problems.append(f"{len(missing)} acknowledged records missing, e.g. {sorted(missing)[:10]}")
    if changed:
        problems.append(f"{len(changed)} acknowledged offsets hold another record, e.g. {sorted(changed)[:10]}")
    assert not problems, "\n".join(problems)
    print(f"{len(acked)} acknowledged records, each once; log sizes { {p: len(logs[p]) for p in logs} }")


VALUE_RE = re.compile(r"^t(\d+)-p(\d+)-(\d+)$")


def test_sigkill_transactional_producer_read_committed_exactly_once(broker, tmp_path):
    topic = unique_topic("crashtxn")
    ck_create_topic(broker.bootstrap, topic, PARTITIONS)
    log_file = tmp_path / "txns.txt"
    run_with_kills(
        broker,
        tmp_path,
        ["transactional", broker.bootstrap, topic, str(PARTITIONS), str(log_file), str(TXN_RECORDS)],
        lambda: sum(1 for line in lines(log_file) if line.startswith("C ")),
        (1.0, 3.0),
    )

    produced: dict[int, list[int]] = {}
    outcome: dict[int, str] = {}
    for line in lines(log_file):
        kind, txn, *counts = line.split()
        if kind == "P":
            produced[int(txn)] = [int(c) for c in counts]
        else:
            assert int(txn) not in outcome, f"two outcomes for txn {txn}"
            outcome[int(txn)] = kind
    assert set(outcome) == set(produced), f"transactions without an outcome: {set(produced) - set(outcome)}"
    committed = {t for t, k in outcome.items() if k == "C"}
    unknown = {t for t, k in outcome.items() if k == "U"}
    assert committed, "no transaction was committed"

    # Every transaction is complete: the last stable offset reaches the high watermark.
    wait_until(
        lambda: last_stable_offsets(broker.bootstrap, topic, PARTITIONS)
        == high_watermarks_v2(broker.bootstrap, topic, PARTITIONS),
        30,
        message="no open transaction left (LSO = HWM on every partition)",
    )
    logs = ck_read(broker.bootstrap, topic, PARTITIONS, READ_COMMITTED, timeout=120)
    problems = []
    seen: dict[int, dict[int, list[int]]] = {}  # txn -> partition -> indexes, in log order
    for p in range(PARTITIONS):
        last_txn = 0
        for r in logs[p]:
            m = VALUE_RE.match((r.value or b"").decode())
            if not m or int(m.group(2)) != p:
                problems.append(f"partition {p} offset {r.offset}: foreign value {r.value!r}")
                continue
            txn, idx = int(m.group(1)), int(m.group(3))
            if txn < last_txn:
                problems.append(f"partition {p} offset {r.offset}: txn {txn} after txn {last_txn}")
            last_txn = txn
            seen.setdefault(txn, {}).setdefault(p, []).append(idx)
    for txn, parts in sorted(seen.items()):
        if txn not in committed and txn not in unknown:
            problems.append(f"txn {txn} ({outcome.get(txn, 'no outcome')}) is visible to read_committed: {parts}")
    for txn in sorted(committed | unknown):
        want = {p: list(range(c)) for p, c in enumerate(produced[txn]) if c}
        got = seen.get(txn, {})
        if txn in unknown and not got:
            continue
        if got != want:
            problems.append(
                f"txn {txn} ({outcome[txn]}): read_committed has "
                f"{ {p: len(v) for p, v in got.items()} } records per partition, expected "
                f"{ {p: len(v) for p, v in want.items()} } each once in order"
            )
    assert not problems, "\n".join(problems[:30])

    # The producer aborts some transactions after writing them (see ABORT_EVERY): their data
    # is in the log, and the filter above had real aborted records to skip.
    raw = ck_read(broker.bootstrap, topic, PARTITIONS, READ_UNCOMMITTED, timeout=120)
    aborted_in_log = {
        int(m.group(1))
        for p in raw
        for r in raw[p]
        if (m := VALUE_RE.match((r.value or b"").decode())) and outcome.get(int(m.group(1))) == "A"
    }
    kinds = {k: sum(1 for v in outcome.values() if v == k) for k in "CAU"}
    print(
        f"transactions: {kinds}; aborted ones in the log: {len(aborted_in_log)}; "
        f"read_committed records per partition { {p: len(logs[p]) for p in logs} }"
    )
    assert aborted_in_log, "no aborted transaction's records are in the log"
