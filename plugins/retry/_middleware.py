"""The retry loop: one middleware around the rest of the chain, driven by its plugin."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ollama_core import ClientClosedError
from ollama_core.ext import (
    ORDER_RETRY,
    Handler,
    Request,
    Response,
    RetryBudgetExhausted,
    RetryExhausted,
    RetryScheduled,
)

from ._policy import call_deadline, describe_cause, is_retryable, retry_after_hint

if TYPE_CHECKING:
    from ._plugin import RetryPlugin

__all__ = ["RetryMiddleware"]


class RetryMiddleware:
    """Retries a call through everything below it, as its plugin's settings say.

    It reads the plugin's public state only: ``settings`` (once per call, so a live
    reconfiguration applies to the next call), ``clock``, ``stats``, ``budget``,
    ``backoff()`` and the event helpers.
    """

    name: str = "retry"
    order: int = ORDER_RETRY

    __slots__ = ("plugin",)

    def __init__(self, plugin: RetryPlugin) -> None:
        self.plugin = plugin

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        plugin = self.plugin
        settings = plugin.settings
        clock = plugin.clock
        stats = plugin.stats
        budget = plugin.budget
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
                delay = self.next_delay(request, exc, attempt, deadline)
                if delay is None:
                    raise
            stats.retries += 1
            # Closing the client cancels this sleep (the call ends with ClientClosedError);
            # the check covers a call running in a task the client does not track.
            await clock.sleep(delay)
            if plugin.attached and plugin.client.closed:
                raise ClientClosedError(
                    f"{request.endpoint}: the client was closed during a retry backoff")
            attempt += 1

    def next_delay(self, request: Request, exc: Exception, attempt: int,
                   deadline: float | None) -> float | None:
        """How long to wait before the next attempt, or ``None`` to raise ``exc`` now."""
        plugin = self.plugin
        s = plugin.settings
        if not is_retryable(exc, idempotent=request.idempotent, statuses=s.retry_on_status):
            return None
        stats = plugin.stats
        if attempt >= s.max_attempts:
            stats.exhausted += 1
            self._exhausted(request, exc, attempt, "max_attempts")
            return None
        hint = retry_after_hint(exc)
        delay = min(hint, s.max_retry_after) if hint is not None else plugin.backoff(attempt - 1)
        now = plugin.clock.now()
        if deadline is not None and now + delay > deadline or _past_call_deadline(
                request, delay):
            stats.deadline_exhausted += 1
            self._exhausted(request, exc, attempt, "deadline")
            return None
        budget = plugin.budget
        if budget is not None and not budget.try_acquire(now):
            stats.budget_exhausted += 1
            if plugin.wants_events:
                requests, retries = budget.counts(now)
                plugin.emit(RetryBudgetExhausted(
                    source=plugin.name, time=now, attempt=attempt, requests=requests,
                    retries=retries, cause=describe_cause(exc), endpoint=request.endpoint))
            return None
        if plugin.wants_events:
            plugin.emit(RetryScheduled(
                source=plugin.name, time=now, attempt=attempt, delay=delay, retry_after=hint,
                cause=describe_cause(exc), endpoint=request.endpoint))
        return delay

    def _exhausted(self, request: Request, exc: Exception, attempt: int, reason: str) -> None:
        plugin = self.plugin
        if plugin.wants_events:
            plugin.emit(RetryExhausted(
                source=plugin.name, time=plugin.clock.now(), attempt=attempt, reason=reason,
                cause=describe_cause(exc), endpoint=request.endpoint))

    def __repr__(self) -> str:
        return f"RetryMiddleware({self.plugin!r})"


def _past_call_deadline(request: Request, delay: float) -> bool:
    deadline_at = call_deadline(request)
    if deadline_at is None:
        return False
    return bool(asyncio.get_running_loop().time() + delay >= deadline_at)
