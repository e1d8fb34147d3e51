"""Request caching: identical requests answered from memory, and coalesced while in flight.

The outermost middleware: a hit costs no token, no breaker probe and no network. Which
calls are cached:

- the endpoints listed in ``endpoints`` (by default those with deterministic answers);
  ``"chat"``, ``"generate"``, ``"tags"``, ``"ps"`` and ``"version"`` may be added;
- any of those cacheable endpoints for one call with ``extensions={"cache": True}``
  (``client.chat(..., extensions={"cache": True})``), and no call at all with
  ``extensions={"cache": False}`` (no lookup, no store, no coalescing). Endpoints that
  change the server (pull, push, create, copy, delete, blobs) are never cached.

Settings (``plugin_config={"request_caching": {...}}``, declared with their defaults in
:class:`~ollama_plugins.request_caching._config.RequestCachingConfig`):

``ttl``
    Seconds an answer stays fresh, on the client's clock: an entry stored at ``t`` is
    served until just before ``t + ttl``.
``max_entries`` and ``max_bytes``
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
``stream`` and ``keep_alive``, images replaced by their SHA-256, and the form the answer is
decoded in when it is not plain JSON (an ``embed(..., arrays=True)``'s rows), so each form
is kept apart and a call never gets rows of the other kind. A plain answer is stored
as its decoded body; a stream as its lines, recorded with ``response.tap`` line by line
into one buffer of length-prefixed ``marshal`` images (never as a list of dicts, which
would take about eight times the bytes) and kept only when ``on_done(None)`` reports it
complete (never after an error, a truncation or a cancellation, including a stream
dropped by its caller). What is held is a ``marshal`` image of the decoded JSON: immutable, so
every caller gets its own copy, compact (a float takes 9 bytes, not a 32-byte object) and
an order of magnitude faster to write and read back than JSON text (a 384-float
embedding: about 10 us to store and 14 us per hit, against 200 us and 160 us with
``json``); it never leaves the process: a store outside it holds the answer's JSON form
(``store.StoredAnswer.to_json``). A stream hit replays the lines (``Response.from_lines``); a plain call
that hits a stored stream gets the lines merged into one answer (content, thinking, tool
calls and logprobs joined, as the server does), and a stream call that hits a plain answer
gets it as a single final chunk. Every answer served from the cache has ``from_cache``
set. Errors are never stored: they are exceptions, and only a 2xx answer is kept.

Single flight: identical plain calls in flight at once share one upstream call (an
``asyncio`` task); its result, or its error, goes to every caller, each getting its own
copy. A caller that is cancelled just stops waiting (the call is shielded); when every
caller has gone the shared call is cancelled, and the client's close
(``ollama_client_aclose``) cancels and awaits any that remain, so no task outlives the
client. Streams are not coalesced.

Cooperation: retry, failover, the breaker and the rate limiter all sit inside this
middleware, so a miss (or a shared call) is one logical call that they may retry or move
to another server; the key does not include the server, so an answer from any upstream
serves later identical calls. A caller coalesced onto a shared call keeps its own
deadline for its wait (it may give up early); the shared call runs under the deadline of
the call that started it.

Where the answers live: a *cache store* (``ollama_plugins.request_caching.store``: the
protocol, the stored form of an answer and its portable JSON form, the in-process
default, and what a store shared by several processes may weaken). Give the plugin
another one with ``RequestCachingPlugin(config, store=...)`` or, from another plugin's
``ollama_client_setup``, ``client.plugin(RequestCachingPlugin).use_store(...)``. Single
flight stays in the process.

Shared by a fleet (see :mod:`ollama_plugins.request_caching.redis_store` for how, and
which promises it weakens): ``store`` is ``"memory"`` (this process alone) or a Redis URL;
processes naming the same one and the same ``store_prefix`` share answers, so a call
cached by one is a hit in the others. What Redis holds is JSON, with the ``ttl`` of the
answer and the ``max_entries`` bound. ``store_timeout`` bounds each Redis call;
``store_lease_ttl`` is not used by the cache. When Redis is down or slow the cache fails
open (a ``StoreDegraded`` event and a log line; lookups miss or hit a local store until
``StoreRecovered``): a cache never refuses a call. The password of a Redis URL is never
shown.

Statistics: :meth:`RequestCachingPlugin.stats`; :meth:`RequestCachingPlugin.clear` empties
the cache. Events: ``CacheHit`` (``cache_hit``: ``endpoint``, ``coalesced``: answered by
another call in flight rather than from the store) and ``CacheMiss`` (``cache_miss``:
``endpoint``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ollama_core.ext import (
    CacheHit,
    CacheMiss,
    Clock,
    Handler,
    Middleware,
    MonotonicClock,
    Plugin,
    Request,
    Response,
    hookimpl,
)

from ._config import RequestCachingConfig
from ._middleware import CacheMiddleware
from .store import CacheStore, MemoryCacheStore, StoredAnswer, frame

if TYPE_CHECKING:
    from ollama_core import OllamaClient

__all__ = ["Flight", "RequestCachingPlugin"]

_STORE_KEYS = ("store", "store_prefix", "store_timeout")


class Flight:
    """One shared upstream call and how many callers still wait for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[tuple[Response, StoredAnswer | None]]) -> None:
        self.task = task
        self.waiters = 0


