"""Client-side rate limiting: a token bucket and an in-flight cap per endpoint.

Every call that reaches this middleware (the innermost one, so every attempt a retry or a
failover makes is paced on its own, and a cache hit costs nothing) first gets a
concurrency slot, then a token, from the limiter of its endpoint (``request.endpoint``:
``"chat"``, ``"embed"``...; with ``per_upstream`` the limiter of its endpoint *on the
server failover chose*).

Settings (``plugin_config={"rate_limiting": {...}}``), each also accepted per endpoint
under ``endpoints`` (``{"endpoints": {"chat": {"rate": 2, "max_concurrent": 1}}}``; keys
an endpoint does not set come from the top level):

``rate`` (default ``10.0``)
    Tokens added per second, ``> 0``; ``None`` disables the token bucket (the in-flight
    cap alone then applies).
``burst`` (default: one second's worth, ``ceil(rate)``, at least 1)
    The bucket's capacity. The bucket starts full, so ``burst`` calls go at once and after
    that one per ``1 / rate`` seconds: in any window of ``w`` seconds at most
    ``burst + rate * w`` calls pass.
``max_wait`` (default ``None``)
    The longest a call may wait, in seconds: ``0`` rejects at once when no token (or
    slot) is free, as the Rust crate did; ``None`` waits as long as needed (the call's own
    deadline still applies). Waiting for a token is exact, so a call whose token lies
    beyond ``max_wait`` is rejected at once, with ``retry_after`` set to the time its token
    would have come, rather than after a pointless wait. Waiting for a slot is open-ended
    (it depends on when other calls end), so it lasts up to ``max_wait``, then fails with
    ``retry_after=None``. Rejection raises ``RateLimitExceededError`` naming the endpoint;
    nothing is sent.
``max_concurrent`` (default ``None``: no cap)
    Calls in flight at once. A slot is held until the response is complete: for a stream,
    until ``response.on_done`` fires (its last line, an error, or ``cancel()``/
    ``aclose()``). It is always released: on success, on error, on cancellation of the
    waiting or calling task, and for a stream the caller drops without closing, once it
    is garbage-collected (``Response.abandon`` ends it, connection and slot alike).
``per_upstream`` (default ``False``, top level only)
    Keep separate limiters per server as well as per endpoint (for failover across
    servers with their own capacity).

Waiters are served in strict FIFO order, without polling: only the head of the line
sleeps, exactly until its token (see ``_bucket``). A waiter that is cancelled or rejected
gives its place up without taking or wasting a token.

Statistics: :meth:`RateLimitingPlugin.stats`. Event: ``rate_limited`` with ``endpoint``,
``waited`` (seconds of the client's clock) and ``rejected`` whenever a call had to wait
or was refused.

Cooperation: the plugins outside (breaker, failover, retry, cache) see a refusal as a
``RateLimitExceededError`` raised before anything was sent. It is a ``PluginError``, not a
server failure: a breaker must not count it, failover may try the next server (with
``per_upstream`` that server has its own bucket), retry may wait ``retry_after`` and try
again. A cache hit never reaches the limiter, so it costs no token.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ollama_core import (
    ORDER_RATE_LIMIT,
    Clock,
    Event,
    Handler,
    InvalidConfigError,
    MonotonicClock,
    OllamaClient,
    RateLimitExceededError,
    Request,
    Response,
    hookimpl,
)

from ._bucket import Rejected, SlotPool, TokenBucket

__all__ = ["DEFAULT_RATE", "LimitSpec", "RateLimitingPlugin"]

#: Tokens per second when ``rate`` is not set.
DEFAULT_RATE = 10.0

_LIMIT_KEYS = ("rate", "burst", "max_wait", "max_concurrent")
_TOP_KEYS = (*_LIMIT_KEYS, "endpoints", "per_upstream")


@dataclass(frozen=True, slots=True)
class LimitSpec:
    """The resolved limits of one endpoint."""

    rate: float | None
    burst: int
    max_wait: float | None
    max_concurrent: int | None


def _number(where: str, value: Any, *, positive: bool, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidConfigError(f"rate_limiting: {where} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise InvalidConfigError(f"rate_limiting: {where} must be > 0, got {value!r}")
    if not positive and value < 0:
        raise InvalidConfigError(f"rate_limiting: {where} must be >= 0, got {value!r}")
    return float(value)


def _count(where: str, value: Any, *, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidConfigError(f"rate_limiting: {where} must be an integer >= 1, got {value!r}")
    return value


def _check_keys(where: str, section: Mapping[str, Any], known: tuple[str, ...]) -> None:
    for key in section:
        if key not in known:
            raise InvalidConfigError(
                f"rate_limiting: unknown setting {where}{key} (known: {', '.join(known)})")


def _resolve(prefix: str, raw: Mapping[str, Any]) -> LimitSpec:
    rate = _number(f"{prefix}rate", raw.get("rate", DEFAULT_RATE), positive=True, allow_none=True)
    if "burst" in raw:
        burst = _count(f"{prefix}burst", raw["burst"], allow_none=False)
        assert burst is not None
    else:
        burst = max(1, math.ceil(rate)) if rate is not None else 1
    return LimitSpec(
        rate=rate,
        burst=burst,
        max_wait=_number(f"{prefix}max_wait", raw.get("max_wait"), positive=False,
                         allow_none=True),
        max_concurrent=_count(f"{prefix}max_concurrent", raw.get("max_concurrent"),
                              allow_none=True),
    )


def _parse_config(config: Mapping[str, Any]) -> tuple[LimitSpec, dict[str, LimitSpec], bool]:
    """Validate ``config``: (default limits, limits by endpoint, per_upstream)."""
    if not isinstance(config, Mapping):
        raise InvalidConfigError(f"rate_limiting: configuration must be a mapping, got "
                                 f"{type(config).__name__}")
    _check_keys("", config, _TOP_KEYS)
    base = {k: config[k] for k in _LIMIT_KEYS if k in config}
    default = _resolve("", base)
    per_upstream = config.get("per_upstream", False)
    if not isinstance(per_upstream, bool):
        raise InvalidConfigError(
            f"rate_limiting: per_upstream must be true or false, got {per_upstream!r}")
    endpoints = config.get("endpoints") or {}
    if not isinstance(endpoints, Mapping):
        raise InvalidConfigError(
            f"rate_limiting: endpoints must map endpoint names to settings, got {endpoints!r}")
    overrides: dict[str, LimitSpec] = {}
    for endpoint, section in endpoints.items():
        where = f"endpoints.{endpoint}."
        if not isinstance(endpoint, str) or not endpoint:
            raise InvalidConfigError(
                f"rate_limiting: endpoints: {endpoint!r} is not an endpoint name")
        if not isinstance(section, Mapping):
            raise InvalidConfigError(
                f"rate_limiting: {where[:-1]} must be a mapping of settings, got {section!r}")
        _check_keys(where, section, _LIMIT_KEYS)
        overrides[endpoint] = _resolve(where, {**base, **section})
    return default, overrides, per_upstream


class _Limiter:
    """The limits and counters of one endpoint (or endpoint and server)."""

    __slots__ = ("key", "spec", "bucket", "slots", "allowed", "waited", "rejected")

    def __init__(self, key: str, spec: LimitSpec, now: float) -> None:
        self.key = key
        self.spec = spec
        self.bucket = TokenBucket(spec.rate, spec.burst, now) if spec.rate is not None else None
        self.slots = SlotPool(spec.max_concurrent) if spec.max_concurrent is not None else None
        self.allowed = 0
        self.waited = 0
        self.rejected = 0

    def apply(self, spec: LimitSpec, now: float) -> None:
        """Adopt new limits, keeping tokens, in-flight count and waiters where possible."""
        self.spec = spec
        if spec.rate is None:
            self.bucket = None
        elif self.bucket is None:
            self.bucket = TokenBucket(spec.rate, spec.burst, now)
        else:
            self.bucket.reshape(spec.rate, spec.burst, now)
        if spec.max_concurrent is None:
            self.slots = None
        elif self.slots is None:
            self.slots = SlotPool(spec.max_concurrent)
        else:
            self.slots.resize(spec.max_concurrent)

    def snapshot(self, now: float) -> dict[str, Any]:
        bucket, slots = self.bucket, self.slots
        return {
            "allowed": self.allowed,
            "waited": self.waited,
            "rejected": self.rejected,
            "tokens": bucket.tokens(now) if bucket is not None else None,
            "waiting": (bucket.waiting if bucket is not None else 0)
            + (slots.waiting if slots is not None else 0),
            "in_flight": slots.in_flight if slots is not None else None,
        }


class RateLimitingPlugin:
    """Token bucket and in-flight cap per endpoint; see the module docstring.

    Registered by name (``plugins=["rate_limiting"]``); it is its own middleware.
    """

    name = "rate_limiting"
    order = ORDER_RATE_LIMIT

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._default, self._overrides, self._per_upstream = _parse_config(config or {})
        self._limiters: dict[str, _Limiter] = {}
        self._clock: Clock = MonotonicClock()
        self._client: OllamaClient | None = None

    # -- plugin hooks ------------------------------------------------------------------

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        self._clock = client.clock
        self._client = client

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
        return [self]

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply new settings at once. Tokens, in-flight counts and queued calls carry
        over; a call already sleeping for its token finishes that sleep first."""
        default, overrides, per_upstream = _parse_config(config)
        self._default, self._overrides = default, overrides
        if per_upstream != self._per_upstream:
            # Keys change meaning; calls in flight release into the old limiters.
            self._per_upstream = per_upstream
            self._limiters = {}
            return
        now = self._clock.now()
        for limiter in self._limiters.values():
            limiter.apply(self.spec_for(limiter.key.partition("@")[0]), now)

    # -- introspection -----------------------------------------------------------------

    def spec_for(self, endpoint: str) -> LimitSpec:
        """The limits that apply to ``endpoint``."""
        return self._overrides.get(endpoint, self._default)

    def stats(self) -> dict[str, Any]:
        """Counters: ``allowed`` (calls let through, after waiting or not), ``waited``
        (calls that had to wait), ``rejected``, and under ``limiters`` the same per
        endpoint (``"chat"``, or ``"chat@http://host:11434"`` with ``per_upstream``) plus
        ``tokens`` (now in the bucket; ``None`` without a rate), ``waiting`` and
        ``in_flight`` (``None`` without a cap)."""
        now = self._clock.now()
        per = {key: lim.snapshot(now) for key, lim in self._limiters.items()}
        return {
            "allowed": sum(s["allowed"] for s in per.values()),
            "waited": sum(s["waited"] for s in per.values()),
            "rejected": sum(s["rejected"] for s in per.values()),
            "limiters": per,
        }

    def __repr__(self) -> str:
        return f"RateLimitingPlugin({self._default}, endpoints={sorted(self._overrides)})"

    # -- the middleware ----------------------------------------------------------------

    def _limiter(self, request: Request) -> _Limiter:
        endpoint = request.endpoint
        key = endpoint
        if self._per_upstream:
            upstream = request.upstream
            if upstream is None and self._client is not None:
                upstream = self._client.upstreams.primary
            if upstream is not None:
                key = f"{endpoint}@{upstream.display}"
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = _Limiter(key, self.spec_for(endpoint),
                                                     self._clock.now())
        return limiter

    async def __call__(self, request: Request, call_next: Handler) -> Response:
        limiter = self._limiters.get(request.endpoint) if not self._per_upstream else None
        if limiter is None:
            limiter = self._limiter(request)
        slots = limiter.slots
        bucket = limiter.bucket
        have_slot = slots is None or slots.try_acquire()
        if not have_slot or (bucket is not None and not bucket.try_take(self._clock.now())):
            await self._wait(limiter, request, have_slot and slots is not None)
        else:
            limiter.allowed += 1
        if slots is None:
            return await call_next(request)
        try:
            response = await call_next(request)
        except BaseException:
            slots.release()
            raise
        # Runs at once for a plain response, at the end of a stream otherwise.
        response.on_done(slots.done)
        return response

    async def _wait(self, limiter: _Limiter, request: Request, have_slot: bool) -> None:
        """The slow path: wait for a slot and/or a token, or raise the rejection. On
        return the call holds its slot (if there is a cap) and its token."""
        clock = self._clock
        start = clock.now()
        max_wait = limiter.spec.max_wait
        deadline = None if max_wait is None else start + max_wait
        slots, bucket = limiter.slots, limiter.bucket
        try:
            if slots is not None and not have_slot:
                if max_wait == 0 or not await slots.acquire(clock, max_wait):
                    raise Rejected(None)
                have_slot = True
                if bucket is not None and bucket.try_take(clock.now()):
                    bucket = None
            if bucket is not None:
                await bucket.take(clock, deadline)
        except Rejected as exc:
            if have_slot and slots is not None:
                slots.release()
            limiter.rejected += 1
            waited = clock.now() - start
            self._emit(request.endpoint, waited, True)
            raise RateLimitExceededError(
                self._message(request.endpoint, limiter.spec, exc.retry_after),
                endpoint=request.endpoint, retry_after=exc.retry_after) from None
        except BaseException:
            if have_slot and slots is not None:
                slots.release()
            raise
        limiter.allowed += 1
        limiter.waited += 1
        self._emit(request.endpoint, clock.now() - start, False)

    @staticmethod
    def _message(endpoint: str, spec: LimitSpec, retry_after: float | None) -> str:
        if retry_after is None:
            why = f"{spec.max_concurrent} calls already in flight"
        else:
            why = f"no token for another {retry_after:.6g}s at {spec.rate:g}/s"
        limit = "" if spec.max_wait is None else f" (max_wait={spec.max_wait:g}s)"
        return f"rate limit exceeded for endpoint {endpoint!r}: {why}{limit}"

    def _emit(self, endpoint: str, waited: float, rejected: bool) -> None:
        client = self._client
        if client is not None and client.plugin_manager.has_event_hook:
            client.emit(Event("rate_limited", self.name, self._clock.now(),
                              {"endpoint": endpoint, "waited": waited, "rejected": rejected}))
