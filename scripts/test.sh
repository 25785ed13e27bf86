#!/usr/bin/env bash
# The test command for Strom: formatting, lints, the Rust build and tests, then the Python
# compatibility tests (real Kafka clients and kcat against the built `strom` binary).
#
#   scripts/test.sh                 everything (what CI runs, via .ci/run)
#   scripts/test.sh --quick         skip cargo fmt and clippy
#   scripts/test.sh -k EXPR         only the Python tests matching EXPR (pytest -k)
#   scripts/test.sh --python-only   skip every cargo step but the build
#   scripts/test.sh -- ARGS...      pass ARGS on to pytest (e.g. -x, tests/test_kcat.py)
#
# Needs: a Rust toolchain (cargo, rustfmt, clippy), python3 (3.11+) with venv/pip, and either
# kcat or apt-get (it installs Debian's kcat when missing). Python packages go into a venv at
# ${STROM_VENV:-$HOME/.cache/strom/venv}, reinstalled only when tests/requirements.txt changes.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

QUICK=0
PYTHON_ONLY=0
PYTEST_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --python-only) PYTHON_ONLY=1 ;;
        -k)
            [[ $# -ge 2 ]] || { echo "scripts/test.sh: -k needs an expression" >&2; exit 2; }
            PYTEST_ARGS+=(-k "$2")
            shift
            ;;
        -k*) PYTEST_ARGS+=("$1") ;;
        --) shift; PYTEST_ARGS+=("$@"); break ;;
        -h | --help) usage; exit 0 ;;
        *) echo "scripts/test.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="${STROM_VENV:-$HOME/.cache/strom/venv}"
REQUIREMENTS="$ROOT/tests/requirements.txt"
RUN_START=$SECONDS
CURRENT_STEP=""

on_exit() {
    local code=$?
    if [[ $code -ne 0 && -n "$CURRENT_STEP" ]]; then
        echo
        echo "==> FAILED: $CURRENT_STEP (exit $code) after $((SECONDS - RUN_START)) s in all" >&2
    fi
}
trap on_exit EXIT

# step NAME COMMAND...: print a header, run, print how long it took. Fails fast (set -e).
step() {
    local name="$1"
    shift
    CURRENT_STEP="$name"
    echo
    echo "==> $name"
    local start=$SECONDS
    "$@"
    echo "<== $name: done in $((SECONDS - start)) s"
    CURRENT_STEP=""
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root (or sudo) to run: $*" >&2
        return 1
    fi
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_kcat() {
    if command -v kcat >/dev/null 2>&1; then
        echo "kcat already installed: $(kcat -V 2>&1 | grep -m1 Version || true)"
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "kcat is missing and there is no apt-get to install it: install kcat by hand" >&2
        return 1
    fi
    apt_install kcat
    echo "installed $(kcat -V 2>&1 | grep -m1 Version || true)"
}

python_venv() {
    local python="${PYTHON:-python3}"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating venv $VENV"
        mkdir -p "$(dirname "$VENV")"
        if ! "$python" -m venv "$VENV"; then
            # Debian's system python3 keeps venv/ensurepip in a separate package.
            rm -rf "$VENV"
            if command -v apt-get >/dev/null 2>&1; then
                local ver
                ver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
                apt_install "python${ver}-venv" || apt_install python3-venv
            fi
            "$python" -m venv "$VENV"
        fi
    fi
    local want have=""
    want="$(cat "$REQUIREMENTS" <("$VENV/bin/python" -V 2>&1) | sha256sum | cut -d' ' -f1)"
    [[ -f "$VENV/.strom-requirements.sha256" ]] && have="$(cat "$VENV/.strom-requirements.sha256")"
    if [[ "$want" != "$have" ]]; then
        echo "installing tests/requirements.txt into $VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
        echo "$want" >"$VENV/.strom-requirements.sha256"
    else
        echo "venv $VENV is up to date with tests/requirements.txt"
    fi
}

pytest_run() {
    local target_dir
    target_dir="$(cargo metadata --format-version 1 --no-deps |
        "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
    export STROM_BIN="$target_dir/debug/strom"
    echo "STROM_BIN=$STROM_BIN"
    [[ -x "$STROM_BIN" ]] || { echo "no binary at $STROM_BIN: did cargo build fail?" >&2; return 1; }
    # Run all of tests/ unless the arguments name test files or directories themselves.
    local where=(tests/) arg
    for arg in ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"}; do
        [[ "$arg" == tests/* || "$arg" == ./tests/* ]] && where=()
    done
    # -o cache_dir: keep pytest's cache under the (git-ignored) target dir, not in tests/.
    "$VENV/bin/python" -m pytest -q -o cache_dir="$target_dir/pytest-cache" ${where[@]+"${where[@]}"} ${PYTEST_ARGS[@]+"${PYTEST_ARGS[@]}"}
}

echo "Strom tests in $ROOT ($(cargo --version), $(nproc) cores)"
step "kcat (Debian package)" install_kcat
step "python venv for tests/" python_venv
if [[ $QUICK -eq 0 && $PYTHON_ONLY -eq 0 ]]; then
    step "cargo fmt --all -- --check" cargo fmt --all -- --check
    step "cargo clippy --workspace --all-targets -- -D warnings" \
        cargo clippy --workspace --all-targets -- -D warnings
fi
step "cargo build --workspace" cargo build --workspace
if [[ $PYTHON_ONLY -eq 0 ]]; then
    step "cargo test --workspace" cargo test --workspace
fi
step "pytest tests/ (Kafka clients against target/debug/strom)" pytest_run

trap - EXIT
echo
echo "==> all steps passed in $((SECONDS - RUN_START)) s"
