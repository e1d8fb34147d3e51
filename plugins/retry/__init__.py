"""Retry plugin: retries transient failures with capped, jittered exponential backoff.

Enable it with ``OllamaClient(plugins=["retry"], plugin_config={"retry": {...}})``. It
contributes one middleware at ``ORDER_RETRY`` (200): every retry is a fresh pass through
failover, circuit breaker and rate limiter below it, so each attempt may go to another
server, is counted by that server's breaker and is paced by the limiter.

Configuration (defaults in brackets):

- ``max_attempts`` [3]: attempts per call, the first one included (1 disables retrying).
- ``base_delay`` [0.5 s], ``multiplier`` [2.0], ``max_delay`` [30 s]: the cap of retry
  ``n`` (0-based) is ``min(max_delay, base_delay * multiplier ** n)``.
- ``jitter`` ["full"]: ``"full"`` draws uniformly in ``[0, cap]``, ``"equal"`` in
  ``[cap/2, cap]``, ``"none"`` waits exactly ``cap``.
- ``seed`` [None]: seeds the plugin's ``random.Random`` (``plugin.rng``, replaceable) so
  jitter is reproducible.
- ``max_elapsed`` [None]: overall retry deadline in seconds of ``client.clock``, counted
  from the start of the call and including backoff. No retry starts (and no backoff is
  slept) that would end past it; the last error is raised instead. It does not cut an
  attempt in flight; the call's ``Timeouts.deadline`` does that, and a backoff that would
  outlast that deadline is not slept either.
- ``retry_on_status`` [[429, 502, 503, 504]]: HTTP statuses worth retrying. Other 4xx
  are the caller's mistake and are never retried.
- ``max_retry_after`` [60 s]: the longest ``Retry-After`` obeyed; a longer one is capped.
- ``budget_ratio`` [0.2], ``budget_min_retries`` [3], ``budget_window`` [10 s]: the retry
  budget (see ``_budget``): retries in the last ``budget_window`` seconds may be at most
  ``max(budget_min_retries, budget_ratio * calls)``; ``budget_ratio: null`` disables it.

What is retried:

- connection failures (``ConnectError``, ``ConnectTimeout``), broken connections
  (``ReadError``, including ``ProtocolError``: a peer that broke HTTP), first-byte and idle
  timeouts, and streams that broke or ended before
  their first line (``StreamInterruptedError``/``IncompleteStreamError`` raised inside the
  chain);
- ``ResponseError`` whose status is in ``retry_on_status``, waiting the server's
  ``Retry-After`` (seconds or HTTP date, capped) instead of the backoff when it sends one;
- ``AllEndpointsFailedError`` (failover ran out of servers) when any of its failures is.

Never retried: other 4xx, an ``{"error": ...}`` first line, malformed streams and answers
(``DecodeError``), a body past ``max_body_size`` (``ResponseTooLargeError``), the call's
own ``DeadlineExceeded``, a closed client (closing it ends a backoff at once with
``ClientClosedError``), ``CircuitOpenError`` (the breaker is failing fast on purpose),
the client-side limiter's ``RateLimitExceededError``, and cancellation
(``asyncio.CancelledError`` is not even caught). A stream is never retried once its first
chunk reached the caller: a committed stream leaves the chain, so its later errors are
raised to the consumer and never pass through this middleware.

Non-idempotent requests (``request.idempotent`` is False: copy, delete, create, push) are
retried only when the request certainly did not reach the server, or the server
certainly did not act on it: a ``ConnectError``/``ConnectTimeout``, or a 429 or 503 answer
(Ollama refuses queue overflow with 503 before doing anything). A 502/504, a broken
connection or a timeout after sending may mean the server did the work, so repeating it
could create, copy or delete twice. (The core marks ``push_blob`` idempotent: a blob is
addressed by its digest, so uploading it twice is harmless.)

Events (``client.emit``; ``source`` is ``"retry"``):

- ``retry`` before each backoff: ``attempt`` (the attempt that failed, 1-based),
  ``delay`` (seconds), ``cause`` (``"<ExcType>: <message>"``), ``endpoint``,
  ``retry_after`` (the server's hint in seconds, or None);
- ``retry_exhausted`` when giving up because of ``max_attempts`` or a deadline:
  ``attempt``, ``cause``, ``endpoint``, ``reason`` (``"max_attempts"`` / ``"deadline"``);
- ``retry_budget_exhausted`` when the budget refused a retry: ``attempt``, ``cause``,
  ``endpoint``, ``requests``, ``retries`` (in the budget window).

Each attempt is sent as ``request.copy(attempt=n)`` (1-based), so middlewares below see a
fresh request per attempt and can tell a retry (``attempt > 1``) from a first try.
``plugin.stats`` counts calls, attempts, retries and the three ways of giving up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from ollama_core import (
    ORDER_RETRY,
    AllEndpointsFailedError,
    ClientClosedError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    Event,
    IncompleteStreamError,
    InvalidConfigError,
    ReadError,
    ResponseError,
    StreamErrorLine,
    StreamInterruptedError,
    TimeoutError,
    hookimpl,
    parse_retry_after,
)

from ._backoff import JITTER_MODES, backoff_caps, backoff_delay
from ._budget import RetryBudget

if TYPE_CHECKING:
    from ollama_core import Clock, Handler, Middleware, OllamaClient, Request, Response

__all__ = ["RetryPlugin", "RetryStats", "backoff_caps", "backoff_delay", "is_retryable",
           "retry_after_hint"]

_DEFAULTS: Final[dict[str, Any]] = {
    "max_attempts": 3,
    "base_delay": 0.5,
    "multiplier": 2.0,
    "max_delay": 30.0,
    "jitter": "full",
    "max_elapsed": None,
    "retry_on_status": [429, 502, 503, 504],
    "max_retry_after": 60.0,
    "budget_ratio": 0.2,
    "budget_min_retries": 3,
    "budget_window": 10.0,
    "seed": None,
}

# Statuses that say "not done, come back later" before any work happened, which makes them
# safe to repeat even for non-idempotent requests.
_SAFE_STATUSES: Final = frozenset({429, 503})


@dataclass(slots=True)
class RetryStats:
    """Counters of one plugin instance (one client)."""

    calls: int = 0
    attempts: int = 0
    retries: int = 0
    exhausted: int = 0
    deadline_exhausted: int = 0
    budget_exhausted: int = 0

    @property
    def giving_ups(self) -> int:
        """Calls that failed although their error was retryable."""
        return self.exhausted + self.deadline_exhausted + self.budget_exhausted


@dataclass(frozen=True, slots=True)
class _Settings:
    max_attempts: int
    base_delay: float
    multiplier: float
    max_delay: float
    jitter: str
    max_elapsed: float | None
    retry_on_status: frozenset[int]
    max_retry_after: float
    budget_ratio: float | None
    budget_min_retries: int
    budget_window: float
    seed: int | None
    caps: tuple[float, ...]


def _number(config: Mapping[str, Any], key: str, *, minimum: float, strict: bool = False,
            optional: bool = False) -> float | None:
    value = config[key]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InvalidConfigError(f"retry: {key} must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise InvalidConfigError(f"retry: {key} must be {relation} {minimum:g}, got {value!r}")
    return float(value)


def _integer(config: Mapping[str, Any], key: str, *, minimum: int) -> int:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidConfigError(f"retry: {key} must be an integer, got {value!r}")
    if value < minimum:
        raise InvalidConfigError(f"retry: {key} must be >= {minimum}, got {value!r}")
    return value


def _parse(config: Mapping[str, Any]) -> _Settings:
    unknown = sorted(set(config) - set(_DEFAULTS))
    if unknown:
        raise InvalidConfigError(
            f"retry: unknown configuration key(s) {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(_DEFAULTS))})")
    cfg = {**_DEFAULTS, **config}
    max_attempts = _integer(cfg, "max_attempts", minimum=1)
    base = _number(cfg, "base_delay", minimum=0.0)
    multiplier = _number(cfg, "multiplier", minimum=1.0)
    max_delay = _number(cfg, "max_delay", minimum=0.0)
    assert base is not None and multiplier is not None and max_delay is not None
    jitter = cfg["jitter"]
    if jitter not in JITTER_MODES:
        raise InvalidConfigError(
            f"retry: jitter must be one of {', '.join(map(repr, JITTER_MODES))}, got {jitter!r}")
    max_elapsed = _number(cfg, "max_elapsed", minimum=0.0, strict=True, optional=True)
    statuses = cfg["retry_on_status"]
    if isinstance(statuses, (str, bytes)) or not isinstance(statuses, (list, tuple, set,
                                                                       frozenset)):
        raise InvalidConfigError(
            f"retry: retry_on_status must be a list of HTTP status codes, got {statuses!r}")
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise InvalidConfigError(
                f"retry: retry_on_status entries must be HTTP error statuses (400-599), "
                f"got {status!r}")
    max_retry_after = _number(cfg, "max_retry_after", minimum=0.0)
    assert max_retry_after is not None
    ratio = _number(cfg, "budget_ratio", minimum=0.0, optional=True)
    min_retries = _integer(cfg, "budget_min_retries", minimum=0)
    window = _number(cfg, "budget_window", minimum=0.0, strict=True)
    assert window is not None
    seed = cfg["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidConfigError(f"retry: seed must be an integer or null, got {seed!r}")
    caps = tuple(backoff_caps(max_attempts - 1, base=base, multiplier=multiplier,
                              max_delay=max_delay))
    return _Settings(max_attempts, base, multiplier, max_delay, jitter, max_elapsed,
                     frozenset(statuses), max_retry_after, ratio, min_retries, window, seed, caps)


def retry_after_hint(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` of an error response, in seconds, if it sent one.

    The header name is matched case-insensitively (``ResponseError.headers`` is a plain
    dict holding the server's spelling). For ``AllEndpointsFailedError`` the smallest
    hint among its failures is used: the earliest moment some server may be ready.
    """
    if isinstance(exc, ResponseError):
        headers = exc.headers
        value = headers.get("Retry-After")
        if value is None:
            for name, item in headers.items():
                if name.lower() == "retry-after":
                    value = item
                    break
        return parse_retry_after(value)
    if isinstance(exc, AllEndpointsFailedError):
        hints = [h for h in map(retry_after_hint, exc.failures.values()) if h is not None]
        return min(hints) if hints else None
    return None


