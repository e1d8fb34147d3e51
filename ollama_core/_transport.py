"""The aiohttp transport: the terminal handler of the middleware chain.

It owns the ``ClientSession`` (the only module that talks to aiohttp), turns a ``Request``
into one HTTP exchange, maps every aiohttp exception through ``map_aiohttp_errors``, calls
the per-attempt hooks, and for streams reads the first NDJSON line before returning, which
is the commit point described in ``_models``.

Timeouts: aiohttp's ``total`` is disabled (it would cut a long generation at 300 s);
``connect`` goes to aiohttp's ``sock_connect``; the first-byte timeout wraps sending the
request and receiving the headers; the idle timeout and the overall deadline are enforced
by one lazily re-armed timer per stream (``_Watchdog``) instead of a timer per chunk.
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
    DeadlineExceeded,
    IdleTimeout,
    IncompleteStreamError,
    OllamaError,
    StreamErrorLine,
    map_aiohttp_errors,
    response_error_for,
)
from ._host import basic_auth_header
from ._models import Request, Response, Timeouts
from ._ndjson import DEFAULT_MAX_LINE_LENGTH, NDJSONDecoder
from ._plugin_manager import PluginManager
from ._upstreams import Upstream, UpstreamRegistry

__all__ = ["AiohttpTransport", "USER_AGENT"]

__version__ = "0.1.0"
USER_AGENT = (f"ollama-core/{__version__} ({platform.machine().lower()} "
              f"{platform.system().lower()}) Python/{sys.version_info[0]}.{sys.version_info[1]}")

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_loads = json.loads


class _Watchdog:
    """Fails a stream's reader when it has been idle too long or the deadline passed.

    ``touch()`` only records the time; the timer re-arms itself lazily when it fires
    early, so a fast stream costs one clock read per network read, not a timer per chunk.
    """

    __slots__ = ("_loop", "_idle", "_deadline", "_reader", "_handle", "_last", "_where")

    def __init__(self, reader: aiohttp.StreamReader, idle: float | None,
                 deadline: float | None, where: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._idle = idle
        self._deadline = deadline
        self._reader = reader
        self._where = where
        self._last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _due(self) -> float:
        due = self._last + self._idle if self._idle is not None else float("inf")
        if self._deadline is not None:
            due = min(due, self._deadline)
        return due

    def _arm(self) -> None:
        due = self._due()
        if due != float("inf"):
            self._handle = self._loop.call_at(due, self._fire)

    def touch(self) -> None:
        self._last = self._loop.time()

    def _fire(self) -> None:
        now = self._loop.time()
        if self._deadline is not None and now >= self._deadline:
            self._reader.set_exception(
                DeadlineExceeded(f"the call's deadline passed while reading from {self._where}"))
        elif self._idle is not None and now >= self._last + self._idle:
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
                 trust_env: bool = False) -> None:
        self._plugins = plugins
        self._upstreams = upstreams
        self.timeouts = timeouts
        self.headers: dict[str, str] = dict(headers or {})
        self._api_key = api_key
        self._max_connections = max_connections
        self.max_line_length = max_line_length
        self._ssl = ssl
        self._trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
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
        if session is None or session.closed:
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
        if request.json is not None:
            data = _dumps(request.json).encode()
            headers["Content-Type"] = "application/json"
        elif request.data is not None:
            data = request.data if isinstance(request.data, bytes) else request.data()
            headers.setdefault("Content-Type", "application/octet-stream")
        timeouts = request.timeouts or self.timeouts
        deadline = request.extensions.get("deadline_at")
        first_byte = timeouts.first_byte
        if deadline is not None:
            remaining = deadline - asyncio.get_running_loop().time()
            first_byte = remaining if first_byte is None else min(first_byte, remaining)
        session = self._get_session()
        # A plain call (the common case) lets aiohttp bound each wait for data with its
        # cheap per-read timer (sock_read = first_byte: Ollama sends a plain answer in one
        # piece once it is complete). A stream, or a call with a deadline, needs the
        # distinct first-byte and idle limits, so it pays for an asyncio.timeout here.
        plain = not request.stream and deadline is None
        key = (timeouts.connect, first_byte if plain else None)
        aio_timeout = self._aio_timeouts.get(key)
        if aio_timeout is None:
            aio_timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect,
                                                sock_read=key[1])
            self._aio_timeouts[key] = aio_timeout
        try:
            with map_aiohttp_errors(where, phase="request"):
                if plain:
                    resp = await session.request(request.method, url, data=data,
                                                 headers=headers, timeout=aio_timeout)
                else:
                    async with asyncio.timeout(first_byte):
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
        try:
            return await self._finish(request, resp, upstream, where, timeouts, deadline)
        except BaseException:
            resp.close()
            raise

    async def _finish(self, request: Request, resp: aiohttp.ClientResponse, upstream: Upstream,
                      where: yarl.URL, timeouts: Timeouts, deadline: float | None) -> Response:
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
            except ValueError:
                body = None
            error = response_error_for(status, body, dict(headers), text)
            if plugins.has_request_hooks:
                plugins.error(request, error)
            raise error
        if not request.stream:
            raw = await self._read(resp, where, request, timeouts)
            resp.release()
            if request.extensions.get("raw_body"):
                return Response(request, status, headers, body=raw, upstream=upstream,
                                byte_counter=[len(raw)])
            try:
                parsed = _loads(raw) if raw.strip() else None
            except ValueError as exc:
                from ._exceptions import MalformedLineError

                excerpt = raw[:200].decode("utf-8", "replace")
                raise MalformedLineError(f"response body from {where} is not JSON: {excerpt!r}",
                                         line_number=1, excerpt=excerpt) from exc
            return Response(request, status, headers, body=parsed, upstream=upstream,
                            byte_counter=[len(raw)])
        counter = [0]
        lines = self._lines(request, resp, where, timeouts, deadline, counter)
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
        """The whole body. A plain call is already bounded by aiohttp's per-read timer."""
        with map_aiohttp_errors(where, phase="request"):
            if not request.stream and "deadline_at" not in request.extensions:
                return await resp.read()
            async with asyncio.timeout(timeouts.idle):
                return await resp.read()

    async def _lines(self, request: Request, resp: aiohttp.ClientResponse, where: yarl.URL,
                     timeouts: Timeouts, deadline: float | None,
                     counter: list[int]) -> AsyncGenerator[dict[str, Any], None]:
        plugins = self._plugins
        chunk_hook = plugins.has_chunk_hook
        terminal = request.terminal
        status = resp.status
        decoder = NDJSONDecoder(self.max_line_length)
        content = resp.content
        watchdog = _Watchdog(content, timeouts.idle, deadline, str(where)) \
            if timeouts.idle is not None or deadline is not None else None
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
                        if "error" in obj:
                            message = obj["error"]
                            raise StreamErrorLine(
                                message if isinstance(message, str) else json.dumps(message),
                                status, headers=dict(resp.headers), body=obj)
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
            if watchdog is not None:
                watchdog.cancel()
            if ended:
                resp.release()
            else:
                # Unread data would poison a pooled connection: drop it at once. This is
                # also what tells Ollama to stop generating for an abandoned stream.
                resp.close()

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()
