"""The emulator in its own process, plus what the benchmark reads about it from outside.

The emulator runs as ``python -m ollama_core.emulator --port 0`` so that its CPU time is not
charged to the clients' event loop (on a 2-core machine the two processes still share the
CPU, so server time is part of every figure). Its open connections and CPU time are read
from ``/proc`` (Linux), because the control API of the emulator does not expose them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

__all__ = ["EmulatorProcess", "ReplayProcess", "count_server_connections",
           "process_cpu_seconds"]

# Loopback only: never route the benchmark's control calls through a proxy.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_LISTENING = re.compile(r"listening on (http://[^\s]+)")
_TCP_ESTABLISHED = "01"
_TCP_CLOSE_WAIT = "08"
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (``None`` when /proc is unavailable)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces; the fields after it are space separated.
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def count_server_connections(port: int) -> int | None:
    """TCP connections to local ``port`` that the server side still holds open
    (ESTABLISHED or CLOSE_WAIT), read from /proc/net/tcp{,6}; ``None`` without /proc."""
    count, found = 0, False
    port_hex = f"{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            parts = line.split()
            if len(parts) < 4:
                continue
            local, state = parts[1], parts[3]
            if local.rsplit(":", 1)[1] == port_hex and state in (
                    _TCP_ESTABLISHED, _TCP_CLOSE_WAIT):
                count += 1
    return count if found else None


def spawn_listening(argv: list[str], startup_timeout: float = 20.0
                    ) -> tuple[subprocess.Popen[str], str, int]:
    """Start ``argv`` (a server that prints ``listening on URL`` first) and return the
    process, its URL and port once that line came. Its output is then drained on a thread,
    so a chatty server never blocks on a full pipe. The process is killed if no such line
    comes within ``startup_timeout`` seconds."""
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    assert proc.stdout is not None
    deadline = time.monotonic() + startup_timeout
    seen: list[str] = []
    url = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        match = _LISTENING.search(line)
        if match:
            url = match.group(1).rstrip("/")
            break
    if not url:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        raise RuntimeError("the server did not start:\n" + "".join(seen))
    threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
    return proc, url, int(url.rsplit(":", 1)[1])


def _drain(stream: object) -> None:
    try:
        for _ in stream:  # type: ignore[attr-defined]
            pass
    except (OSError, ValueError):
        pass


class EmulatorProcess:
    """Start the emulator, wait until it answers, stop it with SIGTERM."""

    def __init__(self, python: str = sys.executable, startup_timeout: float = 20.0) -> None:
        self._python = python
        self._startup_timeout = startup_timeout
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0

    def start(self) -> EmulatorProcess:
        deadline = time.monotonic() + self._startup_timeout
        self._proc, self.url, self.port = spawn_listening(
            [self._python, "-m", "ollama_core.emulator", "--port", "0"], self._startup_timeout)
        while time.monotonic() < deadline:  # listening is not answering: ask it
            try:
                with _OPENER.open(self.url + "/api/version", timeout=2) as resp:
                    json.loads(resp.read())
                return self
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the emulator at {self.url} does not answer")

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def cpu_seconds(self) -> float | None:
        return process_cpu_seconds(self.pid)

    def clear_requests(self) -> None:
        """Forget recorded requests, so the emulator's memory does not grow run after run."""
        req = urllib.request.Request(self.url + "/_emulator/requests", method="DELETE")
        with _OPENER.open(req, timeout=10) as resp:
            resp.read()

    def add_fault(self, rule: dict[str, object]) -> None:
        """Arm a fault over the emulator's HTTP control API."""
        req = urllib.request.Request(self.url + "/_emulator/faults", method="POST",
                                     data=json.dumps(rule).encode(),
                                     headers={"Content-Type": "application/json"})
        with _OPENER.open(req, timeout=10) as resp:
            resp.read()

    def hits(self, path: str) -> int:
        """How many recorded requests reached ``path``."""
        with _OPENER.open(self.url + "/_emulator/requests", timeout=10) as resp:
            recorded = json.loads(resp.read())
        items = recorded.get("requests", recorded) if isinstance(recorded, dict) else recorded
        return sum(1 for r in items if r.get("path") == path)

    def open_connections(self) -> int | None:
        return count_server_connections(self.port)

    def wait_for_connections(self, at_most: int = 0, timeout: float = 5.0) -> int | None:
        """Poll until at most ``at_most`` server-side connections remain; the last count."""
        deadline = time.monotonic() + timeout
        while True:
            count = self.open_connections()
            if count is None or count <= at_most or time.monotonic() >= deadline:
                return count
            time.sleep(0.02)

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ReplayProcess(EmulatorProcess):
    """``bench/_replay.py`` in its own process: the emulator's recorded answers, replayed.

    It stands in for an ``EmulatorProcess`` where a scenario only needs ``url``,
    ``cpu_seconds()`` and ``clear_requests()`` (a no-op: it records nothing); it is
    stopped the same way.
    """

    def __init__(self, emulator_url: str, chat: dict[str, object],
                 python: str = sys.executable, cpu: int | None = None) -> None:
        super().__init__(python)
        self._argv = [python, str(Path(__file__).with_name("_replay.py")), "--record-from",
                      emulator_url, "--chat", json.dumps(chat)]
        self._cpu = cpu

    def start(self) -> ReplayProcess:
        self._proc, self.url, self.port = spawn_listening(self._argv)
        if self._cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(self._proc.pid, {self._cpu})
        return self

    def clear_requests(self) -> None:
        pass
