"""``embed(..., arrays=True)`` with the plugins that see the body: the request cache (in
memory, coalesced calls, a Redis store shared by two clients) and otel, over the emulator.

The rule: a call gets rows of its own kind, whatever answered it (the server, the store, a
call in flight, another process through Redis); list calls keep the keys, and so the hits,
they always had; an arrays call is cached too, under a key of its own."""

from __future__ import annotations

import asyncio
import json
import struct
from array import array
from typing import Any

import pytest
import redis.asyncio as aioredis

from ollama_core import EmbedArraysResponse, EmbedResponse, FakeClock, OllamaClient
from ollama_core.emulator import OllamaEmulator
from ollama_plugins._redis.server import RedisServer
from ollama_plugins.request_caching import RequestCachingPlugin
from ollama_plugins.request_caching._key import cache_key
from ollama_plugins.request_caching.store import StoredAnswer

EMBED = {"model": "all-minilm", "input": ["one text", "another"]}


def caching(emu: OllamaEmulator, clock: FakeClock, **config: Any) -> OllamaClient:
    return OllamaClient(emu.url, clock=clock, plugins=["request_caching"],
                        plugin_config={"request_caching": config})


def cache(client: OllamaClient) -> RequestCachingPlugin:
    plugin = client.plugin("request_caching")
    assert isinstance(plugin, RequestCachingPlugin)
    return plugin


def bits(rows: Any) -> list[list[bytes]]:
    return [[struct.pack("<d", v) for v in row] for row in rows]


def is_arrays(reply: Any) -> bool:
    return type(reply) is EmbedArraysResponse and all(
        type(row) is array and row.typecode == "d" for row in reply.embeddings)


def is_lists(reply: Any) -> bool:
    return type(reply) is EmbedResponse and all(type(row) is list for row in reply.embeddings)


def test_list_calls_keep_their_keys_and_each_form_has_its_own() -> None:
    body = {"model": "m", "input": "x"}
    legacy = cache_key("POST", "/api/embed", body)
    assert cache_key("POST", "/api/embed", body, True) == legacy
    assert len({legacy, cache_key("POST", "/api/embed", body, "arrays"),
                cache_key("POST", "/api/embed", body, False)}) == 3


