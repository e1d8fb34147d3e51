"""The request caching plugin: LRU + TTL + size bound, single flight, stream recording,
exact under a fake clock, against the emulator on loopback."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest

from ollama_core import (
    ChatResponse,
    ClientClosedError,
    EmbedResponse,
    Event,
    FakeClock,
    IncompleteStreamError,
    InvalidConfigError,
    OllamaClient,
    RateLimitExceededError,
    ServerError,
    StreamErrorLine,
    StreamInterruptedError,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.request_caching import RequestCachingPlugin, merge_stream
from ollama_plugins.request_caching._key import cache_key


class Events:
    name = "events"

    def __init__(self) -> None:
        self.seen: list[Event] = []

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        if event.source == "request_caching":
            self.seen.append(event)


def make_client(emu: OllamaEmulator, clock: FakeClock, config: dict[str, Any] | None = None,
                *extra: Any, extra_config: dict[str, Any] | None = None) -> OllamaClient:
    return OllamaClient(emu.url, clock=clock, plugins=["request_caching", *extra],
                        plugin_config={"request_caching": config or {}, **(extra_config or {})})


def cache(client: OllamaClient) -> RequestCachingPlugin:
    plugin = client.plugin("request_caching")
    assert isinstance(plugin, RequestCachingPlugin)
    return plugin


def embed(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": "all-minilm", "input": text, **extra}


def chat(text: str = "hi", n: int = 3, **extra: Any) -> dict[str, Any]:
    return {"model": "llama3.2", "messages": [{"role": "user", "content": text}],
            "options": {"num_predict": n}, **extra}


# -- hits and misses ---------------------------------------------------------------------


async def test_a_second_identical_embed_is_answered_from_memory(emulator: OllamaEmulator,
                                                                clock: FakeClock) -> None:
    events = Events()
    async with make_client(emulator, clock, None, events) as client:
        first = await client.embed(embed())
        second = await client.embed(embed())
        stats = cache(client).stats()
    assert emulator.hits("/api/embed") == 1
    assert isinstance(second, EmbedResponse) and second == first
    assert second.embeddings is not first.embeddings  # a copy, not shared state
    assert stats["hits"] == 1 and stats["misses"] == 1 and stats["entries"] == 1
    assert stats["bytes"] > 0
    assert [(e.name, e.data) for e in events.seen] == [
        ("cache_miss", {"endpoint": "embed"}),
        ("cache_hit", {"endpoint": "embed", "coalesced": False})]


async def test_keep_alive_does_not_change_the_key(emulator: OllamaEmulator,
                                                  clock: FakeClock) -> None:
    async with make_client(emulator, clock) as client:
        a = await client.embed(embed(keep_alive="5m"))
        b = await client.embed(embed(keep_alive=0))
        c = await client.embed(embed())
    assert a == b == c
    assert emulator.hits("/api/embed") == 1


@pytest.mark.parametrize("first_as_stream", [False, True], ids=["plain-then-stream",
                                                                 "stream-then-plain"])
async def test_stream_and_plain_calls_share_an_entry(emulator: OllamaEmulator, clock: FakeClock,
                                                     first_as_stream: bool) -> None:
    async with OllamaClient(emulator.url, plugins=[]) as plain:
        reference = await plain.chat(chat())
    async with make_client(emulator, clock, {"endpoints": ["chat"]}) as client:
        if first_as_stream:
            upstream_chunks = [c async for c in client.chat_stream(chat())]
            assert len(upstream_chunks) == 4
            reply = await client.chat(chat())  # merged from the recorded lines
            assert reply.message.content == reference.message.content
            assert (reply.done, reply.done_reason, reply.eval_count) == (
                reference.done, reference.done_reason, reference.eval_count)
        else:
            stored = await client.chat(chat())
            chunks = [c async for c in client.chat_stream(chat())]
            assert len(chunks) == 1  # the whole answer as one final chunk
            assert chunks[0].done and chunks[0].message.content == stored.message.content
    assert emulator.hits("/api/chat") == 2  # the reference call, then one for the cache


@pytest.mark.parametrize("changed", [
    embed("other input"),
    embed(model="nomic-embed-text"),
    embed(options={"num_ctx": 512}),
    embed(truncate=False),
    embed(dimensions=8),
], ids=["input", "model", "options", "truncate", "dimensions"])
async def test_any_other_difference_misses(emulator: OllamaEmulator, clock: FakeClock,
                                           changed: dict[str, Any]) -> None:
    async with make_client(emulator, clock) as client:
        await client.embed(embed())
        await client.embed(changed)
        await client.embed(changed)
        stats = cache(client).stats()
    assert emulator.hits("/api/embed") == 2
    assert stats["misses"] == 2 and stats["hits"] == 1 and stats["entries"] == 2


def test_the_key_ignores_stream_and_keep_alive_and_key_order() -> None:
    a = cache_key("POST", "/api/chat", {"model": "m", "stream": True, "keep_alive": "1m",
                                        "options": {"a": 1, "b": 2}, "messages": []})
    b = cache_key("POST", "/api/chat", {"messages": [], "options": {"b": 2, "a": 1},
                                        "model": "m", "stream": False})
    assert a == b
    assert a != cache_key("POST", "/api/generate", {"messages": [], "options": {"b": 2, "a": 1},
                                                    "model": "m"})
    assert a != cache_key("GET", "/api/chat", {"messages": [], "options": {"b": 2, "a": 1},
                                               "model": "m"})


# -- freshness and bounds ----------------------------------------------------------------


async def test_an_entry_lives_exactly_ttl_seconds(emulator: OllamaEmulator,
                                                  clock: FakeClock) -> None:
    async with make_client(emulator, clock, {"ttl": 60}) as client:
        await client.embed(embed())
        clock.advance(59.999999)
        await client.embed(embed())
        assert emulator.hits("/api/embed") == 1
        clock.advance(60 - clock.now())
        assert clock.now() == 60.0
        await client.embed(embed())
        assert emulator.hits("/api/embed") == 2
        stats = cache(client).stats()
    assert stats["expirations"] == 1 and stats["entries"] == 1
    assert stats["hits"] == 1 and stats["misses"] == 2


async def test_least_recently_used_entry_is_evicted_first(emulator: OllamaEmulator,
                                                          clock: FakeClock) -> None:
    async with make_client(emulator, clock, {"max_entries": 2}) as client:
        await client.embed(embed("a"))
        await client.embed(embed("b"))
        await client.embed(embed("a"))  # a is now more recent than b
        await client.embed(embed("c"))  # evicts b
        assert cache(client).stats()["evictions"] == 1
        assert emulator.hits("/api/embed") == 3
        await client.embed(embed("a"))  # still there
        await client.embed(embed("c"))  # still there
        assert emulator.hits("/api/embed") == 3
        await client.embed(embed("b"))  # gone: upstream again, and now evicts a
        assert emulator.hits("/api/embed") == 4
        await client.embed(embed("c"))
        assert emulator.hits("/api/embed") == 4
        await client.embed(embed("a"))
        assert emulator.hits("/api/embed") == 5
        stats = cache(client).stats()
    assert stats["entries"] == 2 and stats["evictions"] == 3


async def test_max_bytes_evicts_by_stored_size(emulator: OllamaEmulator,
                                               clock: FakeClock) -> None:
    sizes: dict[str, int] = {}
    async with make_client(emulator, clock) as client:
        for text in ("a", "b", "c"):
            before = cache(client).stats()["bytes"]
            await client.embed(embed(text))
            sizes[text] = cache(client).stats()["bytes"] - before
    emulator.clear_requests()
    # Room for any two of the three answers, never for all three.
    limit = sizes["a"] + sizes["b"] + sizes["c"] - 1
    assert limit >= max(sizes["a"] + sizes["b"], sizes["b"] + sizes["c"], sizes["a"] + sizes["c"])
    async with make_client(emulator, clock, {"max_bytes": limit}) as client:
        await client.embed(embed("a"))
        await client.embed(embed("b"))
        await client.embed(embed("a"))  # touch a
        await client.embed(embed("c"))  # evicts b, the least recently used
        stats = cache(client).stats()
        assert stats["evictions"] == 1 and stats["bytes"] == sizes["a"] + sizes["c"]
        await client.embed(embed("a"))
        await client.embed(embed("c"))
        assert emulator.hits("/api/embed") == 3
        await client.embed(embed("b"))
        assert emulator.hits("/api/embed") == 4


async def test_an_answer_bigger_than_max_bytes_is_not_stored(emulator: OllamaEmulator,
                                                             clock: FakeClock) -> None:
    async with make_client(emulator, clock, {"max_bytes": 100}) as client:
        await client.embed(embed())
        await client.embed(embed())
        stats = cache(client).stats()
    assert emulator.hits("/api/embed") == 2
    assert stats["entries"] == 0 and stats["bytes"] == 0 and stats["evictions"] == 0


async def test_clear_forgets_everything(emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator, clock) as client:
        await client.embed(embed())
        cache(client).clear()
        assert cache(client).stats()["entries"] == 0
        await client.embed(embed())
    assert emulator.hits("/api/embed") == 2


# -- single flight -----------------------------------------------------------------------


async def test_fifty_identical_concurrent_embeds_make_one_upstream_call(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator, clock) as client:
        replies = await asyncio.gather(*(client.embed(embed()) for _ in range(50)))
        stats = cache(client).stats()
    assert emulator.hits("/api/embed") == 1
    assert all(r == replies[0] for r in replies)
    assert len({id(r.embeddings) for r in replies}) == 50  # each caller has its own copy
    assert stats["misses"] == 1 and stats["hits"] == 49 and stats["coalesced"] == 49
    assert stats["in_flight"] == 0 and stats["entries"] == 1


async def test_the_shared_call_survives_the_cancellation_of_its_first_caller(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator, clock) as client:
        first = asyncio.create_task(client.embed(embed()))
        others = [asyncio.create_task(client.embed(embed())) for _ in range(3)]
        await asyncio.sleep(0)  # all four have joined the one flight; nothing answered yet
        assert cache(client).stats()["in_flight"] == 1
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        replies = await asyncio.gather(*others)
        assert all(r == replies[0] and r.embeddings for r in replies)
        assert await client.embed(embed()) == replies[0]  # and it was stored
        stats = cache(client).stats()
    assert emulator.hits("/api/embed") == 1
    assert stats["in_flight"] == 0


async def test_when_every_caller_leaves_the_shared_call_is_cancelled(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    emulator.faults.add(path="/api/embed", headers_delay=30.0)  # real seconds, never awaited
    async with make_client(emulator, clock) as client:
        only = asyncio.create_task(client.embed(embed()))
        await asyncio.sleep(0)
        flight = next(iter(cache(client)._flights.values()))
        only.cancel()
        with pytest.raises(asyncio.CancelledError):
            await only
        assert cache(client).stats()["in_flight"] == 0
        with pytest.raises(asyncio.CancelledError):
            await flight.task  # the upstream call was stopped, not left running
        emulator.faults.clear()
        reply = await client.embed(embed())  # a fresh flight, not the dead one
        assert reply.embeddings
        assert cache(client).stats()["entries"] == 1


async def test_closing_the_client_ends_shared_calls_still_running(emulator: OllamaEmulator,
                                                                  clock: FakeClock) -> None:
    emulator.faults.add(path="/api/embed", headers_delay=30.0)
    client = make_client(emulator, clock)
    async with client:
        caller = asyncio.create_task(client.embed(embed()))
        await asyncio.sleep(0)
        flight = next(iter(cache(client)._flights.values()))
    assert flight.task.done()  # ended by the close (cancelled or refused), not leaked
    with pytest.raises(ClientClosedError):
        await caller


async def test_an_error_goes_to_every_waiting_caller_and_is_not_stored(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    emulator.faults.add(path="/api/embed", status=500)
    async with make_client(emulator, clock) as client:
        results = await asyncio.gather(*(client.embed(embed()) for _ in range(5)),
                                       return_exceptions=True)
        assert all(isinstance(r, ServerError) and r.status_code == 500 for r in results)
        assert emulator.hits("/api/embed") == 1
        assert cache(client).stats()["entries"] == 0
        await client.embed(embed())  # goes upstream again, and succeeds
        await client.embed(embed())  # now from memory
    assert emulator.hits("/api/embed") == 2


# -- what is cached ----------------------------------------------------------------------


@pytest.mark.parametrize(("config", "extensions", "cached"), [
    ({}, None, False),
    ({}, {"cache": True}, True),
    ({"endpoints": ["chat"]}, None, True),
    ({"endpoints": ["chat"]}, {"cache": False}, False),
], ids=["default-off", "asked-per-call", "enabled-by-config", "opted-out-per-call"])
async def test_chat_is_cached_only_when_asked(emulator: OllamaEmulator, clock: FakeClock,
                                              config: dict[str, Any],
                                              extensions: dict[str, Any] | None,
                                              cached: bool) -> None:
    async with make_client(emulator, clock, config) as client:
        a = await client.chat(chat(), extensions=extensions)
        b = await client.chat(chat(), extensions=extensions)
        stats = cache(client).stats()
    assert a.message.content == b.message.content
    assert emulator.hits("/api/chat") == (1 if cached else 2)
    assert stats["entries"] == (1 if cached else 0)
    assert stats["hits"] + stats["misses"] == (2 if cached else 0)


async def test_opting_out_bypasses_a_default_endpoint(emulator: OllamaEmulator,
                                                      clock: FakeClock) -> None:
    async with make_client(emulator, clock) as client:
        await client.embed(embed())
        await client.embed(embed(), extensions={"cache": False})
    assert emulator.hits("/api/embed") == 2


async def test_a_complete_stream_is_replayed_chunk_for_chunk(emulator: OllamaEmulator,
                                                             clock: FakeClock) -> None:
    async with make_client(emulator, clock, {"endpoints": ["chat"]}) as client:
        stream = client.chat_stream(chat(n=5))
        first = [c async for c in stream]
        assert stream.response is not None and not stream.response.from_cache
        replay_stream = client.chat_stream(chat(n=5))
        replay = [c async for c in replay_stream]
        assert replay_stream.response is not None and replay_stream.response.from_cache
    assert len(first) == 6 and replay == first
    assert all(isinstance(c, ChatResponse) for c in replay)
    assert emulator.hits("/api/chat") == 1


async def _consume(stream: Any) -> None:
    async for _ in stream:
        pass


@pytest.mark.parametrize(("fault", "error"), [
    ({"truncate_after": 2}, IncompleteStreamError),
    ({"error_after": 2}, StreamErrorLine),
    ({"reset_after": 2}, StreamInterruptedError),
    (None, None),  # the consumer stops after two chunks
], ids=["truncated", "error-line", "reset", "closed-early"])
async def test_an_incomplete_stream_is_not_stored(emulator: OllamaEmulator, clock: FakeClock,
                                                  fault: dict[str, Any] | None,
                                                  error: type[Exception] | None) -> None:
    if fault is not None:
        emulator.faults.add(path="/api/chat", **fault)
    async with make_client(emulator, clock, {"endpoints": ["chat"]}) as client:
        stream = client.chat_stream(chat(n=5))
        if error is not None:
            with pytest.raises(error):
                await _consume(stream)
        else:
            async with stream:
                assert (await stream.__anext__()).done is False
                await stream.__anext__()
        assert cache(client).stats()["entries"] == 0
        again = [c async for c in client.chat_stream(chat(n=5))]
        assert again[-1].done
        assert cache(client).stats()["entries"] == 1
    assert emulator.hits("/api/chat") == 2


@pytest.mark.parametrize("where", ["generate", "chat"])
async def test_images_are_keyed_by_their_bytes(emulator: OllamaEmulator, clock: FakeClock,
                                               where: str) -> None:
    picture = bytes(range(256)) * 40

    def request(image: bytes) -> dict[str, Any]:
        data = base64.b64encode(image).decode()
        if where == "generate":
            return {"model": "llava", "prompt": "what is it?", "images": [data],
                    "options": {"num_predict": 2}}
        return {"model": "llava", "options": {"num_predict": 2},
                "messages": [{"role": "user", "content": "what is it?", "images": [data]}]}

    call = "generate" if where == "generate" else "chat"
    async with make_client(emulator, clock, {"endpoints": [call]}) as client:
        send = client.generate if where == "generate" else client.chat
        await send(request(picture))
        await send(request(bytes(picture)))  # the same bytes, encoded again
        await send(request(picture[:-1] + b"\x00"))  # one byte differs
    assert emulator.hits(f"/api/{call}") == 2


def test_merging_a_stream_joins_text_thinking_tool_calls_and_logprobs() -> None:
    lines = [
        {"message": {"role": "assistant", "content": "Hel", "thinking": "hm"},
         "logprobs": [{"token": "Hel"}], "done": False},
        {"message": {"role": "assistant", "content": "lo",
                     "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
         "logprobs": [{"token": "lo"}], "done": False},
        {"message": {"role": "assistant", "content": ""}, "done": True, "eval_count": 2},
    ]
    merged = merge_stream(lines)
    assert merged == {
        "message": {"role": "assistant", "content": "Hello", "thinking": "hm",
                    "tool_calls": [{"function": {"name": "f", "arguments": {}}}]},
        "logprobs": [{"token": "Hel"}, {"token": "lo"}], "done": True, "eval_count": 2}
    assert merge_stream([{"response": "a", "done": False},
                         {"response": "b", "done": True, "context": [1]}]) == {
        "response": "ab", "done": True, "context": [1]}


# -- cooperation, configuration ----------------------------------------------------------


async def test_a_hit_costs_no_rate_limit_token(emulator: OllamaEmulator,
                                               clock: FakeClock) -> None:
    config = {"rate_limiting": {"rate": 1, "burst": 1, "max_wait": 0}}
    async with make_client(emulator, clock, None, "rate_limiting",
                           extra_config=config) as client:
        await client.embed(embed())
        await client.embed(embed())  # from memory: the limiter is never asked
        with pytest.raises(RateLimitExceededError):
            await client.embed(embed("other"))
    assert emulator.hits("/api/embed") == 1


async def test_reconfigure_keeps_entries_and_applies_new_bounds(emulator: OllamaEmulator,
                                                                clock: FakeClock) -> None:
    async with make_client(emulator, clock) as client:
        for text in "abc":
            await client.embed(embed(text))
        client.configure_plugin("request_caching", {"max_entries": 1, "ttl": 10})
        stats = cache(client).stats()
        assert stats["entries"] == 1 and stats["evictions"] == 2
        await client.embed(embed("c"))
        assert emulator.hits("/api/embed") == 3


def test_defaults() -> None:
    plugin = RequestCachingPlugin({})
    assert plugin.ttl == 300.0
    assert plugin.endpoints == {"embed", "embeddings", "show"}
    assert (plugin.max_entries, plugin.max_bytes) == (1024, 64 * 1024 * 1024)


@pytest.mark.parametrize(("config", "named"), [
    ({"ttl": 0}, "ttl"),
    ({"ttl": -5}, "ttl"),
    ({"ttl": "300"}, "ttl"),
    ({"ttl": float("inf")}, "ttl"),
    ({"ttl": True}, "ttl"),
    ({"max_entries": 0}, "max_entries"),
    ({"max_entries": 1.5}, "max_entries"),
    ({"max_bytes": 0}, "max_bytes"),
    ({"max_bytes": "64MiB"}, "max_bytes"),
    ({"endpoints": "chat"}, "endpoints"),
    ({"endpoints": ["chat", "pull"]}, "'pull'"),
    ({"endpoints": ["delete"]}, "'delete'"),
    ({"endpoints": [1]}, "endpoints"),
    ({"size": 10}, "'size'"),
])
def test_bad_configuration_is_rejected_at_construction_naming_the_key(
        config: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        OllamaClient("http://127.0.0.1:9", plugins=["request_caching"],
                     plugin_config={"request_caching": config})
    assert named in str(info.value)
    assert "request_caching" in str(info.value)
