"""Hostile servers for the adversarial tests, written on raw asyncio sockets.

The emulator agrees with our own client, so it cannot show what the client does with a
peer that lies: these servers speak broken HTTP, stall, drip, reset, or answer bombs.
Each one is a real loopback TCP server; a test gives it a handler ``async (conn) -> None``
that reads the request and writes whatever bytes it likes.

``SubprocessEmulator`` runs the real emulator in its own OS process, so a test can
SIGKILL it (the server vanishes) or SIGSTOP it (the server stops answering while the
kernel keeps its sockets open, as a hung Ollama does).

Usage::

    async def garbage(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(b"SSH-2.0-OpenSSH_9.6\\r\\n")

    async with HostileServer(garbage) as server:
        client = OllamaClient(server.url, plugins=[])
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Conn",
    "HostileServer",
    "ReceivedRequest",
    "SubprocessEmulator",
    "chunked",
    "http_response",
    "open_sockets",
]


@dataclass
class ReceivedRequest:
    """A request as the hostile server read it off the socket."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Conn:
    """One accepted connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read_request(self) -> ReceivedRequest | None:
        """Read one HTTP/1.1 request (head and Content-Length or chunked body).

        ``None`` when the peer closed the connection before sending a request."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            body = b"".join(parts)
        return ReceivedRequest(method, path, headers, body)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER 0)."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            import socket
            import struct

            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    def close(self) -> None:
        self.writer.close()


Handler = Callable[[Conn], Awaitable[None]]


@dataclass
class HostileServer:
    """A loopback TCP server running ``handler`` for every connection.

    ``requests`` holds every request read through ``Conn.read_request``; ``connections``
    counts accepted connections; ``open_connections`` those not yet closed by either side.
    A handler that returns closes its connection; one that raises is recorded in
    ``errors`` (and never kills the server).
    """

    handler: Handler
    host: str = "127.0.0.1"
    requests: list[ReceivedRequest] = field(default_factory=list)
    connections: int = 0
    errors: list[BaseException] = field(default_factory=list)
    _server: asyncio.base_events.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return sum(1 for w in self._writers if not w.is_closing())

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = _RecordingConn(reader, writer, self.requests)
        try:
            await self.handler(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # recorded for the test to inspect
            self.errors.append(exc)
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def start(self) -> HostileServer:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            for t in list(self._tasks):
                t.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HostileServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class _RecordingConn(Conn):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 log: list[ReceivedRequest]) -> None:
        super().__init__(reader, writer)
        self._log = log

    async def read_request(self) -> ReceivedRequest | None:
        req = await super().read_request()
        if req is not None:
            self._log.append(req)
        return req


def http_response(status: int = 200, body: bytes | str | Any = b"", *,
                  headers: Mapping[str, str] | None = None, reason: str = "OK",
                  content_length: int | None = None, gzip_body: bool = False) -> bytes:
    """A complete HTTP/1.1 response; ``body`` that is not bytes/str is JSON-encoded.

    ``content_length`` overrides the real length (to lie about it)."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    hdrs = {"Content-Type": "application/json"}
    if gzip_body:
        raw = gzip.compress(raw)
        hdrs["Content-Encoding"] = "gzip"
    hdrs.update(headers or {})
    hdrs["Content-Length"] = str(len(raw) if content_length is None else content_length)
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    return head.encode() + raw


def chunked(*parts: bytes) -> bytes:
    """Parts in HTTP chunked transfer encoding, with the final zero chunk."""
    return b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts) + b"0\r\n\r\n"


STREAM_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")


def open_sockets(port: int) -> int:
    """Established TCP connections of this process to ``port`` on loopback (from /proc).

    Counts the client side: sockets whose remote port is ``port``."""
    inodes = set()
    fd_dir = f"/proc/{os.getpid()}/fd"
    for fd in os.listdir(fd_dir):
        with contextlib.suppress(OSError):
            target = os.readlink(os.path.join(fd_dir, fd))
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                state = cols[3]
                if remote_port == port and state == "01" and cols[9] in inodes:
                    count += 1
    return count


class SubprocessEmulator:
    """The emulator in its own OS process, to SIGKILL or SIGSTOP.

    ``with SubprocessEmulator() as emu: ... emu.kill() / emu.stop() / emu.cont()``.
    The port is chosen by the child (``--port 0``) and read from its first line.
    """

    def __init__(self, *args: str) -> None:
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 20.0) -> SubprocessEmulator:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ollama_core.emulator", "--port", "0", *self.args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = ""
        while time.monotonic() < deadline and not line:
            line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.kill()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url = line.rsplit(" ", 1)[1].strip()
        return self

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def cont(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> SubprocessEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