def is_retryable(exc: BaseException, *, idempotent: bool = True,
                 statuses: frozenset[int] = frozenset(_DEFAULTS["retry_on_status"])) -> bool:
    """Whether ``exc`` (raised inside the chain, so before commit) is worth another attempt.

    ``idempotent=False`` restricts retries to failures where the request certainly had no
    effect on the server (see the module docstring).
    """
    if isinstance(exc, ResponseError):
        if isinstance(exc, StreamErrorLine):
            return False
        status = exc.status_code
        return status in statuses and (idempotent or status in _SAFE_STATUSES)
    if isinstance(exc, (ConnectError, ConnectTimeout)):
        return True
    if isinstance(exc, DeadlineExceeded):
        return False
    if isinstance(exc, (ReadError, TimeoutError, StreamInterruptedError, IncompleteStreamError)):
        return idempotent
    if isinstance(exc, AllEndpointsFailedError):
        return any(is_retryable(e, idempotent=idempotent, statuses=statuses)
                   for e in exc.failures.values())
    return False


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class _RetryMiddleware:
    """The retry loop around the rest of the chain."""

    name: str = "retry"
    order: int = ORDER_RETRY

    __slots__ = ("_plugin",)

    def __init__(self, plugin: RetryPlugin) -> None:
        self._plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        plugin = self._plugin
        settings = plugin._settings
        clock = plugin.clock
        stats = plugin.stats
        budget = plugin._budget
        started = clock.now()
        if budget is not None:
            budget.record_request(started)
        stats.calls += 1
        deadline = started + settings.max_elapsed if settings.max_elapsed is not None else None
        attempt = 1
        while True:
            stats.attempts += 1
            try:
                return await call_next(request.copy(attempt=attempt))
            except Exception as exc:  # CancelledError is a BaseException: never caught
                delay = plugin._next_delay(request, exc, attempt, deadline)
                if delay is None:
                    raise
            stats.retries += 1
            # Closing the client cancels this sleep (the call ends with ClientClosedError);
            # the check covers a call running in a task the client does not track.
            await clock.sleep(delay)
            client = plugin._client
            if client is not None and client.closed:
                raise ClientClosedError(
                    f"{request.endpoint}: the client was closed during a retry backoff")
            attempt += 1


