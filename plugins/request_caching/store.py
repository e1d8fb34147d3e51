"""Where the request cache keeps its answers: the ``CacheStore`` protocol, the value it
stores (:class:`StoredAnswer`) and the in-process store every client uses unless told
otherwise.

Keys are the 32-byte digests of ``_key.cache_key`` (a shared store writes them in hex,
under its own prefix). Values are :class:`StoredAnswer`: the endpoint, whether it was a
stream, and the decoded JSON of the body (or of each line). Its portable form is JSON,
:meth:`StoredAnswer.to_json` / :meth:`StoredAnswer.from_json`: that is what a store
outside this process holds (never ``pickle`` or ``marshal``, whose formats belong to one
interpreter). Inside the process the answer is held as ``marshal`` images, compact and an
order of magnitude faster to write and read back than JSON text, and immutable, so every
hit decodes its own copy. The rows of ``embed(..., arrays=True)`` (``array('d')``) are
held as their bytes and come back as arrays; their portable form is JSON numbers.

The protocol
------------
``store.peek(key) -> StoredAnswer | None``
    The live answer for ``key`` when the store holds it locally (no round trip), else
    ``None``: the plugin then calls ``get``. The in-process store answers every hit here,
    so a hit costs no coroutine; a shared store may always answer ``None``.
``await store.get(key) -> StoredAnswer | None``
    The live answer for ``key`` (a fresh copy each time :meth:`StoredAnswer.value` is
    called), or ``None``. The one round trip of a lookup.
``store.put(key, answer, ttl, reserved=0)``, ``store.delete(key)``, ``store.clear()``
    Store for ``ttl`` seconds (an answer that cannot fit is simply not stored), forget one
    key, forget everything. Synchronous: a stream is stored when it ends, in its
    ``response.on_done`` callback; a shared store keeps nothing locally and sends them in
    the background, in order (an answer lost on the way is only a later miss).
``store.reserve(size) -> bool``, ``store.release(size)``
    Memory held in this process for an answer being built (a stream being recorded),
    counted against ``max_bytes`` so recordings cannot outgrow the bound; ``False``:
    it cannot fit, stop recording. ``reserved`` in ``put`` gives the reservation back.
``store.resize(max_entries, max_bytes)``
    New bounds (``reconfigure``).
``store.stats() -> dict``
    ``entries``, ``bytes``, ``recording``, ``evictions``, ``expirations``, as far as the
    store knows without a round trip.
``await store.aclose()``
    Flush what is pending and let go of resources.

What the in-process store promises, and what a shared store may weaken
----------------------------------------------------------------------
:class:`MemoryCacheStore` (``_lru``): an entry stored at ``t`` is served while
``now < t + ttl`` on the client's clock (exact under a ``FakeClock``), least recently
used entries are evicted first (expired ones before that), and ``max_bytes`` bounds the
memory really held (stored answers and recordings). A shared store may weaken:

- the clock: expiry runs on the store's time (e.g. Redis key TTLs), so the boundary is
  approximate;
- the bounds: ``max_entries`` and ``max_bytes`` may be enforced by the server's own
  eviction (Redis ``maxmemory``) and by refusing any single answer larger than
  ``max_bytes``, rather than by strict LRU over this process's view;
- freshness of writes: an answer stored by another process may take a round trip to be
  visible.
"""

from __future__ import annotations

import json
import marshal
from array import array
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from ollama_core import Clock, MonotonicClock

from ._lru import Entry, LRUCache, held_size

__all__ = ["CacheStore", "MemoryCacheStore", "StoredAnswer", "frame"]

# In-memory only, of values json.loads produced: marshal's format is private to this
# interpreter, which is all an in-process representation needs.
_dumps = marshal.dumps
_loads = marshal.loads
# A recorded stream: for each line, its marshal image's length (4 bytes, little endian)
# then the image.
_FRAME_LENGTH = 4


def _packed(value: Any) -> Any:
    # An embed answer of embed(..., arrays=True) holds array('d') rows, which marshal does
    # not write: each becomes (typecode, bytes), a tuple, which no JSON value is.
    if isinstance(value, array):
        return (value.typecode, value.tobytes())
    if isinstance(value, dict):
        return {k: _packed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_packed(v) for v in value]
    return value


def _unpacked(value: Any, plain: bool) -> Any:
    if isinstance(value, tuple):
        typecode, data = value
        rows = array(typecode)
        rows.frombytes(data)
        return rows.tolist() if plain else rows
    if isinstance(value, dict):
        return {k: _unpacked(v, plain) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpacked(v, plain) for v in value]
    return value


def _holds_arrays(value: Any) -> bool:
    # Where decoding puts arrays: the rows of a top-level field (a scan of types in C).
    return type(value) is dict and any(
        type(v) is list and array in set(map(type, v)) for v in value.values())


def _image(value: Any) -> bytes:
    """The ``marshal`` image of a body (``ValueError`` for what is not plain JSON data);
    one holding ``array`` rows is the 1-tuple of its packed form (marshal would write an
    array as ``bytes``, losing what it was)."""
    if _holds_arrays(value):
        return _dumps((_packed(value),))
    return _dumps(value)


def frame(line: Any) -> bytes:
    """One stream line as a length-prefixed ``marshal`` image (``ValueError`` for a value
    that is not plain JSON data)."""
    image = _dumps(line)
    return len(image).to_bytes(_FRAME_LENGTH, "little") + image


