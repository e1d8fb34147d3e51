"""Fixtures of the core tests: one client API parametrized over async and sync.

Tests are written once against ``api``: ``await api.call("chat", request)`` runs the async
client's method, or the sync client's in a worker thread, and ``await api.collect(...)``
drains a stream either way. The emulator runs in its own thread in both cases, so the sync
client can block without stalling the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from ollama_core import OllamaClient, SyncOllamaClient
from ollama_core.emulator import EmulatorThread


class Api:
    """The same calls, made through either client."""

    def __init__(self, kind: str, emulator: EmulatorThread,
                 client: OllamaClient | SyncOllamaClient) -> None:
        self.kind = kind
        self.emulator = emulator
        self.client = client

    async def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self.client, method)
        if self.kind == "async":
            return await fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def collect(self, method: str, *args: Any, on_chunk: Callable[[Any], None] | None = None,
                      **kwargs: Any) -> list[Any]:
        """Every chunk of a stream; errors propagate after the chunks seen so far."""
        out: list[Any] = []
        if self.kind == "async":
            async with getattr(self.client, method)(*args, **kwargs) as stream:
                async for chunk in stream:
                    out.append(chunk)
                    if on_chunk:
                        on_chunk(chunk)
            return out

        def drain() -> list[Any]:
            with getattr(self.client, method)(*args, **kwargs) as stream:
                for chunk in stream:
                    out.append(chunk)
                    if on_chunk:
                        on_chunk(chunk)
            return out

        return await asyncio.to_thread(drain)


@pytest.fixture
def emulator_thread() -> Iterator[EmulatorThread]:
    with EmulatorThread() as emu:
        yield emu


@pytest.fixture(params=["async", "sync"])
async def api(request: pytest.FixtureRequest, emulator_thread: EmulatorThread
              ) -> AsyncIterator[Api]:
    if request.param == "async":
        async with OllamaClient(emulator_thread.url, plugins=[]) as client:
            yield Api("async", emulator_thread, client)
    else:
        sync = await asyncio.to_thread(SyncOllamaClient, emulator_thread.url, plugins=[])
        try:
            yield Api("sync", emulator_thread, sync)
        finally:
            await asyncio.to_thread(sync.close)
