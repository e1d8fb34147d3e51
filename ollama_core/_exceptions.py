"""The one exception tree of ollama-core.

::

    OllamaError
    ├── InvalidRequestError          the caller's request is invalid; nothing was sent
    │                                (also a ValueError; ``.field`` names the bad field)
    ├── InvalidConfigError           bad client or plugin configuration (also a ValueError)
    │   └── PluginConfigError        a plugin's setting is unknown or invalid (``.plugin``,
    │                                ``.key``: ``plugin 'retry': max_attempts: ...``)
    ├── ClientClosedError            the client was closed before or during the call
    │                                (also a RuntimeError)
    ├── EventLoopMismatchError       an async client used from another event loop than the
    │                                one it was opened on (also a RuntimeError)
    ├── TransportError               the exchange with the server failed below HTTP
    │   ├── ConnectError             could not connect (also the built-in ConnectionError)
    │   ├── ReadError                the connection broke while reading (also ConnectionError)
    │   │   └── ProtocolError        the peer does not speak valid HTTP (bad status line,
    │   │                            headers, framing or content encoding)
    │   └── OllamaTimeoutError       a timeout fired (also the built-in TimeoutError)
    │       ├── ConnectTimeout       establishing the connection took too long
    │       ├── FirstByteTimeout     the response did not start in time
    │       ├── IdleTimeout          the gap between two stream chunks was too long
    │       └── DeadlineExceeded     the overall deadline of the call passed
    ├── ResponseError                Ollama answered with an error (``.status_code``, ``.error``)
    │   ├── BadRequestError          400
    │   ├── AuthenticationError      401 (``.signin_url`` when Ollama sends one)
    │   ├── PermissionDeniedError    403 (a bare 403 is usually Ollama's Host-header guard)
    │   ├── NotFoundError            404 (model or blob missing)
    │   ├── RateLimitError           429 (``.retry_after`` in seconds, when sent)
    │   └── ServerError              5xx (``ServiceUnavailableError`` for 503)
    ├── DecodeError                  a successful answer is not what its endpoint answers: not
    │                                JSON, nested too deep, or not the expected shape
    │                                (``.endpoint``, ``.excerpt``)
    ├── ResponseTooLargeError        a body grew past ``max_body_size`` once decompressed
    │                                (``.limit``); reading stopped there
    ├── StreamError                  a stream went wrong after it started
    │   ├── StreamErrorLine          an ``{"error": ...}`` line arrived mid-stream (also a
    │   │                            ResponseError, with the HTTP status of the stream)
    │   ├── IncompleteStreamError    the stream ended without ``done: true`` / ``success``
    │   ├── MalformedLineError       a line was not a JSON object (also a DecodeError;
    │   │                            ``.line_number``, ``.excerpt``)
    │   ├── LineTooLongError         a line exceeded the configured bound
    │   ├── StreamInterruptedError   the connection broke mid-stream (also ConnectionError)
    │   └── StreamCancelledError     the stream was cancelled by its consumer
    └── PluginError                  raised on behalf of a plugin
        ├── CircuitOpenError         a breaker refused the call without touching the network
        ├── RateLimitExceededError   the client-side limiter refused or timed out
        ├── AllEndpointsFailedError  failover ran out of endpoints (``.failures`` per URL)
        └── PluginHookError          a transforming hook of ``.plugin`` raised (a bug)

Transports map their library's exceptions into this tree (aiohttp's in
``ollama_core._transports.aiohttp``), raising each ``from`` the original, so it stays
visible as ``__cause__``. Messages never contain credentials: URLs are shown with their
user-info removed and header values are never included.
"""

from __future__ import annotations

import builtins
import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict

