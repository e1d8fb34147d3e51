"""The rate limiter's middleware: one store decision per attempt, the slot given back
when the response ends (the policy is in :mod:`ollama_plugins.rate_limiting._plugin`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ollama_core.ext import ORDER_RATE_LIMIT, Handler, Request, Response

from .store import Rejected

if TYPE_CHECKING:
    from ._plugin import RateLimitingPlugin

__all__ = ["RateLimitMiddleware"]


class RateLimitMiddleware:
    """Asks the plugin's store for admission before every attempt and gives the slot
    back when the response ends; uses only the plugin's public API."""

    name = "rate_limiting"
    order = ORDER_RATE_LIMIT

    __slots__ = ("plugin",)

    def __init__(self, plugin: RateLimitingPlugin) -> None:
        self.plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        plugin = self.plugin
        route = plugin.route(request)
        store = plugin.store
        key = route.key
        admission = store.try_acquire(key, route.limits)
        if admission is None:
            try:
                admission = await store.acquire(key, route.limits)
            except Rejected as exc:
                raise plugin.refused(route, exc) from None
        if admission.waited is None:
            route.counters.allowed += 1
        else:
            plugin.waited(route, admission.waited)
        lease = admission.lease
        if lease is None:
            return await call_next(request)
        try:
            response = await call_next(request)
        except BaseException:
            store.release(key, lease)
            raise
        # Runs at once for a plain response, at the end of a stream otherwise.
        done = admission.done
        response.on_done(done if done is not None else lambda error: store.release(key, lease))
        return response
