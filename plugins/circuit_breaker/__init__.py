"""Circuit breaker plugin: stop calling a server endpoint that keeps failing.

Enable it with ``OllamaClient(plugins=["circuit_breaker"], ...)``. There is one breaker
per key ``(upstream URL, request.endpoint)`` (e.g. ``"http://gpu-1:11434 chat"``), so a
broken chat does not block ``tags``, and one bad server does not block the others. Its
middleware sits at ``ORDER_BREAKER`` (400): inside retry and failover, so it sees the
server failover chose for each attempt, and an open breaker fails fast with
``CircuitOpenError`` that failover answers by moving on and retry does not retry.

The state lives in ``pybreaker.CircuitBreaker`` objects (``plugin.breaker(...)``): their
``current_state``, consecutive-failure counter and listeners. They are driven from asyncio
as ``_circuit`` explains (pybreaker's own async support needs Tornado, its timing uses the
wall clock, and its half-open state admits everyone); time comes from ``client.clock``.

States and transitions:

- **closed**: calls pass; ``fail_max`` consecutive failures open the circuit.
- **open**: calls fail at once with ``CircuitOpenError(endpoint, retry_after, retry_at)``
  without touching the network (``retry_at`` is the clock reading when a probe will be
  allowed, ``retry_after`` the seconds left). After ``reset_timeout`` the next call
  moves it to half-open.
- **half_open**: at most ``half_open_max_calls`` probes run at once; other callers get
  ``CircuitOpenError`` (``retry_after`` 0: a probe is deciding). ``success_threshold``
  successful probes close it; a failed probe reopens it for a fresh break, which grows by
  ``reset_timeout_multiplier`` per consecutive trip up to ``max_reset_timeout``. A probe
  that is cancelled frees its permit and changes nothing.

What counts (see ``_circuit.classify``): failures are connection errors (a peer that
breaks HTTP, ``ProtocolError``, included), timeouts (connect, first byte, idle), 5xx
answers, answers that are not the JSON their endpoint answers (``DecodeError``), and
streams that break, end without their terminal line, carry an ``{"error": ...}`` line or
are not NDJSON, including after the
stream was handed to the caller (learnt through ``response.on_done``: the failure is
recorded before the consumer sees the error). 4xx answers are successes: the server
answered. Cancellation, the call's own ``DeadlineExceeded`` and client-side refusals
(rate limiter) are not counted. A stream is judged when it ends, so a half-open probe
that is a stream holds its permit until the consumer finishes or closes it, or drops it:
a stream garbage-collected before its end reports ``StreamCancelledError``
(``Response.abandon``), which frees the permit and decides nothing.

Configuration (defaults in brackets): ``fail_max`` [5], ``reset_timeout`` [30 s],
``half_open_max_calls`` [1], ``success_threshold`` [1], ``reset_timeout_multiplier``
[1.0: no growth], ``max_reset_timeout`` [10 x reset_timeout].

Events: ``circuit_state`` per transition, data ``key``, ``upstream``, ``endpoint``,
``old``, ``new`` (``"closed"``/``"open"``/``"half_open"``) and, when opening,
``retry_at``.

Cooperation with health checks: an ``upstream_health`` event with
``{"upstream": url, "healthy": True}`` moves that upstream's open breakers to half-open at
once instead of waiting out ``reset_timeout``: a successful active probe is evidence the
server is back, but real traffic still has to confirm it through the half-open probe
limit, so a false "healthy" costs one failed probe, not a stampede. ``healthy: False``
changes nothing here (the breaker judges real traffic; failover reads the health).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import pybreaker
import yarl

from ollama_core import ORDER_BREAKER, CircuitOpenError, Event, hookimpl

from ._circuit import Circuit, Outcome, classify
from ._settings import Settings, parse_settings

if TYPE_CHECKING:
    from ollama_core import Handler, Middleware, OllamaClient, Request, Response, Upstream

__all__ = ["CircuitBreakerPlugin", "Outcome", "classify"]


def _normalise(url: str | yarl.URL) -> str:
    return str(yarl.URL(str(url)).with_user(None))


class _BreakerMiddleware:
    """Admits, rejects and reports every attempt of its client."""

    name: str = "circuit_breaker"
    order: int = ORDER_BREAKER

    __slots__ = ("_plugin",)

    def __init__(self, plugin: CircuitBreakerPlugin) -> None:
        self._plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        plugin = self._plugin
        circuit = plugin._circuit_for(request)
        state = circuit.breaker.current_state
        probe = False
        if state != pybreaker.STATE_CLOSED:
            probe = plugin._admit_probe(circuit, request)
        generation = circuit.generation
        try:
            response = await call_next(request)
        except BaseException as exc:
            circuit.record(generation, probe, exc)
            raise
        if response.finished:
            circuit.record(generation, probe, None)
        else:
            response.on_done(functools.partial(circuit.record, generation, probe))
        return response


class CircuitBreakerPlugin:
    """Per-(upstream, endpoint) circuit breakers; see the module docstring."""

    name: ClassVar[str] = "circuit_breaker"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._settings: Settings = parse_settings(config or {})
        self._client: OllamaClient | None = None
        # Keyed by (upstream display URL, endpoint): the public identity of a breaker.
        self._circuits: dict[tuple[str, str], Circuit] = {}
        # Keyed by (id(Upstream), endpoint) for the per-call lookup without building the
        # upstream's display URL; the Upstream is kept to detect a reused id.
        self._fast: dict[tuple[int, str], tuple[Upstream, Circuit]] = {}
        self._middleware = _BreakerMiddleware(self)

    # -- configuration -------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The effective settings (defaults filled in)."""
        s = self._settings
        return {"fail_max": s.fail_max, "reset_timeout": s.reset_timeout,
                "half_open_max_calls": s.half_open_max_calls,
                "success_threshold": s.success_threshold,
                "reset_timeout_multiplier": s.reset_timeout_multiplier,
                "max_reset_timeout": s.max_reset_timeout}

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply new settings to every breaker, keeping their current states."""
        self._settings = parse_settings(config)
        for circuit in self._circuits.values():
            circuit.apply(self._settings)

    # -- hooks ---------------------------------------------------------------------------

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self._client = client

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Middleware]:
        self._client = client
        return [self._middleware]

    @hookimpl
    def ollama_event(self, client: OllamaClient, event: Event) -> None:
        if event.name != "upstream_health" or event.data.get("healthy") is not True:
            return
        url = event.data.get("upstream")
        if url is None:
            return
        target = _normalise(url)
        for circuit in list(self._circuits.values()):
            if circuit.upstream == target and circuit.breaker.current_state == pybreaker.STATE_OPEN:
                circuit.breaker.half_open()

    # -- observation and control ---------------------------------------------------------

    def _upstream_key(self, upstream: str | yarl.URL | Upstream | None) -> str:
        if upstream is None:
            if self._client is None:
                raise RuntimeError("the circuit_breaker plugin is not attached to a client")
            return self._client.upstreams.primary.display
        if isinstance(upstream, (str, yarl.URL)):
            return _normalise(upstream)
        return upstream.display

    def breaker(self, endpoint: str = "chat",
                upstream: str | yarl.URL | Upstream | None = None) -> pybreaker.CircuitBreaker:
        """The ``pybreaker.CircuitBreaker`` of a key (created closed if it did not exist).

        ``upstream`` is a URL or ``Upstream``; ``None`` means the client's primary server.
        """
        return self._circuit(self._upstream_key(upstream), endpoint).breaker

    def state(self, endpoint: str = "chat",
              upstream: str | yarl.URL | Upstream | None = None) -> str:
        """``"closed"``, ``"open"`` or ``"half_open"`` for one key (closed if never used).

        An open circuit whose ``reset_timeout`` has passed still reads ``"open"``: it moves
        to half-open when the next call arrives (or a health check vouches for it).
        """
        circuit = self._circuits.get((self._upstream_key(upstream), endpoint))
        return circuit.state if circuit is not None else "closed"

    def states(self) -> dict[str, str]:
        """The state of every breaker in use, by key (``"<upstream> <endpoint>"``)."""
        return {c.key: c.state for c in self._circuits.values()}

    def retry_at(self, endpoint: str = "chat",
                 upstream: str | yarl.URL | Upstream | None = None) -> float | None:
        """When an open circuit admits a probe (a ``client.clock`` reading), else None."""
        circuit = self._circuits.get((self._upstream_key(upstream), endpoint))
        if circuit is None or circuit.breaker.current_state != pybreaker.STATE_OPEN:
            return None
        return circuit.retry_at

    def reset(self, endpoint: str | None = None,
              upstream: str | yarl.URL | Upstream | None = None) -> None:
        """Close breakers and clear their counters: all of them, or those matching
        ``endpoint`` and/or ``upstream`` (a transition event is emitted for each one
        that was not closed)."""
        target = self._upstream_key(upstream) if upstream is not None else None
        for circuit in list(self._circuits.values()):
            if endpoint is not None and circuit.endpoint != endpoint:
                continue
            if target is not None and circuit.upstream != target:
                continue
            circuit.breaker.close()

    # -- internals -----------------------------------------------------------------------

    def _circuit(self, upstream: str, endpoint: str) -> Circuit:
        key = (upstream, endpoint)
        circuit = self._circuits.get(key)
        if circuit is None:
            circuit = Circuit(upstream, endpoint, self._settings, self._now, self._on_transition)
            self._circuits[key] = circuit
        return circuit

    def _circuit_for(self, request: Request) -> Circuit:
        upstream = request.upstream
        if upstream is None:
            client = self._client
            assert client is not None, "middleware used without ollama_client_setup"
            upstream = client.upstreams.primary
        fast_key = (id(upstream), request.endpoint)
        entry = self._fast.get(fast_key)
        if entry is not None and entry[0] is upstream:
            return entry[1]
        circuit = self._circuit(upstream.display, request.endpoint)
        self._fast[fast_key] = (upstream, circuit)
        return circuit

    def _now(self) -> float:
        client = self._client
        if client is None:
            raise RuntimeError("the circuit_breaker plugin is not attached to a client")
        return client.clock.now()

    def _admit_probe(self, circuit: Circuit, request: Request) -> bool:
        """Let a call through an open or half-open circuit as a probe, or raise."""
        breaker = circuit.breaker
        if breaker.current_state == pybreaker.STATE_OPEN:
            now = self._now()
            retry_at = circuit.retry_at
            if now < retry_at:
                raise CircuitOpenError(request.endpoint, retry_after=retry_at - now,
                                       retry_at=retry_at)
            breaker.half_open()
        if circuit.probes >= self._settings.half_open_max_calls:
            now = self._now()
            raise CircuitOpenError(request.endpoint, retry_after=0.0, retry_at=now)
        circuit.probes += 1
        return True

    def _on_transition(self, circuit: Circuit, old: str, new: str) -> None:
        client = self._client
        if client is None:
            return
        data: dict[str, Any] = {"key": circuit.key, "upstream": circuit.upstream,
                                "endpoint": circuit.endpoint, "old": old, "new": new}
        if new == "open":
            data["retry_at"] = circuit.retry_at
        client.emit(Event("circuit_state", "circuit_breaker", client.clock.now(), data))

    def __repr__(self) -> str:
        s = self._settings
        return (f"CircuitBreakerPlugin(fail_max={s.fail_max}, reset_timeout={s.reset_timeout}, "
                f"breakers={len(self._circuits)})")
