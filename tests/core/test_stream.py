"""Stream control: pause is real backpressure, cancel drops the connection, metrics add up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ollama_core import (
    ChatRequest,
    FakeClock,
    GenerateRequest,
    OllamaClient,
    StreamCancelledError,
    StreamError,
    StreamState,
    SyncOllamaClient,
)
from ollama_core.emulator import EmulatorThread, OllamaEmulator
from ollama_core.ext import Request, Response


def big(n: int) -> GenerateRequest:
    return GenerateRequest(model="llama3.2", prompt="x", options={"num_predict": n})


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


async def test_nothing_is_sent_before_the_first_read(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(3))
        assert stream.state is StreamState.READY and emu.hits() == 0
        chunks = [c async for c in stream]
        assert emu.hits() == 1 and len(chunks) == 4
        assert stream.state is StreamState.COMPLETED


async def test_metrics_count_chunks_bytes_and_time_to_first_chunk(emu: OllamaEmulator) -> None:
    clock = FakeClock(10.0)
    async with OllamaClient(emu.url, plugins=[], clock=clock) as client:
        stream = client.generate_stream(big(20))
        async for _ in stream:
            clock.advance(0.5)
        m = stream.metrics
        assert m.chunks == 21 and m.started_at == 10.0
        assert m.time_to_first_chunk == 0.0  # fake clock: only the consumer moved it
        assert m.ended_at == 10.0 + 21 * 0.5
        assert m.bytes == stream.bytes_received > 21 * 50
        assert stream.last is not None and stream.last.done


async def test_pause_stops_reading_the_socket_and_resume_delivers_everything(
        emu: OllamaEmulator) -> None:
    total = 200_000  # about 25 MB of NDJSON: far more than socket and reader buffers hold
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(total))
        count = 0
        async for _ in stream:
            count += 1
            if count == 10:
                stream.pause()
                assert stream.state is StreamState.PAUSED
                break
        received = stream.bytes_received
        # Give the server ample time; it cannot finish because nobody reads.
        await asyncio.sleep(0.3)
        assert stream.bytes_received == received
        assert emu.open_connections == 1
        assert emu.hits() == 1
        stream.resume()
        async for _ in stream:
            count += 1
        assert count == total + 1
        assert stream.metrics.pauses == 1 and stream.metrics.resumes == 1
        assert stream.state is StreamState.COMPLETED


async def test_a_paused_consumer_waits_until_resumed(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(5))
        first = await stream.__anext__()
        assert first.response
        stream.pause()
        waiter = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        assert not waiter.done()
        stream.resume()
        assert (await waiter).response
        await stream.aclose()


async def test_cancel_closes_the_connection_at_once_and_ends_iteration(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(100_000))
        seen = 0
        async for _ in stream:
            seen += 1
            if seen == 5:
                stream.cancel()
        assert seen == 5 and stream.state is StreamState.CANCELLED
        assert await emu.wait_for_connections(0)
        stream.cancel()  # idempotent
        with pytest.raises(StreamCancelledError):
            stream.resume()


async def test_cancel_from_another_task_interrupts_a_pending_read(emu: OllamaEmulator) -> None:
    emu.faults.add(path="/api/generate", chunk_delay=30)
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(10))
        await stream.start()
        first = await stream.__anext__()  # the first chunk comes at once
        assert first is not None
        reader = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.05)
        assert not reader.done()
        stream.cancel()
        with pytest.raises(StopAsyncIteration):
            await reader
        assert await emu.wait_for_connections(0)


async def test_pause_timeout_cancels_with_an_error(emu: OllamaEmulator) -> None:
    clock = FakeClock()
    async with OllamaClient(emu.url, plugins=[], clock=clock, pause_timeout=5.0) as client:
        stream = client.generate_stream(big(100_000))
        await stream.__anext__()
        stream.pause()
        await asyncio.sleep(0)
        clock.advance(4.9)
        await asyncio.sleep(0)
        assert stream.state is StreamState.PAUSED
        stream.resume()
        stream.pause()  # a second pause gets a fresh timer; the first must not fire
        await asyncio.sleep(0)
        clock.advance(4.9)
        await asyncio.sleep(0)
        assert stream.state is StreamState.PAUSED
        clock.advance(0.1)
        await asyncio.sleep(0)
        assert stream.state is StreamState.CANCELLED
        with pytest.raises(StreamCancelledError, match="paused for longer than 5s"):
            await stream.__anext__()
        assert await emu.wait_for_connections(0)
        assert stream.metrics.pauses == 2 and stream.metrics.paused_seconds == pytest.approx(9.9)


async def test_state_changes_are_observable(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(3))
        changes: list[tuple[str, str]] = []
        stream.on_state_change(lambda old, new: changes.append((old.value, new.value)))
        async for _ in stream:
            if not changes or changes[-1][1] == "streaming" and len(changes) == 1:
                stream.pause()
                stream.resume()
        assert changes == [("ready", "streaming"), ("streaming", "paused"),
                           ("paused", "streaming"), ("streaming", "completed")]


async def test_invalid_transitions_raise(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(2))
        with pytest.raises(StreamError):
            stream.resume()
        _ = [c async for c in stream]
        with pytest.raises(StreamError):
            stream.pause()


async def test_leaving_early_with_async_with_releases_the_connection(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        async with client.chat_stream(ChatRequest(model="llama3.2", messages=[
                {"role": "user", "content": "x"}], options={"num_predict": 10_000})) as stream:
            async for _ in stream:
                break
        assert stream.state is StreamState.CANCELLED
        assert await emu.wait_for_connections(0)


def test_sync_stream_can_be_paused_and_cancelled_from_another_thread() -> None:
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(100_000))
        it = iter(stream)
        next(it)
        stream.pause()
        got: list[object] = []
        consumer = threading.Thread(target=lambda: got.append(next(it)))
        consumer.start()
        consumer.join(0.2)
        assert consumer.is_alive() and not got  # blocked while paused
        threading.Thread(target=stream.resume).start()
        consumer.join(5)
        assert got
        stream.cancel()
        assert list(it) == []
        assert stream.state is StreamState.CANCELLED
        assert emu.wait_for_connections(0)


def test_breaking_out_of_a_sync_for_loop_releases_the_connection() -> None:
    with EmulatorThread() as emu, SyncOllamaClient(emu.url, plugins=[]) as client:
        stream = client.generate_stream(big(100_000))
        for i, _ in enumerate(stream):
            if i == 3:
                break
        assert stream.state is StreamState.CANCELLED
        assert emu.wait_for_connections(0)


# -- the last line and line count a response stores when it ends ---------------------------


def _lines_response(n: int) -> tuple[Response, list[tuple[dict[str, Any] | None, int]]]:
    request = Request("POST", "/api/chat", "chat", stream=True, terminal="done")
    lines = [{"i": i, "done": i == n - 1} for i in range(n)]
    response = Response.from_lines(request, lines)
    seen: list[tuple[dict[str, Any] | None, int]] = []
    response.on_done(lambda error: seen.append((response.last_line, response.lines_delivered)))
    return response, seen


async def test_a_completed_stream_stores_its_last_line_before_the_done_callbacks() -> None:
    response, seen = _lines_response(4)
    assert response.last_line is None and response.lines_delivered == 0
    got = [line async for line in response]
    assert seen == [(got[-1], 4)] and got[-1] == {"i": 3, "done": True}
    assert not response._taps  # nothing registered per chunk


async def test_a_stream_closed_midway_stores_what_was_delivered_before_the_callbacks() -> None:
    response, seen = _lines_response(10)
    iterator = response.__aiter__()
    first = await iterator.__anext__()
    second = await iterator.__anext__()
    assert first["i"] == 0
    await response.aclose()
    assert seen == [(second, 2)]
    response, seen = _lines_response(10)
    iterator = response.__aiter__()
    await iterator.__anext__()
    response.abort()
    assert seen == [({"i": 0, "done": False}, 1)]


async def test_a_stream_ended_before_it_was_read_stores_no_line() -> None:
    response, seen = _lines_response(3)
    await response.aclose()
    assert seen == [(None, 0)]
