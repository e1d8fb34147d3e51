"""The cache store shared by a fleet through Redis (``store="redis://..."``).

An answer stored by one process is a hit in every process that names the same Redis and
``store_prefix``. What Redis holds is the answer's portable form, JSON text
(:meth:`~.store.StoredAnswer.to_bytes`; never ``pickle`` or ``marshal``, whose formats
belong to one interpreter), under ``<store_prefix>:rc:{answers}:<key in hex>`` with a TTL
of ``ttl``. ``plugins/_redis/cache_put.lua`` stores it and keeps an index of the entries
(a sorted set scored with their expiry), deleting those that expire soonest once there
are more than ``max_entries``. All of the cache's keys share one hash tag, so the script
stays in one cluster slot.

What it weakens against the in-process store (``store``'s module docstring)
---------------------------------------------------------------------------
- Expiry runs on Redis's key TTLs, so the boundary is approximate.
- The bounds: past ``max_entries`` the entries expiring soonest go first (not the least
  recently used); an answer whose JSON is longer than ``max_bytes`` is not stored, and the
  memory of the whole cache is bounded by the Redis server's own ``maxmemory`` policy.
  Recordings of streams in progress are still counted in this process, against
  ``max_bytes``.
- Writes are sent in the background: an answer stored by one process is visible to the
  others one round trip later; a write lost on the way is only a later miss.
- A value that is not a stored answer (another program's key) is a miss, never an error.

When Redis is down or slow (``plugins/_redis``) the cache fails open, always: every
lookup is a miss (or a hit in a local in-process store that keeps answers while Redis is
down), never an error.
"""

from __future__ import annotations

from typing import Final

from ollama_core import Clock

from .._redis._link import RedisLink, StoreUnavailable, lua, redis_key
from .store import MemoryCacheStore, StoredAnswer

__all__ = ["RedisCacheStore"]

_PUT: Final = lua("cache_put")
_CLEAR: Final = """
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #keys do redis.call('DEL', keys[i]) end
redis.call('DEL', KEYS[1])
return #keys
"""


class RedisCacheStore:
    """The cache store shared through ``link`` (see the module docstring)."""

    def __init__(self, link: RedisLink, *, prefix: str, max_entries: int, max_bytes: int,
                 clock: Clock) -> None:
        self.link = link
        self.prefix = prefix
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        #: Answers kept while Redis is down, and this process's recordings.
        self.local = MemoryCacheStore(max_entries, max_bytes, clock)
        self._put = link.script(_PUT)
        self._clear = link.script(_CLEAR)
        self._index = redis_key(prefix, "rc", "answers", "index")
        self.hits = 0
        self.misses = 0
        self.stored = 0
        self.refused = 0

    def redis_key(self, key: bytes) -> str:
        """The Redis key of a cache key."""
        return redis_key(self.prefix, "rc", "answers", key.hex())

    def peek(self, key: bytes) -> StoredAnswer | None:
        return None if self.link.up else self.local.peek(key)

    async def get(self, key: bytes) -> StoredAnswer | None:
        link = self.link
        if not link.up:
            return self.local.peek(key)
        name = self.redis_key(key)
        try:
            data = await link.call(lambda r: r.get(name))
        except StoreUnavailable:
            return self.local.peek(key)
        if data is None:
            self.misses += 1
            return None
        try:
            answer = StoredAnswer.from_bytes(data if isinstance(data, bytes) else data.encode())
        except (ValueError, UnicodeDecodeError):
            self.misses += 1
            return None
        self.hits += 1
        return answer

    def put(self, key: bytes, answer: StoredAnswer, ttl: float, *,
            reserved: int = 0) -> None:
        if reserved:
            self.local.release(reserved)
        link = self.link
        if not link.up:
            self.local.put(key, answer, ttl)
            return
        try:
            text = answer.to_bytes()
        except ValueError:  # not JSON data (NaN...): not portable, not stored
            self.refused += 1
            return
        if len(text) > self.max_bytes:
            self.refused += 1
            return
        self.stored += 1
        name, index, script = self.redis_key(key), self._index, self._put
        args: list[bytes | int] = [text, max(1, int(ttl * 1000)), self.max_entries]
        link.send(lambda r: script(keys=[name, index], args=args, client=r))

    def delete(self, key: bytes) -> None:
        self.local.delete(key)
        name, index = self.redis_key(key), self._index
        self.link.send(lambda r: r.delete(name))
        self.link.send(lambda r: r.zrem(index, name))

    def clear(self) -> None:
        self.local.clear()
        index, script = self._index, self._clear
        self.link.send(lambda r: script(keys=[index], args=[], client=r))

    def reserve(self, size: int) -> bool:
        return self.local.reserve(size)

    def release(self, size: int) -> None:
        self.local.release(size)

    def resize(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries, self.max_bytes = max_entries, max_bytes
        self.local.resize(max_entries, max_bytes)

    def stats(self) -> dict[str, int]:
        local = self.local.stats()
        return {"entries": local["entries"], "bytes": local["bytes"],
                "recording": local["recording"], "evictions": local["evictions"],
                "expirations": local["expirations"], "shared_hits": self.hits,
                "shared_misses": self.misses, "shared_stored": self.stored,
                "shared_refused": self.refused}

    async def flush(self) -> None:
        """Wait until the writes sent so far reached Redis (or failed)."""
        await self.link.flush()

    async def aclose(self) -> None:
        await self.link.aclose()

    def __repr__(self) -> str:
        return f"RedisCacheStore({self.link.display}, prefix={self.prefix!r})"
