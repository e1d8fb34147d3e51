"""request_caching's ``max_bytes`` bounds the memory really held, measured with tracemalloc.

Stored answers count what they keep alive (stored form, key, bookkeeping); a stream being
recorded counts its recording as it grows and stops being recorded past the bound, while
the caller still gets every chunk. And the TTL boundary, exactly: an entry stored at ``t``
is live while ``now < t + ttl`` and expired from ``now >= t + ttl``.
"""

from __future__ import annotations

import gc
import math
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ollama_core import FakeClock, OllamaClient
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.request_caching import RequestCachingPlugin
from ollama_plugins.request_caching._lru import Entry, LRUCache
from tests.hostile import SubprocessEmulator

BUDGET = 256 * 1024


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


@pytest.fixture
def traced() -> Iterator[None]:
    gc.collect()
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def client_for(emu: OllamaEmulator, clock: FakeClock | None = None,
               **config: Any) -> OllamaClient:
    settings = {"max_bytes": BUDGET, "max_entries": 100_000,
                "endpoints": ["embed", "chat"], **config}
    return OllamaClient(emu.url, plugins=["request_caching"], clock=clock or FakeClock(),
                        plugin_config={"request_caching": settings})


def cache_of(client: OllamaClient) -> RequestCachingPlugin:
    plugin: RequestCachingPlugin = client.plugin("request_caching")
    return plugin


def chat(words: int, tag: str = "") -> dict[str, Any]:
    """A chat whose answer streams as ``words`` tiny chunks (and a final one)."""
    return {"model": "llama3.2", "messages": [{"role": "user", "content": f"hi {tag}"}],
            "options": {"num_predict": words}}


def held_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


# -- stored answers ------------------------------------------------------------------------


@pytest.mark.parametrize(("dimensions", "calls"), [(8, 400), (384, 100)],
                         ids=["tiny-answers", "embeddings"])
async def test_stored_answers_hold_no_more_memory_than_max_bytes(
        emu: OllamaEmulator, traced: None, dimensions: int, calls: int) -> None:
    budget = 96 * 1024
    async with client_for(emu, max_bytes=budget) as client:
        plugin = cache_of(client)
        for i in range(calls):
            await client.embed({"model": "all-minilm", "input": f"text {i}",
                                "dimensions": dimensions})
        full = held_now()
        stats = plugin.stats()
        plugin.clear()
        held = full - held_now()
    assert 0 < held <= budget
    assert stats["evictions"] > 0  # the bound was reached
    assert held <= stats["bytes"] <= budget
    # The count is the memory (with a margin for the tables' growth), not a loose guess.
    assert stats["bytes"] <= 1.5 * held


# -- streams being recorded ----------------------------------------------------------------
# Against the emulator in its own process, so the server's buffers are not in the figures.


@pytest.fixture(scope="module")
def server() -> Iterator[SubprocessEmulator]:
    with SubprocessEmulator() as emulator:
        yield emulator


async def _peak_while_streaming(client: OllamaClient, body: dict[str, Any],
                                cache: bool) -> tuple[list[tuple[str, bool]], bool, int]:
    """(each chunk's text and done flag, whether they came from the cache, the highest
    memory above the start seen at any chunk)."""
    start = held_now()
    peak = 0
    chunks = []
    async with client.chat_stream(body, extensions={"cache": cache}) as stream:
        async for chunk in stream:
            chunks.append((chunk.message.content, chunk.done))
            peak = max(peak, tracemalloc.get_traced_memory()[0] - start)
        assert stream.response is not None
        replayed = stream.response.from_cache
    return chunks, replayed, peak


def remote_client(server: SubprocessEmulator, budget: int) -> OllamaClient:
    return OllamaClient(server.url, plugins=["request_caching"], clock=FakeClock(),
                        plugin_config={"request_caching": {"max_bytes": budget,
                                                           "endpoints": ["chat"]}})


async def test_recording_a_long_stream_of_tiny_chunks_stops_at_the_bound(
        server: SubprocessEmulator, traced: None) -> None:
    budget = 64 * 1024
    body = chat(4_000)  # about 520 KB of small JSON lines
    async with remote_client(server, budget) as client:
        plugin = cache_of(client)
        plain, _, peak_off = await _peak_while_streaming(client, body, cache=False)
        recorded, _, peak_on = await _peak_while_streaming(client, body, cache=True)
        assert peak_on - peak_off <= budget * 1.25
        assert recorded == plain and len(recorded) == 4_001  # the caller got every chunk
        stats = plugin.stats()
        assert stats["entries"] == 0 and stats["recording"] == 0  # not cached, all given back
        again, replayed, _ = await _peak_while_streaming(client, body, cache=True)
        assert again == plain and not replayed  # answered upstream again


async def test_a_stream_within_the_bound_is_recorded_compactly_and_replayed(
        server: SubprocessEmulator, traced: None) -> None:
    body = chat(1_500)  # about 200 KB of small JSON lines, about 1.5 MB as dicts
    async with remote_client(server, BUDGET) as client:
        plugin = cache_of(client)
        plain, _, peak_off = await _peak_while_streaming(client, body, cache=False)
        recorded, _, peak_on = await _peak_while_streaming(client, body, cache=True)
        assert peak_on - peak_off <= BUDGET * 1.25
        stats = plugin.stats()
        assert stats["entries"] == 1 and stats["recording"] == 0
        again, replayed, _ = await _peak_while_streaming(client, body, cache=True)
        assert replayed and again == recorded == plain
        del plain, recorded, again
        full = held_now()
        plugin.clear()
        held = full - held_now()
    # One entry: the two tables' minimum size (about 600 bytes) is not spread over others.
    assert 0 < held <= stats["bytes"] + 1024 and stats["bytes"] <= BUDGET
    assert stats["bytes"] <= 1.5 * held