def _unframe(data: bytes | bytearray) -> list[Any]:
    view = memoryview(data)
    lines = []
    at, end = 0, len(view)
    while at < end:
        size = int.from_bytes(view[at:at + _FRAME_LENGTH], "little")
        at += _FRAME_LENGTH
        lines.append(_loads(view[at:at + size]))
        at += size
    return lines


class StoredAnswer:
    """A cached 2xx answer: ``endpoint``, ``stream`` (its lines were recorded) and its
    JSON value (the body, or the list of lines), held as ``image`` (``marshal``) in this
    process. Build one with :meth:`of_body`, :meth:`of_recording` or :meth:`from_json`."""

    __slots__ = ("endpoint", "stream", "image")

    def __init__(self, endpoint: str, stream: bool, image: bytes | bytearray) -> None:
        self.endpoint = endpoint
        self.stream = stream
        #: The in-process form: one ``marshal`` image (plain) or framed images (stream).
        self.image = image

    @classmethod
    def of_body(cls, endpoint: str, body: Any) -> StoredAnswer:
        """A plain answer (``ValueError`` when ``body`` is not plain JSON data)."""
        return cls(endpoint, False, _image(body))

    @classmethod
    def of_recording(cls, endpoint: str, recording: bytes | bytearray) -> StoredAnswer:
        """A stream recorded as :func:`frame` images, one per line."""
        return cls(endpoint, True, recording)

    def value(self) -> Any:
        """A fresh copy of the body (plain) or of the list of lines (stream); ``array``
        rows stored as such come back as arrays."""
        if self.stream:
            return _unframe(self.image)
        value = _loads(self.image)
        return _unpacked(value[0], False) if type(value) is tuple else value

    # -- the portable form -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """``{"endpoint": ..., "stream": ..., "value": ...}``: JSON data (``array`` rows
        as lists of their numbers)."""
        if self.stream:
            value = _unframe(self.image)
        else:
            value = _loads(self.image)
            if type(value) is tuple:
                value = _unpacked(value[0], True)
        return {"endpoint": self.endpoint, "stream": self.stream, "value": value}

    def to_bytes(self) -> bytes:
        """The portable form as UTF-8 JSON text."""
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredAnswer:
        """Back from :meth:`to_json` (``ValueError`` for anything else)."""
        try:
            endpoint, stream, value = data["endpoint"], data["stream"], data["value"]
        except (KeyError, TypeError):
            raise ValueError("not a stored answer") from None
        if not isinstance(endpoint, str) or not isinstance(stream, bool):
            raise ValueError("not a stored answer")
        if stream:
            if not isinstance(value, list) or not value:
                raise ValueError("a stored stream needs its lines")
            return cls(endpoint, True, b"".join(frame(line) for line in value))
        return cls(endpoint, False, _dumps(value))

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredAnswer:
        """Back from :meth:`to_bytes`."""
        return cls.from_json(json.loads(data))

    def __repr__(self) -> str:
        kind = "stream" if self.stream else "plain"
        return f"StoredAnswer({self.endpoint!r}, {kind}, {len(self.image)} bytes)"


@runtime_checkable
class CacheStore(Protocol):
    """The request cache's answers; see the module docstring for the contract."""

    def peek(self, key: bytes) -> StoredAnswer | None: ...

    async def get(self, key: bytes) -> StoredAnswer | None: ...

    def put(self, key: bytes, answer: StoredAnswer, ttl: float, *,
            reserved: int = 0) -> None: ...

    def delete(self, key: bytes) -> None: ...

    def clear(self) -> None: ...

    def reserve(self, size: int) -> bool: ...

    def release(self, size: int) -> None: ...

    def resize(self, max_entries: int, max_bytes: int) -> None: ...

    def stats(self) -> dict[str, int]: ...

    async def aclose(self) -> None: ...


class MemoryCacheStore:
    """The in-process store: an LRU/TTL cache bounded in entries and in the memory it
    really holds (``_lru``), on ``clock`` (the client's; the plugin builds this store with
    it)."""

    __slots__ = ("clock", "lru")

    def __init__(self, max_entries: int = 1024, max_bytes: int = 64 * 1024 * 1024,
                 clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        #: The entries (``_lru.LRUCache``).
        self.lru = LRUCache(max_entries, max_bytes)

    def peek(self, key: bytes) -> StoredAnswer | None:
        entry = self.lru.get(key, self.clock.now())
        if entry is None:
            return None
        return StoredAnswer(entry.endpoint, entry.stream, entry.data)

    async def get(self, key: bytes) -> StoredAnswer | None:
        return self.peek(key)

    def put(self, key: bytes, answer: StoredAnswer, ttl: float, *,
            reserved: int = 0) -> None:
        now = self.clock.now()
        image = answer.image
        self.lru.put(key, Entry(answer.endpoint, image, answer.stream, held_size(key, image),
                                now + ttl), now, reserved=reserved)

    def delete(self, key: bytes) -> None:
        self.lru.discard(key)

    def clear(self) -> None:
        self.lru.clear()

    def reserve(self, size: int) -> bool:
        return self.lru.reserve(size)

    def release(self, size: int) -> None:
        self.lru.release(size)

    def resize(self, max_entries: int, max_bytes: int) -> None:
        self.lru.resize(max_entries, max_bytes)

    def stats(self) -> dict[str, int]:
        lru = self.lru
        return {"entries": len(lru), "bytes": lru.bytes, "recording": lru.reserved,
                "evictions": lru.evictions, "expirations": lru.expirations}

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryCacheStore(entries={len(self.lru)}, bytes={self.lru.bytes})"
