"""Shared fixtures of the plugin tests: a live emulator on loopback, a fake clock, and a
real redis-server on loopback for the shared stores."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from ollama_core import FakeClock
from ollama_core.emulator import OllamaEmulator
from ollama_plugins._redis.server import RedisServer, RedisServerMissing


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emu:
        yield emu


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- a real redis-server on loopback, for the shared stores ----------------------------------


def _redis_server() -> Iterator[RedisServer]:
    try:
        server = RedisServer()
    except RedisServerMissing as exc:
        # Never a silent skip: the shared stores must be tested wherever the suite runs.
        pytest.fail(str(exc), pytrace=False)
    with server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session (tests keep apart by ``store_prefix``)."""
    yield from _redis_server()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may kill and start again."""
    yield from _redis_server()


@pytest.fixture
def store_prefix(request: pytest.FixtureRequest) -> str:
    """A key namespace no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"
