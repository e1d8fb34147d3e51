"""One circuit (upstream x endpoint): a ``pybreaker.CircuitBreaker`` driven under asyncio.

pybreaker holds the state (``current_state``, the consecutive-failure counter, the
half-open success counter, its listeners) and decides the closed->open and half-open->
open/closed transitions: outcomes are replayed into it with its own synchronous
``call()``, which is what it supports. Three things it cannot do under asyncio are done
here instead:

- timing: it measures the open period with the wall clock (``datetime.now``) and only
  looks at it inside ``call()``. The open->half-open decision is made here with
  ``client.clock`` (the reading taken when the listener saw the circuit open), then
  ``breaker.half_open()`` is called; ``call()`` is never used while the circuit is open.
- admission: half-open admits ``half_open_max_calls`` probes at a time (pybreaker lets
  every caller through); the verdict and the probe leases live in the plugin's breaker
  store (``store``), to which every transition is published.
- attribution: every transition starts a new *generation*; an outcome is recorded only if
  it belongs to the current generation, so a slow call admitted while closed cannot close
  (or reopen) a circuit that has since opened and gone half-open.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import pybreaker

from ollama_core import (
    DeadlineExceeded,
    DecodeError,
    IncompleteStreamError,
    ResponseError,
    StreamErrorLine,
    StreamInterruptedError,
    TransportError,
)

if TYPE_CHECKING:
    from ._config import CircuitBreakerConfig as Settings

__all__ = ["Circuit", "Outcome", "STATE_NAMES", "classify"]

#: pybreaker's state names -> the names this plugin reports.
STATE_NAMES: Final[dict[str, str]] = {
    pybreaker.STATE_CLOSED: "closed",
    pybreaker.STATE_OPEN: "open",
    pybreaker.STATE_HALF_OPEN: "half_open",
}


class Outcome(enum.Enum):
    """What an attempt says about the server's health."""

    SUCCESS = "success"
    FAILURE = "failure"
    NEUTRAL = "neutral"


def classify(error: BaseException | None) -> Outcome:
    """The verdict on one attempt (``None`` = it succeeded).

    Failures (the server is unwell): transport errors (connect, read, connect/first-byte/
    idle timeouts; a peer breaking HTTP is a ``ProtocolError``, one of them), 5xx answers,
    answers that are not the JSON their endpoint answers (``DecodeError``, a malformed
    stream line included), and streams that broke, were cut short or carried an
    ``{"error": ...}`` line (Ollama's runner failing mid-generation).
    Successes: 2xx, and 4xx answers (the server is healthy; the request was wrong).
    Neutral (not counted either way): cancellation (``CancelledError``,
    ``StreamCancelledError``), the call's own ``DeadlineExceeded`` (the caller's budget, not
    the server's health), and anything that is not about the server (a client-side limit,
    an over-long line, a bug).
    """
    if error is None:
        return Outcome.SUCCESS
    if isinstance(error, StreamErrorLine):
        return Outcome.FAILURE
    if isinstance(error, ResponseError):
        return Outcome.FAILURE if error.status_code >= 500 else Outcome.SUCCESS
    if isinstance(error, TransportError):
        return Outcome.NEUTRAL if isinstance(error, DeadlineExceeded) else Outcome.FAILURE
    if isinstance(error, (StreamInterruptedError, IncompleteStreamError, DecodeError)):
        return Outcome.FAILURE
    return Outcome.NEUTRAL


class _Recorded(Exception):
    """Carries a failure into ``pybreaker.CircuitBreaker.call`` (a fresh object, so the
    caller's exception is not re-raised, and its traceback not extended, by pybreaker)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error


def _succeed() -> None:
    return None


class _Listener(pybreaker.CircuitBreakerListener):
    """Forwards pybreaker's state changes to the circuit."""

    def __init__(self, circuit: Circuit) -> None:
        self._circuit = circuit

    def state_change(self, cb: pybreaker.CircuitBreaker,
                     old_state: pybreaker.CircuitBreakerState | None,
                     new_state: pybreaker.CircuitBreakerState) -> None:
        self._circuit.on_state_change(old_state.name if old_state is not None else None,
                                      new_state.name)


