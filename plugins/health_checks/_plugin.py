"""The health-checks plugin object: its settings, its background task and its report.

The policy it applies is :mod:`ollama_plugins.health_checks.policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ollama_core import OllamaError, Timeouts
from ollama_core.ext import Plugin, PluginConfig, hookimpl, setting

from .policy import HealthProber

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ollama_core import OllamaClient

__all__ = ["HealthChecksConfig", "HealthChecksPlugin"]


def _check_path(value: str) -> str:
    if not value.startswith("/") or any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(f"must start with '/' and contain no whitespace, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class HealthChecksConfig(PluginConfig):
    """The settings of the health-checks plugin (``plugin_config={"health_checks": {...}}``).

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

    Settings: :class:`HealthChecksConfig`. The policy:
    :mod:`ollama_plugins.health_checks.policy`.
    """

    name: ClassVar[str] = "health_checks"
    config_class = HealthChecksConfig

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        self._timeouts = self._probe_timeouts()
        #: Runs the probe rounds and keeps their findings (a separate object).
        self.prober = HealthProber(self)

    def _probe_timeouts(self) -> Timeouts:
        timeout = self.settings.timeout
        return Timeouts(connect=timeout, first_byte=timeout, idle=timeout)

    def config_changed(self, old: HealthChecksConfig) -> None:
        """New settings apply from the running loop's next round."""
        self._timeouts = self._probe_timeouts()

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
