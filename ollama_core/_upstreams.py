"""Upstreams: the Ollama servers a client can talk to, and what is known of their health.

The registry is the meeting point of the failover and health-check plugins (and anything
else that cares whether a server is up): failover reads it to pick a server and records
attempts, failures and successes in it; health checks probe every upstream in it and record
their findings. Neither plugin imports the other.

What is known of a server is written only through the registry's methods
(:meth:`UpstreamRegistry.record_attempt`, :meth:`~UpstreamRegistry.mark_down`,
:meth:`~UpstreamRegistry.mark_success`, :meth:`~UpstreamRegistry.record_probe`,
:meth:`~UpstreamRegistry.end_cooldown`); an :class:`Upstream` is read-only to everyone
else (assigning one of its attributes raises ``AttributeError``). So every change of a
server's state has one place that says what it means, and a future registry that shares
health between processes has one seam to implement.

Threads: none of this is locked. A registry belongs to one client, and everything that
writes to it (middlewares, background probes, plugin reconfiguration) runs on that
client's event loop; a :class:`~ollama_core.SyncOllamaClient` runs them all on its one
loop thread. No method awaits, so each is atomic with respect to the loop. Code running
on another thread may read an upstream (a snapshot of plain values) but must not call the
writing methods.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import yarl

from ._redact import mask_url

__all__ = ["Upstream", "UpstreamRegistry"]

_VERDICTS = {True: "healthy", False: "unhealthy", None: "unknown"}


class Upstream:
    """One Ollama server: its base URL, optional API key, and its observed health.

    Read-only: the attributes are written by :class:`UpstreamRegistry` methods only.

    - ``down_until``: the clock reading until which the server is considered down (passive
      failure detection, :meth:`UpstreamRegistry.mark_down`), or ``None``;
    - ``healthy``: the verdict of active health checks (``None`` = no verdict yet);
    - ``last_error``: the last failure seen, by traffic or by a probe (``"<Type>: msg"``);
    - ``last_latency``: seconds the last successful probe took;
    - ``requests``, ``failures``: attempts sent to it and failures recorded, by traffic;
    - ``consecutive_failures``, ``consecutive_successes``: the current run, by traffic.

    Equality is identity (an upstream is a dictionary key for per-server state). The API
    key never appears in ``repr``.
    """

    __slots__ = ("_url", "_api_key", "_healthy", "_down_until", "_last_error",
                 "_last_latency", "_consecutive_failures", "_consecutive_successes",
                 "_requests", "_failures", "__weakref__")

    def __init__(self, url: yarl.URL, api_key: str | None = None) -> None:
        self._url = url
        self._api_key = api_key
        self._healthy: bool | None = None
        self._down_until: float | None = None
        self._last_error: str | None = None
        self._last_latency: float | None = None
        self._consecutive_failures = 0
        self._consecutive_successes = 0
        self._requests = 0
        self._failures = 0

    @property
    def url(self) -> yarl.URL:
        return self._url

    @property
    def api_key(self) -> str | None:
        return self._api_key

    @property
    def healthy(self) -> bool | None:
        return self._healthy

    @property
    def down_until(self) -> float | None:
        return self._down_until

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def last_latency(self) -> float | None:
        return self._last_latency

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive_failures

    @property
    def consecutive_successes(self) -> int:
        return self._consecutive_successes

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def failures(self) -> int:
        return self._failures

    @property
    def display(self) -> str:
        """The URL without credentials, for logs and error messages."""
        return mask_url(self._url)

    def is_available(self, now: float) -> bool:
        """Neither marked down (until a time still in the future) nor failing its checks."""
        down_until = self._down_until
        if down_until is not None and now < down_until:
            return False
        return self._healthy is not False

    def __repr__(self) -> str:
        return (f"Upstream({self.display!r}, {_VERDICTS[self._healthy]}, "
                f"down_until={self._down_until!r})")


class UpstreamRegistry:
    """The ordered list of upstreams of one client (the first is the primary), and the
    only writer of their state (see the module docstring)."""

    def __init__(self, upstreams: Sequence[Upstream]) -> None:
        if not upstreams:
            raise ValueError("at least one upstream is required")
        self._items: list[Upstream] = list(upstreams)

    @property
    def primary(self) -> Upstream:
        return self._items[0]

    def __iter__(self) -> Iterator[Upstream]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def replace(self, upstreams: Sequence[Upstream]) -> None:
        """Swap the whole list (dynamic configuration); the first becomes the primary.
        Upstreams kept from the old list keep their state."""
        if not upstreams:
            raise ValueError("at least one upstream is required")
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

    # -- writers: traffic --------------------------------------------------------------

    def record_attempt(self, upstream: Upstream) -> None:
        """Count one attempt sent to ``upstream`` (``requests``)."""
        upstream._requests += 1

    def mark_down(self, upstream: Upstream, *, until: float, error: BaseException | str) -> None:
        """Record a failure (``failures``, ``last_error``, the failure run) and keep the
        upstream out of rotation until the clock reads ``until``."""
        upstream._down_until = until
        upstream._last_error = (error if isinstance(error, str)
                                else f"{type(error).__name__}: {error}")
        upstream._failures += 1
        upstream._consecutive_failures += 1
        upstream._consecutive_successes = 0

    def mark_success(self, upstream: Upstream) -> None:
        """Record a success: the cooldown ends and the success run grows."""
        upstream._down_until = None
        upstream._consecutive_failures = 0
        upstream._consecutive_successes += 1

    # -- writers: active checks --------------------------------------------------------

    def record_probe(self, upstream: Upstream, *, healthy: bool | None, latency: float | None,
                     error: str | None) -> None:
        """Record one health probe: ``healthy`` is the verdict after it (``None``: still
        none), ``latency`` the seconds a successful probe took (kept as ``last_latency``;
        ``None`` keeps the previous one), ``error`` a failed probe's cause (kept as
        ``last_error``; ``None`` keeps the previous one). Traffic counters are untouched:
        probes and real calls are counted apart."""
        upstream._healthy = healthy
        if latency is not None:
            upstream._last_latency = latency
        if error is not None:
            upstream._last_error = error

    def end_cooldown(self, upstream: Upstream) -> None:
        """Bring ``upstream`` back into rotation now (``down_until`` cleared) without
        counting a success: for active evidence that it answers again."""
        upstream._down_until = None

    def __repr__(self) -> str:
        return f"UpstreamRegistry({self._items!r})"
