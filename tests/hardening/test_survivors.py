"""Behaviours a one-line bug could change without any other test noticing.

Each test here pins one boundary or ordering exactly: a line of exactly the maximum
length, a pause before anything was sent, a 4xx answering a stream, a token due to a
queued waiter.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from ollama_core import (
    BadRequestError,
    ChatRequest,
    FakeClock,
    GenerateRequest,
    LineTooLongError,
    NDJSONDecoder,
    OllamaClient,
    Request,
    ResponseError,
    StreamCancelledError,
    StreamError,
    StreamState,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.circuit_breaker import CircuitBreakerPlugin
from ollama_plugins.rate_limiting._bucket import TokenBucket
from tests.hostile import Conn, HostileServer, http_response

LIMIT = 64


def line_of(length: int) -> bytes:
    """A JSON object line of exactly ``length`` bytes (without its newline)."""
    line = b'{"t":"' + b"x" * (length - 8) + b'"}'
    assert len(line) == length
    return line


def expected(length: int) -> dict[str, str]:
    return {"t": "x" * (length - 8)}


async def settle(condition: Callable[[], bool], turns: int = 200) -> None:
    """Let the loop run until ``condition`` holds (loop turns only, no wall time)."""
    for _ in range(turns):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


# -- a line of exactly max_line_length bytes ---------------------------------------------


def feed_all(pieces: list[bytes], limit: int = LIMIT) -> list[dict[str, Any]]:
    decoder = NDJSONDecoder(limit)
    out: list[dict[str, Any]] = []
    for piece in pieces:
        out.extend(decoder.feed(piece))
    out.extend(decoder.close())
    return out


def arrivals(length: int) -> dict[str, list[bytes]]:
    """The ways a line of ``length`` bytes can reach the decoder."""
    line = line_of(length)
    small = line_of(10)
    return {
        "whole": [line + b"\n"],
        "two whole lines in one read": [line + b"\n" + line + b"\n"],
        "after a short line in the same read": [small + b"\n" + line + b"\n"],
        "split in two feeds": [line[:20], line[20:] + b"\n"],
        "split, newline alone": [line, b"\n"],
        "split in single bytes": [line[i:i + 1] for i in range(length)] + [b"\n"],
        "partial after a complete line": [small + b"\n" + line[:-1], line[-1:] + b"\n"],
        "unterminated last line at EOF": [line],
        "unterminated after a complete line": [small + b"\n" + line],
    }


@pytest.mark.parametrize("how", list(arrivals(LIMIT)))
def test_a_line_of_exactly_the_limit_is_accepted(how: str) -> None:
    pieces = arrivals(LIMIT)[how]
    decoded = feed_all(pieces)
    assert decoded[-1] == expected(LIMIT)
    assert len(decoded) == b"".join(pieces).strip().count(b"\n") + 1


@pytest.mark.parametrize("how", list(arrivals(LIMIT + 1)))
def test_a_line_one_byte_over_the_limit_is_refused(how: str) -> None:
    with pytest.raises(LineTooLongError) as info:
        feed_all(arrivals(LIMIT + 1)[how])
    assert info.value.limit == LIMIT
    assert f"exceeds {LIMIT} bytes" in str(info.value)


def test_the_limit_is_refused_as_soon_as_a_partial_line_passes_it() -> None:
    decoder = NDJSONDecoder(LIMIT)
    line = line_of(LIMIT + 1)
    assert list(decoder.feed(line[:LIMIT])) == []  # exactly the limit buffered: fine
    with pytest.raises(LineTooLongError):
        list(decoder.feed(line[LIMIT:]))  # one more byte, no newline yet


async def test_a_line_of_exactly_the_client_limit_passes_through_the_client() -> None:
    body = json.dumps({"model": "m", "created_at": "2024-01-01T00:00:00Z", "response": "",
                       "done": False}).encode()
    pad = LIMIT * 4 - len(body) - len(b',"p":""')
    exact = body[:-1] + b',"p":"' + b"y" * pad + b'"}'
    done = json.dumps({"model": "m", "created_at": "2024-01-01T00:00:00Z", "response": "",
                       "done": True}).encode()

    async def serve(conn: Conn) -> None:
        await conn.read_request()
        payload = exact + b"\n" + done + b"\n"
        await conn.send(http_response(200, payload,
                                      headers={"Content-Type": "application/x-ndjson"}))

    async with HostileServer(serve) as server:
        async with OllamaClient(server.url, plugins=[], max_line_length=len(exact)) as client:
            chunks = [c async for c in client.generate_stream(
                GenerateRequest(model="m", prompt="x"))]
            assert [c.done for c in chunks] == [False, True]
        async with OllamaClient(server.url, plugins=[],
                                max_line_length=len(exact) - 1) as client:
            with pytest.raises(LineTooLongError):
                _ = [c async for c in client.generate_stream(
                    GenerateRequest(model="m", prompt="x"))]


# -- pause() and resume() before the first read ------------------------------------------


def big(n: int) -> GenerateRequest:
    return GenerateRequest(model="llama3.2", prompt="x", options={"num_predict": n})


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


async def test_pause_before_the_first_read_holds_the_request_until_resumed(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(3))
        stream.pause()
        assert stream.state is StreamState.PAUSED
        reader = asyncio.ensure_future(stream.__anext__())
        for _ in range(20):
            await asyncio.sleep(0)
        # The reader ran up to its wait: had it gone on, start() would have stamped this.
        assert not reader.done() and stream.metrics.started_at is None
        assert stream.response is None and emu.hits() == 0
        stream.resume()
        # Nothing was sent yet, so the stream is back to READY, not STREAMING.
        assert stream.state is StreamState.READY
        first = await reader
        assert first.response is not None and stream.state is StreamState.STREAMING
        rest = [c async for c in stream]
        assert len(rest) == 3 and stream.state is StreamState.COMPLETED
        assert emu.hits("/api/generate") == 1
        assert (stream.metrics.pauses, stream.metrics.resumes) == (1, 1)


async def test_pause_then_resume_before_any_read_is_a_plain_stream(
        emu: OllamaEmulator) -> None:
    clock = FakeClock(5.0)
    async with OllamaClient(emu.url, plugins=[], clock=clock) as client:
        stream = client.generate_stream(big(3))
        changes: list[tuple[str, str]] = []
        stream.on_state_change(lambda old, new: changes.append((old.value, new.value)))
        stream.pause()
        clock.advance(2.0)
        stream.resume()
        assert stream.state is StreamState.READY and emu.hits() == 0
        chunks = [c async for c in stream]
        assert len(chunks) == 4 and chunks[-1].done
        assert changes == [("ready", "paused"), ("paused", "ready"),
                           ("ready", "streaming"), ("streaming", "completed")]
        assert stream.metrics.paused_seconds == 2.0 and stream.metrics.started_at == 7.0
        assert emu.hits("/api/generate") == 1


async def test_start_while_paused_sends_but_feeds_nothing_until_resumed(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(3))
        stream.pause()
        await stream.start()
        assert emu.hits("/api/generate") == 1 and stream.state is StreamState.PAUSED
        reader = asyncio.ensure_future(stream.__anext__())
        for _ in range(20):
            await asyncio.sleep(0)
        assert not reader.done() and stream.metrics.chunks == 0
        stream.resume()
        assert stream.state is StreamState.STREAMING
        assert (await reader).response is not None
        assert len([c async for c in stream]) == 3
        assert stream.state is StreamState.COMPLETED


async def test_a_pause_timeout_before_the_first_read_cancels_without_sending(
        emu: OllamaEmulator) -> None:
    clock = FakeClock()
    async with OllamaClient(emu.url, plugins=[], clock=clock, pause_timeout=5.0) as client:
        stream = client.generate_stream(big(3))
        stream.pause()
        await settle(lambda: clock.pending == 1)
        clock.advance(5.0)
        await settle(lambda: stream.state is StreamState.CANCELLED)
        with pytest.raises(StreamCancelledError, match="paused for longer than 5s"):
            await stream.__anext__()
        with pytest.raises(StreamCancelledError):
            stream.resume()
    assert emu.hits() == 0


async def test_cancel_while_paused_before_the_first_read_ends_quietly(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(3))
        stream.pause()
        reader = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        stream.cancel()
        with pytest.raises(StopAsyncIteration):
            await reader
        assert stream.state is StreamState.CANCELLED
    assert emu.hits() == 0


# -- a 4xx answering a streaming call -----------------------------------------------------


def breaker_of(client: OllamaClient) -> CircuitBreakerPlugin:
    plugin = client.plugin("circuit_breaker")
    assert isinstance(plugin, CircuitBreakerPlugin)
    return plugin


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
async def test_a_400_answering_a_stream_is_a_bad_request_and_the_breaker_stays_closed(
        content_type: str) -> None:
    async def answer(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(http_response(
                400, b'{"error": "invalid think value: \\"x\\""}\n', reason="Bad Request",
                headers={"Content-Type": content_type}))

    clock = FakeClock()
    async with HostileServer(answer) as server:
        async with OllamaClient(server.url, clock=clock, plugins=["circuit_breaker"],
                                plugin_config={"circuit_breaker": {"fail_max": 1}}) as client:
            request = ChatRequest(model="llama3.2", messages=[{"role": "user", "content": "x"}])
            for _ in range(3):
                with pytest.raises(ResponseError) as info:
                    _ = [c async for c in client.chat_stream(request)]
                error = info.value
                assert type(error) is BadRequestError, repr(error)
                assert not isinstance(error, StreamError)
                assert error.status_code == 400
                assert error.error == 'invalid think value: "x"'
            assert breaker_of(client).state("chat") == "closed"
        assert len(server.requests) == 3  # every call reached the server: nothing fast-failed


async def test_a_5xx_answering_a_stream_still_opens_the_breaker() -> None:
    async def answer(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(http_response(500, {"error": "runner crashed"},
                                          reason="Internal Server Error"))

    async with HostileServer(answer) as server:
        async with OllamaClient(server.url, clock=FakeClock(), plugins=["circuit_breaker"],
                                plugin_config={"circuit_breaker": {"fail_max": 1}}) as client:
            request = ChatRequest(model="llama3.2", messages=[{"role": "user", "content": "x"}])
            with pytest.raises(ResponseError) as info:
                _ = [c async for c in client.chat_stream(request)]
            assert info.value.status_code == 500 and not isinstance(info.value, StreamError)
            assert breaker_of(client).state("chat") == "open"


# -- a token due to a queued waiter -------------------------------------------------------


async def test_a_newcomer_at_the_instant_a_token_frees_cannot_take_the_waiters_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    assert bucket.try_take(0.0)
    passed: list[tuple[str, float]] = []

    async def call(tag: str) -> None:
        if not bucket.try_take(clock.now()):
            await bucket.take(clock, None)
        passed.append((tag, clock.now()))

    waiter = asyncio.create_task(call("waiter"))
    await settle(lambda: clock.pending == 1 and bucket.waiting == 1)
    clock.advance(1.0)  # the waiter's token is due; its task has not run yet
    assert not bucket.try_take(1.0)  # the fast path must not take it
    newcomer = asyncio.create_task(call("newcomer"))
    await waiter
    await settle(lambda: clock.pending == 1)
    clock.advance(1.0)
    await newcomer
    assert passed == [("waiter", 1.0), ("newcomer", 2.0)]
    assert bucket.waiting == 0 and bucket.tokens(2.0) == 0.0


class WireLog:
    """When each call went on the wire (after the limiter)."""

    name = "wire_log"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str]] = []

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        self.sent.append((self.clock.now(), (request.json or {}).get("prompt", "")))


async def test_through_the_client_a_queued_call_goes_before_a_newcomer(
        emu: OllamaEmulator) -> None:
    clock = FakeClock()
    log = WireLog(clock)
    async with OllamaClient(emu.url, clock=clock, plugins=["rate_limiting", log],
                            plugin_config={"rate_limiting": {"rate": 1, "burst": 1}}) as client:
        def gen(tag: str) -> GenerateRequest:
            return GenerateRequest(model="llama3.2", prompt=tag, options={"num_predict": 1})

        async def newcomer_call() -> None:
            # Time moves on and, in the same step (before the queued task can wake), a new
            # call runs up to the limiter: the token due now is the queued call's.
            clock.advance(1.0)
            await client.generate(gen("newcomer"))

        await client.generate(gen("first"))
        queued = asyncio.create_task(client.generate(gen("queued")))
        await settle(lambda: clock.pending == 1)
        newcomer = asyncio.create_task(newcomer_call())
        await queued
        await settle(lambda: clock.pending == 1)
        clock.advance(1.0)
        await newcomer
    assert log.sent == [(0.0, "first"), (1.0, "queued"), (2.0, "newcomer")]
