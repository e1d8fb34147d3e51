"""Vision: images from bytes and from a file, checked and encoded by ``vision_support``.

The script draws a small PNG itself (no image files or extra libraries needed), then:

* asks ``supports_vision`` which models take images at all;
* sends the image as raw bytes to ``chat`` and as a file path to ``generate``: the
  plugin reads, checks (format, size) and base64-encodes them before validation;
* shows what a bad image gives: an ``InvalidRequestError`` naming the exact field,
  raised before anything is sent.

    python examples/vision.py [--host URL] [--model NAME]   # a vision model, e.g. llava
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

from ollama_core import ChatRequest, GenerateRequest, InvalidRequestError, OllamaClient
from ollama_core.emulator import ollama_server
from ollama_plugins.vision_support import detect_format, encode_image, supports_vision


def make_png(width: int = 32, height: int = 32) -> bytes:
    """A red-to-blue gradient as a PNG file, written by hand (zlib + CRCs)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(
        b"\x00" + b"".join(bytes((255 * x // width, 64, 255 * y // height))
                           for x in range(width))
        for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def main(host: str | None, model: str) -> None:
    png = make_png()
    print(f"made a {len(png)}-byte image, detected format: {detect_format(png)}")
    print(f"as base64 for the API: {encode_image(png)[:40]}...")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gradient.png"
        path.write_bytes(png)

        async with ollama_server(host) as url, \
                OllamaClient(url, plugins=["vision_support"]) as client:
            for name in (model, "llama3.2"):
                with contextlib.suppress(Exception):  # a real server may lack the model
                    print(f"{name} supports vision: {await supports_vision(client, name)}")

            # Raw bytes in a typed request.
            reply = await client.chat(ChatRequest(model=model, messages=[
                {"role": "user", "content": "What colours are in this picture?",
                 "images": [png]}]))
            print(f"chat with bytes: {reply.message.content}")

            # A path: the plugin reads and encodes the file.
            answer = await client.generate({"model": model, "prompt": "Describe the image.",
                                            "images": [path]})
            print(f"generate with a path: {answer.response}")

            # Bad images are rejected before sending, naming the field.
            for label, bad in [("a text file", b"hello, not an image"),
                               ("a missing file", Path(tmp) / "missing.png")]:
                images: list[Any] = [png, bad]  # a Path is an extension of vision_support
                try:
                    await client.generate(GenerateRequest(model=model, prompt="?",
                                                          images=images))
                except InvalidRequestError as exc:
                    print(f"{label}: InvalidRequestError field={exc.field!r}: {exc}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llava")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model))
