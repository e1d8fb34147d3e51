"""The failover plugin object: its declared settings, its endpoints and what it reports.

The policy it applies is :mod:`ollama_plugins.failover.policy`.
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

    Settings: :class:`FailoverConfig`. The policy: :mod:`ollama_plugins.failover.policy`.
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
