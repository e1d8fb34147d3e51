"""Health checks: probe every upstream in the background and publish a verdict per server.

This docstring is the policy, the one place it is written down. The settings and their
defaults are declared once, in :class:`HealthChecksConfig`; the probes are run by
:class:`ollama_plugins.health_checks.policy.HealthProber`.

A round probes every upstream of ``client.upstreams`` concurrently (so the failover
plugin's endpoints are covered whatever the plugin order) with a ``GET`` of ``path``, sent
with ``client.send(..., through_middlewares=False)`` so no retry, breaker or limiter
touches it.
A probe succeeds on a 2xx answer within ``timeout``; anything else fails it. Probes never
generate: a cheap endpoint keeps the check from costing GPU time.

Rounds run every ``interval`` seconds of ``client.clock``, from the end of one round to the
start of the next, plus up to ``jitter`` extra seconds drawn uniformly per round (which
also delay the first round), so many clients restarted together do not probe in lockstep.

The verdict (``Upstream.healthy``) is ``None`` (unknown) until a threshold is reached, then
``True``/``False``: ``unhealthy_threshold`` consecutive failed probes declare a server
unhealthy, ``healthy_threshold`` consecutive successful ones healthy, and a verdict only
flips after the opposite threshold is reached. Every flip emits an ``upstream_health``
event with ``upstream`` (URL without credentials), ``healthy``, ``latency`` (seconds on the
client's clock, ``None`` for a failure) and ``error`` (``"<Type>: message"`` or ``None``).
Findings are recorded with ``UpstreamRegistry.record_probe``.

The failover plugin skips servers whose verdict is ``False``
(``Upstream.is_available``), and a successful probe of a server whose verdict is healthy
lifts a cooldown failover put on it (``UpstreamRegistry.end_cooldown``, like Envoy's
``successful_active_health_check_uneject_host``), so traffic returns to a recovered
primary at the next call. The circuit breaker listens to the events.

The probe counters that decide the verdict are kept here, apart from
``Upstream.consecutive_failures``/``consecutive_successes``, which count real traffic
(``UpstreamRegistry.mark_down``/``mark_success``); mixing the two would let user calls
decide an active-check verdict.

Shared by a fleet (see :mod:`ollama_plugins.health_checks.redis_store`): ``store`` is
``"memory"`` (each process probes for itself) or a Redis URL; processes naming the same one
and the same ``store_prefix`` probe each upstream once per ``interval`` between them: the
process that claims the round probes and publishes its finding, the others record that
finding as their own probe (so they reach the same verdicts, each with its own thresholds
and events). ``store_timeout`` bounds each Redis call; ``store_lease_ttl`` is not used
here. When Redis is down or slow every process probes for itself again (a
``StoreDegraded`` event and a log line, then ``StoreRecovered``); health checks never fail
closed. The password of a Redis URL is never shown.

Background probing runs only while the client is open: the client starts it when it opens
(``async with`` or its first call) and cancels and awaits it when it closes.
``HealthChecksPlugin.check_now`` runs one round on demand (the CLI ``health`` command,
tests), and ``HealthChecksPlugin.report`` summarises the last findings.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ollama_core import OllamaError, Timeouts
from ollama_core.ext import Plugin, hookimpl, setting

from .._redis import SharedStoreConfig
from .policy import HealthProber

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ollama_core import OllamaClient

    from .redis_store import RedisHealthStore

_STORE_KEYS = ("store", "store_prefix", "store_timeout")

__all__ = ["HealthChecksConfig", "HealthChecksPlugin"]


def _check_path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"must start with '/' and contain no whitespace, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class HealthChecksConfig(SharedStoreConfig):
    """The settings of the health-checks plugin (``plugin_config={"health_checks": {...}}``;
    the shared-store keys come from :class:`~ollama_plugins._redis.SharedStoreConfig`).

    ``path`` is what a probe asks for with ``GET``: ``"/"`` (Ollama answers
    ``Ollama is running``) or ``"/api/version"``; never a generating endpoint.
    """

    interval: float = setting(30.0, above=0, unit="s",
                              doc="seconds from the end of one probe round to the next")
    timeout: float = setting(5.0, above=0, unit="s",
                             doc="seconds a probe may take, connect and answer included")
    path: str = setting("/", check=_check_path, doc="what a probe GETs")
    unhealthy_threshold: int = setting(
        3, minimum=1, doc="consecutive failed probes before a server is declared unhealthy")
    healthy_threshold: int = setting(
        2, minimum=1, doc="consecutive good probes before a server is declared healthy")
    jitter: float = setting(0.0, minimum=0, unit="s",
                            doc="up to this many extra seconds, drawn per round")


class HealthChecksPlugin(Plugin[HealthChecksConfig]):
    """Active health checks of every upstream, in the background while the client is open.

    Settings: :class:`HealthChecksConfig`. The policy: this module's docstring.
    """

    name: ClassVar[str] = "health_checks"
    config_class = HealthChecksConfig

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._timeouts = self._probe_timeouts()
        #: Runs the probe rounds and keeps their findings (a separate object).
        self.prober = HealthProber(self)
        #: Claims and findings shared with a fleet (``store`` names Redis), else ``None``.
        self.shared: RedisHealthStore | None = None
        self._retired: list[RedisHealthStore] = []

    def setup(self, client: OllamaClient) -> None:
        self.shared = self._build_store(client)

    def _build_store(self, client: OllamaClient) -> RedisHealthStore | None:
        settings = self.settings
        if not settings.shared:
            return None
        from .._redis._link import RedisLink  # the redis extra: imported only when named
        from .redis_store import RedisHealthStore

        link = RedisLink(settings.store, timeout=settings.store_timeout, clock=client.clock,
                         source=self.name, emit=self.emit)
        return RedisHealthStore(link, prefix=settings.store_prefix)

    def _probe_timeouts(self) -> Timeouts:
        timeout = self.settings.timeout
        return Timeouts(connect=timeout, first_byte=timeout, idle=timeout)

    def config_changed(self, old: HealthChecksConfig) -> None:
        """New settings apply from the running loop's next round (new shared-store
        settings: a new store; the old one is closed with the client)."""
        self._timeouts = self._probe_timeouts()
        if self.attached and any(getattr(old, k) != getattr(self.settings, k)
                                 for k in _STORE_KEYS):
            if self.shared is not None:
                self._retired.append(self.shared)
            self.shared = self._build_store(self.client)

    # -- the settings, by name -----------------------------------------------------------

    @property
    def interval(self) -> float:
        return self.settings.interval

    @property
    def timeout(self) -> float:
        return self.settings.timeout

    @property
    def path(self) -> str:
        return self.settings.path

    @property
    def unhealthy_threshold(self) -> int:
        return self.settings.unhealthy_threshold

    @property
    def healthy_threshold(self) -> int:
        return self.settings.healthy_threshold

    @property
    def jitter(self) -> float:
        return self.settings.jitter

    @property
    def timeouts(self) -> Timeouts:
        """The per-phase timeouts of a probe (each phase bounded by ``timeout``)."""
        return self._timeouts

    # -- hooks -------------------------------------------------------------------------

    @hookimpl
    def ollama_background_tasks(self) -> list[Callable[[], Coroutine[Any, Any, None]]]:
        # The client records which plugin contributed each task, so remove_plugin stops
        # exactly this one.
        return [self.run]

    @hookimpl
    async def ollama_client_aclose(self) -> None:
        retired, self._retired = self._retired, []
        for store in [*retired, *([self.shared] if self.shared is not None else [])]:
            await store.aclose()

    # -- public API --------------------------------------------------------------------

    async def run(self) -> None:
        """The background task (started when the client opens, cancelled when it closes):
        probe rounds every ``interval`` seconds, forever."""
        await self.prober.run()

    @property
    def rounds(self) -> int:
        """How many probe rounds have completed (background and :meth:`check_now`)."""
        return self.prober.rounds

    async def wait_for_rounds(self, count: int) -> None:
        """Return once at least ``count`` rounds have completed since the plugin started.

        Lets a caller (a test, a service waiting for its first verdicts) synchronise with
        the background loop without polling or sleeping."""
        await self.prober.wait_for_rounds(count)

    async def check_now(self) -> dict[str, dict[str, Any]]:
        """Probe every upstream once, now, update the verdicts and return :meth:`report`.

        Opens the client if it was not yet (like any call); raises ``OllamaError`` on a
        closed client."""
        client = self.client
        if client.closed:
            raise OllamaError("the client is closed")
        await self.prober.round(client)
        return self.report()

    def report(self) -> dict[str, dict[str, Any]]:
        """Per upstream (URL without credentials): ``status`` (``"healthy"``,
        ``"unhealthy"`` or ``"unknown"``), ``latency`` (of the last successful probe,
        seconds), ``last_error``, ``consecutive_successes``, ``consecutive_failures``,
        ``checks``, ``failed_checks`` and ``last_check`` (clock reading or ``None``)."""
        return self.prober.report(self.client)

    def __repr__(self) -> str:
        return (f"HealthChecksPlugin(interval={self.interval:g}, timeout={self.timeout:g}, "
                f"path={self.path!r}, unhealthy_threshold={self.unhealthy_threshold}, "
                f"healthy_threshold={self.healthy_threshold}, jitter={self.jitter:g})")
