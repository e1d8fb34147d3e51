"""The retry plugin, against the emulator over loopback, with a fake clock."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ollama_core import (
    ORDER_RETRY,
    AllEndpointsFailedError,
    CircuitOpenError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Event,
    FakeClock,
    FirstByteTimeout,
    Handler,
    IdleTimeout,
    IncompleteStreamError,
    InvalidConfigError,
    MalformedLineError,
    NotFoundError,
    OllamaClient,
    RateLimitError,
    RateLimitExceededError,
    ReadError,
    Request,
    Response,
    ServerError,
    ServiceUnavailableError,
    StreamCancelledError,
    StreamErrorLine,
    StreamInterruptedError,
    SyncOllamaClient,
    Timeouts,
    hookimpl,
)
from ollama_core.emulator import EmulatorThread, OllamaEmulator
from ollama_plugins.retry import RetryPlugin, backoff_caps, backoff_delay, is_retryable
from ollama_plugins.retry._budget import RetryBudget
from tests.ports import refused_port

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello there"}]}


def stream_body(chunks: int) -> dict[str, Any]:
    return {**CHAT, "options": {"num_predict": chunks}}


class Probe:
    """A test plugin: records events, and puts a middleware just inside retry that
    records every attempt going down the chain and every error coming back up it."""

    name = "probe"

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.retry_seen = asyncio.Event()
        self.sent = asyncio.Event()
        self.attempts: list[Request] = []
        self.errors: list[BaseException] = []
        self.returned: list[Response] = []

    @hookimpl
    def ollama_event(self, client: OllamaClient, event: Event) -> None:
        self.events.append(event)
        if event.name == "retry":
            self.retry_seen.set()

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        self.sent.set()

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
        probe = self

        class Inner:
            name = "probe"
            order = ORDER_RETRY + 1

            async def __call__(self, request: Request, call_next: Handler) -> Response:
                probe.attempts.append(request)
                try:
                    response = await call_next(request)
                except BaseException as exc:
                    probe.errors.append(exc)
                    raise
                probe.returned.append(response)
                return response

        return [Inner()]

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]


@pytest.fixture
def auto_clock() -> FakeClock:
    return FakeClock(autoadvance=True)


@pytest.fixture
def probe() -> Probe:
    return Probe()


def make_client(emulator_url: str, clock: FakeClock, probe: Probe | None = None,
                **config: Any) -> OllamaClient:
    plugins: list[Any] = ["retry"] + ([probe] if probe is not None else [])
    return OllamaClient(emulator_url, plugins=plugins, plugin_config={"retry": config},
                        clock=clock)


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening (``tests.ports``)."""
    return refused_port()


# -- the core path ------------------------------------------------------------------------


async def test_two_503s_then_200_succeeds_on_the_third_attempt(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe) -> None:
    emulator.faults.script("/api/chat", [503, 503, 200])
    async with make_client(emulator.url, auto_clock, probe, seed=1) as client:
        reply = await client.chat(CHAT)
        plugin: RetryPlugin = client.plugin("retry")
    assert reply.done is True
    assert emulator.hits("/api/chat") == 3
    retries = probe.named("retry")
    assert [e["attempt"] for e in retries] == [1, 2]
    assert [e["endpoint"] for e in retries] == ["chat", "chat"]
    assert all(e["cause"].startswith("ServiceUnavailableError: server busy") for e in retries)
    # Full jitter: retry n waits within [0, min(max_delay, 0.5 * 2**n)].
    delays = [e["delay"] for e in retries]
    assert 0 <= delays[0] <= 0.5 and 0 <= delays[1] <= 1.0
    assert auto_clock.sleeps == delays
    assert [e.time for e in retries] == [0.0, delays[0]]
    assert plugin.stats.calls == 1 and plugin.stats.attempts == 3 and plugin.stats.retries == 2
    assert plugin.stats.giving_ups == 0


