"""Tests of ``ollama_plugins.vision_support``: format detection, ``encode_image`` for every
input kind and every rejection, the plugin's configuration and hook, and chats with
images against the emulator over loopback."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ollama_core import (
    ChatMessage,
    ChatRequest,
    InvalidConfigError,
    InvalidRequestError,
    OllamaClient,
)
from ollama_core.emulator import OllamaEmulator
from ollama_plugins.vision_support import (
    DEFAULT_MAX_BYTES,
    FORMATS,
    VisionSupportPlugin,
    detect_format,
    encode_image,
    supports_vision,
)

# --------------------------------------------------------------------------------------------
# Tiny images, built here so the tests need no binary fixtures
# --------------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def make_png() -> bytes:
    """A valid 1x1 RGB PNG."""
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")  # filter byte + one red pixel
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", pixels)
            + _png_chunk(b"IEND", b""))


def make_jpeg() -> bytes:
    """A JFIF header and end marker (enough for the magic bytes)."""
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
            b"\xff\xd9")


def make_gif() -> bytes:
    """A valid 1x1 GIF89a."""
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
            b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00"
            b"\x02\x02D\x01\x00;")


def make_webp() -> bytes:
    """A RIFF/WEBP container with a lossless 1x1 bitstream."""
    vp8l = b"VP8L" + struct.pack("<I", 10) + b"\x2f\x00\x00\x00\x00\x07\x10\x11\x11\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(vp8l)) + b"WEBP" + vp8l


def make_bmp() -> bytes:
    """A valid 1x1 24-bit BMP."""
    pixels = b"\x00\x00\xff\x00"  # one BGR pixel, padded to 4 bytes
    dib = struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(dib) + len(pixels), 0, 0, 14 + len(dib)) \
        + dib + pixels


IMAGES: dict[str, Callable[[], bytes]] = {
    "png": make_png, "jpeg": make_jpeg, "gif": make_gif, "webp": make_webp, "bmp": make_bmp,
}
PNG = make_png()
PNG_B64 = base64.b64encode(PNG).decode()
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def png_path(tmp_path: Path) -> Path:
    path = tmp_path / "pixel.png"
    path.write_bytes(PNG)
    return path


@pytest.fixture
def pdf_path(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(PDF)
    return path


# --------------------------------------------------------------------------------------------
# detect_format
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_detect_each_format(fmt: str) -> None:
    assert detect_format(IMAGES[fmt]()) == fmt
    assert detect_format(memoryview(IMAGES[fmt]())) == fmt


@pytest.mark.parametrize("data", [
    b"", PDF, b"BM", b"BMjunk that is not a bitmap header", b"RIFF\x00\x00\x00\x00WAVEfmt ",
    b"GIF90a", b"\x89PNG", b"hello world",
], ids=["empty", "pdf", "bare BM", "BM junk", "wav", "bad gif", "short png", "text"])
def test_detect_rejects_other_data(data: bytes) -> None:
    assert detect_format(data) is None


# --------------------------------------------------------------------------------------------
# encode_image: every input kind, every format
# --------------------------------------------------------------------------------------------

INPUTS: dict[str, Callable[[Path], Any]] = {
    "bytes": lambda p: PNG,
    "bytearray": lambda p: bytearray(PNG),
    "memoryview": lambda p: memoryview(PNG),
    "str path": lambda p: str(p),
    "Path": lambda p: p,
    "file object": lambda p: io.BytesIO(PNG),
    "base64": lambda p: PNG_B64,
    "base64 wrapped": lambda p: "\n".join(PNG_B64[i:i + 20] for i in range(0, len(PNG_B64), 20)),
    "data URL": lambda p: "data:image/png;base64," + PNG_B64,
    "data URL upper": lambda p: "DATA:image/png;charset=utf-8;BASE64," + PNG_B64,
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_encode_each_input_kind(kind: str, png_path: Path) -> None:
    assert encode_image(INPUTS[kind](png_path)) == PNG_B64


def test_encode_open_file(png_path: Path) -> None:
    with png_path.open("rb") as f:
        assert encode_image(f) == PNG_B64
        assert not f.closed  # the caller's file stays the caller's


@pytest.mark.parametrize("fmt", FORMATS)
def test_encode_each_format(fmt: str) -> None:
    data = IMAGES[fmt]()
    assert base64.b64decode(encode_image(data)) == data
    assert encode_image(b64(data)) == b64(data)


# --------------------------------------------------------------------------------------------
# encode_image: rejections, each naming the field and saying what is wrong
# --------------------------------------------------------------------------------------------

REJECTIONS: list[tuple[str, Callable[[Path], Any], dict[str, Any], list[str]]] = [
    ("unknown format bytes", lambda p: PDF, {},
     ["not a supported image format", "25 50 44 46 2d 31 2e 37"]),
    ("unknown format base64", lambda p: b64(PDF), {}, ["25 50 44 46"]),
    ("unknown format file", lambda p: p / "report.pdf", {}, ["25 50 44 46"]),
    ("missing str path", lambda p: str(p / "nope.png"), {}, ["no such file", "nope.png"]),
    ("missing Path", lambda p: p / "nope.jpg", {}, ["no such file", "nope.jpg"]),
    ("missing bare name", lambda p: "holiday.jpeg", {}, ["no such file: 'holiday.jpeg'"]),
    ("missing path that decodes", lambda p: "imgs/cat1234", {},
     ["no such file: 'imgs/cat1234'", "not a supported image either"]),
    ("directory", lambda p: p, {}, ["cannot read"]),
    ("invalid base64", lambda p: "abc$%^", {}, ["not a file and not valid base64"]),
    ("bad padding", lambda p: PNG_B64[:-2], {}, ["not valid base64"]),
    ("url-safe base64", lambda p: PNG_B64.replace("+", "-").replace("/", "_") + "-_", {},
     ["not valid base64"]),
    ("empty bytes", lambda p: b"", {}, ["the image is empty"]),
    ("empty text", lambda p: "", {}, ["the image is empty"]),
    ("data URL without base64", lambda p: "data:image/png," + PNG_B64, {},
     ["not base64-encoded"]),
    ("malformed data URL", lambda p: "data:image/png;base64", {}, ["malformed data URL"]),
    ("text-mode file", lambda p: io.StringIO("text"), {}, ["open it with 'rb'"]),
    ("odd read()", lambda p: type("R", (), {"read": lambda self, n: 42})(), {},
     ["read() returned int"]),
    ("unsupported type", lambda p: 12345, {}, ["unsupported image value of type int"]),
    ("too large bytes", lambda p: PNG, {"max_bytes": 10},
     ["image too large", f"({len(PNG)} bytes)", "the limit is 10 bytes"]),
    ("too large path", lambda p: p / "pixel.png", {"max_bytes": 10},
     ["image too large", "pixel.png", "the limit is 10 bytes"]),
    ("too large file object", lambda p: io.BytesIO(PNG), {"max_bytes": 10},
     ["image too large: more than 10 bytes"]),
    ("too large base64", lambda p: PNG_B64, {"max_bytes": 10},
     ["image too large: about", "base64 data"]),
    ("format not allowed", lambda p: make_gif(), {"formats": ("png", "jpeg")},
     ["gif images are not allowed here (allowed: png, jpeg)"]),
]


@pytest.mark.parametrize(("make", "kwargs", "fragments"), [r[1:] for r in REJECTIONS],
                         ids=[r[0] for r in REJECTIONS])
def test_encode_rejections(make: Callable[[Path], Any], kwargs: dict[str, Any],
                           fragments: list[str], tmp_path: Path, png_path: Path,
                           pdf_path: Path) -> None:
    label = "messages.0.images.1"
    with pytest.raises(InvalidRequestError) as info:
        encode_image(make(tmp_path), label=label, **kwargs)
    error = info.value
    assert error.field == label
    assert str(error).startswith(f"invalid request: {label}: ")
    assert list(error.errors) == [label]
    for fragment in fragments:
        assert fragment in str(error)


def test_large_images_are_rejected_before_reading_everything(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\x00" * 2048)
    reads: list[int] = []

    class Tracking(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    with pytest.raises(InvalidRequestError, match=r"\(2117 bytes\) in .*big.png"):
        encode_image(big, max_bytes=1024)
    with pytest.raises(InvalidRequestError, match="more than 1.0 KiB"):
        encode_image(Tracking(big.read_bytes()), max_bytes=1024)
    assert reads == [1025]  # never more than one byte past the cap
    assert DEFAULT_MAX_BYTES == 20 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# The plugin: configuration and hook
# --------------------------------------------------------------------------------------------


def test_plugin_defaults() -> None:
    plugin = VisionSupportPlugin({})
    assert VisionSupportPlugin.name == "vision_support"
    assert plugin.max_bytes == DEFAULT_MAX_BYTES and plugin.formats == FORMATS
    assert VisionSupportPlugin().formats == FORMATS


def test_plugin_config() -> None:
    plugin = VisionSupportPlugin({"max_bytes": 1000, "formats": ["jpg", "png", "png"]})
    assert plugin.max_bytes == 1000 and plugin.formats == ("png", "jpeg")
    with pytest.raises(InvalidRequestError, match="gif images are not allowed"):
        plugin.encode(make_gif())


@pytest.mark.parametrize(("config", "message"), [
    ({"max_size": 1}, "unknown key 'max_size' (known: formats, max_bytes)"),
    ({"max_bytes": 0}, "max_bytes: must be greater than 0, got 0"),
    ({"max_bytes": -5}, "max_bytes: must be greater than 0, got -5"),
    ({"max_bytes": 1.5}, "max_bytes: must be an integer, got 1.5"),
    ({"max_bytes": True}, "max_bytes: must be an integer, got True"),
    ({"formats": "png"}, "formats: must be a list"),
    ({"formats": []}, "formats: must be a non-empty list"),
    ({"formats": ["png", "tiff"]}, "formats: unknown format 'tiff'"),
    ({"formats": [1]}, "formats[0]: must be a string, got 1"),
], ids=["unknown key", "zero", "negative", "float", "bool", "str formats", "empty formats",
        "unknown format", "non-str format"])
def test_plugin_config_errors(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidConfigError, match="^plugin 'vision_support': ") as info:
        VisionSupportPlugin(config)
    assert message in str(info.value)


def test_hook_encodes_chat_images(png_path: Path) -> None:
    user_images: list[Any] = [png_path, memoryview(PNG)]
    body: dict[str, Any] = {"model": "llava", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What?", "images": user_images},
        {"role": "user", "content": "And this?", "images": ["data:image/png;base64," + PNG_B64]},
    ]}
    VisionSupportPlugin().ollama_prepare_request(endpoint="chat", body=body)
    assert [m.get("images") for m in body["messages"]] == [None, [PNG_B64] * 2, [PNG_B64]]
    assert user_images[0] == png_path  # the caller's list is not rewritten


def test_hook_encodes_generate_images(png_path: Path) -> None:
    body: dict[str, Any] = {"model": "llava", "prompt": "?", "images": (str(png_path),)}
    VisionSupportPlugin().ollama_prepare_request(endpoint="generate", body=body)
    assert body["images"] == [PNG_B64]


@pytest.mark.parametrize(("endpoint", "body", "field"), [
    ("chat", {"messages": [{"role": "user", "content": "hi"},
                           {"role": "user", "images": [PNG_B64, PDF]}]}, "messages.1.images.1"),
    ("generate", {"images": [PDF]}, "images.0"),
], ids=["chat", "generate"])
def test_hook_names_the_bad_image(endpoint: str, body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        VisionSupportPlugin().ollama_prepare_request(endpoint=endpoint, body=body)
    assert info.value.field == field


@pytest.mark.parametrize(("endpoint", "body"), [
    ("embed", {"input": "x", "images": [b"not touched"]}),
    ("chat", {"messages": None}),
    ("chat", {"messages": [{"role": "user", "images": "not a list"}]}),
    ("generate", {"prompt": "no images"}),
], ids=["other endpoint", "no messages", "images not a list", "no images"])
def test_hook_leaves_other_bodies_alone(endpoint: str, body: dict[str, Any]) -> None:
    before = repr(body)
    VisionSupportPlugin().ollama_prepare_request(endpoint=endpoint, body=body)
    assert repr(body) == before


# --------------------------------------------------------------------------------------------
# Against the emulator (real loopback sockets)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def image_inputs(png_path: Path) -> Iterator[dict[str, Any]]:
    with png_path.open("rb") as f:
        yield {"Path": png_path, "str path": str(png_path), "bytes": PNG, "file object": f,
               "data URL": "data:image/png;base64," + PNG_B64}


@pytest.mark.parametrize("kind", ["Path", "str path", "bytes", "file object", "data URL"])
async def test_chat_with_an_image(emulator: OllamaEmulator, image_inputs: dict[str, Any],
                                  kind: str) -> None:
    async with OllamaClient(emulator.url, plugins=[VisionSupportPlugin]) as client:
        reply = await client.chat(ChatRequest(model="llava:latest", messages=[
            ChatMessage("user", "What is in this picture?", images=[image_inputs[kind]])]))
    assert reply.message.content.startswith("I see 1 image")
    assert emulator.requests[-1].json["messages"][0]["images"] == [PNG_B64]


async def test_generate_with_images(emulator: OllamaEmulator, png_path: Path) -> None:
    async with OllamaClient(emulator.url, plugins=[VisionSupportPlugin]) as client:
        reply = await client.generate({"model": "llava:latest", "prompt": "Describe",
                                       "images": [png_path, make_jpeg()]})
    assert reply.response.startswith("I see 2 images")
    assert emulator.requests[-1].json["images"] == [PNG_B64, b64(make_jpeg())]


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "chat_stream"])
async def test_non_image_is_rejected_before_sending(emulator: OllamaEmulator, pdf_path: Path,
                                                    png_path: Path, stream: bool) -> None:
    request = {"model": "llava:latest", "messages": [
        {"role": "user", "content": "ok", "images": [png_path]},
        {"role": "user", "content": "Summarise", "images": [png_path, pdf_path]}]}
    async with OllamaClient(emulator.url, plugins=[VisionSupportPlugin]) as client:
        with pytest.raises(InvalidRequestError) as info:
            if stream:
                client.chat_stream(request)
            else:
                await client.chat(request)
    assert info.value.field == "messages.1.images.1"
    assert "25 50 44 46" in str(info.value)
    assert emulator.hits("/api/chat") == 0


@pytest.mark.parametrize(("model", "expected"), [
    ("llava:latest", True), ("llama3.2:latest", False), ("qwen3:latest", False)])
async def test_supports_vision(emulator: OllamaEmulator, model: str, expected: bool) -> None:
    async with OllamaClient(emulator.url, plugins=[VisionSupportPlugin]) as client:
        assert await supports_vision(client, model) is expected
        assert await client.plugin("vision_support").supports_vision(client, model) is expected
    assert emulator.hits("/api/show") == 2
