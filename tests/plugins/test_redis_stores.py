"""The shared stores against a real redis-server on loopback (``redis_server`` fixture), in
one process: two clients with stores of their own stand for two processes (the fleet
of real OS processes is ``test_redis_fleet.py``). The link's own breaker runs on the
client's clock, so outages and recoveries here are exact under a ``FakeClock``."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from ollama_core import (
    CircuitOpenError,
    FakeClock,
    InvalidConfigError,
    OllamaClient,
    RateLimitExceededError,
    StoreDegraded,
    StoreRecovered,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins._redis._link import RETRY_INTERVAL, StoreUnavailable
from ollama_plugins._redis.server import RedisServer, find_redis_server
from ollama_plugins.circuit_breaker.redis_store import RedisBreakerStore
from ollama_plugins.circuit_breaker.store import MemoryBreakerStore
from ollama_plugins.rate_limiting.redis_store import RedisLimiterStore
from ollama_plugins.rate_limiting.store import LimitSpec, MemoryLimiterStore
from ollama_plugins.request_caching.redis_store import RedisCacheStore
from ollama_plugins.request_caching.store import MemoryCacheStore

EMBED = {"model": "all-minilm:latest", "input": "the same text"}


def shared(store: str, prefix: str, **settings: Any) -> dict[str, Any]:
    return {"store": store, "store_prefix": prefix, **settings}


def client(url: str, plugins: list[str], config: dict[str, Any],
           clock: FakeClock | None = None) -> OllamaClient:
    return OllamaClient(url, plugins=plugins, plugin_config=config, clock=clock)


# -- settings --------------------------------------------------------------------------------


async def test_memory_is_the_default_and_a_url_picks_the_redis_stores(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    async with client(emulator.url, ["rate_limiting", "circuit_breaker", "request_caching"],
                      {}) as plain:
        assert isinstance(plain.plugin("rate_limiting").store, MemoryLimiterStore)
        assert isinstance(plain.plugin("circuit_breaker").store, MemoryBreakerStore)
        assert isinstance(plain.plugin("request_caching").store, MemoryCacheStore)
    config = {name: shared(redis_server.url, store_prefix)
              for name in ("rate_limiting", "circuit_breaker", "request_caching")}
    async with client(emulator.url, list(config), config) as fleet:
        assert isinstance(fleet.plugin("rate_limiting").store, RedisLimiterStore)
        assert isinstance(fleet.plugin("circuit_breaker").store, RedisBreakerStore)
        assert isinstance(fleet.plugin("request_caching").store, RedisCacheStore)
        await fleet.version()


async def test_the_settings_come_from_the_environment_too(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_CORE_PLUGINS", "rate_limiting")
    monkeypatch.setenv("OLLAMA_CORE_PLUGIN_CONFIG", json.dumps(
        {"rate_limiting": shared(redis_server.url, store_prefix, rate=5)}))
    async with OllamaClient(emulator.url) as c:
        store = c.plugin("rate_limiting").store
        assert isinstance(store, RedisLimiterStore) and store.prefix == store_prefix


@pytest.mark.parametrize("plugin", ["rate_limiting", "circuit_breaker", "request_caching"])
def test_a_store_that_is_not_a_redis_url_is_refused_naming_the_key(plugin: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        OllamaClient("http://127.0.0.1:1", plugins=[plugin],
                     plugin_config={plugin: {"store": "http://alice:hunter2@cache:6379"}})
    text = str(info.value)
    assert "store" in text and "Redis URL" in text and "hunter2" not in text


async def test_the_password_of_the_url_is_never_shown(
        emulator: OllamaEmulator, store_prefix: str, caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: the store is down at once, which is logged and evented.
    url = "redis://:hunter2@127.0.0.1:1/0"
    seen: list[Any] = []
    caplog.set_level(logging.INFO, logger="ollama_core")
    async with client(emulator.url, ["rate_limiting"],
                      {"rate_limiting": shared(url, store_prefix)}) as c:
        c.on_event(seen.append)
        plugin = c.plugin("rate_limiting")
        await c.version()
        shown = [repr(plugin), repr(plugin.settings), json.dumps(plugin.config),
                 repr(plugin.store), repr(plugin.store.link), *map(str, seen), caplog.text]
    assert any(isinstance(e, StoreDegraded) for e in seen)
    assert "127.0.0.1:1" in caplog.text
    for text in shown:
        assert "hunter2" not in text


# -- the limiter -------------------------------------------------------------------------------


async def test_two_clients_draw_from_one_bucket(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    # One token per 1000 s and a burst of 3: three calls between both clients, then none.
    config = {"rate_limiting": shared(redis_server.url, store_prefix, rate=0.001, burst=3,
                                      max_wait=0)}
    async with client(emulator.url, ["rate_limiting"], config) as a, \
            client(emulator.url, ["rate_limiting"], config) as b:
        await a.version()
        await b.version()
        await a.version()
        with pytest.raises(RateLimitExceededError) as info:
            await b.version()
        assert info.value.retry_after is not None and 990 < info.value.retry_after <= 1000
        assert emulator.hits("/api/version") == 3


async def test_a_token_in_the_future_is_reserved_and_waited_for(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str,
        clock: FakeClock) -> None:
    # Burst 1 at 1/s: the second call reserves the next token and sleeps on the client's
    # clock until it comes (about a second of Redis time later).
    config = {"rate_limiting": shared(redis_server.url, store_prefix, rate=1, burst=1)}
    async with client(emulator.url, ["rate_limiting"], config, FakeClock(autoadvance=True)) as c:
        await c.version()
        start = c.clock.now()
        await c.version()
        assert 0.9 < c.clock.now() - start <= 1.0
        assert c.plugin("rate_limiting").stats()["waited"] == 1


async def test_slots_are_shared_and_given_back_when_the_response_ends(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    config = {"rate_limiting": shared(redis_server.url, store_prefix, rate=None,
                                      max_concurrent=1, max_wait=0)}
    async with client(emulator.url, ["rate_limiting"], config) as a, \
            client(emulator.url, ["rate_limiting"], config) as b:
        stream = a.chat_stream(model="llama3.2:latest",
                               messages=[{"role": "user", "content": "hi"}])
        await stream.__anext__()
        assert a.plugin("rate_limiting").stats()["limiters"]["chat"]["in_flight"] == 1
        with pytest.raises(RateLimitExceededError) as info:
            await b.chat(model="llama3.2:latest", messages=[{"role": "user", "content": "x"}])
        assert info.value.retry_after is None
        await stream.aclose()
        await a.plugin("rate_limiting").store.flush()
        await b.chat(model="llama3.2:latest", messages=[{"role": "user", "content": "x"}])


async def test_every_key_has_a_ttl_and_one_hash_tag(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    config = {"rate_limiting": shared(redis_server.url, store_prefix, rate=5,
                                      max_concurrent=2, per_upstream=True)}
    async with client(emulator.url, ["rate_limiting"], config) as c:
        stream = c.chat_stream(model="llama3.2:latest",
                               messages=[{"role": "user", "content": "hi"}])
        await stream.__anext__()
        async with aioredis.Redis.from_url(redis_server.url) as r:
            keys = [k.decode() async for k in r.scan_iter(f"{store_prefix}:*")]
            assert len(keys) == 2
            for key in keys:
                assert await r.pttl(key) > 0
                assert key.count("{") == 1 and f"{{{emulator.url}}}" in key
        await stream.aclose()


# -- the breaker -------------------------------------------------------------------------------


async def test_an_open_verdict_makes_the_other_client_fail_fast(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    config = {"circuit_breaker": shared(redis_server.url, store_prefix, fail_max=1,
                                        reset_timeout=60)}
    async with client(emulator.url, ["circuit_breaker"], config) as a, \
            client(emulator.url, ["circuit_breaker"], config) as b:
        await b.version()  # b has seen the breaker closed
        emulator.faults.add(path="/api/version", status=500, times=1)
        with pytest.raises(Exception):
            await a.version()
        assert a.plugin("circuit_breaker").state("version") == "open"
        await a.plugin("circuit_breaker").store.flush()
        before = emulator.hits("/api/version")
        with pytest.raises(CircuitOpenError) as info:
            await b.version()
        assert 55 < info.value.retry_after <= 60
        assert emulator.hits("/api/version") == before


async def test_half_open_hands_out_the_probe_places_fleet_wide(
        redis_server: RedisServer, store_prefix: str) -> None:
    # Two stores stand for two processes; both see the key half-open at once (open for 0 s).
    stores = [_breaker_store(redis_server.url, store_prefix) for _ in range(2)]
    try:
        stores[0].half_open("http://gpu-1:11434 chat")
        await stores[0].flush()
        first = await stores[0].admit("http://gpu-1:11434 chat", 1)
        second = await stores[1].admit("http://gpu-1:11434 chat", 1)
        assert first.state == "half_open" and first.lease is not None
        assert second.state == "half_open" and second.lease is None
        stores[0].release_probe("http://gpu-1:11434 chat", first.lease)
        await stores[0].flush()
        third = await stores[1].admit("http://gpu-1:11434 chat", 1)
        assert third.lease is not None
        stores[1].close("http://gpu-1:11434 chat")
        await stores[1].flush()
        assert (await stores[0].admit("http://gpu-1:11434 chat", 1)).state == "closed"
    finally:
        for store in stores:
            await store.aclose()


def _breaker_store(url: str, prefix: str) -> RedisBreakerStore:
    from ollama_plugins._redis._link import RedisLink

    clock = FakeClock()
    link = RedisLink(url, timeout=1.0, clock=clock, source="circuit_breaker",
                     emit=lambda event: None)
    return RedisBreakerStore(link, prefix=prefix, lease_ttl=5.0, clock=clock)


# -- the cache -------------------------------------------------------------------------------


async def test_an_answer_cached_by_one_client_is_a_hit_in_the_other_and_stored_as_json(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    config = {"request_caching": shared(redis_server.url, store_prefix)}
    async with client(emulator.url, ["request_caching"], config) as a, \
            client(emulator.url, ["request_caching"], config) as b:
        first = await a.embed(**EMBED)
        await a.plugin("request_caching").store.flush()
        second = await b.embed(**EMBED)
        assert (a.plugin("request_caching").hits, b.plugin("request_caching").hits) == (0, 1)
        assert second.embeddings == first.embeddings
        assert emulator.hits("/api/embed") == 1
        async with aioredis.Redis.from_url(redis_server.url) as r:
            keys = [k async for k in r.scan_iter(f"{store_prefix}:rc:*") if b"index" not in k]
            assert len(keys) == 1 and await r.pttl(keys[0]) > 0
            stored = json.loads(await r.get(keys[0]))
        assert stored["endpoint"] == "embed" and stored["value"]["embeddings"]


async def test_the_shared_cache_keeps_max_entries(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    config = {"request_caching": shared(redis_server.url, store_prefix, max_entries=2)}
    async with client(emulator.url, ["request_caching"], config) as c:
        for text in ("one", "two", "three"):
            await c.embed(model="all-minilm:latest", input=text)
        await c.plugin("request_caching").store.flush()
        async with aioredis.Redis.from_url(redis_server.url) as r:
            keys = [k async for k in r.scan_iter(f"{store_prefix}:rc:*") if b"index" not in k]
        assert len(keys) == 2


async def test_a_value_that_is_not_a_stored_answer_is_a_miss(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    config = {"request_caching": shared(redis_server.url, store_prefix)}
    async with client(emulator.url, ["request_caching"], config) as c:
        await c.embed(**EMBED)
        store = c.plugin("request_caching").store
        await store.flush()
        async with aioredis.Redis.from_url(redis_server.url) as r:
            keys = [k async for k in r.scan_iter(f"{store_prefix}:rc:*") if b"index" not in k]
            await r.set(keys[0], b"\x80not json")
        await c.embed(**EMBED)
        assert c.plugin("request_caching").hits == 0 and emulator.hits("/api/embed") == 2


# -- Redis down: fail open, or closed; back -----------------------------------------------------


async def test_down_the_limiter_goes_on_locally_at_its_share_and_comes_back(
        emulator: OllamaEmulator, store_prefix: str) -> None:
    server = RedisServer()  # not started yet: its port refuses connections
    clock = FakeClock()
    config = {"rate_limiting": shared(server.url, store_prefix, rate=4, burst=4, max_wait=0,
                                      store_processes=4)}
    seen: list[Any] = []
    try:
        async with client(emulator.url, ["rate_limiting"], config, clock) as c:
            c.on_event(seen.append)
            await c.version()  # decided locally: the degraded bucket holds 4 / 4 = 1 token
            with pytest.raises(RateLimitExceededError):
                await c.version()
            degraded = [e for e in seen if isinstance(e, StoreDegraded)]
            assert len(degraded) == 1 and degraded[0].source == "rate_limiting"
            assert degraded[0].store == server.url
            server.start()
            clock.advance(RETRY_INTERVAL)  # the link tries Redis again
            await c.version()
            assert [type(e) for e in seen if isinstance(e, (StoreDegraded, StoreRecovered))] \
                == [StoreDegraded, StoreRecovered]
            async with aioredis.Redis.from_url(server.url) as r:
                assert [k async for k in r.scan_iter(f"{store_prefix}:*")] != []
    finally:
        server.__exit__(None, None, None)


async def test_fail_closed_refuses_calls_while_the_store_is_down(
        emulator: OllamaEmulator, store_prefix: str) -> None:
    url = "redis://127.0.0.1:1/0"
    for plugin in ("rate_limiting", "circuit_breaker"):
        async with client(emulator.url, [plugin],
                          {plugin: shared(url, store_prefix, fail_closed=True)}) as c:
            with pytest.raises(StoreUnavailable) as info:
                await c.version()
            assert "127.0.0.1:1" in str(info.value)
    assert emulator.hits("/api/version") == 0


async def test_down_the_breaker_keeps_its_own_verdicts_and_the_cache_misses(
        emulator: OllamaEmulator, store_prefix: str) -> None:
    url = "redis://127.0.0.1:1/0"
    config = {"circuit_breaker": shared(url, store_prefix, fail_max=1, reset_timeout=60),
              "request_caching": shared(url, store_prefix)}
    async with client(emulator.url, list(config), config) as c:
        emulator.faults.add(path="/api/version", status=500, times=1)
        with pytest.raises(Exception):
            await c.version()
        with pytest.raises(CircuitOpenError):
            await c.version()
        await c.embed(**EMBED)
        await c.embed(**EMBED)  # a hit in the local store, while Redis is down
        assert c.plugin("request_caching").hits == 1 and emulator.hits("/api/embed") == 1


def test_the_server_binary_is_found() -> None:
    assert find_redis_server().endswith("redis-server")


# -- health checks -------------------------------------------------------------------------------


async def test_one_client_probes_and_the_other_counts_its_finding(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    # A fake clock and a jitter hold the background rounds back: only check_now probes.
    config = {"health_checks": shared(redis_server.url, store_prefix, interval=60,
                                      healthy_threshold=1, unhealthy_threshold=1, jitter=10)}
    async with client(emulator.url, ["health_checks"], config, FakeClock()) as a, \
            client(emulator.url, ["health_checks"], config, FakeClock()) as b:
        await a.plugin("health_checks").check_now()
        report = await b.plugin("health_checks").check_now()
        assert emulator.hits("/") == 1  # one probe for the two
        assert report[emulator.url]["status"] == "healthy"
        again = await b.plugin("health_checks").check_now()  # nothing new: not counted twice
        assert again[emulator.url]["checks"] == 1


async def test_down_every_client_probes_for_itself(
        emulator: OllamaEmulator, store_prefix: str) -> None:
    config = {"health_checks": shared("redis://127.0.0.1:1/0", store_prefix,
                                      healthy_threshold=1, jitter=10)}
    async with client(emulator.url, ["health_checks"], config, FakeClock()) as a, \
            client(emulator.url, ["health_checks"], config, FakeClock()) as b:
        await a.plugin("health_checks").check_now()
        report = await b.plugin("health_checks").check_now()
        assert report[emulator.url]["status"] == "healthy"
        assert emulator.hits("/") == 2


async def test_a_transition_sent_just_before_the_client_closes_still_reaches_redis(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    config = {"circuit_breaker": shared(redis_server.url, store_prefix, fail_max=1,
                                        reset_timeout=60)}
    async with client(emulator.url, ["circuit_breaker"], config) as a:
        emulator.faults.add(path="/api/version", status=500, times=1)
        with pytest.raises(Exception):
            await a.version()
    # Closed without a flush: the close sent it.
    async with aioredis.Redis.from_url(redis_server.url) as r:
        verdicts = [k async for k in r.scan_iter(f"{store_prefix}:cb:*:verdict")]
        assert len(verdicts) == 1 and await r.pttl(verdicts[0]) > 55_000


async def test_reconfiguring_the_store_moves_the_plugin_to_the_new_one(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    async with client(emulator.url, ["rate_limiting", "request_caching"], {}) as c:
        await c.version()
        for name in ("rate_limiting", "request_caching"):
            c.configure_plugin(name, shared(redis_server.url, store_prefix))
        assert isinstance(c.plugin("rate_limiting").store, RedisLimiterStore)
        assert isinstance(c.plugin("request_caching").store, RedisCacheStore)
        await c.version()
        retired = c.plugin("rate_limiting").store
        c.configure_plugin("rate_limiting", {"store": "memory"})
        assert isinstance(c.plugin("rate_limiting").store, MemoryLimiterStore)
        await c.version()
    # Closing the client closed the retired store too: its link refuses any call.
    assert isinstance(retired, RedisLimiterStore)
    with pytest.raises(StoreUnavailable, match="closed"):
        await retired.link.call(lambda r: r.ping())


def test_a_missing_server_binary_fails_with_how_to_install_one(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from ollama_plugins._redis.server import RedisServerMissing

    monkeypatch.setenv("OLLAMA_CORE_REDIS_SERVER", str(tmp_path / "nothing-here"))
    with pytest.raises(RedisServerMissing, match="OLLAMA_CORE_REDIS_SERVER"):
        find_redis_server()
    monkeypatch.delenv("OLLAMA_CORE_REDIS_SERVER")
    monkeypatch.setattr("ollama_plugins._redis.server.find_spec", lambda name: None)
    monkeypatch.setattr("ollama_plugins._redis.server.sys.prefix", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RedisServerMissing, match="apt-get install redis-server"):
        find_redis_server()
