"""Upstreams: the Ollama servers a client can talk to, and what is known of their health.

The registry is the meeting point of the failover and health-check plugins (and anything
else that cares whether a server is up): failover reads it to pick a server and writes
failures into it; health checks probe every upstream in it and write their findings.
Neither plugin imports the other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import yarl

from ._redact import mask_url

__all__ = ["Upstream", "UpstreamRegistry"]


@dataclass(eq=False)
class Upstream:
    """One Ollama server: its base URL, optional API key, and its observed health.

    ``down_until`` is the clock reading until which the server is considered down (set by
    passive failure detection), ``healthy`` the verdict of active health checks
    (``None`` = never probed). The API key never appears in ``repr``.
    """

    url: yarl.URL
    api_key: str | None = field(default=None, repr=False)
    healthy: bool | None = None
    down_until: float | None = None
    last_error: str | None = None
    last_latency: float | None = None
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    requests: int = 0
    failures: int = 0

    @property
    def display(self) -> str:
        """The URL without credentials, for logs and error messages."""
        return mask_url(self.url)

    def is_available(self, now: float) -> bool:
        """Neither marked down (until a time still in the future) nor failing its checks."""
        if self.down_until is not None and now < self.down_until:
            return False
        return self.healthy is not False

    def __repr__(self) -> str:
        state = {True: "healthy", False: "unhealthy", None: "unknown"}[self.healthy]
        return f"Upstream({self.display!r}, {state}, down_until={self.down_until!r})"


class UpstreamRegistry:
    """The ordered list of upstreams of one client (the first is the primary)."""

    def __init__(self, upstreams: Sequence[Upstream]) -> None:
        if not upstreams:
            raise ValueError("at least one upstream is required")
        self._lock = threading.Lock()
        self._items: list[Upstream] = list(upstreams)

    @property
    def primary(self) -> Upstream:
        return self._items[0]

    def __iter__(self) -> Iterator[Upstream]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def replace(self, upstreams: Sequence[Upstream]) -> None:
        """Swap the whole list (dynamic configuration); the first becomes the primary."""
        if not upstreams:
            raise ValueError("at least one upstream is required")
        with self._lock:
            self._items = list(upstreams)

    def get(self, url: str | yarl.URL) -> Upstream | None:
        target = yarl.URL(str(url))
        for item in self._items:
            if item.url == target or item.url.with_user(None) == target.with_user(None):
                return item
        return None

    def available(self, now: float) -> list[Upstream]:
        """Upstreams currently usable, in priority order."""
        return [u for u in self._items if u.is_available(now)]

    def mark_down(self, upstream: Upstream, *, until: float, error: BaseException | str) -> None:
        """Record a failure and keep the upstream out of rotation until ``until``."""
        with self._lock:
            upstream.down_until = until
            upstream.last_error = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            upstream.failures += 1
            upstream.consecutive_failures += 1
            upstream.consecutive_successes = 0

    def mark_success(self, upstream: Upstream) -> None:
        with self._lock:
            upstream.down_until = None
            upstream.consecutive_failures = 0
            upstream.consecutive_successes += 1

    def __repr__(self) -> str:
        return f"UpstreamRegistry({self._items!r})"
