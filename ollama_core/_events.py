"""Events plugins emit through the ``ollama_event`` hook."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event"]


@dataclass(frozen=True, slots=True)
class Event:
    """Something a plugin wants observers to know.

    ``name`` is a short identifier (``"retry"``, ``"circuit_state"``, ``"failover"``,
    ``"upstream_health"``, ``"cache_hit"`` ...), ``source`` the emitting plugin,
    ``time`` the reading of the client's clock, ``data`` the details (for ``retry``:
    ``attempt``, ``delay``, ``cause``; for ``circuit_state``: ``key``, ``old``, ``new``).
    Data never holds secrets.
    """

    name: str
    source: str
    time: float
    data: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __str__(self) -> str:
        details = ", ".join(f"{k}={round(v, 3) if isinstance(v, float) else v}"
                            for k, v in self.data.items())
        return f"[{self.source}] {self.name}: {details}"
