#!/usr/bin/env bash
# Measures Strom on this machine in one run and writes BENCHMARKS.md at the repository root:
# the machine, its baselines (disk write+fdatasync, fdatasync latency, loopback TCP, and the
# durable round trip at 5,000/s through a minimal fdatasync-per-read server, with and without the
# fdatasync: the floor of acks=all ack latency), then a broker started here under the produce
# matrix, consumption from the page cache, end-to-end latency (acks=all, and one acks=1 run) and
# the broker's memory. bench/report.py turns the raw results into the markdown.
#
# Usage: bench/run.sh [--quick] [--no-build] [--no-fill] [--output FILE] [--data-parent DIR]
#                     [--port N]
#   --quick            smoke run: 1-2 s per case and a reduced matrix (about 1-2 minutes)
#   --no-build         use the existing target/release/strom instead of building it
#   --no-fill          do not fill the page cache before measuring (see "steady state" below)
#   --output FILE      where to write the report (default: BENCHMARKS.md at the repo root)
#   --data-parent DIR  where the broker's fresh data directory is made (default: target/bench,
#                      on the filesystem of the default ./strom-data); the disk and durable
#                      round trip baselines run there
#   --port N           broker port on 127.0.0.1 (default: a free one)
# The binary is ${CARGO_TARGET_DIR:-target}/release/strom, as cargo builds it. Raw results and
# logs stay in target/bench/ (results.jsonl, logs/). A hand-written analysis in bench/notes.md,
# if present, is included in the report.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=0
BUILD=1
FILL=1
OUTPUT="$ROOT/BENCHMARKS.md"
WORK="$ROOT/target/bench"
DATA_PARENT=""
PORT=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        --no-fill) FILL=0 ;;
        --output) OUTPUT=$(realpath -m "$2"); shift ;;
        --data-parent) DATA_PARENT=$(realpath -m "$2"); shift ;;
        --port) PORT=$2; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

REPORT="$ROOT/bench/report.py"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/strom"
RESULTS="$WORK/results.jsonl"
LOGS="$WORK/logs"
DATA_PARENT=${DATA_PARENT:-$WORK}

if [[ $QUICK == 1 ]]; then
    PRODUCE_SECS=1; E2E_SECS=2; NET_SECS=1; DISK_MB=128
else
    PRODUCE_SECS=5; E2E_SECS=10; NET_SECS=5; DISK_MB=1024
fi

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*"; }

# ---- build and machine -------------------------------------------------------------------------
if [[ $BUILD == 1 ]]; then
    log "building strom (release)"
    cargo build --release -p strom
fi
[[ -x $BIN ]] || { echo "no binary at $BIN (build it or drop --no-build)" >&2; exit 1; }

mkdir -p "$WORK" "$DATA_PARENT"
rm -rf "$LOGS"
mkdir -p "$LOGS"
: >"$RESULTS"
DATA=$(mktemp -d "$DATA_PARENT/data.XXXXXX")
BALLAST="$DATA_PARENT/page-cache-ballast"
SERVER_PID=""

cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "broker did not stop on SIGTERM within 10 s; killing it" >&2
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DATA"
}
trap 'cleanup; rm -f "$BALLAST"' EXIT
trap 'exit 130' INT TERM

python3 "$REPORT" meta "$RESULTS" --params "{\"quick\": $([[ $QUICK == 1 ]] && echo true || echo false), \
\"produce_seconds\": $PRODUCE_SECS, \"e2e_seconds\": $E2E_SECS}"
python3 "$REPORT" machine "$RESULTS" --data-dir "$DATA" --binary "$BIN"

# The broker's CPU seconds so far (user + system from /proc), or nothing before it runs.
broker_cpu() {
    [[ -n $SERVER_PID && -r /proc/$SERVER_PID/stat ]] || return 0
    awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz}' "/proc/$SERVER_PID/stat"
}

