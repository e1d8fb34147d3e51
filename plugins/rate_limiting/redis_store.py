"""The rate limiter's store shared by a fleet through Redis (``store="redis://..."``).

Every process that names the same Redis and ``store_prefix`` draws from one token bucket
per limiter key (``"chat"``, or ``"chat@http://host:11434"`` with ``per_upstream``) and one
pool of ``max_concurrent`` slots, so four workers with ``rate=R`` admit R calls per second
between them, not 4R.

How
---
One Lua script (``plugins/_redis/limiter.lua``) per decision: it drops expired slot
leases, checks the cap, then runs GCRA on the bucket (its state is one number, the
theoretical arrival time, in microseconds of Redis ``TIME``; never the processes' clocks,
which drift) and takes a lease, atomically. A call whose token lies in the future
*reserves* it and sleeps until then on the client's clock; a call whose token lies beyond
``max_wait`` is refused at once, nothing taken. A slot is a member of a sorted set scored
with its expiry: this process renews the leases it holds every third of
``store_lease_ttl``, and gives each back (in the background, in order) when its response
ends; a process that dies holding slots stops renewing, and its slots come back within
``store_lease_ttl``. Every key has a TTL; the bucket's and the slots' keys share one hash
tag (the upstream with ``per_upstream``, else the endpoint).

What it weakens against the in-process store (``store``'s module docstring)
---------------------------------------------------------------------------
- FIFO: a token is reserved when it is asked for, so waiters for tokens are served in the
  order their requests reached Redis; a waiter cancelled while sleeping for its reserved
  token loses it (nobody else gets it). Waiters for a *slot* poll (every few milliseconds,
  backing off) and are served in no particular order.
- ``retry_after`` is the store's figure when the call asked, off by one round trip.
- The bucket's clock is Redis ``TIME``; waits are slept on the client's clock.
- ``peek`` knows only this process's leases: ``tokens`` and ``waiting`` are ``None``.

When Redis is down or slow (``plugins/_redis``): with ``fail_closed`` the call is refused
with ``StoreUnavailable``; otherwise it is decided by a local in-process store at the
degraded limits, ``rate / store_processes`` (and the cap divided the same way, rounded
up), so the fleet as a whole stays near its limit while it cannot coordinate. Slots taken
locally are given back locally.
"""

from __future__ import annotations

import math
from typing import Any, Final

from ollama_core import Clock

from .._redis._link import RedisLink, StoreUnavailable, lua, new_lease, redis_key
from ._bucket import Rejected
from .store import Admission, LimiterState, LimitSpec, MemoryLimiterStore

__all__ = ["RedisLimiterStore"]

#: First and longest pause between two tries for a slot (seconds).
_POLL_FIRST: Final = 0.005
_POLL_LONGEST: Final = 0.05
_SCRIPT: Final = lua("limiter")
_UNLIMITED: Final = Admission(None)


