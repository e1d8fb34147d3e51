"""ollama-core: an async and sync client for the whole Ollama API, with pluggable
reliability (retry, circuit breaker, rate limiting, failover, health checks, caching) and an
Ollama emulator for tests.

Quick start::

    from ollama_core import OllamaClient, ChatRequest

    async with OllamaClient(plugins=["retry"]) as client:
        reply = await client.chat(ChatRequest(model="llama3.2",
                                              messages=[{"role": "user", "content": "Hi"}]))
        print(reply.message.content)

Everything public is importable from here; the ``_``-prefixed modules are private.
"""

from __future__ import annotations

from ._client import OllamaClient
from ._clock import Clock, FakeClock, MonotonicClock
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
from ._host import parse_host
from ._exceptions import (
    AllEndpointsFailedError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ClientClosedError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    DecodeError,
    EventLoopMismatchError,
    FirstByteTimeout,
    IdleTimeout,
    IncompleteStreamError,
    InvalidConfigError,
    InvalidRequestError,
    LineTooLongError,
    MalformedLineError,
    NotFoundError,
    OllamaError,
    OllamaTimeoutError,
    PermissionDeniedError,
    PluginConfigError,
    PluginError,
    PluginHookError,
    ProtocolError,
    RateLimitError,
    RateLimitExceededError,
    ReadError,
    ResponseError,
    ResponseTooLargeError,
    ServerError,
    ServiceUnavailableError,
    StreamCancelledError,
    StreamError,
    StreamErrorLine,
    StreamInterruptedError,
    TransportError,
    parse_retry_after,
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
    MiddlewareChain,
)
from ._envelope import Request, Response, Timeouts
from ._ndjson import NDJSONDecoder
from ._plugin_manager import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, PluginManager, available_plugins
from ._stream import Stream, StreamMetrics, StreamState
from ._sync import SyncOllamaClient, SyncStream
from ._transports import (
    AiohttpTransport,
    ByteStream,
    IteratorStream,
    MockTransport,
    Transport,
    TransportRequest,
    TransportResponse,
)
from ._types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    CreateRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    Logprob,
    MessageRole,
    Metrics,
    ModelDetails,
    ModelEntry,
    ModelInfo,
    Options,
    ProgressResponse,
    RunningModelsResponse,
    TagsResponse,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolCallFunction,
    ToolFunction,
)
from ._upstreams import Upstream, UpstreamRegistry
from ._version import __version__
from .hookspecs import hookimpl

#: Names kept for backward compatibility: ``name -> (replacement, object)``. Reading one
#: warns once per access site (DeprecationWarning); see CHANGELOG.md.
_DEPRECATED: dict[str, tuple[str, object]] = {
    "TimeoutError": ("OllamaTimeoutError", OllamaTimeoutError),
}


def __getattr__(name: str) -> object:
    entry = _DEPRECATED.get(name)
    if entry is None:
        raise AttributeError(f"module 'ollama_core' has no attribute {name!r}")
    import warnings

    replacement, value = entry
    warnings.warn(f"ollama_core.{name} is deprecated: use ollama_core.{replacement}",
                  DeprecationWarning, stacklevel=2)
    return value

__all__ = [
    "AiohttpTransport",
    "AllEndpointsFailedError",
    "AuthenticationError",
    "BUILTIN_PLUGINS",
    "BadRequestError",
    "ByteStream",
    "CacheHit",
    "CacheMiss",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "CircuitOpenError",
    "CircuitStateChanged",
    "ClientClosedError",
    "Clock",
    "ConnectError",
    "ConnectTimeout",
    "CreateRequest",
    "DeadlineExceeded",
    "DecodeError",
    "ENTRY_POINT_GROUP",
    "EmbedRequest",
    "EmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "Event",
    "EventLoopMismatchError",
    "FailedOver",
    "FakeClock",
    "FirstByteTimeout",
    "GenerateRequest",
    "GenerateResponse",
    "Handler",
    "IdleTimeout",
    "IncompleteStreamError",
    "InvalidConfigError",
    "InvalidRequestError",
    "IteratorStream",
    "LineTooLongError",
    "Logprob",
    "MalformedLineError",
    "MessageRole",
    "Metrics",
    "Middleware",
    "MiddlewareChain",
    "MockTransport",
    "ModelDetails",
    "ModelEntry",
    "ModelInfo",
    "MonotonicClock",
    "NDJSONDecoder",
    "NotFoundError",
    "ORDER_ATTEMPT_OBSERVER",
    "ORDER_BREAKER",
    "ORDER_CACHE",
    "ORDER_CALL_OBSERVER",
    "ORDER_FAILOVER",
    "ORDER_RATE_LIMIT",
    "ORDER_RETRY",
    "OllamaClient",
    "OllamaError",
    "OllamaTimeoutError",
    "Options",
    "PermissionDeniedError",
    "PluginConfigError",
    "PluginError",
    "PluginHookError",
    "PluginManager",
    "ProgressResponse",
    "ProtocolError",
    "RateLimitError",
    "RateLimitExceededError",
    "RateLimited",
    "ReadError",
    "Request",
    "Response",
    "ResponseError",
    "ResponseTooLargeError",
    "RetryBudgetExhausted",
    "RetryExhausted",
    "RetryScheduled",
    "RunningModelsResponse",
    "ServerError",
    "ServiceUnavailableError",
    "StoreDegraded",
    "StoreRecovered",
    "Stream",
    "StreamCancelledError",
    "StreamError",
    "StreamErrorLine",
    "StreamInterruptedError",
    "StreamMetrics",
    "StreamState",
    "SyncOllamaClient",
    "SyncStream",
    "TagsResponse",
    "Timeouts",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallFunction",
    "ToolFunction",
    "Transport",
    "TransportError",
    "TransportRequest",
    "TransportResponse",
    "Upstream",
    "UpstreamHealthChanged",
    "UpstreamRegistry",
    "__version__",
    "available_plugins",
    "hookimpl",
    "parse_host",
    "parse_retry_after",
]
