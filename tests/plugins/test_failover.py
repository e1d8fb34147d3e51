"""The failover plugin against real emulators on loopback, with a fake clock.

Three ``OllamaEmulator`` instances play three Ollama servers; faults are injected on the
server side (error statuses, dropped connections, a stopped server), and every
time-dependent assertion reads the injected ``FakeClock``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from ollama_core import (
    ORDER_BREAKER,
    AllEndpointsFailedError,
    CircuitOpenError,
    ConnectError,
    Event,
    FailedOver,
    FakeClock,
    Handler,
    InvalidConfigError,
    OllamaClient,
    RateLimitExceededError,
    ReadError,
    Request,
    Response,
    ServiceUnavailableError,
    StreamInterruptedError,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.failover import FailoverPlugin
from ollama_plugins.failover._endpoints import parse_url

COOLDOWN = 30.0
START = 1000.0  # a non-zero start, so "now + cooldown" is not mistaken for "cooldown"


class EventLog:
    """A plugin that records every event the client emits."""

    name = "event_log"

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def ollama_event(self, client: OllamaClient, event: Event) -> None:
        self.events.append(event)

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]


@pytest.fixture
async def emus() -> AsyncIterator[list[OllamaEmulator]]:
    async with OllamaEmulator() as a, OllamaEmulator() as b, OllamaEmulator() as c:
        yield [a, b, c]


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock(START)


def failover_client(emus: Sequence[OllamaEmulator], clock: FakeClock, log: EventLog,
                    *, endpoints: list[Any] | None = None, extra: Sequence[Any] = (),
                    api_key: str | None = None, **settings: Any) -> OllamaClient:
    config = {"endpoints": endpoints if endpoints is not None else [e.url for e in emus],
              "cooldown": COOLDOWN, **settings}
    return OllamaClient(emus[0].url, clock=clock, api_key=api_key,
                        plugins=["failover", *extra, log],
                        plugin_config={"failover": config})


def plugin(client: OllamaClient) -> FailoverPlugin:
    fo = client.plugin("failover")
    assert isinstance(fo, FailoverPlugin)
    return fo


def tags_hits(*emus: OllamaEmulator) -> list[int]:
    return [e.hits("/api/tags") for e in emus]


# -- priority ----------------------------------------------------------------------------


async def test_priority_sends_every_call_to_the_primary(emus: list[OllamaEmulator],
                                                       fake_clock: FakeClock) -> None:
    a, b, c = emus
    async with failover_client(emus, fake_clock, EventLog()) as client:
        assert client.base_url == a.url
        assert plugin(client).active().display == a.url
        for _ in range(5):
            await client.list_models()
        assert tags_hits(a, b, c) == [5, 0, 0]
        stats = plugin(client).stats()
        assert stats[a.url]["requests"] == 5 and stats[a.url]["failures"] == 0
        assert stats[a.url]["primary"] and not stats[b.url]["primary"]


@pytest.mark.parametrize("fault, cause", [("503", "ServiceUnavailableError"),
                                          ("stopped", "ConnectError")])
async def test_primary_failure_moves_the_call_to_the_next_and_cools_down_exactly(
        emus: list[OllamaEmulator], fake_clock: FakeClock, fault: str, cause: str) -> None:
    a, b, c = emus
    log = EventLog()
    if fault == "503":
        a.faults.add(path="/api/tags", status=503, times=1)
    else:
        await a.stop()
    async with failover_client(emus, fake_clock, log) as client:
        fo = plugin(client)
        await client.list_models()  # succeeds: the same call moved to b
        assert tags_hits(b, c) == [1, 0]
        primary = client.upstreams.primary
        assert primary.down_until == START + COOLDOWN
        assert fo.active().display == b.url
        [event] = log.named("failover")
        assert event.source == "failover" and event.time == START
        assert event.data["from"] == a.url and event.data["to"] == b.url
        assert event.data["endpoint"] == "tags"
        assert event.data["cause"].startswith(f"{cause}: ")

        fake_clock.advance(COOLDOWN - 0.001)  # still cooling down: b serves
        await client.list_models()
        assert tags_hits(b) == [2]

        if fault == "stopped":
            await a.start()
        fake_clock.advance(0.001)  # exactly the cooldown: the primary is back
        assert fo.active().display == a.url
        hits_a = a.hits("/api/tags")
        await client.list_models()
        assert a.hits("/api/tags") == hits_a + 1 and tags_hits(b, c) == [2, 0]
        assert primary.down_until is None  # the success cleared it
        assert fo.failovers == 1


# -- round robin -------------------------------------------------------------------------


async def test_round_robin_spreads_calls_evenly_over_available_endpoints(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, c = emus
    async with failover_client(emus, fake_clock, EventLog(), policy="round_robin") as client:
        for _ in range(30):
            await client.list_models()
        assert tags_hits(a, b, c) == [10, 10, 10]

        b.faults.add(path="/api/tags", status=503, times=None)
        while plugin(client).stats()[b.url]["available"]:
            await client.list_models()
        before = tags_hits(a, b, c)
        for _ in range(20):
            await client.list_models()
        after = tags_hits(a, b, c)
        # b sits out its cooldown; a and c share the load equally.
        assert [x - y for x, y in zip(after, before)] == [10, 0, 10]


# -- everything down ---------------------------------------------------------------------


async def test_all_endpoints_down_raises_all_endpoints_failed_listing_each(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, c = emus
    log = EventLog()
    for emu in emus:
        await emu.stop()
    async with failover_client(emus, fake_clock, log) as client:
        with pytest.raises(AllEndpointsFailedError) as info:
            await client.list_models()
        err = info.value
        assert list(err.failures) == [a.url, b.url, c.url]
        assert all(isinstance(e, ConnectError) for e in err.failures.values())
        for emu in emus:
            assert emu.url in str(err)
        assert isinstance(err.__cause__, ConnectError)
        moves = [(e["from"], e["to"]) for e in log.named("failover")]
        assert moves == [(a.url, b.url), (b.url, c.url), (c.url, None)]

        # Panic mode: everything is marked down, yet the next call tries them all in
        # priority order instead of failing without a try; b is back, so it succeeds.
        assert all(not u.is_available(fake_clock.now()) for u in client.upstreams)
        await b.start()
        await client.list_models()
        assert b.hits("/api/tags") == 1
        assert [e["from"] for e in log.named("failover")][3:] == [a.url]


async def test_without_endpoints_the_client_base_url_is_the_only_endpoint(
        emulator: OllamaEmulator, fake_clock: FakeClock) -> None:
    log = EventLog()
    emulator.faults.add(path="/api/tags", status=503, times=1)
    async with OllamaClient(emulator.url, clock=fake_clock,
                            plugins=["failover", log]) as client:
        assert [u.display for u in client.upstreams] == [emulator.url]
        # One endpoint: the original error comes through unchanged, not wrapped.
        with pytest.raises(ServiceUnavailableError):
            await client.list_models()
        assert client.upstreams.primary.down_until == START + COOLDOWN
        await client.list_models()  # panic mode: still tried, and it answers
        assert emulator.hits("/api/tags") == 2
        assert [e["to"] for e in log.named("failover")] == [None]


# -- credentials -------------------------------------------------------------------------


async def test_each_endpoint_sends_its_own_api_key_and_never_shows_it(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, c = emus
    log = EventLog()
    endpoints = [{"url": a.url, "api_key": "key-of-a-1234"},
                 {"url": b.url, "api_key": "key-of-b-5678"}, c.url]
    async with failover_client(emus, fake_clock, log, endpoints=endpoints,
                               policy="round_robin", api_key="client-key-90") as client:
        for _ in range(3):
            await client.list_models()
        sent = ["Bearer key-of-a-1234", "Bearer key-of-b-5678", "Bearer client-key-90"]
        assert all(e.requests[-1].has_header("Authorization", key)
                   for e, key in zip(emus, sent, strict=True))

        for emu in emus:
            await emu.stop()
        with pytest.raises(AllEndpointsFailedError) as info:
            await client.list_models()
        shown = " ".join([repr(client), repr(plugin(client)), repr(client.upstreams),
                          str(plugin(client).stats()), str(info.value),
                          *(repr(e) for e in info.value.failures.values()),
                          *(str(e) for e in log.events)])
        for secret in ("key-of-a-1234", "key-of-b-5678", "client-key-90"):
            assert secret not in shown


def test_api_key_errors_do_not_echo_the_key() -> None:
    with pytest.raises(InvalidConfigError) as info:
        FailoverPlugin({"endpoints": [{"url": "http://h:1", "api_key": "sk-abc\ndef"}]})
    assert "endpoints[0].api_key" in str(info.value) and "sk-abc" not in str(info.value)
    with pytest.raises(InvalidConfigError) as info:
        FailoverPlugin({"endpoints": ["ftp://user:pass-999@h:1"]})
    assert "pass-999" not in str(info.value)


# -- what is not a failure ---------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 404, 429])
async def test_client_errors_do_not_fail_over(emus: list[OllamaEmulator],
                                              fake_clock: FakeClock, status: int) -> None:
    a, b, c = emus
    log = EventLog()
    a.faults.add(path="/api/tags", status=status, times=1)
    async with failover_client(emus, fake_clock, log) as client:
        with pytest.raises(Exception) as info:
            await client.list_models()
        assert getattr(info.value, "status_code", None) == status
        assert tags_hits(a, b, c) == [1, 0, 0]
        assert client.upstreams.primary.is_available(fake_clock.now())
        assert log.named("failover") == []


async def test_cancelled_call_is_not_a_failure(emus: list[OllamaEmulator],
                                               fake_clock: FakeClock) -> None:
    a, b, _ = emus
    log = EventLog()
    a.faults.add(path="/api/tags", headers_delay=5.0, times=1)
    async with failover_client(emus, fake_clock, log) as client:
        task = asyncio.create_task(client.list_models())
        await asyncio.sleep(0)  # let the call start
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        primary = client.upstreams.primary
        assert primary.down_until is None and primary.failures == 0
        assert log.named("failover") == [] and b.hits("/api/tags") == 0


# -- non-idempotent calls ----------------------------------------------------------------


@pytest.mark.parametrize("op, fault, error", [
    ("delete", "503", ServiceUnavailableError),
    ("delete", "stopped", None),
    ("copy", "503", ServiceUnavailableError),
    # A DELETE cannot show this one: aiohttp itself silently re-sends a DELETE whose
    # connection was dropped (it is idempotent in HTTP terms), so POST /api/copy does.
    ("copy", "reset", ReadError),
    ("copy", "stopped", None),
])
async def test_non_idempotent_call_moves_on_only_after_connect_error(
        emus: list[OllamaEmulator], fake_clock: FakeClock, op: str, fault: str,
        error: type[Exception] | None) -> None:
    a, b, c = emus
    log = EventLog()
    path = f"/api/{op}"
    if fault == "503":
        a.faults.add(path=path, status=503, times=1)
    elif fault == "reset":
        a.faults.add(path=path, reset_after=0, times=1)
    else:
        await a.stop()
    async with failover_client(emus, fake_clock, log) as client:
        call = (client.delete_model("llama3.2:latest") if op == "delete"
                else client.copy_model("llama3.2:latest", "copy-1"))
        if error is not None:
            # The request may have reached a: moving it could delete or copy twice.
            with pytest.raises(error):
                await call
            assert a.hits(path) == 1 and [e.hits(path) for e in (b, c)] == [0, 0]
            [event] = log.named("failover")
            assert event["to"] is None
        else:
            await call  # a refused the connection: nothing was sent, b does it
            assert [b.hits(path), c.hits(path)] == [1, 0]
            assert log.named("failover")[0]["to"] == b.url
        # Either way a is marked down, so the next call starts elsewhere.
        assert client.upstreams.primary.down_until == START + COOLDOWN


@pytest.mark.parametrize("last_fault, error", [("reset", ReadError),
                                               ("stopped", AllEndpointsFailedError)])
async def test_non_idempotent_call_is_aggregated_only_when_nothing_was_sent(
        emus: list[OllamaEmulator], fake_clock: FakeClock, last_fault: str,
        error: type[Exception]) -> None:
    a, b, c = emus
    await a.stop()
    await b.stop()
    if last_fault == "reset":
        c.faults.add(path="/api/copy", reset_after=0, times=1)
    else:
        await c.stop()
    async with failover_client(emus, fake_clock, EventLog()) as client:
        # The ReadError comes unwrapped, so an outer retry sees a call that may have
        # been done and does not repeat it; refused connections everywhere aggregate.
        with pytest.raises(error) as info:
            await client.copy_model("llama3.2:latest", "copy-1")
        assert type(info.value) is error


# -- circuit breaker and streams ---------------------------------------------------------


class OpenBreakerFor:
    """A stand-in breaker at the breaker's position that is open for one upstream."""

    name = "open_breaker"
    order = ORDER_BREAKER

    def __init__(self, url: str) -> None:
        self.url = url
        self.refused = 0

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
        return [self]

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        if request.upstream is not None and request.upstream.display == self.url:
            self.refused += 1
            raise CircuitOpenError(request.endpoint, retry_after=5.0, retry_at=5.0)
        return await call_next(request)


