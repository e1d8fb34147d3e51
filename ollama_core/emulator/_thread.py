"""Running an emulator on its own event loop, for synchronous code and other threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from ._app import OllamaEmulator
from ._faults import FaultSet
from ._models import ModelRecord
from ._state import EmulatorState, RecordedRequest

__all__ = ["EmulatorThread"]

T = TypeVar("T")


class EmulatorThread:
    """An :class:`OllamaEmulator` served from a daemon thread.

    ::

        with EmulatorThread() as emu:
            emu.faults.add(path="/api/tags", status=503)
            ollama.Client(host=emu.url).list()

    Takes the same arguments as :class:`OllamaEmulator`. :attr:`faults`, :attr:`requests`
    and :meth:`hits` are safe to use from any thread; anything else on :attr:`emulator`
    that changes state should go through :meth:`call` so it runs on the server's loop.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        models: Mapping[str, ModelRecord] | Iterable[str | ModelRecord] | None = None,
        version: str = "0.33.0",
        chunk_delay: float = 0.0,
        registry: Mapping[str, ModelRecord] | Iterable[str | ModelRecord] | None = None,
    ) -> None:
        self.emulator = OllamaEmulator(
            host, port, models=models, version=version, chunk_delay=chunk_delay, registry=registry
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorThread:
        if self._thread is not None:
            raise RuntimeError("the emulator thread is already running")
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.emulator.start())
            except BaseException as exc:  # report to the starting thread, then quit
                ready.set_exception(exc)
                loop.close()
                return
            ready.set_result(None)
            try:
                loop.run_forever()
            finally:
                # Handlers still sleeping (a chunk delay whose client went away) would be
                # destroyed while pending; finish them properly before closing the loop.
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=serve, name="ollama-emulator", daemon=True)
        thread.start()
        try:
            ready.result()
        except BaseException:
            thread.join()
            raise
        self._loop, self._thread = loop, thread
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), loop).result()
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._loop = self._thread = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run a coroutine on the emulator's loop and return its result, e.g.
        ``thread.call(thread.emulator.stop())`` to take the server down for a while."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("the emulator thread is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def port(self) -> int:
        return self.emulator.port

    @property
    def faults(self) -> FaultSet:
        return self.emulator.faults

    @property
    def state(self) -> EmulatorState:
        """The served state (models, the signed-in user, ``cloud_disabled``...); plain
        attributes, read by the server thread on each request."""
        return self.emulator.state

    @property
    def models(self) -> dict[str, ModelRecord]:
        return self.emulator.models

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.emulator.requests

    def hits(self, path: str | None = None, method: str | None = None) -> int:
        return self.emulator.hits(path, method)

    def clear_requests(self) -> None:
        self.emulator.clear_requests()

    @property
    def open_connections(self) -> int:
        if self._loop is None:
            return 0
        return self.call(_read(lambda: self.emulator.open_connections))

    def wait_for_connections(self, count: int = 0, timeout: float = 2.0) -> bool:
        return self.call(self.emulator.wait_for_connections(count, timeout))


async def _read(getter: Callable[[], T]) -> T:
    return getter()
