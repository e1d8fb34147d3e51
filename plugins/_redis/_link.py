"""One plugin's connection to its shared Redis store: short timeouts, a breaker of its own,
the Lua scripts, writes sent in the background in order, and lease renewal.

Every call goes through :meth:`RedisLink.call`, bounded by ``store_timeout`` (socket
timeouts and an ``asyncio.timeout`` around the whole call; redis-py's own retries are
off, since a second try is exactly the latency the caller cannot afford). A call that
fails marks the store *down*: a ``StoreDegraded`` event and a log line, then for
:data:`RETRY_INTERVAL` seconds of the client's clock every call fails at once with
:class:`StoreUnavailable`, without touching the network (the stores then decide on their
local degraded store, or refuse calls with ``fail_closed``). After that one call at a
time tries Redis again; the first that succeeds ends the outage with ``StoreRecovered``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import os
from collections import deque
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from ollama_core import Clock
from ollama_core._redact import mask_url
from ollama_core.ext import Event, StoreDegraded, StoreRecovered

from ._errors import StoreUnavailable

__all__ = ["RETRY_INTERVAL", "RedisLink", "StoreUnavailable", "lua", "redis_key"]

T = TypeVar("T")

#: Seconds a store stays marked down before one call tries it again.
RETRY_INTERVAL: Final = 1.0
#: Longest wait for the background writes when a store closes (seconds).
_FLUSH_LIMIT: Final = 2.0
#: What counts as "the store did not answer".
_FAILURES: Final = (RedisError, OSError, TimeoutError)


def lua(name: str) -> str:
    """The text of one of this package's Lua scripts (``<name>.lua``)."""
    return resources.files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")


def redis_key(prefix: str, kind: str, tag: str, rest: str) -> str:
    """``<prefix>:<kind>:{<tag>}:<rest>``: namespaced by the prefix, and cluster-safe: the
    keys one script touches share one hash tag (one per upstream, or per limiter key when
    calls are not split by server), so they land in one slot."""
    return f"{prefix}:{kind}:{{{tag}}}:{rest}"


_lease_counter = itertools.count(1)
_lease_prefix = f"{os.getpid()}-{os.urandom(4).hex()}"


def new_lease() -> str:
    """A lease id unique across the fleet (pid, random, counter)."""
    return f"{_lease_prefix}-{next(_lease_counter)}"


