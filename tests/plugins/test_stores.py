"""The store seams: a plugin of its own swaps the limiter's, the breaker's and the cache's
store without forking the built-in plugin, and every decision goes through that store.

Two clients sharing one in-process store stand for two processes sharing a store: the
limit, the breaker verdict (with its half-open probe lease) and the cached answers are
then common to both. Against the emulator on loopback, exact with a fake clock.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ollama_core import (
    CircuitOpenError,
    FakeClock,
    OllamaClient,
    RateLimitExceededError,
    ServiceUnavailableError,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.circuit_breaker import (
    BreakerStore,
    CircuitBreakerPlugin,
    MemoryBreakerStore,
    Verdict,
)
from ollama_plugins.rate_limiting import (
    Admission,
    LimiterState,
    LimiterStore,
    LimitSpec,
    MemoryLimiterStore,
    RateLimitingPlugin,
    Rejected,
)
from ollama_plugins.request_caching import (
    CacheStore,
    MemoryCacheStore,
    RequestCachingPlugin,
    StoredAnswer,
)

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello"}],
        "options": {"num_predict": 3}}


def gen(tag: str) -> dict[str, Any]:
    return {"model": "llama3.2", "prompt": tag, "options": {"num_predict": 1}}


def embed(text: str) -> dict[str, Any]:
    return {"model": "all-minilm", "input": text}


# -- the limiter ---------------------------------------------------------------------------


class RecordingLimiterStore:
    """A store of its own: the default one underneath, every decision written down."""

    def __init__(self, inner: LimiterStore) -> None:
        self.inner = inner
        self.log: list[tuple[Any, ...]] = []

    def try_acquire(self, key: str, limits: LimitSpec) -> Admission | None:
        admission = self.inner.try_acquire(key, limits)
        if admission is None:
            return None
        self.log.append(("admitted", key, admission.waited))
        # Without the inner store's ready-made callback, so releases come through here.
        return Admission(admission.lease, admission.waited)

    async def acquire(self, key: str, limits: LimitSpec) -> Admission:
        try:
            admission = await self.inner.acquire(key, limits)
        except Rejected as exc:
            self.log.append(("rejected", key, exc.retry_after))
            raise
        self.log.append(("admitted", key, admission.waited))
        return Admission(admission.lease, admission.waited)

    def release(self, key: str, lease: Any) -> None:
        self.log.append(("released", key))
        self.inner.release(key, lease)

    def limits_changed(self, key: str, limits: LimitSpec) -> None:
        self.log.append(("limits", key, limits.rate))
        self.inner.limits_changed(key, limits)

    def peek(self, key: str) -> LimiterState:
        return self.inner.peek(key)

    async def aclose(self) -> None:
        self.log.append(("closed",))
        await self.inner.aclose()


class SharedLimits:
    """A third-party plugin: gives the built-in limiter its own store at setup."""

    name = "shared_limits"

    def __init__(self) -> None:
        self.store: RecordingLimiterStore | None = None

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self.store = RecordingLimiterStore(MemoryLimiterStore(client.clock))
        client.plugin(RateLimitingPlugin).use_store(self.store)


async def test_a_plugin_swaps_the_limiters_store_and_every_decision_goes_through_it(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    shared = SharedLimits()
    config = {"rate": 1, "burst": 1, "max_wait": 0, "max_concurrent": 2}
    async with OllamaClient(emulator.url, clock=clock, plugins=["rate_limiting", shared],
                            plugin_config={"rate_limiting": config}) as client:
        limiter = client.plugin(RateLimitingPlugin)
        assert limiter.store is shared.store
        await client.generate(gen("a"))
        with pytest.raises(RateLimitExceededError) as info:
            await client.generate(gen("b"))
        assert info.value.retry_after == 1.0  # the in-process store's exact answer
        clock.advance(1.0)
        await client.generate(gen("c"))
        client.configure_plugin("rate_limiting", {**config, "rate": 2})
        assert limiter.stats()["limiters"]["generate"]["in_flight"] == 0
    assert emulator.hits("/api/generate") == 2
    assert shared.store is not None
    assert shared.store.log == [
        ("admitted", "generate", None), ("released", "generate"),
        ("rejected", "generate", 1.0),
        ("admitted", "generate", None), ("released", "generate"),
        ("limits", "generate", 2.0),
        ("closed",),
    ]


class QuotaStore:
    """A store with a policy of its own (a fixed quota per key, no refill): the plugin
    takes its answers as they are."""

    def __init__(self, quota: int) -> None:
        self.quota = quota
        self.used: dict[str, int] = {}

    def try_acquire(self, key: str, limits: LimitSpec) -> Admission | None:
        return None  # every decision is a round trip here

    async def acquire(self, key: str, limits: LimitSpec) -> Admission:
        if self.used.get(key, 0) >= self.quota:
            raise Rejected(3600.0)
        self.used[key] = self.used.get(key, 0) + 1
        return Admission(None)

    def release(self, key: str, lease: Any) -> None:
        raise AssertionError("no lease was handed out")

    def limits_changed(self, key: str, limits: LimitSpec) -> None:
        pass

    def peek(self, key: str) -> LimiterState:
        return LimiterState(None, None, None)

    async def aclose(self) -> None:
        pass


async def test_a_store_given_to_the_constructor_decides(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    store = QuotaStore(2)
    assert isinstance(store, LimiterStore)
    plugin = RateLimitingPlugin({"rate": 1000}, store=store)
    async with OllamaClient(emulator.url, clock=clock, plugins=[plugin]) as client:
        await client.generate(gen("a"))
        await client.generate(gen("b"))
        with pytest.raises(RateLimitExceededError) as info:
            await client.generate(gen("c"))
        assert info.value.retry_after == 3600.0
        stats = plugin.stats()
    assert emulator.hits("/api/generate") == 2
    assert (stats["allowed"], stats["rejected"]) == (2, 1)
    assert stats["limiters"]["generate"]["tokens"] is None  # the store does not say


async def test_two_clients_sharing_one_limiter_store_share_one_bucket(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    store = MemoryLimiterStore(clock)
    config = {"rate_limiting": {"rate": 1, "burst": 2, "max_wait": 0}}

    def client() -> OllamaClient:
        plugin = RateLimitingPlugin(config["rate_limiting"], store=store)
        return OllamaClient(emulator.url, clock=clock, plugins=[plugin])

    async with client() as one, client() as two:
        await one.generate(gen("a"))
        await two.generate(gen("b"))
        for each in (one, two):
            with pytest.raises(RateLimitExceededError):
                await each.generate(gen("c"))
    assert emulator.hits("/api/generate") == 2


# -- the breaker ---------------------------------------------------------------------------


class RecordingBreakerStore:
    """The default breaker store underneath, every verdict and publication written down."""

    def __init__(self, inner: BreakerStore) -> None:
        self.inner = inner
        self.log: list[tuple[Any, ...]] = []

    def peek(self, key: str) -> Verdict | None:
        return self.inner.peek(key)

    async def admit(self, key: str, max_probes: int) -> Verdict:
        verdict = await self.inner.admit(key, max_probes)
        if verdict.state != "closed":
            self.log.append(("admit", verdict.state, verdict.retry_after,
                             verdict.lease is not None))
        return verdict

    def release_probe(self, key: str, lease: Any) -> None:
        self.log.append(("release_probe",))
        self.inner.release_probe(key, lease)

    def trip(self, key: str, open_for: float) -> None:
        self.log.append(("trip", open_for))
        self.inner.trip(key, open_for)

    def half_open(self, key: str) -> None:
        self.log.append(("half_open",))
        self.inner.half_open(key)

    def close(self, key: str) -> None:
        self.log.append(("close",))
        self.inner.close(key)

    async def aclose(self) -> None:
        await self.inner.aclose()


class SharedVerdicts:
    name = "shared_verdicts"

    def __init__(self) -> None:
        self.store: RecordingBreakerStore | None = None

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self.store = RecordingBreakerStore(MemoryBreakerStore(client.clock))
        client.plugin(CircuitBreakerPlugin).use_store(self.store)


async def test_a_plugin_swaps_the_breakers_store_verdicts_and_probe_leases_go_through_it(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    shared = SharedVerdicts()
    async with OllamaClient(emulator.url, clock=clock,
                            plugins=["circuit_breaker", shared],
                            plugin_config={"circuit_breaker": {
                                "fail_max": 2, "reset_timeout": 10}}) as client:
        emulator.faults.add(path="/api/chat", status=503, times=3)
        for _ in range(2):
            with pytest.raises(ServiceUnavailableError):
                await client.chat(CHAT)
        with pytest.raises(CircuitOpenError) as info:
            await client.chat(CHAT)
        assert info.value.retry_after == 10.0
        clock.advance(10)
        with pytest.raises(ServiceUnavailableError):  # the probe fails: open again
            await client.chat(CHAT)
        clock.advance(10)
        await client.chat(CHAT)  # the probe succeeds: closed
        assert client.plugin(CircuitBreakerPlugin).state("chat") == "closed"
    assert shared.store is not None
    assert shared.store.log == [
        ("trip", 10.0),
        ("admit", "open", 10.0, False),
        ("admit", "half_open", 0.0, True), ("release_probe",), ("trip", 10.0),
        ("admit", "half_open", 0.0, True), ("release_probe",), ("close",),
    ]


async def test_a_verdict_in_a_shared_store_makes_the_other_client_fail_fast_and_one_probe_crosses(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    store = MemoryBreakerStore(clock)

    def client() -> OllamaClient:
        plugin = CircuitBreakerPlugin({"fail_max": 1, "reset_timeout": 5}, store=store)
        return OllamaClient(emulator.url, clock=clock, plugins=[plugin])

    async with client() as one, client() as two:
        emulator.faults.add(path="/api/chat", status=503, times=1)
        with pytest.raises(ServiceUnavailableError):
            await one.chat(CHAT)
        with pytest.raises(CircuitOpenError) as info:
            await two.chat(CHAT)  # never failed here: the verdict is shared
        assert info.value.retry_after == 5.0
        assert emulator.hits("/api/chat") == 1
        clock.advance(5)
        # Half-open: one probe for both clients. A stream holds its lease until it ends.
        async with one.chat_stream(CHAT) as probe:
            first = await probe.__anext__()
            with pytest.raises(CircuitOpenError) as busy:
                await two.chat(CHAT)
            assert busy.value.retry_after == 0.0
            _ = [first, *[chunk async for chunk in probe]]
        assert one.plugin(CircuitBreakerPlugin).state("chat") == "closed"
        await two.chat(CHAT)  # the verdict is gone for both
        assert two.plugin(CircuitBreakerPlugin).state("chat") == "closed"
    assert emulator.hits("/api/chat") == 3


# -- the cache -----------------------------------------------------------------------------


class JsonCacheStore:
    """A cache store holding only the portable form (JSON text), as a store outside the
    process would; no TTL, no bound (enough for the test)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.log: list[tuple[str, str]] = []

    def peek(self, key: bytes) -> StoredAnswer | None:
        return None  # nothing is held in the process: every lookup is a round trip

    async def get(self, key: bytes) -> StoredAnswer | None:
        raw = self.data.get(key.hex())
        self.log.append(("get", "hit" if raw is not None else "miss"))
        return StoredAnswer.from_bytes(raw) if raw is not None else None

    def put(self, key: bytes, answer: StoredAnswer, ttl: float, *, reserved: int = 0) -> None:
        self.log.append(("put", answer.endpoint))
        self.data[key.hex()] = answer.to_bytes()

    def delete(self, key: bytes) -> None:
        self.data.pop(key.hex(), None)

    def clear(self) -> None:
        self.data.clear()

    def reserve(self, size: int) -> bool:
        return True

    def release(self, size: int) -> None:
        pass

    def resize(self, max_entries: int, max_bytes: int) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"entries": len(self.data)}

    async def aclose(self) -> None:
        pass


