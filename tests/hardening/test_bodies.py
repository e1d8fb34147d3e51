"""Bodies are bounded: ``max_body_size`` for plain answers, ``max_line_length`` for stream
lines, both counted after decompression, against hostile servers sending gzip bombs.

The memory figures are measured, not assumed: the peak resident set size of this process
during the call (``VmHWM`` after resetting it through ``/proc/self/clear_refs``) and the
peak of Python allocations (``tracemalloc``).
"""

from __future__ import annotations

import asyncio
import functools
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from ollama_core import (
    FakeClock,
    InvalidConfigError,
    LineTooLongError,
    OllamaClient,
    ResponseTooLargeError,
    SyncOllamaClient,
)
from ollama_core._transport import DEFAULT_MAX_BODY_SIZE
from ollama_plugins.circuit_breaker._circuit import Outcome, classify
from ollama_plugins.retry import is_retryable
from tests.hostile import STREAM_HEAD, Conn, HostileServer, chunked, http_response

MiB = 1 << 20
BOMB_SIZE = 200 * MiB


@functools.cache
def gzip_bomb(size: int = BOMB_SIZE, unit: bytes = b"\0") -> bytes:
    """gzip of ``size`` bytes of ``unit``, built piecewise (never ``size`` bytes at once)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = unit * (MiB // len(unit))
    parts = [deflate.compress(block) for _ in range(size // len(block))]
    parts.append(deflate.flush())
    return b"".join(parts)


def gzip_head(length: int, content_type: bytes = b"application/json") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type + b"\r\n"
            b"Content-Encoding: gzip\r\nContent-Length: " + str(length).encode() + b"\r\n\r\n")


def send(payload: bytes) -> Callable[[Conn], Awaitable[None]]:
    async def handler(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(payload)
    return handler


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


@asynccontextmanager
async def peak_memory() -> AsyncIterator[dict[str, int]]:
    """Measures, around its block, the peak growth of RSS and of Python allocations."""
    figures: dict[str, int] = {}
    rss_measured = os.access("/proc/self/clear_refs", os.W_OK)
    if rss_measured:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    rss_before = _status_kib("VmRSS") * 1024
    tracemalloc.start()
    try:
        yield figures
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures["python_peak"] = peak
        if rss_measured:
            figures["rss_growth"] = _status_kib("VmHWM") * 1024 - rss_before


def test_the_default_bound_is_well_above_a_large_embed_answer() -> None:
    # 1024 vectors of 1024 floats, written the way Ollama writes them (~20 MB).
    row = "[" + ",".join(["-0.012345678"] * 1024) + "]"
    embed = '{"model":"m","embeddings":[' + ",".join([row] * 1024) + "]}"
    assert len(embed) > 13 * MiB
    assert DEFAULT_MAX_BODY_SIZE == 64 * MiB >= 3 * len(embed)


async def test_a_gzip_bomb_is_refused_early_with_the_default_bound() -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 256 * 1024  # the 199 KB answer that inflates to 200 MB
    async with HostileServer(send(gzip_head(len(bomb)) + bomb)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=30) as client:
            async with peak_memory() as figures:
                with pytest.raises(ResponseTooLargeError) as info:
                    await client.list_models()
    error = info.value
    assert error.limit == DEFAULT_MAX_BODY_SIZE and error.endpoint == "tags"
    assert "max_body_size" in str(error) and "tags" in str(error)
    # At most the bound (64 MiB) plus a read is held; the whole 200 MB answer never is.
    assert figures["python_peak"] < DEFAULT_MAX_BODY_SIZE + 8 * MiB
    if "rss_growth" in figures:
        assert figures["rss_growth"] < 100 * MiB, figures


async def test_a_gzip_bomb_costs_no_more_than_a_small_bound() -> None:
    bomb = gzip_bomb()
    async with HostileServer(send(gzip_head(len(bomb)) + bomb)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=30,
                                max_body_size=MiB) as client:
            async with peak_memory() as figures:
                with pytest.raises(ResponseTooLargeError):
                    await client.embed({"model": "m", "input": "x"})
    assert figures["python_peak"] < 8 * MiB, figures
    if "rss_growth" in figures:
        assert figures["rss_growth"] < 24 * MiB, figures


async def test_an_announced_length_past_the_bound_is_refused_before_reading() -> None:
    # Only the head is sent, and the connection held open: reading any of the body would
    # wait for the 30 s timeout instead of failing at once.
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: 1001\r\n\r\n")
        await conn.reader.read()

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], timeout=30,
                                max_body_size=1000) as client:
            with pytest.raises(ResponseTooLargeError, match="announces 1001 bytes"):
                await client.list_models()


@pytest.mark.parametrize("framing", ["content-length", "chunked", "gzip"])
async def test_the_bound_is_exact(framing: str) -> None:
    limit = 4096
    fits = b'{"models":[],"pad":"' + b"x" * (limit - 22) + b'"}'
    assert len(fits) == limit

    def answer(body: bytes) -> bytes:
        if framing == "content-length":
            return http_response(200, body)
        if framing == "gzip":
            return http_response(200, body, gzip_body=True)
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body[:1000], body[1000:]))

    async with HostileServer(send(answer(fits))) as server:
        async with OllamaClient(server.url, plugins=[], max_body_size=limit) as client:
            tags = await client.list_models()
            assert tags.models == [] and len(tags.extra["pad"]) == limit - 22
    over = fits[:-2] + b'x"}'
    async with HostileServer(send(answer(over))) as server:
        async with OllamaClient(server.url, plugins=[], max_body_size=limit) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.list_models()


async def test_an_error_body_is_bounded_too() -> None:
    bomb = gzip_bomb()
    head = gzip_head(len(bomb)).replace(b"200 OK", b"500 Internal Server Error")
    async with HostileServer(send(head + bomb)) as server:
        async with OllamaClient(server.url, plugins=[], max_body_size=MiB) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.list_models()


async def test_too_large_is_never_retried_nor_moved_on_from() -> None:
    body = http_response(200, {"models": [], "pad": "x" * 2000})
    async with HostileServer(send(body)) as one, HostileServer(send(body)) as two:
        config = {"retry": {"base_delay": 0.01},
                  "failover": {"endpoints": [one.url, two.url]},
                  "circuit_breaker": {"fail_max": 1}}
        async with OllamaClient(one.url, plugins=["retry", "failover", "circuit_breaker"],
                                plugin_config=config, max_body_size=1000,
                                clock=FakeClock(autoadvance=True)) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.list_models()
            assert client.plugin("retry").stats.retries == 0
            # Not the server's ill health: the breaker stays closed after a "failure".
            assert client.plugin("circuit_breaker").state(endpoint="tags",
                                                          upstream=one.url) == "closed"
    assert len(one.requests) == 1 and two.requests == []
    error = ResponseTooLargeError("x", endpoint="tags", limit=1)
    assert not is_retryable(error) and classify(error) is Outcome.NEUTRAL


async def test_a_gzip_stream_line_is_bounded_by_max_line_length() -> None:
    # One "line" of 200 MB of spaces-free text, gzip-compressed on a stream: the decoder
    # must refuse it once it passes max_line_length, holding no more than about that.
    bomb = gzip_bomb(unit=b"a")
    head = STREAM_HEAD.replace(b"\r\n\r\n", b"\r\nContent-Encoding: gzip\r\n\r\n")

    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(head + chunked(bomb))

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], timeout=30,
                                max_line_length=MiB) as client:
            async with peak_memory() as figures:
                with pytest.raises(LineTooLongError):
                    async for _ in client.chat_stream({"model": "m", "messages": []}):
                        pass
    assert figures["python_peak"] < 8 * MiB, figures
    if "rss_growth" in figures:
        assert figures["rss_growth"] < 24 * MiB, figures


async def test_a_plain_generation_sent_as_a_stream_is_bounded_too() -> None:
    # A plain chat goes on the wire as a stream; many small lines that never end must not
    # grow the folded answer past max_body_size.
    line = (b'{"model":"m","message":{"role":"assistant","content":"' + b"a" * 1000 +
            b'"},"done":false}\n')

    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD)
        with pytest.raises((ConnectionError, OSError)):
            while True:
                await conn.send(f"{len(line) * 64:x}\r\n".encode() + line * 64 + b"\r\n")
                await asyncio.sleep(0)

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], timeout=30,
                                max_body_size=MiB) as client:
            with pytest.raises(ResponseTooLargeError):
                await client.chat({"model": "m", "messages": []})


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "64"])
def test_max_body_size_is_checked_when_the_client_is_built(bad: object) -> None:
    with pytest.raises(InvalidConfigError, match="max_body_size"):
        OllamaClient("http://127.0.0.1:1", plugins=[], max_body_size=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="max_body_size"):
        SyncOllamaClient("http://127.0.0.1:1", plugins=[], max_body_size=bad)  # type: ignore[arg-type]


async def test_a_head_answer_announcing_a_large_blob_is_not_refused() -> None:
    async def handler(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 4294967296\r\n\r\n")

    async with HostileServer(handler) as server:
        async with OllamaClient(server.url, plugins=[], max_body_size=1000) as client:
            assert await client.blob_exists("sha256:" + "0" * 64) is True
