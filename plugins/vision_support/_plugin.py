"""Vision support: images given as paths, bytes, file objects or base64, checked and sent
as the plain base64 the Ollama API expects.

With the ``vision_support`` plugin enabled, every image of a ``chat`` message
(``messages[i].images``) and of a ``generate`` request (``images``) goes through
:func:`encode_image` before the request is validated::

    async with OllamaClient(plugins=["vision_support"]) as client:
        reply = await client.chat({"model": "llava", "messages": [
            {"role": "user", "content": "What is this?", "images": [Path("cat.png")]}]})

A missing file, a non-image, an unsupported format or an oversized image is an
``InvalidRequestError`` whose ``field`` names the image (``messages.0.images.1``), raised
before anything is sent. :func:`supports_vision` asks the server whether a model takes
images at all; it is a separate, explicit call (nothing is checked behind your back).

Configuration (``plugin_config={"vision_support": {...}}``, declared with their defaults in
:class:`~._config.VisionSupportConfig`):

``max_bytes``
    the largest accepted image in decoded bytes, an integer > 0.
``formats``
    the accepted formats, a list drawn from ``png``, ``jpeg`` (or ``jpg``), ``gif``,
    ``webp``, ``bmp``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ollama_core import OllamaClient
from ollama_core.ext import Plugin, hookimpl

from ._config import VisionSupportConfig
from ._images import ImageInput, encode_image

__all__ = ["VisionSupportPlugin", "supports_vision"]


async def supports_vision(client: OllamaClient, model: str) -> bool:
    """Whether ``model`` takes images: ``"vision"`` is among the capabilities the server
    reports for it (``POST /api/show``). Errors of that call (e.g. ``NotFoundError`` for
    an unknown model) propagate. With ``SyncOllamaClient``, test
    ``"vision" in (client.model_info(model).capabilities or [])`` directly."""
    info = await client.model_info(model)
    return "vision" in (info.capabilities or ())


class VisionSupportPlugin(Plugin[VisionSupportConfig]):
    """The ``vision_support`` plugin: encodes and checks request images in
    ``ollama_prepare_request``. See the module docstring for the configuration.

    Raises:
        InvalidConfigError: a key is unknown or has a bad value (the message names it).
    """

    name: ClassVar[str] = "vision_support"
    config_class = VisionSupportConfig

    @property
    def max_bytes(self) -> int:
        """The largest accepted image, in decoded bytes."""
        return self.settings.max_bytes

    @property
    def formats(self) -> tuple[str, ...]:
        """The accepted formats."""
        return self.settings.formats

    def encode(self, image: ImageInput, label: str = "image") -> str:
        """:func:`encode_image` with this plugin's ``max_bytes`` and ``formats``."""
        settings = self.settings
        return encode_image(image, max_bytes=settings.max_bytes, label=label,
                            formats=settings.formats)

    async def supports_vision(self, client: OllamaClient, model: str) -> bool:
        """:func:`supports_vision` (the module function)."""
        return await supports_vision(client, model)

    def _encode_list(self, images: Any, label: str) -> Any:
        if not isinstance(images, (list, tuple)):
            return images  # not a list: validation reports it with the right message
        # A new list: the body's list may still be shared with the caller's objects.
        return [self.encode(image, f"{label}.{i}") for i, image in enumerate(images)]

    @hookimpl
    def ollama_prepare_request(self, endpoint: str, body: dict[str, Any]) -> None:
        """Encode ``messages[i].images`` of chat and ``images`` of generate requests."""
        if endpoint == "chat":
            messages = body.get("messages")
            if not isinstance(messages, list):
                return
            for i, message in enumerate(messages):
                if isinstance(message, dict) and message.get("images") is not None:
                    message["images"] = self._encode_list(message["images"],
                                                          f"messages.{i}.images")
        elif endpoint == "generate" and body.get("images") is not None:
            body["images"] = self._encode_list(body["images"], "images")
