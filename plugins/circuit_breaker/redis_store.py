"""The breaker store shared by a fleet through Redis (``store="redis://..."``).

Local detection, shared verdict (the model of LiteLLM's cooldowns): each process counts
its own failures with its own pybreaker objects; when one opens, the verdict "open for N
seconds" is published (``plugins/_redis/breaker_set.lua``: the end of the open period in
Redis ``TIME``, a TTL on the key) and every process fails fast on it. When the period is
over the key reads half-open, and ``plugins/_redis/breaker_admit.lua`` hands out at most
``half_open_max_calls`` probe leases *for the whole fleet* (a sorted set scored with each
lease's expiry, renewed while the probe runs): a probe that dies gives its place back
within ``store_lease_ttl``. A probe's success closes the breaker for everyone (the key is
removed); its failure reopens it. A half-open verdict that no probe settles lapses after
:data:`HALF_OPEN_TTL`.

Freshness: a process keeps an *open* verdict it read (or made) for at most
:data:`VERDICT_AGE` seconds of its clock, failing fast without a round trip meanwhile;
without a fresh open verdict it asks Redis before every call (one round trip, also when
the breaker is closed: a verdict another process publishes is seen on the next call).

What it weakens against the in-process store (``store``'s module docstring)
---------------------------------------------------------------------------
- The clock: the open period runs on Redis ``TIME``; ``retry_after`` of a verdict read
  from Redis is off by a round trip, and one kept locally may be up to its age old.
- Transitions are published in the background, in order: for one round trip after a
  process's breaker opens, another process may still let a call through.
- The probe limit stays exact across the fleet, as long as Redis answers.

When Redis is down or slow (``plugins/_redis``): with ``fail_closed`` every call is
refused with ``StoreUnavailable``; otherwise each process decides on its local in-process
store, which always holds this process's own transitions (fail-open: the breaker keeps
protecting the upstream from this process, not from the fleet).
"""

from __future__ import annotations

from typing import Any, Final

from ollama_core import Clock

from .._redis._link import RedisLink, StoreUnavailable, lua, new_lease, redis_key
from .store import CLOSED, MemoryBreakerStore, Verdict

__all__ = ["HALF_OPEN_TTL", "VERDICT_AGE", "RedisBreakerStore"]

#: Longest a process keeps an open verdict without asking Redis again (seconds).
VERDICT_AGE: Final = 1.0
#: How long a verdict outlives its open period when no probe settles it (seconds).
HALF_OPEN_TTL: Final = 300.0
_ADMIT: Final = lua("breaker_admit")
_SET: Final = lua("breaker_set")


class RedisBreakerStore:
    """The breaker store shared through ``link`` (see the module docstring)."""

    def __init__(self, link: RedisLink, *, prefix: str, lease_ttl: float,
                 clock: Clock) -> None:
        self.link = link
        self.prefix = prefix
        self.lease_ttl = lease_ttl
        self.clock = clock
        #: This process's own verdicts (the degraded store, and what ``fail_closed``
        #: does not need).
        self.local = MemoryBreakerStore(clock)
        self._admit = link.script(_ADMIT)
        self._set = link.script(_SET)
        self._keys: dict[str, tuple[str, str]] = {}
        # Open verdicts kept locally: key -> (open until, read at), client clock.
        self._open: dict[str, tuple[float, float]] = {}

    def redis_keys(self, key: str) -> tuple[str, str]:
        """The verdict's and the probe leases' Redis keys of a breaker key
        (``"<upstream> <endpoint>"``; the upstream is the hash tag)."""
        keys = self._keys.get(key)
        if keys is None:
            upstream, _, endpoint = key.rpartition(" ")
            tag = upstream or endpoint
            keys = self._keys[key] = (redis_key(self.prefix, "cb", tag, f"{endpoint}:verdict"),
                                      redis_key(self.prefix, "cb", tag, f"{endpoint}:probes"))
        return keys

    def peek(self, key: str) -> Verdict | None:
        return None  # a closed breaker asks Redis too: another process may have opened it

    async def admit(self, key: str, max_probes: int) -> Verdict:
        now = self.clock.now()
        kept = self._open.get(key)
        if kept is not None:
            until, read_at = kept
            if now < until and now - read_at < VERDICT_AGE:
                return Verdict("open", retry_after=until - now)
            del self._open[key]
        link = self.link
        if not link.up:
            return await self._locally(key, max_probes, None)
        verdict_key, probes_key = self.redis_keys(key)
        lease = new_lease()
        script = self._admit
        try:
            code, left = await link.call(lambda r: script(
                keys=[verdict_key, probes_key],
                args=[max_probes, lease, int(self.lease_ttl * 1e6)], client=r))
        except StoreUnavailable as exc:
            return await self._locally(key, max_probes, exc)
        if code == 0:
            return CLOSED
        if code == 1:
            retry_after = left / 1e6
            now = self.clock.now()
            self._open[key] = (now + retry_after, now)
            return Verdict("open", retry_after=retry_after)
        if code == 2:
            return Verdict("half_open")
        link.hold(lease, probes_key, self.lease_ttl)
        return Verdict("half_open", lease=lease)

    async def _locally(self, key: str, max_probes: int,
                       error: StoreUnavailable | None) -> Verdict:
        if self.link.fail_closed:
            raise error if error is not None else StoreUnavailable(
                f"{self.link.source}: shared store {self.link.display} unavailable")
        return await self.local.admit(key, max_probes)

    def release_probe(self, key: str, lease: Any) -> None:
        if not isinstance(lease, str):
            self.local.release_probe(key, lease)  # a probe admitted while degraded
            return
        where = self.link.drop(lease)
        if where is not None:
            probes = where[0]
            self.link.send(lambda r: r.zrem(probes, lease))

    def trip(self, key: str, open_for: float) -> None:
        now = self.clock.now()
        self._open[key] = (now + open_for, now)
        self.local.trip(key, open_for)
        self._publish(key, int(open_for * 1e6))

    def half_open(self, key: str) -> None:
        self._open.pop(key, None)
        self.local.half_open(key)
        self._publish(key, 0)

    def close(self, key: str) -> None:
        self._open.pop(key, None)
        self.local.close(key)
        self._publish(key, -1)

    def _publish(self, key: str, open_for_us: int) -> None:
        keys = list(self.redis_keys(key))
        script = self._set
        self.link.send(lambda r: script(keys=keys, args=[open_for_us, int(HALF_OPEN_TTL * 1000)],
                                        client=r))

    async def flush(self) -> None:
        """Wait until the transitions sent so far reached Redis (or failed)."""
        await self.link.flush()

    async def aclose(self) -> None:
        await self.link.aclose()

    def __repr__(self) -> str:
        return f"RedisBreakerStore({self.link.display}, prefix={self.prefix!r})"
