"""An example third-party plugin for ollama-core.

It records what the transport does (requests, responses, stream chunks, errors) through
the sync hooks, optionally adds an HMAC signature header to every request, and logs each
event with :mod:`logging`. Enable it with ``OllamaClient(plugins=["request_log"])`` once
this distribution is installed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

from ollama_core import Event, InvalidConfigError, Request, Response, hookimpl

__all__ = ["RequestLogPlugin"]

log = logging.getLogger("ollama_request_log")


class RequestLogPlugin:
    """Keeps a log of hook calls in ``self.records`` (a list of tuples) and logs them.

    Config keys: ``signing_key`` (str; when set, an ``X-Signature`` header carries the
    HMAC-SHA256 of method and path), ``max_records`` (int, default 10000).
    """

    name = "request_log"

    def __init__(self, config: dict[str, Any]) -> None:
        unknown = set(config) - {"signing_key", "max_records"}
        if unknown:
            raise InvalidConfigError(f"request_log: unknown config keys {sorted(unknown)}")
        key = config.get("signing_key")
        if key is not None and not isinstance(key, str):
            raise InvalidConfigError("request_log: signing_key must be a string")
        self._key = key.encode() if key else None
        self.max_records = int(config.get("max_records", 10000))
        self.records: list[tuple[Any, ...]] = []

    def __repr__(self) -> str:  # the signing key never appears
        return f"RequestLogPlugin(records={len(self.records)}, signing={self._key is not None})"

    def _record(self, *item: Any) -> None:
        if len(self.records) < self.max_records:
            self.records.append(item)

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        if self._key is not None:
            mac = hmac.new(self._key, f"{request.method} {request.path}".encode(), hashlib.sha256)
            request.headers["X-Signature"] = mac.hexdigest()
        self._record("request", request.method, request.path)
        log.debug("-> %s %s", request.method, request.path)

    @hookimpl
    def ollama_response(self, request: Request, response: Response) -> None:
        self._record("response", request.path, response.status)
        log.debug("<- %s %s", response.status, request.path)

    @hookimpl
    def ollama_stream_chunk(self, request: Request, chunk: dict[str, Any]) -> None:
        # Chunks are changed in place (the return value is ignored); this one only looks.
        self._record("chunk", request.path, bool(chunk.get("done")))

    @hookimpl
    def ollama_error(self, request: Request, error: BaseException) -> None:
        self._record("error", request.path, type(error).__name__)
        log.warning("!! %s %s: %s", request.method, request.path, error)

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        self._record("event", event.name)
