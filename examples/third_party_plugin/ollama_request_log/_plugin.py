"""``request_log``: a third-party plugin written on ``ollama_core.ext`` alone.

What it does, and which part of the plugin API shows it:

- declared settings (:class:`~._config.RequestLogConfig`), parsed by the shared parser;
- a middleware (:class:`~._middleware.CallLogMiddleware`) from ``ollama_middlewares``,
  giving every call an id header and emitting its own typed event,
  :class:`~._events.CallLogged`, when the call ends;
- the per-attempt hooks: ``ollama_request`` signs each attempt (``X-Signature``, an
  HMAC-SHA256 of method and path, when ``signing_key`` is set) and counts it;
  ``ollama_response``, ``ollama_stream_chunk`` (it only reads the chunk: the contract is to
  change a chunk in place, and to return nothing) and ``ollama_error`` keep
  ``plugin.records`` (tuples, at most ``max_records``);
- ``ollama_event`` subscribed by class: its own ``CallLogged`` and retry's and failover's
  events go to the journal, the built-in ones to ``records`` too;
- awaited lifecycle: with ``log_file`` set, ``ollama_client_open`` opens a JSON Lines
  journal (the file, then its writer task) and ``ollama_client_aclose`` closes it in
  reverse (the writer drains, then the file closes). A journal that cannot open fails the
  client's open with ``PluginHookError`` naming ``request_log``.

Enable it by name once this distribution is installed:
``OllamaClient(plugins=["request_log"], plugin_config={"request_log": {"log_file": "x.jsonl"}})``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

from ollama_core.ext import (
    Event,
    FailedOver,
    Middleware,
    Plugin,
    Request,
    Response,
    RetryExhausted,
    RetryScheduled,
    hookimpl,
)

from ._config import RequestLogConfig
from ._events import CallLogged
from ._journal import Journal
from ._middleware import CALL_ID, CallLogMiddleware

__all__ = ["RequestLogPlugin"]

log = logging.getLogger("ollama_request_log")

#: The events written to the journal (subscribed by class).
JOURNALED: tuple[type[Event], ...] = (CallLogged, RetryScheduled, RetryExhausted, FailedOver)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


class RequestLogPlugin(Plugin[RequestLogConfig]):
    """See the module docstring. Public state: ``records``, ``journal`` (the open
    :class:`~._journal.Journal`, or ``None``), ``calls_in_flight``."""

    name: ClassVar[str] = "request_log"
    config_class = RequestLogConfig

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self.records: list[tuple[Any, ...]] = []
        self.journal: Journal | None = None
        self._attempts: dict[str, int] = {}
        self._middleware = CallLogMiddleware(self)

    @property
    def config(self) -> dict[str, Any]:
        """The effective settings, with the signing key masked."""
        config = super().config
        if config["signing_key"] is not None:
            config["signing_key"] = "***"
        return config

    @property
    def calls_in_flight(self) -> int:
        return len(self._attempts)

    # -- for the middleware ----------------------------------------------------------------

    def begin_call(self) -> str:
        """A new call id; attempts carrying it are counted until :meth:`end_call`."""
        call_id = uuid.uuid4().hex[:16]
        self._attempts[call_id] = 0
        return call_id

    def end_call(self, call_id: str, endpoint: str, started: float, status: int | None,
                 error: BaseException | None, *, cached: bool = False) -> None:
        """The call ended: emit :class:`CallLogged` (when anyone listens)."""
        attempts = self._attempts.pop(call_id, 0)
        if self.wants_events:
            self.emit(CallLogged(time=started, call_id=call_id, endpoint=endpoint,
                                 status=status, attempts=attempts,
                                 took=self.clock.now() - started, cached=cached,
                                 error=None if error is None else _describe(error)))

    def _record(self, *item: Any) -> None:
        if len(self.records) < self.settings.max_records:
            self.records.append(item)

    # -- hooks ------------------------------------------------------------------------------

    @hookimpl
    def ollama_middlewares(self) -> list[Middleware]:
        return [self._middleware]

    @hookimpl
    async def ollama_client_open(self) -> None:
        path = self.settings.log_file
        if path is not None:
            journal = Journal(path, self.settings.queue_size)
            await journal.open()
            self.journal = journal

    @hookimpl
    async def ollama_client_aclose(self) -> None:
        journal, self.journal = self.journal, None
        if journal is not None:
            await journal.aclose()

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        call_id = request.extensions.get(CALL_ID)
        if call_id in self._attempts:
            self._attempts[call_id] += 1
        key = self.settings.signing_key
        if key is not None:
            mac = hmac.new(key.encode(), f"{request.method} {request.path}".encode(),
                           hashlib.sha256)
            request.headers["X-Signature"] = mac.hexdigest()
        self._record("request", request.method, request.path)
        log.debug("-> %s %s", request.method, request.path)

    @hookimpl
    def ollama_response(self, request: Request, response: Response) -> None:
        self._record("response", request.path, response.status)
        log.debug("<- %s %s", response.status, request.path)

    @hookimpl
    def ollama_stream_chunk(self, request: Request, chunk: dict[str, Any]) -> None:
        # Only reads: a plugin that changes chunks does it in place, and returns nothing.
        self._record("chunk", request.path, bool(chunk.get("done")))

    @hookimpl
    def ollama_error(self, request: Request, error: BaseException) -> None:
        self._record("error", request.path, type(error).__name__)
        log.warning("!! %s %s: %s", request.method, request.path, error)

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        if not isinstance(event, JOURNALED):
            return
        if not isinstance(event, CallLogged):
            self._record("event", event.name)
        journal = self.journal
        if journal is not None:
            journal.put({"time": event.time, "source": event.source, "event": event.name,
                         **event.data})
