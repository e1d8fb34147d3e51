"""Clocks: the one source of time for every time-dependent policy (backoff, breaker,
token bucket, TTL). Production code uses :class:`MonotonicClock`; tests inject
:class:`FakeClock` and advance it by hand, so they are exact and never sleep."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "MonotonicClock"]


@runtime_checkable
class Clock(Protocol):
    """What a policy needs from time: a monotonic reading and an awaitable sleep."""

    def now(self) -> float:
        """Seconds on a monotonic scale (only differences are meaningful)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` and ``asyncio.sleep``."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def __repr__(self) -> str:
        return "MonotonicClock()"


class FakeClock:
    """A clock that only moves when told to.

    ``sleep()`` parks the caller until :meth:`advance` moves time past its deadline.
    With ``autoadvance=True`` a sleeping caller instead moves time forward itself, at once,
    which makes "wait 2 s then retry" tests instantaneous while keeping exact readings.
    ``sleeps`` records every requested sleep, in order.
    """

    def __init__(self, start: float = 0.0, *, autoadvance: bool = False) -> None:
        self._now = float(start)
        self.autoadvance = autoadvance
        self.sleeps: list[float] = []
        self._waiters: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        self.sleeps.append(seconds)
        if self.autoadvance:
            self._set(self._now + seconds)
            await asyncio.sleep(0)
            return
        if seconds == 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (self._now + seconds, next(self._seq), fut))
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    def advance(self, seconds: float) -> None:
        """Move time forward and wake every sleeper whose deadline has passed."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._set(self._now + seconds)

    def _set(self, value: float) -> None:
        self._now = value
        while self._waiters and self._waiters[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)

    @property
    def pending(self) -> int:
        """How many sleepers are still waiting."""
        return sum(1 for _, _, f in self._waiters if not f.done())

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"
