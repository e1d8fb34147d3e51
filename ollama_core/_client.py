"""``OllamaClient``: the async client, one method per Ollama endpoint.

Every call follows the same path: build the wire body, let plugins normalise it
(``ollama_prepare_request``), validate it with the marshmallow schemas and check that all
of it is JSON (nothing is sent if either fails), then run the middleware chain around the
transport (``_attempt`` over a ``Transport``, aiohttp by default) and type the
result. Streaming methods return a :class:`~ollama_core.Stream` that sends nothing until it
is first read.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Unpack, overload

from . import _logging, _schemas
from ._clock import Clock, MonotonicClock
from ._cloud import CloudRoute
from ._events import Event, EventSubscribers
from ._exceptions import (
    ClientClosedError,
    DeadlineExceeded,
    EventLoopMismatchError,
    InvalidConfigError,
    InvalidRequestError,
    NotFoundError,
    OllamaError,
)
from ._fields import (
    ChatFields,
    ChatStreamFields,
    CreateFields,
    CreateStreamFields,
    EmbeddingsFields,
    EmbedFields,
    GenerateFields,
    GenerateStreamFields,
    check_not_streaming,
    merge_fields,
    model_name,
)
from ._host import check_api_key, check_headers, resolve_base_url
from ._jsoncheck import check_json
from ._middleware import MiddlewareChain
from ._envelope import Request, Response, Timeouts, redact_headers
from ._ndjson import DEFAULT_MAX_LINE_LENGTH
from ._plugin_manager import PluginManager, PluginSpec, plugins_from_env
from ._exceptions import StreamCancelledError
from ._stream import Stream, StreamState
from ._attempt import DEFAULT_MAX_BODY_SIZE, Attempts
from ._transports import AiohttpTransport, Transport
from ._types import _dumped
from ._types import (
    ChatRequest,
    ChatResponse,
    CreateRequest,
    EmbedArraysResponse,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    ModelRecommendationsResponse,
    Options,
    ProgressResponse,
    RunningModelsResponse,
    StatusResponse,
    SystemOneContent,
    SystemOneQuestion,
    SystemOneRequest,
    SystemOneResponse,
    TagsResponse,
    UserResponse,
    WebFetchResponse,
    WebSearchResponse,
)
from ._upstreams import Upstream, UpstreamRegistry
from ._vectors import ARRAYS, rows_as_arrays

__all__ = ["OllamaClient"]

log = logging.getLogger("ollama_core")

T = TypeVar("T")
P = TypeVar("P")
E = TypeVar("E", bound=Event)
TimeoutArg = float | Timeouts | None

_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
# How long aclose() waits for cancelled calls and background tasks to unwind; a task that
# ignores cancellation is logged and left behind rather than hanging the close.
_CLOSE_TIMEOUT = 5.0
_BLOB_CHUNK = 1 << 20


class OllamaClient:
    """Async client for the Ollama API.

    :param base_url: the server; ``None`` reads ``OLLAMA_HOST`` (with Ollama's own parsing
        rules), else ``http://localhost:11434``. ``user:password@`` becomes Basic auth.
    :param timeout: seconds (first byte and idle gap) or a :class:`Timeouts`.
    :param plugins: plugin names (``"full"`` for all built-ins), classes or objects.
        ``None`` (the default) reads ``OLLAMA_CORE_PLUGINS``; an explicit sequence, even
        empty, ignores the environment.
    :param plugin_config: settings by plugin name, e.g. ``{"retry": {"max_attempts": 5}}``;
        when ``plugins`` is ``None``, ``OLLAMA_CORE_PLUGIN_CONFIG`` (JSON) is read too.
    :param headers: extra headers sent with every request.
    :param api_key: sent as ``Authorization: Bearer``; ``None`` reads ``OLLAMA_API_KEY``.
    :param clock: the time source of every policy (tests pass a ``FakeClock``).
    :param max_connections: connection pool size.
    :param max_line_length: longest stream line accepted (bytes).
    :param max_body_size: largest plain answer accepted (bytes, counted after
        decompression; default 64 MiB). Reading stops as soon as a body passes it and the
        call raises :class:`ResponseTooLargeError`.
    :param pause_timeout: default pause timeout of streams (seconds, ``None`` = none).
    :param ssl: passed to aiohttp (an ``SSLContext``, or ``False`` to skip verification).
    :param trust_env: let aiohttp read proxy settings from the environment.
    :param transport: what sends the requests (a :class:`Transport`); ``None`` builds an
        :class:`AiohttpTransport` from ``ssl``, ``max_connections`` and ``trust_env``.
        Pass ``AiohttpTransport(trace_configs=..., middlewares=...)`` for aiohttp tracing
        or client middlewares, or a :class:`MockTransport` in tests. Those three options
        belong to the aiohttp transport: given (other than their defaults) together with
        ``transport``, they are an :class:`InvalidConfigError`. The client closes the
        transport in ``aclose()``.
    :param cloud_url: where ``web_search(cloud=True)`` and ``web_fetch(cloud=True)`` go;
        ``None`` reads ``OLLAMA_CLOUD_URL``, else ``https://ollama.com``.
    :param cloud_api_key: the ollama.com key for those calls; ``None`` reads
        ``OLLAMA_API_KEY``. It is sent to ``cloud_url`` only, outside the middleware chain
        (no retry, failover, breaker, limiter or cache), with none of ``headers``; see
        :meth:`web_search`.
    :param stream_on_wire: send the non-streaming ``chat``, ``generate``, ``pull_model``,
        ``push_model`` and ``create_model`` calls with ``"stream": true`` and fold the
        lines into the same result inside the call (the default), so the idle timeout
        watches a generation of any length. ``False`` sends ``"stream": false``: Ollama
        then writes nothing until generation ends, and ``first_byte`` bounds it all.

    No network activity happens in the constructor; the HTTP session is created on first
    use inside the running event loop, where the plugins are opened too (their
    ``ollama_client_open`` hooks, awaited before the first call goes out; a plugin that
    cannot open fails ``async with`` or that call with ``PluginHookError``). Use ``async
    with`` or ``await client.aclose()``.

    Lifecycle: a client belongs to the event loop it is first used on (its connections and
    background tasks live there). Used from another loop, for example a second
    ``asyncio.run``, it raises :class:`EventLoopMismatchError`: create one client per loop
    and close it before its loop ends (``SyncOllamaClient`` runs its own loop and has no
    such limit). ``aclose()`` ends every call still running with :class:`ClientClosedError`
    (a retry waiting out its backoff included) and every open stream with
    :class:`StreamCancelledError`; nothing is sent once it has started, and any later call
    raises :class:`ClientClosedError`.
    """

    def __init__(self, base_url: str | None = None, timeout: float | Timeouts = 120.0, *,
                 plugins: Sequence[PluginSpec] | str | None = None,
                 plugin_config: Mapping[str, Mapping[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None, api_key: str | None = None,
                 clock: Clock | None = None, max_connections: int = 100,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE,
                 pause_timeout: float | None = None, ssl: Any = None,
                 trust_env: bool = False, stream_on_wire: bool = True,
                 transport: Transport | None = None, cloud_url: str | None = None,
                 cloud_api_key: str | None = None) -> None:
        url = resolve_base_url(base_url)
        if transport is None:
            transport = AiohttpTransport(ssl=ssl, max_connections=max_connections,
                                         trust_env=trust_env)
        else:
            given = [name for name, value, default in (
                ("ssl", ssl, None), ("max_connections", max_connections, 100),
                ("trust_env", trust_env, False)) if value is not default and value != default]
            if given:
                raise InvalidConfigError(
                    f"{', '.join(given)} configure the aiohttp transport and cannot be "
                    f"combined with transport=: pass them to AiohttpTransport(...) instead")
            if not callable(getattr(transport, "handle", None)) \
                    or not callable(getattr(transport, "aclose", None)):
                raise InvalidConfigError(
                    f"transport must have handle() and aclose() (see Transport), got "
                    f"{transport!r}")
        if isinstance(max_body_size, bool) or not isinstance(max_body_size, int) \
                or max_body_size < 1:
            raise InvalidConfigError(
                f"max_body_size must be a positive number of bytes, got {max_body_size!r}")
        # Not a bool() coercion: a string "false" would silently mean True.
        if not isinstance(stream_on_wire, bool):
            raise InvalidConfigError(
                f"stream_on_wire must be True or False, got {stream_on_wire!r}")
        self._stream_on_wire = stream_on_wire
        # Checked here, not at the first call: a CR/LF in a key or header (a key read from
        # a file with its newline) is a configuration error naming the setting.
        if api_key is None:
            api_key = check_api_key(os.environ.get("OLLAMA_API_KEY"), "OLLAMA_API_KEY")
        else:
            api_key = check_api_key(api_key)
        headers = check_headers(headers)
        self._cloud = CloudRoute(cloud_url, cloud_api_key)
        self._clock: Clock = clock if clock is not None else MonotonicClock()
        self.pause_timeout = pause_timeout
        self._upstreams = UpstreamRegistry([Upstream(url)])
        self._plugins = PluginManager()
        self._transport = transport
        self._attempts = Attempts(
            transport, self._plugins, self._upstreams, timeouts=Timeouts.coerce(timeout),
            headers=headers, api_key=api_key, max_line_length=max_line_length,
            max_body_size=max_body_size)
        self._api_key = api_key
        self._tasks: list[tuple[str, asyncio.Task[None]]] = []
        self._opened = False  # bound to its event loop (first use)
        # Every plugin opened and its background tasks started: the one attribute a call
        # checks once the client is open. ``_opening`` is the opening under way, ``_live``
        # the plugins opened, in the order they opened (closed in reverse).
        self._ready = False
        self._opening: asyncio.Task[None] | None = None
        self._live: list[str] = []
        self._closed = False
        self._subscribers = EventSubscribers()
        self._loop: asyncio.AbstractEventLoop | None = None
        # The tasks inside a call (with their nesting depth), the ones aclose() cancelled,
        # and the streams handed out: what aclose() must end.
        self._calls: dict[asyncio.Task[Any], int] = {}
        self._closing_calls: set[asyncio.Task[Any]] = set()
        self._calls_gone: asyncio.Future[None] | None = None
        self._streams: weakref.WeakSet[Stream[Any]] = weakref.WeakSet()
        # What describe_chain() names as the end of the chain.
        self._transport_name = "aiohttp" if isinstance(transport, AiohttpTransport) \
            else type(transport).__name__
        self._chain = MiddlewareChain((), self._attempts.handle, transport=self._transport_name)
        if isinstance(plugins, str):
            plugins = [plugins]
        config = {k: dict(v) for k, v in (plugin_config or {}).items()}
        if plugins is None:
            env_names, env_config = plugins_from_env()
            plugins = env_names
            for name, section in env_config.items():
                config.setdefault(name, dict(section))
        specs = self._plugins.expand(plugins)
        names: list[str] = []
        for spec in specs:
            name, _ = self._plugins.add(spec, config.get(self._plugins.name_of(spec)))
            names.append(name)
        unknown = set(config) - set(names)
        if unknown:
            raise InvalidConfigError(
                f"plugin_config given for plugins that are not enabled: {sorted(unknown)}")
        self._plugins.client_setup(self)
        self._rebuild_chain()

    # -- configuration -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The primary server's URL, without credentials."""
        return self._upstreams.primary.display

    @property
    def clock(self) -> Clock:
        """The time source every policy of this client uses."""
        return self._clock

    @property
    def upstreams(self) -> UpstreamRegistry:
        """The servers this client may talk to (failover and health checks share it)."""
        return self._upstreams

    @property
    def timeouts(self) -> Timeouts:
        return self._attempts.timeouts

    @property
    def headers(self) -> dict[str, str]:
        """Extra headers sent with every request (a copy)."""
        return dict(self._attempts.headers)

    @property
    def cloud_url(self) -> str:
        """Where ``cloud=True`` web calls go, without credentials."""
        return self._cloud.url

    @property
    def plugin_manager(self) -> PluginManager:
        return self._plugins

    @property
    def plugins(self) -> list[str]:
        """Names of the registered plugins."""
        return self._plugins.names()

    @overload
    def plugin(self, name: str) -> Any: ...

    @overload
    def plugin(self, name: type[P]) -> P: ...

    def plugin(self, name: str | type[Any]) -> Any:
        """The registered plugin called ``name``, or, given a class, the registered plugin
        that is an instance of it, typed as such (``client.plugin(RetryPlugin)``).

        :raises KeyError: no such plugin is registered.
        """
        if isinstance(name, str):
            return self._plugins.get(name)
        for registered in self._plugins.names():
            plugin = self._plugins.get(registered)
            if isinstance(plugin, name):
                return plugin
        raise KeyError(name.__qualname__)

    def plugin_config(self, name: str) -> dict[str, Any]:
        return self._plugins.config(name)

    def configure(self, *, timeout: float | Timeouts | None = None,
                  headers: Mapping[str, str] | None = None,
                  api_key: str | None = None, pause_timeout: float | None = None) -> None:
        """Change settings of a live client; calls already running keep theirs.

        Every value is checked before any is applied, so an ``InvalidConfigError`` (a CR/LF
        in a header or the key, a bad header name) leaves the client as it was. An empty
        ``api_key`` removes the key."""
        timeouts = Timeouts.coerce(timeout) if timeout is not None else None
        checked_headers = check_headers(headers) if headers is not None else None
        checked_key = check_api_key(api_key) if api_key is not None else None
        if timeouts is not None:
            self._attempts.timeouts = timeouts
        if checked_headers is not None:
            self._attempts.headers = checked_headers
        if api_key is not None:
            self._api_key = checked_key
            self._attempts.set_api_key(self._api_key)
        if pause_timeout is not None:
            self.pause_timeout = pause_timeout

    def add_plugin(self, plugin: PluginSpec, config: Mapping[str, Any] | None = None) -> str:
        """Register a plugin on a live client and rebuild the middleware chain. On an open
        client the plugin is opened (``ollama_client_open``) and its background tasks
        started at once; calls made meanwhile wait for it."""
        name, _ = self._plugins.add(plugin, config)
        self._plugins.client_setup(self, name)
        self._rebuild_chain()
        self._reopen()
        return name

    async def remove_plugin(self, name: str) -> None:
        """Stop a plugin's background tasks, close it (``ollama_client_aclose`` if it was
        opened, then ``ollama_client_close``), unregister it and rebuild the chain."""
        self._plugins.get(name)  # KeyError before anything is stopped
        await self._stop_tasks(owner=name)
        if name in self._live:
            self._live.remove(name)
            await self._plugins.client_aclose(self, [name], _CLOSE_TIMEOUT)
        # Through pluggy, so the observer guard and subset-of-arguments apply here too.
        self._plugins.client_close(self, name)
        self._plugins.remove(name)
        self._rebuild_chain()

    def configure_plugin(self, name: str, config: Mapping[str, Any]) -> None:
        """Give a registered plugin new settings (validated like at construction)."""
        _, replaced = self._plugins.reconfigure(name, config)
        if replaced:
            self._plugins.client_setup(self, name)
            if name in self._live:
                # A fresh instance: the old one's tasks end, the new one opens.
                self._live.remove(name)
                for owner, task in self._tasks:
                    if owner == name:
                        task.cancel()
                self._tasks = [(o, t) for o, t in self._tasks if o != name]
        self._rebuild_chain()
        if replaced:
            self._reopen()

    def _rebuild_chain(self) -> None:
        self._chain = MiddlewareChain(self._plugins.middlewares(self), self._attempts.handle,
                                      transport=self._transport_name)

    def describe_chain(self) -> str:
        """The middleware chain, outermost first (see ``ollama_core._middleware``)."""
        return self._chain.describe()

    @property
    def wants_events(self) -> bool:
        """Whether any plugin, ``on_event`` callback or enabled reliability logger listens
        to events; lets emitters skip building them."""
        return self._plugins.has_event_hook or bool(self._subscribers) or _logging.enabled()

    def emit(self, event: Event) -> None:
        """Publish an event to every ``ollama_event`` implementation, then to the
        ``on_event`` callbacks subscribed to its class, then log it (``ollama_core._logging``:
        one record on the emitting plugin's logger, ``ollama_core.retry`` ...)."""
        self._plugins.event(self, event)
        if self._subscribers:
            self._subscribers.publish(event)
        _logging.log_event(event)

    @overload
    def on_event(self, callback: Callable[[Event], object]) -> Callable[[], None]: ...

    @overload
    def on_event(self, callback: Callable[[E], object], *kinds: type[E]) -> Callable[[], None]: ...

    def on_event(self, callback: Callable[[Any], object],
                 *kinds: type[Event]) -> Callable[[], None]:
        """Call ``callback(event)`` for every event the plugins emit, or only for events
        of the classes ``kinds`` (``client.on_event(print, UpstreamHealthChanged)``).

        Callbacks run in the client's event loop (for ``SyncOllamaClient``, its loop
        thread), after the plugins' ``ollama_event`` hooks, and must not block; one that
        raises is logged and the others still run. Returns a function that unsubscribes.
        """
        return self._subscribers.add(callback, kinds)

    def __repr__(self) -> str:
        return (f"OllamaClient(base_url={self.base_url!r}, plugins={self.plugins!r}, "
                f"headers={redact_headers(self._attempts.headers)!r})")

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> OllamaClient:
        await self._open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _ensure_open(self) -> None:
        """Refuse a closed client or another event loop; bind the client to the running
        loop on first use."""
        if self._closed:
            raise ClientClosedError("the client is closed")
        loop = asyncio.get_running_loop()
        if not self._opened:
            self._opened = True
            self._loop = loop
        elif loop is not self._loop:
            raise EventLoopMismatchError(
                "this OllamaClient is bound to the event loop it was first used on, and this "
                "is another one (each asyncio.run() starts a new loop): create the client "
                "inside the loop that uses it, or use SyncOllamaClient")

    async def _open(self) -> None:
        """Open the client, or the plugins added since it opened: ``ollama_client_open``
        plugin by plugin, then their background tasks. Every caller waits for the same
        opening; a call made by an open hook itself does not wait for its own opening."""
        self._ensure_open()
        while not self._ready:
            opening = self._begin_open()
            if opening is None or opening is asyncio.current_task():
                return
            try:
                await asyncio.shield(opening)
            except asyncio.CancelledError:
                me = asyncio.current_task()
                if self._closed and opening.cancelled() and (me is None or not me.cancelling()):
                    raise ClientClosedError("the client was closed while it opened") from None
                raise
            self._ensure_open()

    def _begin_open(self) -> asyncio.Task[None] | None:
        """Start opening the plugins not open yet. ``None`` when none has an open hook:
        then their tasks are started here and the client is ready at once."""
        if self._opening is not None:
            return self._opening
        pending = [n for n in self._plugins.names() if n not in self._live]
        if not self._plugins.implementing("ollama_client_open", pending):
            self._live.extend(pending)
            self._start_tasks(pending)
            self._ready = True
            return None
        self._ready = False
        opening = asyncio.get_running_loop().create_task(
            self._open_plugins(pending), name="ollama-core:open")
        self._opening = opening
        opening.add_done_callback(_opening_done)
        return opening

    async def _open_plugins(self, pending: list[str]) -> None:
        try:
            opened = await self._plugins.client_open(self, pending)
        finally:
            self._opening = None
        self._live.extend(opened)
        self._start_tasks(opened)
        live = set(self._live)
        self._ready = all(n in live for n in self._plugins.names())

    def _reopen(self) -> None:
        """After a plugin was added or replaced: open it now if the client is open and
        this is its loop; otherwise the next call does."""
        if not self._opened or self._closed:
            return
        self._ready = False
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            return
        if running is self._loop:
            self._begin_open()

    def _start_tasks(self, names: list[str]) -> None:
        if not names:
            return
        loop = asyncio.get_running_loop()
        for owner, factory in self._plugins.background_tasks(self, names):
            task = loop.create_task(factory(), name=f"ollama-core:{owner}")
            self._tasks.append((owner, task))

    async def _stop_tasks(self, owner: str | None = None) -> None:
        stopping = [t for name, t in self._tasks if owner is None or name == owner]
        self._tasks = [(n, t) for n, t in self._tasks if t not in stopping]
        for task in stopping:
            task.cancel()
        if not stopping:
            return
        done, pending = await asyncio.wait(stopping, timeout=_CLOSE_TIMEOUT)
        for task in pending:
            log.warning("background task %s ignored cancellation for %gs; left running",
                        task.get_name(), _CLOSE_TIMEOUT)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                # a crashed background task must not be lost
                log.warning("background task %s failed: %r", task.get_name(),
                            task.exception())

    async def aclose(self) -> None:
        """End calls and streams still running, stop background tasks, tell plugins, close
        the HTTP session. Idempotent.

        Calls in flight (a retry's backoff included) raise :class:`ClientClosedError`, open
        streams :class:`StreamCancelledError`; nothing is sent once this has started.
        """
        if self._closed:
            return
        self._closed = True
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            await self._shutdown()
        elif loop.is_running():
            # Used from a loop running in another thread: its objects are closed there.
            try:
                await asyncio.wait_for(asyncio.wrap_future(
                    asyncio.run_coroutine_threadsafe(self._shutdown(), loop)), _CLOSE_TIMEOUT)
            except TimeoutError:
                log.warning("closing the client on its own event loop took over %gs; "
                            "left to finish there", _CLOSE_TIMEOUT)
        else:
            # The client's loop has ended: its tasks and connections ended with it, and
            # nothing bound to it can be awaited from here (ollama_client_aclose neither).
            self._attempts.closed = True
            self._cloud.close()
            self._tasks = []
            left = self._plugins.implementing("ollama_client_aclose", self._live)
            if left:
                log.warning("the client's event loop has ended: plugins %s were not closed "
                            "(ollama_client_aclose needs that loop)", left)
            self._live = []
            try:
                self._plugins.client_close(self)
            finally:
                with contextlib.suppress(RuntimeError):  # "Event loop is closed" (aiohttp)
                    await self._transport.aclose()

    async def _shutdown(self) -> None:
        """aclose() on the client's own loop. Everything is stopped before the first
        await, so no call can send another request while the rest is closing."""
        # The transport refuses every request from here on, even one from a task this
        # client does not know about (or one that swallowed its cancellation).
        self._attempts.closed = True
        self._cloud.close()
        current = asyncio.current_task()
        for task in self._calls:
            if task is not current and task not in self._closing_calls:
                self._closing_calls.add(task)
                task.cancel()
        for stream in list(self._streams):
            if stream.state not in (StreamState.COMPLETED, StreamState.FAILED):
                stream._cancel(StreamCancelledError("stream cancelled: the client was closed"))
        try:
            opening = self._opening
            if opening is not None:
                opening.cancel()  # it closes what it opened
                await asyncio.wait([opening], timeout=_CLOSE_TIMEOUT)
            await self._stop_tasks()
            if self._closing_calls:
                gone = self._calls_gone = asyncio.get_running_loop().create_future()
                try:
                    await asyncio.wait_for(gone, _CLOSE_TIMEOUT)
                except TimeoutError:
                    log.warning("calls still running %gs after aclose(); left behind",
                                _CLOSE_TIMEOUT)
                finally:
                    self._calls_gone = None
            live, self._live = self._live, []
            await self._plugins.client_aclose(self, live, _CLOSE_TIMEOUT)
            self._plugins.client_close(self)
        finally:
            await self._transport.aclose()

    def _enter_call(self) -> asyncio.Task[Any] | None:
        """Note that the current task is inside a call, so aclose() can end it."""
        self._ensure_open()
        task = asyncio.current_task()
        if task is not None:
            calls = self._calls
            calls[task] = calls.get(task, 0) + 1
        return task

    def _leave_call(self, task: asyncio.Task[Any] | None,
                    error: BaseException | None, endpoint: str) -> None:
        """Undo ``_enter_call``; turns aclose()'s cancellation into ``ClientClosedError``
        (raised by the caller) unless the task was also cancelled by someone else."""
        if task is None:
            return
        calls = self._calls
        depth = calls[task] - 1
        if depth:
            calls[task] = depth
        else:
            del calls[task]
        closing = self._closing_calls
        if task in closing and (depth == 0 or isinstance(error, asyncio.CancelledError)):
            closing.discard(task)
            gone = self._calls_gone
            if not closing and gone is not None and not gone.done():
                gone.set_result(None)
            # Our cancel() is taken back, delivered or not; another one stays in force.
            if task.uncancel() == 0 and isinstance(error, asyncio.CancelledError):
                raise ClientClosedError(
                    f"{endpoint}: the client was closed during the call") from None

    @property
    def closed(self) -> bool:
        return self._closed

    # -- the request path ----------------------------------------------------------------

    def _prepare(self, endpoint: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """Plugins' normalisation, then validation. Raises before anything is sent.

        The schemas check the fields they know; ``check_json`` then walks the final body
        once, all of it (unknown keys, ``format`` schemas, options), for what the encoder
        would choke on or silently mangle: non-JSON values, NaN/infinities, lone
        surrogates, runaway nesting."""
        self._plugins.prepare_request(self, endpoint, body)
        _check_needs_plugin(endpoint, body)
        wire = _schemas.validate_request(kind, body)
        check_json(wire)
        return wire

    def _request(self, method: str, path: str, endpoint: str, json: Any = None, *,
                 stream: bool = False, terminal: str | None = None,
                 timeout: TimeoutArg = None, idempotent: bool = True,
                 extensions: Mapping[str, Any] | None = None,
                 data: Any = None, decode: bool | Literal["arrays"] = True) -> Request:
        # Positional construction (the fields' order): this runs once per call.
        return Request(method, path, endpoint, json, data, stream, terminal, {}, None,
                       Timeouts.coerce(timeout) if timeout is not None else None,
                       idempotent, dict(extensions) if extensions else {}, 0, None, decode)

    async def _send(self, request: Request) -> Response:
        if not self._ready:
            await self._open()
        task = self._enter_call()
        error: BaseException | None = None
        try:
            timeouts = request.timeouts or self._attempts.timeouts
            if timeouts.deadline is None:
                # A Request sent again must not carry an earlier call's deadline.
                request.deadline_at = None
                return await self._chain(request)
            return await self._send_by_deadline(request, timeouts.deadline)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._leave_call(task, error, request.endpoint)

    async def _send_by_deadline(self, request: Request, deadline: float) -> Response:
        # One timer for the whole chain (retries and backoff included). A stream outlives
        # it once committed: the attempt's watchdog reads ``deadline_at`` for the rest.
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + deadline
        request.deadline_at = deadline_at
        try:
            async with asyncio.timeout_at(deadline_at):
                return await self._chain(request)
        except TimeoutError as exc:
            if isinstance(exc, OllamaError) or loop.time() < deadline_at:
                raise
            raise DeadlineExceeded(
                f"{request.endpoint}: the call's deadline of {deadline:g}s passed") from exc

    async def send(self, request: Request, *, through_middlewares: bool = True) -> Response:
        """Send a hand-built ``Request``; the escape hatch for plugins and odd endpoints.

        With ``through_middlewares=False`` the request goes straight to the transport,
        which is how internal requests (health probes) avoid retries, breakers and limits.
        """
        if through_middlewares:
            return await self._send(request)
        if not self._ready:
            await self._open()
        task = self._enter_call()
        error: BaseException | None = None
        try:
            return await self._attempts.handle(request)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._leave_call(task, error, request.endpoint)

    async def _call(self, request: Request) -> Any:
        response = await self._send(request)
        return response.body

    def _stream(self, request: Request, parse: Callable[[dict[str, Any]], T]) -> Stream[T]:
        if self._closed:
            raise ClientClosedError("the client is closed")
        stream = Stream(_Opener(self, request), parse, clock=self.clock,
                        pause_timeout=self.pause_timeout)
        self._streams.add(stream)
        return stream

    # -- server ----------------------------------------------------------------------------

    async def is_available(self, timeout: float = 2.0) -> bool:
        """Whether the server answers ``GET /`` within ``timeout`` seconds. Never raises
        (except for cancellation); bypasses the middleware chain so no retry delays it."""
        request = self._request("GET", "/", "health", timeout=Timeouts(
            connect=timeout, first_byte=timeout, idle=timeout), decode=False)
        try:
            async with asyncio.timeout(timeout):
                response = await self.send(request, through_middlewares=False)
        except asyncio.CancelledError:
            raise
        except Exception:
            return False
        return 200 <= response.status < 300

    async def version(self) -> str:
        """The server's version (``GET /api/version``)."""
        body = await self._call(self._request("GET", "/api/version", "version"))
        return str(body["version"])

    # -- generation ------------------------------------------------------------------------

    def _chat_request(self, request: ChatRequest | Mapping[str, Any] | None, stream: bool,
                      timeout: TimeoutArg, extensions: Mapping[str, Any] | None,
                      fields: Mapping[str, Any]) -> Request:
        body = _request_body(request, ChatRequest, "chat", stream, fields)
        body["stream"] = stream or self._stream_on_wire
        wire = self._prepare("chat", "chat", body)
        return self._request("POST", "/api/chat", "chat", wire, stream=stream,
                             terminal="done" if stream else None, timeout=timeout,
                             extensions=extensions)

    async def chat(self, request: ChatRequest | Mapping[str, Any] | None = None, *,
                   timeout: TimeoutArg = None, extensions: Mapping[str, Any] | None = None,
                   **fields: Unpack[ChatFields]) -> ChatResponse:
        """``POST /api/chat``: the whole answer at once.

        Sent with ``"stream": true`` and folded into the answer ``"stream": false`` gives
        (``"stream": false`` itself with ``stream_on_wire=False``). The request's fields
        may be given as keywords too (``chat(model="llama3.2", messages=[...])``), alone or
        next to a request, whose values they override; ``stream=True`` is refused: use
        :meth:`chat_stream`."""
        # _send, not _call: one coroutine less on the hottest plain call.
        response = await self._send(self._chat_request(request, False, timeout, extensions,
                                                        fields))
        return ChatResponse.from_dict(response.body)

    def chat_stream(self, request: ChatRequest | Mapping[str, Any] | None = None, *,
                    timeout: TimeoutArg = None, extensions: Mapping[str, Any] | None = None,
                    **fields: Unpack[ChatStreamFields]) -> Stream[ChatResponse]:
        """``POST /api/chat`` with ``"stream": true``; validated now, sent on first read.
        Takes keywords as :meth:`chat` does."""
        return self._stream(self._chat_request(request, True, timeout, extensions, fields),
                            ChatResponse.from_dict)

    def _generate_request(self, request: GenerateRequest | Mapping[str, Any] | None,
                          stream: bool, timeout: TimeoutArg,
                          extensions: Mapping[str, Any] | None,
                          fields: Mapping[str, Any]) -> Request:
        body = _request_body(request, GenerateRequest, "generate", stream, fields)
        body["stream"] = stream or self._stream_on_wire
        wire = self._prepare("generate", "generate", body)
        return self._request("POST", "/api/generate", "generate", wire, stream=stream,
                             terminal="done" if stream else None, timeout=timeout,
                             extensions=extensions)

    async def generate(self, request: GenerateRequest | Mapping[str, Any] | None = None, *,
                       timeout: TimeoutArg = None,
                       extensions: Mapping[str, Any] | None = None,
                       **fields: Unpack[GenerateFields]) -> GenerateResponse:
        """``POST /api/generate``: the whole answer at once (sent as a stream and folded
        into one answer, as ``chat`` is). Takes keywords as :meth:`chat` does."""
        response = await self._send(self._generate_request(request, False, timeout,
                                                            extensions, fields))
        return GenerateResponse.from_dict(response.body)

    def generate_stream(self, request: GenerateRequest | Mapping[str, Any] | None = None, *,
                        timeout: TimeoutArg = None,
                        extensions: Mapping[str, Any] | None = None,
                        **fields: Unpack[GenerateStreamFields],
                        ) -> Stream[GenerateResponse]:
        """``POST /api/generate`` with ``"stream": true``; validated now, sent on first read."""
        return self._stream(self._generate_request(request, True, timeout, extensions,
                                                   fields),
                            GenerateResponse.from_dict)

    @overload
    async def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
                    arrays: Literal[False] = False, timeout: TimeoutArg = None,
                    extensions: Mapping[str, Any] | None = None,
                    **fields: Unpack[EmbedFields]) -> EmbedResponse: ...

    @overload
    async def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
                    arrays: Literal[True], timeout: TimeoutArg = None,
                    extensions: Mapping[str, Any] | None = None,
                    **fields: Unpack[EmbedFields]) -> EmbedArraysResponse: ...

    @overload
    async def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
                    arrays: bool, timeout: TimeoutArg = None,
                    extensions: Mapping[str, Any] | None = None,
                    **fields: Unpack[EmbedFields]) -> EmbedResponse | EmbedArraysResponse: ...

    async def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
                    arrays: bool = False, timeout: TimeoutArg = None,
                    extensions: Mapping[str, Any] | None = None,
                    **fields: Unpack[EmbedFields]) -> EmbedResponse | EmbedArraysResponse:
        """``POST /api/embed``: one vector per input, in order (``embed(model=...,
        input=...)`` works too).

        With ``arrays=True`` each vector is an ``array('d')`` of the same values
        (:class:`EmbedArraysResponse`; see ``ollama_core._vectors``): 8 bytes a value, taken
        by ``numpy.frombuffer`` without a copy, and parsed from the body straight to
        doubles when pysimdjson is installed (the ``fast`` extra)."""
        wire = self._prepare("embed", "embed",
                             _request_body(request, EmbedRequest, "embed", None, fields))
        if not arrays:
            body = await self._call(self._request("POST", "/api/embed", "embed", wire,
                                                  timeout=timeout, extensions=extensions))
            return EmbedResponse.from_dict(body)
        body = await self._call(self._request("POST", "/api/embed", "embed", wire,
                                              timeout=timeout, extensions=extensions,
                                              decode=ARRAYS))
        # Rows decoded here are arrays already; rows from elsewhere (a middleware, a store
        # that keeps JSON) are converted, or refused as the decoding refuses them.
        return EmbedArraysResponse.from_dict(rows_as_arrays("embed", body))

    async def embeddings(self, request: EmbeddingsRequest | Mapping[str, Any] | None = None,
                         *, timeout: TimeoutArg = None,
                         extensions: Mapping[str, Any] | None = None,
                         **fields: Unpack[EmbeddingsFields]) -> EmbeddingsResponse:
        """``POST /api/embeddings`` (the legacy single-prompt endpoint)."""
        wire = self._prepare("embeddings", "embeddings", _request_body(
            request, EmbeddingsRequest, "embeddings", None, fields))
        body = await self._call(self._request("POST", "/api/embeddings", "embeddings", wire,
                                              timeout=timeout, extensions=extensions))
        return EmbeddingsResponse.from_dict(body)

    # -- models ------------------------------------------------------------------------------

    async def list_models(self) -> TagsResponse:
        """``GET /api/tags``: the models on the server."""
        return TagsResponse.from_dict(await self._call(self._request("GET", "/api/tags", "tags")))

    async def list_running(self) -> RunningModelsResponse:
        """``GET /api/ps``: the models loaded in memory."""
        return RunningModelsResponse.from_dict(
            await self._call(self._request("GET", "/api/ps", "ps")))

    async def model_info(self, name: str | None = None, verbose: bool = False, *,
                         model: str | None = None, system: str | None = None,
                         options: Options | Mapping[str, Any] | None = None) -> ModelInfo:
        """``POST /api/show``: details, parameters, template, capabilities of a model
        (``name``, or ``model=`` as ollama-python spells it). ``system`` shows the model as
        it would be with that system prompt (its ``system`` and Modelfile); ``options``
        are added to the Modelfile's ``PARAMETER`` lines (``parameters`` stays the model's
        own, as the server writes it)."""
        body: dict[str, Any] = {"model": model_name(name, model, "model_info")}
        if verbose:
            body["verbose"] = True
        if system is not None:
            body["system"] = system
        if options is not None:
            body["options"] = (options.to_dict() if isinstance(options, Options)
                               else dict(options) if isinstance(options, Mapping) else options)
        wire = self._prepare("show", "show", body)
        return ModelInfo.from_dict(await self._call(
            self._request("POST", "/api/show", "show", wire)))

    # -- account, web and decisions ----------------------------------------------------------

    async def status(self) -> StatusResponse:
        """``GET /api/status``: whether the server's cloud features are disabled, and by
        what (``source``: ``none``, ``env``, ``config`` or ``both``)."""
        return StatusResponse.from_dict(
            await self._call(self._request("GET", "/api/status", "status")))

    async def me(self) -> UserResponse:
        """``POST /api/me``: the ollama.com account the server is signed in as. Signed out,
        an :class:`AuthenticationError` whose ``.body`` has the ``signin_url``."""
        return UserResponse.from_dict(
            await self._call(self._request("POST", "/api/me", "me")))

    async def signout(self) -> None:
        """``POST /api/signout``: sign the server out of ollama.com (not retried: a second
        attempt after a lost answer would be told it is not signed in)."""
        await self._call(self._request("POST", "/api/signout", "signout", idempotent=False))

    async def model_recommendations(self) -> ModelRecommendationsResponse:
        """``GET /api/experimental/model-recommendations``: models the server suggests."""
        return ModelRecommendationsResponse.from_dict(await self._call(self._request(
            "GET", "/api/experimental/model-recommendations", "model_recommendations")))

    async def web_search(self, query: str, max_results: int | None = 3, *,
                         cloud: bool = False, timeout: TimeoutArg = None
                         ) -> WebSearchResponse:
        """Search the web: ``results`` of title, url and content, best first.

        By default through the server (``POST /api/experimental/web_search``), like any
        other call: plugins, retries and failover apply, and the server signs the call to
        ollama.com with its own key (it drops the caller's ``Authorization``).

        ``cloud=True`` sends it to ``<cloud_url>/api/web_search`` as ollama-python does,
        with the client's ``cloud_api_key`` (else ``OLLAMA_API_KEY``) and nothing else of
        the client's: no middleware, no plugin hook, none of its extra headers, so the key
        reaches ``cloud_url`` only. Without a key that is an :class:`InvalidConfigError`,
        before anything is sent. ``max_results=None`` lets the service choose.
        """
        body: dict[str, Any] = {"query": query}
        if max_results is not None:
            body["max_results"] = max_results
        return WebSearchResponse.from_dict(
            await self._web("web_search", body, cloud=cloud, timeout=timeout))

    async def web_fetch(self, url: str, *, cloud: bool = False,
                        timeout: TimeoutArg = None) -> WebFetchResponse:
        """Fetch one page as text: ``title``, ``content`` and the ``links`` on it. Sent like
        :meth:`web_search` (``cloud=True``: to ollama.com with the cloud key)."""
        return WebFetchResponse.from_dict(
            await self._web("web_fetch", {"url": url}, cloud=cloud, timeout=timeout))

    async def _web(self, endpoint: str, body: dict[str, Any], *, cloud: bool,
                   timeout: TimeoutArg) -> Any:
        if not isinstance(cloud, bool):
            raise InvalidRequestError(
                f"invalid request: cloud: must be True or False, got {cloud!r}",
                field="cloud", errors={"cloud": ["must be True or False"]})
        wire = self._prepare(endpoint, endpoint, body)
        if not cloud:
            return await self._call(self._request(
                "POST", f"/api/experimental/{endpoint}", endpoint, wire, timeout=timeout))
        attempts = self._cloud.attempts(
            self._transport, self.timeouts, max_line_length=self._attempts.max_line_length,
            max_body_size=self._attempts.max_body_size, endpoint=endpoint)
        request = self._request("POST", f"/api/{endpoint}", endpoint, wire,
                                timeout=timeout if timeout is not None else self.timeouts)
        task = self._enter_call()
        error: BaseException | None = None
        try:
            deadline = request.timeouts.deadline if request.timeouts is not None else None
            try:
                async with asyncio.timeout(deadline):
                    response = await attempts.handle(request)
            except TimeoutError as exc:
                if isinstance(exc, OllamaError) or deadline is None:
                    raise
                raise DeadlineExceeded(
                    f"{endpoint}: the call's deadline of {deadline:g}s passed") from exc
            return response.body
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._leave_call(task, error, endpoint)

    async def systemone(self, request: SystemOneRequest | Mapping[str, Any] | None = None,
                        *, model: str | None = None, state: SystemOneContent | None = None,
                        questions: Mapping[str, SystemOneQuestion | Mapping[str, Any]]
                        | None = None, images: Sequence[str | bytes] | None = None,
                        keep_alive: float | str | None = None,
                        timeout: TimeoutArg = None) -> SystemOneResponse:
        """``POST /v1/systemone``: a decision model's answers to ``questions`` about
        ``state``, one per question, typed by the question's ``type`` (``choice``, ``noul``
        or ``score``); not streamed.

        Give a :class:`SystemOneRequest`, a dict in its wire shape, or keywords (which
        override the request's fields)::

            await client.systemone(model="nimble", state="500s since 9am", questions={
                "team": {"type": "choice", "instructions": "Which team?",
                         "criteria": {"billing": "Payments", "technical": None}}})

        A field of the wrong type or a missing required one is refused before sending,
        naming it (``questions.team.criteria``); limits (how many choices or levels) are
        the server's to check.
        """
        body = _to_body(request, SystemOneRequest) if request is not None else {}
        given = {"model": model, "state": state, "questions": questions, "images": images,
                 "keep_alive": keep_alive}
        changes = {key: value for key, value in given.items() if value is not None}
        if changes:
            body = _to_body({**body, **changes}, SystemOneRequest)
        wire = self._prepare("systemone", "systemone", body)
        return SystemOneResponse.from_dict(await self._call(self._request(
            "POST", "/v1/systemone", "systemone", wire, timeout=timeout)))

    def _progress_request(self, endpoint: str, body: dict[str, Any], stream: bool,
                          timeout: TimeoutArg) -> Request:
        body["stream"] = stream or self._stream_on_wire
        wire = self._prepare(endpoint, endpoint, body)
        return self._request("POST", f"/api/{endpoint}", endpoint, wire, stream=stream,
                             terminal="success" if stream else None, timeout=timeout,
                             idempotent=endpoint == "pull")

    async def pull_model(self, name: str | None = None, *, insecure: bool = False,
                         timeout: TimeoutArg = None, model: str | None = None,
                         stream: Literal[False] = False) -> ProgressResponse:
        """``POST /api/pull`` without progress; returns the final ``success`` status.
        ``model=`` is ``name`` as ollama-python spells it; ``stream=True`` is refused: use
        :meth:`pull_model_stream`."""
        check_not_streaming({"stream": stream}, "pull_model")
        body = _transfer_body(model_name(name, model, "pull_model"), insecure)
        return ProgressResponse.from_dict(
            await self._call(self._progress_request("pull", body, False, timeout)))

    def pull_model_stream(self, name: str | None = None, *, insecure: bool = False,
                          timeout: TimeoutArg = None,
                          model: str | None = None) -> Stream[ProgressResponse]:
        """``POST /api/pull`` with a progress line per step; ends at ``success``."""
        body = _transfer_body(model_name(name, model, "pull_model_stream"), insecure)
        return self._stream(self._progress_request("pull", body, True, timeout),
                            ProgressResponse.from_dict)

    async def push_model(self, name: str | None = None, *, insecure: bool = False,
                         timeout: TimeoutArg = None, model: str | None = None,
                         stream: Literal[False] = False) -> ProgressResponse:
        """``POST /api/push`` without progress.
        ``model=`` is ``name`` as ollama-python spells it; ``stream=True`` is refused: use
        :meth:`push_model_stream`."""
        check_not_streaming({"stream": stream}, "push_model")
        body = _transfer_body(model_name(name, model, "push_model"), insecure)
        return ProgressResponse.from_dict(
            await self._call(self._progress_request("push", body, False, timeout)))

    def push_model_stream(self, name: str | None = None, *, insecure: bool = False,
                          timeout: TimeoutArg = None,
                          model: str | None = None) -> Stream[ProgressResponse]:
        """``POST /api/push`` with progress lines."""
        body = _transfer_body(model_name(name, model, "push_model_stream"), insecure)
        return self._stream(self._progress_request("push", body, True, timeout),
                            ProgressResponse.from_dict)

    async def create_model(self, request: CreateRequest | Mapping[str, Any] | None = None, *,
                           timeout: TimeoutArg = None,
                           **fields: Unpack[CreateFields]) -> ProgressResponse:
        """``POST /api/create`` without progress (``create_model(model=..., from_=...)``
        works too)."""
        body = _request_body(request, CreateRequest, "create", False, fields)
        return ProgressResponse.from_dict(
            await self._call(self._progress_request("create", body, False, timeout)))

    def create_model_stream(self, request: CreateRequest | Mapping[str, Any] | None = None,
                            *, timeout: TimeoutArg = None,
                            **fields: Unpack[CreateStreamFields]) -> Stream[ProgressResponse]:
        """``POST /api/create`` with progress lines."""
        body = _request_body(request, CreateRequest, "create", True, fields)
        return self._stream(self._progress_request("create", body, True, timeout),
                            ProgressResponse.from_dict)

    async def copy_model(self, source: str, destination: str) -> None:
        """``POST /api/copy``: give a model a second name."""
        body = {"source": source,
                "destination": destination}
        wire = self._prepare("copy", "copy", body)
        await self._call(self._request("POST", "/api/copy", "copy", wire, idempotent=False))

    async def delete_model(self, name: str | None = None, *, model: str | None = None) -> None:
        """``DELETE /api/delete``: remove a model (``model=`` is ``name`` too)."""
        wire = self._prepare("delete", "delete",
                             {"model": model_name(name, model, "delete_model")})
        await self._call(self._request("DELETE", "/api/delete", "delete", wire,
                                       idempotent=False))

    # -- blobs -------------------------------------------------------------------------------

    async def blob_exists(self, digest: str) -> bool:
        """``HEAD /api/blobs/<digest>``: whether the server has the blob."""
        if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
            raise InvalidRequestError(
                "invalid request: digest: must look like 'sha256:' followed by 64 hex digits",
                field="digest", errors={"digest": ["must be sha256:<64 hex digits>"]})
        try:
            await self._send(self._request("HEAD", f"/api/blobs/{digest}", "blob_exists",
                                           decode=False))
        except NotFoundError:
            return False
        return True

    async def push_blob(self, data: bytes | bytearray | memoryview | str | os.PathLike[str]
                        ) -> str:
        """Upload a blob unless the server has it already; returns its ``sha256:`` digest.

        ``data`` is the content itself or a path to a file (read in chunks, never whole).
        """
        payload: bytes | Callable[[], AsyncIterator[bytes]]
        if isinstance(data, (bytes, bytearray, memoryview)):
            payload = bytes(data)
            digest = "sha256:" + hashlib.sha256(payload).hexdigest()
        elif isinstance(data, (str, os.PathLike)):
            path = Path(data)
            if not path.is_file():
                raise InvalidRequestError(f"invalid request: data: no such file: {path}",
                                          field="data", errors={"data": ["no such file"]})
            digest = "sha256:" + await asyncio.to_thread(_hash_file, path)
            payload = lambda: _file_chunks(path)  # noqa: E731 - a fresh reader per attempt
        else:
            raise InvalidRequestError(
                "invalid request: data: must be bytes or a path",
                field="data", errors={"data": ["must be bytes or a path"]})
        if await self.blob_exists(digest):
            return digest
        await self._send(self._request("POST", f"/api/blobs/{digest}", "push_blob",
                                       data=payload, idempotent=True, decode=False))
        return digest

    # -- ollama-python's names -----------------------------------------------------------------
    # Plain aliases, defined last: a method named ``list`` shadows the builtin for every
    # annotation after it in the class body.

    list = list_models
    show = model_info
    ps = list_running
    pull = pull_model
    push = push_model
    create = create_model
    copy = copy_model
    delete = delete_model


