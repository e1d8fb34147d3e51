"""The health prober: one round of probes, and the counters that flip a server's verdict.

It applies the policy written down in :mod:`ollama_plugins.health_checks._plugin`.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ollama_core import OllamaClient
from ollama_core.ext import Request, Upstream, UpstreamHealthChanged

if TYPE_CHECKING:
    from ._plugin import HealthChecksPlugin

__all__ = ["HealthProber", "ProbeState"]

_VERDICTS = {True: "healthy", False: "unhealthy", None: "unknown"}


@dataclass(slots=True)
class ProbeState:
    """What the probes found about one upstream."""

    checks: int = 0
    failed_checks: int = 0
    consecutive_successes: int = 0
    consecutive_failures: int = 0
    latency: float | None = None
    last_error: str | None = None
    last_check: float | None = None


class HealthProber:
    """Carries out the policy (:mod:`ollama_plugins.health_checks._plugin`); everything it
    knows of its plugin comes through the plugin's public attributes (``settings``,
    ``timeouts``, ``client``, ``clock``, ``emit``)."""

    def __init__(self, plugin: HealthChecksPlugin) -> None:
        self.plugin = plugin
        #: How many probe rounds have completed.
        self.rounds = 0
        self.rng = random.Random()
        self._states: dict[Upstream, ProbeState] = {}
        self._round_waiters: list[tuple[int, asyncio.Future[None]]] = []

    def state(self, upstream: Upstream) -> ProbeState:
        """The findings about ``upstream`` so far (empty when never probed)."""
        return self._states.get(upstream) or ProbeState()

    def report(self, client: OllamaClient) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for upstream in client.upstreams:
            st = self.state(upstream)
            out[upstream.display] = {
                "status": _VERDICTS[upstream.healthy], "latency": st.latency,
                "last_error": st.last_error,
                "consecutive_successes": st.consecutive_successes,
                "consecutive_failures": st.consecutive_failures,
                "checks": st.checks, "failed_checks": st.failed_checks,
                "last_check": st.last_check}
        return out

    async def wait_for_rounds(self, count: int) -> None:
        if self.rounds >= count:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._round_waiters.append((count, fut))
        try:
            await fut
        except asyncio.CancelledError:
            # A waiter that gave up leaves the list at once, not when a later round reaches
            # its count (its future is cancelled by then, so "not done" cannot tell).
            self._round_waiters = [(n, f) for n, f in self._round_waiters if f is not fut]
            raise

    def _jitter(self) -> float:
        jitter = self.plugin.settings.jitter
        return self.rng.uniform(0.0, jitter) if jitter > 0 else 0.0

    async def run(self) -> None:
        """The background task: a round, then ``interval`` (+ jitter) of sleep, forever.

        Ends only by cancellation (the client closing); a probe never raises anything
        else, so one bad round cannot kill the loop."""
        plugin = self.plugin
        client = plugin.client
        clock = plugin.clock
        if plugin.settings.jitter > 0:
            await clock.sleep(self._jitter())
        while True:
            await self.round(client)
            await clock.sleep(plugin.settings.interval + self._jitter())

    async def round(self, client: OllamaClient) -> None:
        """Probe every upstream once, concurrently, and record the findings."""
        upstreams = list(client.upstreams)
        # Forget servers that left the registry (a failover reconfiguration).
        for gone in self._states.keys() - set(upstreams):
            del self._states[gone]
        async with asyncio.TaskGroup() as group:
            for upstream in upstreams:
                group.create_task(self._probe(client, upstream))
        self.rounds += 1
        if self._round_waiters:
            still: list[tuple[int, asyncio.Future[None]]] = []
            for count, fut in self._round_waiters:
                if count <= self.rounds:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((count, fut))
            self._round_waiters = still

    async def _probe(self, client: OllamaClient, upstream: Upstream) -> None:
        plugin = self.plugin
        clock = plugin.clock
        settings = plugin.settings
        timeout = settings.timeout
        shared = plugin.shared
        if shared is not None:
            # One process of the fleet probes this round; the others count its finding.
            claimed = await shared.claim(upstream.display, settings.interval)
            if claimed is None:
                return
            if isinstance(claimed, tuple):
                latency, found = claimed
                self._record(client, upstream, clock.now(), None if found else latency, found)
                return
        request = Request("GET", settings.path, "health", upstream=upstream,
                          timeouts=plugin.timeouts, decode=False)
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
        latency = None if error else clock.now() - started
        if shared is not None:
            await shared.publish(upstream.display, settings.interval, (latency, error))
        self._record(client, upstream, clock.now(), latency, error)

    def _record(self, client: OllamaClient, upstream: Upstream, now: float,
                latency: float | None, error: str | None) -> None:
        plugin = self.plugin
        settings = plugin.settings
        st = self._states.get(upstream)
        if st is None:
            st = self._states[upstream] = ProbeState()
        st.checks += 1
        st.last_check = now
        before = verdict = upstream.healthy
        if error is None:
            st.consecutive_successes += 1
            st.consecutive_failures = 0
            st.latency = latency
            if before is not True and st.consecutive_successes >= settings.healthy_threshold:
                verdict = True
        else:
            st.failed_checks += 1
            st.consecutive_failures += 1
            st.consecutive_successes = 0
            st.last_error = error
            if before is not False and st.consecutive_failures >= settings.unhealthy_threshold:
                verdict = False
        registry = client.upstreams
        registry.record_probe(upstream, healthy=verdict, latency=latency, error=error)
        if verdict and upstream.down_until is not None:
            # Active evidence that the server answers again lifts failover's cooldown.
            registry.end_cooldown(upstream)
        if verdict is not before and plugin.wants_events:
            plugin.emit(UpstreamHealthChanged(
                time=now, source=plugin.name, upstream=upstream.display, healthy=verdict,
                latency=latency, error=error))
