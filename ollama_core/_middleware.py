"""The per-call middleware chain: how plugins wrap a call with async behaviour.

pluggy hooks are synchronous, so asynchronous per-call concerns (retry, circuit breaker,
rate limiter, failover, cache) are not hooks. Each plugin contributes ``Middleware`` objects
through the ``ollama_middlewares`` hook; the client sorts them by ``order`` (lowest is
outermost) and folds them around the transport once, when the client is built or its
plugins change. ``describe()`` prints the result.

The standard order, outermost first, and why:

====  =================  ===================================================================
100   request_caching    a hit must cost nothing: no token, no breaker probe, no network
200   retry              each retry is a fresh pass through everything below it, so every
                         attempt is paced, counted by the breaker and may pick another server
300   failover           picks the server for this attempt and moves to the next one when a
                         server fails; sits inside retry so backoff is paid once per round
400   circuit_breaker    per server and endpoint, so it must see the server failover chose;
                         an open breaker fails fast and failover moves on
500   rate_limiting      innermost: only requests that will really be sent take a token or a
                         concurrency slot, and a slot is held for exactly one attempt
====  =================  ===================================================================

Third-party middlewares pick any order number; ties keep plugin registration order. Two
named slots serve observers (tracing, metrics): ``ORDER_CALL_OBSERVER`` (50) sits outside
the cache and sees each call once, cache hits included, with its final outcome;
``ORDER_ATTEMPT_OBSERVER`` (900) sits inside the limiter and sees every attempt exactly as
it goes to the transport (its server is ``request.upstream``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, runtime_checkable

from ._envelope import Request, Response

__all__ = [
    "Handler",
    "Middleware",
    "MiddlewareChain",
    "ORDER_ATTEMPT_OBSERVER",
    "ORDER_BREAKER",
    "ORDER_CACHE",
    "ORDER_CALL_OBSERVER",
    "ORDER_FAILOVER",
    "ORDER_RATE_LIMIT",
    "ORDER_RETRY",
]

Handler = Callable[[Request], Awaitable[Response]]

ORDER_CACHE = 100
ORDER_RETRY = 200
ORDER_FAILOVER = 300
ORDER_BREAKER = 400
ORDER_RATE_LIMIT = 500
#: Outside everything: one pass per call (cache hits included), with its final outcome.
ORDER_CALL_OBSERVER = 50
#: Inside everything: one pass per attempt, as it goes to the transport.
ORDER_ATTEMPT_OBSERVER = 900


@runtime_checkable
class Middleware(Protocol):
    """An async wrapper around a call.

    ``name`` identifies it in ``describe()``; ``order`` places it (lower = outer).
    ``__call__`` receives the request and the next handler, and returns a response (or
    raises). It may call ``call_next`` several times (retry) or not at all (cache hit, open
    breaker).
    """

    name: str
    order: int

    async def __call__(self, request: Request, call_next: Handler) -> Response: ...


def _bind(middleware: Middleware, call_next: Handler) -> Handler:
    """``middleware`` with its next handler: a plain function returning the middleware's
    own coroutine, so a call through the chain runs one coroutine per middleware, not two
    (an ``async def`` wrapper awaiting it would add a frame per level to every call)."""

    def bound(request: Request) -> Awaitable[Response]:
        return middleware(request, call_next)

    return bound


class MiddlewareChain:
    """Middlewares folded once around a terminal handler (the transport)."""

    def __init__(self, middlewares: Iterable[Middleware], terminal: Handler, *,
                 transport: str = "aiohttp") -> None:
        # sorted() is stable, so equal orders keep registration order.
        self.middlewares: tuple[Middleware, ...] = tuple(
            sorted(middlewares, key=lambda m: m.order))
        handler: Handler = terminal
        for mw in reversed(self.middlewares):
            handler = _bind(mw, handler)
        self._handler = handler
        self._transport = transport

    def __call__(self, request: Request) -> Awaitable[Response]:
        # The outermost middleware's coroutine itself (see ``_bind``).
        return self._handler(request)

    def names(self) -> Sequence[str]:
        return [m.name for m in self.middlewares]

    def describe(self) -> str:
        """The chain, outermost first, one line per middleware."""
        lines = [f"{m.order:>5}  {m.name}" for m in self.middlewares]
        lines.append(f"    -  transport ({self._transport})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"MiddlewareChain({' -> '.join([*self.names(), 'transport'])})"
