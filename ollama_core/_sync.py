"""``SyncOllamaClient``: the blocking API, a thin facade over ``OllamaClient``.

All behaviour lives in the async client. The facade owns one event loop running on a
daemon thread; every method submits the async call to that loop and blocks on its result,
so the aiohttp session is only ever used on its own loop. Several threads may share one
client: ``run_coroutine_threadsafe`` is thread-safe and calls run concurrently on the loop.

Each method is written out by hand (one line each) rather than generated, so type checkers
and IDEs see real signatures; ``tests/core/test_sync.py`` checks the two surfaces match.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import warnings
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from ._client import OllamaClient, TimeoutArg
from ._clock import Clock
from ._events import Event
from ._models import Timeouts
from ._ndjson import DEFAULT_MAX_LINE_LENGTH
from ._plugin_manager import PluginManager, PluginSpec
from ._stream import Stream, StreamMetrics, StreamState
from ._types import (
    ChatRequest,
    ChatResponse,
    CreateRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    ModelInfo,
    ProgressResponse,
    RunningModelsResponse,
    TagsResponse,
)
from ._upstreams import UpstreamRegistry

__all__ = ["SyncOllamaClient", "SyncStream"]

T = TypeVar("T")


async def _signal_when_done(coro: Coroutine[Any, Any, T], finished: threading.Event) -> T:
    try:
        return await coro
    finally:
        finished.set()


class _Portal:
    """An event loop on a daemon thread, and a way to run things on it and wait."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="ollama-core-loop", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a SyncOllamaClient cannot be called from its own loop thread")
        finished = threading.Event()
        future = asyncio.run_coroutine_threadsafe(_signal_when_done(coro, finished), self.loop)
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
            try:
                result.set_result(fn())
            except BaseException as exc:  # handed to the calling thread
                result.set_exception(exc)

        self.loop.call_soon_threadsafe(target)
        return result.result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class SyncStream(Generic[T]):
    """A blocking iterator over an async :class:`~ollama_core.Stream`.

    ``pause()``, ``resume()`` and ``cancel()`` may be called from any thread. Leaving a
    ``for`` loop early releases the connection (the iterator's ``finally``); so does
    ``close()`` or using it as a context manager.
    """

    def __init__(self, portal: _Portal, stream: Stream[T]) -> None:
        self._portal = portal
        self._stream = stream

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
        if not self._portal.loop.is_closed():
            self._portal.run(self._stream.aclose())

    def __enter__(self) -> SyncStream[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncStream {self._stream.state} chunks={self._stream.metrics.chunks}>"


class SyncOllamaClient:
    """Blocking client with the same methods as :class:`~ollama_core.OllamaClient`.

    Takes the same arguments. Streams are plain iterators (:class:`SyncStream`). Close it
    with ``close()`` or a ``with`` block; an unclosed client warns (``ResourceWarning``).
    Do not call it from inside a running event loop's thread in async code: use the
    async client there.
    """

    def __init__(self, base_url: str | None = None, timeout: float | Timeouts = 120.0, *,
                 plugins: Sequence[PluginSpec] | str | None = None,
                 plugin_config: Mapping[str, Mapping[str, Any]] | None = None,
                 headers: Mapping[str, str] | None = None, api_key: str | None = None,
                 clock: Clock | None = None, max_connections: int = 100,
                 max_line_length: int = DEFAULT_MAX_LINE_LENGTH,
                 pause_timeout: float | None = None, ssl: Any = None,
                 trust_env: bool = False) -> None:
        self._portal: _Portal | None = None
        portal = _Portal()
        try:
            # Built on the loop thread so anything loop-bound belongs to that loop.
            self._async = portal.call(lambda: OllamaClient(
                base_url, timeout, plugins=plugins, plugin_config=plugin_config,
                headers=headers, api_key=api_key, clock=clock, max_connections=max_connections,
                max_line_length=max_line_length, pause_timeout=pause_timeout, ssl=ssl,
                trust_env=trust_env))
        except BaseException:
            portal.close()
            raise
        self._portal = portal

    @property
    def async_client(self) -> OllamaClient:
        """The async client doing the work (runs on the facade's loop thread)."""
        return self._async

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._portal is None:
            coro.close()
            raise RuntimeError("the client is closed")
        return self._portal.run(coro)

    def _wrap(self, make: Callable[[], Stream[T]]) -> SyncStream[T]:
        if self._portal is None:
            raise RuntimeError("the client is closed")
        return SyncStream(self._portal, self._portal.call(make))

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the async client, then stop and join the loop thread. Idempotent."""
        portal, self._portal = self._portal, None
        if portal is None:
            return
        try:
            portal.run(self._async.aclose())
        finally:
            portal.close()

    def __enter__(self) -> SyncOllamaClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_portal", None) is not None:
            warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=1)
            try:
                self.close()
            except Exception:  # pragma: no cover - interpreter shutdown
                pass

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

    def plugin(self, name: str) -> Any:
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

    def _portal_call(self, fn: Callable[[], T]) -> T:
        if self._portal is None:
            raise RuntimeError("the client is closed")
        return self._portal.call(fn)

    # -- endpoints (one line each) ---------------------------------------------------------

    def is_available(self, timeout: float = 2.0) -> bool:
        return self._run(self._async.is_available(timeout))

    def version(self) -> str:
        return self._run(self._async.version())

    def chat(self, request: ChatRequest | Mapping[str, Any], *, timeout: TimeoutArg = None,
             extensions: Mapping[str, Any] | None = None) -> ChatResponse:
        return self._run(self._async.chat(request, timeout=timeout, extensions=extensions))

    def chat_stream(self, request: ChatRequest | Mapping[str, Any], *,
                    timeout: TimeoutArg = None,
                    extensions: Mapping[str, Any] | None = None) -> SyncStream[ChatResponse]:
        return self._wrap(lambda: self._async.chat_stream(
            request, timeout=timeout, extensions=extensions))

    def generate(self, request: GenerateRequest | Mapping[str, Any], *,
                 timeout: TimeoutArg = None,
                 extensions: Mapping[str, Any] | None = None) -> GenerateResponse:
        return self._run(self._async.generate(request, timeout=timeout, extensions=extensions))

    def generate_stream(self, request: GenerateRequest | Mapping[str, Any], *,
                        timeout: TimeoutArg = None,
                        extensions: Mapping[str, Any] | None = None,
                        ) -> SyncStream[GenerateResponse]:
        return self._wrap(lambda: self._async.generate_stream(
            request, timeout=timeout, extensions=extensions))

    def embed(self, request: EmbedRequest | Mapping[str, Any], *, timeout: TimeoutArg = None,
              extensions: Mapping[str, Any] | None = None) -> EmbedResponse:
        return self._run(self._async.embed(request, timeout=timeout, extensions=extensions))

    def embeddings(self, request: EmbeddingsRequest | Mapping[str, Any], *,
                   timeout: TimeoutArg = None,
                   extensions: Mapping[str, Any] | None = None) -> EmbeddingsResponse:
        return self._run(self._async.embeddings(request, timeout=timeout, extensions=extensions))

    def list_models(self) -> TagsResponse:
        return self._run(self._async.list_models())

    def list_running(self) -> RunningModelsResponse:
        return self._run(self._async.list_running())

    def model_info(self, name: str, verbose: bool = False) -> ModelInfo:
        return self._run(self._async.model_info(name, verbose))

    def pull_model(self, name: str, *, insecure: bool = False,
                   timeout: TimeoutArg = None) -> ProgressResponse:
        return self._run(self._async.pull_model(name, insecure=insecure, timeout=timeout))

    def pull_model_stream(self, name: str, *, insecure: bool = False,
                          timeout: TimeoutArg = None) -> SyncStream[ProgressResponse]:
        return self._wrap(lambda: self._async.pull_model_stream(
            name, insecure=insecure, timeout=timeout))

    def push_model(self, name: str, *, insecure: bool = False,
                   timeout: TimeoutArg = None) -> ProgressResponse:
        return self._run(self._async.push_model(name, insecure=insecure, timeout=timeout))

    def push_model_stream(self, name: str, *, insecure: bool = False,
                          timeout: TimeoutArg = None) -> SyncStream[ProgressResponse]:
        return self._wrap(lambda: self._async.push_model_stream(
            name, insecure=insecure, timeout=timeout))

    def create_model(self, request: CreateRequest | Mapping[str, Any], *,
                     timeout: TimeoutArg = None) -> ProgressResponse:
        return self._run(self._async.create_model(request, timeout=timeout))

    def create_model_stream(self, request: CreateRequest | Mapping[str, Any], *,
                            timeout: TimeoutArg = None) -> SyncStream[ProgressResponse]:
        return self._wrap(lambda: self._async.create_model_stream(request, timeout=timeout))

    def copy_model(self, source: str, destination: str) -> None:
        return self._run(self._async.copy_model(source, destination))

    def delete_model(self, name: str) -> None:
        return self._run(self._async.delete_model(name))

    def blob_exists(self, digest: str) -> bool:
        return self._run(self._async.blob_exists(digest))

    def push_blob(self, data: bytes | bytearray | memoryview | str | os.PathLike[str]) -> str:
        return self._run(self._async.push_blob(data))