class RetryPlugin:
    """Retries transient failures; see the module docstring for the policy and its keys."""

    name: ClassVar[str] = "retry"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._settings = _parse(config or {})
        #: The random source of the jitter; replace it (or set ``seed``) for reproducibility.
        self.rng = random.Random(self._settings.seed)
        self.stats = RetryStats()
        self.clock: Clock = _NO_CLOCK
        self._client: OllamaClient | None = None
        self._budget = self._make_budget(self._settings)
        self._middleware = _RetryMiddleware(self)

    @staticmethod
    def _make_budget(settings: _Settings) -> RetryBudget | None:
        if settings.budget_ratio is None:
            return None
        return RetryBudget(settings.budget_ratio, settings.budget_min_retries,
                           settings.budget_window)

    # -- configuration -------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The effective settings (defaults filled in)."""
        s = self._settings
        return {"max_attempts": s.max_attempts, "base_delay": s.base_delay,
                "multiplier": s.multiplier, "max_delay": s.max_delay, "jitter": s.jitter,
                "max_elapsed": s.max_elapsed, "retry_on_status": sorted(s.retry_on_status),
                "max_retry_after": s.max_retry_after, "budget_ratio": s.budget_ratio,
                "budget_min_retries": s.budget_min_retries,
                "budget_window": s.budget_window, "seed": s.seed}

    @property
    def budget(self) -> RetryBudget | None:
        """The retry budget shared by every call of this client (None when disabled)."""
        return self._budget

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply new settings to a live client; calls in progress finish with the old ones.

        The stats survive; the budget is rebuilt (empty) only when its settings changed,
        and the random source is reseeded only when a new ``seed`` is given.
        """
        new = _parse(config)
        old, self._settings = self._settings, new
        if (new.budget_ratio, new.budget_min_retries, new.budget_window) != (
                old.budget_ratio, old.budget_min_retries, old.budget_window):
            self._budget = self._make_budget(new)
        if new.seed is not None and new.seed != old.seed:
            self.rng = random.Random(new.seed)

    def reset_stats(self) -> None:
        self.stats = RetryStats()

    # -- hooks ---------------------------------------------------------------------------

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self._client = client
        self.clock = client.clock

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Middleware]:
        self._client = client
        self.clock = client.clock
        return [self._middleware]

    # -- policy --------------------------------------------------------------------------

    def backoff(self, retry_index: int) -> float:
        """A delay for retry ``retry_index`` (0-based), drawn from ``self.rng``."""
        s = self._settings
        cap = s.caps[retry_index] if retry_index < len(s.caps) else backoff_caps(
            retry_index + 1, base=s.base_delay, multiplier=s.multiplier,
            max_delay=s.max_delay)[-1]
        return backoff_delay(cap, s.jitter, self.rng)

    def _next_delay(self, request: Request, exc: Exception, attempt: int,
                    deadline: float | None) -> float | None:
        """How long to wait before the next attempt, or None to raise ``exc`` now."""
        s = self._settings
        if not is_retryable(exc, idempotent=request.idempotent, statuses=s.retry_on_status):
            return None
        stats = self.stats
        if attempt >= s.max_attempts:
            stats.exhausted += 1
            self._emit("retry_exhausted", request, exc, attempt, reason="max_attempts")
            return None
        hint = retry_after_hint(exc)
        delay = min(hint, s.max_retry_after) if hint is not None else self.backoff(attempt - 1)
        now = self.clock.now()
        if deadline is not None and now + delay > deadline or self._past_call_deadline(
                request, delay):
            stats.deadline_exhausted += 1
            self._emit("retry_exhausted", request, exc, attempt, reason="deadline")
            return None
        budget = self._budget
        if budget is not None and not budget.try_acquire(now):
            stats.budget_exhausted += 1
            requests, retries = budget.counts(now)
            self._emit("retry_budget_exhausted", request, exc, attempt, requests=requests,
                       retries=retries)
            return None
        self._emit("retry", request, exc, attempt, delay=delay, retry_after=hint)
        return delay

    @staticmethod
    def _past_call_deadline(request: Request, delay: float) -> bool:
        # The core's per-call deadline is a reading of the event loop's clock.
        deadline_at = request.extensions.get("deadline_at")
        if deadline_at is None:
            return False
        return bool(asyncio.get_running_loop().time() + delay >= deadline_at)

    def _emit(self, name: str, request: Request, exc: BaseException, attempt: int,
              **extra: Any) -> None:
        client = self._client
        if client is None:
            return
        data: dict[str, Any] = {"attempt": attempt}
        data.update(extra)
        data["cause"] = _cause(exc)
        data["endpoint"] = request.endpoint
        client.emit(Event(name, "retry", self.clock.now(), data))

    def __repr__(self) -> str:
        s = self._settings
        return (f"RetryPlugin(max_attempts={s.max_attempts}, base_delay={s.base_delay}, "
                f"jitter={s.jitter!r}, budget_ratio={s.budget_ratio})")


class _NoClock:
    """Placeholder until the plugin is attached to a client."""

    def now(self) -> float:
        raise RuntimeError("the retry plugin is not attached to a client")

    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("the retry plugin is not attached to a client")


_NO_CLOCK: Final[Clock] = _NoClock()
