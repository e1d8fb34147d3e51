"""The circuit breaker plugin, against the emulator over loopback, with a fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pybreaker
import pytest

from ollama_core import (
    CircuitOpenError,
    ConnectError,
    DeadlineExceeded,
    Event,
    FakeClock,
    FirstByteTimeout,
    IncompleteStreamError,
    InvalidConfigError,
    LineTooLongError,
    MalformedLineError,
    NotFoundError,
    OllamaClient,
    RateLimitError,
    RateLimitExceededError,
    ReadError,
    Request,
    ServerError,
    ServiceUnavailableError,
    StreamCancelledError,
    StreamErrorLine,
    StreamInterruptedError,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.circuit_breaker import CircuitBreakerPlugin, Outcome, classify
from tests.ports import refused_port

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello there"}]}


def stream_body(chunks: int) -> dict[str, Any]:
    return {**CHAT, "options": {"num_predict": chunks}}


class Probe:
    """A test plugin recording events and the attempts the transport sends."""

    name = "probe"

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.sent = asyncio.Event()

    @hookimpl
    def ollama_event(self, client: OllamaClient, event: Event) -> None:
        self.events.append(event)

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        self.sent.set()

    def transitions(self) -> list[tuple[str, str, str]]:
        return [(e["endpoint"], e["old"], e["new"]) for e in self.events
                if e.name == "circuit_state"]


@pytest.fixture
def probe() -> Probe:
    return Probe()


def make_client(url: str, clock: FakeClock, probe: Probe | None = None,
                plugins: tuple[str, ...] = ("circuit_breaker",),
                **config: Any) -> OllamaClient:
    specs: list[Any] = [*plugins] + ([probe] if probe is not None else [])
    return OllamaClient(url, plugins=specs, plugin_config={"circuit_breaker": config},
                        clock=clock)


def plugin_of(client: OllamaClient) -> CircuitBreakerPlugin:
    plugin: CircuitBreakerPlugin = client.plugin("circuit_breaker")
    return plugin


async def trip(client: OllamaClient, emulator: OllamaEmulator, times: int = 5) -> None:
    """Fail ``times`` chat calls with 503 (the fault is consumed exactly)."""
    emulator.faults.add(path="/api/chat", status=503, times=times)
    for _ in range(times):
        with pytest.raises(ServiceUnavailableError):
            await client.chat(CHAT)


# -- opening ------------------------------------------------------------------------------


async def test_after_fail_max_503s_calls_fail_fast_without_touching_the_network(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    async with make_client(emulator.url, clock, probe) as client:
        plugin = plugin_of(client)
        await trip(client, emulator, 4)
        assert plugin.state("chat") == "closed" and plugin.breaker("chat").fail_counter == 4
        await trip(client, emulator, 1)
        assert plugin.state("chat") == "open"
        # pybreaker's object really holds the state.
        assert plugin.breaker("chat").current_state == pybreaker.STATE_OPEN
        assert emulator.hits("/api/chat") == 5
        with pytest.raises(CircuitOpenError) as info:
            await client.chat(CHAT)
        assert emulator.hits("/api/chat") == 5
        assert info.value.retry_after == 30.0 and info.value.retry_at == 30.0
        assert info.value.endpoint == "chat"
        # With the server gone, the answer is still the breaker's, not a ConnectError:
        # the open circuit never reaches for the network.
        await emulator.stop()
        for _ in range(3):
            with pytest.raises(CircuitOpenError):
                await client.chat(CHAT)
    assert probe.transitions() == [("chat", "closed", "open")]
    (event,) = probe.events
    assert event["key"] == f"{emulator.url} chat" and event["upstream"] == emulator.url
    assert event["retry_at"] == 30.0 and event.source == "circuit_breaker"


async def test_retry_after_is_reset_timeout_minus_elapsed_clock_time(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock, fail_max=2, reset_timeout=20) as client:
        clock.advance(100)  # opened_at is a clock reading, not 0
        await trip(client, emulator, 2)
        clock.advance(12.5)
        with pytest.raises(CircuitOpenError) as info:
            await client.chat(CHAT)
        assert plugin_of(client).retry_at("chat") == 120.0
    assert info.value.retry_after == 7.5 and info.value.retry_at == 120.0


async def test_connection_refused_counts_as_failure(clock: FakeClock) -> None:
    async with make_client(f"http://127.0.0.1:{refused_port()}", clock,
                           fail_max=2) as client:
        for _ in range(2):
            with pytest.raises(ConnectError):
                await client.list_models()
        with pytest.raises(CircuitOpenError):
            await client.list_models()
        assert plugin_of(client).state("tags") == "open"


# -- half-open ----------------------------------------------------------------------------


async def test_half_open_admits_exactly_one_probe_among_100_concurrent_callers(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    async with make_client(emulator.url, clock, probe) as client:
        await trip(client, emulator)
        clock.advance(30)
        # A slow probe, so every other caller arrives while it is in flight.
        emulator.faults.add(path="/api/chat", headers_delay=0.2)
        results = await asyncio.gather(*(client.chat(CHAT) for _ in range(100)),
                                       return_exceptions=True)
        rejected = [r for r in results if isinstance(r, CircuitOpenError)]
        succeeded = [r for r in results if not isinstance(r, BaseException)]
        assert len(succeeded) == 1 and len(rejected) == 99
        assert all(r.retry_after == 0.0 for r in rejected)
        assert emulator.hits("/api/chat") == 6
        assert plugin_of(client).state("chat") == "closed"
        assert plugin_of(client).breaker("chat").current_state == pybreaker.STATE_CLOSED
        await client.chat(CHAT)  # closed again: calls flow
    assert probe.transitions() == [("chat", "closed", "open"), ("chat", "open", "half_open"),
                                   ("chat", "half_open", "closed")]


async def test_failed_probe_reopens_for_a_fresh_reset_timeout(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    async with make_client(emulator.url, clock, probe) as client:
        await trip(client, emulator)
        clock.advance(31)
        await trip(client, emulator, 1)  # the probe fails
        assert plugin_of(client).state("chat") == "open"
        assert emulator.hits("/api/chat") == 6
        with pytest.raises(CircuitOpenError) as info:
            await client.chat(CHAT)
        assert emulator.hits("/api/chat") == 6
    assert info.value.retry_at == 61.0 and info.value.retry_after == 30.0
    assert probe.transitions() == [("chat", "closed", "open"), ("chat", "open", "half_open"),
                                   ("chat", "half_open", "open")]


async def test_break_time_grows_per_consecutive_trip_up_to_its_cap(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock, fail_max=1, reset_timeout=10,
                           reset_timeout_multiplier=2, max_reset_timeout=25) as client:
        plugin = plugin_of(client)
        await trip(client, emulator, 1)
        waits = []
        for _ in range(3):
            retry_at = plugin.retry_at("chat")
            assert retry_at is not None
            waits.append(retry_at - clock.now())
            clock.advance(waits[-1])
            await trip(client, emulator, 1)  # failed probe
        assert waits == [10.0, 20.0, 25.0]
        assert plugin.breaker("chat").reset_timeout == 25.0
        clock.advance(25)
        await client.chat(CHAT)  # a successful probe closes and resets the growth
        await trip(client, emulator, 1)
        assert plugin.retry_at("chat") == clock.now() + 10.0


async def test_success_threshold_needs_that_many_successful_probes(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock, fail_max=1, half_open_max_calls=2,
                           success_threshold=3) as client:
        plugin = plugin_of(client)
        await trip(client, emulator, 1)
        clock.advance(30)
        emulator.faults.add(path="/api/chat", headers_delay=0.1, times=2)
        results = await asyncio.gather(*(client.chat(CHAT) for _ in range(5)),
                                       return_exceptions=True)
        assert sum(not isinstance(r, BaseException) for r in results) == 2
        assert plugin.state("chat") == "half_open"
        assert plugin.breaker("chat").success_counter == 2
        await client.chat(CHAT)
        assert plugin.state("chat") == "closed"


# -- what counts --------------------------------------------------------------------------


async def test_4xx_answers_do_not_count_as_failures(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock) as client:
        plugin = plugin_of(client)
        for _ in range(10):
            with pytest.raises(NotFoundError):
                await client.chat({**CHAT, "model": "no-such-model"})
        emulator.faults.add(path="/api/chat", status=429, times=10)
        for _ in range(10):
            with pytest.raises(RateLimitError):
                await client.chat(CHAT)
        assert plugin.state("chat") == "closed" and plugin.breaker("chat").fail_counter == 0
        # A 4xx is a sign of a healthy server: it ends a run of consecutive failures.
        await trip(client, emulator, 4)
        with pytest.raises(NotFoundError):
            await client.chat({**CHAT, "model": "no-such-model"})
        await trip(client, emulator, 4)
        assert plugin.state("chat") == "closed"


async def test_cancellation_is_neither_a_failure_nor_a_success(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    async with make_client(emulator.url, clock, probe) as client:
        plugin = plugin_of(client)
        await trip(client, emulator, 4)
        emulator.faults.add(path="/api/chat", headers_delay=30)
        call = asyncio.create_task(client.chat(CHAT))
        probe.sent.clear()
        await probe.sent.wait()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        # Not a failure (still closed) and not a success (the 4 failures still stand).
        assert plugin.breaker("chat").fail_counter == 4
        await trip(client, emulator, 1)
        assert plugin.state("chat") == "open"


async def test_cancelled_half_open_probe_releases_its_permit_without_deciding(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    async with make_client(emulator.url, clock, probe) as client:
        plugin = plugin_of(client)
        await trip(client, emulator)
        clock.advance(30)
        emulator.faults.add(path="/api/chat", headers_delay=30)
        probe.sent.clear()
        slow_probe = asyncio.create_task(client.chat(CHAT))
        await probe.sent.wait()
        with pytest.raises(CircuitOpenError):  # the permit is taken
            await client.chat(CHAT)
        slow_probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow_probe
        assert plugin.state("chat") == "half_open"
        assert plugin.breaker("chat").current_state == pybreaker.STATE_HALF_OPEN
        await client.chat(CHAT)  # the permit is free again: this probe closes it
        assert plugin.state("chat") == "closed"
    assert probe.transitions() == [("chat", "closed", "open"), ("chat", "open", "half_open"),
                                   ("chat", "half_open", "closed")]


async def test_mid_stream_failure_counts_by_the_time_the_consumer_sees_it(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock, fail_max=1) as client:
        plugin = plugin_of(client)
        emulator.faults.add(path="/api/chat", reset_after=2)
        received = 0
        with pytest.raises(StreamInterruptedError):
            async for _ in client.chat_stream(stream_body(6)):
                received += 1
                # Committed and flowing: nothing has been judged yet.
                assert plugin.state("chat") == "closed"
        assert received == 2
        assert plugin.state("chat") == "open"
        assert emulator.hits("/api/chat") == 1
    assert await emulator.wait_for_connections(0)


@pytest.mark.parametrize(("fault", "error"), [
    ({"truncate_after": 2}, IncompleteStreamError),
    ({"error_after": 2}, StreamErrorLine),
    ({"malformed_after": 2}, MalformedLineError),
], ids=["truncated", "error-line", "malformed"])
async def test_broken_streams_count_as_failures(
        emulator: OllamaEmulator, clock: FakeClock, fault: dict[str, Any],
        error: type[Exception]) -> None:
    async with make_client(emulator.url, clock, fail_max=1) as client:
        emulator.faults.add(path="/api/chat", **fault)
        with pytest.raises(error):
            async for _ in client.chat_stream(stream_body(6)):
                pass
        assert plugin_of(client).state("chat") == "open"


async def test_completed_and_abandoned_streams_do_not_count_as_failures(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock, fail_max=1) as client:
        plugin = plugin_of(client)
        async for _ in client.chat_stream(stream_body(3)):
            pass
        stream = client.chat_stream(stream_body(50))
        async with stream:
            async for _ in stream:
                break  # the consumer leaves early: a cancellation, not a failure
        assert plugin.state("chat") == "closed" and plugin.breaker("chat").fail_counter == 0


async def test_a_stream_probe_is_judged_when_it_ends(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock, fail_max=1) as client:
        plugin = plugin_of(client)
        await trip(client, emulator, 1)
        clock.advance(30)
        stream = client.chat_stream(stream_body(4))
        first = await stream.__anext__()
        assert first.done is False and plugin.state("chat") == "half_open"
        with pytest.raises(CircuitOpenError):  # the streaming probe holds the permit
            await client.chat(CHAT)
        async for _ in stream:
            pass
        assert plugin.state("chat") == "closed"


# -- keys ---------------------------------------------------------------------------------


async def test_breakers_are_per_endpoint(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock) as client:
        plugin = plugin_of(client)
        await trip(client, emulator)
        models = await client.list_models()
        assert models.models
        assert plugin.state("chat") == "open" and plugin.state("tags") == "closed"
        assert plugin.state("generate") == "closed"  # never used
        assert plugin.states() == {f"{emulator.url} chat": "open",
                                   f"{emulator.url} tags": "closed"}
        assert plugin.state("chat", upstream=emulator.url) == "open"
        assert plugin.state("chat", upstream="http://elsewhere:11434") == "closed"


# -- control and cooperation --------------------------------------------------------------


async def test_reset_closes_open_breakers(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    async with make_client(emulator.url, clock, probe) as client:
        plugin = plugin_of(client)
        await trip(client, emulator)
        plugin.reset()
        assert plugin.state("chat") == "closed" and plugin.breaker("chat").fail_counter == 0
        await client.chat(CHAT)
    assert probe.transitions() == [("chat", "closed", "open"), ("chat", "open", "closed")]


async def test_healthy_upstream_report_moves_its_open_breakers_to_half_open_early(
        emulator: OllamaEmulator, clock: FakeClock, probe: Probe) -> None:
    async with make_client(emulator.url, clock, probe) as client:
        plugin = plugin_of(client)
        await trip(client, emulator)
        client.emit(Event("upstream_health", "health_checks", clock.now(),
                          {"upstream": "http://other:11434", "healthy": True}))
        client.emit(Event("upstream_health", "health_checks", clock.now(),
                          {"upstream": emulator.url, "healthy": False}))
        assert plugin.state("chat") == "open"
        client.emit(Event("upstream_health", "health_checks", clock.now(),
                          {"upstream": emulator.url, "healthy": True}))
        assert plugin.state("chat") == "half_open"
        await client.chat(CHAT)  # no clock advance needed: the probe closes it
        assert plugin.state("chat") == "closed" and clock.now() == 0.0


async def test_retry_stops_at_an_open_breaker(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    clock.autoadvance = True
    async with make_client(emulator.url, clock, plugins=("retry", "circuit_breaker"),
                           fail_max=3) as client:
        client.configure_plugin("retry", {"max_attempts": 10, "budget_ratio": None})
        emulator.faults.add(path="/api/chat", status=503, times=None)
        with pytest.raises(CircuitOpenError):
            await client.chat(CHAT)
    assert emulator.hits("/api/chat") == 3


async def test_live_reconfiguration_applies_to_existing_breakers(
        emulator: OllamaEmulator, clock: FakeClock) -> None:
    async with make_client(emulator.url, clock) as client:
        plugin = plugin_of(client)
        await trip(client, emulator, 2)
        client.configure_plugin("circuit_breaker", {"fail_max": 3})
        assert plugin.breaker("chat").fail_max == 3
        await trip(client, emulator, 1)
        assert plugin.state("chat") == "open"


# -- classification and configuration, unit -----------------------------------------------


@pytest.mark.parametrize(("error", "outcome"), [
    (None, Outcome.SUCCESS),
    (NotFoundError("x", 404), Outcome.SUCCESS),
    (RateLimitError("x", 429), Outcome.SUCCESS),
    (ServerError("x", 500), Outcome.FAILURE),
    (ServiceUnavailableError("x", 503), Outcome.FAILURE),
    (ConnectError("refused"), Outcome.FAILURE),
    (ReadError("reset"), Outcome.FAILURE),
    (FirstByteTimeout("slow"), Outcome.FAILURE),
    (StreamInterruptedError("cut"), Outcome.FAILURE),
    (IncompleteStreamError("short"), Outcome.FAILURE),
    (StreamErrorLine("runner died", 200), Outcome.FAILURE),
    (MalformedLineError("bad", line_number=3, excerpt="{"), Outcome.FAILURE),
    (asyncio.CancelledError(), Outcome.NEUTRAL),
    (StreamCancelledError("closed"), Outcome.NEUTRAL),
    (DeadlineExceeded("late"), Outcome.NEUTRAL),
    (RateLimitExceededError("local", endpoint="chat"), Outcome.NEUTRAL),
    (LineTooLongError("long", limit=10), Outcome.NEUTRAL),
    (ValueError("bug"), Outcome.NEUTRAL),
])
def test_outcome_classification(error: BaseException | None, outcome: Outcome) -> None:
    assert classify(error) is outcome


@pytest.mark.parametrize(("config", "key"), [
    ({"fail_max": 0}, "fail_max"),
    ({"fail_max": 1.5}, "fail_max"),
    ({"fail_max": True}, "fail_max"),
    ({"reset_timeout": 0}, "reset_timeout"),
    ({"reset_timeout": "30"}, "reset_timeout"),
    ({"half_open_max_calls": 0}, "half_open_max_calls"),
    ({"success_threshold": -1}, "success_threshold"),
    ({"reset_timeout_multiplier": 0.5}, "reset_timeout_multiplier"),
    ({"max_reset_timeout": 5, "reset_timeout": 10}, "max_reset_timeout"),
    ({"failure_threshold": 5}, "failure_threshold"),
])
def test_invalid_configuration_is_rejected_at_construction_naming_the_key(
        config: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidConfigError, match=key):
        OllamaClient("http://127.0.0.1:1", plugins=["circuit_breaker"],
                     plugin_config={"circuit_breaker": config})


def test_defaults() -> None:
    assert CircuitBreakerPlugin({}).config == {
        "fail_max": 5, "reset_timeout": 30.0, "half_open_max_calls": 1,
        "success_threshold": 1, "reset_timeout_multiplier": 1.0, "max_reset_timeout": 300.0,
        # The shared-store keys (ollama_plugins._redis): this process alone by default.
        "store": "memory", "store_prefix": "ollama-core", "store_timeout": 0.25,
        "store_lease_ttl": 10.0, "fail_closed": False}
