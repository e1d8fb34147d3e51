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

Configuration: the six keys above (``fail_max``, ``reset_timeout``,
``half_open_max_calls``, ``success_threshold``, ``reset_timeout_multiplier``,
``max_reset_timeout``) and the shared-store keys below, declared with their defaults in
:class:`~ollama_plugins.circuit_breaker._config.CircuitBreakerConfig`.

Events: ``CircuitStateChanged`` (``circuit_state``) per transition, with ``key``,
``upstream``, ``endpoint``, ``old``, ``new`` (``"closed"``/``"open"``/``"half_open"``)
and, when opening, ``retry_at``.

Where the state lives: the failure counting stays in this process (pybreaker); the
verdict (open for how long, then half-open) and the half-open probe leases live in a
*breaker store* (``ollama_plugins.circuit_breaker.store``: the protocol, the in-process
default, and what a store shared by several processes may weaken). Give the plugin
another one with ``CircuitBreakerPlugin(config, store=...)`` or, from another plugin's
``ollama_client_setup``, ``client.plugin(CircuitBreakerPlugin).use_store(...)``. Every
call asks the store once: an open verdict another process published makes calls here
fail fast too, and a verdict removed elsewhere (the server recovered) closes the breaker
here.

Shared by a fleet (see :mod:`ollama_plugins.circuit_breaker.redis_store` for how, and
which promises it weakens): ``store`` is ``"memory"`` (this process alone) or a Redis URL;
processes naming the same one and the same ``store_prefix`` share verdicts: each counts
its own failures, an open breaker is published with a TTL and every process fails fast on
it, and in half-open exactly ``half_open_max_calls`` probes cross the whole fleet (leases
that outlive a dead prober by at most ``store_lease_ttl``). A process keeps an open
verdict it read for about a second; otherwise it asks Redis before each call, within
``store_timeout``. When Redis is down or slow each process decides alone on its own
transitions (a ``StoreDegraded`` event and a log line; ``StoreRecovered`` when sharing
resumes), or, with ``fail_closed``, refuses calls with ``StoreUnavailable``. The password
of a Redis URL is never shown.

