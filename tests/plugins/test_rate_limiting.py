"""The rate limiting plugin: token bucket and in-flight cap per endpoint, exact under a
fake clock, against the emulator on loopback."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

import pytest
import yarl

from ollama_core import (
    ChatResponse,
    Event,
    FakeClock,
    InvalidConfigError,
    OllamaClient,
    RateLimitExceededError,
    Request,
    ServerError,
    StreamErrorLine,
    Upstream,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.rate_limiting import RateLimitingPlugin
from ollama_plugins.rate_limiting._bucket import Rejected, TokenBucket


class Recorder:
    """Sees every attempt as it goes on the wire (after the limiter) and every event."""

    name = "recorder"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str]] = []
        self.events: list[Event] = []

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        body = request.json or {}
        tag = body.get("prompt") or (body.get("messages") or [{}])[-1].get("content", "")
        self.sent.append((self.clock.now(), tag))

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        if event.name == "rate_limited":
            self.events.append(event)


def make_client(emu: OllamaEmulator, clock: FakeClock, config: dict[str, Any],
                recorder: Recorder | None = None) -> OllamaClient:
    plugins: list[Any] = ["rate_limiting"]
    if recorder is not None:
        plugins.append(recorder)
    return OllamaClient(emu.url, clock=clock, plugins=plugins,
                        plugin_config={"rate_limiting": config})


def limiter(client: OllamaClient) -> RateLimitingPlugin:
    plugin = client.plugin("rate_limiting")
    assert isinstance(plugin, RateLimitingPlugin)
    return plugin


def limits(client: OllamaClient, endpoint: str) -> dict[str, Any]:
    """The limiter snapshot of ``endpoint`` (empty before its first call)."""
    return dict(limiter(client).stats()["limiters"].get(endpoint, {}))


def gen(tag: str) -> dict[str, Any]:
    return {"model": "llama3.2", "prompt": tag, "options": {"num_predict": 1}}


def chat(tag: str, n: int = 3) -> dict[str, Any]:
    return {"model": "llama3.2", "messages": [{"role": "user", "content": tag}],
            "options": {"num_predict": n}}


async def settle(condition: Callable[[], bool]) -> None:
    """Let ready tasks run (no time passes, real or fake) until ``condition`` holds."""
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


# -- pacing ------------------------------------------------------------------------------


async def test_fifty_calls_at_ten_per_second_burst_five_pass_in_fifo_order_at_exact_slots(
        emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    rec = Recorder(clock)
    async with make_client(emulator, clock, {"rate": 10, "burst": 5}, rec) as client:
        finished: list[float] = []

        async def one(i: int) -> None:
            reply = await client.generate(gen(f"req {i}"))
            assert reply.done
            finished.append(clock.now())

        calls = asyncio.gather(*(one(i) for i in range(50)))
        # Move time only while the head of the line sleeps, straight to the next slot
        # (advancing by ``k / 10 - now`` keeps every reading exact: ``0.3``, not
        # ``0.30000000000000004``).
        for k in range(1, 46):
            await settle(lambda: clock.pending == 1)
            clock.advance(k / 10 - clock.now())
        await calls
        stats = limiter(client).stats()

    # Send order is launch order, and each call passes at its exact slot.
    assert [tag for _, tag in rec.sent] == [f"req {i}" for i in range(50)]
    times = [t for t, _ in rec.sent]
    assert times == [0.0] * 5 + [k / 10 for k in range(1, 46)]
    assert max(finished) == 4.5
    # The bucket's promise: any window of w seconds holds at most burst + rate * w sends.
    for i, j in itertools.combinations(range(50), 2):
        assert j - i + 1 <= 5 + 10 * (times[j] - times[i]) + 1e-9
    # Every call reached the server once (arrival order on 50 sockets is the kernel's).
    assert sorted(r.json["prompt"] for r in emulator.requests) == sorted(
        f"req {i}" for i in range(50))
    assert stats["allowed"] == 50 and stats["waited"] == 45 and stats["rejected"] == 0
    assert stats["limiters"]["generate"]["tokens"] == 0.0
    # One event per call that waited, with the exact wait.
    assert [(e.data["endpoint"], e.data["waited"], e.data["rejected"]) for e in rec.events] == [
        ("generate", k / 10, False) for k in range(1, 46)]
    # Only the head of the line ever slept: one sleep per waiting call, no polling.
    assert clock.sleeps == pytest.approx([0.1] * 45)


async def test_max_wait_zero_rejects_at_once_naming_the_endpoint(
        emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    rec = Recorder(clock)
    async with make_client(emulator, clock, {"rate": 1, "burst": 1, "max_wait": 0},
                           rec) as client:
        await client.chat(chat("first"))
        with pytest.raises(RateLimitExceededError) as info:
            await client.chat(chat("second"))
        stats = limiter(client).stats()
    err = info.value
    assert err.endpoint == "chat"
    assert "'chat'" in str(err)
    assert err.retry_after == 1.0
    assert clock.now() == 0.0 and clock.sleeps == []
    assert emulator.hits("/api/chat") == 1
    assert stats["rejected"] == 1 and stats["allowed"] == 1
    assert [(e.data["endpoint"], e.data["waited"], e.data["rejected"]) for e in rec.events] == [
        ("chat", 0.0, True)]


@pytest.mark.parametrize(("rate", "retry_after", "sleeps"), [
    (5, None, [0.2]),  # the token is 0.2 s away: within max_wait, so it waits and passes
    (2, 0.5, []),  # 0.5 s away: refused at once, saying when the token would come
], ids=["waits-then-passes", "rejected-at-once"])
async def test_max_wait_bounds_the_wait_for_a_token(emulator: OllamaEmulator, rate: float,
                                                    retry_after: float | None,
                                                    sleeps: list[float]) -> None:
    clock = FakeClock(autoadvance=True)
    async with make_client(emulator, clock, {"rate": rate, "burst": 1, "max_wait": 0.25}
                           ) as client:
        await client.generate(gen("first"))
        if retry_after is None:
            await client.generate(gen("second"))
        else:
            with pytest.raises(RateLimitExceededError) as info:
                await client.generate(gen("second"))
            assert info.value.retry_after == retry_after
            assert info.value.endpoint == "generate"
    assert clock.sleeps == sleeps and clock.now() == sum(sleeps)
    assert emulator.hits("/api/generate") == (2 if retry_after is None else 1)


async def test_max_wait_caps_the_line_and_rejects_the_rest_with_their_retry_after(
        emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    rec = Recorder(clock)
    async with make_client(emulator, clock, {"rate": 10, "burst": 5, "max_wait": 0.25},
                           rec) as client:
        calls = [asyncio.create_task(client.generate(gen(f"req {i}"))) for i in range(50)]
        await settle(lambda: sum(c.done() for c in calls) >= 43 and clock.pending == 1)
        clock.advance(0.1)
        await calls[5]
        clock.advance(0.1)
        await calls[6]
        results = await asyncio.gather(*calls, return_exceptions=True)
        stats = limiter(client).stats()
    # 5 from the burst, then the slots at 0.1 s and 0.2 s; the 0.3 s slot is too late.
    assert all(not isinstance(r, BaseException) for r in results[:7])
    rejected = results[7:]
    assert all(isinstance(r, RateLimitExceededError) for r in rejected)
    assert {r.retry_after for r in rejected if isinstance(r, RateLimitExceededError)} == {0.3}
    assert [t for t, _ in rec.sent] == [0.0] * 5 + [0.1, 0.2]
    assert emulator.hits("/api/generate") == 7
    assert stats["allowed"] == 7 and stats["waited"] == 2 and stats["rejected"] == 43


async def test_max_wait_on_a_busy_slot_waits_then_rejects(emulator: OllamaEmulator) -> None:
    clock = FakeClock(autoadvance=True)
    async with make_client(emulator, clock, {"rate": None, "max_concurrent": 1,
                                             "max_wait": 0.25}) as client:
        async with client.chat_stream(chat("held")) as held:
            await held.start()  # committed and unread: the slot stays taken
            with pytest.raises(RateLimitExceededError) as info:
                await client.chat(chat("second"))
            assert clock.now() == 0.25  # waited exactly max_wait
            assert info.value.retry_after is None and info.value.endpoint == "chat"
            assert "1 calls already in flight" in str(info.value)
            assert limits(client, "chat")["in_flight"] == 1
        # Closing the stream freed the slot.
        assert limits(client, "chat")["in_flight"] == 0
        await client.chat(chat("third"))
    assert emulator.hits("/api/chat") == 2


# -- FIFO and giving up a place -------------------------------------------------------


async def test_a_cancelled_head_hands_its_slot_time_to_the_next_waiter() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    assert bucket.try_take(0.0)
    passed: list[tuple[str, float]] = []

    async def waiter(tag: str) -> None:
        await bucket.take(clock, None)
        passed.append((tag, clock.now()))

    tasks = {tag: asyncio.create_task(waiter(tag)) for tag in ("a", "b", "c", "d")}
    await settle(lambda: clock.pending == 1 and bucket.waiting == 4)
    tasks["a"].cancel()  # the head, asleep until 1.0
    tasks["c"].cancel()  # a waiter further back
    await settle(lambda: tasks["a"].done() and tasks["c"].done() and clock.pending == 1)
    clock.advance(1.0)
    await tasks["b"]
    clock.advance(1.0)
    await tasks["d"]
    # b took a's slot at 1.0 and d took c's at 2.0: nothing wasted, nobody jumped ahead.
    assert passed == [("b", 1.0), ("d", 2.0)]
    assert bucket.waiting == 0 and bucket.tokens(2.0) == 0.0
    assert clock.sleeps == [1.0, 1.0, 1.0]  # a (cancelled), b, d: one sleeper at a time


async def test_a_rejected_call_takes_no_place_in_line() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=1, now=0.0)
    assert bucket.try_take(0.0)
    first = asyncio.create_task(bucket.take(clock, None))
    await settle(lambda: clock.pending == 1)
    with pytest.raises(Rejected) as info:
        await bucket.take(clock, deadline=1.5)  # its token would come at 2.0
    assert info.value.retry_after == 2.0
    assert bucket.waiting == 1
    clock.advance(1.0)
    await first
    assert bucket.try_take(1.0) is False and bucket.tokens(1.0) == 0.0


async def test_a_cancelled_waiter_is_not_counted_and_the_next_one_gets_its_token(
        emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    rec = Recorder(clock)
    async with make_client(emulator, clock, {"rate": 1, "burst": 1}, rec) as client:
        await client.generate(gen("first"))
        waiting = asyncio.create_task(client.generate(gen("cancelled")))
        nxt = asyncio.create_task(client.generate(gen("next")))
        await settle(lambda: clock.pending == 1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await settle(lambda: clock.pending == 1)
        clock.advance(1.0)
        await nxt
        stats = limiter(client).stats()
    assert rec.sent == [(0.0, "first"), (1.0, "next")]
    assert stats["allowed"] == 2 and stats["rejected"] == 0 and stats["waited"] == 1


# -- concurrency cap ----------------------------------------------------------------------


async def test_max_concurrent_admits_waiters_in_order_as_streams_close(
        emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    rec = Recorder(clock)
    async with make_client(emulator, clock, {"rate": None, "max_concurrent": 2},
                           rec) as client:
        streams = [client.chat_stream(chat(f"s{i}")) for i in range(6)]
        starts = [asyncio.create_task(s.start()) for s in streams]
        await starts[0]
        await starts[1]
        stats = limits(client, "chat")
        assert stats["in_flight"] == 2 and stats["waiting"] == 4
        assert emulator.hits("/api/chat") == 2
        for i in range(2, 6):
            await streams[i - 2].aclose()  # frees one slot: exactly the next call goes
            await starts[i]
            assert emulator.hits("/api/chat") == i + 1
            assert limits(client, "chat")["in_flight"] == 2
        for s in streams[4:]:
            await s.aclose()
        assert limits(client, "chat")["in_flight"] == 0
    assert [tag for _, tag in rec.sent] == [f"s{i}" for i in range(6)]


async def _end_complete(client: OllamaClient, stream: Any, emu: OllamaEmulator) -> None:
    chunks = [c async for c in stream]
    assert chunks[-1].done


async def _end_error(client: OllamaClient, stream: Any, emu: OllamaEmulator) -> None:
    with pytest.raises(StreamErrorLine):
        async for _ in stream:
            pass


async def _end_cancel(client: OllamaClient, stream: Any, emu: OllamaEmulator) -> None:
    stream.cancel()
    assert [c async for c in stream] == []


async def _end_aclose(client: OllamaClient, stream: Any, emu: OllamaEmulator) -> None:
    await stream.aclose()


async def _end_task_cancelled(client: OllamaClient, stream: Any, emu: OllamaEmulator) -> None:
    # The server waits 30 s (real) before the second line: the read below is blocked on
    # the socket when its task is cancelled. Nothing waits for those 30 s.
    await stream.__anext__()  # the first line, read when the stream started
    reader = asyncio.create_task(stream.__anext__())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader


@pytest.mark.parametrize("end", [_end_complete, _end_error, _end_cancel, _end_aclose,
                                 _end_task_cancelled],
                         ids=["complete", "error", "cancel", "aclose", "task-cancelled"])
async def test_a_stream_holds_its_slot_until_it_ends_however_it_ends(
        emulator: OllamaEmulator, end: Any) -> None:
    if end is _end_error:
        emulator.faults.add(path="/api/chat", error_after=1)
    if end is _end_task_cancelled:
        emulator.faults.add(path="/api/chat", chunk_delay=30.0)
    clock = FakeClock()
    async with make_client(emulator, clock, {"rate": None, "max_concurrent": 1}) as client:
        stream = client.chat_stream(chat("held", n=3))
        await stream.start()
        queued = asyncio.create_task(client.chat(chat("queued")))
        await settle(lambda: limits(client, "chat")["waiting"] == 1)
        assert emulator.hits("/api/chat") == 1
        await end(client, stream, emulator)
        reply = await queued  # got the slot the stream gave back
        assert isinstance(reply, ChatResponse)
        await stream.aclose()
        stats = limits(client, "chat")
    assert stats["in_flight"] == 0 and stats["waiting"] == 0
    assert emulator.hits("/api/chat") == 2


@pytest.mark.parametrize("how", ["server error", "waiting task cancelled",
                                 "calling task cancelled"])
async def test_a_plain_call_releases_its_slot_on_error_and_cancellation(
        emulator: OllamaEmulator, how: str) -> None:
    clock = FakeClock()
    async with make_client(emulator, clock, {"rate": None, "max_concurrent": 1}) as client:
        def stats() -> dict[str, Any]:
            return limits(client, "chat")

        if how == "server error":
            emulator.faults.add(path="/api/chat", status=500)
            with pytest.raises(ServerError):
                await client.chat(chat("fails"))
        elif how == "calling task cancelled":
            emulator.faults.add(path="/api/chat", headers_delay=30.0)
            call = asyncio.create_task(client.chat(chat("slow")))
            await settle(lambda: stats().get("in_flight") == 1)
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call
            emulator.faults.clear()  # in case the cancelled call never reached the server
        else:
            async with client.chat_stream(chat("held")) as held:
                await held.start()
                waiter = asyncio.create_task(client.chat(chat("gives up")))
                await settle(lambda: stats().get("waiting") == 1)
                waiter.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter
                assert stats()["waiting"] == 0 and stats()["in_flight"] == 1
        assert stats()["in_flight"] == 0
        await client.chat(chat("after"))  # the slot is free again
        assert stats()["rejected"] == 0


# -- per endpoint, per upstream ----------------------------------------------------------


async def test_each_endpoint_has_its_own_bucket_and_overrides(emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    config = {"rate": 1, "burst": 1, "max_wait": 0,
              "endpoints": {"embed": {"burst": 3}}}
    async with make_client(emulator, clock, config) as client:
        await client.chat(chat("a"))
        with pytest.raises(RateLimitExceededError):
            await client.chat(chat("b"))
        await client.generate(gen("c"))  # generate's bucket is untouched by chat
        for i in range(3):  # embed has its own capacity of 3
            await client.embed({"model": "all-minilm", "input": f"x{i}"})
        with pytest.raises(RateLimitExceededError) as info:
            await client.embed({"model": "all-minilm", "input": "x3"})
        assert info.value.endpoint == "embed"
        plugin = limiter(client)
        assert plugin.spec_for("embed").burst == 3 and plugin.spec_for("embed").rate == 1.0
        assert set(plugin.stats()["limiters"]) == {"chat", "generate", "embed"}


async def test_per_upstream_keeps_a_bucket_per_server(emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    config = {"rate": 1, "burst": 1, "max_wait": 0, "per_upstream": True}
    async with OllamaEmulator() as other_emu, make_client(emulator, clock, config) as client:
        other = Upstream(yarl.URL(other_emu.url))
        await client.send(Request("GET", "/api/tags", "tags"))  # the primary
        await client.send(Request("GET", "/api/tags", "tags", upstream=other))
        with pytest.raises(RateLimitExceededError):
            await client.send(Request("GET", "/api/tags", "tags", upstream=other))
        assert sorted(limiter(client).stats()["limiters"]) == sorted([
            f"tags@{client.upstreams.primary.display}", f"tags@{other.display}"])
    assert emulator.hits("/api/tags") == 1 and other_emu.hits("/api/tags") == 1


# -- state, reconfiguration, configuration ---------------------------------------------


async def test_tokens_refill_with_the_clock_and_reconfigure_keeps_them(
        emulator: OllamaEmulator) -> None:
    clock = FakeClock()
    async with make_client(emulator, clock, {"rate": 4, "burst": 4}) as client:
        for i in range(4):
            await client.generate(gen(str(i)))
        def tokens() -> float:
            return float(limits(client, "generate")["tokens"])

        assert tokens() == 0.0
        clock.advance(0.5)
        assert tokens() == 2.0
        client.configure_plugin("rate_limiting", {"rate": 1, "burst": 10, "max_wait": 0})
        assert tokens() == 2.0  # carried over into the new bucket
        await client.generate(gen("a"))
        await client.generate(gen("b"))
        with pytest.raises(RateLimitExceededError) as info:
            await client.generate(gen("c"))
        assert info.value.retry_after == 1.0  # at the new rate


def test_defaults() -> None:
    plugin = RateLimitingPlugin({})
    spec = plugin.spec_for("chat")
    assert (spec.rate, spec.burst, spec.max_wait, spec.max_concurrent) == (10.0, 10, None, None)
    assert RateLimitingPlugin({"rate": 2.5}).spec_for("x").burst == 3


@pytest.mark.parametrize(("config", "named"), [
    ({"rate": 0}, "rate"),
    ({"rate": -1}, "rate"),
    ({"rate": "10"}, "rate"),
    ({"rate": True}, "rate"),
    ({"rate": float("nan")}, "rate"),
    ({"rate": float("inf")}, "rate"),
    ({"burst": 0}, "burst"),
    ({"burst": 1.5}, "burst"),
    ({"burst": None}, "burst"),
    ({"max_wait": -0.1}, "max_wait"),
    ({"max_wait": "1s"}, "max_wait"),
    ({"max_concurrent": 0}, "max_concurrent"),
    ({"max_concurrent": 2.0}, "max_concurrent"),
    ({"per_upstream": "yes"}, "per_upstream"),
    ({"burts": 5}, "burts"),
    ({"endpoints": ["chat"]}, "endpoints"),
    ({"endpoints": {"chat": 2}}, "endpoints.chat"),
    ({"endpoints": {"chat": {"rate": 0}}}, "endpoints.chat.rate"),
    ({"endpoints": {"chat": {"per_upstream": True}}}, "endpoints.chat.per_upstream"),
])
def test_bad_configuration_is_rejected_at_construction_naming_the_key(
        config: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        OllamaClient("http://127.0.0.1:9", plugins=["rate_limiting"],
                     plugin_config={"rate_limiting": config})
    assert named in str(info.value)
    assert "rate_limiting" in str(info.value)
