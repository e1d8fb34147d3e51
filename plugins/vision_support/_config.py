"""The declared settings of the ``vision_support`` plugin (the only place their defaults
are written). What each one means is in the policy text,
:mod:`ollama_plugins.vision_support._plugin`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ollama_core.ext import PluginConfig, setting

from ._images import DEFAULT_MAX_BYTES, FORMATS

__all__ = ["VisionSupportConfig"]

_ALIASES = {"jpg": "jpeg"}


def _formats(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError(f"must be a non-empty list drawn from {', '.join(FORMATS)}")
    chosen: set[str] = set()
    for item in value:
        name = _ALIASES.get(item, item)
        if name not in FORMATS:
            raise ValueError(f"unknown format {item!r} (known: {', '.join(FORMATS)})")
        chosen.add(name)
    return tuple(f for f in FORMATS if f in chosen)


@dataclass(frozen=True, slots=True)
class VisionSupportConfig(PluginConfig):
    """Settings of the ``vision_support`` plugin."""

    max_bytes: int = setting(DEFAULT_MAX_BYTES, above=0, default_text="20 MiB",
                             doc="the largest accepted image, in decoded bytes")
    formats: tuple[str, ...] = setting(FORMATS, check=_formats, default_text="all five",
                                       doc="the accepted image formats")
