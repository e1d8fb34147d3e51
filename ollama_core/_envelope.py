"""Transport envelopes: the ``Request`` a middleware sees and the ``Response`` it returns.

These are deliberately small and independent of aiohttp, so middlewares (retry, breaker,
limiter, failover, cache) can be written and tested without knowing the transport.

A streaming ``Response`` is *committed* when it is returned from the middleware chain: the
transport has already read and parsed its first line, so any failure before the first chunk
happens inside the chain (where retry and failover can act), and any failure after it
surfaces while the caller iterates (where nothing may be retried, because the caller has
already seen data).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ._redact import redact_headers
from ._upstreams import Upstream

# redact_headers is defined with the other masking rules in _redact and re-exported here,
# next to the envelopes whose repr uses it.
__all__ = ["Request", "Response", "Timeouts", "redact_headers"]


@dataclass(slots=True, frozen=True)
class Timeouts:
    """Timeouts of one call, in seconds; ``None`` disables one.

    - ``connect``: establishing a connection (pool wait excluded).
    - ``first_byte``: for a stream, from sending the request to its headers *and* its
      first complete line. For a plain call, the wait for the headers and every wait for
      body data (Ollama writes a plain answer in one piece once it is complete).
    - ``idle``: for a stream, the longest wait for data after its first line (between
      lines, or inside one); it does not apply to plain calls.
    - ``deadline``: the whole call, retries and backoff included, and for a stream its
      reading to the end. It changes no other limit, only adds its own
      (``DeadlineExceeded``). ``None`` by default so a long stream is never cut (aiohttp's
      own 300 s ``total`` is disabled). Like the other timeouts it runs on the event
      loop's clock, i.e. real time, even when the client was given a ``FakeClock`` for
      its policies.

    The non-streaming ``chat``, ``generate``, ``pull_model``, ``push_model`` and
    ``create_model`` go on the wire as streams (unless the client was built with
    ``stream_on_wire=False``), so they have the stream limits: ``first_byte`` to the first
    line, then ``idle``. A generation of any length then succeeds, and a server that
    stops answering is caught within ``idle``. Sent as ``"stream": false`` instead,
    ``first_byte`` would have to outlast the whole generation.
    """

    connect: float | None = 10.0
    first_byte: float | None = 120.0
    idle: float | None = 120.0
    deadline: float | None = None

    @classmethod
    def coerce(cls, value: float | Timeouts | None) -> Timeouts:
        """``120.0`` -> first_byte and idle of 120 s; a ``Timeouts`` passes through."""
        if isinstance(value, Timeouts):
            return value
        if value is None:
            return cls(connect=None, first_byte=None, idle=None, deadline=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            from ._exceptions import InvalidConfigError

            raise InvalidConfigError(f"timeout must be a positive number or Timeouts, got {value!r}")
        return cls(connect=min(10.0, float(value)), first_byte=float(value), idle=float(value))


@dataclass(slots=True, eq=False)
class Request:
    """One logical call to Ollama, as it travels through the middleware chain.

    ``endpoint`` is the API operation (``"chat"``, ``"generate"``, ``"embed"``, ``"tags"``,
    ...); policies that are "per endpoint" key on it. ``upstream`` is the server this
    attempt goes to (``None`` means the client's own base URL); failover sets it.
    ``extensions`` carries per-plugin data (for instance ``{"cache": True}`` to ask the
    cache for a chat response). ``terminal`` says which line ends the stream:
    ``"done"`` (chat/generate) or ``"success"`` (pull/push/create).

    Two fields are the core's own control data, set by the client and read by the
    transport layer and by plugins:

    - ``deadline_at``: when the call's deadline (``Timeouts.deadline``) passes, as a
      reading of the event loop's clock (``loop.time()``); ``None`` when the call has no
      deadline. Set by the client for each call; a retry can read it to give up on a
      backoff that would outlast the call.
    - ``decode``: ``False`` answers a plain call's body as the raw ``bytes`` instead of
      checked JSON (health probes, blob checks); ``"arrays"`` (an embed with
      ``arrays=True``) as checked JSON whose ``embeddings`` rows are ``array('d')``
      (``ollama_core._vectors``). A cache keeps answers of each kind apart.
    """

    method: str
    path: str
    endpoint: str
    json: Any = None
    data: bytes | Callable[[], AsyncIterator[bytes]] | None = None
    stream: bool = False
    terminal: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    upstream: Upstream | None = None
    timeouts: Timeouts | None = None
    idempotent: bool = True
    extensions: dict[str, Any] = field(default_factory=dict)
    attempt: int = 0
    deadline_at: float | None = None
    decode: bool | Literal["arrays"] = True

    def copy(self, **changes: Any) -> Request:
        """A shallow copy with ``changes`` applied; headers and extensions are copied too."""
        # Positional construction: this runs once per attempt in retry and failover.
        new = Request(self.method, self.path, self.endpoint, self.json, self.data, self.stream,
                      self.terminal, dict(self.headers), self.upstream, self.timeouts,
                      self.idempotent, dict(self.extensions), self.attempt, self.deadline_at,
                      self.decode)
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    def __repr__(self) -> str:
        target = self.upstream.display if self.upstream is not None else "<default>"
        return (f"Request({self.method} {self.path} endpoint={self.endpoint!r} "
                f"stream={self.stream} upstream={target} attempt={self.attempt} "
                f"headers={redact_headers(self.headers)!r})")


DoneCallback = Callable[[BaseException | None], None]


class Response:
    """The answer to a ``Request``.

    For a plain call ``body`` holds the decoded JSON (``None`` for an empty body). For a
    stream, iterate the response to get each parsed line as a ``dict`` (the first line has
    already been read by the transport), and ``aclose()`` it when abandoning it early.

    ``on_done(cb)`` registers ``cb(error_or_None)``; it runs exactly once, when a stream ends
    (its terminal line, an error, or ``aclose()``, which reports ``StreamCancelledError``), or
    at once for a plain response. Breakers, limiters and caches use it to learn the outcome
    of a stream that outlives the middleware chain.

    A stream that every holder drops before it ended, without closing it, is *abandoned*:
    when the public :class:`~ollama_core.Stream` wrapping it, or the response itself, is
    garbage-collected, :meth:`abandon` is scheduled on the event loop the response was made
    on. It ends the stream as ``abort()`` does (the connection is dropped and every
    ``on_done`` callback runs with ``StreamCancelledError``), so a breaker probe, a limiter
    slot or a connection is never held by a stream nobody can reach any more. This is the
    one mechanism for abandoned streams; it runs at the loop's next iteration after the
    last reference goes (at the next garbage collection if the stream sits in a cycle).

    ``last_line`` holds the last line delivered to the consumer (the terminal line of a
    stream that completed) and ``lines_delivered`` how many were delivered, so a done
    callback can read a stream's final figures without observing every chunk (two
    attribute stores per line, no call).
    """

    __slots__ = ("status", "headers", "request", "body", "from_cache", "upstream",
                 "last_line", "lines_delivered",
                 "_bytes", "_lines", "_first", "_abort", "_callbacks", "_finished",
                 "_taps", "_loop", "__weakref__")

    def __init__(self, request: Request, status: int, headers: Mapping[str, str] | None = None,
                 *, body: Any = None, lines: AsyncIterator[dict[str, Any]] | None = None,
                 first: dict[str, Any] | None = None,
                 abort: Callable[[], None] | None = None,
                 upstream: Upstream | None = None, byte_counter: list[int] | None = None) -> None:
        self.request = request
        self.status = status
        self.headers: Mapping[str, str] = headers or {}
        self.body = body
        self.from_cache = False
        self.upstream = upstream
        #: The last line delivered to the consumer, and how many were delivered.
        self.last_line: dict[str, Any] | None = None
        self.lines_delivered = 0
        self._lines = lines
        self._first = first
        self._abort = abort
        self._bytes = byte_counter if byte_counter is not None else [0]
        # Both lists are made by the first on_done() / tap(): a plain response, and a
        # stream without plugins, never has either.
        self._callbacks: list[DoneCallback] | None = None
        self._finished = lines is None
        self._taps: list[Callable[[dict[str, Any]], None]] | None = None
        # The loop an abandoned stream is ended on (its callbacks and connection live there).
        self._loop: asyncio.AbstractEventLoop | None = None
        if lines is not None:
            try:
                self._loop = asyncio.get_running_loop()
            except RuntimeError:  # built outside a loop (a replay in a test): ended in place
                pass

    @property
    def is_stream(self) -> bool:
        return self._lines is not None

    @property
    def bytes_received(self) -> int:
        """Body bytes read so far (for a stream, updated as data arrives)."""
        return self._bytes[0]

    @property
    def finished(self) -> bool:
        return self._finished

    @classmethod
    def from_lines(cls, request: Request, lines: Iterable[dict[str, Any]],
                   status: int = 200) -> Response:
        """A stream response replaying ``lines`` (used by caches and tests)."""
        items = list(lines)

        async def gen() -> AsyncIterator[dict[str, Any]]:
            for item in items[1:]:
                yield item

        return cls(request, status, {}, lines=gen(), first=items[0] if items else None)

    def on_done(self, callback: DoneCallback) -> None:
        if self._finished:
            callback(None)
        else:
            if self._callbacks is None:
                self._callbacks = []
            self._callbacks.append(callback)

    def tap(self, observer: Callable[[dict[str, Any]], None]) -> None:
        """Call ``observer(line)`` for every line the consumer receives (before typing)."""
        if self._taps is None:
            self._taps = []
        self._taps.append(observer)

    def finish(self, error: BaseException | None) -> None:
        """Mark the stream as ended and run the done callbacks (once)."""
        if self._finished:
            return
        self._finished = True
        callbacks, self._callbacks = self._callbacks, None
        if callbacks is not None:
            for cb in callbacks:
                cb(error)

    def _deliver(self, line: dict[str, Any]) -> None:
        """Record ``line`` as handed to the consumer: the taps, ``last_line``,
        ``lines_delivered``. Called by the iteration below and by ``Stream``, which reads
        ``_first`` and ``_lines`` itself (and calls ``finish`` at their end) rather than
        through this iterator: one async generator less per open stream (about 0.35 KiB:
        its frame, and the event loop's weak reference to every async generator) and one
        generator step less per chunk."""
        taps = self._taps
        if taps:
            for t in taps:
                t(line)
        self.last_line = line
        self.lines_delivered += 1

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict[str, Any]]:
        if self._lines is None:
            raise TypeError("not a streaming response")
        try:
            first, self._first = self._first, None
            if first is not None:
                self._deliver(first)
                yield first
            async for line in self._lines:
                self._deliver(line)
                yield line
        except GeneratorExit:
            raise
        except BaseException as exc:
            self.finish(exc)
            raise
        else:
            self.finish(None)

    def abort(self) -> None:
        """Drop the connection at once, even while a read is pending (synchronous).

        A read waiting on the socket fails; the stream reports cancellation."""
        if not self._finished:
            from ._exceptions import StreamCancelledError

            self.finish(StreamCancelledError("stream cancelled"))
        abort, self._abort = self._abort, None
        if abort is not None:
            abort()

    def abandon(self) -> None:
        """End a stream nobody holds any more, at the next iteration of its event loop.

        Safe from any thread and from a finalizer, which is where it is called from (see
        the class docstring). The stream ends as with ``abort()``, reporting
        ``StreamCancelledError``; a response that has ended is left alone."""
        if self._finished:
            return
        loop = self._loop
        try:
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._end_abandoned)
                return
        except RuntimeError:  # the loop closed meanwhile
            pass
        # No loop to run on (any more), so nothing can be waiting on it: end it in place.
        try:
            self._end_abandoned()
        except Exception:  # a closed loop's transport may refuse to close; it is gone anyway
            pass

    def _end_abandoned(self) -> None:
        if not self._finished:
            from ._exceptions import StreamCancelledError

            self.finish(StreamCancelledError(
                f"{self.request.endpoint} stream abandoned: garbage-collected before it "
                f"ended, without being closed"))
        abort, self._abort = self._abort, None
        if abort is not None:
            abort()

    def __del__(self) -> None:
        # Also runs for a half-built instance, and at interpreter exit: never raise here.
        try:
            if not self._finished:
                self.abandon()
        except Exception:  # an exception in a finalizer can only be printed, never handled
            pass

    async def aclose(self) -> None:
        """Release the connection. A stream closed before its end reports cancellation."""
        if not self._finished:
            from ._exceptions import StreamCancelledError

            self.finish(StreamCancelledError("stream closed before it ended"))
        lines, self._lines = self._lines, None
        if lines is not None:
            aclose = getattr(lines, "aclose", None)
            if aclose is not None:
                await aclose()
        abort, self._abort = self._abort, None
        if abort is not None:
            abort()

    def __repr__(self) -> str:
        kind = "stream" if self._lines is not None else "body"
        return f"<Response {self.status} {kind} for {self.request.endpoint!r}>"

