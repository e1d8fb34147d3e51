"""Log records of the reliability actions: every typed event becomes one ``logging`` record.

The client hands each event it emits to :func:`log_event`, which looks the event's class up
in one table (``_RULES``): the logger (one per plugin, named after it), the level and the
message. Nothing is logged per chunk, because no event is emitted per chunk.

=============================  ===============================  ============================
event                          logger                           level
=============================  ===============================  ============================
``RetryScheduled``             ``ollama_core.retry``            WARNING
``RetryExhausted``             ``ollama_core.retry``            WARNING
``RetryBudgetExhausted``       ``ollama_core.retry``            WARNING
``FailedOver``                 ``ollama_core.failover``         WARNING
``CircuitStateChanged``        ``ollama_core.circuit_breaker``  WARNING opened, INFO else
``UpstreamHealthChanged``      ``ollama_core.health_checks``    WARNING down, INFO else
``RateLimited``                ``ollama_core.rate_limiting``    WARNING refused, INFO waited
``CacheHit``, ``CacheMiss``    ``ollama_core.request_caching``  DEBUG
``StoreDegraded``              the emitting plugin's logger     WARNING
``StoreRecovered``             the emitting plugin's logger     INFO
=============================  ===============================  ============================

Each of these loggers has a ``NullHandler``, as a library's loggers should: nothing is
printed until the application configures logging (``logging.basicConfig()``), and the
records then reach its handlers like any other. Messages hold no secrets: every text taken
from an event (a server's address, an error's message) goes through
:func:`~ollama_core._redact.mask_url`, word by word.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TextIO

from ._events import (
    CacheHit,
    CacheMiss,
    CircuitStateChanged,
    Event,
    FailedOver,
    RateLimited,
    RetryBudgetExhausted,
    RetryExhausted,
    RetryScheduled,
    StoreDegraded,
    StoreRecovered,
    UpstreamHealthChanged,
)
from ._redact import mask_url

__all__ = ["RELIABILITY_LOGGERS", "configure_cli", "enabled", "log_event", "show_events"]

_PREFIX: Final = "ollama_core."

#: The reliability loggers, one per built-in plugin that emits events.
RELIABILITY_LOGGERS: Final = tuple(f"{_PREFIX}{name}" for name in (
    "retry", "failover", "circuit_breaker", "health_checks", "rate_limiting",
    "request_caching"))

for _name in RELIABILITY_LOGGERS:
    logging.getLogger(_name).addHandler(logging.NullHandler())

# A word holding "@" may be a URL with credentials (or a bare "user:pw@host").
_AT_WORD = re.compile(r"\S*@\S*")


def _safe(value: object) -> str:
    """``value`` as text, every word that may carry credentials masked."""
    return _AT_WORD.sub(lambda m: mask_url(m.group()), str(value))


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.3g}s"


Message = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Rule:
    logger: logging.Logger
    #: The lowest level this rule logs at (what ``enabled`` checks).
    lowest: int
    level: Callable[[Any], int]
    message: Callable[[Any], Message]


def _retry(e: RetryScheduled) -> Message:
    hint = "" if e.retry_after is None else f" (Retry-After {_seconds(e.retry_after)})"
    return ("%s: attempt %d failed (%s); retrying in %s%s",
            (_safe(e.endpoint), e.attempt, _safe(e.cause), _seconds(e.delay), hint))


def _retry_exhausted(e: RetryExhausted) -> Message:
    why = "no attempts left" if e.reason == "max_attempts" else f"no time left ({e.reason})"
    return ("%s: giving up after attempt %d, %s: %s",
            (_safe(e.endpoint), e.attempt, why, _safe(e.cause)))


def _retry_budget(e: RetryBudgetExhausted) -> Message:
    return ("%s: not retrying attempt %d, the retry budget is spent (%d retries for %d "
            "requests): %s",
            (_safe(e.endpoint), e.attempt, e.retries, e.requests, _safe(e.cause)))


def _failover(e: FailedOver) -> Message:
    to = f"trying {_safe(e.to)}" if e.to is not None else "no server left to try"
    return ("%s: left %s (%s); %s", (_safe(e.endpoint), _safe(e.from_), _safe(e.cause), to))


def _circuit(e: CircuitStateChanged) -> Message:
    where = f"{e.endpoint} on {e.upstream}" if e.upstream else e.endpoint
    probe = "" if e.retry_at is None else f"; next probe at clock {e.retry_at:.3f}"
    return ("%s: circuit %s -> %s%s", (_safe(where), e.old, e.new, probe))


def _health(e: UpstreamHealthChanged) -> Message:
    if e.healthy is False:
        return ("upstream %s is down: %s", (_safe(e.upstream), _safe(e.error)))
    verdict = "up" if e.healthy else "unknown"
    return ("upstream %s is %s (latency %s)", (_safe(e.upstream), verdict, _seconds(e.latency)))


def _limited(e: RateLimited) -> Message:
    if e.rejected:
        return ("%s: call refused by the rate limit after waiting %s",
                (_safe(e.endpoint), _seconds(e.waited)))
    return ("%s: call waited %s for the rate limit", (_safe(e.endpoint), _seconds(e.waited)))


def _hit(e: CacheHit) -> Message:
    how = "joined an identical call in flight" if e.coalesced else "answered from the cache"
    return ("%s: %s", (_safe(e.endpoint), how))


def _miss(e: CacheMiss) -> Message:
    return ("%s: not in the cache", (_safe(e.endpoint),))


def _degraded(e: StoreDegraded) -> Message:
    then = "refusing calls" if e.fail_closed else "deciding locally (degraded)"
    return ("shared store %s unavailable (%s); %s until it answers",
            (_safe(e.store), _safe(e.error), then))


def _recovered(e: StoreRecovered) -> Message:
    return ("shared store %s answers again after %s; sharing resumes",
            (_safe(e.store), _seconds(e.down_for)))


def _fixed(level: int) -> Callable[[Any], int]:
    return lambda _event: level


def _rule(plugin: str, lowest: int, level: Callable[[Any], int],
          message: Callable[[Any], Message]) -> _Rule:
    return _Rule(logging.getLogger(_PREFIX + plugin), lowest, level, message)


W, I, D = logging.WARNING, logging.INFO, logging.DEBUG

#: Event class -> where and how it is logged: the one declaration of each.
_RULES: Final[dict[type[Event], _Rule]] = {
    RetryScheduled: _rule("retry", W, _fixed(W), _retry),
    RetryExhausted: _rule("retry", W, _fixed(W), _retry_exhausted),
    RetryBudgetExhausted: _rule("retry", W, _fixed(W), _retry_budget),
    FailedOver: _rule("failover", W, _fixed(W), _failover),
    CircuitStateChanged: _rule("circuit_breaker", I,
                               lambda e: W if e.new == "open" else I, _circuit),
    UpstreamHealthChanged: _rule("health_checks", I,
                                 lambda e: W if e.healthy is False else I, _health),
    RateLimited: _rule("rate_limiting", I, lambda e: W if e.rejected else I, _limited),
    CacheHit: _rule("request_caching", D, _fixed(D), _hit),
    CacheMiss: _rule("request_caching", D, _fixed(D), _miss),
}
# A store event goes to the logger of the plugin that emitted it (its ``source``).
_STORE_RULES: Final[dict[type[Event], tuple[int, Callable[[Any], Message]]]] = {
    StoreDegraded: (W, _degraded),
    StoreRecovered: (I, _recovered),
}

# (logger, lowest level) pairs, the most often enabled first.
_CHECKS: Final = tuple(sorted({(r.logger, r.lowest) for r in _RULES.values()},
                              key=lambda pair: -pair[1]))


def enabled() -> bool:
    """Whether some reliability logger would record its event: lets the client tell the
    emitters to build events. Cheap (``Logger.isEnabledFor`` caches its answer and
    ``logging`` clears that cache on every level change)."""
    for logger, lowest in _CHECKS:
        if logger.isEnabledFor(lowest):
            return True
    return False


def log_event(event: Event) -> None:
    """Log ``event`` by its class's rule (an event of another class is not logged)."""
    rule = _RULES.get(type(event))
    if rule is None:
        store_rule = _STORE_RULES.get(type(event))
        if store_rule is not None:
            _log_store_event(event, *store_rule)
        return
    level = rule.level(event)
    if not rule.logger.isEnabledFor(level):
        return
    try:
        message, args = rule.message(event)
    except Exception:  # noqa: BLE001 - a field of an unexpected type: log what can be shown
        message, args = "%s", (_safe(event),)
    rule.logger.log(level, message, *args)