def _opening_done(task: asyncio.Task[None]) -> None:
    """An opening nobody waited for (a plugin added to an open client) is logged."""
    if not task.cancelled() and task.exception() is not None:
        log.debug("opening plugins failed (the next call tries again): %s", task.exception())


def _transfer_body(name: str, insecure: bool) -> dict[str, Any]:
    """The body of a pull or push (validated by the caller like any other body)."""
    return {"model": name, "insecure": True} if insecure else {"model": name}


_METHODS = {"chat": "chat", "generate": "generate", "embed": "embed",
            "embeddings": "embeddings", "create": "create_model"}


def _request_body(request: Any, cls: type[Any], kind: str, stream: bool | None,
                  fields: Mapping[str, Any]) -> dict[str, Any]:
    """The wire dict of a call: its request (if any) with the keyword ``fields`` merged in.
    ``stream`` is False for the methods returning the whole answer (a ``"stream"`` asking
    for more is refused), True for the ``*_stream`` ones, None where it does not apply."""
    method = _METHODS[kind] + ("_stream" if stream else "")
    body = _to_body(request, cls) if request is not None else {}
    if fields:
        body = _to_body(merge_fields(body, kind, method, fields), cls)
    if stream is False:
        check_not_streaming(body, method)
    return body


def _to_body(request: Any, cls: type[Any]) -> dict[str, Any]:
    """The wire dict of a typed request, or of a plain mapping in the wire shape (or of a
    pydantic model of one, such as ollama-python's requests)."""
    if isinstance(request, cls):
        return dict(request.to_dict())
    if not isinstance(request, Mapping):
        request = _dumped(request)
    if isinstance(request, Mapping):
        if _is_plain_json(request):
            return dict(request)  # already the wire shape: the typed round trip adds nothing
        return dict(cls.from_dict(dict(request)).to_dict())
    hint = " (give the model as model=...)" if isinstance(request, str) else ""
    raise InvalidRequestError(
        f"invalid request: expected {cls.__name__} or a dict, got "
        f"{type(request).__name__}{hint}",
        field="request", errors={"request": [f"expected {cls.__name__} or a dict"]})


