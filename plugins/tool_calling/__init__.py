"""The ``tool_calling`` plugin: Python functions as Ollama tools, executed only when you ask.

How it works is described in :mod:`ollama_plugins.tool_calling._plugin`; the settings are
declared in :class:`~ollama_plugins.tool_calling._config.ToolCallingConfig`.
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
