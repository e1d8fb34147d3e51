"""The plugin's own typed event: a frozen dataclass deriving from ``ollama_core.ext.Event``.

Observers subscribe to it by class, like to the built-in events:
``client.on_event(callback, CallLogged)`` or ``isinstance(event, CallLogged)`` in an
``ollama_event`` hook. It reads like every event (``event.name``, ``event["status"]``,
``str(event)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ollama_core.ext import Event

__all__ = ["CallLogged"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CallLogged(Event):
    """A call ended: answered (``status``), failed (``error``) or a stream finished.

    ``time`` is when the call started and ``took`` how long it lasted until its answer, or
    for a stream until its last chunk, both on the client's clock."""

    name = "call_logged"
    source: str = "request_log"
    time: float
    #: The call id sent in the id header (the same on every attempt).
    call_id: str
    endpoint: str
    #: The HTTP status of the answer, or ``None`` when no answer came.
    status: int | None
    #: Attempts that went to the transport (0 for a cache hit; more after retries).
    attempts: int
    took: float
    #: Answered from the cache, without an attempt.
    cached: bool = False
    #: ``"<ExcType>: <message>"`` when the call or its stream failed.
    error: str | None = None

    @property
    def data(self) -> dict[str, Any]:
        return {"call_id": self.call_id, "endpoint": self.endpoint, "status": self.status,
                "attempts": self.attempts, "took": self.took, "cached": self.cached,
                "error": self.error}
