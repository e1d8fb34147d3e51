"""An in-memory LRU cache with a TTL and two bounds (entries and bytes).

Recency lives in one ``OrderedDict`` (a hit moves the entry to the end; eviction pops the
front). Expiry lives in a second ``OrderedDict`` in insertion order: with one TTL for every
entry, insertion order *is* expiry order, so purging expired entries only ever looks at
the front, an O(1) peek per operation instead of a sweep or a background timer (a timer
would also fight a fake clock). After a TTL change the order may be off for a while; every
lookup still checks its own entry's deadline, so nothing stale is ever served.

An entry expires when ``now >= stored_at + ttl``. ``size`` is whatever the owner counts
(the request caching plugin counts the answer's JSON as received).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["Entry", "LRUCache"]


@dataclass(slots=True, eq=False)
class Entry:
    """One cached answer: the serialized body of a plain response (``stream`` false) or
    list of lines of a stream (``stream`` true)."""

    endpoint: str
    data: bytes
    stream: bool
    size: int
    expires_at: float


class LRUCache:
    """LRU + TTL + size bound. Not thread-safe: one per client, used from its loop."""

    __slots__ = ("max_entries", "max_bytes", "bytes", "evictions", "expirations",
                 "_data", "_expiry")

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self.evictions = 0
        self.expirations = 0
        self._data: OrderedDict[bytes, Entry] = OrderedDict()
        self._expiry: OrderedDict[bytes, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: bytes) -> bool:
        return key in self._data

    def get(self, key: bytes, now: float) -> Entry | None:
        """The live entry for ``key`` (now the most recently used), or ``None``."""
        if self._expiry:
            self._purge(now)
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:  # possible only after a TTL change
            self._remove(key)
            self.expirations += 1
            return None
        self._data.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: Entry, now: float) -> bool:
        """Store ``entry``, evicting least recently used ones to stay within bounds.
        Returns ``False`` (and stores nothing) when the entry alone is too big."""
        if entry.size > self.max_bytes:
            return False
        if key in self._data:
            self._remove(key)
        self._data[key] = entry
        self._expiry[key] = entry.expires_at
        self.bytes += entry.size
        self._purge(now)
        self._shrink()
        return True

    def resize(self, max_entries: int, max_bytes: int) -> None:
        """New bounds; evicts at once if the cache no longer fits."""
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._shrink()

    def clear(self) -> None:
        self._data.clear()
        self._expiry.clear()
        self.bytes = 0

    def _shrink(self) -> None:
        data = self._data
        while len(data) > self.max_entries or self.bytes > self.max_bytes:
            key, entry = data.popitem(last=False)
            del self._expiry[key]
            self.bytes -= entry.size
            self.evictions += 1

    def _purge(self, now: float) -> None:
        expiry = self._expiry
        while expiry:
            key = next(iter(expiry))
            if expiry[key] > now:
                return
            self._remove(key)
            self.expirations += 1

    def _remove(self, key: bytes) -> None:
        entry = self._data.pop(key)
        del self._expiry[key]
        self.bytes -= entry.size
