"""Client-side rate limiting: a token bucket and an in-flight cap per endpoint.

The policy (settings, order of waiters, cooperation with the other plugins) is described
in :mod:`ollama_plugins.rate_limiting._plugin`; the settings are declared in
:class:`~ollama_plugins.rate_limiting._config.RateLimitingConfig`; where the state lives,
and what a shared store may weaken, in :mod:`ollama_plugins.rate_limiting.store`.
"""

from ._config import DEFAULT_RATE, EndpointLimits, RateLimitingConfig
from ._middleware import RateLimitMiddleware
from ._plugin import RateLimitingPlugin
from .store import (
    Admission,
    LimiterState,
    LimiterStore,
    LimitSpec,
    MemoryLimiterStore,
    Rejected,
)

__all__ = ["DEFAULT_RATE", "Admission", "EndpointLimits", "LimitSpec", "LimiterState",
           "LimiterStore", "MemoryLimiterStore", "RateLimitMiddleware", "RateLimitingConfig",
           "RateLimitingPlugin", "Rejected"]
