"""Nothing leaks: connections, tasks and sockets are released however a call ends."""

from __future__ import annotations

import asyncio
import gc
import warnings
from collections.abc import AsyncIterator

import pytest

from ollama_core import ChatRequest, GenerateRequest, OllamaClient, StreamState
from ollama_core.emulator import OllamaEmulator


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


def other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


async def test_a_thousand_streams_cancelled_midway_leave_nothing_behind(
        emu: OllamaEmulator) -> None:
    baseline = other_tasks()
    # Paced chunks, so every stream really is cut in the middle of its body.
    emu.faults.add(path="/api/generate", chunk_delay=0.002, times=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        client = OllamaClient(emu.url, plugins=[], max_connections=64)
        limit = asyncio.Semaphore(64)

        async def one(i: int) -> StreamState:
            async with limit:
                stream = client.generate_stream(GenerateRequest(
                    model="llama3.2", prompt=f"p{i}", options={"num_predict": 100}))
                seen = 0
                if i % 3 == 0:          # explicit cancel()
                    async for _ in stream:
                        seen += 1
                        if seen == 3:
                            stream.cancel()
                elif i % 3 == 1:        # leaving an `async with` early
                    async with stream:
                        async for _ in stream:
                            seen += 1
                            if seen == 3:
                                break
                else:                   # aclose() after a few chunks
                    for _ in range(3):
                        await stream.__anext__()
                    await stream.aclose()
                return stream.state

        states = await asyncio.gather(*(one(i) for i in range(1000)))
        assert set(states) == {StreamState.CANCELLED}
        assert emu.hits("/api/generate") == 1000
        assert await emu.wait_for_connections(0, timeout=5)
        await client.aclose()
        assert client.closed
        await asyncio.sleep(0)
        assert other_tasks() <= baseline
        gc.collect()


async def test_task_cancellation_of_a_plain_call_releases_the_connection(
        emu: OllamaEmulator) -> None:
    emu.faults.add(path="/api/chat", headers_delay=30)
    async with OllamaClient(emu.url, plugins=[]) as client:
        call = asyncio.ensure_future(client.chat(ChatRequest(
            model="llama3.2", messages=[{"role": "user", "content": "x"}])))
        while emu.hits("/api/chat") == 0:
            await asyncio.sleep(0.005)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await emu.wait_for_connections(0, timeout=5)
        # The client is still usable afterwards.
        assert (await client.version()) == "0.33.0"


async def test_task_cancellation_mid_stream_propagates_and_releases(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        started = asyncio.Event()

        async def consume() -> None:
            async for _ in client.generate_stream(GenerateRequest(
                    model="llama3.2", prompt="x", options={"num_predict": 100_000})):
                started.set()

        task = asyncio.ensure_future(consume())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await emu.wait_for_connections(0, timeout=5)


async def test_closing_the_client_with_an_open_stream_closes_its_connection(
        emu: OllamaEmulator) -> None:
    client = OllamaClient(emu.url, plugins=[])
    stream = client.generate_stream(GenerateRequest(model="llama3.2", prompt="x",
                                                    options={"num_predict": 100_000}))
    await stream.__anext__()
    await client.aclose()
    assert await emu.wait_for_connections(0, timeout=5)
    await stream.aclose()