async def test_open_circuit_moves_even_a_non_idempotent_call(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, _ = emus
    log = EventLog()
    breaker = OpenBreakerFor(a.url)
    async with failover_client(emus, fake_clock, log, extra=[breaker]) as client:
        await client.copy_model("llama3.2:latest", "copy-1")
        assert breaker.refused == 1 and a.hits() == 0 and b.hits("/api/copy") == 1
        [event] = log.named("failover")
        assert event["cause"].startswith("CircuitOpenError: ") and event["to"] == b.url


async def test_stream_broken_after_commit_marks_endpoint_down_without_moving(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, _ = emus
    log = EventLog()
    a.faults.add(path="/api/chat", reset_after=2, times=1)
    chat = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}],
            "options": {"num_predict": 5}}
    async with failover_client(emus, fake_clock, log) as client:
        chunks = []
        with pytest.raises(StreamInterruptedError):
            async for chunk in client.chat_stream(chat):
                chunks.append(chunk)
        assert len(chunks) == 2 and b.hits() == 0
        assert client.upstreams.primary.down_until == START + COOLDOWN
        [event] = log.named("failover")
        assert event["from"] == a.url and event["to"] is None

        # A stream the consumer abandons early says nothing about b's health.
        stream = client.chat_stream(chat)
        async with stream:
            async for _ in stream:
                break
        assert b.hits("/api/chat") == 1
        assert client.upstreams.get(b.url) is not None
        assert client.upstreams.get(b.url).down_until is None  # type: ignore[union-attr]
        assert len(log.named("failover")) == 1


