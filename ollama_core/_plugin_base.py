"""The base class of plugins: declared settings, attachment to a client, events.

A plugin subclasses :class:`Plugin`, names itself and points ``config_class`` at its
settings declaration (a :class:`~ollama_core._config.PluginConfig` dataclass)::

    class RetryPlugin(Plugin[RetryConfig]):
        name = "retry"
        config_class = RetryConfig

The client builds it as ``RetryPlugin(config)`` with the plugin's section of
``plugin_config``; the base parses it (``plugin.settings`` is the typed result) and
implements ``reconfigure`` for live changes. The base implements one hook,
``ollama_client_setup``, to attach the plugin to its client; a subclass puts its own
setup in :meth:`Plugin.setup`. Everything else (middlewares, observers) is the subclass's
own ``@hookimpl`` methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ._config import NoConfig, PluginConfig, parse_config
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from ._client import OllamaClient
    from ._clock import Clock
    from ._events import Event

__all__ = ["Plugin"]

C = TypeVar("C", bound=PluginConfig)


class Plugin(Generic[C]):
    """Base of plugin classes (see the module docstring).

    :param config: the plugin's section of ``plugin_config``; ``None`` or ``{}`` for the
        declared defaults.
    :raises PluginConfigError: an unknown key or a bad value (an ``InvalidConfigError``).
    """

    #: The name the plugin registers under (``client.plugin(name)``, entry points).
    name: ClassVar[str] = ""
    #: The settings declaration; the only place defaults are written.
    config_class: ClassVar[type[PluginConfig]] = NoConfig

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self._settings: C = self.parse_config(config)
        self._client: OllamaClient | None = None

    # -- settings -------------------------------------------------------------------------

    @classmethod
    def parse_config(cls, config: Mapping[str, Any] | None) -> C:
        """Validate ``config`` against ``config_class`` (the one shared parser)."""
        parsed: Any = parse_config(cls.config_class, config, plugin=cls.name or cls.__name__)
        settings: C = parsed
        return settings

    @property
    def settings(self) -> C:
        """The validated settings, defaults filled in (replaced whole by ``reconfigure``)."""
        return self._settings

    @property
    def config(self) -> dict[str, Any]:
        """The effective settings as JSON-shaped data, every key present."""
        return self._settings.to_dict()

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply new settings to the live plugin. Invalid settings change nothing; valid
        ones replace ``settings`` whole, then :meth:`config_changed` runs (if it raises,
        the old settings are restored and the error propagates). Calls in progress that
        already read ``settings`` finish with the old values."""
        new = self.parse_config(config)
        old, self._settings = self._settings, new
        try:
            self.config_changed(old)
        except BaseException:
            self._settings = old
            raise

    def config_changed(self, old: C) -> None:
        """Called by :meth:`reconfigure` after ``settings`` changed from ``old``; rebuild
        what depends on the settings here. Does nothing by default."""

    # -- the client -----------------------------------------------------------------------

    @hookimpl
    def ollama_client_setup(self, client: OllamaClient) -> None:
        """Attach to ``client``, then run :meth:`setup`. Override ``setup``, not this."""
        self.bind_client(client)
        self.setup(client)

    def bind_client(self, client: OllamaClient) -> None:
        """Remember the client this plugin serves (``ollama_client_setup`` does it)."""
        self._client = client

    def setup(self, client: OllamaClient) -> None:
        """The plugin's own setup, once it is attached to ``client``."""

    @property
    def attached(self) -> bool:
        """Whether the plugin is attached to a client."""
        return self._client is not None

    @property
    def client(self) -> OllamaClient:
        """The client this plugin serves; ``RuntimeError`` before it is attached."""
        client = self._client
        if client is None:
            raise RuntimeError(f"plugin {self._label()!r} is not attached to a client")
        return client

    @property
    def clock(self) -> Clock:
        """The client's clock (every time-dependent policy reads it)."""
        return self.client.clock

    @property
    def wants_events(self) -> bool:
        """Whether anyone listens to events: lets an emitter skip building one."""
        client = self._client
        return client is not None and client.wants_events

    def emit(self, event: Event) -> None:
        """Publish ``event`` on the client (nothing happens before the plugin is
        attached)."""
        client = self._client
        if client is not None:
            client.emit(event)

    def _label(self) -> str:
        return self.name or type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._settings!r})"
