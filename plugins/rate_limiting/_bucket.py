"""The two primitives of the rate limiter: a FIFO token bucket and a FIFO slot pool.

Both are exact under an injected clock and never poll.

Token bucket, kept in GCRA form
-------------------------------
The state is the *theoretical arrival time* ``tat``: the clock reading at which the bucket
would be full again if nothing more were taken. With ``rate`` tokens per second and a
capacity of ``burst`` tokens, the bucket holds ``burst - (tat - now) * rate`` tokens, so a
call may go at ``go = tat - (burst - 1) / rate`` and taking a token moves ``tat`` on by
``1 / rate``.

``tat`` is stored as ``anchor + k / rate`` with an integer ``k`` (instead of adding
``1 / rate`` again and again) so that every slot time is one correctly rounded division:
at 10 per second the 45th slot is exactly ``4.5``, not ``4.499999999999999``. ``anchor``
only moves when the bucket has refilled completely (``tat < now``).

Waiters queue in FIFO order and only the head of the queue sleeps: it computes its slot
from the state, sleeps exactly until then on the clock and takes the token *at its slot
time*, without reading the clock again (a timer may fire a hair early on a real clock,
and under a fake clock ``now + (go - now)`` is ``go`` itself). Then it promotes the next
waiter, which computes its own slot. Nobody else can take a token while the queue is not
empty (new arrivals join its tail), so the head's computation stays true while it sleeps.
A head that is cancelled has taken nothing: it leaves and promotes the next waiter, which
computes the very same slot, so no token is wasted and nobody jumps the queue. A waiter
further back just leaves the queue.

Because slots are known in advance, a call whose slot lies beyond its ``max_wait`` is
rejected at once with the exact ``retry_after`` instead of waiting for a refusal that is
already certain (as resilience4j's ``AtomicRateLimiter`` does).

Slot pool
---------
An in-flight cap: ``limit`` slots, handed over directly from the releaser to the oldest
waiter (so a newcomer cannot steal a slot between a release and the waiter's wake-up).
A waiter that times out or is cancelled leaves the queue; one that was handed a slot
while being cancelled passes it on.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ollama_core import Clock

__all__ = ["Rejected", "SlotPool", "TokenBucket"]

# Slack for comparing clock readings computed along different float paths.
_EPS = 1e-9


class Rejected(Exception):
    """A wait would exceed (or exceeded) ``max_wait``. ``retry_after`` is the wait that
    would have been needed when it is known, else ``None``; ``waited`` is how long the
    call waited before it was refused (seconds)."""

    def __init__(self, retry_after: float | None, waited: float = 0.0) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after
        self.waited = waited


class TokenBucket:
    """A token bucket with FIFO waiters (see the module docstring)."""

    __slots__ = ("rate", "burst", "_anchor", "_k", "_waiters")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._anchor = now  # tat = anchor + k / rate; k = 0 means "full at anchor"
        self._k = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    # -- state -------------------------------------------------------------------------

    def tokens(self, now: float) -> float:
        """Tokens in the bucket at ``now`` (between 0 and ``burst``)."""
        behind = (self._anchor + self._k / self.rate - now) * self.rate
        return float(self.burst) if behind <= 0 else max(0.0, self.burst - behind)

    @property
    def waiting(self) -> int:
        """Calls queued for a token."""
        return len(self._waiters)

    def _go(self, ahead: int = 0) -> float:
        """When the call ``ahead`` places behind the next one may go."""
        return self._anchor + (self._k + ahead - self.burst + 1) / self.rate

    def _take(self, at: float) -> None:
        if self._anchor + self._k / self.rate < at:
            # Full again: restart the count here (exact, and keeps k small when idle).
            self._anchor = at
            self._k = 1
        else:
            self._k += 1

    def reshape(self, rate: float, burst: int, now: float) -> None:
        """Change rate and capacity, keeping the tokens currently in the bucket."""
        level = min(self.tokens(now), float(burst))
        self.rate = rate
        self.burst = burst
        self._anchor = now + (burst - level) / rate
        self._k = 0

    # -- taking a token ----------------------------------------------------------------

    def try_take(self, now: float) -> bool:
        """Take a token now if one is free and nobody is queued (the fast path)."""
        if self._waiters:
            return False
        if self._anchor + (self._k - self.burst + 1) / self.rate <= now:
            self._take(now)
            return True
        return False

    async def take(self, clock: Clock, deadline: float | None) -> None:
        """Wait in line for a token. ``deadline`` is the clock reading after which the
        token would come too late; raises ``Rejected`` at once if it will."""
        now = clock.now()
        if deadline is not None:
            go = self._go(len(self._waiters))
            if go > deadline + _EPS:
                raise Rejected(go - now)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters
        waiters.append(fut)
        if len(waiters) == 1:
            fut.set_result(None)
        try:
            if not fut.done():
                await fut  # until we are at the head of the line
            now = clock.now()
            go = self._go()
            if deadline is not None and go > deadline + _EPS:
                # Only after a reshape() to a slower rate: the promise no longer holds.
                raise Rejected(go - now)
            if go > now:
                await clock.sleep(go - now)
                self._take(go)
            else:
                self._take(now)
        finally:
            if waiters and waiters[0] is fut:
                waiters.popleft()
                if waiters:
                    head = waiters[0]
                    if not head.done():
                        head.set_result(None)
            else:
                # Left from further back (cancelled): nobody's slot changes.
                try:
                    waiters.remove(fut)
                except ValueError:
                    pass
                fut.cancel()


class SlotPool:
    """At most ``limit`` calls in flight; FIFO hand-over to waiters."""

    __slots__ = ("limit", "in_flight", "_waiters", "done")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

        def done(error: BaseException | None) -> None:
            self.release()

        #: ``response.on_done`` callback releasing one slot (built once, not per call).
        self.done = done

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def try_acquire(self) -> bool:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return True
        return False

    def release(self) -> None:
        waiters = self._waiters
        if self.in_flight <= self.limit:  # above it only after resize() to a lower cap
            while waiters:
                fut = waiters.popleft()
                if not fut.done():
                    fut.set_result(None)  # the slot passes on; in_flight is unchanged
                    return
        self.in_flight -= 1

    def resize(self, limit: int) -> None:
        """Change the cap; waiters that now fit are let in (in order)."""
        self.limit = limit
        waiters = self._waiters
        while waiters and self.in_flight < limit:
            fut = waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    async def acquire(self, clock: Clock, timeout: float | None) -> bool:
        """Wait for a slot; ``False`` when ``timeout`` seconds of the clock passed first."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if timeout is None:
            try:
                await fut
            except BaseException:
                self._abandon(fut)
                raise
            return True
        timer = asyncio.ensure_future(clock.sleep(timeout))
        try:
            await asyncio.wait((fut, timer), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._abandon(fut)
            timer.cancel()
            # Let the timer finish so no pending task outlives this call.
            await asyncio.wait((timer,))
            raise
        got = fut.done() and not fut.cancelled()
        if not got:
            self._abandon(fut)
        if not timer.done():
            timer.cancel()
            try:
                await asyncio.wait((timer,))
            except BaseException:
                if got:
                    self.release()
                raise
        return got

    def _abandon(self, fut: asyncio.Future[None]) -> None:
        """A waiter leaves: pass on a slot it was handed, else drop it from the line."""
        if fut.done() and not fut.cancelled():
            self.release()
            return
        fut.cancel()
        try:
            self._waiters.remove(fut)
        except ValueError:
            pass
