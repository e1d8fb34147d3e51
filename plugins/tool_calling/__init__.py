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

Configuration (``plugin_config={"tool_calling": {...}}``): ``tools``, ``attach`` and
``timeout``, declared in :class:`~ollama_plugins.tool_calling._config.ToolCallingConfig`.
"""

from __future__ import annotations

from ._accumulator import ToolCallAccumulator
from ._config import ToolCallingConfig, import_tool
from ._plugin import ToolCallingPlugin
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
    "ToolCallingConfig",
    "ToolCallingPlugin",
    "ToolCallsSource",
    "ToolError",
    "ToolRegistry",
    "ToolResults",
    "function_to_tool",
    "import_tool",
    "result_content",
    "tool_calls_of",
]
