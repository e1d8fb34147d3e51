"""The aiohttp transport's body reader takes everything buffered in one step (``_drain``).

It writes aiohttp's private ``StreamReader`` fields, so it is checked three ways: on the
data structure against aiohttp's own ``_read_nowait(-1)`` (the same bytes and the same
fields after, paused or not), over real sockets against ``readany()`` for many ways of
cutting a chunked body, and through flow control (a body far past aiohttp's high-water
mark, its reading paused and resumed).
"""

from __future__ import annotations

import asyncio
import collections
import random
from typing import Any

import aiohttp
import pytest

from ollama_core._transports import aiohttp as transport_module
from ollama_core._transports.aiohttp import AiohttpTransport, _can_drain, _drain
from ollama_core._transports.base import TransportRequest
from tests.hostile import STREAM_HEAD, Conn, HostileServer


class _Protocol:
    """What a ``StreamReader`` asks of its protocol, with every call counted."""

    def __init__(self) -> None:
        self._reading_paused = False
        self.pauses = 0
        self.resumes = 0

    def pause_reading(self) -> None:
        self._reading_paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self._reading_paused = False
        self.resumes += 1


def _reader(limit: int, loop: asyncio.AbstractEventLoop) -> tuple[aiohttp.StreamReader, Any]:
    protocol = _Protocol()
    reader = aiohttp.StreamReader(protocol, limit, loop=loop)  # type: ignore[arg-type]
    return reader, protocol


def _feed(reader: aiohttp.StreamReader, pieces: list[bytes], chunked: bool) -> None:
    """As aiohttp's HTTP parser feeds a body: per HTTP chunk when it is chunked."""
    for piece in pieces:
        if chunked:
            reader.begin_http_chunk_receiving()
        reader.feed_data(piece)
        if chunked:
            reader.end_http_chunk_receiving()


# Fields holding the reader's collaborators, not its state.
_NOT_STATE = {"_protocol", "_loop", "_timer"}


def _state(reader: aiohttp.StreamReader) -> dict[str, Any]:
    """Every field of the reader (so a field a newer aiohttp's read updates and ``_drain``
    does not is caught here), and whether its protocol is paused."""
    state: dict[str, Any] = {}
    for cls in type(reader).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if name in _NOT_STATE or name in state or not hasattr(reader, name):
                continue
            value = getattr(reader, name)
            state[name] = list(value) if isinstance(value, collections.deque) else value
    state["paused"] = reader._protocol._reading_paused
    return state


@pytest.mark.parametrize("seed", range(40))
async def test_drain_is_read_nowait_in_one_step(seed: int) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    limit = rng.choice([64, 1024, 2**16])
    chunked = rng.random() < 0.8
    ours, our_protocol = _reader(limit, loop)
    theirs, their_protocol = _reader(limit, loop)
    for _ in range(rng.randint(1, 6)):  # several reads, each after a burst of pieces
        pieces = [rng.randbytes(rng.randint(1, 300)) for _ in range(rng.randint(1, 40))]
        _feed(ours, pieces, chunked)
        _feed(theirs, pieces, chunked)
        assert our_protocol._reading_paused == their_protocol._reading_paused
        resumed = our_protocol.resumes
        expected = theirs._read_nowait(-1)
        assert _drain(ours) == expected == b"".join(pieces)
        assert _state(ours) == _state(theirs)
        # aiohttp resumes after every piece it takes below the low-water mark; this once.
        assert our_protocol.resumes - resumed <= 1


async def test_drain_resumes_a_paused_protocol_once() -> None:
    loop = asyncio.get_running_loop()
    reader, protocol = _reader(64, loop)
    _feed(reader, [b"x" * 50 for _ in range(10)], chunked=True)
    assert protocol._reading_paused and protocol.pauses >= 1
    assert _drain(reader) == b"x" * 500
    assert not protocol._reading_paused and protocol.resumes == 1
    assert reader._size == 0 and not reader._buffer


def test_a_reader_without_those_fields_reads_through_readany() -> None:
    class Other:
        __slots__ = ("_buffer", "_size")

    assert _can_drain(aiohttp.StreamReader)
    assert not _can_drain(Other)
    assert not _can_drain(int)


async def _read_all(url: str) -> tuple[bytes, int]:
    transport = AiohttpTransport()
    try:
        raw = await transport.handle(TransportRequest(
            "POST", url + "/api/chat", {"Content-Type": "application/json"}, b"{}",
            None, None, url, None))  # type: ignore[arg-type]
        parts: list[bytes] = []
        reads = 0
        while True:
            data = await asyncio.wait_for(raw.stream.read(), 10)
            reads += 1
            if not data:
                break
            parts.append(data)
        raw.stream.release()
        return b"".join(parts), reads
    finally:
        await transport.aclose()


@pytest.mark.parametrize("seed", range(12))
async def test_any_cut_of_a_chunked_body_reads_the_same_as_readany(
        seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    lines = [b'{"n":%d,"pad":"%s"}\n' % (i, b"a" * rng.randint(0, 200))
             for i in range(rng.randint(1, 300))]
    wire = STREAM_HEAD + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in lines) + b"0\r\n\r\n"
    cuts = sorted(rng.sample(range(1, len(wire)), min(len(wire) - 1, rng.randint(0, 60))))

    async def serve(conn: Conn) -> None:
        await conn.read_request()
        start = 0
        for cut in [*cuts, len(wire)]:
            await conn.send(wire[start:cut])
            start = cut
            if rng.random() < 0.3:
                await asyncio.sleep(0)

    results = []
    for drain in (True, False):
        monkeypatch.setattr(transport_module, "_DRAIN", drain)
        async with HostileServer(serve) as server:
            body, _ = await _read_all(server.url)
        results.append(body)
    assert results[0] == results[1] == b"".join(lines)


async def test_a_body_past_the_high_water_mark_pauses_and_resumes_reading() -> None:
    # 8 MiB in 1 000-byte chunks: far more than aiohttp buffers (128 KiB) before it stops
    # reading the socket, so the reader drains a paused protocol and must resume it.
    piece = b"y" * 999 + b"\n"
    count = 8 * 1024
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    paused = asyncio.Event()

    async def serve(conn: Conn) -> None:
        await conn.read_request()
        conn.writer.write(STREAM_HEAD)
        for _ in range(count // 64):
            conn.writer.write(chunk * 64)
        conn.writer.write(b"0\r\n\r\n")
        await conn.writer.drain()

    transport = AiohttpTransport()
    async with HostileServer(serve) as server:
        try:
            raw = await transport.handle(TransportRequest(
                "POST", server.url + "/api/chat", {}, b"{}", None, None, server.url,
                None))  # type: ignore[arg-type]
            protocol = raw.stream._resp.connection.protocol  # type: ignore[attr-defined]
            pause = protocol.pause_reading

            def pause_reading() -> None:
                paused.set()
                pause()

            protocol.pause_reading = pause_reading
            # No read until aiohttp has stopped reading the socket: the first read
            # drains a paused protocol.
            await asyncio.wait_for(paused.wait(), 10)
            parts: list[bytes] = []
            while True:
                data = await asyncio.wait_for(raw.stream.read(), 10)
                if not data:
                    break
                parts.append(data)
            raw.stream.release()
        finally:
            await transport.aclose()
    # Reads end wherever the socket's data did: only the whole body is certain.
    assert len(parts) > 1
    assert b"".join(parts) == piece * count