Cooperation with health checks: an ``UpstreamHealthChanged`` event (``upstream_health``)
with ``healthy`` true moves that upstream's open breakers to half-open at
once instead of waiting out ``reset_timeout``: a successful active probe is evidence the
server is back, but real traffic still has to confirm it through the half-open probe
limit, so a false "healthy" costs one failed probe, not a stampede. ``healthy: False``
changes nothing here (the breaker judges real traffic; failover reads the health).
"""


from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import pybreaker
import yarl

from ollama_core.ext import (
    CircuitOpenError,
    CircuitStateChanged,
    Event,
    Middleware,
    Plugin,
    Request,
    UpstreamHealthChanged,
    hookimpl,
)

from ._circuit import STATE_NAMES, Circuit
from ._config import CircuitBreakerConfig
from ._middleware import BreakerMiddleware
from .store import BreakerStore, MemoryBreakerStore, Verdict

if TYPE_CHECKING:
    from ollama_core import OllamaClient, Upstream

__all__ = ["CircuitBreakerPlugin"]

_STORE_KEYS = ("store", "store_prefix", "store_timeout", "store_lease_ttl", "fail_closed")


def _normalise(url: str | yarl.URL) -> str:
    return str(yarl.URL(str(url)).with_user(None))


class CircuitBreakerPlugin(Plugin[CircuitBreakerConfig]):
    """Per-(upstream, endpoint) circuit breakers; see the module docstring."""

    name: ClassVar[str] = "circuit_breaker"
    config_class = CircuitBreakerConfig

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 store: BreakerStore | None = None) -> None:
        super().__init__(config)
        self._store: BreakerStore | None = store
        # A default built before the plugin was attached, on a clock of its own: setup
        # replaces it with one on the client's clock.
        self._provisional = False
        self._retired: list[BreakerStore] = []
        # Keyed by (upstream display URL, endpoint): the public identity of a breaker.
        self._circuits: dict[tuple[str, str], Circuit] = {}
        # Keyed by (id(Upstream), endpoint) for the per-call lookup without building the
        # upstream's display URL; the Upstream is kept to detect a reused id.
        self._fast: dict[tuple[int, str], tuple[Upstream, Circuit]] = {}
        self._middleware = BreakerMiddleware(self)

    # -- the store -----------------------------------------------------------------------

    @property
    def store(self) -> BreakerStore:
        """Where verdicts and probe leases live (see ``store``'s module docstring)."""
        store = self._store
        if store is None:
            store = self._store = MemoryBreakerStore(self.clock if self.attached else None)
            self._provisional = not self.attached
        return store

    def use_store(self, store: BreakerStore) -> None:
        """Keep verdicts and probe leases in ``store`` from now on (e.g. from another
        plugin's ``ollama_client_setup``)."""
        self._store = store
        self._provisional = False

    # -- configuration -------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The effective settings (defaults filled in, ``max_reset_timeout`` resolved)."""
        return {**self.settings.to_dict(), "max_reset_timeout": self.settings.longest_open}

    def config_changed(self, old: CircuitBreakerConfig) -> None:
        """Apply new settings to every breaker, keeping their current states. New
        shared-store settings move the verdicts to a new store (the old one is closed
        with the client)."""
        if self.attached and any(getattr(old, k) != getattr(self.settings, k)
                                 for k in _STORE_KEYS):
            if self._store is not None:
                self._retired.append(self._store)
            self._store = self._build_store(self.client)
        for circuit in self._circuits.values():
            circuit.apply(self.settings)

    # -- hooks ---------------------------------------------------------------------------

    def setup(self, client: OllamaClient) -> None:
        if self._store is None or self._provisional:
            self._provisional = False
            self._store = self._build_store(client)

    def _build_store(self, client: OllamaClient) -> BreakerStore:
        settings = self.settings
        if not settings.shared:
            return MemoryBreakerStore(client.clock)
        from .._redis._link import RedisLink  # the redis extra: imported only when named
        from .redis_store import RedisBreakerStore

        link = RedisLink(settings.store, timeout=settings.store_timeout, clock=client.clock,
                         source=self.name, emit=self.emit, fail_closed=settings.fail_closed)
        return RedisBreakerStore(link, prefix=settings.store_prefix,
                                 lease_ttl=settings.store_lease_ttl, clock=client.clock)

    @hookimpl
    def ollama_middlewares(self) -> list[Middleware]:
        return [self._middleware]

    @hookimpl
    async def ollama_client_aclose(self) -> None:
        retired, self._retired = self._retired, []
        for store in retired:
            await store.aclose()
        await self.store.aclose()

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        healthy: Any
        url: Any
        if isinstance(event, UpstreamHealthChanged):
            healthy, url = event.healthy, event.upstream
        elif event.name == "upstream_health":  # an untyped event of the same kind
            healthy, url = event.data.get("healthy"), event.data.get("upstream")
        else:
            return
        if healthy is not True or url is None:
            return
        target = _normalise(url)
        for circuit in list(self._circuits.values()):
            if circuit.upstream == target and circuit.breaker.current_state == pybreaker.STATE_OPEN:
                circuit.breaker.half_open()

    # -- observation and control ---------------------------------------------------------

    def _upstream_key(self, upstream: str | yarl.URL | Upstream | None) -> str:
        if upstream is None:
            return self.client.upstreams.primary.display
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

    # -- what the middleware uses --------------------------------------------------------

    def circuit_for(self, request: Request) -> Circuit:
        """The circuit of the server and endpoint a call goes to."""
        upstream = request.upstream
        if upstream is None:
            upstream = self.client.upstreams.primary
        fast_key = (id(upstream), request.endpoint)
        entry = self._fast.get(fast_key)
        if entry is not None and entry[0] is upstream:
            return entry[1]
        circuit = self._circuit(upstream.display, request.endpoint)
        self._fast[fast_key] = (upstream, circuit)
        return circuit

    def follow(self, circuit: Circuit, verdict: Verdict, request: Request) -> Any:
        """Act on the store's verdict about a call (``store.admit``): return its probe
        lease (``None`` when it is not a probe), or raise ``CircuitOpenError``. The local
        breaker follows the verdict (a breaker closed elsewhere closes here too)."""
        breaker = circuit.breaker
        state = verdict.state
        if state == "closed":
            if breaker.current_state != pybreaker.STATE_CLOSED:
                self._follow(circuit, breaker.close)  # closed elsewhere, or expired
            return None
        if state == "open":
            now = self._now()
            if breaker.current_state == pybreaker.STATE_OPEN and circuit.retry_at > now:
                retry_at = circuit.retry_at  # this process's own reading: exact
                retry_after = retry_at - now
            else:  # another process's verdict, in the store's time
                retry_after = verdict.retry_after
                retry_at = now + retry_after
            raise CircuitOpenError(request.endpoint, retry_after=retry_after,
                                   retry_at=retry_at)
        if verdict.lease is None:
            raise CircuitOpenError(request.endpoint, retry_after=0.0, retry_at=self._now())
        if breaker.current_state != pybreaker.STATE_HALF_OPEN:
            self._follow(circuit, breaker.half_open)
        return verdict.lease

    def report(self, circuit: Circuit, generation: int, lease: Any,
               error: BaseException | None) -> None:
        """One attempt ended (``error`` ``None``: it succeeded): give its probe lease
        back, then let the breaker judge the outcome."""
        if lease is not None:
            self.store.release_probe(circuit.key, lease)
        circuit.record(generation, error)

    # -- internals -----------------------------------------------------------------------

    def _circuit(self, upstream: str, endpoint: str) -> Circuit:
        key = (upstream, endpoint)
        circuit = self._circuits.get(key)
        if circuit is None:
            circuit = Circuit(upstream, endpoint, self.settings, self._now, self._on_transition)
            self._circuits[key] = circuit
        return circuit

    @staticmethod
    def _follow(circuit: Circuit, move: Any) -> None:
        circuit.following = True
        try:
            move()
        finally:
            circuit.following = False

    def _now(self) -> float:
        return self.clock.now()

    def _on_transition(self, circuit: Circuit, old: str | None, new: str) -> None:
        if not circuit.following:
            store = self.store
            if new == pybreaker.STATE_OPEN:
                store.trip(circuit.key, circuit.open_for)
            elif new == pybreaker.STATE_CLOSED:
                store.close(circuit.key)
            else:
                store.half_open(circuit.key)
        if old == new or not self.attached:
            return
        self.emit(CircuitStateChanged(
            time=self.clock.now(), key=circuit.key, upstream=circuit.upstream,
            endpoint=circuit.endpoint,
            old=STATE_NAMES[old] if old is not None else "closed", new=STATE_NAMES[new],
            retry_at=circuit.retry_at if new == pybreaker.STATE_OPEN else None))

    def __repr__(self) -> str:
        s = self.settings
        return (f"CircuitBreakerPlugin(fail_max={s.fail_max}, reset_timeout={s.reset_timeout}, "
                f"breakers={len(self._circuits)})")
