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

import importlib
from typing import TYPE_CHECKING

from ._exceptions import OllamaTimeoutError
from ._version import __version__

if TYPE_CHECKING:
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

#: Where each public name lives. They are imported on first access (PEP 562), so that
#: ``import ollama_core`` (and the command line's ``--help``) does not load aiohttp,
#: marshmallow and pluggy: a program pays for them when it first uses the client.
_LAZY: dict[str, str] = {
    "OllamaClient": "._client",
    "Clock": "._clock",
    "FakeClock": "._clock",
    "MonotonicClock": "._clock",
    "CacheHit": "._events",
    "CacheMiss": "._events",
    "CircuitStateChanged": "._events",
    "Event": "._events",
    "FailedOver": "._events",
    "RateLimited": "._events",
    "RetryBudgetExhausted": "._events",
    "RetryExhausted": "._events",
    "RetryScheduled": "._events",
    "UpstreamHealthChanged": "._events",
    "parse_host": "._host",
    "AllEndpointsFailedError": "._exceptions",
    "AuthenticationError": "._exceptions",
    "BadRequestError": "._exceptions",
    "CircuitOpenError": "._exceptions",
    "ClientClosedError": "._exceptions",
    "ConnectError": "._exceptions",
    "ConnectTimeout": "._exceptions",
    "DeadlineExceeded": "._exceptions",
    "DecodeError": "._exceptions",
    "EventLoopMismatchError": "._exceptions",
    "FirstByteTimeout": "._exceptions",
    "IdleTimeout": "._exceptions",
    "IncompleteStreamError": "._exceptions",
    "InvalidConfigError": "._exceptions",
    "InvalidRequestError": "._exceptions",
    "LineTooLongError": "._exceptions",
    "MalformedLineError": "._exceptions",
    "NotFoundError": "._exceptions",
    "OllamaError": "._exceptions",
    "OllamaTimeoutError": "._exceptions",
    "PermissionDeniedError": "._exceptions",
    "PluginConfigError": "._exceptions",
    "PluginError": "._exceptions",
    "PluginHookError": "._exceptions",
    "ProtocolError": "._exceptions",
    "RateLimitError": "._exceptions",
    "RateLimitExceededError": "._exceptions",
    "ReadError": "._exceptions",
    "ResponseError": "._exceptions",
    "ResponseTooLargeError": "._exceptions",
    "ServerError": "._exceptions",
    "ServiceUnavailableError": "._exceptions",
    "StreamCancelledError": "._exceptions",
    "StreamError": "._exceptions",
    "StreamErrorLine": "._exceptions",
    "StreamInterruptedError": "._exceptions",
    "TransportError": "._exceptions",
    "parse_retry_after": "._exceptions",
    "ORDER_ATTEMPT_OBSERVER": "._middleware",
    "ORDER_BREAKER": "._middleware",
    "ORDER_CACHE": "._middleware",
    "ORDER_CALL_OBSERVER": "._middleware",
    "ORDER_FAILOVER": "._middleware",
    "ORDER_RATE_LIMIT": "._middleware",
    "ORDER_RETRY": "._middleware",
    "Handler": "._middleware",
    "Middleware": "._middleware",
    "MiddlewareChain": "._middleware",
    "Request": "._envelope",
    "Response": "._envelope",
    "Timeouts": "._envelope",
    "NDJSONDecoder": "._ndjson",
    "BUILTIN_PLUGINS": "._plugin_manager",
    "ENTRY_POINT_GROUP": "._plugin_manager",
    "PluginManager": "._plugin_manager",
    "available_plugins": "._plugin_manager",
    "Stream": "._stream",
    "StreamMetrics": "._stream",
    "StreamState": "._stream",
    "SyncOllamaClient": "._sync",
    "SyncStream": "._sync",
    "AiohttpTransport": "._transports",
    "ByteStream": "._transports",
    "IteratorStream": "._transports",
    "MockTransport": "._transports",
    "Transport": "._transports",
    "TransportRequest": "._transports",
    "TransportResponse": "._transports",
    "ChatMessage": "._types",
    "ChatRequest": "._types",
    "ChatResponse": "._types",
    "CreateRequest": "._types",
    "EmbeddingsRequest": "._types",
    "EmbeddingsResponse": "._types",
    "EmbedRequest": "._types",
    "EmbedResponse": "._types",
    "GenerateRequest": "._types",
    "GenerateResponse": "._types",
    "Logprob": "._types",
    "MessageRole": "._types",
    "Metrics": "._types",
    "ModelDetails": "._types",
    "ModelEntry": "._types",
    "ModelInfo": "._types",
    "Options": "._types",
    "ProgressResponse": "._types",
    "RunningModelsResponse": "._types",
    "TagsResponse": "._types",
    "TokenLogprob": "._types",
    "Tool": "._types",
    "ToolCall": "._types",
    "ToolCallFunction": "._types",
    "ToolFunction": "._types",
    "Upstream": "._upstreams",
    "UpstreamRegistry": "._upstreams",
    "hookimpl": ".hookspecs",
}

#: Names kept for backward compatibility: ``name -> (replacement, object)``. Reading one
#: warns once per access site (DeprecationWarning); see CHANGELOG.md.
_DEPRECATED: dict[str, tuple[str, object]] = {
    "TimeoutError": ("OllamaTimeoutError", OllamaTimeoutError),
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
        globals()[name] = value  # later reads are plain attribute reads
        return value
    entry = _DEPRECATED.get(name)
    if entry is None:
        raise AttributeError(f"module 'ollama_core' has no attribute {name!r}")
    import warnings

    replacement, value = entry
    warnings.warn(f"ollama_core.{name} is deprecated: use ollama_core.{replacement}",
                  DeprecationWarning, stacklevel=2)
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
