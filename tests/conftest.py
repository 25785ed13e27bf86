"""Shared fixtures for Strom's Python compatibility tests.

Every test runs against the real `strom` binary named by the STROM_BIN environment
variable (scripts/test.sh sets it to the freshly built debug binary):

    STROM_BIN=target/debug/strom pytest -q tests/

The `broker` fixture starts `strom server` on a free loopback port with a fresh data
directory, and stops it (SIGTERM, expecting exit code 0) when the test ends. The
server's stdout and stderr go to a log file in the test's tmp dir; when a test fails,
the log is attached to the failure report.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import free_port, port_open

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
LOG_TAIL_CHARS = 20_000

# Brokers alive in the current test, so that a failure report can show their logs.
_ACTIVE_BROKERS: list["StromBroker"] = []


def strom_bin() -> str:
    path = os.environ.get("STROM_BIN")
    if not path:
        pytest.fail(
            "STROM_BIN is not set: point it at the strom binary, e.g. "
            "STROM_BIN=target/debug/strom pytest tests/ (scripts/test.sh does this)",
            pytrace=False,
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"STROM_BIN={path!r} is not an executable file", pytrace=False)
    return os.path.abspath(path)


class StromBroker:
    """One `strom server` process (restartable on the same port and data dir)."""

    def __init__(self, tmp_dir: Path, extra_args: list[str] | None = None):
        self.binary = strom_bin()
        self.tmp_dir = Path(tmp_dir)
        self.data_dir = self.tmp_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.tmp_dir / "server.log"
        self.host = "127.0.0.1"
        self.port = free_port()
        self.extra_args = list(extra_args or [])
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    # -- addresses -------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "broker is not running"
        return self.proc.pid

    def command(self) -> list[str]:
        return [
            self.binary,
            "server",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            self.bootstrap,
            "--set",
            "admin.listen=127.0.0.1:0",
            *self.extra_args,
        ]

    # -- life cycle ------------------------------------------------------------------
    def start(self) -> "StromBroker":
        assert self.proc is None or self.proc.poll() is not None, "broker already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(
                f"\n===== start #{self.starts}: {' '.join(self.command())} =====\n".encode()
            )
            log.flush()
            env = dict(os.environ)
            env.setdefault("RUST_BACKTRACE", "1")
            env.setdefault("NO_COLOR", "1")
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            code = self.proc.poll()
            if code is not None:
                pytest.fail(
                    f"strom server exited with code {code} during start-up "
                    f"(start #{self.starts}, port {self.port}); its output:\n{self.log_tail()}",
                    pytrace=False,
                )
            if port_open(self.host, self.port):
                return self
            if time.monotonic() > deadline:
                self._hard_kill()
                pytest.fail(
                    f"strom server did not accept TCP on {self.bootstrap} within "
                    f"{START_TIMEOUT_S:.0f} s; its output:\n{self.log_tail()}",
                    pytrace=False,
                )
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL, like a crash: no chance to flush or clean up."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._note(f"killed with SIGKILL (exit {self.proc.returncode})")

    def restart(self) -> "StromBroker":
        """Start again on the same port and data dir (after kill() or stop())."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, wait, and require a clean exit (code 0)."""
        assert self.proc is not None, "broker was never started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._hard_kill()
                pytest.fail(
                    f"strom server did not exit within {timeout:.0f} s of SIGTERM; "
                    f"its output:\n{self.log_tail()}",
                    pytrace=False,
                )
        code = self.proc.returncode
        self._note(f"stopped with SIGTERM (exit {code})")
        assert code == 0, f"strom server exited with code {code} after SIGTERM:\n{self.log_tail()}"
        return code

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _hard_kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)

    # -- observation -----------------------------------------------------------------
    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (all threads)."""
        with open(f"/proc/{self.pid}/stat") as f:
            stat = f.read()
        # The command name is in parentheses and may contain spaces: split after it.
        fields = stat[stat.rindex(")") + 2 :].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no server log)"

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        text = self.log_text()
        if len(text) > chars:
            text = f"... ({len(text) - chars} earlier characters left out)\n" + text[-chars:]
        return text

    def _note(self, message: str) -> None:
        with open(self.log_path, "a") as log:
            log.write(f"===== {message} =====\n")


@pytest.fixture
def broker_factory(tmp_path):
    """Start brokers by hand: broker_factory(extra_args=[...]) -> StromBroker."""
    made: list[StromBroker] = []

    def make(extra_args: list[str] | None = None, start: bool = True) -> StromBroker:
        b = StromBroker(tmp_path / f"broker{len(made)}", extra_args)
        made.append(b)
        _ACTIVE_BROKERS.append(b)
        if start:
            b.start()
        return b

    yield make
    try:
        for b in made:
            if b.is_running():
                b.stop()
    finally:
        for b in made:
            b._hard_kill()
            if b in _ACTIVE_BROKERS:
                _ACTIVE_BROKERS.remove(b)


@pytest.fixture
def broker(broker_factory) -> StromBroker:
    """A fresh `strom server` for one test; stopped with SIGTERM (exit 0 required) after it."""
    return broker_factory()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _ACTIVE_BROKERS:
        for b in _ACTIVE_BROKERS:
            report.sections.append(
                (f"strom server log ({b.log_path})", b.log_tail())
            )