class _StreamRecorder:
    """Records a stream's lines as the consumer reads them; stores them if it completes.

    The recording is one ``bytearray`` of framed ``marshal`` images; what it occupies
    (``sys.getsizeof``, growth slack included) is reserved in the store as it grows, so
    recordings count against ``max_bytes`` like stored answers. It holds no reference to
    the response, so a stream its caller drops is freed at once (and ended, see
    ``Response.abandon``), which releases the reservation."""

    __slots__ = ("plugin", "store", "key", "endpoint", "buffer", "held")

    def __init__(self, plugin: RequestCachingPlugin, key: bytes, endpoint: str) -> None:
        self.plugin = plugin
        self.store = plugin.store
        self.key = key
        self.endpoint = endpoint
        self.buffer: bytearray | None = bytearray()
        self.held = 0

    def tap(self, line: dict[str, Any]) -> None:
        buffer = self.buffer
        if buffer is None:
            return
        try:
            buffer += frame(line)
        except ValueError:  # a line a chunk hook filled with objects marshal cannot write
            self._stop()
            return
        size = sys.getsizeof(buffer)
        if size > self.held:
            if self.store.reserve(size - self.held):
                self.held = size
            else:  # it could never be stored: stop holding the lines now
                self._stop()

    def _stop(self) -> None:
        self.buffer = None
        self.store.release(self.held)
        self.held = 0

    def done(self, error: BaseException | None) -> None:
        buffer, self.buffer = self.buffer, None
        held, self.held = self.held, 0
        if buffer is None:
            return
        if error is not None or not buffer:
            self.store.release(held)
            return
        self.store.put(self.key, StoredAnswer.of_recording(self.endpoint, buffer),
                       self.plugin.ttl, reserved=held)


