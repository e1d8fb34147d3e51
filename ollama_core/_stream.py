"""Controllable streams: an async iterator of typed chunks with pause, resume and cancel.

Pausing is real backpressure: while paused, nothing reads from the socket, so aiohttp's
buffer fills, it stops reading from the transport, and TCP flow control slows the server.
Cancelling drops the connection at once, even while a read is pending (which is also what
makes Ollama stop generating). A pause longer than ``pause_timeout`` cancels the stream.

Ending: a stream the consumer cancels itself simply ends (``StopAsyncIteration``), since
the consumer asked for it; a stream cancelled by its pause timeout raises
``StreamCancelledError`` at the next read, since nobody asked for it. Every other failure is
raised as it happened; no chunk is ever dropped silently.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._clock import Clock
from ._exceptions import StreamCancelledError, StreamError
from ._envelope import Response

__all__ = ["Stream", "StreamMetrics", "StreamState"]

T = TypeVar("T")


class StreamState(str, enum.Enum):
    """Where a stream is in its life."""

    READY = "ready"          # created; no request sent yet
    STREAMING = "streaming"  # request sent; chunks flowing to the consumer
    PAUSED = "paused"        # the consumer is not being fed; the socket is not read
    CANCELLED = "cancelled"  # cancelled by the consumer or by the pause timeout
    COMPLETED = "completed"  # the terminal line arrived
    FAILED = "failed"        # an error ended it

    def __str__(self) -> str:
        return self.value


@dataclass(slots=True)
class StreamMetrics:
    """Counters of one stream. Times are in seconds of the client's clock."""

    chunks: int = 0
    bytes: int = 0
    pauses: int = 0
    resumes: int = 0
    paused_seconds: float = 0.0
    started_at: float | None = None
    first_chunk_at: float | None = None
    ended_at: float | None = None

    @property
    def time_to_first_chunk(self) -> float | None:
        """From sending the request to the first chunk reaching the consumer."""
        if self.started_at is None or self.first_chunk_at is None:
            return None
        return self.first_chunk_at - self.started_at


