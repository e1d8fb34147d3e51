"""The request cache's middleware: lookups, single flight and recording, through the
public API of its plugin (the policy is in :mod:`ollama_plugins.request_caching._plugin`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ollama_core.ext import ORDER_CACHE, Handler, Request, Response

from ._config import CACHEABLE_ENDPOINTS
from ._key import cache_key
from ._replay import replay

if TYPE_CHECKING:
    from ._plugin import Flight, RequestCachingPlugin

__all__ = ["CacheMiddleware"]


class CacheMiddleware:
    """Answers from the plugin's store, coalesces identical calls in flight and records
    what may be stored; uses only the plugin's public API."""

    name = "request_caching"
    order = ORDER_CACHE

    __slots__ = ("plugin",)

    def __init__(self, plugin: RequestCachingPlugin) -> None:
        self.plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        plugin = self.plugin
        wanted = request.extensions.get("cache")
        endpoint = request.endpoint
        if wanted is None:
            if endpoint not in plugin.settings.endpoints:
                return await call_next(request)
        elif not wanted or endpoint not in CACHEABLE_ENDPOINTS:
            return await call_next(request)
        try:
            key = cache_key(request.method, request.path, request.json, request.decode)
        except (TypeError, ValueError):
            return await call_next(request)  # not JSON: nothing sensible to key on
        store = plugin.store
        answer = store.peek(key)
        if answer is None:
            answer = await store.get(key)
        if answer is not None:
            plugin.hit(endpoint, False)
            return replay(request, answer)
        if request.stream:
            plugin.miss(endpoint)
            response = await call_next(request)
            if 200 <= response.status < 300 and response.is_stream and not response.finished:
                plugin.record_stream(key, endpoint, response)
            return response
        flight = plugin.flight(key)
        if flight is not None:
            plugin.hit(endpoint, True)
            return await self._join(key, flight, request, leader=False)
        plugin.miss(endpoint)
        flight = plugin.start_flight(key, request, call_next)
        return await self._join(key, flight, request, leader=True)

    async def _join(self, key: bytes, flight: Flight, request: Request,
                    *, leader: bool) -> Response:
        flight.waiters += 1
        try:
            response, answer = await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                self.plugin.leave_flight(key, flight)
        if leader:
            return response
        return Response(request, response.status, response.headers,
                        body=answer.value() if answer is not None else response.body,
                        upstream=response.upstream)
