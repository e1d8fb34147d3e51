"""What a transport is: the ``Transport`` protocol and the byte-level envelopes it speaks.

A transport only moves bytes. It takes a :class:`TransportRequest` (method, URL, headers,
body, and the two waits it must bound itself) and answers a :class:`TransportResponse`:
the status, the headers and the body as a :class:`ByteStream` it can abort. Everything
else an attempt involves (the per-attempt hooks, error statuses, the body size bound,
NDJSON decoding, the stream commit point, folding a plain call sent as a stream, the
first-byte, idle and deadline limits of streams) is done by the client around any
transport, the same way for all of them (``ollama_core._attempt``).

The client's own transport is :class:`~ollama_core.AiohttpTransport`; tests use
:class:`~ollama_core.MockTransport`. A third one (another HTTP library, a recording proxy)
implements ``handle`` and ``aclose``; :class:`IteratorStream` turns any iterator of bytes
into a ``ByteStream``, and :func:`transport_error` is the generic mapping of a foreign
exception into the ollama-core tree.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .._exceptions import (
    ConnectError,
    FirstByteTimeout,
    IdleTimeout,
    OllamaError,
    ReadError,
    StreamInterruptedError,
)
from .._redact import mask_url

if TYPE_CHECKING:
    from .._envelope import Request

__all__ = ["ByteStream", "IteratorStream", "Transport", "TransportRequest",
           "TransportResponse", "transport_error"]


class TransportRequest:
    """One HTTP exchange, ready for the wire.

    - ``url``: the full URL, without credentials (they are in ``headers``).
    - ``headers``: every header to send (``User-Agent``, ``Authorization``,
      ``Content-Type`` included).
    - ``content``: the body: bytes, an async iterator of bytes (a blob upload), or ``None``.
    - ``connect_timeout``: the longest wait for a connection (``ConnectTimeout``).
    - ``read_timeout``: the longest wait for the headers and for each piece of the body
      (``FirstByteTimeout``; for a body piece, ``ReadError`` or a timeout error). The
      client sets it for plain calls only; a stream's limits are enforced by the client.
    - ``where``: the server, as error messages name it (no credentials).
    - ``request``: the :class:`~ollama_core.Request` this attempt sends (its endpoint,
      JSON body, upstream): read it, do not change it.
    """

    __slots__ = ("method", "url", "headers", "content", "connect_timeout", "read_timeout",
                 "where", "request")

    def __init__(self, method: str, url: str, headers: dict[str, str],
                 content: bytes | AsyncIterator[bytes] | None, connect_timeout: float | None,
                 read_timeout: float | None, where: str, request: Request) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = content
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.where = where
        self.request = request

    def __repr__(self) -> str:
        return f"<TransportRequest {self.method} {self.url}>"


@runtime_checkable
class ByteStream(Protocol):
    """A response body as it arrives.

    ``read()`` is awaited once per piece on the hot path of a stream, so it should be the
    cheapest call the transport has; its failures are translated by ``map_error`` once,
    around the whole read loop, rather than by a wrapper around each read.
    """

    async def read(self) -> bytes:
        """The next piece of the body, of any size; ``b""`` once it has ended."""
        ...

    def set_exception(self, exc: BaseException) -> None:
        """Make the pending read (or, if none is pending, the next one) raise ``exc``.

        The client's timers call it to end a read that waits too long: it must not block
        and must wake a read waiting on the network."""
        ...

    def release(self) -> None:
        """The body was read to its end: the connection may be reused."""
        ...

    def close(self) -> None:
        """Drop the connection at once, even while a read is pending (synchronous)."""
        ...

    def map_error(self, exc: Exception, phase: str) -> BaseException:
        """The ``OllamaError`` that ``exc``, raised by ``read()``, stands for.

        ``phase`` is ``"request"`` (a plain body: ``ReadError`` and kin) or ``"stream"``
        (a stream that started: ``StreamInterruptedError`` and kin). Return
        ``transport_error(exc, where, phase)`` for the generic rule."""
        ...


class TransportResponse:
    """What a transport answers: ``status``, ``headers`` and the body as ``stream``.

    Returned as soon as the headers are in; the client reads the body."""

    __slots__ = ("status", "headers", "stream")

    def __init__(self, status: int, headers: Mapping[str, str], stream: ByteStream) -> None:
        self.status = status
        self.headers = headers
        self.stream = stream

    @classmethod
    def from_bytes(cls, status: int, headers: Mapping[str, str] | None = None,
                   content: bytes | Iterable[bytes] | AsyncIterable[bytes] = b"",
                   *, where: str = "the server") -> TransportResponse:
        """A response whose body is ``content``: bytes, or pieces of it (sync or async)."""
        pieces: Iterable[bytes] | AsyncIterable[bytes] = \
            (content,) if isinstance(content, bytes) else content
        return cls(status, headers or {}, IteratorStream(pieces, where=where))

    def __repr__(self) -> str:
        return f"<TransportResponse {self.status}>"


@runtime_checkable
class Transport(Protocol):
    """Sends one HTTP exchange; the terminal step of every attempt.

    ``handle`` sends the request and returns once the headers are in. Its failures are
    ``OllamaError``\\ s (``ConnectError``, ``ConnectTimeout``, ``ReadError``,
    ``ProtocolError``, ``FirstByteTimeout``...); any other exception is mapped by
    :func:`transport_error`. It must bound its waits by the request's
    ``connect_timeout`` and ``read_timeout``. Cancellation must be let through.

    ``aclose`` releases everything for good: a later ``handle`` raises
    :class:`~ollama_core.ClientClosedError`. The client that was given a transport owns
    it and closes it in its own ``aclose()``. One transport serves one client.
    """

    async def handle(self, request: TransportRequest) -> TransportResponse: ...

    async def aclose(self) -> None: ...


def transport_error(exc: BaseException, where: object, phase: str = "request") -> BaseException:
    """The generic rule for an exception a transport raised that is not an ``OllamaError``.

    - an ``OllamaError`` (or anything that is not an ``Exception``, such as cancellation)
      is returned as it is;
    - the built-in ``TimeoutError`` is a ``FirstByteTimeout`` (an ``IdleTimeout`` in a
      stream);
    - ``ConnectionRefusedError`` before the response is a ``ConnectError``;
    - anything else is a broken exchange: ``ReadError`` before the response started,
      ``StreamInterruptedError`` in a stream.

    The caller raises the result ``from exc``, so the original stays visible.
    """
    if isinstance(exc, OllamaError) or not isinstance(exc, Exception):
        return exc
    url = mask_url(where)
    if isinstance(exc, builtins.TimeoutError):
        if phase == "stream":
            return IdleTimeout(f"no data from {url} within the idle timeout")
        return FirstByteTimeout(f"{url} did not start responding in time")
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if phase == "stream":
        return StreamInterruptedError(f"connection to {url} broke mid-stream: {detail}")
    if isinstance(exc, ConnectionRefusedError):
        return ConnectError(f"cannot connect to {url}: {detail}")
    return ReadError(f"connection to {url} failed: {detail}")


class IteratorStream:
    """A :class:`ByteStream` over an iterator of bytes (sync or async).

    Reading a sync iterator never waits. A read waiting on an async iterator is ended by
    ``set_exception`` or ``close`` by cancelling it (the iterator sees the cancellation),
    so a custom transport built on another library's body iterator gets the client's
    idle and deadline limits without a timer of its own."""

    __slots__ = ("_sync", "_async", "_error", "_reader", "_interrupting", "_on_close",
                 "_where")

    def __init__(self, pieces: Iterable[bytes] | AsyncIterable[bytes], *,
                 on_close: Callable[[], None] | None = None,
                 where: str = "the server") -> None:
        self._sync: Iterator[bytes] | None = None
        self._async: AsyncIterator[bytes] | None = None
        if isinstance(pieces, AsyncIterable):
            self._async = aiter(pieces)
        else:
            self._sync = iter(pieces)
        self._error: BaseException | None = None
        self._reader: asyncio.Task[object] | None = None
        self._interrupting = False
        self._on_close = on_close
        self._where = where

    async def read(self) -> bytes:
        if self._error is not None:
            raise self._error
        if self._sync is not None:
            for piece in self._sync:  # an empty piece is not the end
                if piece:
                    return piece
            return b""
        source = self._async
        if source is None:
            return b""
        task = asyncio.current_task()
        self._reader = task
        try:
            async for piece in source:
                if piece:
                    return piece
            return b""
        except asyncio.CancelledError:
            error = self._failure()  # set while the read was waiting
            if self._interrupting and task is not None and error is not None:
                self._interrupting = False
                if task.uncancel() == 0:  # only our own cancel(): report the error instead
                    raise error from None
            raise
        finally:
            self._reader = None

    def _failure(self) -> BaseException | None:
        return self._error

    def set_exception(self, exc: BaseException) -> None:
        if self._error is not None:
            return
        self._error = exc
        reader = self._reader
        if reader is not None and not self._interrupting:
            self._interrupting = True
            reader.cancel()

    def release(self) -> None:
        self._sync = None
        self._async = None

    def close(self) -> None:
        if self._error is None:
            self.set_exception(ReadError(f"the connection to {mask_url(self._where)} was closed"))
        self._sync = None
        self._async = None
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    def map_error(self, exc: Exception, phase: str) -> BaseException:
        return transport_error(exc, self._where, phase)
