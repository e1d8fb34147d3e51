"""``SyncOllamaClient``: the blocking API, a thin facade over ``OllamaClient``.

All behaviour lives in the async client. The facade owns one event loop running on a
daemon thread; every method submits the async call to that loop and blocks on its result,
so the aiohttp session is only ever used on its own loop. Several threads may share one
client: ``run_coroutine_threadsafe`` is thread-safe and calls run concurrently on the loop.

Shutdown: a client that is never closed is closed by a ``weakref.finalize`` when it is
garbage-collected, and at the latest by that finalizer's ``atexit`` hook, while the loop
thread still runs (once the interpreter finalizes, daemon threads are frozen, so waiting
on the loop from ``__del__`` would hang the exit forever). Every wait on the loop thread
during a close is bounded, and a close never joins the thread without a timeout.

Each method is written out by hand (one line each) rather than generated, so type checkers
and IDEs see real signatures; ``tests/core/test_sync.py`` checks the two surfaces match.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, Generic, Literal, TypeVar, Unpack, overload

from ._client import OllamaClient, TimeoutArg
from ._clock import Clock
from ._events import Event
from ._exceptions import ClientClosedError
from ._fields import (
    ChatFields,
    ChatStreamFields,
    CreateFields,
    CreateStreamFields,
    EmbeddingsFields,
    EmbedFields,
    GenerateFields,
    GenerateStreamFields,
)
from ._envelope import Timeouts
from ._ndjson import DEFAULT_MAX_LINE_LENGTH
from ._attempt import DEFAULT_MAX_BODY_SIZE
from ._transports import Transport
from ._plugin_manager import PluginManager, PluginSpec
from ._stream import Stream, StreamMetrics, StreamState
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
from ._upstreams import UpstreamRegistry

__all__ = ["SyncOllamaClient", "SyncStream"]

T = TypeVar("T")
P = TypeVar("P")
E = TypeVar("E", bound=Event)


# Bounds of a close: the async client's own aclose() waits at most 5 s for calls to unwind,
# so _CLOSE_TIMEOUT only matters when the loop thread itself is stuck.
_CLOSE_TIMEOUT = 10.0
_DRAIN_TIMEOUT = 1.0


def _closed_error() -> ClientClosedError:
    return ClientClosedError("the client is closed")


async def _signal_when_done(coro: Coroutine[Any, Any, T], finished: threading.Event) -> T:
    try:
        return await coro
    finally:
        finished.set()


#: Signals that belong to the main thread (see ``_Portal._run``).
_PROGRAM_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


class _Portal:
    """An event loop on a daemon thread, and a way to run things on it and wait.

    ``shutdown()`` refuses new work, runs a last coroutine (the client's ``aclose()``),
    stops the loop and lets the thread close it. Futures still waited on by other threads
    are failed with ``ClientClosedError`` instead of being left to wait forever.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # Reentrant: a future that is already done runs _untrack at once, in _track.
        self._lock = threading.RLock()
        self._closing = False
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._thread = threading.Thread(target=self._run, name="ollama-core-loop", daemon=True)
        self._thread.start()

    @property
    def closing(self) -> bool:
        return self._closing

    def _run(self) -> None:
        # Signals meant for the program (Ctrl-C, a termination request) must reach the main
        # thread: the kernel may hand a process-directed signal to any thread that does not
        # block it, and one landing here would only set Python's flag while the main thread
        # stays blocked in a read (input() at a prompt never sees its KeyboardInterrupt).
        # Threads this loop starts (executors, resolvers) inherit the mask.
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, _PROGRAM_SIGNALS)
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self._finish()

    def _finish(self) -> None:
        """On the loop thread once the loop stopped: end what is left, close the loop."""
        loop = self.loop
        try:
            tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=_DRAIN_TIMEOUT))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
            self._fail_pending()

    def _fail_pending(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, set()
        for future in pending:
            if not future.done():
                try:
                    future.set_exception(_closed_error())
                except concurrent.futures.InvalidStateError:  # finished meanwhile
                    pass

    def _track(self, future: concurrent.futures.Future[Any]) -> None:
        """Called with the lock held."""
        self._pending.add(future)
        future.add_done_callback(self._untrack)

    def _untrack(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._pending.discard(future)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a SyncOllamaClient cannot be called from its own loop thread")
        finished = threading.Event()
        with self._lock:
            if self._closing:
                coro.close()
                raise _closed_error()
            future = asyncio.run_coroutine_threadsafe(
                _signal_when_done(coro, finished), self.loop)
            self._track(future)
        try:
            return future.result()
        except KeyboardInterrupt:
            # Ctrl-C in the calling thread: cancel the call on the loop and wait until it has
            # unwound, so a following close() never meets a stream still being read.
            future.cancel()
            finished.wait(5.0)
            raise

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the loop thread (for loop-bound objects) and wait."""
        if threading.current_thread() is self._thread:
            return fn()
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def target() -> None:
            if not result.set_running_or_notify_cancel():
                return
            try:
                result.set_result(fn())
            except BaseException as exc:  # handed to the calling thread
                result.set_exception(exc)

        with self._lock:
            if self._closing:
                raise _closed_error()
            self._track(result)
            self.loop.call_soon_threadsafe(target)
        return result.result()

    def shutdown(self, last: Coroutine[Any, Any, None] | None = None) -> None:
        """Run ``last`` on the loop, then stop and close it. Idempotent; bounded.

        From the loop thread itself (a finalizer or a callback running there) nothing can
        be waited for: ``last`` and the stop are scheduled and the thread ends by itself.
        """
        with self._lock:
            if self._closing:
                if last is not None:
                    last.close()
                return
            self._closing = True
        loop = self.loop

        async def finish() -> None:
            try:
                if last is not None:
                    await last
            finally:
                loop.stop()

        if threading.current_thread() is self._thread:
            loop.create_task(finish())
            return
        try:
            asyncio.run_coroutine_threadsafe(finish(), loop)
        except RuntimeError:  # the loop is already closed
            if last is not None:
                last.close()
            return
        self._thread.join(_CLOSE_TIMEOUT)
        if self._thread.is_alive():
            # The last coroutine is stuck: stop the loop without it (the thread still
            # cancels what is left and closes the loop), and never wait forever.
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(_DRAIN_TIMEOUT + 1.0)
        if self._thread.is_alive():
            self._fail_pending()

    def close(self) -> None:
        self.shutdown()


def _close_unclosed(portal: _Portal, client: OllamaClient) -> None:
    """The finalizer of a SyncOllamaClient that was not closed (garbage or exit)."""
    if portal.closing:
        return
    try:
        warnings.warn(f"unclosed Sync{client!r}", ResourceWarning, stacklevel=2)
    except Exception:  # noqa: S110 - a warning filter set to "error" must not stop the close
        pass
    if sys.is_finalizing():  # pragma: no cover - the loop thread is frozen by now
        return
    portal.shutdown(_close_quietly(client))


async def _close_quietly(client: OllamaClient) -> None:
    try:
        await client.aclose()
    except Exception as exc:  # nobody is left to receive it
        import logging

        logging.getLogger("ollama_core").warning("closing an unclosed client failed: %r", exc)


class SyncStream(Generic[T]):
    """A blocking iterator over an async :class:`~ollama_core.Stream`.

    ``pause()``, ``resume()`` and ``cancel()`` may be called from any thread. Leaving a
    ``for`` loop early releases the connection (the iterator's ``finally``); so does
    ``close()`` or using it as a context manager.
    """

    def __init__(self, portal: _Portal, stream: Stream[T], owner: object = None) -> None:
        self._portal = portal
        self._stream = stream
        # The client, kept alive while its stream is: collecting it would close the stream.
        self._owner = owner

    @property
    def state(self) -> StreamState:
        return self._stream.state

    @property
    def metrics(self) -> StreamMetrics:
        return self._stream.metrics

    @property
    def last(self) -> T | None:
        return self._stream.last

    def pause(self) -> None:
        self._portal.call(self._stream.pause)

    def resume(self) -> None:
        self._portal.call(self._stream.resume)

    def cancel(self) -> None:
        self._portal.call(self._stream.cancel)

    def on_state_change(self, callback: Callable[[StreamState, StreamState], None]) -> None:
        self._stream.on_state_change(callback)

    def start(self) -> SyncStream[T]:
        self._portal.run(self._stream.start())
        return self

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._portal.run(self._stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            if self._stream.state not in (StreamState.COMPLETED, StreamState.FAILED):
                self.close()

    def __next__(self) -> T:
        try:
            return self._portal.run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        if not self._portal.closing:  # a closed client has cancelled its streams already
            try:
                self._portal.run(self._stream.aclose())
            except ClientClosedError:  # closed meanwhile, by another thread
                pass

    def __enter__(self) -> SyncStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncStream {self._stream.state} chunks={self._stream.metrics.chunks}>"


class SyncOllamaClient:
    """Blocking client with the same methods as :class:`~ollama_core.OllamaClient`.

    Takes the same arguments. Streams are plain iterators (:class:`SyncStream`). Close it
    with ``close()`` or a ``with`` block. ``close()`` may be called from any thread: calls
    running in other threads then raise :class:`ClientClosedError` at once (a retry
    waiting out its backoff included), like any later call. A client that is never closed
    warns (``ResourceWarning``) and is closed when it is garbage-collected, or at the
    latest when the interpreter exits, which it never delays for long. Do not call it from
    inside a running event loop's thread in async code: use the async client there.
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
        self._portal: _Portal | None = None
        portal = _Portal()
        try:
            # Built on the loop thread so anything loop-bound belongs to that loop.
            self._async = portal.call(lambda: OllamaClient(
                base_url, timeout, plugins=plugins, plugin_config=plugin_config,
                headers=headers, api_key=api_key, clock=clock, max_connections=max_connections,
                max_line_length=max_line_length, max_body_size=max_body_size,
                pause_timeout=pause_timeout, ssl=ssl, trust_env=trust_env,
                stream_on_wire=stream_on_wire, transport=transport, cloud_url=cloud_url,
                cloud_api_key=cloud_api_key))
        except BaseException:
            portal.close()
            raise
        self._portal = portal
        # Holds the portal and the async client, never self, so it cannot keep self alive.
        self._finalizer = weakref.finalize(self, _close_unclosed, portal, self._async)

    @property
    def async_client(self) -> OllamaClient:
        """The async client doing the work (runs on the facade's loop thread)."""
        return self._async

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        portal = self._portal
        if portal is None:
            coro.close()
            raise _closed_error()
        return portal.run(coro)

    def _wrap(self, make: Callable[[], Stream[T]]) -> SyncStream[T]:
        portal = self._portal
        if portal is None:
            raise _closed_error()
        return SyncStream(portal, portal.call(make), self)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the async client, then stop and join the loop thread. Idempotent.

        Safe from any thread while other threads are inside calls: those calls raise
        :class:`ClientClosedError`. Errors of the async ``aclose()`` are raised here.
        """
        portal, self._portal = self._portal, None
        if portal is None:
            return
        self._finalizer.detach()
        errors: list[BaseException] = []

        async def last() -> None:
            try:
                await self._async.aclose()
            except Exception as exc:  # raised in the calling thread below
                errors.append(exc)

        portal.shutdown(last())
        if errors:
            raise errors[0]

    def __enter__(self) -> SyncOllamaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Sync" + repr(self._async) if hasattr(self, "_async") else "SyncOllamaClient()"

    @property
    def closed(self) -> bool:
        return self._portal is None

    # -- configuration (same as OllamaClient) ---------------------------------------------

    @property
    def base_url(self) -> str:
        return self._async.base_url

    @property
    def timeouts(self) -> Timeouts:
        return self._async.timeouts

    @property
    def headers(self) -> dict[str, str]:
        return self._async.headers

    @property
    def cloud_url(self) -> str:
        return self._async.cloud_url

    @property
    def plugins(self) -> list[str]:
        return self._async.plugins

    @property
    def plugin_manager(self) -> PluginManager:
        return self._async.plugin_manager

    @property
    def upstreams(self) -> UpstreamRegistry:
        return self._async.upstreams

    @property
    def clock(self) -> Clock:
        return self._async.clock

    @overload
    def plugin(self, name: str) -> Any: ...

    @overload
    def plugin(self, name: type[P]) -> P: ...

    def plugin(self, name: str | type[Any]) -> Any:
        return self._async.plugin(name)

    def plugin_config(self, name: str) -> dict[str, Any]:
        return self._async.plugin_config(name)

    def configure(self, *, timeout: float | Timeouts | None = None,
                  headers: Mapping[str, str] | None = None,
                  api_key: str | None = None, pause_timeout: float | None = None) -> None:
        self._portal_call(lambda: self._async.configure(
            timeout=timeout, headers=headers, api_key=api_key, pause_timeout=pause_timeout))

    def add_plugin(self, plugin: PluginSpec, config: Mapping[str, Any] | None = None) -> str:
        return self._portal_call(lambda: self._async.add_plugin(plugin, config))

    def remove_plugin(self, name: str) -> None:
        return self._run(self._async.remove_plugin(name))

    def configure_plugin(self, name: str, config: Mapping[str, Any]) -> None:
        self._portal_call(lambda: self._async.configure_plugin(name, config))

    def describe_chain(self) -> str:
        return self._async.describe_chain()

    @property
    def wants_events(self) -> bool:
        return self._async.wants_events

    def emit(self, event: Event) -> None:
        self._portal_call(lambda: self._async.emit(event))

    @overload
    def on_event(self, callback: Callable[[Event], object]) -> Callable[[], None]: ...

    @overload
    def on_event(self, callback: Callable[[E], object], *kinds: type[E]) -> Callable[[], None]: ...

    def on_event(self, callback: Callable[[Any], object],
                 *kinds: type[Event]) -> Callable[[], None]:
        """:meth:`OllamaClient.on_event`; callbacks run in the client's loop thread."""
        return self._async.on_event(callback, *kinds)

    def _portal_call(self, fn: Callable[[], T]) -> T:
        portal = self._portal
        if portal is None:
            raise _closed_error()
        return portal.call(fn)

    # -- endpoints (one line each) ---------------------------------------------------------

    def is_available(self, timeout: float = 2.0) -> bool:
        return self._run(self._async.is_available(timeout))

    def version(self) -> str:
        return self._run(self._async.version())

    def chat(self, request: ChatRequest | Mapping[str, Any] | None = None, *,
             timeout: TimeoutArg = None, extensions: Mapping[str, Any] | None = None,
             **fields: Unpack[ChatFields]) -> ChatResponse:
        return self._run(self._async.chat(request, timeout=timeout, extensions=extensions,
                                          **fields))

    def chat_stream(self, request: ChatRequest | Mapping[str, Any] | None = None, *,
                    timeout: TimeoutArg = None, extensions: Mapping[str, Any] | None = None,
                    **fields: Unpack[ChatStreamFields]) -> SyncStream[ChatResponse]:
        return self._wrap(lambda: self._async.chat_stream(
            request, timeout=timeout, extensions=extensions, **fields))

    def generate(self, request: GenerateRequest | Mapping[str, Any] | None = None, *,
                 timeout: TimeoutArg = None, extensions: Mapping[str, Any] | None = None,
                 **fields: Unpack[GenerateFields]) -> GenerateResponse:
        return self._run(self._async.generate(request, timeout=timeout, extensions=extensions,
                                              **fields))

    def generate_stream(self, request: GenerateRequest | Mapping[str, Any] | None = None, *,
                        timeout: TimeoutArg = None,
                        extensions: Mapping[str, Any] | None = None,
                        **fields: Unpack[GenerateStreamFields],
                        ) -> SyncStream[GenerateResponse]:
        return self._wrap(lambda: self._async.generate_stream(
            request, timeout=timeout, extensions=extensions, **fields))

    @overload
    def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
              arrays: Literal[False] = False, timeout: TimeoutArg = None,
              extensions: Mapping[str, Any] | None = None,
              **fields: Unpack[EmbedFields]) -> EmbedResponse: ...

    @overload
    def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
              arrays: Literal[True], timeout: TimeoutArg = None,
              extensions: Mapping[str, Any] | None = None,
              **fields: Unpack[EmbedFields]) -> EmbedArraysResponse: ...

    @overload
    def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
              arrays: bool, timeout: TimeoutArg = None,
              extensions: Mapping[str, Any] | None = None,
              **fields: Unpack[EmbedFields]) -> EmbedResponse | EmbedArraysResponse: ...

    def embed(self, request: EmbedRequest | Mapping[str, Any] | None = None, *,
              arrays: bool = False, timeout: TimeoutArg = None,
              extensions: Mapping[str, Any] | None = None,
              **fields: Unpack[EmbedFields]) -> EmbedResponse | EmbedArraysResponse:
        return self._run(self._async.embed(request, arrays=arrays, timeout=timeout,
                                           extensions=extensions, **fields))

    def embeddings(self, request: EmbeddingsRequest | Mapping[str, Any] | None = None, *,
                   timeout: TimeoutArg = None, extensions: Mapping[str, Any] | None = None,
                   **fields: Unpack[EmbeddingsFields]) -> EmbeddingsResponse:
        return self._run(self._async.embeddings(request, timeout=timeout,
                                                extensions=extensions, **fields))

    def list_models(self) -> TagsResponse:
        return self._run(self._async.list_models())

    def list_running(self) -> RunningModelsResponse:
        return self._run(self._async.list_running())

    def model_info(self, name: str | None = None, verbose: bool = False, *,
                   model: str | None = None, system: str | None = None,
                   options: Options | Mapping[str, Any] | None = None) -> ModelInfo:
        return self._run(self._async.model_info(name, verbose, model=model, system=system,
                                                options=options))

    def status(self) -> StatusResponse:
        return self._run(self._async.status())

    def me(self) -> UserResponse:
        return self._run(self._async.me())

    def signout(self) -> None:
        return self._run(self._async.signout())

    def model_recommendations(self) -> ModelRecommendationsResponse:
        return self._run(self._async.model_recommendations())

    def web_search(self, query: str, max_results: int | None = 3, *, cloud: bool = False,
                   timeout: TimeoutArg = None) -> WebSearchResponse:
        return self._run(self._async.web_search(query, max_results, cloud=cloud,
                                                timeout=timeout))

    def web_fetch(self, url: str, *, cloud: bool = False,
                  timeout: TimeoutArg = None) -> WebFetchResponse:
        return self._run(self._async.web_fetch(url, cloud=cloud, timeout=timeout))

    def systemone(self, request: SystemOneRequest | Mapping[str, Any] | None = None, *,
                  model: str | None = None, state: SystemOneContent | None = None,
                  questions: Mapping[str, SystemOneQuestion | Mapping[str, Any]] | None = None,
                  images: Sequence[str | bytes] | None = None,
                  keep_alive: float | str | None = None,
                  timeout: TimeoutArg = None) -> SystemOneResponse:
        return self._run(self._async.systemone(
            request, model=model, state=state, questions=questions, images=images,
            keep_alive=keep_alive, timeout=timeout))

    def pull_model(self, name: str | None = None, *, insecure: bool = False,
                   timeout: TimeoutArg = None, model: str | None = None,
                   stream: Literal[False] = False) -> ProgressResponse:
        return self._run(self._async.pull_model(name, insecure=insecure, timeout=timeout,
                                                model=model, stream=stream))

    def pull_model_stream(self, name: str | None = None, *, insecure: bool = False,
                          timeout: TimeoutArg = None,
                          model: str | None = None) -> SyncStream[ProgressResponse]:
        return self._wrap(lambda: self._async.pull_model_stream(
            name, insecure=insecure, timeout=timeout, model=model))

    def push_model(self, name: str | None = None, *, insecure: bool = False,
                   timeout: TimeoutArg = None, model: str | None = None,
                   stream: Literal[False] = False) -> ProgressResponse:
        return self._run(self._async.push_model(name, insecure=insecure, timeout=timeout,
                                                model=model, stream=stream))

    def push_model_stream(self, name: str | None = None, *, insecure: bool = False,
                          timeout: TimeoutArg = None,
                          model: str | None = None) -> SyncStream[ProgressResponse]:
        return self._wrap(lambda: self._async.push_model_stream(
            name, insecure=insecure, timeout=timeout, model=model))

    def create_model(self, request: CreateRequest | Mapping[str, Any] | None = None, *,
                     timeout: TimeoutArg = None,
                     **fields: Unpack[CreateFields]) -> ProgressResponse:
        return self._run(self._async.create_model(request, timeout=timeout, **fields))

    def create_model_stream(self, request: CreateRequest | Mapping[str, Any] | None = None, *,
                            timeout: TimeoutArg = None,
                            **fields: Unpack[CreateStreamFields],
                            ) -> SyncStream[ProgressResponse]:
        return self._wrap(lambda: self._async.create_model_stream(
            request, timeout=timeout, **fields))

    def copy_model(self, source: str, destination: str) -> None:
        return self._run(self._async.copy_model(source, destination))

    def delete_model(self, name: str | None = None, *, model: str | None = None) -> None:
        return self._run(self._async.delete_model(name, model=model))

    def blob_exists(self, digest: str) -> bool:
        return self._run(self._async.blob_exists(digest))

    def push_blob(self, data: bytes | bytearray | memoryview | str | os.PathLike[str]) -> str:
        return self._run(self._async.push_blob(data))

    # -- ollama-python's names (plain aliases, last: ``list`` shadows the builtin) ----------

    list = list_models
    show = model_info
    ps = list_running
    pull = pull_model
    push = push_model
    create = create_model
    copy = copy_model
    delete = delete_model