async def test_each_attempt_is_a_fresh_copy_numbered_from_one(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe) -> None:
    emulator.faults.script("/api/chat", [502, 504, 200])
    async with make_client(emulator.url, auto_clock, probe) as client:
        await client.chat(CHAT)
    assert [r.attempt for r in probe.attempts] == [1, 2, 3]
    assert len({id(r) for r in probe.attempts}) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500])
async def test_statuses_outside_retry_on_status_are_not_retried(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe, status: int) -> None:
    emulator.faults.add(path="/api/chat", status=status)
    async with make_client(emulator.url, auto_clock, probe) as client:
        with pytest.raises(Exception) as info:
            await client.chat(CHAT)
    assert getattr(info.value, "status_code", None) == status
    assert emulator.hits("/api/chat") == 1
    assert probe.events == [] and auto_clock.sleeps == []


async def test_unknown_model_404_is_not_retried(
        emulator: OllamaEmulator, auto_clock: FakeClock) -> None:
    async with make_client(emulator.url, auto_clock) as client:
        with pytest.raises(NotFoundError):
            await client.chat({**CHAT, "model": "no-such-model"})
    assert emulator.hits("/api/chat") == 1


async def test_retry_on_status_is_configurable(
        emulator: OllamaEmulator, auto_clock: FakeClock) -> None:
    emulator.faults.script("/api/chat", [500, 200])
    async with make_client(emulator.url, auto_clock, retry_on_status=[500]) as client:
        await client.chat(CHAT)
    assert emulator.hits("/api/chat") == 2


# -- Retry-After --------------------------------------------------------------------------


