"""Events plugins emit through the ``ollama_event`` hook: one class per kind.

:class:`Event` is the base of every event and also the generic event a third-party plugin
may emit as ``Event(name, source, time, data)``. The built-in plugins emit typed events,
frozen dataclasses with keyword-only typed fields (``RetryScheduled(time=..., attempt=2,
...)``), so an observer subscribes by class::

    @hookimpl
    def ollama_event(self, event):
        if isinstance(event, UpstreamHealthChanged) and event.healthy is False:
            ...

and a caller who writes no plugin uses ``client.on_event(callback, UpstreamHealthChanged)``.
Every event has ``name`` (the kind, ``"retry"``, ``"upstream_health"`` ...), ``source``
(the emitting plugin), ``time`` (a reading of the client's clock) and ``data`` (its
details as a dict), reads like a mapping (``event["attempt"]``) and prints as
``[source] name: key=value, ...``. Data never holds secrets.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = [
    "CacheHit",
    "CacheMiss",
    "CircuitStateChanged",
    "Event",
    "EventSubscribers",
    "FailedOver",
    "RateLimited",
    "RetryBudgetExhausted",
    "RetryExhausted",
    "RetryScheduled",
    "StoreDegraded",
    "StoreRecovered",
    "UpstreamHealthChanged",
]


class Event:
    """Something a plugin wants observers to know; the base of the typed events.

    :param name: the kind of event, a short identifier.
    :param source: the emitting plugin's name.
    :param time: the reading of the client's clock when it happened.
    :param data: the details.
    """

    __slots__ = ("name", "source", "time", "_data")

    name: str
    source: str
    time: float
    _data: dict[str, Any]

    def __init__(self, name: str, source: str, time: float,
                 data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "time", time)
        object.__setattr__(self, "_data", dict(data) if data is not None else {})

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __getstate__(self) -> tuple[str, str, float, dict[str, Any]]:
        return (self.name, self.source, self.time, self._data)

    def __setstate__(self, state: tuple[str, str, float, dict[str, Any]]) -> None:
        for slot, value in zip(("name", "source", "time", "_data"), state, strict=True):
            object.__setattr__(self, slot, value)

    @property
    def data(self) -> dict[str, Any]:
        """The details, by key."""
        data: dict[str, Any] = self._data
        return data

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def get(self, key: str, default: Any = None) -> Any:
        """``data.get(key, default)``."""
        return self.data.get(key, default)

    def __str__(self) -> str:
        details = ", ".join(f"{k}={round(v, 3) if isinstance(v, float) else v}"
                            for k, v in self.data.items())
        return f"[{self.source}] {self.name}: {details}"

    def __repr__(self) -> str:
        return (f"Event(name={self.name!r}, source={self.source!r}, time={self.time!r}, "
                f"data={self.data!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (type(self) is type(other) and self.name == other.name
                and self.source == other.source and self.time == other.time
                and self.data == other.data)

    __hash__ = None  # type: ignore[assignment]


class _TypedEvent(Event):
    """Base of the typed events: ``data`` is built from the dataclass fields.

    ``_DATA_KEYS`` renames fields whose data key is not an identifier (``from_`` is
    ``"from"``); fields in ``_OMIT_NONE`` are left out of ``data`` while ``None``."""

    __slots__ = ()

    _DATA_KEYS: ClassVar[Mapping[str, str]] = {}
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset()

    @property
    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.name in ("source", "time"):
                continue
            value = getattr(self, f.name)
            if value is None and f.name in self._OMIT_NONE:
                continue
            out[self._DATA_KEYS.get(f.name, f.name)] = value
        return out


# -- retry ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RetryScheduled(_TypedEvent):
    """A retryable attempt failed and another follows after ``delay`` seconds."""

    name = "retry"
    source: str = "retry"
    time: float
    #: The attempt that failed, 1-based.
    attempt: int
    #: The backoff before the next attempt, in seconds.
    delay: float
    #: The server's ``Retry-After`` hint in seconds, or ``None``.
    retry_after: float | None = None
    #: ``"<ExcType>: <message>"`` of the failure.
    cause: str
    endpoint: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RetryExhausted(_TypedEvent):
    """Retry gave up on a retryable failure: ``reason`` is ``"max_attempts"`` or
    ``"deadline"``."""

    name = "retry_exhausted"
    source: str = "retry"
    time: float
    attempt: int
    reason: str
    cause: str
    endpoint: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RetryBudgetExhausted(_TypedEvent):
    """The retry budget refused a retry (``requests`` and ``retries`` in its window)."""

    name = "retry_budget_exhausted"
    source: str = "retry"
    time: float
    attempt: int
    requests: int
    retries: int
    cause: str
    endpoint: str


# -- failover, health, breaker ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FailedOver(_TypedEvent):
    """A call left a server: it failed (and was marked down) or its own rate limit refused
    the call (not marked down; nothing was sent); ``to`` is the next one tried (``None`` when
    none is left or the call cannot move). ``data`` has the keys ``"from"`` and ``"to"``."""

    name = "failover"
    _DATA_KEYS: ClassVar[Mapping[str, str]] = {"from_": "from"}
    source: str = "failover"
    time: float
    #: The server the call left (its display form, no credentials).
    from_: str
    to: str | None
    cause: str
    endpoint: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class UpstreamHealthChanged(_TypedEvent):
    """A health check verdict changed for ``upstream``."""

    name = "upstream_health"
    source: str = "health_checks"
    time: float
    upstream: str
    healthy: bool | None
    latency: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CircuitStateChanged(_TypedEvent):
    """A breaker moved from ``old`` to ``new`` (``"closed"``, ``"open"``,
    ``"half-open"``); ``retry_at`` (clock reading of the next probe) only when opened."""

    name = "circuit_state"
    _OMIT_NONE: ClassVar[frozenset[str]] = frozenset({"retry_at"})
    source: str = "circuit_breaker"
    time: float
    key: str
    upstream: str
    endpoint: str
    old: str
    new: str
    retry_at: float | None = None


# -- rate limiting, cache ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RateLimited(_TypedEvent):
    """A call waited ``waited`` seconds for the limiter, or was refused (``rejected``)."""

    name = "rate_limited"
    source: str = "rate_limiting"
    time: float
    endpoint: str
    waited: float
    rejected: bool


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CacheHit(_TypedEvent):
    """A call was answered from the cache (``coalesced``: by joining an identical call
    in flight)."""

    name = "cache_hit"
    source: str = "request_caching"
    time: float
    endpoint: str
    coalesced: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CacheMiss(_TypedEvent):
    """A cacheable call was not in the cache and goes to the server."""

    name = "cache_miss"
    source: str = "request_caching"
    time: float
    endpoint: str


# -- shared stores -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StoreDegraded(_TypedEvent):
    """A plugin's shared store (``store``, its URL without credentials) stopped answering:
    the plugin now decides alone, on a local degraded store (``fail_closed`` false), or
    refuses calls (``fail_closed`` true), until the store answers again. ``source`` is
    the plugin."""

    name = "store_degraded"
    source: str
    time: float
    store: str
    error: str
    fail_closed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StoreRecovered(_TypedEvent):
    """A plugin's shared store answers again after ``down_for`` seconds (client clock):
    the plugin shares its state again."""

    name = "store_recovered"
    source: str
    time: float
    store: str
    down_for: float


# -- subscriptions without a plugin: client.on_event(callback, *kinds) ---------------------------

log = logging.getLogger("ollama_core.plugins")

#: A subscription: the callback and the event classes it takes (empty: every event).
_Subscription = tuple[Callable[[Any], object], tuple[type[Event], ...]]


class EventSubscribers:
    """The ``on_event`` callbacks of one client.

    The list is replaced, never changed in place, so a callback may unsubscribe (itself or
    another) while events are being delivered, and ``unsubscribe`` may be called from any
    thread. A callback that raises is logged on the ``"ollama_core.plugins"`` logger and
    the others still run, as with an observer hook.
    """

    __slots__ = ("_subs", "_lock")

    def __init__(self) -> None:
        self._subs: tuple[_Subscription, ...] = ()
        self._lock = threading.Lock()  # between writers only; publish reads a snapshot

    def __bool__(self) -> bool:
        return bool(self._subs)

    def __len__(self) -> int:
        return len(self._subs)

    def add(self, callback: Callable[[Any], object],
            kinds: tuple[type[Event], ...]) -> Callable[[], None]:
        """Subscribe ``callback`` to ``kinds`` (every event when empty); returns the
        function that unsubscribes it (calling it twice is harmless)."""
        if not callable(callback):
            raise TypeError(f"on_event() needs a callable, got {callback!r}")
        for kind in kinds:
            if not (isinstance(kind, type) and issubclass(kind, Event)):
                raise TypeError(f"on_event() filters by Event classes, got {kind!r}")
        entry: _Subscription = (callback, tuple(kinds))
        with self._lock:
            self._subs = (*self._subs, entry)

        def unsubscribe() -> None:
            with self._lock:
                self._subs = tuple(s for s in self._subs if s is not entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every callback subscribed to its class."""
        for callback, kinds in self._subs:
            if kinds and not isinstance(event, kinds):
                continue
            try:
                callback(event)
            except Exception as exc:
                log.error("event callback %r raised for event %r (ignored): %s: %s",
                          getattr(callback, "__qualname__", callback), event.name,
                          type(exc).__name__, exc, exc_info=exc)
