"""Request caching: identical requests answered from memory, and coalesced while in flight.

The outermost middleware: a hit costs no token, no breaker probe and no network. Which
calls are cached:

- the endpoints listed in ``endpoints`` (default ``["embed", "embeddings", "show"]``,
  deterministic answers); ``"chat"``, ``"generate"``, ``"tags"``, ``"ps"`` and
  ``"version"`` may be added;
- any of those cacheable endpoints for one call with ``extensions={"cache": True}``
  (``client.chat(..., extensions={"cache": True})``), and no call at all with
  ``extensions={"cache": False}`` (no lookup, no store, no coalescing). Endpoints that
  change the server (pull, push, create, copy, delete, blobs) are never cached.

Settings (``plugin_config={"request_caching": {...}}``):

``ttl`` (default ``300``)
    Seconds an answer stays fresh, on the client's clock: an entry stored at ``t`` is
    served until just before ``t + ttl``.
``max_entries`` (default ``1024``) and ``max_bytes`` (default 64 MiB)
    Bounds; the least recently used entries are evicted first (expired ones before
    that). ``max_bytes`` bounds the memory the cache holds: each stored answer counts
    what it really keeps alive (its stored form, its key and its bookkeeping, see
    ``_lru.held_size``), and a stream being recorded counts its recording as it grows,
    making room as storing it would. An answer that cannot fit is not stored; a stream
    whose recording outgrows the bound stops being recorded at once (the caller still
    gets every chunk; the answer is just not cached).
``endpoints``
    See above.

The key (see ``_key``) is the request's method, path and canonical JSON body without
``stream`` and ``keep_alive``, images replaced by their SHA-256. A plain answer is stored
as its decoded body; a stream as its lines, recorded with ``response.tap`` line by line
into one buffer of length-prefixed ``marshal`` images (never as a list of dicts, which
would take about eight times the bytes) and kept only when ``on_done(None)`` reports it
complete (never after an error, a truncation or a cancellation, including a stream
dropped by its caller). What is held is a ``marshal`` image of the decoded JSON: immutable, so
every caller gets its own copy, compact (a float takes 9 bytes, not a 32-byte object) and
an order of magnitude faster to write and read back than JSON text (a 384-float
embedding: about 10 us to store and 14 us per hit, against 200 us and 160 us with
``json``). A stream hit replays the lines (``Response.from_lines``); a plain call
that hits a stored stream gets the lines merged into one answer (content, thinking, tool
calls and logprobs joined, as the server does), and a stream call that hits a plain answer
gets it as a single final chunk. Every answer served from the cache has ``from_cache``
set. Errors are never stored: they are exceptions, and only a 2xx answer is kept.

Single flight: identical plain calls in flight at once share one upstream call (an
``asyncio`` task); its result, or its error, goes to every caller, each getting its own
copy. A caller that is cancelled just stops waiting (the call is shielded); when every
caller has gone the shared call is cancelled, and the client's close cancels and awaits
any that remain, so no task outlives the client. Streams are not coalesced.

Cooperation: retry, failover, the breaker and the rate limiter all sit inside this
middleware, so a miss (or a shared call) is one logical call that they may retry or move
to another server; the key does not include the server, so an answer from any upstream
serves later identical calls. A caller coalesced onto a shared call keeps its own
deadline for its wait (it may give up early); the shared call runs under the deadline of
the call that started it.

Statistics: :meth:`RequestCachingPlugin.stats`; :meth:`RequestCachingPlugin.clear` empties
the cache. Events: ``cache_hit`` (``endpoint``, ``coalesced``: answered by another call in
flight rather than from memory) and ``cache_miss`` (``endpoint``).
"""

from __future__ import annotations

import asyncio
import marshal
import math
import sys
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from ollama_core import (
    ORDER_CACHE,
    Clock,
    Event,
    Handler,
    InvalidConfigError,
    MonotonicClock,
    OllamaClient,
    Request,
    Response,
    hookimpl,
)

from ._key import cache_key
from ._lru import Entry, LRUCache, held_size

__all__ = ["CACHEABLE_ENDPOINTS", "DEFAULT_ENDPOINTS", "RequestCachingPlugin"]