CASE=0
# run_case SECTION PARAMS_JSON COMMAND...: runs one bench command and records its JSON line,
# with the client's and the broker's CPU seconds.
run_case() {
    local section=$1 params=$2
    shift 2
    CASE=$((CASE + 1))
    local name
    name=$(printf '%03d-%s' "$CASE" "$section")
    log "$section $params"
    local rc=0 broker_before broker_after client_cpu
    broker_before=$(broker_cpu)
    # The client's user and system CPU seconds (bash's `time` of the command).
    client_cpu=$( { TIMEFORMAT='%U %S'; time "$@" >"$LOGS/$name.out" 2>"$LOGS/$name.err"; } 2>&1 ) || rc=$?
    broker_after=$(broker_cpu)
    local cpu=""
    if [[ -n $broker_before && -n $broker_after && $client_cpu =~ ^[0-9.]+\ [0-9.]+$ ]]; then
        cpu="$client_cpu $(awk -v a="$broker_before" -v b="$broker_after" 'BEGIN {printf "%.3f", b - a}')"
    fi
    python3 "$REPORT" add "$RESULTS" "$section" --params "$params" --rc "$rc" \
        --stdout "$LOGS/$name.out" --stderr "$LOGS/$name.err" --cpu "$cpu"
    tail -n 1 "$LOGS/$name.out" | cut -c1-200
}

# ---- steady state: a full page cache -----------------------------------------------------------
# A broker that has run for a while has its page cache full of log data, and every write recycles
# a cached page. A fresh machine instead writes into free memory, which can cost far more: under a
# hypervisor that takes free guest memory back (virtio-balloon free page reporting, as on the
# machine BENCHMARKS.md was measured on) each first touch of a page traps to the host, and
# write+fdatasync ran at 300-400 MB/s there instead of ~1,000 MB/s. Both the disk baseline and the
# broker pay that cost, but by different amounts from run to run, so the ratios swung. Filling the
# page cache first with a clean ballast file (allocated, then read) measures both in the steady
# state. The ballast leaves 2 GiB of memory and 40 GiB of disk free and is removed at the end.
FILL_BYTES=0
if [[ $FILL == 1 && -r /proc/meminfo ]]; then
    avail_kib=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    disk_kib=$(df -Pk "$DATA_PARENT" | awk 'NR == 2 {print $4}')
    fill_kib=$((avail_kib - 2 * 1024 * 1024))
    (( disk_kib - 40 * 1024 * 1024 < fill_kib )) && fill_kib=$((disk_kib - 40 * 1024 * 1024))
    if (( fill_kib >= 1024 * 1024 )); then
        FILL_BYTES=$((fill_kib * 1024))
        log "filling the page cache with $((fill_kib / 1024 / 1024)) GiB (steady state; --no-fill skips)"
        rm -f "$BALLAST"
        if fallocate -l "$FILL_BYTES" "$BALLAST" 2>/dev/null; then
            cat "$BALLAST" >/dev/null
        else
            dd if=/dev/zero of="$BALLAST" bs=1M count=$((fill_kib / 1024)) conv=fdatasync status=none
        fi
    else
        log "not enough free memory or disk to fill the page cache; measuring as is"
    fi
fi
python3 "$REPORT" meta "$RESULTS" --params "{\"page_cache_fill_bytes\": $FILL_BYTES}"

# ---- baselines (before the broker starts) ------------------------------------------------------
run_case disk "{\"dir\": \"$DATA\"}" "$BIN" bench disk --dir "$DATA" --size-mb "$DISK_MB" --json
run_case net "{}" "$BIN" bench net --seconds "$NET_SECS" --json
# The floor of acks=all ack latency: 1 KiB requests at 5,000/s through a minimal server that
# appends each read to a file with one fdatasync and answers (serial group commit); and the same
# without the fdatasync (loopback, scheduling and the append alone).
run_case rtt "{\"sync\": true}" "$BIN" bench durable-rtt --dir "$DATA" --rate 5000 \
    --record-size 1024 --seconds "$E2E_SECS" --json
run_case rtt "{\"sync\": false}" "$BIN" bench durable-rtt --dir "$DATA" --rate 5000 \
    --record-size 1024 --seconds "$E2E_SECS" --no-sync --json

# ---- broker ------------------------------------------------------------------------------------
# Room for the idle-connection test (the broker inherits this limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true
if [[ -z $PORT ]]; then
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
BROKERS="127.0.0.1:$PORT"
log "starting the broker on $BROKERS, data in $DATA"
"$BIN" server --data-dir "$DATA/broker" --listen "$BROKERS" --set admin.listen=127.0.0.1:0 --log-level warn >"$LOGS/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$LOGS/server.log" >&2; echo "broker exited" >&2; exit 1; }
    sleep 0.1
done
python3 "$REPORT" meta "$RESULTS" --params "{\"port\": $PORT, \"server_pid\": $SERVER_PID}"
python3 "$REPORT" rss "$RESULTS" --pid "$SERVER_PID" --label "start"

