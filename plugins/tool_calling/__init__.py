"""Tool calling: Python functions as Ollama tools, executed only when you ask.

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
    is built (default: none).
``attach``
    ``True`` to add the registry's tools to every chat request that has no ``tools`` key;
    an explicit ``tools: []`` is left alone (default ``False``: nothing is added unless
    you ask).
``timeout``
    seconds each tool call may run, or ``None`` for no limit (default ``None``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar, overload

from ollama_core import InvalidConfigError, Tool, hookimpl

from ._accumulator import ToolCallAccumulator
from ._registry import (
    RegisteredTool,
    ToolCallError,
    ToolCallsSource,
    ToolError,
    ToolRegistry,
    ToolResults,
    result_content,
    tool_calls_of,
)
from ._schema import ArgumentError, function_to_tool

__all__ = [
    "ArgumentError",
    "RegisteredTool",
    "ToolCallAccumulator",
    "ToolCallError",
    "ToolCallingPlugin",
    "ToolError",
    "ToolRegistry",
    "ToolResults",
    "function_to_tool",
    "import_tool",
    "result_content",
    "tool_calls_of",
]

F = TypeVar("F", bound=Callable[..., Any])

_KEYS = ("attach", "timeout", "tools")


def import_tool(path: str) -> Callable[..., Any]:
    """The callable named by ``"package.module:attribute"`` (the attribute may be dotted,
    e.g. ``"pkg.mod:Class.method"``).

    Raises:
        ValueError: the path is malformed, cannot be imported, or names something that is
            not callable.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{path!r} is not of the form 'package.module:function'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(target):
        raise ValueError(f"{path!r} is a {type(target).__name__}, not a callable")
    function: Callable[..., Any] = target
    return function


class _Settings:
    """Validated configuration (built before anything changes, so a bad key changes
    nothing)."""

    def __init__(self, config: Mapping[str, Any] | None) -> None:
        config = dict(config or {})
        unknown = sorted(set(config) - set(_KEYS))
        if unknown:
            raise InvalidConfigError(
                f"tool_calling: unknown config key {unknown[0]!r} (known: {', '.join(_KEYS)})")
        attach = config.get("attach", False)
        if not isinstance(attach, bool):
            raise InvalidConfigError(
                f"tool_calling: 'attach' must be true or false, got {attach!r}")
        timeout = config.get("timeout")
        if timeout is not None and (isinstance(timeout, bool)
                                    or not isinstance(timeout, (int, float)) or timeout <= 0):
            raise InvalidConfigError(
                f"tool_calling: 'timeout' must be a number of seconds > 0 or null, "
                f"got {timeout!r}")
        paths = config.get("tools", [])
        if isinstance(paths, str) or not isinstance(paths, Sequence) \
                or not all(isinstance(p, str) for p in paths):
            raise InvalidConfigError(
                "tool_calling: 'tools' must be a list of 'package.module:function' strings")
        functions: dict[str, Callable[..., Any]] = {}
        for i, path in enumerate(paths):
            try:
                functions[path] = import_tool(path)
            except ValueError as exc:
                raise InvalidConfigError(f"tool_calling: 'tools[{i}]': {exc}") from exc
        self.attach: bool = attach
        self.timeout: float | None = None if timeout is None else float(timeout)
        self.functions = functions


class ToolCallingPlugin:
    """The ``tool_calling`` plugin: one :class:`ToolRegistry` per client.

    Built by the client as ``ToolCallingPlugin(config)``; get it back with
    ``client.plugin("tool_calling")``. See the module docstring for the configuration.

    Raises:
        InvalidConfigError: a key is unknown or has a bad value (the message names it), or
            a ``tools`` entry cannot be imported or registered.
    """

    name: ClassVar[str] = "tool_calling"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        settings = _Settings(config)
        #: The tools of this client. Register more at any time.
        self.registry = ToolRegistry()
        #: Names registered from the ``tools`` setting (``reconfigure`` replaces them).
        self._configured: dict[str, str] = {}
        self._apply(settings)

    def _apply(self, settings: _Settings) -> None:
        for path, fn in settings.functions.items():
            if path in self._configured:
                continue
            try:
                self.registry.register(fn)
            except (TypeError, ValueError) as exc:
                raise InvalidConfigError(f"tool_calling: 'tools': {path!r}: {exc}") from exc
            self._configured[path] = self.registry.names[-1]
        self.attach = settings.attach
        self.timeout = settings.timeout

    def reconfigure(self, config: Mapping[str, Any]) -> None:
        """Apply new settings to the live plugin, keeping the tools registered in code.

        Tools that came from the old ``tools`` setting and are not in the new one are
        unregistered.
        """
        settings = _Settings(config)
        for path in [p for p in self._configured if p not in settings.functions]:
            self.registry.unregister(self._configured.pop(path))
        self._apply(settings)

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
