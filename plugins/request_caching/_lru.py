"""An in-memory LRU cache with a TTL and two bounds (entries and bytes).

Recency lives in one ``OrderedDict`` (a hit moves the entry to the end; eviction pops the
front). Expiry lives in a second ``OrderedDict`` in insertion order: with one TTL for every
entry, insertion order *is* expiry order, so purging expired entries only ever looks at
the front, an O(1) peek per operation instead of a sweep or a background timer (a timer
would also fight a fake clock). After a TTL change the order may be off for a while; every
lookup still checks its own entry's deadline, so nothing stale is ever served.

Expiry, exactly: an entry stored at ``t`` with a TTL of ``ttl`` has ``expires_at = t + ttl``
and is *live* while ``now < expires_at``; from ``now >= expires_at`` on it is *expired*.
At the boundary instant itself it is expired: ``get`` misses it and any operation may
purge it. A live entry is never removed for being old, only by the LRU bounds.

``size`` is what an entry costs against ``max_bytes``. The request caching plugin gives
:func:`held_size`, the memory the entry really keeps alive, so ``max_bytes`` bounds the
memory held. ``reserve``/``release`` count bytes held for an entry still being built (a
stream being recorded) against the same bound: reserving makes room as storing would, by
evicting least recently used entries.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["ENTRY_OVERHEAD", "Entry", "LRUCache", "held_size"]

#: Bytes one entry costs besides its key and data objects: the ``Entry`` (72), its
#: ``expires_at`` float (24) and its share of the two ``OrderedDict`` (table slots, linked
#: list node), which grows with the tables' slack and with the free slots deletions leave
#: until the next resize. Measured with tracemalloc on CPython 3.11 over 5 to 2 730 live
#: entries, with and without eviction churn: 204 to 426 bytes; rounded up to cover the
#: allocator's rounding of the key and data objects. ``tests/hardening/test_cache_memory.py``
#: checks the total against tracemalloc.
ENTRY_OVERHEAD = 448


def held_size(key: bytes, data: bytes | bytearray) -> int:
    """The memory one entry holds: its key and data objects and :data:`ENTRY_OVERHEAD`."""
    return sys.getsizeof(key) + sys.getsizeof(data) + ENTRY_OVERHEAD


@dataclass(slots=True, eq=False)
class Entry:
    """One cached answer: the serialized body of a plain response (``stream`` false) or
    list of lines of a stream (``stream`` true)."""

    endpoint: str
    data: bytes | bytearray
    stream: bool
    size: int
    expires_at: float


class LRUCache:
    """LRU + TTL + size bound. Not thread-safe: one per client, used from its loop."""

    __slots__ = ("max_entries", "max_bytes", "bytes", "reserved", "evictions", "expirations",
                 "_data", "_expiry")

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        #: The sizes of the stored entries.
        self.bytes = 0
        #: Bytes reserved for entries being built; ``bytes + reserved <= max_bytes``.
        self.reserved = 0
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
        if entry.expires_at <= now:  # expired (possible here only after a TTL change)
            self._remove(key)
            self.expirations += 1
            return None
        self._data.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: Entry, now: float, *, reserved: int = 0) -> bool:
        """Store ``entry``, evicting expired entries, then least recently used ones, to
        stay within bounds. ``reserved`` is what was reserved while building it (released
        here). Returns ``False`` (and stores nothing) when the entry cannot fit: bigger
        than ``max_bytes`` less what other entries being built hold."""
        self.release(reserved)
        if entry.size + self.reserved > self.max_bytes:
            return False
        if key in self._data:
            self._remove(key)
        self._data[key] = entry
        self._expiry[key] = entry.expires_at
        self.bytes += entry.size
        self._purge(now)
        self._shrink()
        return True

    def reserve(self, size: int) -> bool:
        """Hold ``size`` more bytes for an entry being built, evicting least recently
        used entries to make room. ``False`` (nothing reserved) when it cannot fit even
        in an empty cache, given what other entries being built hold."""
        if self.reserved + size > self.max_bytes:
            return False
        self.reserved += size
        self._shrink()
        return True

    def release(self, size: int) -> None:
        """Give back ``size`` reserved bytes (the entry was stored or abandoned)."""
        self.reserved -= size

    def resize(self, max_entries: int, max_bytes: int) -> None:
        """New bounds; evicts at once if the cache no longer fits."""
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._shrink()

    def discard(self, key: bytes) -> None:
        """Forget ``key`` if it is stored."""
        if key in self._data:
            self._remove(key)

    def clear(self) -> None:
        self._data.clear()
        self._expiry.clear()
        self.bytes = 0

    def _shrink(self) -> None:
        data = self._data
        while data and (len(data) > self.max_entries
                        or self.bytes + self.reserved > self.max_bytes):
            key, entry = data.popitem(last=False)
            del self._expiry[key]
            self.bytes -= entry.size
            self.evictions += 1

    def _purge(self, now: float) -> None:
        expiry = self._expiry
        while expiry:
            key = next(iter(expiry))
            if expiry[key] > now:  # live (see the module docstring for the boundary)
                return
            self._remove(key)
            self.expirations += 1

    def _remove(self, key: bytes) -> None:
        entry = self._data.pop(key)
        del self._expiry[key]
        self.bytes -= entry.size