class Stream(Generic[T]):
    """A lazily started stream of typed chunks.

    Nothing is sent until the first ``__anext__`` (or ``await stream.start()``). Use it as
    ``async for chunk in stream`` and, to be sure the connection is released when leaving
    early, as ``async with stream:`` or call ``await stream.aclose()``.

    A stream dropped without being closed is ended when it is garbage-collected
    (``Response.abandon``): its connection is dropped and the policies waiting on its end
    (a breaker probe, a limiter slot) hear ``StreamCancelledError`` at the event loop's next
    iteration. Closing it yourself is still the way to release it at a known moment.
    """

    # Slotted: every open stream holds one (with an instance dict it costs twice as much).
    __slots__ = ("_open", "_parse", "_clock", "pause_timeout", "_state", "_response",
                 "_lines", "_direct", "_resumed", "_pause_started", "_pause_task",
                 "_pause_generation", "_cancel_error", "_state_callbacks", "metrics", "last",
                 "__weakref__")

    def __init__(self, open_response: Callable[[], Awaitable[Response]],
                 parse: Callable[[dict[str, Any]], T], *, clock: Clock,
                 pause_timeout: float | None = None) -> None:
        # Dropped once the response is in: it holds the request as the caller made it,
        # which the response no longer needs once a middleware sent a copy.
        self._open: Callable[[], Awaitable[Response]] | None = open_response
        self._parse = parse
        self._clock = clock
        self.pause_timeout = pause_timeout
        self._state = StreamState.READY
        self._response: Response | None = None
        self._lines: AsyncIterator[dict[str, Any]] | None = None
        # The response whose lines ``_lines`` are, when they are read directly.
        self._direct: Response | None = None
        # Set while paused, and only then: an Event (with its waiter deque, about 0.7 KiB)
        # per stream would be most of what a stream held open costs beyond its data.
        self._resumed: asyncio.Event | None = None
        self._pause_started: float | None = None
        self._pause_task: asyncio.Task[None] | None = None
        self._pause_generation = 0
        self._cancel_error: StreamCancelledError | None = None
        # Made by the first on_state_change(): most streams never have one.
        self._state_callbacks: list[Callable[[StreamState, StreamState], None]] | None = None
        self.metrics = StreamMetrics()
        #: The last chunk delivered (the final one once the stream completed).
        self.last: T | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> StreamState:
        return self._state

    @property
    def response(self) -> Response | None:
        """The transport response, once started."""
        return self._response

    def on_state_change(self, callback: Callable[[StreamState, StreamState], None]) -> None:
        """Call ``callback(old, new)`` after every state transition."""
        if self._state_callbacks is None:
            self._state_callbacks = []
        self._state_callbacks.append(callback)

    def _set_state(self, new: StreamState) -> None:
        old, self._state = self._state, new
        callbacks = self._state_callbacks
        if old is not new and callbacks is not None:
            for cb in callbacks:
                cb(old, new)

    # -- control -------------------------------------------------------------------------

    def pause(self) -> None:
        """Stop feeding the consumer and stop reading the socket.

        Allowed from READY (the request is still sent on the first read) or STREAMING.
        """
        if self._state is StreamState.PAUSED:
            return
        if self._state not in (StreamState.READY, StreamState.STREAMING):
            raise StreamError(f"cannot pause a stream that is {self._state}")
        self._resumed = asyncio.Event()
        self.metrics.pauses += 1
        self._pause_started = self._clock.now()
        self._set_state(StreamState.PAUSED)
        self._pause_generation += 1
        if self.pause_timeout is not None:
            self._cancel_pause_timer()
            self._pause_task = asyncio.get_running_loop().create_task(
                self._pause_timer(self._pause_generation, self.pause_timeout))

    def resume(self) -> None:
        """Feed the consumer again."""
        if self._state is StreamState.CANCELLED:
            raise StreamCancelledError("cannot resume a cancelled stream")
        if self._state is not StreamState.PAUSED:
            raise StreamError(f"cannot resume a stream that is {self._state}")
        self._cancel_pause_timer()
        if self._pause_started is not None:
            self.metrics.paused_seconds += self._clock.now() - self._pause_started
            self._pause_started = None
        self.metrics.resumes += 1
        self._set_state(StreamState.STREAMING if self._response is not None else StreamState.READY)
        self._wake()

    def cancel(self) -> None:
        """Stop the stream now and drop its connection. Idempotent; never raises."""
        self._cancel(None)

    def _cancel(self, error: StreamCancelledError | None) -> None:
        if self._state in (StreamState.CANCELLED, StreamState.COMPLETED, StreamState.FAILED):
            return
        self._cancel_error = error
        self._cancel_pause_timer()
        if self._pause_started is not None:
            self.metrics.paused_seconds += self._clock.now() - self._pause_started
            self._pause_started = None
        self.metrics.ended_at = self._clock.now()
        self._set_state(StreamState.CANCELLED)
        if self._response is not None:
            self._response.abort()
        self._wake()  # wake a consumer waiting in pause so it can see the end

    def _wake(self) -> None:
        resumed, self._resumed = self._resumed, None
        if resumed is not None:
            resumed.set()

    async def _pause_timer(self, generation: int, timeout: float) -> None:
        await self._clock.sleep(timeout)
        # A later pause has its own timer; an older one must not cancel it.
        if self._pause_generation == generation and self._state is StreamState.PAUSED:
            self._pause_task = None
            self._cancel(StreamCancelledError(
                f"stream cancelled: paused for longer than {timeout:g}s"))

    def _cancel_pause_timer(self) -> None:
        task, self._pause_task = self._pause_task, None
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    # -- iteration -----------------------------------------------------------------------

    async def start(self) -> Stream[T]:
        """Send the request now (instead of on the first read)."""
        opener = self._open
        if opener is not None and self._state in (StreamState.READY, StreamState.PAUSED):
            self.metrics.started_at = self._clock.now()
            response = await opener()
            self._response = response
            self._open = None
            # A streamed Response's lines are read here directly (see Response._deliver);
            # anything else through its own iterator (a Response that is not a stream
            # refuses at the first read).
            lines = response._lines if isinstance(response, Response) else None
            if lines is not None:
                self._direct = response
                self._lines = lines
            else:
                self._lines = response.__aiter__()
            state: StreamState = self._state  # cancel() may have run while connecting
            if state is StreamState.CANCELLED:
                await response.aclose()
            elif state is StreamState.READY:
                self._set_state(StreamState.STREAMING)
        return self

    def __aiter__(self) -> Stream[T]:
        return self

    async def __anext__(self) -> T:
        lines = self._lines
        # While STREAMING nothing is paused, cancelled or ended and the lines are there, so
        # the hot path (every chunk) skips the checks below.
        if self._state is not StreamState.STREAMING or lines is None:
            resumed = self._resumed
            if resumed is not None:
                await resumed.wait()
            if self._state is StreamState.CANCELLED:
                await self._release()
                if self._cancel_error is not None:
                    raise self._cancel_error
                raise StopAsyncIteration
            if self._state in (StreamState.COMPLETED, StreamState.FAILED):
                raise StopAsyncIteration
            if self._lines is None:
                try:
                    await self.start()
                except BaseException:
                    self._fail()
                    raise
                return await self.__anext__()
            lines = self._lines
        direct = self._direct
        try:
            if direct is None:
                line = await lines.__anext__()
            else:
                # The first line was read with the headers (the commit point); it is
                # taken here as the response's own iterator takes it, once.
                first = direct._first
                if first is None:
                    line = await lines.__anext__()
                else:
                    direct._first = None
                    line = first
                direct._deliver(line)
        except StopAsyncIteration:
            if direct is not None:
                direct.finish(None)
            self.metrics.ended_at = self._clock.now()
            self._sync_bytes()
            self._set_state(StreamState.COMPLETED)
            raise
        except BaseException as exc:
            if direct is not None:
                direct.finish(exc)
            now_state: StreamState = self._state  # cancel() may have run during the read
            if now_state is StreamState.CANCELLED:
                # The read failed because cancel() dropped the connection.
                await self._release()
                if self._cancel_error is not None:
                    raise self._cancel_error from None
                raise StopAsyncIteration from None
            self._fail()
            raise
        metrics = self.metrics
        metrics.chunks += 1
        response = self._response
        metrics.bytes = response.bytes_received if response is not None else 0
        if metrics.first_chunk_at is None:
            metrics.first_chunk_at = self._clock.now()
        chunk = self._parse(line)
        self.last = chunk
        return chunk

    def _sync_bytes(self) -> None:
        if self._response is not None:
            self.metrics.bytes = self._response.bytes_received

    def _fail(self) -> None:
        self.metrics.ended_at = self._clock.now()
        self._sync_bytes()
        self._cancel_pause_timer()
        self._set_state(StreamState.FAILED)

    async def _release(self) -> None:
        self._sync_bytes()
        response = self._response
        if response is not None:
            await response.aclose()

    async def aclose(self) -> None:
        """Release the connection. A stream closed before its end counts as cancelled."""
        self._cancel_pause_timer()
        if self._state not in (StreamState.COMPLETED, StreamState.FAILED):
            self._cancel(None)
        await self._release()

    def __del__(self) -> None:
        # The Response usually outlives its Stream by a few loop iterations (the async
        # generator reading it is closed by the loop), so it is handed over here, at once.
        try:
            response = self._response
            if response is not None:
                response.abandon()
        except Exception:  # an exception in a finalizer can only be printed, never handled
            pass

    async def __aenter__(self) -> Stream[T]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<Stream {self._state} chunks={self.metrics.chunks}>"

    @property
    def bytes_received(self) -> int:
        return self._response.bytes_received if self._response is not None else 0
