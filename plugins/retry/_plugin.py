"""Retry plugin: retries transient failures with capped, jittered exponential backoff.

Enable it with ``OllamaClient(plugins=["retry"], plugin_config={"retry": {...}})``. It
contributes one middleware at ``ORDER_RETRY`` (200): every retry is a fresh pass through
failover, circuit breaker and rate limiter below it, so each attempt may go to another
server, is counted by that server's breaker and is paced by the limiter.

Configuration (the defaults are declared in :class:`~._config.RetryConfig`):

- ``max_attempts``: attempts per call, the first one included (1 disables retrying).
- ``base_delay``, ``multiplier``, ``max_delay``: the cap of retry
  ``n`` (0-based) is ``min(max_delay, base_delay * multiplier ** n)``.
- ``jitter``: ``"full"`` draws uniformly in ``[0, cap]``, ``"equal"`` in
  ``[cap/2, cap]``, ``"none"`` waits exactly ``cap``.
- ``seed``: seeds the plugin's ``random.Random`` (``plugin.rng``, replaceable) so
  jitter is reproducible.
- ``max_elapsed``: overall retry deadline in seconds of ``client.clock``, counted
  from the start of the call and including backoff. No retry starts (and no backoff is
  slept) that would end past it; the last error is raised instead. It does not cut an
  attempt in flight; the call's ``Timeouts.deadline`` does that, and a backoff that would
  outlast that deadline is not slept either.
- ``retry_on_status``: HTTP statuses worth retrying. Other 4xx
  are the caller's mistake and are never retried.
- ``max_retry_after``: the longest ``Retry-After`` obeyed; a longer one is capped.
- ``budget_ratio``, ``budget_min_retries``, ``budget_window``: the retry
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

Events (``client.emit``; ``source`` is ``"retry"``; the classes are in ``ollama_core.ext``):

- ``retry`` (:class:`RetryScheduled`) before each backoff: ``attempt`` (the attempt that failed, 1-based),
  ``delay`` (seconds), ``cause`` (``"<ExcType>: <message>"``), ``endpoint``,
  ``retry_after`` (the server's hint in seconds, or None);
- ``retry_exhausted`` (:class:`RetryExhausted`) when giving up because of ``max_attempts`` or a deadline:
  ``attempt``, ``cause``, ``endpoint``, ``reason`` (``"max_attempts"`` / ``"deadline"``);
- ``retry_budget_exhausted`` (:class:`RetryBudgetExhausted`) when the budget refused a retry: ``attempt``, ``cause``,
  ``endpoint``, ``requests``, ``retries`` (in the budget window).

Each attempt is sent as ``request.copy(attempt=n)`` (1-based), so middlewares below see a
fresh request per attempt and can tell a retry (``attempt > 1``) from a first try.
``plugin.stats`` counts calls, attempts, retries and the three ways of giving up.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ollama_core.ext import Middleware, Plugin, hookimpl

from ._backoff import backoff_caps, backoff_delay
from ._budget import RetryBudget
from ._config import RetryConfig
from ._middleware import RetryMiddleware

if TYPE_CHECKING:
    from ollama_core import OllamaClient

__all__ = ["RetryPlugin", "RetryStats"]


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


class RetryPlugin(Plugin[RetryConfig]):
    """Retries transient failures; see the module docstring for the policy and its keys."""

    name: ClassVar[str] = "retry"
    config_class = RetryConfig

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        #: The random source of the jitter; replace it (or set ``seed``) for reproducibility.
        self.rng = random.Random(self.settings.seed)
        #: What the plugin did so far (``reset_stats()`` starts again).
        self.stats = RetryStats()
        self._caps = _caps(self.settings)
        self._budget = _make_budget(self.settings)
        self._middleware = RetryMiddleware(self)

    @property
    def budget(self) -> RetryBudget | None:
        """The retry budget shared by every call of this client (None when disabled)."""
        return self._budget

    def config_changed(self, old: RetryConfig) -> None:
        """Calls in progress finish with the old settings. The stats survive; the budget
        is rebuilt (empty) only when its settings changed, and the random source is
        reseeded only when a new ``seed`` is given."""
        new = self.settings
        self._caps = _caps(new)
        if (new.budget_ratio, new.budget_min_retries, new.budget_window) != (
                old.budget_ratio, old.budget_min_retries, old.budget_window):
            self._budget = _make_budget(new)
        if new.seed is not None and new.seed != old.seed:
            self.rng = random.Random(new.seed)

    def reset_stats(self) -> None:
        self.stats = RetryStats()

    # -- hooks ---------------------------------------------------------------------------

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Middleware]:
        self.bind_client(client)
        return [self._middleware]

    # -- policy --------------------------------------------------------------------------

    def backoff(self, retry_index: int) -> float:
        """A delay for retry ``retry_index`` (0-based), drawn from ``self.rng``."""
        s = self.settings
        caps = self._caps
        cap = caps[retry_index] if retry_index < len(caps) else backoff_caps(
            retry_index + 1, base=s.base_delay, multiplier=s.multiplier,
            max_delay=s.max_delay)[-1]
        return backoff_delay(cap, s.jitter, self.rng)

    def __repr__(self) -> str:
        s = self.settings
        return (f"RetryPlugin(max_attempts={s.max_attempts}, base_delay={s.base_delay}, "
                f"jitter={s.jitter!r}, budget_ratio={s.budget_ratio})")


def _caps(settings: RetryConfig) -> tuple[float, ...]:
    return tuple(backoff_caps(settings.max_attempts - 1, base=settings.base_delay,
                              multiplier=settings.multiplier, max_delay=settings.max_delay))


def _make_budget(settings: RetryConfig) -> RetryBudget | None:
    if settings.budget_ratio is None:
        return None
    return RetryBudget(settings.budget_ratio, settings.budget_min_retries,
                       settings.budget_window)
