"""Deprecated: the demo moved to :mod:`ollama_core.cli.commands.demo` (``ollama-core demo``).

``run_demo`` and ``main`` resolve to their new home with a ``DeprecationWarning``; this
module will be removed in a future release.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["main", "run_demo"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"ollama_core._demo.{name} is deprecated: use "
                  f"ollama_core.cli.commands.demo.{name}", DeprecationWarning, stacklevel=2)
    from .cli.commands import demo

    return getattr(demo, name)