class Circuit:
    """The breaker of one ``(upstream, endpoint)`` key and its asyncio-side bookkeeping."""

    __slots__ = ("key", "upstream", "endpoint", "breaker", "opened_at", "open_for",
                 "generation", "trips", "following", "closed", "_settings", "_now",
                 "_notify")

    def __init__(self, upstream: str, endpoint: str, settings: Settings,
                 now: Callable[[], float],
                 notify: Callable[[Circuit, str | None, str], None]) -> None:
        self.key = f"{upstream} {endpoint}"
        self.upstream = upstream
        self.endpoint = endpoint
        self._settings = settings
        self._now = now
        self._notify = notify
        self.opened_at = 0.0
        self.open_for = settings.reset_timeout
        self.generation = 0
        self.trips = 0
        #: True while the circuit follows its store's verdict (a transition the store
        #: already knows about, which is not published back).
        self.following = False
        #: Whether pybreaker's state is closed (kept here: read on every call).
        self.closed = True
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=settings.fail_max, reset_timeout=settings.reset_timeout,
            success_threshold=settings.success_threshold, name=self.key,
            throw_new_error_on_trip=False, listeners=[_Listener(self)])

    # -- settings ------------------------------------------------------------------------

    def apply(self, settings: Settings) -> None:
        """Take new settings (live reconfiguration); the current state is kept."""
        self._settings = settings
        breaker = self.breaker
        breaker.fail_max = settings.fail_max
        breaker.success_threshold = settings.success_threshold
        if self.trips == 0:
            self.open_for = settings.reset_timeout
            breaker.reset_timeout = settings.reset_timeout

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return STATE_NAMES[self.breaker.current_state]

    @property
    def retry_at(self) -> float:
        """The clock reading at which an open circuit admits a probe."""
        return self.opened_at + self.open_for

    def on_state_change(self, old: str | None, new: str) -> None:
        """pybreaker changed state (its listener calls this, synchronously)."""
        self.generation += 1
        self.closed = new == pybreaker.STATE_CLOSED
        if new == pybreaker.STATE_OPEN:
            self.opened_at = self._now()
            self.trips += 1
            s = self._settings
            # Each consecutive trip without closing in between waits longer (capped), so a
            # server that keeps failing its probes is probed less and less often.
            self.open_for = min(s.longest_open,
                                s.reset_timeout * s.reset_timeout_multiplier ** (self.trips - 1))
            self.breaker.reset_timeout = self.open_for
        elif new == pybreaker.STATE_CLOSED:
            self.trips = 0
            self.open_for = self._settings.reset_timeout
            self.breaker.reset_timeout = self.open_for
        self._notify(self, old, new)

    # -- outcomes ------------------------------------------------------------------------

    def record(self, generation: int, error: BaseException | None) -> None:
        """Feed one attempt's outcome to pybreaker, if it still concerns the current state
        (a probe's lease is the store's business: the plugin gives it back first)."""
        if generation != self.generation:
            return  # the state changed meanwhile
        outcome = classify(error)
        if outcome is Outcome.NEUTRAL:
            return
        breaker = self.breaker
        if outcome is Outcome.SUCCESS:
            # Nothing to reset in the common case: skip pybreaker's locked call.
            if breaker.fail_counter == 0 and breaker.current_state == pybreaker.STATE_CLOSED:
                return
            breaker.call(_succeed)
            return
        assert error is not None

        def fail() -> None:
            raise _Recorded(error)

        try:
            breaker.call(fail)
        except _Recorded:
            pass

    def __repr__(self) -> str:
        return f"Circuit({self.key!r}, {self.state}, failures={self.breaker.fail_counter})"