def _log_store_event(event: Event, level: int, message: Callable[[Any], Message]) -> None:
    logger = logging.getLogger(_PREFIX + _safe(event.source))
    if logger.isEnabledFor(level):
        text, args = message(event)
        logger.log(level, text, *args)


class _EventFormatter(logging.Formatter):
    """``[retry] chat: attempt 1 failed ...``: the plugin, then the message."""

    def format(self, record: logging.LogRecord) -> str:
        plugin = record.name.removeprefix(_PREFIX)
        return f"[{plugin}] {record.getMessage()}"


def show_events(stream: TextIO | None = None,
                loggers: Iterable[str] = RELIABILITY_LOGGERS) -> logging.Handler:
    """Print every reliability event (cache hits and misses included) on ``stream``
    (default ``sys.stderr``) as it happens, one line each; the records no longer also go
    to the root logger's handlers, so nothing is printed twice. Returns the handler."""
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(_EventFormatter())
    for name in loggers:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        for old in [h for h in logger.handlers if isinstance(h.formatter, _EventFormatter)]:
            logger.removeHandler(old)  # called again: one line per event still
        logger.addHandler(handler)
        logger.propagate = False
    return handler


def configure_cli(*, events: bool, level: str | None) -> None:
    """The command line's ``--events`` and ``--log-level``/``--debug``: reliability events
    as one line each on stderr, and the log at ``level`` on stderr (the events then
    only once, by the first)."""
    if level is not None:
        logging.basicConfig(level=level, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if events:
        show_events()