#: Endpoints whose answers depend only on the request (and the server's models).
CACHEABLE_ENDPOINTS = frozenset(
    {"chat", "generate", "embed", "embeddings", "show", "tags", "ps", "version"})
#: Cached without asking: deterministic for a given model.
DEFAULT_ENDPOINTS = ("embed", "embeddings", "show")

_KEYS = ("ttl", "max_entries", "max_bytes", "endpoints")
# In-memory only, of values json.loads produced: marshal's format is private to this
# interpreter, which is all an in-process cache needs.
_dumps = marshal.dumps
_loads = marshal.loads
# A recorded stream: for each line, its marshal image's length (4 bytes, little endian)
# then the image.
_FRAME_LENGTH = 4


def _frame(line: Any) -> bytes:
    image = _dumps(line)
    return len(image).to_bytes(_FRAME_LENGTH, "little") + image


def _unframe(data: bytes | bytearray) -> list[Any]:
    view = memoryview(data)
    lines = []
    at, end = 0, len(view)
    while at < end:
        size = int.from_bytes(view[at:at + _FRAME_LENGTH], "little")
        at += _FRAME_LENGTH
        lines.append(_loads(view[at:at + size]))
        at += size
    return lines


def _config_error(message: str) -> InvalidConfigError:
    return InvalidConfigError(f"request_caching: {message}")


def _parse(config: Mapping[str, Any]) -> tuple[float, int, int, frozenset[str]]:
    if not isinstance(config, Mapping):
        raise _config_error(f"configuration must be a mapping, got {type(config).__name__}")
    for key in config:
        if key not in _KEYS:
            raise _config_error(f"unknown setting {key!r} (known: {', '.join(_KEYS)})")
    ttl = config.get("ttl", 300.0)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not math.isfinite(ttl) \
            or ttl <= 0:
        raise _config_error(f"ttl must be a finite number of seconds > 0, got {ttl!r}")
    bounds: list[int] = []
    for key, default in (("max_entries", 1024), ("max_bytes", 64 * 1024 * 1024)):
        value = config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _config_error(f"{key} must be an integer >= 1, got {value!r}")
        bounds.append(value)
    endpoints = config.get("endpoints", DEFAULT_ENDPOINTS)
    if isinstance(endpoints, str) or not isinstance(endpoints, Sequence | frozenset | set):
        raise _config_error(f"endpoints must be a list of endpoint names, got {endpoints!r}")
    for name in endpoints:
        if not isinstance(name, str) or name not in CACHEABLE_ENDPOINTS:
            raise _config_error(
                f"endpoints: {name!r} cannot be cached (cacheable: "
                f"{', '.join(sorted(CACHEABLE_ENDPOINTS))})")
    return float(ttl), bounds[0], bounds[1], frozenset(endpoints)


def _join_text(lines: list[dict[str, Any]], get: Callable[[dict[str, Any]], Any]) -> str | None:
    parts = [v for v in map(get, lines) if isinstance(v, str) and v]
    return "".join(parts) if parts else None


def _items(value: Any) -> list[Any]:
    # A line is what the server sent: a value that is not a list adds nothing to merge.
    return value if isinstance(value, list) else []


def merge_stream(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One plain answer from the lines of a chat or generate stream: the final line with
    the text, thinking, tool calls and logprobs of every line joined."""
    final = dict(lines[-1])
    if isinstance(final.get("message"), dict):
        messages = [ln["message"] for ln in lines if isinstance(ln.get("message"), dict)]
        message = dict(final["message"])
        message["content"] = _join_text(messages, lambda m: m.get("content")) or ""
        thinking = _join_text(messages, lambda m: m.get("thinking"))
        if thinking is not None:
            message["thinking"] = thinking
        calls = [c for m in messages for c in _items(m.get("tool_calls"))]
        if calls:
            message["tool_calls"] = calls
        final["message"] = message
    elif "response" in final:
        final["response"] = _join_text(lines, lambda ln: ln.get("response")) or ""
        thinking = _join_text(lines, lambda ln: ln.get("thinking"))
        if thinking is not None:
            final["thinking"] = thinking
    logprobs = [p for ln in lines for p in _items(ln.get("logprobs"))]
    if logprobs:
        final["logprobs"] = logprobs
    return final


class _Flight:
    """One shared upstream call and how many callers still wait for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[tuple[Response, bytes | None]]) -> None:
        self.task = task
        self.waiters = 0