# ---- produce matrix ----------------------------------------------------------------------------
if [[ $QUICK == 1 ]]; then
    # size acks partitions producers keys
    CASES=(
        "100 1 1 1 none" "100 all 1 1 none" "1024 1 1 1 none" "1024 all 1 1 none"
        "1024 1 6 4 random"
    )
else
    CASES=()
    for size in 100 1024; do
        for acks in 1 all; do
            for partitions in 1 6; do
                for producers in 1 4; do
                    for keys in none random; do
                        CASES+=("$size $acks $partitions $producers $keys")
                    done
                done
            done
        done
    done
fi

# Topics kept for the consume runs: the first 1 KiB acks=1 topic with 1 and with 6 partitions.
CONSUME_P1=""
CONSUME_P6=""
for c in "${CASES[@]}"; do
    read -r size acks partitions producers keys <<<"$c"
    topic="bench-$size-acks$acks-p$partitions-x$producers-$keys"
    run_case produce \
        "{\"topic\": \"$topic\", \"record_size\": $size, \"acks\": \"$acks\", \"partitions\": $partitions, \"producers\": $producers, \"keys\": \"$keys\", \"linger_ms\": 5, \"batch_size\": 1000000, \"duration\": $PRODUCE_SECS}" \
        "$BIN" bench produce --brokers "$BROKERS" --topic "$topic" --partitions "$partitions" \
        --record-size "$size" --duration "$PRODUCE_SECS" --acks "$acks" --keys "$keys" \
        --producers "$producers" --linger-ms 5 --batch-size 1000000 --compression none --quiet --json
    keep=0
    if [[ $size == 1024 && $acks == 1 ]]; then
        if [[ $partitions == 1 && -z $CONSUME_P1 ]]; then CONSUME_P1=$topic; keep=1; fi
        if [[ $partitions == 6 && -z $CONSUME_P6 ]]; then CONSUME_P6=$topic; keep=1; fi
    fi
    # Keep the disk from filling up: only the consume sources stay.
    if [[ $keep == 0 ]]; then
        "$BIN" topic delete "$topic" --brokers "$BROKERS" >>"$LOGS/topic-delete.log" 2>&1 || true
    fi
done

# ---- (a) between two disk baselines ------------------------------------------------------------
# This virtual disk's write+fdatasync bandwidth moves by a factor of three within minutes (286 to
# 1,105 MB/s on one day, 294 and 969 MB/s ten minutes apart), so the baseline taken at the start can
# be far from what the disk gives when (a) runs. (a) is measured once more between two disk
# baselines, and the report compares it with their mean.
BRACKET_TOPIC=bench-a-bracketed
run_case bracket '{"role": "disk-before"}' "$BIN" bench disk --dir "$DATA" --size-mb "$DISK_MB" --json
run_case bracket \
    "{\"role\": \"produce\", \"topic\": \"$BRACKET_TOPIC\", \"record_size\": 1024, \"acks\": \"all\", \"partitions\": 1, \"producers\": 1, \"keys\": \"none\", \"linger_ms\": 5, \"batch_size\": 1000000, \"duration\": $PRODUCE_SECS}" \
    "$BIN" bench produce --brokers "$BROKERS" --topic "$BRACKET_TOPIC" --partitions 1 \
    --record-size 1024 --duration "$PRODUCE_SECS" --acks all --keys none --producers 1 \
    --linger-ms 5 --batch-size 1000000 --compression none --quiet --json
run_case bracket '{"role": "disk-after"}' "$BIN" bench disk --dir "$DATA" --size-mb "$DISK_MB" --json
"$BIN" topic delete "$BRACKET_TOPIC" --brokers "$BROKERS" >>"$LOGS/topic-delete.log" 2>&1 || true

# ---- consume from the page cache ---------------------------------------------------------------
consume() { # topic partitions consumers
    run_case consume \
        "{\"topic\": \"$1\", \"record_size\": 1024, \"partitions\": $2, \"consumers\": $3}" \
        "$BIN" bench consume --brokers "$BROKERS" --topic "$1" --consumers "$3" --quiet --json
}
# The bare Fetch client: what the broker serves without a client's per-record work.
fetch() { # topic partitions
    run_case fetch \
        "{\"topic\": \"$1\", \"record_size\": 1024, \"partitions\": $2}" \
        "$BIN" bench fetch --brokers "$BROKERS" --topic "$1" --quiet --json
}
[[ -n $CONSUME_P1 ]] && consume "$CONSUME_P1" 1 1
if [[ -n $CONSUME_P6 ]]; then
    consume "$CONSUME_P6" 6 1
    [[ $QUICK == 1 ]] || consume "$CONSUME_P6" 6 2
