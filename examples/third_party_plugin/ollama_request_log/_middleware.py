"""The call log: one middleware outside every other, seeing each call once."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ollama_core.ext import ORDER_CALL_OBSERVER, Handler, Request, Response

if TYPE_CHECKING:
    from ._plugin import RequestLogPlugin

__all__ = ["CALL_ID", "CallLogMiddleware"]

#: The ``request.extensions`` key holding the call id (copied onto every attempt).
CALL_ID = "request_log.call_id"


class CallLogMiddleware:
    """Gives each call an id (in the plugin's ``id_header`` and in ``request.extensions``,
    so every attempt below carries the same one) and tells the plugin when the call ends:
    at once for a plain answer or an error, at its last chunk for a stream.

    At ``ORDER_CALL_OBSERVER`` it sits outside the cache, so a cache hit is logged too. It
    uses only its plugin's public API: ``settings``, ``clock``, ``begin_call`` and
    ``end_call``.
    """

    name: str = "request_log"
    order: int = ORDER_CALL_OBSERVER

    __slots__ = ("plugin",)

    def __init__(self, plugin: RequestLogPlugin) -> None:
        self.plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        plugin = self.plugin
        call_id = plugin.begin_call()
        request = request.copy()  # the caller's request is left as it was
        request.headers[plugin.settings.id_header] = call_id
        request.extensions[CALL_ID] = call_id
        started = plugin.clock.now()
        try:
            response = await call_next(request)
        except BaseException as exc:  # a cancelled call ends too (and is re-raised)
            plugin.end_call(call_id, request.endpoint, started, None, exc)
            raise
        status, cached = response.status, response.from_cache
        response.on_done(lambda error: plugin.end_call(
            call_id, request.endpoint, started, status, error, cached=cached))
        return response