class RedisLimiterStore:
    """The limiter store shared through ``link`` (see the module docstring)."""

    def __init__(self, link: RedisLink, *, prefix: str, lease_ttl: float, processes: int,
                 clock: Clock) -> None:
        self.link = link
        self.prefix = prefix
        self.lease_ttl = lease_ttl
        self.processes = processes
        self.clock = clock
        #: The degraded store, on the client's clock, at the limits divided by
        #: ``processes``.
        self.local = MemoryLimiterStore(clock)
        self._script = link.script(_SCRIPT)
        self._keys: dict[str, tuple[str, str]] = {}
        self._degraded: dict[LimitSpec, LimitSpec] = {}
        # Leases this process holds, by limiter key (for ``peek``).
        self._held: dict[str, set[str]] = {}

    def redis_keys(self, key: str) -> tuple[str, str]:
        """The bucket's and the slots' Redis keys of a limiter key."""
        keys = self._keys.get(key)
        if keys is None:
            endpoint, _, upstream = key.partition("@")
            tag = upstream or endpoint
            keys = self._keys[key] = (redis_key(self.prefix, "rl", tag, f"{key}:tat"),
                                      redis_key(self.prefix, "rl", tag, f"{key}:slots"))
        return keys

    def try_acquire(self, key: str, limits: LimitSpec) -> Admission | None:
        return None  # nothing can be decided without Redis

    async def acquire(self, key: str, limits: LimitSpec) -> Admission:
        link = self.link
        if not link.up:
            return await self._locally(key, limits, None)
        clock = self.clock
        start = clock.now()
        interval = max(1, round(1e6 / limits.rate)) if limits.rate is not None else 0
        cap = limits.max_concurrent or 0
        if not interval and not cap:
            return _UNLIMITED  # no bucket, no cap: nothing to share
        bucket, slots = self.redis_keys(key)
        max_wait = limits.max_wait
        args: list[Any] = [interval, interval * (limits.burst - 1),
                           -1 if max_wait is None else int(max_wait * 1e6), cap, "",
                           int(self.lease_ttl * 1e6)]
        script = self._script
        poll = _POLL_FIRST
        polled = False
        while True:
            lease = new_lease() if cap else ""
            args[4] = lease
            try:
                allowed, wait_us = await link.call(
                    lambda r: script(keys=[bucket, slots], args=args, client=r))
            except StoreUnavailable as exc:
                return await self._locally(key, limits, exc)
            if allowed:
                break
            if wait_us >= 0:  # the token lies beyond max_wait
                raise Rejected(wait_us / 1e6, clock.now() - start)
            elapsed = clock.now() - start
            if max_wait is not None and elapsed >= max_wait:
                raise Rejected(None, elapsed)
            pause = poll if max_wait is None else min(poll, max_wait - elapsed)
            await clock.sleep(pause)
            poll = min(poll * 2, _POLL_LONGEST)
            polled = True
        if cap:
            link.hold(lease, slots, self.lease_ttl)
            self._held.setdefault(key, set()).add(lease)
        if wait_us > 0:
            try:
                await clock.sleep(wait_us / 1e6)
            except BaseException:
                self.release(key, lease or None)
                raise
        waited = clock.now() - start if wait_us > 0 or polled else None
        return Admission(lease or None, waited)

    async def _locally(self, key: str, limits: LimitSpec,
                       error: StoreUnavailable | None) -> Admission:
        if self.link.fail_closed:
            raise error if error is not None else StoreUnavailable(
                f"{self.link.source}: shared store {self.link.display} unavailable")
        degraded = self._degraded.get(limits)
        if degraded is None:
            degraded = self._degraded[limits] = self.degrade(limits)
        admission = self.local.try_acquire(key, degraded)
        return admission if admission is not None else await self.local.acquire(key, degraded)

    def degrade(self, limits: LimitSpec) -> LimitSpec:
        """The limits this process keeps alone while the store is down: its share of the
        fleet's (``processes`` of them)."""
        n = self.processes
        return LimitSpec(
            rate=None if limits.rate is None else limits.rate / n,
            burst=max(1, limits.burst // n), max_wait=limits.max_wait,
            max_concurrent=None if limits.max_concurrent is None
            else max(1, math.ceil(limits.max_concurrent / n)))

    def release(self, key: str, lease: Any) -> None:
        if not isinstance(lease, str):
            self.local.release(key, lease)  # a slot taken while degraded
            return
        held = self._held.get(key)
        if held is not None:
            held.discard(lease)
        where = self.link.drop(lease)
        if where is not None:
            slots = where[0]
            self.link.send(lambda r: r.zrem(slots, lease))

    def limits_changed(self, key: str, limits: LimitSpec) -> None:
        self.local.limits_changed(key, self.degrade(limits))  # Redis gets them per call

    def peek(self, key: str) -> LimiterState:
        held = self._held.get(key)
        return LimiterState(tokens=None, waiting=None,
                            in_flight=len(held) if held is not None else None)

    async def flush(self) -> None:
        """Wait until the releases sent so far reached Redis (or failed)."""
        await self.link.flush()

    async def aclose(self) -> None:
        await self.link.aclose()

    def __repr__(self) -> str:
        return f"RedisLimiterStore({self.link.display}, prefix={self.prefix!r})"
