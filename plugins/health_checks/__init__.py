"""Health checks: probe every upstream in the background and publish a verdict per server.

Configuration (``plugin_config={"health_checks": {...}}``):

- ``interval``: seconds between two probe rounds (default 30). Measured on
  ``client.clock`` from the end of one round to the start of the next.
- ``timeout``: seconds a probe may take, connect and answer included (default 5).
- ``path``: what to ``GET`` (default ``"/"``, which Ollama answers with
  ``Ollama is running``; ``"/api/version"`` works too). Must start with ``/``. Probes never
  generate: a cheap endpoint keeps the check from costing GPU time.
- ``unhealthy_threshold``: consecutive failed probes before a server is declared unhealthy
  (default 3).
- ``healthy_threshold``: consecutive successful probes before it is declared healthy
  (default 2).
- ``jitter``: up to this many extra seconds, drawn uniformly per round, are added to every
  interval and delay the first round (default 0: first round at once, then exactly every
  ``interval``). Jitter keeps many clients restarted together from probing in lockstep.

A round probes every upstream of ``client.upstreams`` concurrently (so the failover
plugin's endpoints are covered whatever the plugin order) with ``GET <path>``, sent with
``client.send(..., through_middlewares=False)`` so no retry, breaker or limiter touches it.
A probe succeeds on a 2xx answer within ``timeout``; anything else fails it.

The verdict (``Upstream.healthy``) is ``None`` (unknown) until a threshold is reached, then
``True``/``False``; it only flips after the opposite threshold is reached. Every flip emits
an ``upstream_health`` event with ``upstream`` (URL without credentials), ``healthy``,
``latency`` (seconds on the client's clock, ``None`` for a failure) and ``error``
(``"<Type>: message"`` or ``None``). The failover plugin skips servers whose verdict is
``False`` (``Upstream.is_available``), and a successful probe of a server whose verdict is
healthy lifts a cooldown failover put on it (like Envoy's
``successful_active_health_check_uneject_host``), so traffic returns to a recovered
primary at the next call. The circuit breaker listens to the events.

The probe counters that decide the verdict are kept here, apart from
``Upstream.consecutive_failures``/``consecutive_successes``, which count real traffic
(``UpstreamRegistry.mark_down``/``mark_success``); mixing the two would let user calls
decide an active-check verdict.

Background probing runs only while the client is open: the client starts it when it opens
(``async with`` or its first call) and cancels and awaits it when it closes.
:meth:`HealthChecksPlugin.check_now` runs one round on demand (the CLI ``health`` command,
tests), and :meth:`HealthChecksPlugin.report` summarises the last findings.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ollama_core import (
    Clock,
    Event,
    InvalidConfigError,
    MonotonicClock,
    OllamaError,
    Request,
    Timeouts,
    Upstream,
    hookimpl,
)

if TYPE_CHECKING:
    from ollama_core import OllamaClient

__all__ = ["HealthChecksPlugin"]

_DEFAULTS: Final[dict[str, Any]] = {
    "interval": 30.0,
    "timeout": 5.0,
    "path": "/",
    "unhealthy_threshold": 3,
    "healthy_threshold": 2,
    "jitter": 0.0,
}


@dataclass(slots=True)
class _ProbeState:
    """What the probes found about one upstream."""

    checks: int = 0
    failed_checks: int = 0
    consecutive_successes: int = 0
    consecutive_failures: int = 0
    latency: float | None = None
    last_error: str | None = None
    last_check: float | None = None


def _seconds(config: Mapping[str, Any], key: str, *, allow_zero: bool) -> float:
    value = config.get(key, _DEFAULTS[key])
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero)):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidConfigError(
            f"health_checks: {key} must be a number of seconds {bound}, got {value!r}")
    return float(value)


def _count(config: Mapping[str, Any], key: str) -> int:
    value = config.get(key, _DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfigError(
            f"health_checks: {key} must be an integer >= 1, got {value!r}")
    return value


def _path(config: Mapping[str, Any]) -> str:
    value = config.get("path", _DEFAULTS["path"])
    if (not isinstance(value, str) or not value.startswith("/")
            or any(c.isspace() or ord(c) < 32 for c in value)):
        raise InvalidConfigError(
            f"health_checks: path must start with '/' and contain no whitespace, "
            f"got {value!r}")
    return value


class HealthChecksPlugin:
    """Active health checks of every upstream; see the module docstring for the policy."""

    name = "health_checks"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._client: OllamaClient | None = None
        self._clock: Clock = MonotonicClock()
        self._states: dict[Upstream, _ProbeState] = {}
        self._rounds = 0
        self._round_waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._random = random.Random()
        self._apply(config)

    # -- configuration -----------------------------------------------------------------

    def _apply(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise InvalidConfigError("health_checks: configuration must be a mapping")
        unknown = set(config) - set(_DEFAULTS)
        if unknown:
            raise InvalidConfigError(
                f"health_checks: unknown key(s) {sorted(map(str, unknown))} "
                f"(allowed: {', '.join(sorted(_DEFAULTS))})")
        interval = _seconds(config, "interval", allow_zero=False)
        timeout = _seconds(config, "timeout", allow_zero=False)
        jitter = _seconds(config, "jitter", allow_zero=True)
        path = _path(config)
        unhealthy = _count(config, "unhealthy_threshold")
        healthy = _count(config, "healthy_threshold")
        # Everything validated first, so a rejected reconfigure changes nothing.
        self.interval: float = interval
        self.timeout: float = timeout
        self.jitter: float = jitter
        self.path: str = path
        self.unhealthy_threshold: int = unhealthy
        self.healthy_threshold: int = healthy
        self._timeouts = Timeouts(connect=timeout, first_byte=timeout, idle=timeout)

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply new settings live; the running loop uses them from its next round."""
        self._apply(config)

    # -- hooks -------------------------------------------------------------------------

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self._client = client
        self._clock = client.clock

    @hookimpl
    def ollama_background_tasks(
        self, client: OllamaClient,
    ) -> list[Callable[[], Coroutine[Any, Any, None]]] | None:
        # The client records which plugin contributed each task, so remove_plugin stops
        # exactly this one.
        return [self._run]

    # -- public API --------------------------------------------------------------------

    @property
    def rounds(self) -> int:
        """How many probe rounds have completed (background and :meth:`check_now`)."""
        return self._rounds

    async def wait_for_rounds(self, count: int) -> None:
        """Return once at least ``count`` rounds have completed since the plugin started.

        Lets a caller (a test, a service waiting for its first verdicts) synchronise with
        the background loop without polling or sleeping."""
        if self._rounds >= count:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._round_waiters.append((count, fut))
        try:
            await fut
        finally:
            if not fut.done():  # cancelled: forget the waiter
                self._round_waiters = [(n, f) for n, f in self._round_waiters if f is not fut]

    async def check_now(self) -> dict[str, dict[str, Any]]:
        """Probe every upstream once, now, update the verdicts and return :meth:`report`.

        Opens the client if it was not yet (like any call); raises ``OllamaError`` on a
        closed client."""
        client = self._attached()
        if client.closed:
            raise OllamaError("the client is closed")
        await self._round(client)
        return self.report()

    def report(self) -> dict[str, dict[str, Any]]:
        """Per upstream (URL without credentials): ``status`` (``"healthy"``,
        ``"unhealthy"`` or ``"unknown"``), ``latency`` (of the last successful probe,
        seconds), ``last_error``, ``consecutive_successes``, ``consecutive_failures``,
        ``checks``, ``failed_checks`` and ``last_check`` (clock reading or ``None``)."""
        out: dict[str, dict[str, Any]] = {}
        for upstream in self._attached().upstreams:
            st = self._states.get(upstream) or _ProbeState()
            status = {True: "healthy", False: "unhealthy", None: "unknown"}[upstream.healthy]
            out[upstream.display] = {
                "status": status, "latency": st.latency, "last_error": st.last_error,
                "consecutive_successes": st.consecutive_successes,
                "consecutive_failures": st.consecutive_failures,
                "checks": st.checks, "failed_checks": st.failed_checks,
                "last_check": st.last_check}
        return out

    def __repr__(self) -> str:
        return (f"HealthChecksPlugin(interval={self.interval:g}, timeout={self.timeout:g}, "
                f"path={self.path!r}, unhealthy_threshold={self.unhealthy_threshold}, "
                f"healthy_threshold={self.healthy_threshold}, jitter={self.jitter:g})")

    # -- the probing loop --------------------------------------------------------------

    def _attached(self) -> OllamaClient:
        if self._client is None:
            raise RuntimeError("the health_checks plugin is not attached to a client")
        return self._client

    def _jitter(self) -> float:
        return self._random.uniform(0.0, self.jitter) if self.jitter > 0 else 0.0

    async def _run(self) -> None:
        """The background task: a round, then ``interval`` (+ jitter) of sleep, forever.

        Ends only by cancellation (the client closing); a probe never raises anything
        else, so one bad round cannot kill the loop."""
        client = self._attached()
        clock = self._clock
        if self.jitter > 0:
            await clock.sleep(self._jitter())
        while True:
            await self._round(client)
            await clock.sleep(self.interval + self._jitter())

    async def _round(self, client: OllamaClient) -> None:
        upstreams = list(client.upstreams)
        # Forget servers that left the registry (a failover reconfiguration).
        for gone in self._states.keys() - set(upstreams):
            del self._states[gone]
        async with asyncio.TaskGroup() as group:
            for upstream in upstreams:
                group.create_task(self._probe(client, upstream))
        self._rounds += 1
        if self._round_waiters:
            still: list[tuple[int, asyncio.Future[None]]] = []
            for count, fut in self._round_waiters:
                if count <= self._rounds:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((count, fut))
            self._round_waiters = still

    async def _probe(self, client: OllamaClient, upstream: Upstream) -> None:
        clock = self._clock
        timeout = self.timeout
        request = Request("GET", self.path, "health", upstream=upstream,
                          timeouts=self._timeouts, extensions={"raw_body": True})
        started = clock.now()
        error: str | None = None
        try:
            # The transport bounds each phase; this bounds the whole probe (network I/O
            # runs on real time whatever the policy clock).
            async with asyncio.timeout(timeout):
                response = await client.send(request, through_middlewares=False)
            if not 200 <= response.status < 300:
                error = f"HTTP {response.status}"
        except asyncio.CancelledError:
            raise
        except TimeoutError as exc:
            error = f"{type(exc).__name__}: {str(exc) or f'no answer within {timeout:g}s'}"
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        self._record(client, upstream, clock.now(), None if error else clock.now() - started,
                     error)

    def _record(self, client: OllamaClient, upstream: Upstream, now: float,
                latency: float | None, error: str | None) -> None:
        st = self._states.get(upstream)
        if st is None:
            st = self._states[upstream] = _ProbeState()
        st.checks += 1
        st.last_check = now
        before = upstream.healthy
        if error is None:
            st.consecutive_successes += 1
            st.consecutive_failures = 0
            st.latency = upstream.last_latency = latency
            if before is not True and st.consecutive_successes >= self.healthy_threshold:
                upstream.healthy = True
            if upstream.healthy and upstream.down_until is not None:
                # Active evidence that the server answers again lifts failover's cooldown.
                upstream.down_until = None
        else:
            st.failed_checks += 1
            st.consecutive_failures += 1
            st.consecutive_successes = 0
            st.last_error = upstream.last_error = error
            if before is not False and st.consecutive_failures >= self.unhealthy_threshold:
                upstream.healthy = False
        if upstream.healthy is not before:
            client.emit(Event("upstream_health", self.name, now, {
                "upstream": upstream.display, "healthy": upstream.healthy,
                "latency": latency, "error": error}))
