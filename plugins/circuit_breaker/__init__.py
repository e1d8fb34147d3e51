"""Circuit breaker plugin: stop calling a server endpoint that keeps failing.

The policy (states, what counts as a failure, settings, events, cooperation) is described
in :mod:`ollama_plugins.circuit_breaker._plugin`; the settings are declared in
:class:`~ollama_plugins.circuit_breaker._config.CircuitBreakerConfig`; what a store holds,
and what a shared store may weaken, in :mod:`ollama_plugins.circuit_breaker.store`.
"""

from ._circuit import Outcome, classify
from ._config import CircuitBreakerConfig
from ._middleware import BreakerMiddleware
from ._plugin import CircuitBreakerPlugin
from .store import CLOSED, BreakerStore, MemoryBreakerStore, Verdict

__all__ = ["CLOSED", "BreakerMiddleware", "BreakerStore", "CircuitBreakerConfig",
           "CircuitBreakerPlugin", "MemoryBreakerStore", "Outcome", "Verdict", "classify"]