def _check_needs_plugin(endpoint: str, body: Mapping[str, Any]) -> None:
    """After the plugins' hooks: a function left in ``tools`` or a path left in ``images``
    means the plugin that converts it is off; say which one, before the schemas say only
    "must be a dict" or "must be base64"."""
    if endpoint == "chat":
        tools = body.get("tools")
        if isinstance(tools, list):
            for i, tool in enumerate(tools):
                if callable(tool) and not isinstance(tool, Mapping):
                    name = getattr(tool, "__name__", type(tool).__name__)
                    message = (f"a Python function ({name}) is made a tool definition by the "
                               f"tool_calling plugin: enable it (plugins=[\"tool_calling\"]) "
                               f"or pass a Tool or a dict")
                    raise InvalidRequestError(f"invalid request: tools.{i}: {message}",
                                              field=f"tools.{i}",
                                              errors={f"tools.{i}": [message]})
        messages = body.get("messages")
        if isinstance(messages, list):
            for i, message in enumerate(messages):
                if isinstance(message, Mapping):
                    _check_images(message.get("images"), f"messages.{i}.images")
    elif endpoint == "generate":
        _check_images(body.get("images"), "images")


def _check_images(images: Any, label: str) -> None:
    if not isinstance(images, list):
        return
    for i, image in enumerate(images):
        if isinstance(image, os.PathLike):
            message = ("a path is read and encoded by the vision_support plugin: enable it "
                       "(plugins=[\"vision_support\"]) or pass base64 text or bytes")
            raise InvalidRequestError(f"invalid request: {label}.{i}: {message}",
                                      field=f"{label}.{i}",
                                      errors={f"{label}.{i}": [message]})


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _is_plain_json(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is made only of dicts with str keys, lists and JSON scalars, so it
    is already in the wire shape (no typed objects, enums, bytes or tuples to convert).

    This runs on every call made with a dict, so scalars are tested in the loops (not by a
    call each) and a list of scalars (a ``context`` of token ids) in one C-speed pass."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if depth > 32:
        return False
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if type(item) not in _SCALARS and not _is_plain_json(item, depth + 1):
                return False
        return True
    if kind is list:
        if set(map(type, value)) <= _SCALARS:
            return True
        for item in value:
            if type(item) not in _SCALARS and not _is_plain_json(item, depth + 1):
                return False
        return True
    return False


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_BLOB_CHUNK):
            h.update(chunk)
    return h.hexdigest()


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while chunk := await asyncio.to_thread(f.read, _BLOB_CHUNK):
            yield chunk


class _Opener:
    """Sends a stream's request when it is first read (``Stream``'s ``open_response``).
    Held by every stream until it is dropped: one small object, where a lambda takes
    three (the function, its closure's tuple and cells)."""

    __slots__ = ("client", "request")

    def __init__(self, client: OllamaClient, request: Request) -> None:
        self.client = client
        self.request = request

    def __call__(self) -> Awaitable[Response]:
        return self.client._send(self.request)