async def test_retry_after_2_waits_exactly_2_seconds_of_the_clock(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    emulator.faults.add(path="/api/chat", status=429, retry_after=2)
    async with make_client(emulator.url, clock, probe) as client:
        call = asyncio.create_task(client.chat(CHAT))
        await probe.retry_seen.wait()  # emitted just before the backoff sleep starts
        assert clock.pending == 1 and clock.sleeps == [2.0]
        clock.advance(1.5)
        await asyncio.sleep(0)
        assert emulator.hits("/api/chat") == 1 and not call.done()
        clock.advance(0.5)
        reply = await call
    assert reply.done is True
    assert emulator.hits("/api/chat") == 2
    (event,) = probe.named("retry")
    assert event["delay"] == 2.0 and event["retry_after"] == 2.0
    assert event["cause"].startswith("RateLimitError")
    assert probe.attempts[1].attempt == 2


async def test_retry_after_as_http_date_is_capped_by_max_retry_after(
        emulator: OllamaEmulator, auto_clock: FakeClock) -> None:
    in_an_hour = email.utils.formatdate(time.time() + 3600, usegmt=True)
    emulator.faults.add(path="/api/chat", status=503, retry_after=in_an_hour)
    async with make_client(emulator.url, auto_clock, max_retry_after=5) as client:
        await client.chat(CHAT)
    assert auto_clock.sleeps == [5.0]
    assert emulator.hits("/api/chat") == 2


async def test_retry_after_beyond_max_elapsed_raises_at_once_without_sleeping(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe) -> None:
    emulator.faults.add(path="/api/chat", status=429, retry_after=10)
    async with make_client(emulator.url, auto_clock, probe, max_elapsed=5) as client:
        with pytest.raises(RateLimitError) as info:
            await client.chat(CHAT)
        plugin: RetryPlugin = client.plugin("retry")
    assert info.value.retry_after == 10
    assert auto_clock.sleeps == [] and emulator.hits("/api/chat") == 1
    (event,) = probe.named("retry_exhausted")
    assert event["reason"] == "deadline" and event["attempt"] == 1
    assert plugin.stats.deadline_exhausted == 1


async def test_backoff_that_would_outlast_the_call_deadline_is_not_slept(
        emulator: OllamaEmulator, auto_clock: FakeClock) -> None:
    emulator.faults.add(path="/api/chat", status=503, retry_after=30)
    async with make_client(emulator.url, auto_clock) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.chat(CHAT, timeout=Timeouts(deadline=20))
    assert auto_clock.sleeps == [] and emulator.hits("/api/chat") == 1


async def test_max_elapsed_stops_retrying(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe) -> None:
    emulator.faults.add(path="/api/chat", status=503, times=None)
    async with make_client(emulator.url, auto_clock, probe, max_attempts=10, base_delay=1,
                           jitter="none", max_elapsed=5) as client:
        with pytest.raises(ServiceUnavailableError):
            await client.chat(CHAT)
    # Waits of 1 and 2 end at t=3; the next (4) would end at t=7, past the 5 s deadline.
    assert auto_clock.sleeps == [1.0, 2.0]
    assert emulator.hits("/api/chat") == 3
    assert [e.name for e in probe.events] == ["retry", "retry", "retry_exhausted"]
    assert probe.events[-1]["reason"] == "deadline" and probe.events[-1]["attempt"] == 3


# -- streams ------------------------------------------------------------------------------


async def _reference_chunks(emulator: OllamaEmulator, n: int) -> list[str]:
    async with OllamaClient(emulator.url, plugins=[]) as plain:
        reference = [c.message.content async for c in plain.chat_stream(stream_body(n))]
    emulator.clear_requests()
    return reference


async def test_stream_reset_before_its_first_chunk_is_retried_and_every_chunk_arrives_once(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe) -> None:
    reference = await _reference_chunks(emulator, 8)
    emulator.faults.add(path="/api/chat", reset_after=0)
    async with make_client(emulator.url, auto_clock, probe) as client:
        chunks = [c.message.content async for c in client.chat_stream(stream_body(8))]
    assert chunks == reference and len(chunks) == 9  # 8 tokens and the done line
    assert emulator.hits("/api/chat") == 2
    (event,) = probe.named("retry")
    assert event["cause"].startswith("ReadError")


async def test_stream_reset_after_delivered_chunks_is_raised_to_the_consumer_not_retried(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe) -> None:
    reference = await _reference_chunks(emulator, 8)
    emulator.faults.add(path="/api/chat", reset_after=3)
    async with make_client(emulator.url, auto_clock, probe) as client:
        received: list[str] = []
        with pytest.raises(StreamInterruptedError):
            async for chunk in client.chat_stream(stream_body(8)):
                received.append(chunk.message.content)
        plugin: RetryPlugin = client.plugin("retry")
    assert received == reference[:3]
    assert emulator.hits("/api/chat") == 1
    # The proof that post-commit errors never reach the retry loop: the chain below
    # retry returned the committed response once and never saw an exception.
    assert len(probe.returned) == 1 and probe.errors == []
    assert plugin.stats.attempts == 1 and plugin.stats.retries == 0
    assert probe.events == []
    assert await emulator.wait_for_connections(0)  # the broken connection was not kept


async def test_stream_error_line_as_first_line_is_not_retried(
        emulator: OllamaEmulator, auto_clock: FakeClock) -> None:
    emulator.faults.add(path="/api/chat", error_after=0)
    async with make_client(emulator.url, auto_clock) as client:
        with pytest.raises(StreamErrorLine):
            async for _ in client.chat_stream(stream_body(4)):
                pass
    assert emulator.hits("/api/chat") == 1


# -- connection failures ------------------------------------------------------------------


async def test_connection_refused_makes_max_attempts_then_raises_connect_error(
        closed_port: int, auto_clock: FakeClock, probe: Probe) -> None:
    async with make_client(f"http://127.0.0.1:{closed_port}", auto_clock, probe,
                           max_attempts=4, seed=3) as client:
        with pytest.raises(ConnectError):
            await client.list_models()
        plugin: RetryPlugin = client.plugin("retry")
    assert plugin.stats.attempts == 4 and len(probe.attempts) == 4
    assert all(isinstance(e, ConnectError) for e in probe.errors)
    assert [e.name for e in probe.events] == ["retry"] * 3 + ["retry_exhausted"]
    assert probe.events[-1]["reason"] == "max_attempts" and probe.events[-1]["attempt"] == 4
    caps = [0.5, 1.0, 2.0]
    assert len(auto_clock.sleeps) == 3
    assert all(0 <= d <= cap for d, cap in zip(auto_clock.sleeps, caps, strict=True))
    assert plugin.stats.exhausted == 1


# -- backoff, unit ------------------------------------------------------------------------


def test_backoff_caps_grow_exponentially_up_to_max_delay() -> None:
    assert backoff_caps(8, base=0.5, multiplier=2.0, max_delay=30) == [
        0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert backoff_caps(3, base=1, multiplier=3, max_delay=100) == [1, 3, 9]
    # No float overflow however many retries.
    assert backoff_caps(5000, base=1, multiplier=10, max_delay=60)[-1] == 60


@pytest.mark.parametrize(("jitter", "low"), [("full", 0.0), ("equal", 0.5), ("none", 1.0)])
def test_every_jittered_delay_stays_within_its_bounds(jitter: str, low: float) -> None:
    rng = random.Random(12345)
    caps = backoff_caps(12, base=0.5, multiplier=2.0, max_delay=30.0)
    for cap in caps:
        draws = [backoff_delay(cap, jitter, rng) for _ in range(2000)]
        assert all(low * cap <= d <= cap for d in draws)
        if jitter == "full":
            # Spread over the whole interval, not clustered at one end.
            assert min(draws) < 0.05 * cap and max(draws) > 0.95 * cap


def test_seed_makes_jitter_reproducible_and_rng_is_injectable() -> None:
    a, b = RetryPlugin({"seed": 42}), RetryPlugin({"seed": 42})
    assert [a.backoff(n) for n in range(5)] == [b.backoff(n) for n in range(5)]
    c = RetryPlugin({})
    c.rng = random.Random(42)
    d = RetryPlugin({"seed": 42})
    assert [c.backoff(n) for n in range(5)] == [d.backoff(n) for n in range(5)]


# -- classification, unit -----------------------------------------------------------------


def _err(status: int) -> ServerError | RateLimitError | NotFoundError:
    cls = {429: RateLimitError, 404: NotFoundError, 503: ServiceUnavailableError}.get(
        status, ServerError)
    return cls("x", status)  # type: ignore[return-value]


@pytest.mark.parametrize(("error", "idempotent", "expected"), [
    (ConnectError("refused"), True, True),
    (ConnectError("refused"), False, True),
    (ConnectTimeout("slow connect"), False, True),
    (ReadError("reset"), True, True),
    (ReadError("reset"), False, False),
    (FirstByteTimeout("slow"), True, True),
    (FirstByteTimeout("slow"), False, False),
    (IdleTimeout("idle"), True, True),
    (StreamInterruptedError("cut"), True, True),
    (IncompleteStreamError("short"), True, True),
    (DeadlineExceeded("late"), True, False),
    (_err(503), False, True),
    (_err(429), False, True),
    (_err(502), False, False),
    (_err(502), True, True),
    (_err(404), True, False),
    (StreamErrorLine("boom", 200), True, False),
    (MalformedLineError("bad", line_number=1, excerpt="x"), True, False),
    (StreamCancelledError("closed"), True, False),
    (CircuitOpenError("chat", retry_after=3, retry_at=3), True, False),
    (RateLimitExceededError("local", endpoint="chat"), True, False),
    (ValueError("bug"), True, False),
])
def test_retryable_classification(error: BaseException, idempotent: bool,
                                  expected: bool) -> None:
    assert is_retryable(error, idempotent=idempotent) is expected


@pytest.mark.parametrize(("failures", "expected"), [
    ({"http://a": _err(404), "http://b": _err(503)}, True),
    ({"http://a": _err(404), "http://b": CircuitOpenError("chat", retry_after=1, retry_at=1)},
     False),
    ({"http://a": ConnectError("refused")}, True),
])
def test_all_endpoints_failed_is_retryable_when_any_failure_is(
        failures: dict[str, BaseException], expected: bool) -> None:
    assert is_retryable(AllEndpointsFailedError(failures)) is expected


# -- the retry budget ---------------------------------------------------------------------


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
async def test_budget_keeps_retries_at_a_fifth_of_requests_against_a_dead_server(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe,
        concurrent: bool) -> None:
    emulator.faults.add(path="/api/chat", status=503, times=None)
    async with make_client(emulator.url, auto_clock, probe, base_delay=0.01,
                           budget_window=60) as client:
        if concurrent:
            results = await asyncio.gather(*(client.chat(CHAT) for _ in range(100)),
                                           return_exceptions=True)
        else:
            results = []
            for _ in range(100):
                try:
                    results.append(await client.chat(CHAT))
                except ServiceUnavailableError as exc:
                    results.append(exc)
        plugin: RetryPlugin = client.plugin("retry")
    assert all(isinstance(r, ServiceUnavailableError) for r in results)
    # budget_ratio 0.2 of 100 calls in the window: 20 retries, not the 200 that
    # max_attempts=3 alone would allow.
    assert plugin.stats.retries == 20
    assert emulator.hits("/api/chat") == 120
    assert len(auto_clock.sleeps) == 20
    assert len(probe.named("retry")) == 20
    assert plugin.stats.budget_exhausted == len(probe.named("retry_budget_exhausted")) > 0
    assert plugin.stats.budget_exhausted + plugin.stats.exhausted == 100


def test_budget_allows_min_retries_and_a_share_of_requests_within_its_window() -> None:
    budget = RetryBudget(ratio=0.1, min_retries=2, window=10.0)
    for _ in range(30):
        budget.record_request(0.0)
    assert budget.allowed(0.0) == 3
    assert [budget.try_acquire(1.0) for _ in range(4)] == [True, True, True, False]
    assert budget.counts(9.9) == (30, 3)
    # The window is ten 1-second slices: the requests of t=0 age out first...
    assert budget.counts(10.5) == (0, 3)
    # ...then the retries of t=1, and only the floor of 2 retries remains.
    assert budget.counts(11.0) == (0, 0)
    assert [budget.try_acquire(11.0) for _ in range(3)] == [True, True, False]


# -- cancellation -------------------------------------------------------------------------


async def test_cancelling_a_call_during_backoff_propagates_and_makes_no_further_attempt(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    emulator.faults.add(path="/api/chat", status=503, times=None)
    async with make_client(emulator.url, clock, probe) as client:
        call = asyncio.create_task(client.chat(CHAT))
        await probe.retry_seen.wait()
        assert clock.pending == 1
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert clock.pending == 0
        clock.advance(3600)
        await asyncio.sleep(0)
        plugin: RetryPlugin = client.plugin("retry")
    assert emulator.hits("/api/chat") == 1
    assert plugin.stats.attempts == 1
    assert [e.name for e in probe.events] == ["retry"]


async def test_cancelling_an_attempt_in_flight_is_not_retried(
        emulator: OllamaEmulator, auto_clock: FakeClock, probe: Probe) -> None:
    emulator.faults.add(path="/api/chat", headers_delay=30)
    async with make_client(emulator.url, auto_clock, probe) as client:
        call = asyncio.create_task(client.chat(CHAT))
        await probe.sent.wait()  # the transport is sending the attempt
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
    assert probe.events == [] and auto_clock.sleeps == []
    assert isinstance(probe.errors[0], asyncio.CancelledError) and len(probe.attempts) == 1


# -- non-idempotent requests --------------------------------------------------------------


@pytest.mark.parametrize(("fault", "hits", "error"), [
    ({"status": 502}, 1, ServerError),
    ({"status": 504}, 1, ServerError),
    ({"status": 503}, 2, None),
    ({"status": 429}, 2, None),
], ids=["502-not-retried", "504-not-retried", "503-retried", "429-retried"])
async def test_delete_is_retried_only_when_the_server_certainly_did_nothing(
        emulator: OllamaEmulator, auto_clock: FakeClock, fault: dict[str, Any], hits: int,
        error: type[Exception] | None) -> None:
    emulator.faults.add(path="/api/delete", **fault)
    async with make_client(emulator.url, auto_clock) as client:
        if error is None:
            await client.delete_model("llama3.2:latest")
        else:
            with pytest.raises(error):
                await client.delete_model("llama3.2:latest")
    assert emulator.hits("/api/delete") == hits


async def test_copy_on_a_dropped_connection_is_not_retried(
        emulator: OllamaEmulator, auto_clock: FakeClock) -> None:
    # copy (a POST) rather than delete: aiohttp itself silently resends a DELETE once
    # when the server drops the connection (see the report on the core transport).
    emulator.faults.add(path="/api/copy", reset_after=0)
    async with make_client(emulator.url, auto_clock) as client:
        with pytest.raises(ReadError):
            await client.copy_model("llama3.2:latest", "copied:latest")
    assert emulator.hits("/api/copy") == 1 and auto_clock.sleeps == []


async def test_delete_on_a_refused_connection_is_retried(
        closed_port: int, auto_clock: FakeClock) -> None:
    async with make_client(f"http://127.0.0.1:{closed_port}", auto_clock) as client:
        with pytest.raises(ConnectError):
            await client.delete_model("llama3.2:latest")
        assert client.plugin("retry").stats.attempts == 3


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "key"), [
    ({"max_attempts": 0}, "max_attempts"),
    ({"max_attempts": 2.5}, "max_attempts"),
    ({"max_attempts": True}, "max_attempts"),
    ({"base_delay": -1}, "base_delay"),
    ({"base_delay": "1"}, "base_delay"),
    ({"multiplier": 0.5}, "multiplier"),
    ({"max_delay": -0.1}, "max_delay"),
    ({"jitter": "random"}, "jitter"),
    ({"max_elapsed": 0}, "max_elapsed"),
    ({"retry_on_status": 503}, "retry_on_status"),
    ({"retry_on_status": [200]}, "retry_on_status"),
    ({"retry_on_status": ["503"]}, "retry_on_status"),
    ({"max_retry_after": -5}, "max_retry_after"),
    ({"budget_ratio": -0.1}, "budget_ratio"),
    ({"budget_min_retries": -1}, "budget_min_retries"),
    ({"budget_window": 0}, "budget_window"),
    ({"seed": "abc"}, "seed"),
    ({"max_attempt": 3}, "max_attempt"),
])
def test_invalid_configuration_is_rejected_at_construction_naming_the_key(
        config: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidConfigError, match=key):
        OllamaClient("http://127.0.0.1:1", plugins=["retry"], plugin_config={"retry": config})


def test_valid_configuration_is_reported_with_defaults_filled_in() -> None:
    plugin = RetryPlugin({"max_attempts": 5, "jitter": "none", "budget_ratio": None})
    assert plugin.config["max_attempts"] == 5 and plugin.config["base_delay"] == 0.5
    assert plugin.config["retry_on_status"] == [429, 502, 503, 504]
    assert plugin.budget is None


async def test_live_reconfiguration_changes_max_attempts(
        emulator: OllamaEmulator, auto_clock: FakeClock) -> None:
    emulator.faults.add(path="/api/chat", status=503, times=None)
    async with make_client(emulator.url, auto_clock) as client:
        client.configure_plugin("retry", {"max_attempts": 5, "budget_ratio": None})
        with pytest.raises(ServiceUnavailableError):
            await client.chat(CHAT)
        with pytest.raises(InvalidConfigError, match="jitter"):
            client.configure_plugin("retry", {"jitter": "bogus"})
        assert client.plugin("retry").config["max_attempts"] == 5
    assert emulator.hits("/api/chat") == 5


# -- the blocking client ------------------------------------------------------------------


def test_sync_client_retries_two_503s_then_succeeds() -> None:
    clock = FakeClock(autoadvance=True)
    with EmulatorThread() as emu:
        emu.faults.script("/api/chat", [503, 503, 200])
        with SyncOllamaClient(emu.url, plugins=["retry"], clock=clock,
                              plugin_config={"retry": {"seed": 5}}) as client:
            reply = client.chat(CHAT)
            stats = client.async_client.plugin("retry").stats
        assert reply.done is True
        assert emu.hits("/api/chat") == 3
    assert stats.attempts == 3 and stats.retries == 2 and len(clock.sleeps) == 2
