"""The aiohttp transport, and the one place aiohttp's exceptions are mapped.

:class:`AiohttpTransport` owns the ``ClientSession`` (the only code that talks to aiohttp)
and moves bytes: it sends a :class:`~ollama_core._transports.base.TransportRequest` and
answers the status, the headers and the body reader. What an attempt means (hooks, error
statuses, NDJSON, the stream limits) is the client's business (``ollama_core._attempt``).

Timeouts: aiohttp's ``total`` is disabled (it would cut a long generation at 300 s);
``connect_timeout`` goes to aiohttp's ``sock_connect`` and ``read_timeout`` (set for
plain calls) to ``sock_read``, aiohttp's cheap per-read timer.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any

import aiohttp
from multidict import CIMultiDict, istr

from .._exceptions import (
    ClientClosedError,
    ConnectError,
    ConnectTimeout,
    FirstByteTimeout,
    IdleTimeout,
    InvalidConfigError,
    OllamaError,
    ProtocolError,
    ReadError,
    ResponseError,
    StreamInterruptedError,
    TransportError,
)
from .._redact import mask_url
from .base import TransportRequest, TransportResponse

__all__ = ["AiohttpTransport", "aiohttp_error", "map_aiohttp_errors"]


class _ConnectionWatch:
    """Makes sure reading a body ends when its connection is lost.

    When aiohttp's parser rejects bytes in the middle of a body (a bad chunk header, a
    peer that starts talking garbage), it closes the connection and records the error on
    the connection only: the body reader is never told and, its read timer dropped too,
    waits forever. A callback on the connection's loss hands the reader the error
    instead (``map_aiohttp_errors`` makes it a ``ProtocolError`` or a
    ``StreamInterruptedError``). One callback per connection, for its life, so a
    connection kept alive for many responses does not collect them. One per transport:
    its connections belong to one event loop.
    """

    __slots__ = ("_readers", "_watched")

    def __init__(self) -> None:
        # The body reader of the response each connection is carrying.
        self._readers: weakref.WeakKeyDictionary[Any, aiohttp.StreamReader] = \
            weakref.WeakKeyDictionary()
        self._watched: weakref.WeakSet[Any] = weakref.WeakSet()

    def watch(self, resp: aiohttp.ClientResponse) -> None:
        connection = resp.connection
        protocol = connection.protocol if connection is not None else None
        if protocol is None:  # released: the body is already complete
            return
        if protocol not in self._watched:
            closed = protocol.closed
            if closed is None:  # already lost: aiohttp told the reader itself
                return
            self._watched.add(protocol)
            ref = weakref.ref(protocol)
            closed.add_done_callback(lambda fut: self._lost(ref, fut))
        self._readers[protocol] = resp.content

    def unwatch(self, resp: aiohttp.ClientResponse) -> None:
        connection = resp.connection
        protocol = connection.protocol if connection is not None else None
        if protocol is not None and self._readers.get(protocol) is resp.content:
            del self._readers[protocol]

    def _lost(self, ref: weakref.ref[Any], closed: asyncio.Future[None]) -> None:
        if not closed.cancelled():
            closed.exception()  # retrieved: the loss is reported through the reader
        protocol = ref()
        if protocol is None:
            return
        reader = self._readers.pop(protocol, None)
        if reader is None or reader.is_eof() or reader.exception() is not None:
            return
        error = aiohttp.ClientPayloadError("the connection closed before the body was complete")
        error.__cause__ = protocol.exception()
        reader.set_exception(error)


# aiohttp makes a CIMultiDict of the request's headers, which turns every ``str`` name
# into a new ``istr`` (with its case-folded identity), and keeps it as long as the
# response (``request_info``): about 0.5 KiB per open stream for the client's three
# headers. Handed a CIMultiDict whose names are ``istr`` already, it makes none, so each
# name becomes one once per process here. Names come from the code and the settings; a
# program inventing names without end would only stop having them kept.
_NAMES: dict[str, istr] = {}
_NAMES_KEPT = 256


def _named(headers: Mapping[str, str]) -> CIMultiDict[str]:
    """``headers`` as aiohttp would make them, from names made once."""
    named: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        name = _NAMES.get(key)
        if name is None:
            name = istr(key)
            if len(_NAMES) < _NAMES_KEPT:
                _NAMES[key] = name
        named.add(name, value)
    return named


# aiohttp 3.14's ``StreamReader.readany()`` takes its buffered pieces one at a time, and
# after each one calls the protocol's ``resume_reading()`` (which re-runs the HTTP parser on
# no data) whether or not reading was paused: a streamed chat answer arrives as one HTTP
# chunk per line, so a read of 17 buffered lines made 17 such rounds, about a seventh of
# a plain chat's CPU through aiohttp. ``_AiohttpBody._read_all`` does what ``readany()``
# does with all of them in one step and resumes the protocol at most once, through the
# same fields. They are private, so they are checked once here, and anything else reads
# through ``readany()``.
_READER_FIELDS = ("_buffer", "_buffer_offset", "_size", "_cursor", "_http_chunk_splits",
                  "_low_water", "_low_water_chunks", "_protocol", "_exception", "_eof",
                  "_timer")


def _can_drain(reader_class: type) -> bool:
    """Does ``reader_class`` keep its buffer in the fields ``_drain`` reads and writes?"""
    slots = set(getattr(reader_class, "__slots__", ()))
    return slots.issuperset(_READER_FIELDS) and callable(getattr(reader_class, "_wait", None)) \
        and callable(getattr(reader_class, "_read_nowait", None))


_DRAIN = _can_drain(aiohttp.StreamReader)


def _drain(content: aiohttp.StreamReader) -> bytes:
    """Everything ``content`` holds now (at least one piece, none partly read), as
    ``content._read_nowait(-1)`` returns it, in one step."""
    content._timer.assert_timeout()
    buffer = content._buffer
    data = b"".join(buffer)  # a single piece comes back as it is, not copied
    buffer.clear()
    size = len(data)
    content._size -= size
    cursor = content._cursor = content._cursor + size
    splits = content._http_chunk_splits
    while splits and splits[0] < cursor:  # as aiohttp drops them: no growth per chunk
        splits.popleft()
    if content._size < content._low_water and (
            splits is None or len(splits) < content._low_water_chunks):
        content._protocol.resume_reading()
    return data


class _AiohttpBody:
    """The body of an aiohttp response as a ``ByteStream``.

    ``read`` is ``readany()`` taking every buffered piece at once (``_read_all``), or the
    reader's own ``readany`` where ``_drain`` does not apply; ``set_exception`` is the
    reader's own. The response is watched (``_ConnectionWatch``) from its headers until it
    is released or closed."""

    __slots__ = ("read", "set_exception", "_content", "_resp", "_watch", "_where")

    read: Callable[[], Coroutine[Any, Any, bytes]]
    set_exception: Callable[[BaseException], None]

    def __init__(self, resp: aiohttp.ClientResponse, watch: _ConnectionWatch,
                 where: str) -> None:
        content = resp.content
        self._content = content
        # Decided once per response: an empty body has a reader of another class.
        self.read = self._read_all if _DRAIN and type(content) is aiohttp.StreamReader \
            else content.readany
        self.set_exception = content.set_exception
        self._resp = resp
        self._watch = watch
        self._where = where
        watch.watch(resp)

    async def _read_all(self) -> bytes:
        """``readany()``, with ``_drain`` in place of ``_read_nowait(-1)``."""
        content = self._content
        if content._exception is not None:
            raise content._exception
        while not content._buffer and not content._eof:
            await content._wait("readany")
        if not content._buffer or content._buffer_offset:
            return content._read_nowait(-1)
        return _drain(content)

    def release(self) -> None:
        self._watch.unwatch(self._resp)
        self._resp.release()

    def close(self) -> None:
        self._watch.unwatch(self._resp)
        self._resp.close()

    def map_error(self, exc: Exception, phase: str) -> BaseException:
        return aiohttp_error(exc, self._where, phase)


class AiohttpTransport:
    """Sends requests with aiohttp (one ``ClientSession``, created on first use).

    :param ssl: passed to aiohttp's connector (an ``SSLContext``, or ``False`` to skip
        certificate verification).
    :param max_connections: connection pool size.
    :param trust_env: let aiohttp read proxy settings (``HTTP_PROXY``...) and ``.netrc``.
    :param trace_configs: aiohttp ``TraceConfig`` objects (connection, DNS and pool-wait
        events, as OpenTelemetry's aiohttp instrumentation consumes them).
    :param middlewares: aiohttp client middlewares (``async def mw(request, handler)``),
        run by aiohttp around each HTTP exchange, for instance to sign requests. They
        see every attempt the client sends; retries, failover and the rest stay the
        client's plugins.

    Pass it as ``OllamaClient(transport=AiohttpTransport(...))``; the client then owns
    it and closes it. One transport serves one client on one event loop.
    """

    def __init__(self, *, ssl: Any = None, max_connections: int = 100,
                 trust_env: bool = False,
                 trace_configs: Sequence[aiohttp.TraceConfig] | None = None,
                 middlewares: Sequence[Any] | None = None) -> None:
        if isinstance(max_connections, bool) or not isinstance(max_connections, int) \
                or max_connections < 0:
            raise InvalidConfigError(f"max_connections must be a number of connections "
                                     f"(0 = no limit), got {max_connections!r}")
        self._max_connections = max_connections
        self._ssl = ssl
        self._trust_env = trust_env
        self._trace_configs = list(trace_configs) if trace_configs is not None else None
        self._middlewares = tuple(middlewares) if middlewares is not None else ()
        self._watch = _ConnectionWatch()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._aio_timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The aiohttp session, once the first request has created it."""
        return self._session

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed or self._closed:
            if self._closed:
                # A closed transport never replaces its session with a new one.
                raise ClientClosedError("the client is closed")
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl
                                             if self._ssl is not None else True)
            options: dict[str, Any] = {}
            if self._trace_configs is not None:
                options["trace_configs"] = self._trace_configs
            if self._middlewares:
                options["middlewares"] = self._middlewares
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=self._trust_env,
                **options,
            )
            # aiohttp silently resends GET/HEAD/PUT/DELETE once when a connection drops
            # (3.14 has no public switch). That would repeat a model deletion behind the
            # retry policy's back and double every failing attempt, so retries are left to
            # the retry plugin alone.
            if hasattr(session, "_retry_connection"):
                session._retry_connection = False
            self._session = session
        return session

    async def handle(self, request: TransportRequest) -> TransportResponse:
        """Send ``request``; return once its headers are in."""
        session = self._get_session()
        key = (request.connect_timeout, request.read_timeout)
        aio_timeout = self._aio_timeouts.get(key)
        if aio_timeout is None:
            aio_timeout = aiohttp.ClientTimeout(total=None, sock_connect=key[0],
                                                sock_read=key[1])
            self._aio_timeouts[key] = aio_timeout
        try:
            resp = await session.request(request.method, request.url, data=request.content,
                                         headers=_named(request.headers), timeout=aio_timeout)
        except Exception as exc:
            raise aiohttp_error(exc, request.where, "request") from exc
        return TransportResponse(resp.status, resp.headers,
                                 _AiohttpBody(resp, self._watch, request.where))

    async def aclose(self) -> None:
        """Close the session for good: no later request can open a new one."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def __repr__(self) -> str:
        return f"<AiohttpTransport max_connections={self._max_connections}>"


def aiohttp_error(exc: BaseException, url: object, phase: str = "request") -> BaseException:
    """The ollama-core error that an aiohttp (or socket) exception stands for.

    ``phase`` is ``"connect"`` / ``"request"`` (before the response started) or ``"stream"``
    (reading a body that had already started), which decides between ``ConnectError`` /
    ``ReadError`` and ``StreamInterruptedError``, and which timeout class applies. An
    ``OllamaError``, cancellation and anything that is not an ``Exception`` come back as
    they are. The caller raises the result ``from exc``.

    aiohttp reports a peer that breaks HTTP (a bad status line, bad headers or framing, a
    body its ``Content-Encoding`` cannot decode) as a ``ClientResponseError`` with status
    400, or a ``ClientPayloadError``, caused by its own parser's ``HttpProcessingError``.
    No server sent that 400: it is a :class:`ProtocolError` (mid-stream, a
    :class:`StreamInterruptedError`), never a :class:`BadRequestError`.
    """
    if isinstance(exc, OllamaError) or not isinstance(exc, Exception):
        return exc
    where = mask_url(url)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return ConnectTimeout(f"timed out connecting to {where}")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        if phase == "stream":
            return IdleTimeout(f"no data from {where} within the idle timeout")
        return FirstByteTimeout(f"{where} did not start responding in time")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(f"cannot connect to {where}: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        violation = _http_violation(exc)
        if phase == "stream":
            what = (f"broke HTTP mid-stream: {violation}" if violation
                    else f"broke mid-stream: {exc}")
            return StreamInterruptedError(f"connection to {where} {what}")
        if violation:
            return ProtocolError(f"{where} does not speak valid HTTP: {violation}")
        return ReadError(f"connection to {where} broke before the body was complete: {exc}")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError,
                        aiohttp.ClientConnectionError, ConnectionError)):
        if phase == "stream":
            return StreamInterruptedError(f"connection to {where} broke mid-stream: {exc}")
        if phase == "connect":
            return ConnectError(f"cannot connect to {where}: {exc}")
        return ReadError(f"connection to {where} failed: {exc}")
    if isinstance(exc, builtins.TimeoutError):
        if phase == "stream":
            return IdleTimeout(f"no data from {where} within the idle timeout")
        return FirstByteTimeout(f"{where} did not start responding in time")
    if isinstance(exc, aiohttp.ClientResponseError):
        violation = _http_violation(exc)
        if violation is None:  # a redirect loop, a proxy's refusal: a status the peer sent
            return ResponseError(exc.message or f"HTTP {exc.status}", exc.status)
        if phase == "stream":
            return StreamInterruptedError(
                f"connection to {where} broke HTTP mid-stream: {violation}")
        return ProtocolError(f"{where} does not speak valid HTTP: {violation}")
    if isinstance(exc, aiohttp.ClientError):
        return TransportError(f"HTTP error talking to {where}: {type(exc).__name__}: {exc}")
    return exc


@contextlib.contextmanager
def map_aiohttp_errors(url: object, *, phase: str = "request") -> Iterator[None]:
    """Raise what :func:`aiohttp_error` maps an exception to, ``from`` the original.

    Cancellation and ``OllamaError``\\ s pass unchanged, as does an exception aiohttp
    has no word for."""
    try:
        yield
    except Exception as exc:
        mapped = aiohttp_error(exc, url, phase)
        if mapped is exc:
            raise
        raise mapped from exc


# Body shortfalls: the peer closed before sending what it announced, a broken connection
# rather than broken HTTP.
_SHORT_BODY = (aiohttp.http_exceptions.ContentLengthError,)


def _http_violation(exc: BaseException) -> str | None:
    """What the peer did wrong, when ``exc`` comes from aiohttp's HTTP parser rejecting
    its bytes (one line, at most 200 characters); ``None`` for anything else."""
    cause = exc.__cause__
    if not isinstance(cause, aiohttp.http_exceptions.HttpProcessingError) \
            or isinstance(cause, _SHORT_BODY):
        return None
    message = " ".join(str(cause.message or type(cause).__name__).split())
    if isinstance(cause, aiohttp.http_exceptions.TransferEncodingError) \
            and message.startswith("Not enough data"):
        return None  # the connection closed inside a chunk: cut short, not malformed
    return message[:200]
