"""Streams the caller drops without closing end all the way down.

One mechanism (``Response.abandon``, triggered when the public ``Stream`` or the response
itself is garbage-collected) ends such a stream on its event loop: the connection is
dropped and every ``on_done`` callback hears ``StreamCancelledError``. So a half-open
breaker probe that is an abandoned stream frees its permit, a limiter slot comes back and
the socket is closed, with the real plugins against the emulator, sockets counted from
/proc. "Bounded time" is counted in event-loop iterations, not seconds.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

from ollama_core import (
    CircuitOpenError,
    FakeClock,
    Handler,
    OllamaClient,
    Request,
    Response,
    ServiceUnavailableError,
    Stream,
    StreamCancelledError,
    StreamError,
    SyncOllamaClient,
    hookimpl,
)
from ollama_core.emulator import EmulatorThread, OllamaEmulator
from tests.hostile import open_sockets

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello there"}]}
LONG = {**CHAT, "options": {"num_predict": 200}}
#: The next chat streams slowly, so it is still in flight when it is dropped (a stream the
#: server has sent whole is already back in the pool, its socket legitimately kept alive).
SLOW = {"path": "/api/chat", "chunk_delay": 0.05, "times": 1}
PLUGINS = ["circuit_breaker", "rate_limiting"]
CONFIG: dict[str, Any] = {"circuit_breaker": {"fail_max": 1, "reset_timeout": 30},
                          "rate_limiting": {"rate": None, "max_concurrent": 1,
                                            "max_wait": 0}}
#: Loop iterations an abandoned stream may take to be ended and its socket closed: one to
#: run ``Response.abandon``'s callback, one for asyncio to close the transport.
TURNS = 2


async def turns(n: int = TURNS) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


class DoneRecorder:
    """A middleware plugin recording what ``on_done`` reports for each stream."""

    name = "done_recorder"
    order = 450  # between the breaker and the limiter

    def __init__(self) -> None:
        self.outcomes: list[BaseException | None] = []

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
        return [self]

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        response = await call_next(request)
        response.on_done(self.outcomes.append)
        return response


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def half_open(client: OllamaClient, emulator: OllamaEmulator, clock: FakeClock) -> None:
    emulator.faults.add(path="/api/chat", status=503, times=1)
    with pytest.raises(ServiceUnavailableError):
        await client.chat(CHAT)
    clock.advance(30)


def in_flight(client: OllamaClient | SyncOllamaClient) -> int:
    stats = client.plugin("rate_limiting").stats()
    return int(stats["limiters"]["chat"]["in_flight"])


async def test_an_abandoned_probe_stream_frees_the_breaker_the_limiter_slot_and_the_socket(
        clock: FakeClock) -> None:
    recorder = DoneRecorder()
    async with OllamaEmulator() as emulator, OllamaClient(
            emulator.url, plugins=[*PLUGINS, recorder], plugin_config=CONFIG,
            clock=clock) as client:
        await half_open(client, emulator, clock)
        breaker = client.plugin("circuit_breaker")
        emulator.faults.add(**SLOW)
        stream = client.chat_stream(LONG)
        first = await stream.__anext__()
        assert first.done is False
        # Held: the stream is the probe, holds the only slot and its socket.
        assert breaker.state("chat") == "half_open"
        with pytest.raises(CircuitOpenError):
            await client.chat(CHAT)
        assert in_flight(client) == 1
        assert open_sockets(emulator.port) == 1
        assert recorder.outcomes == []  # the stream has not ended

        del stream, first
        gc.collect()
        await turns()

        assert open_sockets(emulator.port) == 0
        assert in_flight(client) == 0
        outcome = recorder.outcomes[-1]
        assert isinstance(outcome, StreamCancelledError)
        assert "abandoned" in str(outcome)
        # The abandoned probe decided nothing; the next call is admitted as the probe.
        assert breaker.state("chat") == "half_open"
        answer = await client.chat(CHAT)
        assert answer.done is True
        assert breaker.state("chat") == "closed"
        assert in_flight(client) == 0


async def test_abandoning_is_prompt_without_a_garbage_collection(clock: FakeClock) -> None:
    """Dropping the last reference is enough: nothing waits for the cyclic collector,
    also with the cache recording the stream."""
    plugins = ["request_caching", *PLUGINS]
    gc.disable()
    try:
        async with OllamaEmulator() as emulator, OllamaClient(
                emulator.url, plugins=plugins, plugin_config=CONFIG, clock=clock) as client:
            await half_open(client, emulator, clock)
            emulator.faults.add(**SLOW)
            stream = client.chat_stream(LONG, extensions={"cache": True})
            await stream.__anext__()
            assert in_flight(client) == 1
            del stream
            await turns()
            assert open_sockets(emulator.port) == 0
            assert in_flight(client) == 0
            assert client.plugin("request_caching").stats()["entries"] == 0
            await client.chat(CHAT)
            assert client.plugin("circuit_breaker").state("chat") == "closed"
    finally:
        gc.enable()


async def test_an_abandoned_paused_stream_is_ended_too(clock: FakeClock) -> None:
    async with OllamaEmulator() as emulator, OllamaClient(
            emulator.url, plugins=PLUGINS, plugin_config=CONFIG, clock=clock) as client:
        emulator.faults.add(**SLOW)
        stream = client.chat_stream(LONG)
        await stream.__anext__()
        stream.pause()
        assert in_flight(client) == 1
        del stream
        gc.collect()
        await turns()
        assert in_flight(client) == 0
        assert open_sockets(emulator.port) == 0


async def test_a_raw_streaming_response_dropped_unread_is_ended(clock: FakeClock) -> None:
    """The mechanism lives in the Response, so a stream sent with ``client.send`` (no
    ``Stream`` around it) is covered as well."""
    async with OllamaEmulator() as emulator, OllamaClient(
            emulator.url, plugins=PLUGINS, plugin_config=CONFIG, clock=clock) as client:
        request = Request("POST", "/api/chat", "chat", json={**LONG, "stream": True},
                          stream=True, terminal="done")
        emulator.faults.add(**SLOW)
        response = await client.send(request)
        assert response.is_stream and not response.finished
        assert in_flight(client) == 1
        del response
        gc.collect()
        await turns()
        assert in_flight(client) == 0
        assert open_sockets(emulator.port) == 0


async def test_a_completed_stream_dropped_reports_success_not_cancellation(
        clock: FakeClock) -> None:
    recorder = DoneRecorder()
    async with OllamaEmulator() as emulator, OllamaClient(
            emulator.url, plugins=[recorder], clock=clock) as client:
        stream = client.chat_stream(CHAT)
        async for _ in stream:
            pass
        del stream
        gc.collect()
        await turns()
        assert recorder.outcomes == [None]


@pytest.fixture
def emulator_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        yield emu


def test_an_abandoned_sync_stream_frees_the_breaker_the_limiter_slot_and_the_socket(
        emulator_thread: EmulatorThread, clock: FakeClock) -> None:
    with SyncOllamaClient(emulator_thread.url, plugins=PLUGINS, plugin_config=CONFIG,
                          clock=clock) as client:
        emulator_thread.faults.add(path="/api/chat", status=503, times=1)
        with pytest.raises(ServiceUnavailableError):
            client.chat(CHAT)
        clock.advance(30)
        emulator_thread.faults.add(**SLOW)
        stream = client.chat_stream(LONG)
        assert next(stream).done is False
        with pytest.raises(CircuitOpenError):
            client.chat(CHAT)
        assert in_flight(client) == 1
        assert open_sockets(emulator_thread.port) == 1

        del stream
        gc.collect()
        # The stream was dropped on this thread; its end runs on the client's loop thread.
        portal = client._portal
        assert portal is not None
        portal.run(turns())

        assert open_sockets(emulator_thread.port) == 0
        assert in_flight(client) == 0
        assert client.chat(CHAT).done is True
        assert client.plugin("circuit_breaker").state("chat") == "closed"


def test_a_stream_dropped_after_its_loop_closed_is_ended_in_place() -> None:
    """No loop left to run on: the stream is ended where it is dropped, quietly (an
    exception in a finalizer would fail this test as an unraisable-exception warning)."""
    outcomes: list[BaseException | None] = []
    aborted: list[bool] = []

    async def open_stream() -> Response:
        async def lines() -> Any:
            yield {"done": False}
            yield {"done": True}

        request = Request("POST", "/api/chat", "chat", stream=True, terminal="done")
        response = Response(request, 200, lines=lines(), first={"done": False},
                            abort=lambda: aborted.append(True))
        response.on_done(outcomes.append)
        return response

    response = asyncio.run(open_stream())
    assert outcomes == [] and not response.finished
    del response
    gc.collect()
    assert len(outcomes) == 1 and isinstance(outcomes[0], StreamCancelledError)
    assert aborted == [True]


# -- an ended stream stays as it ended ---------------------------------------------------


def _replay_stream(lines: list[dict[str, Any]], clock: FakeClock,
                   fail_with: BaseException | None = None
                   ) -> tuple[Stream[dict[str, Any]], list[BaseException | None]]:
    request = Request("POST", "/api/chat", "chat", stream=True, terminal="done")
    outcomes: list[BaseException | None] = []

    async def open_response() -> Response:
        if fail_with is None:
            response = Response.from_lines(request, lines)
        else:
            async def broken() -> Any:
                yield lines[0]
                raise fail_with

            response = Response(request, 200, lines=broken(), first=None)
        response.on_done(outcomes.append)
        return response

    return Stream(open_response, dict, clock=clock), outcomes


LINES = [{"message": {"content": "a"}, "done": False}, {"message": {"content": "b"}, "done": True}]


@pytest.mark.parametrize("end", ["cancel", "aclose"])
async def test_cancelling_a_completed_stream_leaves_it_completed(clock: FakeClock,
                                                                 end: str) -> None:
    stream, outcomes = _replay_stream(LINES, clock)
    changes: list[tuple[Any, Any]] = []
    stream.on_state_change(lambda old, new: changes.append((old, new)))
    assert [c async for c in stream] == LINES
    ended_at = stream.metrics.ended_at
    assert str(stream.state) == "completed" and outcomes == [None]
    changes.clear()
    clock.advance(5)

    if end == "cancel":
        stream.cancel()
    else:
        await stream.aclose()

    assert str(stream.state) == "completed"
    assert changes == []
    assert stream.metrics.ended_at == ended_at
    assert outcomes == [None]  # the policies heard success, once
    with pytest.raises(StopAsyncIteration):  # an end, not a cancellation error
        await stream.__anext__()
    with pytest.raises(StreamError, match="cannot resume a stream that is completed"):
        stream.resume()


async def test_cancelling_a_failed_stream_leaves_it_failed(clock: FakeClock) -> None:
    stream, outcomes = _replay_stream(LINES, clock, fail_with=ValueError("broken"))
    with pytest.raises(ValueError, match="broken"):
        async for _ in stream:
            pass
    assert str(stream.state) == "failed"
    stream.cancel()
    assert str(stream.state) == "failed"
    assert len(outcomes) == 1 and isinstance(outcomes[0], ValueError)
