"""One attempt: the terminal handler of the middleware chain, the same over any transport.

:class:`Attempts` turns a :class:`~ollama_core.Request` into a
:class:`~ollama_core._transports.base.TransportRequest`, hands it to the client's
:class:`~ollama_core.Transport` (which only moves bytes) and reads the answer by the
client's rules: it calls the per-attempt hooks, turns an error status into its
``ResponseError``, bounds a plain body by ``max_body_size``, checks it against its
endpoint's shape (``_shapes``), and for streams decodes NDJSON lines and reads the first
one before returning, which is the commit point described in ``_envelope``. Because all of
this is here, :class:`~ollama_core.MockTransport` replaces only the network.

A plain call to chat, generate, pull, push or create whose body asks for a stream (the
client sends them so unless built with ``stream_on_wire=False``) is read as a stream and
folded into the body ``"stream": false`` would have given (``_aggregate``), so the idle
timeout watches a long generation; to the middleware chain it is one plain attempt.

Timeouts: ``connect`` goes to the transport, and so does ``first_byte`` for a plain call:
the transport bounds the wait for the headers and every wait for body data with it (for
aiohttp, its cheap per-read timer). A stream (and an aggregated call) has ``first_byte``
from sending the request to its first complete line, then ``idle`` for every wait for
data; both, and the call's deadline, are enforced here by one lazily re-armed timer per
stream (``_Watchdog``) that fails the body's pending read, instead of a timer per chunk.
The deadline changes no other limit: it only adds its own.
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from typing import Any, NoReturn

import yarl

from ._aggregate import Aggregator, aggregator_for
from ._exceptions import (
    ClientClosedError,
    DeadlineExceeded,
    FirstByteTimeout,
    IdleTimeout,
    IncompleteStreamError,
    OllamaError,
    ResponseTooLargeError,
    StreamErrorLine,
    response_error_for,
)
from ._envelope import Request, Response, Timeouts
from ._host import basic_auth_header
from . import _json as json_codec
from ._ndjson import DEFAULT_MAX_LINE_LENGTH, NDJSONDecoder
from ._plugin_manager import PluginManager
from ._shapes import decode_body
from ._transports.base import (
    ByteStream,
    Transport,
    TransportRequest,
    TransportResponse,
    transport_error,
)
from ._upstreams import Upstream, UpstreamRegistry
from ._vectors import decode_arrays
from ._version import __version__

__all__ = ["Attempts", "DEFAULT_MAX_BODY_SIZE", "USER_AGENT"]

#: The largest plain body accepted, counted after decompression (64 MiB: three times a
#: 1024 x 1024 embed answer).
DEFAULT_MAX_BODY_SIZE = 64 * 1024 * 1024

USER_AGENT = (f"ollama-core/{__version__} ({platform.machine().lower()} "
              f"{platform.system().lower()}) Python/{sys.version_info[0]}.{sys.version_info[1]}")

# Request bodies are encoded by ``_json`` (msgspec when installed, else the standard
# library); error bodies are rare and stay with json.loads.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads
_encode = json_codec.dumps


class _Watchdog:
    """Fails a stream's reader when one of its time limits passed.

    Until the first line has arrived the limit is ``first_due`` (the first-byte timeout,
    counted from sending the request); after it, ``idle`` seconds since data last came;
    throughout, the call's ``deadline``. ``touch()`` only records the time: the timer
    re-arms itself lazily when it fires early, so a fast stream costs one clock read per
    network read, not a timer per chunk. It ends the pending read through the body's
    ``set_exception``; before the headers are in (``attach``), it cancels the task waiting
    for them instead (``Attempts._await_headers`` turns that into ``TimeoutError``).
    """

    __slots__ = ("_loop", "_first_due", "_first_byte", "_idle", "_deadline", "_fail",
                 "_handle", "_last", "_where", "_started", "task", "expired")

    def __init__(self, fail: Callable[[BaseException], None] | None, first_due: float | None,
                 first_byte: float | None, idle: float | None, deadline: float | None,
                 where: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._first_due = first_due
        self._first_byte = first_byte
        self._idle = idle
        self._deadline = deadline
        self._fail = fail
        self._where = where
        self._last = self._loop.time()
        self._started = False
        self._handle: asyncio.TimerHandle | None = None
        #: Until ``attach``: the task waiting for the headers, cancelled when a limit
        #: passes (``expired`` then tells that cancellation from any other).
        self.task: asyncio.Task[Any] | None = None
        self.expired = False
        self._arm()

    def attach(self, fail: Callable[[BaseException], None]) -> None:
        """The headers are in: from now on a passed limit fails the body's pending read."""
        self._fail = fail

    def _deliver(self, error: BaseException) -> None:
        fail = self._fail
        if fail is not None:
            fail(error)
            return
        self.expired = True
        if self.task is not None:
            self.task.cancel()

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
            self._deliver(
                DeadlineExceeded(f"the call's deadline passed while reading from {self._where}"))
        elif not self._started and self._first_due is not None and now >= self._first_due:
            self._deliver(FirstByteTimeout(
                f"no complete first line from {self._where} within {self._first_byte:g}s "
                f"(first-byte timeout)"))
        elif self._started and self._idle is not None and now >= self._last + self._idle:
            self._deliver(IdleTimeout(
                f"no data from {self._where} for {self._idle:g}s (idle timeout)"))
        else:
            self._arm()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class Attempts:
    """Sends each attempt through ``transport`` and reads its answer. One per client.

    ``timeouts``, ``headers`` (the user's extra headers), ``max_line_length`` and
    ``max_body_size`` are the client's settings; ``closed`` set means nothing more is
    sent (``ClientClosedError``)."""

    def __init__(self, transport: Transport, plugins: PluginManager,
                 upstreams: UpstreamRegistry, *, timeouts: Timeouts,
                 headers: Mapping[str, str] | None = None, api_key: str | None = None,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        self.transport = transport
        self._plugins = plugins
        self._upstreams = upstreams
        self.timeouts = timeouts
        self._api_key = api_key
        self.max_line_length = max_line_length
        self.max_body_size = max_body_size
        self.closed = False
        self._headers: dict[str, str] = {}
        self._wire_headers: dict[str, str] = {}
        self.headers = dict(headers or {})
        # Weak keys: an upstream dropped by failover reconfiguration must not leave a stale
        # Authorization value behind for a new object that happens to reuse its id.
        self._bases: weakref.WeakKeyDictionary[
            Upstream, tuple[yarl.URL, str | None, tuple[str, str, str | None]]] = \
            weakref.WeakKeyDictionary()

    @property
    def headers(self) -> dict[str, str]:
        """The user's extra headers, sent with every request."""
        return self._headers

    @headers.setter
    def headers(self, value: Mapping[str, str]) -> None:
        self._headers = dict(value)
        # What every request starts from: the client's identity, then the user's headers.
        self._wire_headers = {"User-Agent": USER_AGENT, "Accept": "application/json",
                              **self._headers}
        # An Authorization header the user set explicitly (in any letter case) wins over
        # api_key and URL credentials: HTTP header names are case-insensitive, and sending
        # two would leave the server to pick one.
        self._explicit_auth = any(k.lower() == "authorization" for k in self._headers)

    def set_api_key(self, api_key: str | None) -> None:
        self._api_key = api_key
        self._bases.clear()

    def _base(self, upstream: Upstream) -> tuple[str, str, str | None]:
        """(the server for messages, its text prefix for paths, Authorization value)."""
        cached = self._bases.get(upstream)
        if cached is None or cached[0] is not upstream.url or cached[1] != upstream.api_key:
            url = upstream.url.with_user(None)
            key_value = upstream.api_key or self._api_key
            auth = f"Bearer {key_value}" if key_value else basic_auth_header(upstream.url)
            cached = (upstream.url, upstream.api_key, (str(url), str(url).rstrip("/"), auth))
            self._bases[upstream] = cached
        return cached[2]

    async def handle(self, request: Request) -> Response:
        """Send one attempt. Errors are raised as ``OllamaError`` subclasses."""
        if self.closed:
            # Set when the client starts closing: nothing goes on the wire from then on.
            raise ClientClosedError("the client is closed")
        plugins = self._plugins
        upstream = request.upstream or self._upstreams.primary
        where, prefix, auth = self._base(upstream)
        if plugins.has_request_hooks:
            plugins.request(request)
        headers = dict(self._wire_headers)
        if auth is not None and not self._explicit_auth:
            headers["Authorization"] = auth
        if request.headers:
            if auth is not None and "Authorization" in headers and any(
                    k != "Authorization" and k.lower() == "authorization"
                    for k in request.headers):
                del headers["Authorization"]
            headers.update(request.headers)
        data: Any = None
        # A plain call whose body asks for a stream is read as one and folded into a body.
        aggregator = None if request.stream else aggregator_for(request.path, request.json)
        streamed = request.stream or aggregator is not None
        if request.json is not None:
            data = _encode(request.json)
            headers["Content-Type"] = "application/json"
        elif request.data is not None:
            data = request.data if isinstance(request.data, bytes) else request.data()
            headers.setdefault("Content-Type", "application/octet-stream")
        timeouts = request.timeouts or self.timeouts
        # The call's deadline (a reading of the loop's clock) only adds its own limit. A
        # plain call is bounded by it through ``OllamaClient._send``, whose timer spans the
        # whole chain; a stream outlives that timer, so its watchdog enforces it too.
        deadline = request.deadline_at if streamed else None
        first_byte = timeouts.first_byte
        first_due = None
        if streamed and first_byte is not None:
            first_due = asyncio.get_running_loop().time() + first_byte
        # A plain call (the common case) lets the transport bound the wait for the headers
        # and every wait for body data (Ollama sends a plain answer in one piece once it is
        # complete). A stream needs distinct first-byte (to its first line) and idle
        # limits: its watchdog, from sending the request on.
        wire = TransportRequest(request.method, prefix + request.path, headers, data,
                                timeouts.connect, None if streamed else first_byte, where,
                                request)
        transport = self.transport
        watchdog = None
        if streamed and (first_due is not None or timeouts.idle is not None
                         or deadline is not None):
            # One timer for the whole stream, from sending the request: until the headers
            # are in it cancels the wait for them (as ``asyncio.timeout`` would, for a
            # third of the cost), then it bounds an error body, the first line and every
            # later read.
            watchdog = _Watchdog(None, first_due, first_byte, timeouts.idle, deadline, where)
        try:
            if watchdog is None:
                raw = await transport.handle(wire)
            else:
                raw = await self._await_headers(transport, wire, watchdog)
        except Exception as exc:
            if watchdog is not None:
                watchdog.cancel()
            error = transport_error(exc, where)
            if isinstance(error, OllamaError) and plugins.has_request_hooks:
                plugins.error(request, error)
            if isinstance(error, DeadlineExceeded) or (
                    deadline is not None and isinstance(error, TimeoutError)
                    and asyncio.get_running_loop().time() >= deadline):
                raise DeadlineExceeded(f"the call's deadline passed waiting for {where}") \
                    from error
            if error is exc:
                raise
            raise error from exc
        except BaseException:
            if watchdog is not None:
                watchdog.cancel()
            raise
        stream = raw.stream
        if watchdog is not None:
            watchdog.attach(stream.set_exception)
        try:
            return await self._finish(request, raw, upstream, where, watchdog, aggregator)
        except BaseException:
            if watchdog is not None:
                watchdog.cancel()
            stream.close()
            raise

    @staticmethod
    async def _await_headers(transport: Transport, wire: TransportRequest,
                             watchdog: _Watchdog) -> TransportResponse:
        """``transport.handle(wire)``, cancelled by ``watchdog`` when its time limit passes
        first, which then raises the built-in ``TimeoutError`` (as ``asyncio.timeout``
        does, with the same care for a cancellation that comes from elsewhere)."""
        task = asyncio.current_task()
        assert task is not None
        cancelling = task.cancelling()
        watchdog.task = task
        uncancelled = False
        try:
            raw = await transport.handle(wire)
        except asyncio.CancelledError:
            if watchdog.expired:
                uncancelled = True
                if task.uncancel() <= cancelling:
                    raise TimeoutError from None
            raise
        finally:
            watchdog.task = None
            if watchdog.expired and not uncancelled:
                task.uncancel()
        if watchdog.expired:  # the limit passed as the headers came in: too late anyway
            raw.stream.close()
            raise TimeoutError
        return raw

    def _finish(self, request: Request, raw: TransportResponse, upstream: Upstream,
                where: str, watchdog: _Watchdog | None,
                aggregator: Aggregator | None) -> Awaitable[Response]:
        """The headers are in: call the response hook and return the coroutine that reads
        the rest. Not a coroutine itself, so every wake-up of a body read resumes one
        frame less."""
        plugins = self._plugins
        status = raw.status
        if plugins.has_request_hooks:
            plugins.response(request, Response(request, status, raw.headers, upstream=upstream))
        if status >= 400 or (not request.stream and status >= 300):
            return self._error(request, raw, where)
        if aggregator is not None:
            return self._aggregate(request, raw, upstream, where, watchdog, aggregator)
        if not request.stream:
            return self._plain(request, raw, upstream, where)
        return self._first_line(request, raw, upstream, where, watchdog)

    async def _error(self, request: Request, raw: TransportResponse, where: str) -> NoReturn:
        """An error status: its ``ResponseError``, from the body the server sent."""
        body_bytes = await self._read(raw, where, request)
        text = body_bytes.decode("utf-8", "replace")
        body: Any = None
        try:
            body = _loads(body_bytes) if body_bytes.strip() else None
        except (ValueError, RecursionError):  # not JSON, or nested too deep: the text
            body = None
        error = response_error_for(raw.status, body, dict(raw.headers), text)
        if self._plugins.has_request_hooks:
            self._plugins.error(request, error)
        raise error

    async def _plain(self, request: Request, raw: TransportResponse, upstream: Upstream,
                     where: str) -> Response:
        """A plain body, bounded by ``max_body_size`` and decoded as ``request.decode``
        says."""
        body_bytes = await self._read(raw, where, request)
        raw.stream.release()
        if not request.decode:
            return Response(request, raw.status, raw.headers, body=body_bytes,
                            upstream=upstream, byte_counter=[len(body_bytes)])
        try:
            parsed = decode_body(request.endpoint, body_bytes, where) \
                if request.decode is True \
                else decode_arrays(request.endpoint, body_bytes, where)  # "arrays"
        except OllamaError as exc:
            if self._plugins.has_request_hooks:
                self._plugins.error(request, exc)
            raise
        return Response(request, raw.status, raw.headers, body=parsed, upstream=upstream,
                        byte_counter=[len(body_bytes)])

    async def _first_line(self, request: Request, raw: TransportResponse, upstream: Upstream,
                          where: str, watchdog: _Watchdog | None) -> Response:
        """A stream, returned once its first line is in (the commit point)."""
        counter = [0]
        lines = self._lines(request, raw, where, watchdog, counter, request.terminal)
        try:
            first = await lines.__anext__()
        except StopAsyncIteration:  # pragma: no cover - _lines raises instead of ending empty
            raise IncompleteStreamError(f"stream from {where} ended before its first line")
        except BaseException:
            await lines.aclose()
            raise
        return Response(request, raw.status, raw.headers, lines=lines, first=first,
                        abort=raw.stream.close, upstream=upstream, byte_counter=counter)

    async def _read(self, raw: TransportResponse, where: str, request: Request) -> bytes:
        """The whole body. Its waits are already bounded: a plain call's by the
        transport's read timeout, a stream's (an error status) by the stream's watchdog.

        Its size is bounded by ``max_body_size``, counted after decompression: the
        transport inflates as it is read, so reading stops (``ResponseTooLargeError``; the
        caller drops the connection) as soon as the count passes the bound, and no more
        than the bound plus one read is ever held, whatever the compressed size."""
        limit = self.max_body_size
        try:
            length = _content_length(raw.headers)
            # A HEAD answer announces the size of a body it does not send.
            if length is not None and length > limit and request.method != "HEAD" \
                    and "Content-Encoding" not in raw.headers:
                raise self._too_large(request, where, f"announces {length} bytes")
            parts: list[bytes] = []
            size = 0
            stream = raw.stream
            read = stream.read
            while True:
                try:
                    data = await read()
                except Exception as exc:
                    _raise_mapped(stream, exc, "request")
                if not data:
                    break
                size += len(data)
                if size > limit:
                    raise self._too_large(request, where, "goes on past it")
                parts.append(data)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        except OllamaError as exc:
            if self._plugins.has_request_hooks:
                self._plugins.error(request, exc)
            raise

    def _too_large(self, request: Request, where: str, what: str) -> ResponseTooLargeError:
        limit = self.max_body_size
        return ResponseTooLargeError(
            f"{request.endpoint}: the answer from {where} {what}, more than max_body_size "
            f"({limit} bytes, counted after decompression)",
            endpoint=request.endpoint, limit=limit)

    async def _aggregate(self, request: Request, raw: TransportResponse, upstream: Upstream,
                         where: str, watchdog: _Watchdog | None,
                         aggregator: Aggregator) -> Response:
        """Read a whole stream and answer the plain body ``"stream": false`` would have
        given. Every failure happens here, inside the attempt, like a plain call's."""
        # The loop of ``_lines`` (what it does for ``aggregated=True``: no chunk hooks, an
        # error line raises what the plain call would), written out: a plain chat reads a
        # line per token, and an async generator between the reads and the fold costs more
        # per line than the fold itself.
        plugins = self._plugins
        counter = [0]
        # A generation folds every line's text into one body: it is bounded like a plain
        # body, by the bytes it arrived in. A progress call keeps only its last line.
        done_ends = aggregator.terminal == "done"
        limit = self.max_body_size if done_ends else None
        decoder = NDJSONDecoder(self.max_line_length, endpoint=request.endpoint)
        stream = raw.stream
        read = stream.read
        fold = aggregator.fold
        started = False
        ended = False
        try:
            while True:
                try:
                    data = await read()
                except Exception as exc:
                    _raise_mapped(stream, exc, "stream")
                eof = not data
                objs: Iterable[dict[str, Any]]
                if eof:
                    objs = decoder.close()
                else:
                    if watchdog is not None:
                        watchdog.touch()
                    counter[0] += len(data)
                    objs = decoder.feed_batch(data)  # a list if it can: no generator step
                    data = b""  # the decoder keeps what it needs: hold no second copy
                rest = iter(objs)
                first = next(rest, None)
                if first is not None:
                    if not started:
                        started = True
                        if watchdog is not None:
                            watchdog.started()
                    # The bytes counted so far are the same for every line of a batch: if
                    # they are past the bound, its first line already is (unless it is an
                    # error line, which then raises first).
                    if limit is not None and counter[0] > limit and "error" not in first:
                        raise self._too_large(request, where, "goes on past it")
                    last = fold(first, rest)
                    if last is not None:
                        if "error" in last:
                            text = _error_text(last)
                            raise response_error_for(500, {"error": text}, dict(raw.headers),
                                                     text)
                        ended = True
                if ended or eof:
                    break
            if not ended:
                what = '"done": true' if done_ends else '"status": "success"'
                raise IncompleteStreamError(
                    f"stream from {where} ended after {decoder.line_number} lines without "
                    f"{what}")
        except OllamaError as exc:
            if plugins.has_request_hooks:
                plugins.error(request, exc)
            raise
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if ended:
                stream.release()
            else:
                # Unread data would poison a pooled connection: drop it at once.
                stream.close()
        return Response(request, raw.status, raw.headers, body=aggregator.result(),
                        upstream=upstream, byte_counter=counter)

    async def _lines(self, request: Request, raw: TransportResponse, where: str,
                     watchdog: _Watchdog | None, counter: list[int], terminal: str | None
                     ) -> AsyncGenerator[dict[str, Any], None]:
        """The lines of a stream, up to its ``terminal`` line; owns ``watchdog``.

        A plain call read as a stream is folded by ``_aggregate``, which runs the same loop
        without ``stream_chunk`` hooks (no caller sees its lines) and raises what the plain
        call would have for an ``{"error": ...}`` line (Ollama answers it as a 500)."""
        plugins = self._plugins
        chunk_hook = plugins.has_chunk_hook
        ends = terminal is not None
        done_ends = terminal == "done"
        status = raw.status
        decoder = NDJSONDecoder(self.max_line_length, endpoint=request.endpoint)
        stream = raw.stream
        read = stream.read
        started = False
        ended = False
        try:
            while True:
                try:
                    data = await read()
                except Exception as exc:
                    _raise_mapped(stream, exc, "stream")
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
                        raise StreamErrorLine(_error_text(obj), status,
                                              headers=dict(raw.headers), body=obj)
                    if chunk_hook:
                        obj = plugins.stream_chunk(request, obj)
                    if ends and (obj.get("done") is True if done_ends
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
            if watchdog is not None:
                watchdog.cancel()
            if ended:
                stream.release()
            else:
                # Unread data would poison a pooled connection: drop it at once. This is
                # also what tells Ollama to stop generating for an abandoned stream.
                stream.close()

    def __repr__(self) -> str:
        return f"<Attempts via {self.transport!r}>"


def _error_text(line: Mapping[str, Any]) -> str:
    """The message of an ``{"error": ...}`` stream line, as text."""
    message = line["error"]
    return message if isinstance(message, str) else json.dumps(message)


def _raise_mapped(stream: ByteStream, exc: Exception, phase: str) -> NoReturn:
    """Raise what the transport says ``exc`` (raised while reading its body) stands for."""
    if isinstance(exc, OllamaError):
        raise exc
    mapped = stream.map_error(exc, phase)
    if mapped is exc:
        raise exc
    raise mapped from exc


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("Content-Length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
