"""Writing responses, with the request's fault rule applied on the way out.

Every endpoint answers through one :class:`Responder`, so a fault behaves the same on
``/api/chat`` as on ``/api/pull``: the status and connection faults act before the
response starts, the stream faults act per NDJSON line.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterable, Iterator
from typing import Any, Final

from aiohttp import web

from ._faults import RUNNER_ERROR, FaultRule, default_error_message
from ._wire import go_dumps

__all__ = ["JSON_TYPE", "NDJSON_TYPE", "Responder", "abort_connection"]

JSON_TYPE: Final = "application/json; charset=utf-8"
NDJSON_TYPE: Final = "application/x-ndjson"
#: Lines are gathered into writes of about this size when nothing asks for pacing:
#: one syscall per chunk would make a 50,000-chunk benchmark stream measure the emulator.
BATCH_BYTES: Final = 64 * 1024
#: The pause between the pieces of a split line, so they reach the client as separate
#: reads instead of being coalesced by the socket.
SPLIT_PAUSE: Final = 0.002
#: The line a ``malformed_after`` fault sends.
MALFORMED_LINE: Final = b'{"model": broken\n'


def abort_connection(request: web.BaseRequest) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0), not a polite FIN."""
    transport = request.transport
    if transport is None:
        return
    # asyncio hands out a TransportSocket wrapper, which still has setsockopt
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    transport.abort()


async def _drained(request: web.BaseRequest) -> None:
    """Wait until what was written has left the process, so an RST does not discard it."""
    transport = request.transport
    for _ in range(200):
        if transport is None or transport.is_closing() or not transport.get_write_buffer_size():
            return
        await asyncio.sleep(0.001)


def _fires(after: int | None, index: int, last: bool) -> bool:
    """Does a fault counted in lines fire before line ``index``? A stream shorter than
    the count fires in place of its final line, so an armed fault always shows."""
    return after is not None and (index == after or (last and after > index))


