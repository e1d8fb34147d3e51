"""The ``tool_calling`` plugin: one :class:`ToolRegistry` per client, filled from its
``tools`` setting, and (only with ``attach``) tools added to chat requests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar, overload

from ollama_core import Tool
from ollama_core.ext import Plugin, PluginConfigError, hookimpl

from ._config import ToolCallingConfig, import_tool
from ._registry import ToolCallsSource, ToolRegistry, ToolResults

__all__ = ["ToolCallingPlugin"]

F = TypeVar("F", bound=Callable[..., Any])


class ToolCallingPlugin(Plugin[ToolCallingConfig]):
    """The ``tool_calling`` plugin: one :class:`ToolRegistry` per client.

    Built by the client as ``ToolCallingPlugin(config)``; get it back with
    ``client.plugin(ToolCallingPlugin)``. See :class:`ToolCallingConfig` for the
    configuration.

    Raises:
        InvalidConfigError: a key is unknown or has a bad value (the message names it), or
            a ``tools`` entry cannot be imported or registered.
    """

    name: ClassVar[str] = "tool_calling"
    config_class = ToolCallingConfig

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(config)
        #: The tools of this client. Register more at any time.
        self.registry = ToolRegistry()
        #: Names registered from the ``tools`` setting, by path (``reconfigure`` swaps them).
        self._configured: dict[str, str] = {}
        self._register_configured()

    @property
    def attach(self) -> bool:
        """Whether chat requests without ``tools`` get the registry's tools."""
        return self.settings.attach

    @property
    def timeout(self) -> float | None:
        """Seconds each tool call may run (``None``: no limit)."""
        return self.settings.timeout

    def _register_configured(self) -> None:
        for path in self.settings.tools:
            if path in self._configured:
                continue
            try:
                self.registry.register(import_tool(path))
            except (TypeError, ValueError) as exc:
                raise PluginConfigError(self.name, "tools", f"{path!r}: {exc}") from exc
            self._configured[path] = self.registry.names[-1]

    def config_changed(self, old: ToolCallingConfig) -> None:
        """Keep the tools registered in code; tools that came from the old ``tools``
        setting and are not in the new one are unregistered, new ones registered."""
        wanted = set(self.settings.tools)
        for path in [p for p in self._configured if p not in wanted]:
            self.registry.unregister(self._configured.pop(path))
        self._register_configured()

    # -- conveniences over the registry -----------------------------------------------------

    @overload
    def register(self, fn: F, *, name: str | None = None,
                 description: str | None = None) -> F: ...

    @overload
    def register(self, fn: None = None, *, name: str | None = None,
                 description: str | None = None) -> Callable[[F], F]: ...

    def register(self, fn: F | None = None, *, name: str | None = None,
                 description: str | None = None) -> F | Callable[[F], F]:
        """:meth:`ToolRegistry.register` on this plugin's registry."""
        return self.registry.register(fn, name=name, description=description)

    @property
    def tools(self) -> list[Tool]:
        """The registry's tool definitions."""
        return self.registry.tools

    async def execute_tool_calls(self, source: ToolCallsSource, *,
                                 registry: ToolRegistry | None = None,
                                 concurrent: bool = True) -> ToolResults:
        """Run the calls in ``source`` with ``registry`` (default: this plugin's) and the
        configured ``timeout``; see :meth:`ToolRegistry.execute_tool_calls`."""
        return await (self.registry if registry is None else registry).execute_tool_calls(
            source, timeout=self.timeout, concurrent=concurrent)

    def execute_tool_calls_sync(self, source: ToolCallsSource, *,
                                registry: ToolRegistry | None = None,
                                concurrent: bool = True) -> ToolResults:
        """The blocking form of :meth:`execute_tool_calls`, for code without an event
        loop; see :meth:`ToolRegistry.execute_tool_calls_sync`."""
        return (self.registry if registry is None else registry).execute_tool_calls_sync(
            source, timeout=self.timeout, concurrent=concurrent)

    # -- hooks ------------------------------------------------------------------------------

    @hookimpl
    def ollama_prepare_request(self, endpoint: str, body: dict[str, Any]) -> None:
        """With ``attach``, give chat requests without a ``tools`` key the registry's tools."""
        if self.attach and endpoint == "chat" and body.get("tools") is None and self.registry:
            body["tools"] = [tool.to_dict() for tool in self.registry.tools]
