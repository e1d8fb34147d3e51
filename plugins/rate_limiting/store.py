"""Where the rate limiter keeps its state: the ``LimiterStore`` protocol and the in-process
store every client uses unless told otherwise.

The plugin decides nothing itself: for every call it asks its store once for admission
(a concurrency slot, then a token) and gives the slot back when the response ends. The
store holds the token buckets and the in-flight counts, keyed by the limiter key
(``"chat"``, or ``"chat@http://host:11434"`` with ``per_upstream``); the limits travel with
every call (:class:`LimitSpec`), so a store needs no configuration of its own.

The protocol
------------
``store.try_acquire(key, limits) -> Admission | None``
    The decision without a round trip or a wait, when the store can make it at once (a
    slot and a token free right now, known locally); ``None`` otherwise, and nothing is
    taken: the plugin then calls ``acquire``. A shared store may always answer ``None``
    (it has nothing it can decide alone). The in-process store answers here whenever a
    call goes at once, so a call that does not wait costs no coroutine.
``await store.acquire(key, limits) -> Admission``
    One decision. Takes a slot when ``limits.max_concurrent`` is set, then a token when
    ``limits.rate`` is set, waiting at most ``limits.max_wait`` seconds (``None``: as long
    as needed; the caller's deadline and cancellation still apply). Returns the slot's
    lease (``None`` without a cap) and how long the call waited (``None`` when it went at
    once). Raises :class:`Rejected` (``retry_after``: seconds until the token would have
    come, ``None`` when it was a slot that did not free up; ``waited``: how long it waited)
    when the wait would exceed ``max_wait``. Cancelled while waiting, it holds nothing.
``store.release(key, lease)``
    Give a slot back. Synchronous because it runs from ``response.on_done`` (a stream's
    end, an error, an abandoned stream's finalizer on the loop): a shared store applies it
    locally at once and sends it in the background, in order.
``store.limits_changed(key, limits)``
    The limits of a key changed (``reconfigure``); also synchronous. The in-process store
    reshapes the bucket (keeping its tokens) and lets slot waiters in; a shared store may
    ignore it, since limits come with every ``acquire``.
``store.peek(key) -> LimiterState``
    What the store knows of a key without a round trip (for ``stats()``); a shared store
    may answer ``None`` for any field.
``await store.aclose()``
    Flush what is pending and let go of resources; the plugin awaits it when its client
    closes.

A lease is opaque to the plugin: the in-process store hands out one object per key, a
shared store would hand out an id (a string) carrying its own TTL, so a process that dies
holding slots gives them back when the TTL runs out.

What the in-process store promises, and what a shared store may weaken
----------------------------------------------------------------------
:class:`MemoryLimiterStore` keeps today's guarantees (``_bucket`` explains how):

- FIFO: waiters for a token, and for a slot, are served strictly in arrival order; a
  newcomer never takes a token or slot a queued call is due. A waiter that is cancelled
  or rejected gives its place up without taking or wasting a token.
- Exact ``retry_after``: the rejection names the very instant the token would have come.
- One clock: the client's (``client.clock``), so a ``FakeClock`` makes tests exact.

A shared store (several processes, one bucket) may weaken exactly these three, and must
say so in its own docstring:

- FIFO order of waiters holds only within what the store can see; across processes a
  token is reserved when it is asked for (GCRA), and a cancelled waiter's reservation may
  be lost rather than handed on; slot waiters may be served in any order.
- ``retry_after`` may be approximate (the store's time plus one round trip).
- The clock is the store's own (e.g. Redis ``TIME``), never the processes' clocks, which
  drift; the durations it answers are applied with the client's clock.

Everything else holds for every store: a call admitted has its slot and its token; a slot
acquired is released exactly once; nothing is sent for a rejected call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ollama_core import Clock, MonotonicClock

from ._bucket import Rejected, SlotPool, TokenBucket

__all__ = ["Admission", "LimitSpec", "LimiterState", "LimiterStore", "MemoryLimiterStore",
           "Rejected"]


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """The resolved limits of one endpoint."""

    rate: float | None
    burst: int
    max_wait: float | None
    max_concurrent: int | None


@dataclass(frozen=True, slots=True)
class Admission:
    """A call let through: the slot's ``lease`` (``None`` without a cap; give it back with
    ``store.release``), ``waited``, the seconds it waited (``None``: it went at once), and
    optionally ``done``, a ready-made ``response.on_done`` callback releasing the lease
    (a store whose leases are interchangeable builds it once; otherwise the plugin calls
    ``store.release(key, lease)`` itself)."""

    lease: Any
    waited: float | None = None
    done: Callable[[BaseException | None], None] | None = None


@dataclass(frozen=True, slots=True)
class LimiterState:
    """What a store knows of one key: ``tokens`` in the bucket (``None`` without a rate,
    or unknown), calls ``waiting`` (for a token or a slot), calls ``in_flight`` (``None``
    without a cap, or unknown)."""

    tokens: float | None
    waiting: int | None
    in_flight: int | None


@runtime_checkable
class LimiterStore(Protocol):
    """The rate limiter's state; see the module docstring for the contract."""

    def try_acquire(self, key: str, limits: LimitSpec) -> Admission | None: ...

    async def acquire(self, key: str, limits: LimitSpec) -> Admission: ...

    def release(self, key: str, lease: Any) -> None: ...

    def limits_changed(self, key: str, limits: LimitSpec) -> None: ...

    def peek(self, key: str) -> LimiterState: ...

    async def aclose(self) -> None: ...


