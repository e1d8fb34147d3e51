"""What is worth retrying, and what the server asked for: the pure part of the decision.

The policy itself (what is retried and why) is described in
:mod:`ollama_plugins.retry._plugin`.
"""

from __future__ import annotations

from typing import Final

from ollama_core import (
    AllEndpointsFailedError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    IncompleteStreamError,
    OllamaTimeoutError,
    ReadError,
    ResponseError,
    StreamErrorLine,
    StreamInterruptedError,
    parse_retry_after,
)
from ollama_core.ext import Request

from ._config import DEFAULT_RETRY_STATUSES

__all__ = ["call_deadline", "describe_cause", "is_retryable", "retry_after_hint"]

# Statuses that say "not done, come back later" before any work happened, which makes them
# safe to repeat even for non-idempotent requests.
_SAFE_STATUSES: Final = frozenset({429, 503})


def retry_after_hint(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` of an error response, in seconds, if it sent one.

    ``ResponseError.headers`` is case-insensitive, so every spelling of the header name
    matches. For ``AllEndpointsFailedError`` the smallest hint among its failures is used:
    the earliest moment some server may be ready.
    """
    if isinstance(exc, ResponseError):
        return parse_retry_after(exc.headers.get("Retry-After"))
    if isinstance(exc, AllEndpointsFailedError):
        hints = [h for h in map(retry_after_hint, exc.failures.values()) if h is not None]
        return min(hints) if hints else None
    return None


def is_retryable(exc: BaseException, *, idempotent: bool = True,
                 statuses: frozenset[int] = DEFAULT_RETRY_STATUSES) -> bool:
    """Whether ``exc`` (raised inside the chain, so before commit) is worth another attempt.

    ``idempotent=False`` restricts retries to failures where the request certainly had no
    effect on the server (see the policy text).
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
    if isinstance(exc, (ReadError, OllamaTimeoutError, StreamInterruptedError, IncompleteStreamError)):
        return idempotent
    if isinstance(exc, AllEndpointsFailedError):
        return any(is_retryable(e, idempotent=idempotent, statuses=statuses)
                   for e in exc.failures.values())
    return False


def describe_cause(exc: BaseException) -> str:
    """``"<ExcType>: <message>"``, the ``cause`` of retry events."""
    return f"{type(exc).__name__}: {exc}"


def call_deadline(request: Request) -> float | None:
    """The call's own deadline, a reading of the event loop's clock, or ``None``."""
    return request.deadline_at
