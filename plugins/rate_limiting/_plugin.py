"""Client-side rate limiting: a token bucket and an in-flight cap per endpoint.

Every call that reaches this middleware (the innermost one, so every attempt a retry or a
failover makes is paced on its own, and a cache hit costs nothing) first gets a
concurrency slot, then a token, from the limiter of its endpoint (``request.endpoint``:
``"chat"``, ``"embed"``...; with ``per_upstream`` the limiter of its endpoint *on the
server failover chose*).

Settings (``plugin_config={"rate_limiting": {...}}``, declared with their defaults in
:class:`~ollama_plugins.rate_limiting._config.RateLimitingConfig`), each also accepted per
endpoint under ``endpoints`` (``{"endpoints": {"chat": {"rate": 2}}}``; keys an endpoint
does not set come from the top level):

``rate``
    Tokens added per second, ``> 0``; ``None`` disables the token bucket (the in-flight
    cap alone then applies).
``burst``
    The bucket's capacity; when not set, it is derived from ``rate`` (the declaration
    says how). The bucket starts full, so ``burst`` calls go at once and after that one
    per ``1 / rate`` seconds: in any window of ``w`` seconds at most
    ``burst + rate * w`` calls pass.
``max_wait``
    The longest a call may wait, in seconds: ``0`` rejects at once when no token (or
    slot) is free, as the Rust crate did; ``None`` waits as long as needed (the call's own
    deadline still applies). Waiting for a token is exact, so a call whose token lies
    beyond ``max_wait`` is rejected at once, with ``retry_after`` set to the time its token
    would have come, rather than after a pointless wait. Waiting for a slot is open-ended
    (it depends on when other calls end), so it lasts up to ``max_wait``, then fails with
    ``retry_after=None``. Rejection raises ``RateLimitExceededError`` naming the endpoint;
    nothing is sent.
``max_concurrent``
    Calls in flight at once (``None``: no cap). A slot is held until the response is
    complete: for a stream, until ``response.on_done`` fires (its last line, an error, or
    ``cancel()``/``aclose()``). It is always released: on success, on error, on cancellation of the
    waiting or calling task, and for a stream the caller drops without closing, once it
    is garbage-collected (``Response.abandon`` ends it, connection and slot alike).
``per_upstream`` (top level only)
    Keep separate limiters per server as well as per endpoint (for failover across
    servers with their own capacity).

Waiters are served in strict FIFO order, without polling: only the head of the line
sleeps, exactly until its token (see ``_bucket``). A waiter that is cancelled or rejected
gives its place up without taking or wasting a token.

Shared by a fleet (see :mod:`ollama_plugins.rate_limiting.redis_store` for how, and which
of the promises above it weakens): ``store`` is ``"memory"`` (this process alone) or a
Redis URL; processes naming the same one and the same ``store_prefix`` share every bucket
and slot pool, so the limits hold for the fleet (``max_concurrent`` then sizes like the
server's ``OLLAMA_NUM_PARALLEL``). ``store_timeout`` bounds each Redis call;
``store_lease_ttl`` is how long the slots of a process that died stay taken. When Redis is
down or slow each process decides alone at ``rate / store_processes`` (and
``max_concurrent / store_processes``, rounded up; ``store_processes`` is how many
processes share the limits) (a
``StoreDegraded`` event and a log line; ``StoreRecovered`` when sharing resumes), or, with
``fail_closed``, refuses calls with ``StoreUnavailable``. The password of a Redis URL is
never shown.

State: the buckets and slots live in a *limiter store* (``ollama_plugins.rate_limiting.
store``: the protocol, the in-process default, and which of the promises above a store
shared by several processes may weaken). Give the plugin another one with
``RateLimitingPlugin(config, store=...)`` or, from another plugin's
``ollama_client_setup``, ``client.plugin(RateLimitingPlugin).use_store(...)``.

Statistics: :meth:`RateLimitingPlugin.stats`. Event: ``RateLimited`` (``rate_limited``)
with ``endpoint``, ``waited`` (seconds of the client's clock) and ``rejected`` whenever a
call had to wait or was refused.

Cooperation: the plugins outside see a refusal as a ``RateLimitExceededError`` raised
before anything was sent. It is a ``PluginError``, not a server failure: a breaker does not
count it; failover moves the call to the next server only when the refusal came from that
server's own limit (``per_upstream``; see :mod:`ollama_plugins.failover`); retry does not
retry it (the limiter already waited up to ``max_wait``). A cache hit never reaches the
limiter, so it costs no token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ollama_core.ext import (
    Clock,
    Middleware,
    MonotonicClock,
    Plugin,
    RateLimited,
    RateLimitExceededError,
    Request,
    hookimpl,
)

from ._config import RateLimitingConfig, parse_settings, resolve_limits
from ._middleware import RateLimitMiddleware
from .store import LimiterStore, LimitSpec, MemoryLimiterStore, Rejected

_STORE_KEYS = ("store", "store_prefix", "store_timeout", "store_lease_ttl", "fail_closed",
               "store_processes")

if TYPE_CHECKING:
    from ollama_core import OllamaClient

__all__ = ["LimiterCounters", "RateLimitingPlugin", "Route"]


class LimiterCounters:
    """What this process saw of one limiter key."""

    __slots__ = ("allowed", "waited", "rejected")

    def __init__(self) -> None:
        self.allowed = 0
        self.waited = 0
        self.rejected = 0


class Route:
    """Where a call is limited: its limiter ``key``, the ``limits`` that apply and this
    process's ``counters`` of the key (built once per key and settings)."""

    __slots__ = ("key", "endpoint", "limits", "counters")

    def __init__(self, key: str, endpoint: str, limits: LimitSpec,
                 counters: LimiterCounters) -> None:
        self.key = key
        self.endpoint = endpoint
        self.limits = limits
        self.counters = counters


