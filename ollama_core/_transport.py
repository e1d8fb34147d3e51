"""The aiohttp transport: the terminal handler of the middleware chain.

It owns the ``ClientSession`` (the only module that talks to aiohttp), turns a ``Request``
into one HTTP exchange, maps every aiohttp exception through ``map_aiohttp_errors``, calls
the per-attempt hooks, and for streams reads the first NDJSON line before returning, which
is the commit point described in ``_models``.

A plain call to chat, generate, pull, push or create whose body asks for a stream (the
client sends them so unless built with ``stream_on_wire=False``) is read as a stream and
folded into the body ``"stream": false`` would have given (``_aggregate``), so the idle
timeout watches a long generation; to the middleware chain it is one plain attempt.

Timeouts: aiohttp's ``total`` is disabled (it would cut a long generation at 300 s);
``connect`` goes to aiohttp's ``sock_connect``. A plain call lets aiohttp bound the wait
for the headers and every wait for body data with ``first_byte`` (its cheap per-read
timer). A stream (and an aggregated call) has ``first_byte`` from sending the request to
its first complete line, then ``idle`` for every wait for data; both, and the call's
deadline, are enforced by one lazily re-armed timer per stream (``_Watchdog``) instead of
a timer per chunk. The deadline changes no other limit: it only adds its own.
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import weakref
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import aiohttp
import yarl

from ._exceptions import (
    ClientClosedError,
    DeadlineExceeded,
    FirstByteTimeout,
    IdleTimeout,
    IncompleteStreamError,
    OllamaError,
    ResponseTooLargeError,
    StreamErrorLine,
    map_aiohttp_errors,
    response_error_for,
)
from ._host import basic_auth_header
from ._aggregate import Aggregator, aggregator_for
from ._models import Request, Response, Timeouts
from ._ndjson import DEFAULT_MAX_LINE_LENGTH, NDJSONDecoder
from ._shapes import decode_body
from ._plugin_manager import PluginManager
from ._upstreams import Upstream, UpstreamRegistry

__all__ = ["AiohttpTransport", "DEFAULT_MAX_BODY_SIZE", "USER_AGENT"]

#: The largest plain body accepted, counted after decompression (64 MiB: three times a
#: 1024 x 1024 embed answer).
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024

__version__ = "0.1.0"
USER_AGENT = (f"ollama-core/{__version__} ({platform.machine().lower()} "
              f"{platform.system().lower()}) Python/{sys.version_info[0]}.{sys.version_info[1]}")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads


def _earliest(*times: float | None) -> float | None:
    """The earliest of the loop-clock readings given; ``None`` when none is set."""
    set_times = [t for t in times if t is not None]
    return min(set_times) if set_times else None


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


class _Watchdog:
    """Fails a stream's reader when one of its time limits passed.

    Until the first line has arrived the limit is ``first_due`` (the first-byte timeout,
    counted from sending the request); after it, ``idle`` seconds since data last came;
    throughout, the call's ``deadline``. ``touch()`` only records the time: the timer
    re-arms itself lazily when it fires early, so a fast stream costs one clock read per
    network read, not a timer per chunk.
    """

    __slots__ = ("_loop", "_first_due", "_first_byte", "_idle", "_deadline", "_reader",
                 "_handle", "_last", "_where", "_started")

    def __init__(self, reader: aiohttp.StreamReader, first_due: float | None,
                 first_byte: float | None, idle: float | None, deadline: float | None,
                 where: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._first_due = first_due
        self._first_byte = first_byte
        self._idle = idle
        self._deadline = deadline
        self._reader = reader
        self._where = where
        self._last = self._loop.time()
        self._started = False
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _due(self) -> float:
        if self._started:
            due = self._last + self._idle if self._idle is not None else float("inf")
        else:
            due = self._first_due if self._first_due is not None else float("inf")
        if self._deadline is not None:
            due = min(due, self._deadline)
        return due

    def _arm(self) -> None:
        due = self._due()
        self._handle = self._loop.call_at(due, self._fire) if due != float("inf") else None

    def touch(self) -> None:
        self._last = self._loop.time()

    def started(self) -> None:
        """The first line arrived: from now on the idle limit applies."""
        if self._started:
            return
        self._started = True
        self._last = self._loop.time()
        # The idle limit may fall before the first-byte one the timer waits for: lazy
        # re-arming only ever moves a timer later, so this one switch re-arms at once.
        handle = self._handle
        if handle is None or handle.when() > self._due():
            if handle is not None:
                handle.cancel()
            self._arm()

    def _fire(self) -> None:
        self._handle = None
        now = self._loop.time()
        if self._deadline is not None and now >= self._deadline:
            self._reader.set_exception(
                DeadlineExceeded(f"the call's deadline passed while reading from {self._where}"))
        elif not self._started and self._first_due is not None and now >= self._first_due:
            self._reader.set_exception(FirstByteTimeout(
                f"no complete first line from {self._where} within {self._first_byte:g}s "
                f"(first-byte timeout)"))
        elif self._started and self._idle is not None and now >= self._last + self._idle:
            self._reader.set_exception(IdleTimeout(
                f"no data from {self._where} for {self._idle:g}s (idle timeout)"))
        else:
            self._arm()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class AiohttpTransport:
    """Sends ``Request`` objects with aiohttp. One per client; not shared between loops."""

    def __init__(self, plugins: PluginManager, upstreams: UpstreamRegistry, *,
                 timeouts: Timeouts, headers: Mapping[str, str] | None = None,
                 api_key: str | None = None, max_connections: int = 100,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH, ssl: Any = None,
                 trust_env: bool = False, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        self._plugins = plugins
        self._upstreams = upstreams
        self.timeouts = timeouts
        self.headers: dict[str, str] = dict(headers or {})
        self._api_key = api_key
        self._max_connections = max_connections
        self.max_line_length = max_line_length
        self.max_body_size = max_body_size
        self._watch = _ConnectionWatch()
        self._ssl = ssl
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # Weak keys: an upstream dropped by failover reconfiguration must not leave a stale
        # Authorization value behind for a new object that happens to reuse its id.
        self._bases: weakref.WeakKeyDictionary[
            Upstream, tuple[yarl.URL, str | None, tuple[yarl.URL, str, str | None]]] = \
            weakref.WeakKeyDictionary()
        self._aio_timeouts: dict[tuple[float | None, float | None], aiohttp.ClientTimeout] = {}

    def set_api_key(self, api_key: str | None) -> None:
        self._api_key = api_key
        self._bases.clear()

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self._session

    def _get_session(self) -> aiohttp.ClientSession:
        session = self._session
        if session is None or session.closed or self._closed:
            if self._closed:
                # Set when the client starts closing: nothing goes on the wire from then
                # on, and a closed session is never replaced by a new one.
                raise ClientClosedError("the client is closed")
            connector = aiohttp.TCPConnector(limit=self._max_connections, ssl=self._ssl
                                             if self._ssl is not None else True)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None),
                trust_env=self._trust_env,
                headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            )
            # aiohttp silently resends GET/HEAD/PUT/DELETE once when a connection drops
            # (3.14 has no public switch). That would repeat a model deletion behind the
            # retry policy's back and double every failing attempt, so retries are left to
            # the retry plugin alone.
            if hasattr(session, "_retry_connection"):
                session._retry_connection = False
            self._session = session
        return session

    def _base(self, upstream: Upstream) -> tuple[yarl.URL, str, str | None]:
        """(URL without credentials, its text prefix for paths, Authorization value)."""
        cached = self._bases.get(upstream)
        if cached is None or cached[0] is not upstream.url or cached[1] != upstream.api_key:
            url = upstream.url.with_user(None)
            key_value = upstream.api_key or self._api_key
            auth = f"Bearer {key_value}" if key_value else basic_auth_header(upstream.url)
            cached = (upstream.url, upstream.api_key, (url, str(url).rstrip("/"), auth))
            self._bases[upstream] = cached
        return cached[2]

    async def handle(self, request: Request) -> Response:
        """Send one attempt. Errors are raised as ``OllamaError`` subclasses."""
        plugins = self._plugins
        upstream = request.upstream or self._upstreams.primary
        where, prefix, auth = self._base(upstream)
        url = prefix + request.path
        if plugins.has_request_hooks:
            plugins.request(request)
        headers = dict(self.headers)
        if auth is not None:
            headers["Authorization"] = auth
        if request.headers:
            headers.update(request.headers)
        data: Any = None
        # A plain call whose body asks for a stream is read as one and folded into a body.
        aggregator = None if request.stream else aggregator_for(request.path, request.json)
        streamed = request.stream or aggregator is not None
        if request.json is not None:
            data = _dumps(request.json).encode()
            headers["Content-Type"] = "application/json"
        elif request.data is not None:
            data = request.data if isinstance(request.data, bytes) else request.data()
            headers.setdefault("Content-Type", "application/octet-stream")
        timeouts = request.timeouts or self.timeouts
        # The call's deadline (a reading of the loop's clock) only adds its own limit. A
        # plain call is bounded by it through ``OllamaClient._send``, whose timer spans the
        # whole chain; a stream outlives that timer, so its watchdog enforces it too.
        deadline = request.extensions.get("deadline_at") if streamed else None
        first_byte = timeouts.first_byte
        first_due = None
        if streamed and first_byte is not None:
            first_due = asyncio.get_running_loop().time() + first_byte
        session = self._get_session()
        # A plain call (the common case) lets aiohttp bound the wait for the headers and
        # every wait for body data with its cheap per-read timer (sock_read = first_byte:
        # Ollama sends a plain answer in one piece once it is complete). A stream needs
        # distinct first-byte (to its first line) and idle limits: one asyncio timer for
        # the headers here, then the stream's watchdog.
        key = (timeouts.connect, None if streamed else first_byte)
        aio_timeout = self._aio_timeouts.get(key)
        if aio_timeout is None:
            aio_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect,
                                                sock_read=key[1])
            self._aio_timeouts[key] = aio_timeout
        try:
            with map_aiohttp_errors(where, phase="request"):
                if not streamed:
                    resp = await session.request(request.method, url, data=data,
                                                 headers=headers, timeout=aio_timeout)
                else:
                    async with asyncio.timeout_at(_earliest(first_due, deadline)):
                        resp = await session.request(request.method, url, data=data,
                                                     headers=headers, timeout=aio_timeout)
        except BaseException as exc:
            if isinstance(exc, OllamaError) and plugins.has_request_hooks:
                plugins.error(request, exc)
            if isinstance(exc, DeadlineExceeded) or (
                    deadline is not None and isinstance(exc, TimeoutError)
                    and asyncio.get_running_loop().time() >= deadline):
                raise DeadlineExceeded(f"the call's deadline passed waiting for {where}") from exc
            raise
        watchdog = None
        if streamed and (first_due is not None or timeouts.idle is not None
                         or deadline is not None):
            # Started at the headers, so it bounds an error body and the first line too.
            watchdog = _Watchdog(resp.content, first_due, first_byte, timeouts.idle,
                                 deadline, str(where))
        try:
            return await self._finish(request, resp, upstream, where, timeouts, watchdog,
                                      aggregator)
        except BaseException:
            if watchdog is not None:
                watchdog.cancel()
            resp.close()
            raise

    async def _finish(self, request: Request, resp: aiohttp.ClientResponse, upstream: Upstream,
                      where: yarl.URL, timeouts: Timeouts, watchdog: _Watchdog | None,
                      aggregator: Aggregator | None) -> Response:
        plugins = self._plugins
        status = resp.status
        headers = resp.headers
        if plugins.has_request_hooks:
            plugins.response(request, Response(request, status, headers, upstream=upstream))
        if status >= 400 or (not request.stream and status >= 300):
            raw = await self._read(resp, where, request, timeouts)
            text = raw.decode("utf-8", "replace")
            body: Any = None
            try:
                body = _loads(raw) if raw.strip() else None
            except (ValueError, RecursionError):  # not JSON, or nested too deep: the text
                body = None
            error = response_error_for(status, body, dict(headers), text)
            if plugins.has_request_hooks:
                plugins.error(request, error)
            raise error
        if aggregator is not None:
            return await self._aggregate(request, resp, upstream, where, watchdog, aggregator)
        if not request.stream:
            raw = await self._read(resp, where, request, timeouts)
            resp.release()
            if request.extensions.get("raw_body"):
                return Response(request, status, headers, body=raw, upstream=upstream,
                                byte_counter=[len(raw)])
            try:
                parsed = decode_body(request.endpoint, raw, where)
            except OllamaError as exc:
                if plugins.has_request_hooks:
                    plugins.error(request, exc)
                raise
            return Response(request, status, headers, body=parsed, upstream=upstream,
                            byte_counter=[len(raw)])
        counter = [0]
        lines = self._lines(request, resp, where, watchdog, counter, request.terminal)
        try:
            first = await lines.__anext__()
        except StopAsyncIteration:  # pragma: no cover - _lines raises instead of ending empty
            raise IncompleteStreamError(f"stream from {where} ended before its first line")
        except BaseException:
            await lines.aclose()
            raise
        return Response(request, status, headers, lines=lines, first=first, abort=resp.close,
                        upstream=upstream, byte_counter=counter)

    async def _read(self, resp: aiohttp.ClientResponse, where: yarl.URL, request: Request,
                    timeouts: Timeouts) -> bytes:
        """The whole body. Its waits are already bounded: a plain call's by aiohttp's
        per-read timer, a stream's (an error status) by the stream's watchdog.

        Its size is bounded by ``max_body_size``, counted after decompression: aiohttp
        inflates as it is read, so reading stops (``ResponseTooLargeError``; the caller
        drops the connection) as soon as the count passes the bound, and no more than the
        bound plus one read is ever held, whatever the compressed size."""
        limit = self.max_body_size
        try:
            length = resp.content_length
            # A HEAD answer announces the size of a body it does not send.
            if length is not None and length > limit and request.method != "HEAD" \
                    and "Content-Encoding" not in resp.headers:
                raise self._too_large(request, where, f"announces {length} bytes")
            parts: list[bytes] = []
            size = 0
            content = resp.content
            self._watch.watch(resp)
            try:
                with map_aiohttp_errors(where, phase="request"):
                    while data := await content.readany():
                        size += len(data)
                        if size > limit:
                            raise self._too_large(request, where, "goes on past it")
                        parts.append(data)
            finally:
                self._watch.unwatch(resp)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        except OllamaError as exc:
            if self._plugins.has_request_hooks:
                self._plugins.error(request, exc)
            raise

    def _too_large(self, request: Request, where: yarl.URL, what: str) -> ResponseTooLargeError:
        limit = self.max_body_size
        return ResponseTooLargeError(
            f"{request.endpoint}: the answer from {where} {what}, more than max_body_size "
            f"({limit} bytes, counted after decompression)",
            endpoint=request.endpoint, limit=limit)

    async def _aggregate(self, request: Request, resp: aiohttp.ClientResponse,
                         upstream: Upstream, where: yarl.URL, watchdog: _Watchdog | None,
                         aggregator: Aggregator) -> Response:
        """Read a whole stream and answer the plain body ``"stream": false`` would have
        given. Every failure happens here, inside the attempt, like a plain call's."""
        counter = [0]
        lines = self._lines(request, resp, where, watchdog, counter, aggregator.terminal,
                            aggregated=True)
        # A generation folds every line's text into one body: it is bounded like a plain
        # body, by the bytes it arrived in. A progress call keeps only its last line.
        limit = self.max_body_size if aggregator.terminal == "done" else None
        try:
            async for line in lines:
                aggregator.add(line)
                if limit is not None and counter[0] > limit:
                    error = self._too_large(request, where, "goes on past it")
                    if self._plugins.has_request_hooks:
                        self._plugins.error(request, error)
                    raise error
        finally:
            await lines.aclose()
        return Response(request, resp.status, resp.headers, body=aggregator.result(),
                        upstream=upstream, byte_counter=counter)

    async def _lines(self, request: Request, resp: aiohttp.ClientResponse, where: yarl.URL,
                     watchdog: _Watchdog | None, counter: list[int], terminal: str | None,
                     aggregated: bool = False) -> AsyncGenerator[dict[str, Any], None]:
        """The lines of a stream, up to its ``terminal`` line; owns ``watchdog``.

        ``aggregated``: the lines are folded into a plain call's body, which no caller
        sees line by line, so ``stream_chunk`` hooks are not run and an ``{"error": ...}``
        line raises what the plain call would have (Ollama answers it as a 500)."""
        plugins = self._plugins
        chunk_hook = plugins.has_chunk_hook and not aggregated
        status = resp.status
        decoder = NDJSONDecoder(self.max_line_length, endpoint=request.endpoint)
        content = resp.content
        self._watch.watch(resp)
        started = False
        ended = False
        try:
            with map_aiohttp_errors(where, phase="stream"):
                while True:
                    data = await content.readany()
                    eof = not data
                    if eof:
                        objs = decoder.close()
                    else:
                        if watchdog is not None:
                            watchdog.touch()
                        counter[0] += len(data)
                        objs = decoder.feed(data)
                        data = b""  # the decoder keeps what it needs: hold no second copy
                    for obj in objs:
                        if not started:
                            started = True
                            if watchdog is not None:
                                watchdog.started()
                        if "error" in obj:
                            message = obj["error"]
                            text = message if isinstance(message, str) else json.dumps(message)
                            if aggregated:
                                raise response_error_for(500, {"error": text},
                                                         dict(resp.headers), text)
                            raise StreamErrorLine(text, status, headers=dict(resp.headers),
                                                  body=obj)
                        if chunk_hook:
                            obj = plugins.stream_chunk(request, obj)
                        if terminal is not None and (
                                obj.get("done") is True if terminal == "done"
                                else obj.get("status") == terminal):
                            ended = True
                            yield obj
                            return
                        yield obj
                    if eof:
                        break
            if terminal is not None:
                what = '"done": true' if terminal == "done" else '"status": "success"'
                raise IncompleteStreamError(
                    f"stream from {where} ended after {decoder.line_number} lines without "
                    f"{what}")
            ended = True
        except OllamaError as exc:
            if plugins.has_request_hooks:
                plugins.error(request, exc)
            raise
        finally:
            self._watch.unwatch(resp)
            if watchdog is not None:
                watchdog.cancel()
            if ended:
                resp.release()
            else:
                # Unread data would poison a pooled connection: drop it at once. This is
                # also what tells Ollama to stop generating for an abandoned stream.
                resp.close()

    async def aclose(self) -> None:
        """Close the session for good: no later request can open a new one."""
        self._closed = True
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
