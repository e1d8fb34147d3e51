"""Deprecated: the command line moved to the :mod:`ollama_core.cli` package.

The names this module used to hold resolve to their new homes, with a
``DeprecationWarning``; it will be removed in a future release.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

#: Old name -> (new module, new name).
_MOVED = {
    "main": ("ollama_core.cli", "main"),
    "build_parser": ("ollama_core.cli", "build_parser"),
    "_config_item": ("ollama_core.cli.parser", "config_item"),
    "_parse_value": ("ollama_core.cli.parser", "parse_value"),
    "_plugin_config": ("ollama_core.cli.session", "plugin_config"),
    "_human_bytes": ("ollama_core.cli.output.humanize", "human_bytes"),
    "_relative": ("ollama_core.cli.output.humanize", "relative_time"),
    "_table": ("ollama_core.cli.output.table", "table"),
    "CLIError": ("ollama_core.cli.errors", "CLIError"),
}

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    try:
        module_name, new_name = _MOVED[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    warnings.warn(f"ollama_core._cli.{name} is deprecated: use {module_name}.{new_name}",
                  DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(module_name), new_name)
