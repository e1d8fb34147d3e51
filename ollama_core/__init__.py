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
from ._events import Event
from ._host import parse_host
from ._exceptions import (
    AllEndpointsFailedError,
    AuthenticationError,
    BadRequestError,
    CircuitOpenError,
    ConnectError,
    ConnectTimeout,
    DeadlineExceeded,
    FirstByteTimeout,
    IdleTimeout,
    IncompleteStreamError,
    InvalidConfigError,
    InvalidRequestError,
    LineTooLongError,
    MalformedLineError,
    NotFoundError,
    OllamaError,
    PermissionDeniedError,
    PluginError,
    RateLimitError,
    RateLimitExceededError,
    ReadError,
    ResponseError,
    ServerError,
    ServiceUnavailableError,
    StreamCancelledError,
    StreamError,
    StreamErrorLine,
    StreamInterruptedError,
    TimeoutError,
    TransportError,
    parse_retry_after,
)
from ._middleware import (
    ORDER_BREAKER,
    ORDER_CACHE,
    ORDER_FAILOVER,
    ORDER_RATE_LIMIT,
    ORDER_RETRY,
    Handler,
    Middleware,
    MiddlewareChain,
)
from ._models import Request, Response, Timeouts
from ._ndjson import NDJSONDecoder
from ._plugin_manager import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, PluginManager, available_plugins
from ._stream import Stream, StreamMetrics, StreamState
from ._sync import SyncOllamaClient, SyncStream
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
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "AllEndpointsFailedError",
    "AuthenticationError",
    "BUILTIN_PLUGINS",
    "BadRequestError",
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "CircuitOpenError",
    "Clock",
    "ConnectError",
    "ConnectTimeout",
    "CreateRequest",
    "DeadlineExceeded",
    "ENTRY_POINT_GROUP",
    "EmbedRequest",
    "EmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "Event",
    "FakeClock",
    "FirstByteTimeout",
    "GenerateRequest",
    "GenerateResponse",
    "Handler",
    "IdleTimeout",
    "IncompleteStreamError",
    "InvalidConfigError",
    "InvalidRequestError",
    "LineTooLongError",
    "Logprob",
    "MalformedLineError",
    "MessageRole",
    "Metrics",
    "Middleware",
    "MiddlewareChain",
    "ModelDetails",
    "ModelEntry",
    "ModelInfo",
    "MonotonicClock",
    "NDJSONDecoder",
    "NotFoundError",
    "ORDER_BREAKER",
    "ORDER_CACHE",
    "ORDER_FAILOVER",
    "ORDER_RATE_LIMIT",
    "ORDER_RETRY",
    "OllamaClient",
    "OllamaError",
    "Options",
    "PermissionDeniedError",
    "PluginError",
    "PluginManager",
    "ProgressResponse",
    "RateLimitError",
    "RateLimitExceededError",
    "ReadError",
    "Request",
    "Response",
    "ResponseError",
    "RunningModelsResponse",
    "ServerError",
    "ServiceUnavailableError",
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
    "TimeoutError",
    "Timeouts",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallFunction",
    "ToolFunction",
    "TransportError",
    "Upstream",
    "UpstreamRegistry",
    "__version__",
    "available_plugins",
    "hookimpl",
    "parse_host",
    "parse_retry_after",
]
