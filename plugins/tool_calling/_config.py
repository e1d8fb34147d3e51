"""The declared settings of the ``tool_calling`` plugin (the only place their defaults are
written), and how a tool is named in them. What each one means is in the policy text,
:mod:`ollama_plugins.tool_calling._plugin`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ollama_core.ext import ConfigValueError, PluginConfig, setting

__all__ = ["ToolCallingConfig", "import_tool"]


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


def _importable(paths: tuple[str, ...]) -> tuple[str, ...]:
    for i, path in enumerate(paths):
        try:
            import_tool(path)
        except ValueError as exc:
            raise ConfigValueError(f"tools[{i}]", str(exc)) from exc
    return paths


@dataclass(frozen=True, slots=True)
class ToolCallingConfig(PluginConfig):
    """Settings of the ``tool_calling`` plugin."""

    tools: tuple[str, ...] = setting((), check=_importable, default_text="none",
                                     doc="import paths of functions to register")
    attach: bool = setting(False, doc="add the registry's tools to chat requests without")
    timeout: float | None = setting(None, above=0, unit="s", doc="per tool call")