__all__ = [
    "AllEndpointsFailedError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ClientClosedError",
    "ConnectError",
    "ConnectTimeout",
    "DeadlineExceeded",
    "DecodeError",
    "EventLoopMismatchError",
    "FirstByteTimeout",
    "IdleTimeout",
    "IncompleteStreamError",
    "InvalidConfigError",
    "InvalidRequestError",
    "LineTooLongError",
    "MalformedLineError",
    "NotFoundError",
    "OllamaError",
    "OllamaTimeoutError",
    "PermissionDeniedError",
    "PluginConfigError",
    "PluginError",
    "PluginHookError",
    "ProtocolError",
    "RateLimitError",
    "RateLimitExceededError",
    "ReadError",
    "ResponseError",
    "ResponseTooLargeError",
    "ServerError",
    "ServiceUnavailableError",
    "StreamCancelledError",
    "StreamError",
    "StreamErrorLine",
    "StreamInterruptedError",
    "TransportError",
    "parse_retry_after",
    "response_error_for",
]


class OllamaError(Exception):
    """Base class of every error ollama-core raises on purpose."""


class InvalidRequestError(OllamaError, ValueError):
    """The request failed validation before anything was sent.

    ``field`` is the dotted path of the first offending field (``"messages.0.role"``),
    ``errors`` the full marshmallow-style mapping of field to messages.
    """

    def __init__(self, message: str, *, field: str | None = None,
                 errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.errors: dict[str, Any] = dict(errors or {})


class InvalidConfigError(OllamaError, ValueError):
    """Client or plugin configuration is invalid (raised when the client is built)."""


class PluginConfigError(InvalidConfigError):
    """A plugin's configuration is invalid: ``plugin '<name>': <key>: <problem>``, or
    ``plugin '<name>': unknown key '<key>' (known: ...)``.

    ``plugin`` is the plugin's name, ``key`` the dotted path of the offending key (``None``
    when the whole section is wrong, e.g. not a mapping) and ``problem`` what is wrong.
    """

    def __init__(self, plugin: str, key: str | None, problem: str, *,
                 name_key: bool = True) -> None:
        where = f"{key}: " if key and name_key else ""
        super().__init__(f"plugin {plugin!r}: {where}{problem}")
        self.plugin = plugin
        self.key = key
        self.problem = problem


class ClientClosedError(OllamaError, RuntimeError):
    """The client was closed: a call made after ``aclose()``/``close()``, or a call (or
    retry backoff) that was still running when the client was closed. Nothing more is sent."""


class EventLoopMismatchError(OllamaError, RuntimeError):
    """An ``OllamaClient`` was used from another event loop than the one it was first used
    on (for example from a second ``asyncio.run``); its connections belong to the first."""


class TransportError(OllamaError):
    """The HTTP exchange failed below the HTTP layer."""


class ConnectError(TransportError, ConnectionError):
    """No connection could be made to the server."""


class ReadError(TransportError, ConnectionError):
    """The connection broke before a complete response was read."""


class ProtocolError(ReadError):
    """The peer does not speak HTTP, or breaks its rules: a bad status line, malformed
    headers, an invalid ``Content-Length``, broken chunked framing, a body that does not
    match its ``Content-Encoding``. A broken connection for every policy (retried like
    one, moved on from by failover, counted by the breaker): whatever answered is not a
    working Ollama. In the middle of a stream the same breakage is a
    :class:`StreamInterruptedError`."""


class OllamaTimeoutError(TransportError, builtins.TimeoutError):
    """A timeout fired. Also a built-in ``TimeoutError`` (and so ``asyncio.TimeoutError``).

    Named so that it never shadows the built-in ``TimeoutError`` inside the package;
    ``ollama_core.TimeoutError`` remains a deprecated alias of it."""


class ConnectTimeout(OllamaTimeoutError):
    """Connecting to the server took longer than the connect timeout."""


class FirstByteTimeout(OllamaTimeoutError):
    """The server did not start its response within the first-byte timeout."""


class IdleTimeout(OllamaTimeoutError):
    """No data arrived on a stream for longer than the idle timeout."""


class DeadlineExceeded(OllamaTimeoutError):
    """The overall deadline of the call passed."""


class ResponseError(OllamaError):
    """Ollama answered with an HTTP error status.

    ``error`` is Ollama's own message (the ``error`` field of its JSON body, or the raw body
    text when it is not JSON), ``status_code`` the HTTP status. ``str()`` follows the
    official client: ``"<error> (status code: <n>)"``.
    """

    def __init__(self, error: str, status_code: int = -1, *,
                 headers: Mapping[str, str] | None = None, body: Any = None) -> None:
        self.error = error
        self.status_code = status_code
        # Case-insensitive, like HTTP itself: "retry-after" and "Retry-After" are one header.
        self.headers: CIMultiDict[str] = CIMultiDict(headers or {})
        self.body = body
        super().__init__(f"{error} (status code: {status_code})")


class BadRequestError(ResponseError):
    """HTTP 400: Ollama rejected the request."""


class AuthenticationError(ResponseError):
    """HTTP 401: the server (or ollama.com behind it) wants credentials."""

    @property
    def signin_url(self) -> str | None:
        """The ``signin_url`` Ollama sends with a 401, if any."""
        if isinstance(self.body, dict):
            url = self.body.get("signin_url")
            return url if isinstance(url, str) else None
        return None


class PermissionDeniedError(ResponseError):
    """HTTP 403. A bare 403 usually means Ollama's Host-header guard refused the request
    (a reverse proxy must rewrite ``Host`` to ``localhost:11434``)."""


class NotFoundError(ResponseError):
    """HTTP 404: the model (or blob) does not exist on the server."""


class RateLimitError(ResponseError):
    """HTTP 429. ``retry_after`` is the server's ``Retry-After`` in seconds, if sent."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class ServerError(ResponseError):
    """HTTP 5xx."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


class ServiceUnavailableError(ServerError):
    """HTTP 503: Ollama's ``server busy, please try again.`` when its queue is full, or the
    cloud's ``Server overloaded, please retry shortly (ref: <id>)`` (sent without
    ``Retry-After``). ``ref`` is that id, to quote when reporting the failure; it is also in
    the message, so logs of ``str(error)`` keep it."""

    @property
    def ref(self) -> str | None:
        """The ``(ref: ...)`` id of the cloud's overload answer, if the message has one."""
        found = _REF.search(self.error)
        return found.group(1) if found else None


def excerpt_of(data: bytes | str, limit: int = 200) -> str:
    """The first ``limit`` characters of a body or line, for messages.

    >>> excerpt_of(b'[[[[', 2)
    '[['
    """
    if isinstance(data, str):
        return data[:limit]
    return data[:limit * 4].decode("utf-8", "replace")[:limit]


class DecodeError(OllamaError):
    """A successful answer is not what its endpoint answers: not JSON, nested deeper than
    the JSON parser allows, or not the shape the endpoint is known to answer (a JSON
    object; ``version`` for ``/api/version``; see ``ollama_core._shapes``).

    ``endpoint`` names the operation (``"chat"``), ``excerpt`` holds the first 200
    characters of the offending body or line. Not retried: the server answered, wrongly.
    """

    def __init__(self, message: str, *, endpoint: str | None, excerpt: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.excerpt = excerpt


class ResponseTooLargeError(OllamaError):
    """A plain body grew past the client's ``max_body_size`` (bytes, counted after
    decompression). Reading stopped at the bound and the connection was dropped, so no
    more than ``limit`` bytes of it were ever held. Never retried: the same request would
    get the same answer."""

    def __init__(self, message: str, *, endpoint: str | None, limit: int) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.limit = limit


class StreamError(OllamaError):
    """A stream failed after it had started."""


class StreamErrorLine(StreamError, ResponseError):
    """An ``{"error": ...}`` line arrived in the middle of a stream."""

    def __init__(self, error: str, status_code: int = 200, *,
                 headers: Mapping[str, str] | None = None, body: Any = None) -> None:
        ResponseError.__init__(self, error, status_code, headers=headers, body=body)


class IncompleteStreamError(StreamError):
    """The stream ended without its terminal line (``done: true`` or ``status: success``)."""


class MalformedLineError(StreamError, DecodeError):
    """A stream line was not a JSON object (invalid JSON, nested too deep, or another JSON
    value). ``line_number`` counts from 1; ``excerpt`` holds the line's first 200
    characters; ``endpoint`` names the operation when known."""

    def __init__(self, message: str, *, line_number: int, excerpt: str,
                 endpoint: str | None = None) -> None:
        DecodeError.__init__(self, message, endpoint=endpoint, excerpt=excerpt)
        self.line_number = line_number


class LineTooLongError(StreamError):
    """A stream line grew past the configured maximum line length."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class StreamInterruptedError(StreamError, ConnectionError):
    """The connection broke in the middle of a stream."""


class StreamCancelledError(StreamError):
    """The stream was cancelled by its consumer (``cancel()`` or a pause timeout)."""


class PluginError(OllamaError):
    """Raised by a plugin on its own behalf."""


class PluginHookError(PluginError):
    """A plugin's hook implementation that transforms (``ollama_prepare_request``,
    ``ollama_request``, ``ollama_stream_chunk``...) raised something other than an
    ``OllamaError``: a bug in ``plugin``, not a verdict on the call. Raised from the
    original exception; ``hook`` names the hook."""

    def __init__(self, message: str, *, plugin: str, hook: str) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.hook = hook


class CircuitOpenError(PluginError):
    """The circuit breaker for ``endpoint`` is open; no request was sent.

    ``retry_at`` is the clock reading at which a probe will be allowed, ``retry_after``
    the seconds left until then when the error was raised.
    """

    def __init__(self, endpoint: str, *, retry_after: float, retry_at: float,
                 upstream: str | None = None) -> None:
        where = f" at {upstream}" if upstream else ""
        super().__init__(
            f"circuit breaker for {endpoint!r}{where} is open; "
            f"next probe allowed in {retry_after:.3f}s"
        )
        self.endpoint = endpoint
        self.upstream = upstream
        self.retry_after = retry_after
        self.retry_at = retry_at


class RateLimitExceededError(PluginError):
    """The client-side rate limiter refused the call (or waited longer than allowed); no
    request was sent.

    ``upstream`` is the server (URL without credentials) whose own limit refused it, when
    limits are kept per server (``per_upstream``), else ``None``: the limit is shared by
    every server, so another one would be refused too. Failover moves on only in the first
    case.
    """

    def __init__(self, message: str, *, endpoint: str, retry_after: float | None = None,
                 upstream: str | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.upstream = upstream


class AllEndpointsFailedError(PluginError):
    """Every failover endpoint failed; ``failures`` maps each URL to its last error."""

    def __init__(self, failures: Mapping[str, BaseException]) -> None:
        self.failures: dict[str, BaseException] = dict(failures)
        detail = "; ".join(f"{url}: {type(e).__name__}: {e}" for url, e in self.failures.items())
        super().__init__(f"all {len(self.failures)} endpoints failed ({detail})")


#: The cloud's overload answer: ``Server overloaded, please retry shortly (ref: <uuid>)``.
_OVERLOADED = re.compile(r"server overloaded\b", re.IGNORECASE)
_REF = re.compile(r"\(ref: ?([^()\s]+)\)")

_STATUS_CLASSES: dict[int, type[ResponseError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def response_error_for(status: int, body: Any, headers: Mapping[str, str] | None = None,
                       text: str | None = None) -> ResponseError:
    """Build the right ``ResponseError`` subclass for an HTTP error status.

    ``body`` is the decoded JSON body if it was JSON, ``text`` the raw text otherwise.
    """
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
    elif text:
        message = text.strip()
    else:
        message = ""
    if not message:
        message = f"HTTP {status}"
        if status == 403:
            message += (" (empty body: Ollama's Host-header guard refuses non-local Host "
                        "headers; a reverse proxy should set Host to localhost:11434)")
    cls = _STATUS_CLASSES.get(status)
    if cls is None:
        if status >= 500:
            # The cloud's overload wording is the 503 condition whatever the status a proxy
            # in between put on it.
            cls = ServiceUnavailableError if _OVERLOADED.match(message) else ServerError
        else:
            cls = ResponseError
    return cls(message, status, headers=headers, body=body if body is not None else text)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    >>> parse_retry_after("2")
    2.0
    >>> parse_retry_after(None) is None
    True
    >>> parse_retry_after("soon") is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return seconds
