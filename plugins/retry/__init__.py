"""The ``retry`` plugin: retries transient failures with capped, jittered exponential
backoff and a retry budget.

The policy (what is retried, when, and the events) is described in
:mod:`ollama_plugins.retry._plugin`; the settings are declared in
:class:`~ollama_plugins.retry._config.RetryConfig`.
"""

from __future__ import annotations

from ._backoff import backoff_caps, backoff_delay
from ._budget import RetryBudget
from ._config import DEFAULT_RETRY_STATUSES, RetryConfig
from ._middleware import RetryMiddleware
from ._plugin import RetryPlugin, RetryStats
from ._policy import is_retryable, retry_after_hint

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "RetryBudget",
    "RetryConfig",
    "RetryMiddleware",
    "RetryPlugin",
    "RetryStats",
    "backoff_caps",
    "backoff_delay",
    "is_retryable",
    "retry_after_hint",
]