def _split_points(line: bytes) -> list[bytes]:
    """Cut a line into pieces: inside the first multi-byte character, in the middle, and
    just before the newline, which are the cases a line reassembler gets wrong."""
    cuts = {len(line) // 2, len(line) - 1}
    for pos, byte in enumerate(line):
        if byte >= 0xC0:  # lead byte of a multi-byte UTF-8 sequence
            cuts.add(pos + 1)
            break
    points = sorted(c for c in cuts if 0 < c < len(line))
    pieces, start = [], 0
    for cut in points:
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return pieces


class Responder:
    """Answers one request, honouring its fault rule (``None``: no fault)."""

    def __init__(
        self,
        request: web.Request,
        rule: FaultRule | None,
        *,
        chunk_delay: float = 0.0,
        model: str | None = None,
    ) -> None:
        self.request = request
        self.rule = rule
        self.model = model
        self.chunk_delay = (
            rule.chunk_delay if rule is not None and rule.chunk_delay is not None else chunk_delay
        )

    # ----------------------------------------------------------- before headers

    async def prelude(self) -> web.StreamResponse | None:
        """Apply the faults that act before the response starts; a response means the
        fault answered the request and the endpoint must not run."""
        rule = self.rule
        if rule is None:
            return None
        if rule.headers_delay:
            await asyncio.sleep(rule.headers_delay)
        if rule.reset_after == 0:
            abort_connection(self.request)
            return web.Response()  # never sent: the connection is gone
        if rule.status is not None:
            return self.fault_status(rule.status)
        return None

    def fault_status(self, status: int) -> web.Response:
        rule = self.rule
        headers: dict[str, str] = {}
        if rule is not None and rule.retry_after is not None:
            value = rule.retry_after
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            headers["Retry-After"] = str(value)
        message = rule.error if rule is not None else None
        if status == 403 and message is None:
            return web.Response(status=403, headers=headers)  # the Host guard's bare 403
        body: dict[str, Any] = {"error": message or default_error_message(status, self.model)}
        if status == 401:
            body["signin_url"] = "https://ollama.com/connect?name=emulator&key=ZW11bGF0b3I"
        headers["Content-Type"] = JSON_TYPE
        return web.Response(status=status, body=go_dumps(body).encode(), headers=headers)

    # ------------------------------------------------------------ single bodies

    async def error(self, status: int, message: str) -> web.StreamResponse:
        """An ``{"error": ...}`` answer; errors are never themselves faulted."""
        return web.Response(
            status=status,
            body=go_dumps({"error": message}).encode(),
            headers={"Content-Type": JSON_TYPE},
        )

    async def json(self, body: Any, status: int = 200) -> web.StreamResponse:
        return await self.body(go_dumps(body).encode(), status=status, content_type=JSON_TYPE)

    async def empty(self, status: int = 200) -> web.StreamResponse:
        """A body-less answer, as gin sends for copy, delete and blob uploads."""
        return await self.body(b"", status=status, content_type=None)

    async def body(
        self, data: bytes, *, status: int = 200, content_type: str | None
    ) -> web.StreamResponse:
        headers = {"Content-Type": content_type} if content_type else {}
        rule = self.rule
        if rule is None or not data:
            return web.Response(status=status, body=data, headers=headers)
        if rule.error_after is not None:
            # stream:false and the runner failed: the error replaces the body (500)
            return await self.error(500, rule.error or RUNNER_ERROR)
        if rule.malformed_after is not None:
            data = MALFORMED_LINE.rstrip(b"\n")
        cut = rule.reset_after is not None or rule.truncate_after is not None
        if not (cut or rule.split_writes):
            return web.Response(status=status, body=data, headers=headers)
        resp = web.StreamResponse(status=status, headers=headers)
        resp.content_length = len(data)
        try:
            await resp.prepare(self.request)
            if cut:
                await resp.write(data[: len(data) // 2])
                await _drained(self.request)
                if rule.reset_after is not None:
                    abort_connection(self.request)
                elif self.request.transport is not None:
                    self.request.transport.close()
                return resp
            for piece in _split_points(data):
                await resp.write(piece)
                await asyncio.sleep(SPLIT_PAUSE)
            await resp.write_eof()
        except ConnectionError:
            pass
        return resp

    # ------------------------------------------------------------------ streams

    async def stream(self, lines: Iterable[bytes]) -> web.StreamResponse:
        """Send NDJSON ``lines`` (each ending in ``\\n``), applying the stream faults."""
        rule = self.rule or FaultRule()
        iterator: Iterator[bytes] = iter(lines)
        current = next(iterator, None)
        following = next(iterator, None)
        resp = web.StreamResponse(status=200, headers={"Content-Type": NDJSON_TYPE})
        paced = self.chunk_delay > 0 or rule.split_writes
        pending = bytearray()
        try:
            await resp.prepare(self.request)
            index = 0
            while current is not None:
                last = following is None
                if _fires(rule.reset_after, index, last):
                    await self._write(resp, pending, split=rule.split_writes)
                    await _drained(self.request)
                    abort_connection(self.request)
                    return resp
                if _fires(rule.error_after, index, last):
                    pending += go_dumps({"error": rule.error or RUNNER_ERROR}).encode() + b"\n"
                    break
                if _fires(rule.truncate_after, index, last):
                    break
                if index and rule.blank_lines:
                    pending += b"\n"
                if _fires(rule.malformed_after, index, last):
                    pending += MALFORMED_LINE
                    if rule.blank_lines:
                        pending += b"\n"
                pending += current
                if paced:
                    await self._write(resp, pending, split=rule.split_writes)
                    if self.chunk_delay > 0 and not last:
                        await asyncio.sleep(self.chunk_delay)
                elif len(pending) >= BATCH_BYTES:
                    await self._write(resp, pending, split=False)
                current, following = following, next(iterator, None)
                index += 1
            await self._write(resp, pending, split=rule.split_writes)
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away; nothing left to do
        return resp

    @staticmethod
    async def _write(resp: web.StreamResponse, pending: bytearray, *, split: bool) -> None:
        if not pending:
            return
        data = bytes(pending)
        pending.clear()
        if not split:
            await resp.write(data)
            return
        for line in data.splitlines(keepends=True):
            for piece in _split_points(line):
                await resp.write(piece)
                await asyncio.sleep(SPLIT_PAUSE)