class PortableCache:
    name = "portable_cache"

    def __init__(self) -> None:
        self.store = JsonCacheStore()

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        client.plugin(RequestCachingPlugin).use_store(self.store)


async def test_a_plugin_swaps_the_cache_store_and_answers_round_trip_through_json(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    portable = PortableCache()
    async with OllamaClient(emulator.url, clock=clock,
                            plugins=["request_caching", portable],
                            plugin_config={"request_caching": {
                                "endpoints": ["embed", "chat"]}}) as client:
        first = await client.embed(embed("a"))
        again = await client.embed(embed("a"))
        assert again.embeddings == first.embeddings
        streamed = [c.message.content async for c in client.chat_stream(CHAT)]
        replayed = [c.message.content async for c in client.chat_stream(CHAT)]
        merged = await client.chat(CHAT)
        assert replayed == streamed and merged.message.content == "".join(streamed)
        assert client.plugin(RequestCachingPlugin).stats()["entries"] == 2
    assert emulator.hits("/api/embed") == 1 and emulator.hits("/api/chat") == 1
    assert portable.store.log == [("get", "miss"), ("put", "embed"), ("get", "hit"),
                                  ("get", "miss"), ("put", "chat"),
                                  ("get", "hit"), ("get", "hit")]
    for raw in portable.store.data.values():
        assert json.loads(raw)["endpoint"] in {"embed", "chat"}  # JSON text, nothing else


def test_a_stored_answer_has_a_json_form() -> None:
    plain = StoredAnswer.of_body("embed", {"embeddings": [[0.5, -1.0]], "model": "m"})
    back = StoredAnswer.from_json(json.loads(json.dumps(plain.to_json())))
    assert (back.endpoint, back.stream, back.value()) == ("embed", False, plain.value())
    lines = [{"response": "a", "done": False}, {"response": "b", "done": True}]
    stream = StoredAnswer.from_json({"endpoint": "generate", "stream": True, "value": lines})
    assert stream.value() == lines and stream.value() is not stream.value()
    assert StoredAnswer.from_bytes(stream.to_bytes()).value() == lines
    bad: Any
    for bad in ({}, {"endpoint": 1, "stream": False, "value": 1},
                {"endpoint": "chat", "stream": True, "value": []}, []):
        with pytest.raises(ValueError):
            StoredAnswer.from_json(bad)


async def test_two_clients_sharing_one_cache_store_hit_each_others_answers(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    store = MemoryCacheStore(clock=clock)
    assert isinstance(store, CacheStore)

    def client() -> OllamaClient:
        return OllamaClient(emulator.url, clock=clock,
                            plugins=[RequestCachingPlugin({}, store=store)])

    async with client() as one, client() as two:
        await one.embed(embed("a"))
        response = await two.embed(embed("a"))
        assert response.embeddings
    assert emulator.hits("/api/embed") == 1


# -- the in-process stores through their protocols ----------------------------------------


async def test_the_memory_limiter_store_decides_at_once_or_takes_nothing() -> None:
    clock = FakeClock()
    store = MemoryLimiterStore(clock)
    limits = LimitSpec(rate=1.0, burst=1, max_wait=0.0, max_concurrent=1)
    first = store.try_acquire("k", limits)
    assert first is not None and first.lease is not None and first.done is not None
    # No slot now: nothing taken, so the token is still there for later.
    assert store.try_acquire("k", limits) is None
    assert store.peek("k") == LimiterState(tokens=0.0, waiting=0, in_flight=1)
    store.release("k", first.lease)
    clock.advance(0.5)
    # A slot but no token: the slot is given back, nothing is held.
    assert store.try_acquire("k", limits) is None
    assert store.peek("k") == LimiterState(tokens=0.5, waiting=0, in_flight=0)
    with pytest.raises(Rejected) as info:
        await store.acquire("k", limits)
    assert info.value.retry_after == 0.5 and store.peek("k").in_flight == 0


async def test_the_memory_breaker_store_voids_the_leases_of_an_earlier_verdict() -> None:
    clock = FakeClock()
    store = MemoryBreakerStore(clock)
    assert store.peek("k") is not None and (await store.admit("k", 1)).state == "closed"
    store.trip("k", 10.0)
    assert store.peek("k") is None  # a verdict: ask admit
    clock.advance(4.0)
    assert await store.admit("k", 1) == Verdict("open", retry_after=6.0)
    clock.advance(6.0)
    probe = await store.admit("k", 1)
    assert probe.state == "half_open" and probe.lease is not None
    assert (await store.admit("k", 1)).lease is None  # one probe at a time
    store.trip("k", 10.0)  # the probe failed (elsewhere): a new verdict
    store.release_probe("k", probe.lease)  # late: must not free a place of the new one
    clock.advance(10.0)
    second = await store.admit("k", 1)
    assert second.lease is not None
    assert (await store.admit("k", 1)).lease is None
    store.close("k")
    assert (await store.admit("k", 1)).state == "closed"


async def test_the_memory_cache_store_serves_until_the_ttl_runs_out() -> None:
    clock = FakeClock()
    store = MemoryCacheStore(max_entries=10, max_bytes=1 << 20, clock=clock)
    key = b"k" * 32
    store.put(key, StoredAnswer.of_body("embed", {"embeddings": [[1.0]]}), ttl=5.0)
    hit = store.peek(key)
    assert hit is not None and hit.value() == {"embeddings": [[1.0]]}
    assert hit.value() is not hit.value()  # every caller gets its own copy
    clock.advance(5.0)
    assert store.peek(key) is None and await store.get(key) is None
    assert store.stats()["expirations"] == 1
    store.put(key, StoredAnswer.of_body("embed", {}), ttl=5.0)
    store.delete(key)
    assert store.stats()["entries"] == 0


async def test_a_store_looked_at_before_the_plugin_is_attached_runs_on_the_clients_clock(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    limiter = RateLimitingPlugin({"rate": 1, "burst": 1, "max_wait": 0})
    assert limiter.stats()["limiters"] == {} and limiter.store is not None
    async with OllamaClient(emulator.url, clock=clock, plugins=[limiter]) as client:
        store = limiter.store
        assert isinstance(store, MemoryLimiterStore) and store.clock is clock
        await client.generate(gen("a"))
        with pytest.raises(RateLimitExceededError) as info:
            await client.generate(gen("b"))
        assert info.value.retry_after == 1.0