fi
[[ -n $CONSUME_P1 ]] && fetch "$CONSUME_P1" 1
[[ -n $CONSUME_P6 ]] && fetch "$CONSUME_P6" 6

# ---- end-to-end latency ------------------------------------------------------------------------
# At 5,000 records/s: one producer, one partition, with linger.ms 0, 1 and 5 (a linger adds to
# every latency, no linger means more and smaller requests; the report takes the best for the
# target and shows all). The same with acks=1 and no linger: the ack without the fdatasync, to
# compare with the durable round trip without fdatasync. At half the peak: the configuration of
# the fastest 1 KiB acks=all produce run, with its linger.ms (5), at half its rate (or half of
# what it reaches when run again right before, if that is less).
e2e() { # label rate partitions producers keys linger acks
    local topic
    topic="e2e-$(echo "$1" | tr -c 'a-z0-9\n' '-')"
    run_case e2e \
        "{\"label\": \"$1\", \"kind\": \"${1%% *}\", \"topic\": \"$topic\", \"rate\": $2, \"record_size\": 1024, \"partitions\": $3, \"producers\": $4, \"keys\": \"$5\", \"linger_ms\": $6, \"acks\": \"$7\"}" \
        "$BIN" bench e2e --brokers "$BROKERS" --topic "$topic" --partitions "$3" --rate "$2" \
        --duration "$E2E_SECS" --record-size 1024 --acks "$7" --producers "$4" --keys "$5" \
        --linger-ms "$6" --quiet --json
}
if [[ $QUICK == 1 ]]; then LINGERS=(0 5); else LINGERS=(0 1 5); fi
for linger in "${LINGERS[@]}"; do
    e2e "5000/s linger $linger" 5000 1 1 none "$linger" all
done
e2e "5000/s linger 0 acks=1" 5000 1 1 none 0 1
if PEAK=$(python3 "$REPORT" peak "$RESULTS" --record-size 1024 --acks all); then
    read -r peak partitions producers keys <<<"$PEAK"
    # The disk's bandwidth moves during a run (see the bracketed (a) above), so the matrix's peak
    # may no longer be there: the configuration runs once more as fast as it can, and the lower
    # of the two peaks is halved (otherwise the run measures a queue, not latency).
    peak_topic=bench-peak-again
    run_case peak-again \
        "{\"topic\": \"$peak_topic\", \"record_size\": 1024, \"acks\": \"all\", \"partitions\": $partitions, \"producers\": $producers, \"keys\": \"$keys\", \"linger_ms\": 5, \"batch_size\": 1000000, \"duration\": $PRODUCE_SECS}" \
        "$BIN" bench produce --brokers "$BROKERS" --topic "$peak_topic" --partitions "$partitions" \
        --record-size 1024 --duration "$PRODUCE_SECS" --acks all --keys "$keys" \
        --producers "$producers" --linger-ms 5 --batch-size 1000000 --compression none --quiet --json
    again=$(tail -n 1 "$LOGS/$(printf '%03d-%s' "$CASE" peak-again).out" |
        python3 -c 'import json, sys; print(int(json.load(sys.stdin)["records_per_sec"]))' 2>/dev/null || echo "")
    "$BIN" topic delete "$peak_topic" --brokers "$BROKERS" >>"$LOGS/topic-delete.log" 2>&1 || true
    if [[ $again =~ ^[0-9]+$ ]] && (( again < peak )); then
        log "the peak is now $again rec/s (was $peak in the matrix)"
        peak=$again
    fi
    e2e "half peak" $((peak / 2)) "$partitions" "$producers" "$keys" 5 all
else
    log "no 1 KiB acks=all peak: skipping the half-peak end-to-end run"
fi

# ---- broker memory -----------------------------------------------------------------------------
python3 "$REPORT" rss "$RESULTS" --pid "$SERVER_PID" --label "after runs"
IDLE=2000
python3 "$REPORT" idle "$RESULTS" --pid "$SERVER_PID" --port "$PORT" --count "$IDLE" \
    --label "$IDLE idle connections"

log "stopping the broker"
cleanup
SERVER_PID=""

NOTES=()
[[ -f $ROOT/bench/notes.md ]] && NOTES=(--notes "$ROOT/bench/notes.md")
python3 "$REPORT" render "$RESULTS" --output "$OUTPUT" "${NOTES[@]}"
log "wrote $OUTPUT (raw results: $RESULTS)"
