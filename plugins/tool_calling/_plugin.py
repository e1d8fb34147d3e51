"""Tool calling: Python functions as Ollama tools, executed only when you ask.

This docstring is how the plugin behaves, the one place it is written down; the
settings and their defaults are declared once, in
:class:`~ollama_plugins.tool_calling._config.ToolCallingConfig`.

* :func:`function_to_tool` builds a correct JSON Schema tool definition from a function's
  type hints and docstring (defaults make a parameter optional, unions become ``anyOf``,
  lists keep their ``items``; see :mod:`._schema` for the full type table).
* :class:`ToolRegistry` holds named functions and runs the calls a model makes
  (:meth:`~ToolRegistry.execute_tool_calls`): sync functions in threads, async ones awaited,
  concurrently, results in call order, failures reported to the model *and* to you.
* :class:`ToolCallAccumulator` assembles a streamed assistant message with its tool calls.
* :class:`ToolCallingPlugin` is the ``tool_calling`` plugin: a registry per client, filled
  from configuration, and (only with ``attach: true``) tools added to chat requests.

A full round trip::

    async with OllamaClient(plugins=["tool_calling"]) as client:
        tools = client.plugin("tool_calling")
        tools.register(get_weather)
        messages = [{"role": "user", "content": "Weather in Paris? Use get_weather."}]
        reply = await client.chat({"model": "llama3.2", "messages": messages,
                                   "tools": tools.tools})
        messages.append(reply.message)
        messages.extend(await tools.execute_tool_calls(reply))
        final = await client.chat({"model": "llama3.2", "messages": messages})

Configuration (``plugin_config={"tool_calling": {...}}``):

``tools``
    dotted paths (``"package.module:function"``) of functions to register when the plugin
    is built.
``attach``
    ``True`` to add the registry's tools to every chat request that has no ``tools`` key;
    an explicit ``tools: []`` is left alone. Otherwise nothing is added unless you ask.
``timeout``
    seconds each tool call may run, or ``None`` for no limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar, overload

from ollama_core import Tool
from ollama_core.ext import InvalidRequestError, Plugin, PluginConfigError, hookimpl

from ._config import ToolCallingConfig, import_tool
from ._registry import ToolCallsSource, ToolRegistry, ToolResults
from ._schema import function_to_tool

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
        """Turn Python functions in a chat request's ``tools`` into tool definitions (as
        ollama-python does; they are not registered). With ``attach``, give chat requests
        without a ``tools`` key the registry's tools."""
        if endpoint != "chat":
            return
        tools = body.get("tools")
        if isinstance(tools, list) and any(_is_function(t) for t in tools):
            body["tools"] = [_function_tool(t, i) if _is_function(t) else t
                             for i, t in enumerate(tools)]
        if self.attach and body.get("tools") is None and self.registry:
            body["tools"] = [tool.to_dict() for tool in self.registry.tools]


def _is_function(tool: object) -> bool:
    return callable(tool) and not isinstance(tool, Mapping)


def _function_tool(fn: Callable[..., Any], index: int) -> dict[str, Any]:
    """The wire definition of a function given in ``tools``; an annotation that has no JSON
    Schema is an ``InvalidRequestError`` naming the entry."""
    try:
        return function_to_tool(fn).to_dict()
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"invalid request: tools.{index}: {exc}",
                                  field=f"tools.{index}",
                                  errors={f"tools.{index}": [str(exc)]}) from exc