async def test_recordings_in_progress_count_against_max_bytes(
        emu: OllamaEmulator) -> None:
    """Entries are evicted to make room for a recording as it grows, and two recordings
    that do not fit together are not both kept: at every chunk, stored answers plus
    recordings stay within the bound."""
    budget = 96 * 1024
    async with client_for(emu, max_bytes=budget) as client:
        plugin = cache_of(client)
        for i in range(40):
            await client.embed({"model": "all-minilm", "input": f"text {i}"})
        assert plugin.stats()["bytes"] > budget // 2
        one = client.chat_stream(chat(500, "one"), extensions={"cache": True})
        two = client.chat_stream(chat(500, "two"), extensions={"cache": True})
        async with one, two:
            done = {"one": False, "two": False}
            while not all(done.values()):
                for name, stream in (("one", one), ("two", two)):
                    if done[name]:
                        continue
                    try:
                        await stream.__anext__()
                    except StopAsyncIteration:
                        done[name] = True
                    stats = plugin.stats()
                    assert stats["bytes"] + stats["recording"] <= budget
        stats = plugin.stats()
    assert stats["evictions"] > 0
    assert stats["recording"] == 0
    assert stats["entries"] >= 1


# -- the TTL boundary ----------------------------------------------------------------------


def _entry(stored_at: float, ttl: float, size: int = 100) -> Entry:
    return Entry("embed", b"x", False, size, stored_at + ttl)


@pytest.mark.parametrize(("now", "a_is_live"), [
    (math.nextafter(10.0, 0.0), True),  # the last instant a is live
    (10.0, False),                      # stored_at + ttl: a has expired
], ids=["just-before-expiry", "at-expiry"])
def test_a_put_at_the_expiry_instant_drops_the_expired_entry_not_a_live_one(
        now: float, a_is_live: bool) -> None:
    cache = LRUCache(max_entries=2, max_bytes=10_000)
    cache.put(b"a", _entry(0.0, 10.0), 0.0)
    cache.put(b"b", _entry(5.0, 10.0), 5.0)
    assert cache.get(b"a", 6.0) is not None  # a is now the most recently used
    cache.put(b"c", _entry(now, 10.0), now)
    assert b"c" in cache
    if a_is_live:
        # Full of live entries: the least recently used one (b) makes room.
        assert b"a" in cache and b"b" not in cache
        assert (cache.evictions, cache.expirations) == (1, 0)
    else:
        # a has expired: it goes, and the live b stays.
        assert b"a" not in cache and b"b" in cache
        assert (cache.evictions, cache.expirations) == (0, 1)
        assert cache.get(b"a", now) is None


@pytest.mark.parametrize(("delta", "live"), [(math.nextafter(10.0, 0.0), True), (10.0, False)],
                         ids=["just-before-expiry", "at-expiry"])
@pytest.mark.parametrize("ttl_changed", [False, True], ids=["one-ttl", "after-a-ttl-change"])
def test_get_at_the_boundary(delta: float, live: bool, ttl_changed: bool) -> None:
    cache = LRUCache(max_entries=10, max_bytes=10_000)
    if ttl_changed:
        # Stored first with a longer TTL: expiry order is no longer insertion order, so
        # the purge stops at this entry and get() must judge "a" by its own deadline.
        cache.put(b"z", _entry(0.0, 100.0), 0.0)
    cache.put(b"a", _entry(0.0, 10.0), 0.0)
    assert (cache.get(b"a", delta) is not None) is live
    assert (b"a" in cache) is live


@pytest.mark.parametrize("at_expiry", [False, True], ids=["just-before-expiry", "at-expiry"])
async def test_the_expiry_boundary_through_the_plugin_with_a_fake_clock(
        emu: OllamaEmulator, at_expiry: bool) -> None:
    clock = FakeClock()
    async with client_for(emu, clock, ttl=10, max_entries=2) as client:
        def embed(text: str) -> Any:
            return client.embed({"model": "all-minilm", "input": text})

        await embed("a")           # stored at 0, expires at 10
        clock.advance(5)
        await embed("b")           # stored at 5
        clock.advance(1)
        await embed("a")           # a hit: a is now the most recently used
        expiry = 10.0
        clock.advance((expiry if at_expiry else math.nextafter(expiry, 0.0)) - clock.now())
        assert clock.now() == (expiry if at_expiry else math.nextafter(expiry, 0.0))
        await embed("c")           # a miss, stored: something has to go
        hits = emu.hits("/api/embed")
        assert hits == 3
        # At expiry a has expired and the live b stayed; just before, a was live and the
        # least recently used b made room for c.
        await embed("b" if at_expiry else "a")
        assert emu.hits("/api/embed") == hits  # kept
        await embed("a" if at_expiry else "b")
        assert emu.hits("/api/embed") == hits + 1  # gone
        expected = ({"expirations": 1, "evictions": 1} if at_expiry
                    else {"expirations": 0, "evictions": 2})
    stats = cache_of(client).stats()
    assert {k: stats[k] for k in expected} == expected