async def test_an_arrays_call_is_cached_and_hits_with_arrays(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with caching(emulator, clock) as client:
        first = await client.embed(EMBED, arrays=True)
        second = await client.embed(EMBED, arrays=True)
        stats = cache(client).stats()
    assert is_arrays(first) and is_arrays(second)
    assert bits(second.embeddings) == bits(first.embeddings)
    assert second.embeddings[0] is not first.embeddings[0]  # its own copy
    assert (stats["misses"], stats["hits"], stats["entries"]) == (1, 1, 1)
    assert emulator.hits("/api/embed") == 1


async def test_list_and_arrays_calls_never_answer_each_other(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with caching(emulator, clock) as client:
        lists = await client.embed(EMBED)
        arrays = await client.embed(EMBED, arrays=True)  # its own key: a miss
        lists_again = await client.embed(EMBED)  # still the hit it always was
        arrays_again = await client.embed(EMBED, arrays=True)
        stats = cache(client).stats()
    assert is_lists(lists) and is_lists(lists_again)
    assert is_arrays(arrays) and is_arrays(arrays_again)
    assert bits(arrays.embeddings) == bits(lists.embeddings) == bits(arrays_again.embeddings)
    assert lists_again == lists
    assert (stats["misses"], stats["hits"], stats["entries"]) == (2, 2, 2)
    assert emulator.hits("/api/embed") == 2


async def test_coalesced_calls_each_get_their_own_rows_of_their_own_kind(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with caching(emulator, clock) as client:
        replies = await asyncio.gather(*(client.embed(EMBED, arrays=i % 2 == 0)
                                         for i in range(10)))
        stats = cache(client).stats()
    arrays, lists = replies[0::2], replies[1::2]
    assert all(is_arrays(r) for r in arrays) and all(is_lists(r) for r in lists)
    assert emulator.hits("/api/embed") == 2  # one shared call per form
    assert stats["coalesced"] == 8 and stats["entries"] == 2
    assert all(bits(r.embeddings) == bits(lists[0].embeddings) for r in replies)
    rows = [r.embeddings[0] for r in arrays]
    assert len({id(row) for row in rows}) == 5  # no caller shares a row with another
    rows[0][0] = 99.0
    assert all(row[0] != 99.0 for row in rows[1:])


def test_a_stored_arrays_answer_keeps_its_doubles_exactly() -> None:
    rows = [array("d", [0.0, -0.0, 5e-324, float("nan"), float("inf"), 0.030368093]),
            array("d")]
    body = {"model": "m", "embeddings": rows, "prompt_eval_count": 3}
    answer = StoredAnswer.of_body("embed", body)
    value = answer.value()
    assert [type(row) for row in value["embeddings"]] == [array, array]
    assert [row.tobytes() for row in value["embeddings"]] == [row.tobytes() for row in rows]
    assert value["prompt_eval_count"] == 3 and value["embeddings"][0] is not rows[0]
    # 8 bytes a value in the store (a marshal float takes 9, its list more).
    assert len(answer.image) < 6 * 9 + 100
    # The portable form is JSON numbers (lists), read back as the same doubles.
    portable = answer.to_json()["value"]["embeddings"]
    assert [type(row) for row in portable] == [list, list]
    assert bits(portable) == bits(rows)
    finite = StoredAnswer.of_body("embed", {"embeddings": [array("d", [-0.0, 0.5])]})
    back = StoredAnswer.from_bytes(finite.to_bytes()).value()["embeddings"]
    assert bits(back) == bits([[-0.0, 0.5]]) and type(back[0]) is list


async def test_an_arrays_answer_through_redis_is_arrays_and_list_keys_are_untouched(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str,
        clock: FakeClock) -> None:
    config = {"store": redis_server.url, "store_prefix": store_prefix}
    async with caching(emulator, clock, **config) as a, \
            caching(emulator, clock, **config) as b:
        first = await a.embed(EMBED, arrays=True)
        await cache(a).store.flush()  # type: ignore[attr-defined]
        shared = await b.embed(EMBED, arrays=True)  # a hit through Redis
        lists = await b.embed(EMBED)  # another key: a miss, lists
        await cache(b).store.flush()  # type: ignore[attr-defined]
        lists_in_a = await a.embed(EMBED)  # the list answer b stored: a hit, lists
        hits = (cache(a).hits, cache(b).hits)
        async with aioredis.Redis.from_url(redis_server.url) as r:
            keys = [k async for k in r.scan_iter(f"{store_prefix}:rc:*") if b"index" not in k]
            stored = [json.loads(await r.get(k)) for k in keys]
    assert is_arrays(first) and is_arrays(shared) and is_lists(lists) and is_lists(lists_in_a)
    assert bits(shared.embeddings) == bits(first.embeddings) == bits(lists.embeddings)
    assert hits == (1, 1)
    assert emulator.hits("/api/embed") == 2
    assert len(stored) == 2  # one answer of each form, both as JSON numbers
    assert all(stored_one["value"]["embeddings"] == lists.embeddings for stored_one in stored)


async def test_an_arrays_call_with_the_cache_off_is_neither_looked_up_nor_stored(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with caching(emulator, clock) as client:
        off = await client.embed(EMBED, arrays=True, extensions={"cache": False})
        stats = cache(client).stats()
    assert is_arrays(off) and stats["entries"] == 0 and stats["misses"] == 0


# -- otel reads the usage and the dimension count from an arrays body ----------------------


async def test_otel_reports_an_arrays_embed_as_a_list_one(emulator: OllamaEmulator) -> None:
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from ollama_plugins.otel import OtelPlugin

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    try:
        async with OllamaClient(emulator.url, plugins=[OtelPlugin(
                {}, tracer_provider=provider)]) as client:
            lists = await client.embed(EMBED)
            arrays = await client.embed(EMBED, arrays=True)
        one, two = (dict(s.attributes or {}) for s in spans.get_finished_spans()
                    if s.name == "embeddings all-minilm")
    finally:
        provider.shutdown()
    assert is_arrays(arrays)
    assert two["gen_ai.embeddings.dimension.count"] == len(arrays.embeddings[0]) > 0
    assert two["gen_ai.usage.input_tokens"] == arrays.prompt_eval_count > 0
    assert one == two
    assert lists.prompt_eval_count == arrays.prompt_eval_count