_UNCAPPED = Admission(None)


def _admission(slots: SlotPool | None) -> Admission:
    return _UNCAPPED if slots is None else Admission(slots, None, slots.done)


class _Key:
    """The bucket and slot pool of one key."""

    __slots__ = ("spec", "bucket", "slots", "admitted")

    def __init__(self, spec: LimitSpec, now: float) -> None:
        self.spec = spec
        self.bucket = TokenBucket(spec.rate, spec.burst, now) if spec.rate is not None else None
        self.slots = SlotPool(spec.max_concurrent) if spec.max_concurrent is not None else None
        # The admission of a call that went at once (slots are interchangeable: the pool
        # itself is the lease), built once.
        self.admitted = _admission(self.slots)

    def apply(self, spec: LimitSpec, now: float) -> None:
        """Adopt new limits, keeping tokens, in-flight count and waiters where possible."""
        self.spec = spec
        if spec.rate is None:
            self.bucket = None
        elif self.bucket is None:
            self.bucket = TokenBucket(spec.rate, spec.burst, now)
        else:
            self.bucket.reshape(spec.rate, spec.burst, now)
        if spec.max_concurrent is None:
            self.slots = None
        elif self.slots is None:
            self.slots = SlotPool(spec.max_concurrent)
        else:
            self.slots.resize(spec.max_concurrent)
        self.admitted = _admission(self.slots)


class MemoryLimiterStore:
    """The in-process store: a FIFO token bucket and a FIFO slot pool per key, on
    ``clock`` (the client's; the plugin builds this store with it). Every promise of the
    module docstring holds exactly."""

    __slots__ = ("clock", "_keys")

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._keys: dict[str, _Key] = {}

    def _state(self, key: str, limits: LimitSpec) -> _Key:
        state = self._keys.get(key)
        if state is None:
            state = self._keys[key] = _Key(limits, self.clock.now())
        elif state.spec is not limits and state.spec != limits:
            state.apply(limits, self.clock.now())
        return state

    def try_acquire(self, key: str, limits: LimitSpec) -> Admission | None:
        state = self._keys.get(key)
        if state is None or state.spec is not limits:
            state = self._state(key, limits)
        slots = state.slots
        if slots is not None and not slots.try_acquire():
            return None
        bucket = state.bucket
        if bucket is None or bucket.try_take(self.clock.now()):
            return state.admitted
        if slots is not None:
            slots.release()  # nobody waits for it (try_acquire said so): just given back
        return None

    async def acquire(self, key: str, limits: LimitSpec) -> Admission:
        state = self._keys.get(key)
        if state is None or state.spec is not limits:
            state = self._state(key, limits)
        slots = state.slots
        bucket = state.bucket
        have_slot = slots is None or slots.try_acquire()
        if have_slot and (bucket is None or bucket.try_take(self.clock.now())):
            return state.admitted
        return await self._wait(state, have_slot and slots is not None)

    async def _wait(self, state: _Key, have_slot: bool) -> Admission:
        """The slow path: wait for a slot and/or a token, or raise ``Rejected``."""
        clock = self.clock
        start = clock.now()
        max_wait = state.spec.max_wait
        deadline = None if max_wait is None else start + max_wait
        slots, bucket = state.slots, state.bucket
        try:
            if slots is not None and not have_slot:
                if max_wait == 0 or not await slots.acquire(clock, max_wait):
                    raise Rejected(None)
                have_slot = True
                if bucket is not None and bucket.try_take(clock.now()):
                    bucket = None
            if bucket is not None:
                await bucket.take(clock, deadline)
        except Rejected as exc:
            if have_slot and slots is not None:
                slots.release()
            exc.waited = clock.now() - start
            raise
        except BaseException:
            if have_slot and slots is not None:
                slots.release()
            raise
        return Admission(slots, clock.now() - start,
                         slots.done if slots is not None else None)

    def release(self, key: str, lease: Any) -> None:
        if isinstance(lease, SlotPool):  # the pool it came from, even after a reshape
            lease.release()

    def limits_changed(self, key: str, limits: LimitSpec) -> None:
        state = self._keys.get(key)
        if state is not None:
            state.apply(limits, self.clock.now())

    def peek(self, key: str) -> LimiterState:
        state = self._keys.get(key)
        if state is None:
            return LimiterState(None, 0, None)
        bucket, slots = state.bucket, state.slots
        return LimiterState(
            tokens=bucket.tokens(self.clock.now()) if bucket is not None else None,
            waiting=(bucket.waiting if bucket is not None else 0)
            + (slots.waiting if slots is not None else 0),
            in_flight=slots.in_flight if slots is not None else None)

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryLimiterStore(keys={len(self._keys)})"