class RequestCachingPlugin(Plugin[RequestCachingConfig]):
    """LRU/TTL cache with single flight; see the module docstring.

    Registered by name (``plugins=["request_caching"]``). Its answers live in
    :attr:`store` (:class:`~ollama_plugins.request_caching.store.MemoryCacheStore` unless
    another is given to the constructor or to :meth:`use_store`).
    """

    name: ClassVar[str] = "request_caching"
    config_class = RequestCachingConfig

    def __init__(self, config: Mapping[str, Any] | None = None, *,
                 store: CacheStore | None = None) -> None:
        super().__init__(config)
        self._store: CacheStore | None = store
        # A default built before the plugin was attached, on a clock of its own: setup
        # replaces it with one on the client's clock.
        self._provisional = False
        self._retired: list[CacheStore] = []
        self._flights: dict[bytes, Flight] = {}
        self._tasks: set[asyncio.Task[tuple[Response, StoredAnswer | None]]] = set()
        self.hits = 0
        self.misses = 0
        self.coalesced = 0
        self._middleware = CacheMiddleware(self)

    # -- the store ---------------------------------------------------------------------

    @property
    def store(self) -> CacheStore:
        """Where the answers live (see ``store``'s module docstring)."""
        store = self._store
        if store is None:
            store = self._store = MemoryCacheStore(self.max_entries, self.max_bytes,
                                                   self.clock)
            self._provisional = not self.attached
        return store

    def use_store(self, store: CacheStore) -> None:
        """Keep answers in ``store`` from now on (e.g. from another plugin's
        ``ollama_client_setup``); the answers of the previous store are not carried
        over."""
        self._store = store
        self._provisional = False

    @property
    def clock(self) -> Clock:
        """The client's clock (a monotonic one before the plugin is attached)."""
        return super().clock if self.attached else MonotonicClock()

    @property
    def ttl(self) -> float:
        """Seconds an answer stays fresh."""
        return self.settings.ttl

    @property
    def endpoints(self) -> frozenset[str]:
        """The endpoints cached without asking."""
        return self.settings.endpoints

    @property
    def max_entries(self) -> int:
        return self.settings.max_entries

    @property
    def max_bytes(self) -> int:
        return self.settings.max_bytes

    # -- plugin hooks ------------------------------------------------------------------

    def setup(self, client: OllamaClient) -> None:
        if self._store is None or self._provisional:
            self._provisional = False
            self._store = self._build_store(client.clock)

    def _build_store(self, clock: Clock) -> CacheStore:
        settings = self.settings
        if not settings.shared:
            return MemoryCacheStore(self.max_entries, self.max_bytes, clock)
        from .._redis._link import RedisLink  # the redis extra: imported only when named
        from .redis_store import RedisCacheStore

        link = RedisLink(settings.store, timeout=settings.store_timeout, clock=clock,
                         source=self.name, emit=self.emit)
        return RedisCacheStore(link, prefix=settings.store_prefix,
                               max_entries=self.max_entries, max_bytes=self.max_bytes,
                               clock=clock)

    @hookimpl
    def ollama_middlewares(self) -> list[Middleware]:
        return [self._middleware]

    @hookimpl
    async def ollama_client_aclose(self) -> None:
        """The client closes: end the shared calls still running (each was abandoned by
        every caller or is about to be), wait for them, then close the store."""
        await self.aclose_flights()
        retired, self._retired = self._retired, []
        for store in retired:
            await store.aclose()
        await self.store.aclose()

    def config_changed(self, old: RequestCachingConfig) -> None:
        """New settings, applied at once; entries stay (a smaller bound evicts now, a new
        ``ttl`` applies to entries stored from now on). New shared-store settings move
        the cache to a new store, empty as far as this process knows."""
        if self.attached and any(getattr(old, k) != getattr(self.settings, k)
                                 for k in _STORE_KEYS):
            if self._store is not None:
                self._retired.append(self._store)
            self._store = self._build_store(self.client.clock)
        self.store.resize(self.max_entries, self.max_bytes)

    async def aclose_flights(self) -> None:
        """Cancel the shared calls still running and wait for them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    # -- public API --------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """``hits`` (calls answered without their own upstream call: from the store, or
        by an identical call in flight, also counted in ``coalesced``), ``misses`` (calls
        that went upstream), ``in_flight`` (shared calls running) and what the store
        knows: ``evictions``, ``expirations``, ``entries``, ``bytes`` (memory held by the
        stored answers), ``recording`` (memory held by streams being recorded;
        ``bytes + recording <= max_bytes``)."""
        store = self.store.stats()
        return {
            "hits": self.hits,
            "misses": self.misses,
            "coalesced": self.coalesced,
            "evictions": store.get("evictions", 0),
            "expirations": store.get("expirations", 0),
            "entries": store.get("entries", 0),
            "bytes": store.get("bytes", 0),
            "recording": store.get("recording", 0),
            "in_flight": len(self._flights),
        }

    def clear(self) -> None:
        """Forget every stored answer (calls in flight are not affected)."""
        self.store.clear()

    def __repr__(self) -> str:
        return (f"RequestCachingPlugin(ttl={self.ttl:g}, store={self._store!r}, "
                f"endpoints={sorted(self.endpoints)})")

    # -- what the middleware uses ------------------------------------------------------

    def flight(self, key: bytes) -> Flight | None:
        """The shared call in flight for ``key``, if any."""
        return self._flights.get(key)

    def start_flight(self, key: bytes, request: Request, call_next: Handler) -> Flight:
        """Start the shared upstream call for ``key``."""
        task = asyncio.get_running_loop().create_task(self._fetch(key, request, call_next))
        flight = self._flights[key] = Flight(task)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._flight_done(key, flight))
        return flight

    def leave_flight(self, key: bytes, flight: Flight) -> None:
        """Every caller has gone: stop the upstream call, and let a new identical call
        start afresh instead of joining a dying one."""
        flight.task.cancel()
        if self._flights.get(key) is flight:
            del self._flights[key]

    def record_stream(self, key: bytes, endpoint: str, response: Response) -> None:
        """Record a stream as its consumer reads it; store it if it completes."""
        recorder = _StreamRecorder(self, key, endpoint)
        response.tap(recorder.tap)
        response.on_done(recorder.done)

    def hit(self, endpoint: str, coalesced: bool) -> None:
        """Count a call answered without its own upstream call."""
        self.hits += 1
        if coalesced:
            self.coalesced += 1
        if self.wants_events:
            self.emit(CacheHit(time=self.clock.now(), endpoint=endpoint, coalesced=coalesced))

    def miss(self, endpoint: str) -> None:
        """Count a call that goes upstream."""
        self.misses += 1
        if self.wants_events:
            self.emit(CacheMiss(time=self.clock.now(), endpoint=endpoint))

    # -- internals ---------------------------------------------------------------------

    async def _fetch(self, key: bytes, request: Request,
                     call_next: Handler) -> tuple[Response, StoredAnswer | None]:
        response = await call_next(request)
        answer: StoredAnswer | None = None
        if response.body is not None and not response.is_stream:
            try:
                answer = StoredAnswer.of_body(request.endpoint, response.body)
            except ValueError:  # not plain JSON data: shared as is, never stored
                return response, None
            if 200 <= response.status < 300:
                self.store.put(key, answer, self.ttl)
        return response, answer

    def _flight_done(self, key: bytes, flight: Flight) -> None:
        task = flight.task
        self._tasks.discard(task)
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not task.cancelled():
            # Retrieved here so an error nobody waits for any more is not reported as
            # "never retrieved"; the callers that do wait get it from the task.
            task.exception()
