"""The ``vision_support`` plugin: images given as paths, bytes, file objects or base64,
checked and sent as the plain base64 the Ollama API expects.

How it works is described in :mod:`ollama_plugins.vision_support._plugin`; the settings are
declared in :class:`~ollama_plugins.vision_support._config.VisionSupportConfig`.
"""

from __future__ import annotations

from ._config import VisionSupportConfig
from ._images import DEFAULT_MAX_BYTES, FORMATS, ImageInput, detect_format, encode_image
from ._plugin import VisionSupportPlugin, supports_vision

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FORMATS",
    "ImageInput",
    "VisionSupportConfig",
    "VisionSupportPlugin",
    "detect_format",
    "encode_image",
    "supports_vision",
]
