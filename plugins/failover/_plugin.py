"""Failover: spread calls over several Ollama servers and move away from failing ones.

This docstring is the policy, the one place it is written down. The settings and their
defaults are declared once, in :class:`FailoverConfig`; the middleware that applies the
policy is :class:`ollama_plugins.failover.policy.FailoverMiddleware`.

The policy, per call (each retry round of the retry plugin, which sits outside, is a call):

1. The plan is the available endpoints (of ``endpoints``, the servers in priority order)
   ordered by the ``policy`` setting, followed by the endpoints currently marked down, in
   priority order, as a last resort. ``"priority"``
   puts the first available endpoint in list order first, so traffic returns to the
   primary as soon as it is available again; ``"round_robin"`` rotates over the available
   endpoints. An endpoint is available when it is neither in its cooldown nor declared
   unhealthy by the health-check plugin (:meth:`ollama_core.Upstream.is_available`). So
   when every endpoint is down the call is still tried on all of them in priority order
   instead of failing instantly (Envoy's *panic mode*), and a call only fails once every
   endpoint has failed it.
2. Failures that move the call to the next endpoint: connection errors, read errors (a
   peer that does not speak valid HTTP, ``ProtocolError``, included) and timeouts
   (``TransportError`` except the call's own ``DeadlineExceeded``), 5xx answers,
   a connection broken before the first stream line, and ``CircuitOpenError`` from the
   per-endpoint breaker (which sits inside failover). The endpoint is marked down for
   ``cooldown`` seconds (``UpstreamRegistry.mark_down``; measured on ``client.clock``; 0
   records the failure but keeps the endpoint in rotation) and a ``failover`` event is
   emitted.
3. 4xx answers, the caller's cancellation and every other error are returned or raised as
   they are: they say nothing about the server's health.
4. Non-idempotent calls (``copy``, ``delete``, ``create``, ``push``) move on only after
   errors proving the request never reached the server: ``ConnectError``,
   ``ConnectTimeout`` and ``CircuitOpenError``. Any other failure still marks the endpoint
   down but is raised as is.
5. A refusal by the rate limiter (``RateLimitExceededError``; the limiter sits inside
   failover) moves the call to the next endpoint when it came from *that endpoint's own*
   limit (``rate_limiting`` with ``per_upstream``: the error's ``upstream`` is the endpoint
   tried). Every other server has its own bucket, and nothing was sent, so even a
   non-idempotent call moves. The endpoint is not marked down (a busy client is no sign of
   a sick server); a ``failover`` event is emitted. A refusal by a limit shared by every
   server (``upstream`` is ``None``) is raised as is: the next server would be refused
   too. The limiter decides how long a call queues for its server before it is refused
   (``max_wait``; ``0`` moves at once, ``None`` never refuses, so never moves).
6. When every endpoint in the plan failed, ``AllEndpointsFailedError`` lists each one's
   failure (URL without credentials -> exception), chained from the last one; the retry
   plugin, outside failover, may then retry the whole round. The original error is raised
   unchanged instead with a single endpoint, and when a non-idempotent call stops on an
   error that may have reached the server (so that an outer retry does not repeat it).
   When every endpoint's own limit refused the call, nothing was sent anywhere: the
   refusal that frees up first (smallest known ``retry_after``) is raised. The retry
   plugin does not retry a limiter refusal: the limiter already waited up to
   ``max_wait``, and the caller's own budget is not a transient fault.
7. A success clears the endpoint's cooldown (``UpstreamRegistry.mark_success``). A stream
   counts as a success once committed; if its connection then breaks, the endpoint is
   marked down (the call itself cannot move: the caller has seen data).

A request whose ``upstream`` is already set (pinned by the caller) passes through untouched.

Events: ``failover`` with ``from`` (URL), ``to`` (the URL the call moves to, or ``None`` when
it does not move), ``cause`` (``"<Type>: message"``) and ``endpoint`` (the API operation),
for every failure of rules 2, 4 and 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, get_args

from ollama_core.ext import Middleware, Plugin, PluginConfig, Upstream, hookimpl, setting

from ._endpoints import EndpointSpec, parse_endpoints
from .policy import FailoverMiddleware

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ollama_core import OllamaClient

__all__ = ["FailoverConfig", "FailoverPlugin", "POLICIES"]

PolicyName = Literal["priority", "round_robin"]
#: The endpoint-picking policies the ``policy`` setting accepts.
POLICIES: Final = get_args(PolicyName)


@dataclass(frozen=True, slots=True)
class FailoverConfig(PluginConfig):
    """The settings of the failover plugin (``plugin_config={"failover": {...}}``).

    ``endpoints`` lists the servers in priority order (the first is the *primary*). Each
    item is a base URL (Ollama's ``OLLAMA_HOST`` rules: ``"10.0.0.2"`` means
    ``http://10.0.0.2:11434``) or a mapping ``{"url": ..., "api_key": ...}``; an endpoint's
    own key is sent as ``Authorization: Bearer``, and endpoints without one use the
    client's ``api_key``. Keys never appear in ``repr``, events or errors. Absent: the
    client's own base URL is the only endpoint (failover then only tracks its health and
    stats). The list replaces the client's ``client.upstreams``, so ``client.base_url``
    becomes the primary. Parsed, it is a tuple of ``EndpointSpec``.
    """

    endpoints: Any = setting(None, check=parse_endpoints, default_text="the client's URL",
                             doc="the servers, in priority order (the first is the primary)")
    policy: PolicyName = setting(
        "priority", doc="which available endpoint a call tries first")
    cooldown: float = setting(30.0, minimum=0, unit="s",
                              doc="seconds an endpoint stays out of rotation after a failure")


class FailoverPlugin(Plugin[FailoverConfig]):
    """Spreads calls over several Ollama servers and moves them away from failing ones.

    Settings: :class:`FailoverConfig`. The policy: this module's docstring.
    """

    name: ClassVar[str] = "failover"
    config_class = FailoverConfig

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._original: list[Upstream] | None = None
        #: The middleware carrying out the policy (a separate object).
        self.middleware = FailoverMiddleware(self)

    # -- settings and attachment -------------------------------------------------------

    def setup(self, client: OllamaClient) -> None:
        self.middleware.attach(client)
        self._install(client)

    def config_changed(self, old: FailoverConfig) -> None:
        """Endpoints that keep their URL and key keep their state (cooldown, health,
        stats); calls already running finish on their plan. Settings without
        ``endpoints`` bring back the client's own base URL."""
        if self.attached:
            self._install(self.client)

    def _install(self, client: OllamaClient) -> None:
        registry = client.upstreams
        specs: tuple[EndpointSpec, ...] | None = self.settings.endpoints
        if specs is None:
            # No endpoints (again): back to the client's own base URL.
            if self._original is not None:
                registry.replace(self._original)
            return
        if self._original is None:
            self._original = list(registry)
        known = {(u.url, u.api_key): u for u in registry}
        registry.replace([known.get((s.url, s.api_key)) or Upstream(s.url, api_key=s.api_key)
                          for s in specs])

    @hookimpl
    def ollama_middlewares(self) -> list[Middleware]:
        return [self.middleware]

    # -- what the middleware and users read --------------------------------------------

    @property
    def policy(self) -> str:
        """``"priority"`` or ``"round_robin"`` (the ``policy`` setting)."""
        return self.settings.policy

    @property
    def round_robin(self) -> bool:
        return self.settings.policy == "round_robin"

    @property
    def cooldown(self) -> float:
        """Seconds an endpoint stays out of rotation after a failure."""
        return self.settings.cooldown

    @property
    def config(self) -> dict[str, Any]:
        """The effective settings; endpoints by URL without credentials, a key as
        ``"***"``."""
        specs: tuple[EndpointSpec, ...] | None = self.settings.endpoints
        endpoints = None if specs is None else [
            {"url": s.display, "api_key": "***"} if s.api_key else s.display for s in specs]
        return {**self.settings.to_dict(), "endpoints": endpoints}

    @property
    def endpoints(self) -> list[Upstream]:
        """The endpoints, in priority order (the client's ``upstreams``); empty before the
        plugin is attached to a client. (Never raises: plugin managers may read
        attributes while registering.)"""
        return list(self.client.upstreams) if self.attached else []

    @property
    def failovers(self) -> int:
        """How many times a call moved from one endpoint to another."""
        return self.middleware.failovers

    def active(self) -> Upstream:
        """The endpoint the next call would try first (without advancing round robin)."""
        return self.middleware.plan(self.clock.now(), advance=False)[0]

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per endpoint (URL without credentials): ``requests`` (attempts sent through
        failover, a limiter refusal included), ``failures``, ``last_error``,
        ``available``, ``down_until`` (clock reading, or ``None``), ``healthy`` (the health
        checks' verdict) and ``primary``."""
        now = self.clock.now()
        return {u.display: {"requests": u.requests, "failures": u.failures,
                            "last_error": u.last_error, "available": u.is_available(now),
                            "down_until": u.down_until, "healthy": u.healthy,
                            "primary": i == 0}
                for i, u in enumerate(self.client.upstreams)}

    def __repr__(self) -> str:
        specs: tuple[EndpointSpec, ...] | None = self.settings.endpoints
        if self.attached:
            urls = [u.display for u in self.client.upstreams]
        elif specs is not None:
            urls = [s.display for s in specs]
        else:
            urls = ["<client base URL>"]
        return (f"FailoverPlugin(policy={self.policy!r}, cooldown={self.cooldown:g}, "
                f"endpoints={urls})")
