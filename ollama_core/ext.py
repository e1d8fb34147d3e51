"""Everything a plugin author needs, in one module.

A plugin is a class deriving from :class:`Plugin` whose settings are declared once, as a
frozen dataclass deriving from :class:`PluginConfig`; it contributes per-call behaviour as
separate :class:`Middleware` objects from its ``ollama_middlewares`` hook, and reports what
happens with typed events::

    from dataclasses import dataclass
    from ollama_core.ext import (ORDER_ATTEMPT_OBSERVER, Event, Handler, Plugin,
                                 PluginConfig, Request, Response, hookimpl, setting)

    @dataclass(frozen=True, slots=True)
    class SlowCallsConfig(PluginConfig):
        threshold: float = setting(2.0, above=0, unit="s")

    class SlowCalls:
        name = "slow_calls"
        order = ORDER_ATTEMPT_OBSERVER

        def __init__(self, plugin: "SlowCallsPlugin") -> None:
            self.plugin = plugin

        async def __call__(self, request: Request, call_next: Handler) -> Response:
            started = self.plugin.clock.now()
            response = await call_next(request)
            took = self.plugin.clock.now() - started
            if took > self.plugin.settings.threshold and self.plugin.wants_events:
                self.plugin.emit(Event("slow_call", self.plugin.name, started,
                                       {"endpoint": request.endpoint, "took": took}))
            return response

    class SlowCallsPlugin(Plugin[SlowCallsConfig]):
        name = "slow_calls"
        config_class = SlowCallsConfig

        @hookimpl
        def ollama_middlewares(self):
            return [SlowCalls(self)]

The hooks are documented in :mod:`ollama_core.hookspecs` and the README's "Hook
reference"; the middleware order in :mod:`ollama_core._middleware`.
"""

from __future__ import annotations

from ._clock import Clock, FakeClock, MonotonicClock
from ._config import (
    ConfigValueError,
    NoConfig,
    PluginConfig,
    SettingInfo,
    describe_settings,
    parse_config,
    setting,
)
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
from ._exceptions import (
    AllEndpointsFailedError,
    CircuitOpenError,
    InvalidConfigError,
    InvalidRequestError,
    OllamaError,
    PluginConfigError,
    PluginError,
    PluginHookError,
    RateLimitExceededError,
)
from ._middleware import (
    ORDER_ATTEMPT_OBSERVER,
    ORDER_BREAKER,
    ORDER_CACHE,
    ORDER_CALL_OBSERVER,
    ORDER_FAILOVER,
    ORDER_RATE_LIMIT,
    ORDER_RETRY,
    Handler,
    Middleware,
)
from ._envelope import Request, Response
from ._plugin_base import Plugin
from ._transports import MockTransport, Transport
from ._upstreams import Upstream, UpstreamRegistry
from .hookspecs import hookimpl

# The transport protocol and the sockets-free transport for plugin unit tests are exported
# here too (Transport, MockTransport).

__all__ = [
    "AllEndpointsFailedError",
    "CacheHit",
    "CacheMiss",
    "CircuitOpenError",
    "CircuitStateChanged",
    "Clock",
    "ConfigValueError",
    "Event",
    "FailedOver",
    "FakeClock",
    "Handler",
    "InvalidConfigError",
    "InvalidRequestError",
    "Middleware",
    "MockTransport",
    "MonotonicClock",
    "NoConfig",
    "ORDER_ATTEMPT_OBSERVER",
    "ORDER_BREAKER",
    "ORDER_CACHE",
    "ORDER_CALL_OBSERVER",
    "ORDER_FAILOVER",
    "ORDER_RATE_LIMIT",
    "ORDER_RETRY",
    "OllamaError",
    "Plugin",
    "PluginConfig",
    "PluginConfigError",
    "PluginError",
    "PluginHookError",
    "RateLimitExceededError",
    "RateLimited",
    "Request",
    "Response",
    "RetryBudgetExhausted",
    "RetryExhausted",
    "RetryScheduled",
    "SettingInfo",
    "StoreDegraded",
    "StoreRecovered",
    "Transport",
    "Upstream",
    "UpstreamHealthChanged",
    "UpstreamRegistry",
    "describe_settings",
    "hookimpl",
    "parse_config",
    "setting",
]
