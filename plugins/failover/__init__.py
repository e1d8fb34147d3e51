"""Failover: spread calls over several Ollama servers and move away from failing ones.

Configuration (``plugin_config={"failover": {...}}``):

- ``endpoints``: the servers, in priority order (the first is the *primary*). Each item is a
  base URL (Ollama's ``OLLAMA_HOST`` rules: ``"10.0.0.2"`` means ``http://10.0.0.2:11434``)
  or a mapping ``{"url": ..., "api_key": ...}``; an endpoint's own key is sent as
  ``Authorization: Bearer``, and endpoints without one use the client's ``api_key``. Keys
  never appear in ``repr``, events or errors. Absent: the client's own base URL is the only
  endpoint (failover then only tracks its health and stats). The list replaces the
  client's ``client.upstreams``, so ``client.base_url`` becomes the primary.
- ``policy``: ``"priority"`` (default) sends every call to the first *available* endpoint
  in list order, so traffic returns to the primary as soon as it is available again;
  ``"round_robin"`` rotates over the available endpoints.
- ``cooldown``: seconds an endpoint stays out of rotation after a failure (default 30,
  measured on ``client.clock``; 0 marks the failure but keeps the endpoint in rotation).

The policy, per call (each retry round of the retry plugin, which sits outside, is a call):

1. The plan is the available endpoints ordered by the policy, followed by the endpoints
   currently marked down, in priority order, as a last resort. An endpoint is available
   when it is neither in its cooldown nor declared unhealthy by the health-check plugin
   (:meth:`ollama_core.Upstream.is_available`). So when every endpoint is down the call is
   still tried on all of them in priority order instead of failing instantly (Envoy's
   *panic mode*), and a call only fails once every endpoint has failed it.
2. Failures that move the call to the next endpoint: connection errors, read errors (a
   peer that does not speak valid HTTP, ``ProtocolError``, included) and timeouts
   (``TransportError`` except the call's own ``DeadlineExceeded``), 5xx answers,
   a connection broken before the first stream line, and ``CircuitOpenError`` from the
   per-endpoint breaker (which sits inside failover). The endpoint is marked down for
   ``cooldown`` seconds and a ``failover`` event is emitted.
3. 4xx answers, the caller's cancellation and every other error are returned or raised as
   they are: they say nothing about the server's health.
4. Non-idempotent calls (``copy``, ``delete``, ``create``, ``push``) move on only after
   errors proving the request never reached the server: ``ConnectError``,
   ``ConnectTimeout`` and ``CircuitOpenError``. Any other failure still marks the endpoint
   down but is raised as is.
5. When every endpoint in the plan failed, ``AllEndpointsFailedError`` lists each one's
   failure (URL without credentials -> exception), chained from the last one; the retry
   plugin, outside failover, may then retry the whole round. The original error is raised
   unchanged instead with a single endpoint, and when a non-idempotent call stops on an
   error that may have reached the server (so that an outer retry does not repeat it).
6. A success clears the endpoint's cooldown (``UpstreamRegistry.mark_success``). A stream
   counts as a success once committed; if its connection then breaks, the endpoint is
   marked down (the call itself cannot move: the caller has seen data).

A request whose ``upstream`` is already set (pinned by the caller) passes through untouched.

Events: ``failover`` with ``from`` (URL), ``to`` (the URL the call moves to, or ``None`` when
it does not move), ``cause`` (``"<Type>: message"``) and ``endpoint`` (the API operation).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ollama_core import (
    ORDER_FAILOVER,
    AllEndpointsFailedError,
    CircuitOpenError,
    Clock,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Event,
    Handler,
    IncompleteStreamError,
    InvalidConfigError,
    MonotonicClock,
    Request,
    Response,
    ServerError,
    StreamInterruptedError,
    TransportError,
    Upstream,
    UpstreamRegistry,
    hookimpl,
)

from ._endpoints import EndpointSpec, parse_endpoints

if TYPE_CHECKING:
    from ollama_core import Middleware, OllamaClient

__all__ = ["FailoverPlugin", "POLICIES"]

#: The endpoint-picking policies ``policy`` accepts.
POLICIES: Final = ("priority", "round_robin")

_KEYS: Final = frozenset({"endpoints", "policy", "cooldown"})
_DEFAULT_COOLDOWN: Final = 30.0

# Errors that say the endpoint (not the request) is at fault. DeadlineExceeded is excluded
# below: the call's own budget ran out, which is no sign of the server's health.
_FAILURES: Final = (TransportError, ServerError, CircuitOpenError, StreamInterruptedError,
                    IncompleteStreamError)
# Errors proving the request never reached the server: safe to move even a non-idempotent
# call (nothing was sent: no connection, or the breaker refused it).
_UNSENT: Final = (ConnectError, ConnectTimeout, CircuitOpenError)


def _is_failure(exc: BaseException) -> bool:
    return isinstance(exc, _FAILURES) and not isinstance(exc, DeadlineExceeded)


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class FailoverPlugin:
    """Picks the server of every attempt and moves calls away from failing servers.

    Also the middleware itself (``name``, ``order`` and ``__call__``), so a call costs one
    frame. See the module docstring for the policy.
    """

    name = "failover"
    order = ORDER_FAILOVER

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._client: OllamaClient | None = None
        self._registry: UpstreamRegistry | None = None
        self._clock: Clock = MonotonicClock()
        self._original: list[Upstream] | None = None
        self._rr = 0
        self._failovers = 0
        self._apply(config)

    # -- configuration -----------------------------------------------------------------

    def _apply(self, config: Mapping[str, Any]) -> None:
        if not isinstance(config, Mapping):
            raise InvalidConfigError("failover: configuration must be a mapping")
        unknown = set(config) - _KEYS
        if unknown:
            raise InvalidConfigError(
                f"failover: unknown key(s) {sorted(map(str, unknown))} "
                f"(allowed: {', '.join(sorted(_KEYS))})")
        specs = parse_endpoints(config["endpoints"]) if "endpoints" in config else None
        policy = config.get("policy", "priority")
        if policy not in POLICIES:
            raise InvalidConfigError(
                f"failover: policy must be one of {', '.join(POLICIES)}, got {policy!r}")
        cooldown = config.get("cooldown", _DEFAULT_COOLDOWN)
        if (isinstance(cooldown, bool) or not isinstance(cooldown, (int, float))
                or not math.isfinite(cooldown) or cooldown < 0):
            raise InvalidConfigError(
                f"failover: cooldown must be a number of seconds >= 0, got {cooldown!r}")
        # Validated completely before anything changes, so a bad reconfigure leaves the
        # plugin as it was.
        self._specs: tuple[EndpointSpec, ...] | None = specs
        self._round_robin = policy == "round_robin"
        self.policy: str = policy
        self.cooldown: float = float(cooldown)

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply new settings live. Endpoints that keep their URL and key keep their state
        (cooldown, health, stats); calls already running finish on their plan. Settings
        without ``endpoints`` bring back the client's own base URL."""
        self._apply(config)
        if self._client is not None:
            self._install(self._client)

    def _install(self, client: OllamaClient) -> None:
        registry = client.upstreams
        if self._specs is None:
            # No endpoints (again): back to the client's own base URL.
            if self._original is not None:
                registry.replace(self._original)
            return
        if self._original is None:
            self._original = list(registry)
        known = {(u.url, u.api_key): u for u in registry}
        registry.replace([known.get((s.url, s.api_key)) or Upstream(s.url, api_key=s.api_key)
                          for s in self._specs])

    # -- hooks -------------------------------------------------------------------------

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self._client = client
        self._registry = client.upstreams
        self._clock = client.clock
        self._install(client)

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Middleware] | None:
        return [self]

    # -- accessors ---------------------------------------------------------------------

    @property
    def endpoints(self) -> list[Upstream]:
        """The endpoints, in priority order (the client's ``upstreams``); empty before the
        plugin is attached to a client. (Never raises: plugin managers may read
        attributes while registering.)"""
        return list(self._registry) if self._registry is not None else []

    @property
    def failovers(self) -> int:
        """How many times a call moved from one endpoint to another."""
        return self._failovers

    def active(self) -> Upstream:
        """The endpoint the next call would try first (without advancing round robin)."""
        ups = self._upstreams()
        now = self._clock.now()
        available = [u for u in ups if u.is_available(now)]
        if not available:
            return ups[0]  # panic mode starts with the primary
        if self._round_robin:
            return available[self._rr % len(available)]
        return available[0]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per endpoint (URL without credentials): ``requests`` (attempts sent through
        failover), ``failures``, ``last_error``, ``available``, ``down_until`` (clock
        reading, or ``None``), ``healthy`` (the health checks' verdict) and ``primary``."""
        now = self._clock.now()
        ups = self._upstreams()
        return {u.display: {"requests": u.requests, "failures": u.failures,
                            "last_error": u.last_error, "available": u.is_available(now),
                            "down_until": u.down_until, "healthy": u.healthy,
                            "primary": i == 0}
                for i, u in enumerate(ups)}

    def _upstreams(self) -> list[Upstream]:
        if self._registry is None:
            raise RuntimeError("the failover plugin is not attached to a client")
        return list(self._registry)

    def __repr__(self) -> str:
        if self._registry is not None:
            urls = [u.display for u in self._registry]
        elif self._specs is not None:
            urls = [s.display for s in self._specs]
        else:
            urls = ["<client base URL>"]
        return (f"FailoverPlugin(policy={self.policy!r}, cooldown={self.cooldown:g}, "
                f"endpoints={urls})")

    # -- the middleware ----------------------------------------------------------------

    def _plan(self, ups: list[Upstream], now: float) -> list[Upstream]:
        available = [u for u in ups if u.is_available(now)]
        if self._round_robin and available:
            start = self._rr % len(available)
            self._rr += 1
            if start:
                available = available[start:] + available[:start]
        if len(available) == len(ups):
            return available
        if not available:
            return ups  # panic mode: everything is down, try all in priority order
        # Endpoints in their cooldown are the last resort, in priority order.
        return available + [u for u in ups if not u.is_available(now)]

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        if request.upstream is not None:
            return await call_next(request)
        registry = self._registry
        assert registry is not None, "failover middleware used before client setup"
        now = self._clock.now()
        plan: list[Upstream] | None = None
        upstream = registry.primary
        if self._round_robin or not upstream.is_available(now):
            plan = self._plan(list(registry), now)
            upstream = plan[0]
        # else the fast path: the primary is available; the rest of the plan is only
        # worked out if it fails.
        index = 0
        failures: dict[str, BaseException] | None = None
        while True:
            upstream.requests += 1
            try:
                response = await call_next(request.copy(upstream=upstream))
            except Exception as exc:
                if not _is_failure(exc):
                    raise
                if plan is None:
                    plan = [upstream, *(u for u in self._plan(list(registry), now)
                                        if u is not upstream)]
                if failures is None:
                    failures = {}
                failures[upstream.display] = exc
                last = len(plan) - 1
                movable = request.idempotent or isinstance(exc, _UNSENT)
                moves = movable and index < last
                self._mark_down(upstream, exc, request.endpoint,
                                plan[index + 1] if moves else None)
                if moves:
                    self._failovers += 1
                    index += 1
                    upstream = plan[index]
                    continue
                # Unwrapped when there is nothing to aggregate, and when the request may
                # have reached the server: the error's own type then tells an outer retry
                # not to repeat a non-idempotent call.
                if last == 0 or not movable:
                    raise
                raise AllEndpointsFailedError(failures) from exc
            if upstream.down_until is None and not upstream.consecutive_failures:
                upstream.consecutive_successes += 1  # mark_success's effect, lock-free
            else:
                registry.mark_success(upstream)
            if response.is_stream:
                response.on_done(functools.partial(self._stream_done, upstream,
                                                   request.endpoint))
            return response

    def _mark_down(self, upstream: Upstream, exc: BaseException, endpoint: str,
                   to: Upstream | None) -> None:
        assert self._registry is not None and self._client is not None
        now = self._clock.now()
        self._registry.mark_down(upstream, until=now + self.cooldown, error=exc)
        self._client.emit(Event("failover", self.name, now, {
            "from": upstream.display, "to": to.display if to is not None else None,
            "cause": _cause(exc), "endpoint": endpoint}))

    def _stream_done(self, upstream: Upstream, endpoint: str,
                     error: BaseException | None) -> None:
        # A committed stream cannot move, but a broken connection still says the server
        # is in trouble. The consumer closing it early (StreamCancelledError) is not a
        # failure and is not in _FAILURES.
        if error is not None and _is_failure(error):
            self._mark_down(upstream, error, endpoint, None)
