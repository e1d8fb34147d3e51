"""Where the circuit breaker keeps what may be shared: the ``BreakerStore`` protocol and
the in-process store every client uses unless told otherwise.

What stays in the process, always: pybreaker's ``CircuitBreaker`` objects (its storage is
synchronous), so the failure counting, the success threshold of half-open and the
transitions themselves are decided where the calls run (``_circuit``). What a store holds
is the *verdict* of each breaker key (``"<upstream> <endpoint>"``): "open for another N
seconds", then "half-open", and the *probe leases* of half-open (at most
``half_open_max_calls`` probes at a time, whoever asks).

The protocol
------------
``store.peek(key) -> Verdict | None``
    :data:`CLOSED` when the store knows, without a round trip, that the key has no
    verdict (the in-process store always knows; a shared store may keep "no verdict"
    locally for a short while); ``None`` otherwise: the plugin then calls ``admit``. So a
    call through a closed breaker costs no coroutine.
``await store.admit(key, max_probes) -> Verdict``
    One decision per call. No verdict: :data:`CLOSED` (the call goes). Open with time
    left: ``Verdict("open", retry_after=...)``. Open period over (half-open): a probe
    lease if fewer than ``max_probes`` are out (``Verdict("half_open", lease=...)``, the
    call is a probe), else ``Verdict("half_open")`` without a lease (the call is refused
    with ``retry_after`` 0: probes are deciding).
``store.trip(key, open_for)``, ``store.half_open(key)``, ``store.close(key)``
    Publish this process's transitions: open for ``open_for`` seconds (voiding every
    lease of the key), end the open period now (a health check vouched for the server;
    leases voided too), remove the verdict. Synchronous, because transitions happen where
    outcomes are learnt, in ``response.on_done`` callbacks (the failure must count before
    the consumer sees the error): a shared store applies them to its local view at once
    and sends them in the background, in order.
``store.release_probe(key, lease)``
    A probe ended (whatever its outcome). A lease the key no longer knows (voided by a
    transition) is ignored. Synchronous for the same reason.
``await store.aclose()``
    Flush what is pending and let go of resources.

Durations only cross the protocol (``open_for``, ``retry_after``), never clock readings,
so a store may keep its own time. A lease is opaque to the plugin (the in-process store
hands out the verdict object itself; a shared store would hand out an id with a TTL, so a
prober that dies does not hold the half-open state for ever).

What the in-process store promises, and what a shared store may weaken
----------------------------------------------------------------------
:class:`MemoryBreakerStore` runs on the client's clock, so ``retry_after`` and the
plugin's ``retry_at`` are exact (a ``FakeClock`` makes tests exact), and exactly
``half_open_max_calls`` probes run at once. A shared store keeps the probe limit exact
across every process (through leases) but may weaken:

- the clock: it uses its own time (e.g. Redis ``TIME``); ``retry_after`` is then
  approximate (one round trip, and a locally cached verdict may be up to its cache age
  old), and ``retry_at`` is the client's clock plus that duration;
- freshness: a process may keep a verdict it read for a short while (about a second)
  before asking again, so a breaker opened elsewhere is seen within that time, not at
  once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol, runtime_checkable

from ollama_core import Clock, MonotonicClock

__all__ = ["CLOSED", "BreakerStore", "MemoryBreakerStore", "Verdict"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a store says about a key: ``state`` ``"closed"`` (no verdict), ``"open"``
    (``retry_after`` seconds left) or ``"half_open"`` (``lease`` set when this call is a
    probe, ``None`` when every probe place is taken)."""

    state: Literal["closed", "open", "half_open"]
    retry_after: float = 0.0
    lease: Any = None


#: The answer for a key without a verdict (shared: nothing to allocate).
CLOSED: Final = Verdict("closed")


@runtime_checkable
class BreakerStore(Protocol):
    """The breaker's shareable state; see the module docstring for the contract."""

    def peek(self, key: str) -> Verdict | None: ...

    async def admit(self, key: str, max_probes: int) -> Verdict: ...

    def release_probe(self, key: str, lease: Any) -> None: ...

    def trip(self, key: str, open_for: float) -> None: ...

    def half_open(self, key: str) -> None: ...

    def close(self, key: str) -> None: ...

    async def aclose(self) -> None: ...


class _Open:
    """The verdict on one key: open until ``until``, then half-open with ``probes`` out.
    A new object per transition, so leases (this object) of an earlier one are void."""

    __slots__ = ("until", "probes")

    def __init__(self, until: float) -> None:
        self.until = until
        self.probes = 0


class MemoryBreakerStore:
    """The in-process store on ``clock`` (the client's; the plugin builds this store with
    it). Every promise of the module docstring holds exactly."""

    __slots__ = ("clock", "_verdicts")

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        self._verdicts: dict[str, _Open] = {}

    def peek(self, key: str) -> Verdict | None:
        return None if key in self._verdicts else CLOSED

    async def admit(self, key: str, max_probes: int) -> Verdict:
        verdict = self._verdicts.get(key)
        if verdict is None:
            return CLOSED
        now = self.clock.now()
        if now < verdict.until:
            return Verdict("open", retry_after=verdict.until - now)
        if verdict.probes >= max_probes:
            return Verdict("half_open")
        verdict.probes += 1
        return Verdict("half_open", lease=verdict)

    def release_probe(self, key: str, lease: Any) -> None:
        verdict = self._verdicts.get(key)
        if verdict is not None and lease is verdict and verdict.probes > 0:
            verdict.probes -= 1

    def trip(self, key: str, open_for: float) -> None:
        self._verdicts[key] = _Open(self.clock.now() + open_for)

    def half_open(self, key: str) -> None:
        self._verdicts[key] = _Open(self.clock.now())

    def close(self, key: str) -> None:
        self._verdicts.pop(key, None)

    async def aclose(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"MemoryBreakerStore(verdicts={len(self._verdicts)})"