class RedisLink:
    """The connection of one plugin to ``url`` (see the module docstring).

    ``source`` names the plugin (the ``source`` of its store events), ``emit`` publishes
    them, ``clock`` is the client's (the breaker of the link and the events' times)."""

    def __init__(self, url: str, *, timeout: float, clock: Clock, source: str,
                 emit: Callable[[Event], None], fail_closed: bool = False) -> None:
        real = getattr(url, "url", url)
        #: The store's URL without credentials: all that is ever shown of it.
        self.display = mask_url(real)
        self.timeout = timeout
        self.clock = clock
        self.source = source
        self.fail_closed = fail_closed
        self._emit = emit
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            real, socket_timeout=timeout, socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0), health_check_interval=0)
        #: Client-clock reading when the store went down (``None``: it answers).
        self.down_since: float | None = None
        self._retry_at = 0.0
        #: Round trips that reached Redis (for the benchmark).
        self.round_trips = 0
        self._outbox: deque[Callable[[aioredis.Redis], Awaitable[Any]]] = deque()
        self._sender: asyncio.Task[None] | None = None
        # Leases this process holds, renewed while held: lease -> (sorted set, ttl).
        self._leases: dict[str, tuple[str, float]] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._renew = self.script(lua("renew"))
        self._closing = False
        self._closed = False

    def script(self, source: str) -> AsyncScript:
        """A Lua script run with EVALSHA (loaded with SCRIPT LOAD when Redis lacks it)."""
        return self.redis.register_script(source)

    @property
    def up(self) -> bool:
        """Whether a call would try Redis now (it is not marked down, or its retry is due)."""
        return self.down_since is None or self.clock.now() >= self._retry_at

    # -- calls -------------------------------------------------------------------------

    async def call(self, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """``await op(redis)`` within ``timeout``; :class:`StoreUnavailable` when the store
        is down or does not answer (or the link is closed: nothing reopens it)."""
        if self._closed:
            raise self._unavailable("closed")
        if self.down_since is not None:
            now = self.clock.now()
            if now < self._retry_at:
                raise self._unavailable("not answering")
            self._retry_at = now + RETRY_INTERVAL  # the others keep failing fast meanwhile
        try:
            async with asyncio.timeout(self.timeout):
                result = await op(self.redis)
        except _FAILURES as exc:
            self._failed(exc)
            raise self._unavailable(_describe(exc)) from None
        self.round_trips += 1
        if self.down_since is not None:
            self._recovered()
        return result

    def send(self, op: Callable[[aioredis.Redis], Awaitable[Any]]) -> None:
        """Run ``op`` in the background, after every write sent before it (transitions
        and releases come from synchronous callbacks). Dropped when the store is down or
        no loop runs: a lost write is a lease that expires or a verdict that lapses."""
        if self._closing:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._outbox.append(op)
        if self._sender is None or self._sender.done():
            self._sender = loop.create_task(self._drain())

    async def _drain(self) -> None:
        outbox = self._outbox
        while outbox:
            op = outbox.popleft()
            with contextlib.suppress(StoreUnavailable):
                await self.call(op)

    async def flush(self) -> None:
        """Wait until every write sent so far has been tried."""
        sender = self._sender
        while sender is not None and not sender.done():
            await asyncio.shield(sender)
            sender = self._sender

    # -- leases ------------------------------------------------------------------------

    def hold(self, lease: str, zset: str, ttl: float) -> None:
        """Keep renewing ``lease`` (a member of ``zset`` scored with its expiry) every
        ``ttl / 3`` seconds while this process holds it. Renewal runs on real time, not
        the client's clock: the TTLs it keeps alive are Redis's."""
        self._leases[lease] = (zset, ttl)
        if self._renewer is None or self._renewer.done():
            with contextlib.suppress(RuntimeError):
                self._renewer = asyncio.get_running_loop().create_task(self._renew_leases())

    def drop(self, lease: str) -> tuple[str, float] | None:
        """Stop renewing ``lease``; its sorted set and ttl, when it was held."""
        return self._leases.pop(lease, None)

    async def _renew_leases(self) -> None:
        while self._leases:
            await asyncio.sleep(min(ttl for _, ttl in self._leases.values()) / 3)
            by_set: dict[str, tuple[float, list[str]]] = {}
            for lease, (zset, ttl) in list(self._leases.items()):
                by_set.setdefault(zset, (ttl, []))[1].append(lease)
            for zset, (ttl, leases) in by_set.items():
                with contextlib.suppress(StoreUnavailable):
                    await self.call(functools.partial(self._renew_set, zset, ttl, leases))

    async def _renew_set(self, zset: str, ttl: float, leases: list[str],
                         r: aioredis.Redis) -> Any:
        return await self._renew(keys=[zset], args=[int(ttl * 1e6), *leases], client=r)

    # -- down and up -------------------------------------------------------------------

    def _failed(self, exc: BaseException) -> None:
        now = self.clock.now()
        self._retry_at = now + RETRY_INTERVAL
        if self.down_since is not None:
            return
        self.down_since = now
        self._emit(StoreDegraded(source=self.source, time=now, store=self.display,
                                 error=_describe(exc), fail_closed=self.fail_closed))

    def _recovered(self) -> None:
        now = self.clock.now()
        since, self.down_since = self.down_since, None
        self._emit(StoreRecovered(source=self.source, time=now, store=self.display,
                                  down_for=now - (since if since is not None else now)))

    def _unavailable(self, why: str) -> StoreUnavailable:
        return StoreUnavailable(f"{self.source}: shared store {self.display} unavailable "
                                f"({why})")

    # -- closing -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Send what is pending (for at most a couple of seconds), stop renewing, close
        the connections."""
        if self._closing:
            return
        self._closing = True  # no new writes; those sent already go out first
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_FLUSH_LIMIT):
                await self.flush()
        self._closed = True
        for task in (self._sender, self._renewer):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._leases.clear()
        await self.redis.aclose(close_connection_pool=True)

    def __repr__(self) -> str:
        state = "up" if self.down_since is None else "down"
        return f"RedisLink({self.display}, {state})"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    name = type(exc).__name__
    return mask_url(f"{name}: {text}" if text else name)