# -- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize("config, key", [
    ({"endpoints": []}, "endpoints"),
    ({"endpoints": "http://a:1"}, "endpoints"),
    ({"endpoints": [42]}, "endpoints[0]"),
    ({"endpoints": ["http://a:1", "http://a:1/"]}, "endpoints[1]"),
    ({"endpoints": [{"url": "http://a:1", "weight": 2}]}, "endpoints[0]"),
    ({"endpoints": [{"api_key": "k"}]}, "endpoints[0].url"),
    ({"endpoints": ["http://a:99999"]}, "endpoints[0]"),
    ({"endpoints": ["unix:///tmp/sock"]}, "endpoints[0]"),
    ({"policy": "random"}, "policy"),
    ({"cooldown": -1}, "cooldown"),
    ({"cooldown": "30"}, "cooldown"),
    ({"cooldown": True}, "cooldown"),
    ({"cooldwn": 3}, "cooldwn"),
])
def test_invalid_configuration_is_rejected_naming_the_key(config: dict[str, Any],
                                                          key: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        OllamaClient("http://127.0.0.1:1", plugins=["failover"],
                     plugin_config={"failover": config})
    assert key in str(info.value)


@pytest.mark.parametrize("raw, expected", [
    ("10.0.0.2", ("http", "10.0.0.2", 11434, "/")),
    ("  'example.com:8080'  ", ("http", "example.com", 8080, "/")),
    ("http://example.com", ("http", "example.com", 80, "/")),
    ("https://example.com/ollama/", ("https", "example.com", 443, "/ollama")),
    ("0.0.0.0:5000", ("http", "127.0.0.1", 5000, "/")),
    ("[::1]:7", ("http", "::1", 7, "/")),
    ("ollama.com", ("https", "ollama.com", 443, "/")),
])
def test_endpoint_urls_follow_ollama_host_rules(raw: str,
                                                expected: tuple[str, str, int, str]) -> None:
    url = parse_url(raw, "endpoints[0]")
    assert (url.scheme, url.host, url.port, url.path) == expected


async def test_reconfigure_keeps_the_state_of_endpoints_it_keeps(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, c = emus
    a.faults.add(path="/api/tags", status=503, times=1)
    async with failover_client(emus[:2], fake_clock, EventLog()) as client:
        await client.list_models()
        kept = client.upstreams.primary
        client.configure_plugin("failover", {"endpoints": [a.url, c.url],
                                             "policy": "round_robin", "cooldown": 5})
        assert [u.display for u in client.upstreams] == [a.url, c.url]
        assert client.upstreams.primary is kept and kept.down_until == START + COOLDOWN
        fo = plugin(client)
        assert fo.policy == "round_robin" and fo.cooldown == 5.0
        await client.list_models()  # a is still cooling down: c answers
        assert c.hits("/api/tags") == 1
        with pytest.raises(InvalidConfigError):
            client.configure_plugin("failover", {"policy": "nope"})
        assert fo.policy == "round_robin"  # a rejected change changes nothing
        client.configure_plugin("failover", {})
        assert [u.display for u in client.upstreams] == [a.url]  # the client's own again


# -- THE acceptance test -----------------------------------------------------------------


@pytest.mark.parametrize("recovery", ["cooldown", "health_probe"])
async def test_1000_calls_survive_the_primary_stopping_and_return_to_it(
        emus: list[OllamaEmulator], recovery: str) -> None:
    """The issue's acceptance test: with retry and failover, 1000 calls (20 at a time)
    while the primary is stopped after ~300 of them: none fails, the later ones go to the
    secondary, and once the primary is back (after the cooldown, or as soon as health
    probes find it healthy) it gets the traffic again."""
    primary, secondary, _ = emus
    clock = FakeClock()  # never advanced by the calls themselves: the cooldown holds
    log = EventLog()
    plugins: list[Any] = ["retry", "failover", log]
    config: dict[str, dict[str, Any]] = {
        "retry": {"max_attempts": 3, "base_delay": 0, "seed": 7},
        "failover": {"endpoints": [primary.url, secondary.url], "cooldown": COOLDOWN}}
    if recovery == "health_probe":
        plugins.append("health_checks")
        config["health_checks"] = {"interval": 3600, "unhealthy_threshold": 2,
                                   "healthy_threshold": 2}
    total, stop_after, concurrency = 1000, 300, 20
    failures: list[BaseException] = []
    completed = 0
    primary_hits_at_stop = -1
    calls = iter(range(total))

    async with OllamaClient(primary.url, clock=clock, plugins=plugins,
                            plugin_config=config) as client:
        fo = plugin(client)

        async def worker() -> None:
            nonlocal completed, primary_hits_at_stop
            for _ in calls:
                try:
                    await client.list_models()
                except Exception as exc:  # counted, then asserted to be none
                    failures.append(exc)
                completed += 1
                if completed == stop_after:
                    await primary.stop()  # 19 other calls are in flight meanwhile
                    primary_hits_at_stop = primary.hits("/api/tags")

        await asyncio.gather(*(worker() for _ in range(concurrency)))

        assert failures == []
        assert stop_after <= primary_hits_at_stop <= stop_after + concurrency
        assert primary.hits("/api/tags") == primary_hits_at_stop
        # Every call the primary did not answer was answered by the secondary.
        assert secondary.hits("/api/tags") >= total - primary_hits_at_stop
        moves = log.named("failover")
        assert all((e["from"], e["to"]) == (primary.url, secondary.url) for e in moves)
        # Only calls already headed for the primary when it went down had to move: once
        # it is marked down, no later call tries it.
        assert 1 <= len(moves) <= concurrency
        assert fo.active().display == secondary.url

        if recovery == "health_probe":
            health = client.plugin("health_checks")
            await health.check_now()
            report = await health.check_now()
            assert report[primary.url]["status"] == "unhealthy"

        await primary.start()
        if recovery == "cooldown":
            clock.advance(COOLDOWN)
        else:
            assert clock.now() == 0.0  # the cooldown has not passed: probes decide
            assert fo.active().display == secondary.url
            await health.check_now()
            assert fo.active().display == secondary.url  # one success is not enough
            report = await health.check_now()
            assert report[primary.url]["status"] == "healthy"
        assert fo.active().display == primary.url
        before = [primary.hits("/api/tags"), secondary.hits("/api/tags")]
        for _ in range(20):
            await client.list_models()
        assert [primary.hits("/api/tags"), secondary.hits("/api/tags")] == [
            before[0] + 20, before[1]]


# -- limiter refusals --------------------------------------------------------------------


def limited_client(emus: Sequence[OllamaEmulator], clock: FakeClock, log: EventLog,
                   *, per_upstream: bool = True, extra: Sequence[Any] = ()) -> OllamaClient:
    """Failover over ``emus`` with a limiter of one call per second (no waiting)."""
    return OllamaClient(
        emus[0].url, clock=clock, plugins=[*extra, "failover", "rate_limiting", log],
        plugin_config={
            "failover": {"endpoints": [e.url for e in emus], "cooldown": COOLDOWN},
            "rate_limiting": {"rate": 1, "burst": 1, "max_wait": 0,
                              "per_upstream": per_upstream}})


async def test_limiter_refusal_per_upstream_moves_the_call_to_the_idle_server(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, _ = emus
    log = EventLog()
    async with limited_client([a, b], fake_clock, log, extra=["retry"]) as client:
        fo = plugin(client)
        await client.list_models()  # a's token
        await client.list_models()  # a's bucket refuses: b has its own
        assert tags_hits(a, b) == [1, 1]
        [event] = log.named("failover")
        assert event["from"] == a.url and event["to"] == b.url
        assert event["cause"].startswith("RateLimitExceededError: ")
        # A busy client is no sign of a sick server: a stays in rotation, no failure.
        primary = client.upstreams.primary
        assert primary.down_until is None and primary.failures == 0
        assert fo.active().display == a.url and fo.failovers == 1

        # Both buckets empty: nothing is sent anywhere, and retry does not retry it.
        with pytest.raises(RateLimitExceededError) as info:
            await client.list_models()
        assert info.value.retry_after == 1.0 and info.value.upstream in (a.url, b.url)
        assert tags_hits(a, b) == [1, 1] and log.named("retry") == []
        assert [u.failures for u in client.upstreams] == [0, 0]

        fake_clock.advance(1.0)  # a's token is back: priority returns to it
        await client.list_models()
        assert tags_hits(a, b) == [2, 1]


async def test_when_every_bucket_refuses_the_refusal_freeing_first_is_raised(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, _ = emus
    async with limited_client([a, b], fake_clock, EventLog()) as client:
        await client.list_models()  # a, at START
        fake_clock.advance(0.5)
        await client.list_models()  # b, half a second later
        with pytest.raises(RateLimitExceededError) as info:
            await client.list_models()
        assert (info.value.upstream, info.value.retry_after) == (a.url, 0.5)
        assert info.value.__cause__ is None


async def test_limiter_refusal_moves_even_a_non_idempotent_call(
        emus: list[OllamaEmulator], fake_clock: FakeClock) -> None:
    a, b, _ = emus
    async with limited_client([a, b], fake_clock, EventLog()) as client:
        await client.copy_model("llama3.2:latest", "copy-1")
        await client.copy_model("llama3.2:latest", "copy-2")  # refused on a: nothing sent
        assert [a.hits("/api/copy"), b.hits("/api/copy")] == [1, 1]


async def test_a_shared_limit_refusal_does_not_move(emus: list[OllamaEmulator],
                                                    fake_clock: FakeClock) -> None:
    a, b, _ = emus
    log = EventLog()
    async with limited_client([a, b], fake_clock, log, per_upstream=False) as client:
        await client.list_models()
        # The limit covers every server: b would refuse too, so the refusal is raised.
        with pytest.raises(RateLimitExceededError) as info:
            await client.list_models()
        assert info.value.upstream is None
        assert tags_hits(a, b) == [1, 0] and log.named("failover") == []
        assert client.upstreams.primary.down_until is None


async def test_a_refusal_and_a_server_failure_aggregate(emus: list[OllamaEmulator],
                                                        fake_clock: FakeClock) -> None:
    a, b, _ = emus
    async with limited_client([a, b], fake_clock, EventLog()) as client:
        await client.list_models()  # a's token
        await b.stop()
        with pytest.raises(AllEndpointsFailedError) as info:
            await client.list_models()
        assert [type(e) for e in info.value.failures.values()] == [
            RateLimitExceededError, ConnectError]
        a_up, b_up = client.upstreams
        assert a_up.down_until is None and b_up.down_until == START + COOLDOWN


# -- the plugin's shape ------------------------------------------------------------------


async def test_failovers_are_typed_events_to_subscribe_to(emus: list[OllamaEmulator],
                                                          fake_clock: FakeClock) -> None:
    a, b, _ = emus
    a.faults.add(path="/api/tags", status=503, times=1)
    seen: list[FailedOver] = []
    client = failover_client(emus[:2], fake_clock, EventLog())
    client.on_event(seen.append, FailedOver)
    async with client:
        await client.list_models()
        assert client.plugin(FailoverPlugin).failovers == 1
    [event] = seen
    assert (event.name, event.source, event.time) == ("failover", "failover", START)
    assert (event.from_, event.to, event.endpoint) == (a.url, b.url, "tags")
    assert event["from"] == a.url and event.cause.startswith("ServiceUnavailableError: ")


def test_settings_are_declared_once_and_the_middleware_is_its_own_object() -> None:
    import ast
    import inspect

    from ollama_plugins.failover import FailoverConfig, FailoverMiddleware, policy

    fo = FailoverPlugin({"endpoints": ["http://a:1"], "cooldown": 5})
    assert fo.config_class is FailoverConfig and fo.settings.cooldown == 5.0
    assert fo.config == {"endpoints": ["http://a:1"], "policy": "priority", "cooldown": 5.0}
    assert FailoverPlugin({}).settings == FailoverConfig()  # the declared defaults
    assert isinstance(fo.middleware, FailoverMiddleware) and fo.middleware is not fo
    # The middleware reads only public attributes of its plugin.
    tree = ast.parse(inspect.getsource(policy))
    private = [node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and node.attr.startswith("_") and not node.attr.startswith("__")
               and (isinstance(node.value, ast.Name) and node.value.id == "plugin"
                    or isinstance(node.value, ast.Attribute) and node.value.attr == "plugin")]
    assert private == []
