"""The failover middleware: which server an attempt goes to, and when a call moves on.

It applies the policy written down in :mod:`ollama_plugins.failover._plugin`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ollama_core import (
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    IncompleteStreamError,
    ServerError,
    StreamInterruptedError,
    TransportError,
)
from ollama_core.ext import (
    ORDER_FAILOVER,
    AllEndpointsFailedError,
    CircuitOpenError,
    Clock,
    FailedOver,
    Handler,
    RateLimitExceededError,
    Request,
    Response,
    Upstream,
    UpstreamRegistry,
)

if TYPE_CHECKING:
    from ollama_core import OllamaClient

    from ._plugin import FailoverPlugin

__all__ = ["FailoverMiddleware"]

# Errors that say the endpoint (not the request) is at fault. DeadlineExceeded is excluded
# below: the call's own budget ran out, which is no sign of the server's health.
_FAILURES: Final = (TransportError, ServerError, CircuitOpenError, StreamInterruptedError,
                    IncompleteStreamError)
# Errors proving the request never reached the server: safe to move even a non-idempotent
# call (nothing was sent: no connection, or the breaker refused it).
_UNSENT: Final = (ConnectError, ConnectTimeout, CircuitOpenError)


def _is_failure(exc: BaseException) -> bool:
    return isinstance(exc, _FAILURES) and not isinstance(exc, DeadlineExceeded)


def _refused_here(exc: BaseException, upstream: Upstream) -> bool:
    """A limiter refusal by ``upstream``'s own limit (``per_upstream``): another server has
    its own, and nothing was sent."""
    return (isinstance(exc, RateLimitExceededError) and exc.upstream is not None
            and exc.upstream == upstream.display)


def _soonest(refusals: list[RateLimitExceededError]) -> RateLimitExceededError:
    """The refusal whose limit frees up first (a known ``retry_after`` beats an unknown)."""
    known = [r for r in refusals if r.retry_after is not None]
    if not known:
        return refusals[0]
    return min(known, key=lambda r: r.retry_after or 0.0)


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class FailoverMiddleware:
    """Carries out the policy (:mod:`ollama_plugins.failover._plugin`) for every call;
    everything it knows of its plugin comes through the plugin's public attributes
    (``client``, ``clock``, ``round_robin``, ``cooldown``, ``emit``), and it is bound to
    the client's registry and clock by :meth:`attach`."""

    name = "failover"
    order = ORDER_FAILOVER

    def __init__(self, plugin: FailoverPlugin) -> None:
        self.plugin = plugin
        #: How many times a call moved from one endpoint to another.
        self.failovers = 0
        self._rr = 0  # the round-robin cursor
        # The client's registry and clock, bound once (they never change for a client)
        # so a call does not walk plugin -> client -> registry every time.
        self._registry: UpstreamRegistry | None = None
        self._clock: Clock | None = None

    def attach(self, client: OllamaClient) -> None:
        """Bind to the client the plugin serves (the plugin's ``setup`` calls it)."""
        self._registry = client.upstreams
        self._clock = client.clock

    def plan(self, now: float, *, advance: bool = True) -> list[Upstream]:
        """The endpoints a call starting now would try, in order (rule 1). ``advance``
        moves the round-robin cursor (a call); without it, the plan is only looked at."""
        ups = list(self.plugin.client.upstreams)
        available = [u for u in ups if u.is_available(now)]
        if self.plugin.round_robin and available:
            start = self._rr % len(available)
            if advance:
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
        registry, clock = self._registry, self._clock
        if registry is None or clock is None:
            raise RuntimeError("the failover middleware is used before its plugin is set up")
        now = clock.now()
        plan: list[Upstream] | None = None
        upstream = registry.primary
        if self.plugin.round_robin or not upstream.is_available(now):
            plan = self.plan(now)
            upstream = plan[0]
        # else the fast path: the primary is available; the rest of the plan is only
        # worked out if it fails.
        index = 0
        failures: dict[str, BaseException] | None = None
        while True:
            registry.record_attempt(upstream)
            try:
                response = await call_next(request.copy(upstream=upstream))
            except Exception as exc:
                refused = _refused_here(exc, upstream)
                if not refused and not _is_failure(exc):
                    raise
                if plan is None:
                    plan = [upstream, *(u for u in self.plan(now) if u is not upstream)]
                if failures is None:
                    failures = {}
                failures[upstream.display] = exc
                last = len(plan) - 1
                movable = refused or request.idempotent or isinstance(exc, _UNSENT)
                moves = movable and index < last
                to = plan[index + 1] if moves else None
                if refused:
                    self._emit(upstream, exc, request.endpoint, to)  # not a server fault
                else:
                    self._mark_down(upstream, exc, request.endpoint, to)
                if moves:
                    self.failovers += 1
                    index += 1
                    upstream = plan[index]
                    continue
                # Unwrapped when there is nothing to aggregate, and when the request may
                # have reached the server: the error's own type then tells an outer retry
                # not to repeat a non-idempotent call.
                if last == 0 or not movable:
                    raise
                refusals = [e for e in failures.values()
                            if isinstance(e, RateLimitExceededError)]
                if len(refusals) == len(failures):
                    # Every server's own limit refused: nothing was sent anywhere, and the
                    # caller gets the refusal that frees up first.
                    raise _soonest(refusals) from None
                raise AllEndpointsFailedError(failures) from exc
            registry.mark_success(upstream)
            if response.is_stream:
                response.on_done(_StreamDone(self, upstream, request.endpoint))
            return response

    def _mark_down(self, upstream: Upstream, exc: BaseException, endpoint: str,
                   to: Upstream | None) -> None:
        plugin = self.plugin
        plugin.client.upstreams.mark_down(upstream, until=plugin.clock.now() + plugin.cooldown,
                                          error=exc)
        self._emit(upstream, exc, endpoint, to)

    def _emit(self, upstream: Upstream, exc: BaseException, endpoint: str,
              to: Upstream | None) -> None:
        plugin = self.plugin
        if plugin.wants_events:
            plugin.emit(FailedOver(
                time=plugin.clock.now(), source=plugin.name, from_=upstream.display,
                to=to.display if to is not None else None, cause=_cause(exc),
                endpoint=endpoint))

    def _stream_done(self, upstream: Upstream, endpoint: str,
                     error: BaseException | None) -> None:
        # A committed stream cannot move, but a broken connection still says the server
        # is in trouble. The consumer closing it early (StreamCancelledError) is not a
        # failure and is not in _FAILURES.
        if error is not None and _is_failure(error):
            self._mark_down(upstream, error, endpoint, None)


class _StreamDone:
    """Hears a committed stream's end (``FailoverMiddleware._stream_done``). Held by every
    open stream until it ends: one small object, where a ``functools.partial`` of the bound
    method takes four (the partial, the bound method, the arguments' tuple, an empty
    keywords dict)."""

    __slots__ = ("middleware", "upstream", "endpoint")

    def __init__(self, middleware: FailoverMiddleware, upstream: Upstream, endpoint: str) -> None:
        self.middleware = middleware
        self.upstream = upstream
        self.endpoint = endpoint

    def __call__(self, error: BaseException | None) -> None:
        self.middleware._stream_done(self.upstream, self.endpoint, error)