class _StreamRecorder:
    """Records a stream's lines as the consumer reads them; stores them if it completes.

    The recording is one ``bytearray`` of framed ``marshal`` images; what it occupies
    (``sys.getsizeof``, growth slack included) is reserved in the cache as it grows, so
    recordings count against ``max_bytes`` like stored answers. It holds no reference to
    the response, so a stream its caller drops is freed at once (and ended, see
    ``Response.abandon``), which releases the reservation."""

    __slots__ = ("cache", "plugin", "key", "endpoint", "buffer", "held")

    def __init__(self, plugin: RequestCachingPlugin, key: bytes, endpoint: str) -> None:
        self.plugin = plugin
        self.cache = plugin._cache
        self.key = key
        self.endpoint = endpoint
        self.buffer: bytearray | None = bytearray()
        self.held = 0

    def tap(self, line: dict[str, Any]) -> None:
        buffer = self.buffer
        if buffer is None:
            return
        try:
            buffer += _frame(line)
        except ValueError:  # a line a chunk hook filled with objects marshal cannot write
            self._stop()
            return
        size = sys.getsizeof(buffer)
        if size > self.held:
            cache = self.cache
            if cache.reserve(size - self.held):
                self.held = size
            else:  # it could never be stored: stop holding the lines now
                self._stop()

    def _stop(self) -> None:
        self.buffer = None
        self.cache.release(self.held)
        self.held = 0

    def done(self, error: BaseException | None) -> None:
        buffer, self.buffer = self.buffer, None
        held, self.held = self.held, 0
        if buffer is None:
            return
        if error is not None or not buffer:
            self.cache.release(held)
            return
        self.plugin._store(self.key, self.endpoint, buffer, True, reserved=held)


