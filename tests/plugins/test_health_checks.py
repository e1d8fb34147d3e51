"""The health-check plugin against real emulators on loopback, driven by a fake clock.

The background loop sleeps on ``client.clock``; tests advance the ``FakeClock`` by exact
amounts and synchronise with ``plugin.wait_for_rounds`` (never with real sleeps).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ollama_core import (
    Event,
    FakeClock,
    InvalidConfigError,
    OllamaClient,
    OllamaError,
    Request,
    UpstreamHealthChanged,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.health_checks import HealthChecksPlugin

INTERVAL = 10.0


class EventLog:
    """A plugin that records ``upstream_health`` events."""

    name = "event_log"

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def ollama_event(self, client: OllamaClient, event: Event) -> None:
        if event.name == "upstream_health":
            self.events.append(event)

    def verdicts(self) -> list[bool]:
        return [e["healthy"] for e in self.events]


class ProbeWatcher:
    """Sees every probe as it goes on the wire; can make each one take fake time."""

    name = "probe_watcher"

    def __init__(self, clock: FakeClock, takes: float = 0.0) -> None:
        self.clock = clock
        self.takes = takes
        self.sent = asyncio.Event()

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        if request.endpoint == "health":
            self.sent.set()
            if self.takes:
                self.clock.advance(self.takes)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[OllamaEmulator, OllamaEmulator]]:
    async with OllamaEmulator() as a, OllamaEmulator() as b:
        yield a, b


def health_client(url: str, clock: FakeClock, *extra: Any, **settings: Any) -> OllamaClient:
    return OllamaClient(url, clock=clock, plugins=["health_checks", *extra],
                        plugin_config={"health_checks": {"interval": INTERVAL, **settings}})


def plugin(client: OllamaClient) -> HealthChecksPlugin:
    hc = client.plugin("health_checks")
    assert isinstance(hc, HealthChecksPlugin)
    return hc


async def next_round(clock: FakeClock, hc: HealthChecksPlugin, seconds: float) -> None:
    """Move the clock by ``seconds`` and wait for the round that wakes up."""
    target = hc.rounds + 1
    clock.advance(seconds)
    await hc.wait_for_rounds(target)


def health_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "").startswith("HealthChecksPlugin.")]


@pytest.mark.parametrize("path", ["/", "/api/version"])
async def test_probes_run_exactly_each_interval(emulator: OllamaEmulator, clock: FakeClock,
                                                path: str) -> None:
    async with health_client(emulator.url, clock, path=path) as client:
        hc = plugin(client)
        await hc.wait_for_rounds(1)  # the first round runs as the client opens
        assert emulator.hits(path, "GET") == 1 and clock.sleeps == [INTERVAL]

        clock.advance(INTERVAL - 0.001)
        for _ in range(5):
            await asyncio.sleep(0)
        assert emulator.hits(path) == 1 and hc.rounds == 1 and clock.pending == 1

        clock.advance(0.001)
        await hc.wait_for_rounds(2)
        assert emulator.hits(path) == 2
        await next_round(clock, hc, INTERVAL)
        assert emulator.hits(path) == 3 and clock.sleeps == [INTERVAL] * 3
        assert emulator.hits() == 3  # nothing but the probes
        assert hc.report()[emulator.url]["checks"] == 3


@pytest.mark.parametrize("failure", ["stopped", "500"])
async def test_verdict_flips_after_exactly_the_thresholds(emulator: OllamaEmulator,
                                                          clock: FakeClock,
                                                          failure: str) -> None:
    log = EventLog()
    async with health_client(emulator.url, clock, log, unhealthy_threshold=3,
                             healthy_threshold=2) as client:
        hc = plugin(client)
        upstream = client.upstreams.primary
        await hc.wait_for_rounds(1)
        assert upstream.healthy is None and log.events == []  # one success decides nothing
        await next_round(clock, hc, INTERVAL)
        assert upstream.healthy is True and log.verdicts() == [True]

        if failure == "stopped":
            await emulator.stop()
        else:
            emulator.faults.add(path="/", status=500, times=None)
        for _ in range(2):
            await next_round(clock, hc, INTERVAL)
        assert upstream.healthy is True and log.verdicts() == [True]
        await next_round(clock, hc, INTERVAL)  # the third failed round
        assert upstream.healthy is False and log.verdicts() == [True, False]
        event = log.events[-1]
        assert event.source == "health_checks" and event.time == clock.now() == 4 * INTERVAL
        expected = "ConnectError: " if failure == "stopped" else "ServerError: "
        assert event.data["upstream"] == emulator.url and event.data["latency"] is None
        assert event.data["error"].startswith(expected)
        report = hc.report()[emulator.url]
        assert report["status"] == "unhealthy" and report["consecutive_failures"] == 3
        assert report["last_error"] == event.data["error"]

        if failure == "stopped":
            await emulator.start()
        else:
            emulator.faults.clear()
        await next_round(clock, hc, INTERVAL)
        assert upstream.healthy is False
        await next_round(clock, hc, INTERVAL)  # the second successful round
        assert upstream.healthy is True and log.verdicts() == [True, False, True]
        assert log.events[-1].data["error"] is None


async def test_report_describes_each_upstream(emulator: OllamaEmulator,
                                              clock: FakeClock) -> None:
    watcher = ProbeWatcher(clock, takes=0.25)  # each probe takes 0.25 s of fake time
    async with health_client(emulator.url, clock, watcher) as client:
        hc = plugin(client)
        await hc.wait_for_rounds(1)  # the background round, from 0.0 to 0.25
        report = await hc.check_now()  # one more round at once, from 0.25 to 0.5
        assert hc.rounds == 2 and report == hc.report()
        entry = report[emulator.url]
        assert entry["status"] == "healthy" and entry["latency"] == 0.25
        assert entry["checks"] == 2 and entry["consecutive_successes"] == 2
        assert entry["failed_checks"] == 0 and entry["last_error"] is None
        assert entry["last_check"] == 0.5
        assert client.upstreams.primary.last_latency == 0.25


def test_report_before_any_probe_is_unknown(clock: FakeClock) -> None:
    client = health_client("http://127.0.0.1:1", clock)
    assert plugin(client).report() == {"http://127.0.0.1:1": {
        "status": "unknown", "latency": None, "last_error": None,
        "consecutive_successes": 0, "consecutive_failures": 0, "checks": 0,
        "failed_checks": 0, "last_check": None}}


async def test_nothing_runs_before_the_client_opens(emulator: OllamaEmulator,
                                                    clock: FakeClock) -> None:
    client = health_client(emulator.url, clock)
    for _ in range(5):
        await asyncio.sleep(0)
    assert health_tasks() == [] and emulator.hits("/") == 0
    async with client:
        await plugin(client).wait_for_rounds(1)
        assert len(health_tasks()) == 1 and emulator.hits("/") == 1


@pytest.mark.parametrize("when", ["sleeping", "probing"])
async def test_background_task_stops_cleanly_on_close(emulator: OllamaEmulator,
                                                      clock: FakeClock, when: str) -> None:
    watcher = ProbeWatcher(clock)
    if when == "probing":
        emulator.faults.add(path="/", headers_delay=30.0, times=1)  # a probe hangs
    client = health_client(emulator.url, clock, watcher)
    async with client:
        if when == "sleeping":
            await plugin(client).wait_for_rounds(1)
            assert clock.pending == 1
        else:
            await watcher.sent.wait()
        assert health_tasks()
    assert health_tasks() == []
    assert clock.pending == 0
    assert plugin(client).rounds == (1 if when == "sleeping" else 0)
    with pytest.raises(OllamaError):
        await plugin(client).check_now()


async def test_unhealthy_endpoint_is_skipped_before_any_call_fails_on_it(
        pair: tuple[OllamaEmulator, OllamaEmulator], clock: FakeClock) -> None:
    primary, secondary = pair
    log = EventLog()
    failovers: list[Event] = []

    class FailoverLog:
        name = "failover_log"

        @hookimpl
        def ollama_event(self, client: OllamaClient, event: Event) -> None:
            if event.name == "failover":
                failovers.append(event)

    await primary.stop()
    async with OllamaClient(primary.url, clock=clock,
                            plugins=["failover", "health_checks", log, FailoverLog()],
                            plugin_config={
                                "failover": {"endpoints": [primary.url, secondary.url]},
                                "health_checks": {"interval": INTERVAL,
                                                  "unhealthy_threshold": 2,
                                                  "healthy_threshold": 2}}) as client:
        hc = plugin(client)
        fo = client.plugin("failover")
        await hc.wait_for_rounds(1)
        await next_round(clock, hc, INTERVAL)
        assert [e["healthy"] for e in log.events if e["upstream"] == primary.url] == [False]
        assert fo.active().display == secondary.url

        await client.list_models()  # straight to the secondary: nothing failed
        assert secondary.hits("/api/tags") == 1 and failovers == []

        await primary.start()
        await next_round(clock, hc, INTERVAL)
        assert fo.active().display == secondary.url  # one good probe is not enough
        await next_round(clock, hc, INTERVAL)
        assert fo.active().display == primary.url
        await client.list_models()
        assert primary.hits("/api/tags") == 1 and secondary.hits("/api/tags") == 1

        # A cooldown set by failover is lifted by the next good probe of a healthy server.
        primary.faults.add(path="/api/tags", status=503, times=1)
        await client.list_models()
        assert len(failovers) == 1 and fo.active().display == secondary.url
        await next_round(clock, hc, INTERVAL)
        assert client.upstreams.primary.down_until is None
        assert fo.active().display == primary.url


async def test_jitter_spreads_rounds_within_its_bound(emulator: OllamaEmulator,
                                                      clock: FakeClock) -> None:
    async with health_client(emulator.url, clock, jitter=2.0) as client:
        hc = plugin(client)
        while clock.pending == 0:  # let the loop start its initial, jittered sleep
            await asyncio.sleep(0)
        assert hc.rounds == 0  # jitter delays the first round too
        while hc.rounds < 4:
            target = hc.rounds + 1
            clock.advance(INTERVAL + 2.0)
            await hc.wait_for_rounds(target)
        first, *rest = clock.sleeps
        assert 0.0 <= first <= 2.0
        assert rest and all(INTERVAL <= s <= INTERVAL + 2.0 for s in rest)
        assert len(set(rest)) > 1


@pytest.mark.parametrize("config, key", [
    ({"interval": 0}, "interval"),
    ({"interval": "30"}, "interval"),
    ({"timeout": -1}, "timeout"),
    ({"timeout": float("nan")}, "timeout"),
    ({"path": "api/version"}, "path"),
    ({"path": "/api version"}, "path"),
    ({"path": 3}, "path"),
    ({"unhealthy_threshold": 0}, "unhealthy_threshold"),
    ({"healthy_threshold": 1.5}, "healthy_threshold"),
    ({"healthy_threshold": True}, "healthy_threshold"),
    ({"jitter": -0.5}, "jitter"),
    ({"intervall": 3}, "intervall"),
])
def test_invalid_configuration_is_rejected_naming_the_key(config: dict[str, Any],
                                                          key: str) -> None:
    with pytest.raises(InvalidConfigError) as info:
        OllamaClient("http://127.0.0.1:1", plugins=["health_checks"],
                     plugin_config={"health_checks": config})
    assert key in str(info.value)


def test_defaults_and_live_reconfiguration() -> None:
    client = OllamaClient("http://127.0.0.1:1", plugins=["health_checks"])
    hc = plugin(client)
    assert (hc.interval, hc.timeout, hc.path, hc.unhealthy_threshold,
            hc.healthy_threshold, hc.jitter) == (30.0, 5.0, "/", 3, 2, 0.0)
    client.configure_plugin("health_checks", {"path": "/api/version", "interval": 5})
    assert plugin(client) is hc and hc.path == "/api/version" and hc.interval == 5.0
    with pytest.raises(InvalidConfigError):
        client.configure_plugin("health_checks", {"path": "nope"})
    assert hc.path == "/api/version"


async def test_verdicts_are_typed_events_to_subscribe_to(emulator: OllamaEmulator,
                                                         clock: FakeClock) -> None:
    seen: list[UpstreamHealthChanged] = []
    client = health_client(emulator.url, clock, healthy_threshold=1)
    client.on_event(seen.append, UpstreamHealthChanged)
    async with client:
        await client.plugin(HealthChecksPlugin).wait_for_rounds(1)
    [event] = seen
    assert (event.name, event.source, event.time) == ("upstream_health", "health_checks", 0.0)
    assert (event.upstream, event.healthy, event.latency, event.error) == (
        emulator.url, True, 0.0, None)


def test_settings_are_declared_once_and_the_prober_is_its_own_object() -> None:
    import ast
    import inspect

    from ollama_plugins.health_checks import HealthChecksConfig, HealthProber, policy

    hc = HealthChecksPlugin({"timeout": 2})
    assert hc.config_class is HealthChecksConfig and hc.settings.timeout == 2.0
    assert hc.timeouts.connect == hc.timeouts.first_byte == hc.timeouts.idle == 2.0
    assert HealthChecksPlugin({}).settings == HealthChecksConfig()  # the declared defaults
    hc.reconfigure({"timeout": 3})
    assert hc.timeouts.idle == 3.0
    assert isinstance(hc.prober, HealthProber)
    # The prober reads only public attributes of its plugin.
    tree = ast.parse(inspect.getsource(policy))
    private = [node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
               and node.attr.startswith("_") and not node.attr.startswith("__")
               and (isinstance(node.value, ast.Name) and node.value.id == "plugin"
                    or isinstance(node.value, ast.Attribute) and node.value.attr == "plugin")]
    assert private == []