class RateLimitingPlugin(Plugin[RateLimitingConfig]):
    """Token bucket and in-flight cap per endpoint; see the module docstring.

    Registered by name (``plugins=["rate_limiting"]``). Its state lives in
    :attr:`store` (:class:`~ollama_plugins.rate_limiting.store.MemoryLimiterStore` unless
    another is given to the constructor or to :meth:`use_store`).
    """

    name: ClassVar[str] = "rate_limiting"
    config_class = RateLimitingConfig

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 store: LimiterStore | None = None) -> None:
        super().__init__(config)
        self._default, self._overrides = resolve_limits(self.settings)
        self._counters: dict[str, LimiterCounters] = {}
        self._routes: dict[str, Route] = {}
        self._per_upstream = self.settings.per_upstream
        self._store: LimiterStore | None = store
        # A default built before the plugin was attached, on a clock of its own: setup
        # replaces it with one on the client's clock.
        self._provisional = False
        self._retired: list[LimiterStore] = []
        self._middleware = RateLimitMiddleware(self)

    @classmethod
    def parse_config(cls, config: Mapping[str, Any] | None) -> RateLimitingConfig:
        return parse_settings(config)

    # -- the store ---------------------------------------------------------------------

    @property
    def store(self) -> LimiterStore:
        """Where the buckets and slots live (see ``store``'s module docstring)."""
        store = self._store
        if store is None:
            store = self._store = MemoryLimiterStore(self.clock if self.attached
                                                     else MonotonicClock())
            self._provisional = not self.attached
        return store

    def use_store(self, store: LimiterStore) -> None:
        """Keep the limiter state in ``store`` from now on (e.g. from another plugin's
        ``ollama_client_setup``). Calls in flight give their slots back to the store they
        came from."""
        self._store = store
        self._provisional = False

    # -- plugin hooks ------------------------------------------------------------------

    def setup(self, client: OllamaClient) -> None:
        if self._store is None or self._provisional:
            self._provisional = False
            self._store = self._build_store(client.clock)

    def _build_store(self, clock: Clock) -> LimiterStore:
        settings = self.settings
        if not settings.shared:
            return MemoryLimiterStore(clock)
        from .._redis._link import RedisLink  # the redis extra: imported only when named
        from .redis_store import RedisLimiterStore

        link = RedisLink(settings.store, timeout=settings.store_timeout, clock=clock,
                         source=self.name, emit=self.emit, fail_closed=settings.fail_closed)
        return RedisLimiterStore(link, prefix=settings.store_prefix,
                                 lease_ttl=settings.store_lease_ttl,
                                 processes=settings.store_processes, clock=clock)

    @hookimpl
    def ollama_middlewares(self) -> list[Middleware]:
        return [self._middleware]

    @hookimpl
    async def ollama_client_aclose(self) -> None:
        retired, self._retired = self._retired, []
        for store in retired:
            await store.aclose()
        await self.store.aclose()

    def config_changed(self, old: RateLimitingConfig) -> None:
        """Apply new settings at once. Tokens, in-flight counts and queued calls carry
        over; a call already sleeping for its token finishes that sleep first. New
        shared-store settings move the limiter to a new store (calls in flight give their
        slots back to the old one, closed with the client)."""
        if self.attached and any(getattr(old, k) != getattr(self.settings, k)
                                 for k in _STORE_KEYS):
            if self._store is not None:
                self._retired.append(self._store)
            self._store = self._build_store(self.client.clock)
            self._routes = {}
        self._default, self._overrides = resolve_limits(self.settings)
        self._routes = {}
        self._per_upstream = self.settings.per_upstream
        if self.settings.per_upstream != old.per_upstream:
            # Keys change meaning; calls in flight release into the old keys.
            self._counters = {}
            return
        store = self.store
        for key in self._counters:
            store.limits_changed(key, self.spec_for(key.partition("@")[0]))

    # -- introspection -----------------------------------------------------------------

    @property
    def clock(self) -> Clock:
        """The client's clock (a monotonic one before the plugin is attached)."""
        return super().clock if self.attached else MonotonicClock()

    def spec_for(self, endpoint: str) -> LimitSpec:
        """The limits that apply to ``endpoint``."""
        return self._overrides.get(endpoint, self._default)

    def route(self, request: Request) -> Route:
        """The limiter key, limits and counters of a call."""
        key = self.key_for(request) if self._per_upstream else request.endpoint
        route = self._routes.get(key)
        if route is None:
            endpoint = request.endpoint
            route = Route(key, endpoint, self.spec_for(endpoint), self.counters(key))
            self._routes[key] = route
        return route

    def key_for(self, request: Request) -> str:
        """The limiter key of a call: its endpoint, and with ``per_upstream`` the server
        it goes to (``"chat@http://host:11434"``)."""
        endpoint = request.endpoint
        if not self.settings.per_upstream:
            return endpoint
        upstream = request.upstream
        if upstream is None and self.attached:
            upstream = self.client.upstreams.primary
        return endpoint if upstream is None else f"{endpoint}@{upstream.display}"

    def stats(self) -> dict[str, Any]:
        """Counters: ``allowed`` (calls let through, after waiting or not), ``waited``
        (calls that had to wait), ``rejected``, and under ``limiters`` the same per
        endpoint (``"chat"``, or ``"chat@http://host:11434"`` with ``per_upstream``) plus
        what the store knows: ``tokens`` (now in the bucket; ``None`` without a rate),
        ``waiting`` and ``in_flight`` (``None`` without a cap)."""
        store = self.store
        per: dict[str, dict[str, Any]] = {}
        for key, counters in self._counters.items():
            state = store.peek(key)
            per[key] = {"allowed": counters.allowed, "waited": counters.waited,
                        "rejected": counters.rejected, "tokens": state.tokens,
                        "waiting": state.waiting, "in_flight": state.in_flight}
        return {
            "allowed": sum(s["allowed"] for s in per.values()),
            "waited": sum(s["waited"] for s in per.values()),
            "rejected": sum(s["rejected"] for s in per.values()),
            "limiters": per,
        }

    def __repr__(self) -> str:
        return f"RateLimitingPlugin({self._default}, endpoints={sorted(self._overrides)})"

    # -- what the middleware reports ---------------------------------------------------

    def counters(self, key: str) -> LimiterCounters:
        """This process's counters of a limiter key (created on first use)."""
        counters = self._counters.get(key)
        if counters is None:
            counters = self._counters[key] = LimiterCounters()
        return counters

    def waited(self, route: Route, waited: float) -> None:
        """Count a call let through after waiting ``waited`` seconds (and report it)."""
        counters = route.counters
        counters.allowed += 1
        counters.waited += 1
        if self.wants_events:
            self.emit(RateLimited(time=self.clock.now(), endpoint=route.endpoint,
                                  waited=waited, rejected=False))

    def refused(self, route: Route, rejected: Rejected) -> RateLimitExceededError:
        """Count a refusal; the error to raise for it."""
        route.counters.rejected += 1
        endpoint = route.endpoint
        if self.wants_events:
            self.emit(RateLimited(time=self.clock.now(), endpoint=endpoint,
                                  waited=rejected.waited, rejected=True))
        return RateLimitExceededError(
            self._message(endpoint, route.limits, rejected.retry_after),
            endpoint=endpoint, retry_after=rejected.retry_after,
            # per_upstream: the server whose own limit refused (the key's "@" part).
            upstream=route.key.partition("@")[2] or None)

    @staticmethod
    def _message(endpoint: str, spec: LimitSpec, retry_after: float | None) -> str:
        if retry_after is None:
            why = f"{spec.max_concurrent} calls already in flight"
        else:
            why = f"no token for another {retry_after:.6g}s at {spec.rate:g}/s"
        limit = "" if spec.max_wait is None else f" (max_wait={spec.max_wait:g}s)"
        return f"rate limit exceeded for endpoint {endpoint!r}: {why}{limit}"