class RequestCachingPlugin:
    """In-memory LRU/TTL cache with single flight; see the module docstring.

    Registered by name (``plugins=["request_caching"]``); it is its own middleware.
    """

    name = "request_caching"
    order = ORDER_CACHE

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        ttl, max_entries, max_bytes, endpoints = _parse(config or {})
        self.ttl = ttl
        self.endpoints = endpoints
        self._cache = LRUCache(max_entries, max_bytes)
        self._flights: dict[bytes, _Flight] = {}
        self._tasks: set[asyncio.Task[tuple[Response, bytes | None]]] = set()
        self._clock: Clock = MonotonicClock()
        self._client: OllamaClient | None = None
        self.hits = 0
        self.misses = 0
        self.coalesced = 0

    # -- plugin hooks ------------------------------------------------------------------

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self._clock = client.clock
        self._client = client

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
        return [self]

    @hookimpl
    def ollama_background_tasks(
        self, client: OllamaClient,
    ) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        return [self._lifetime]

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """New settings, applied at once; entries stay (a smaller bound evicts now, a new
        ``ttl`` applies to entries stored from now on)."""
        ttl, max_entries, max_bytes, endpoints = _parse(config)
        self.ttl = ttl
        self.endpoints = endpoints
        self._cache.resize(max_entries, max_bytes)

    async def _lifetime(self) -> None:
        """Runs while the client is open; on close, ends the shared calls still running
        (each was abandoned by every caller or is about to be) and waits for them."""
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks)

    # -- public API --------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """``hits`` (calls answered without their own upstream call: from memory, or by
        an identical call in flight, also counted in ``coalesced``), ``misses`` (calls
        that went upstream), ``evictions``, ``expirations``, ``entries``, ``bytes``
        (memory held by the stored answers), ``recording`` (memory held by streams being
        recorded; ``bytes + recording <= max_bytes``) and ``in_flight`` (shared calls
        running)."""
        cache = self._cache
        return {
            "hits": self.hits,
            "misses": self.misses,
            "coalesced": self.coalesced,
            "evictions": cache.evictions,
            "expirations": cache.expirations,
            "entries": len(cache),
            "bytes": cache.bytes,
            "recording": cache.reserved,
            "in_flight": len(self._flights),
        }

    def clear(self) -> None:
        """Forget every stored answer (calls in flight are not affected)."""
        self._cache.clear()

    def __repr__(self) -> str:
        return (f"RequestCachingPlugin(ttl={self.ttl:g}, entries={len(self._cache)}, "
                f"endpoints={sorted(self.endpoints)})")

    # -- the middleware ----------------------------------------------------------------

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        wanted = request.extensions.get("cache")
        endpoint = request.endpoint
        if wanted is None:
            if endpoint not in self.endpoints:
                return await call_next(request)
        elif not wanted or endpoint not in CACHEABLE_ENDPOINTS:
            return await call_next(request)
        try:
            key = cache_key(request.method, request.path, request.json)
        except (TypeError, ValueError):
            return await call_next(request)  # not JSON: nothing sensible to key on
        entry = self._cache.get(key, self._clock.now())
        if entry is not None:
            self.hits += 1
            self._emit("cache_hit", endpoint, False)
            return _replay(request, entry)
        if request.stream:
            self.misses += 1
            self._emit("cache_miss", endpoint, None)
            response = await call_next(request)
            if 200 <= response.status < 300 and response.is_stream and not response.finished:
                recorder = _StreamRecorder(self, key, endpoint)
                response.tap(recorder.tap)
                response.on_done(recorder.done)
            return response
        flight = self._flights.get(key)
        if flight is not None:
            self.hits += 1
            self.coalesced += 1
            self._emit("cache_hit", endpoint, True)
            return await self._join(key, flight, request, leader=False)
        self.misses += 1
        self._emit("cache_miss", endpoint, None)
        task = asyncio.get_running_loop().create_task(self._fetch(key, request, call_next))
        flight = self._flights[key] = _Flight(task)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._flight_done(key, flight))
        return await self._join(key, flight, request, leader=True)

    async def _fetch(self, key: bytes, request: Request,
                     call_next: Handler) -> tuple[Response, bytes | None]:
        response = await call_next(request)
        data: bytes | None = None
        if response.body is not None and not response.is_stream:
            try:
                data = _dumps(response.body)
            except ValueError:  # not plain JSON data: shared as is, never stored
                return response, None
            if 200 <= response.status < 300:
                self._store(key, request.endpoint, data, False)
        return response, data

    async def _join(self, key: bytes, flight: _Flight, request: Request,
                    *, leader: bool) -> Response:
        flight.waiters += 1
        try:
            response, data = await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                # Everyone left (all cancelled): stop the upstream call, and let a new
                # identical call start afresh instead of joining a dying one.
                flight.task.cancel()
                if self._flights.get(key) is flight:
                    del self._flights[key]
        if leader:
            return response
        return Response(request, response.status, response.headers,
                        body=_loads(data) if data is not None else response.body,
                        upstream=response.upstream)

    def _flight_done(self, key: bytes, flight: _Flight) -> None:
        task = flight.task
        self._tasks.discard(task)
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not task.cancelled():
            # Retrieved here so an error nobody waits for any more is not reported as
            # "never retrieved"; the callers that do wait get it from the task.
            task.exception()

    def _store(self, key: bytes, endpoint: str, data: bytes | bytearray, stream: bool, *,
               reserved: int = 0) -> None:
        now = self._clock.now()
        self._cache.put(key, Entry(endpoint, data, stream, held_size(key, data), now + self.ttl),
                        now, reserved=reserved)

    def _emit(self, name: str, endpoint: str, coalesced: bool | None) -> None:
        client = self._client
        if client is not None and client.plugin_manager.has_event_hook:
            data: dict[str, Any] = {"endpoint": endpoint}
            if coalesced is not None:
                data["coalesced"] = coalesced
            client.emit(Event(name, self.name, self._clock.now(), data))


def _replay(request: Request, entry: Entry) -> Response:
    """A fresh response from a stored entry, in the form the request asks for."""
    if entry.stream:
        lines = _unframe(entry.data)
        response = Response.from_lines(request, lines) if request.stream \
            else Response(request, 200, body=merge_stream(lines))
    else:
        value = _loads(entry.data)
        response = Response.from_lines(request, [value]) if request.stream \
            else Response(request, 200, body=value)
    response.from_cache = True
    return response
