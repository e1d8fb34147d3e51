"""Turning the many ways of naming an image into the plain base64 text the API wants.

Every image is checked before it is sent: that it decodes, that its magic bytes are a
format the vision models take, and that it is not larger than a cap. A bad image is an
``InvalidRequestError`` naming the image's field (``messages.0.images.1``), raised before
any request leaves, instead of a vague error from the server after the upload.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import string
from collections.abc import Collection
from typing import Any, Final

from ollama_core import InvalidRequestError

__all__ = ["DEFAULT_MAX_BYTES", "FORMATS", "ImageInput", "detect_format", "encode_image"]

#: 20 MiB of decoded image: far above what a vision encoder uses (images are scaled down to
#: a few hundred pixels a side), low enough to catch a wrong file before uploading it.
DEFAULT_MAX_BYTES: Final = 20 * 1024 * 1024
#: The formats :func:`detect_format` recognises, in the order it tests them.
FORMATS: Final = ("png", "jpeg", "gif", "webp", "bmp")

#: A path, raw bytes, a binary file object, or base64 text (a data URL is accepted).
ImageInput = Any

_BMP_HEADER_SIZES: Final = frozenset({12, 16, 40, 52, 56, 64, 108, 124})
#: Strings shorter than this may be file names; longer ones are only ever base64.
_MAX_PATH_LEN: Final = 4096
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}$")
_BASE64_CHARS: Final = frozenset(string.ascii_letters + string.digits + "+/=")
_DATA_URL = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*),", re.IGNORECASE)


def detect_format(data: bytes | bytearray | memoryview) -> str | None:
    """The image format of ``data`` from its magic bytes: ``"png"``, ``"jpeg"``, ``"gif"``,
    ``"webp"``, ``"bmp"``, or ``None`` for anything else."""
    head = bytes(data[:32])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    # "BM" alone is too common a start for arbitrary data; the DIB header size that
    # follows the 14-byte file header must be one of the defined ones too.
    if head[:2] == b"BM" and len(head) >= 18 \
            and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "bmp"
    return None


def _invalid(label: str, problem: str) -> InvalidRequestError:
    return InvalidRequestError(f"invalid request: {label}: {problem}", field=label,
                               errors={label: [problem]})


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def _too_large(label: str, size: str, max_bytes: int) -> InvalidRequestError:
    return _invalid(label, f"image too large: {size}, the limit is {_size(max_bytes)} "
                           f"({max_bytes} bytes)")


def _looks_like_path(text: str) -> bool:
    """Whether ``text``, which failed as base64, reads like a file name: it ends with an
    extension, or has a path separator next to characters base64 never uses."""
    text = text.strip()
    if not text or len(text) >= _MAX_PATH_LEN:
        return False
    if _SUFFIX.search(text):
        return True
    return ("/" in text or "\\" in text) and not set(text) <= _BASE64_CHARS


def _read_path(path: str | os.PathLike[str], label: str, max_bytes: int) -> bytes:
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        raise _invalid(label, f"no such file: {os.fspath(path)!r}") from None
    except OSError as exc:
        raise _invalid(label, f"cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    if size > max_bytes:
        raise _too_large(label, f"{_size(size)} ({size} bytes) in {os.fspath(path)!r}",
                         max_bytes)
    try:
        with open(path, "rb") as f:
            return f.read(max_bytes + 1)
    except OSError as exc:  # a directory, no permission, ...
        raise _invalid(label, f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") \
            from None


def _read_file_object(f: Any, label: str, max_bytes: int) -> bytes:
    # Read one byte past the cap: enough to know it is too large without reading it all.
    data = f.read(max_bytes + 1)
    if isinstance(data, str):
        raise _invalid(label, "the file object is open in text mode; open it with 'rb'")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise _invalid(label, f"the file object's read() returned {type(data).__name__}, "
                              f"not bytes")
    if len(data) > max_bytes:
        raise _too_large(label, f"more than {_size(max_bytes)}", max_bytes)
    return bytes(data)


def _strip_data_url(text: str, label: str) -> str:
    match = _DATA_URL.match(text)
    if match is None:
        raise _invalid(label, "malformed data URL: expected 'data:image/...;base64,<data>'")
    if "base64" not in match.group(2).lower().split(";"):
        raise _invalid(label, "data URL is not base64-encoded (missing ';base64')")
    return text[match.end():]


def _base64_size(text: str) -> int:
    """The decoded size of well-formed base64 ``text``, without decoding it."""
    return len(text) // 4 * 3 - (len(text) - len(text.rstrip("=")))


def _check(data: bytes, label: str, max_bytes: int, formats: Collection[str]) -> None:
    if not data:
        raise _invalid(label, "the image is empty")
    if len(data) > max_bytes:
        raise _too_large(label, f"{_size(len(data))} ({len(data)} bytes)", max_bytes)
    fmt = detect_format(data)
    if fmt is None:
        raise _invalid(label, f"not a supported image format (expected {', '.join(formats)}); "
                              f"the data starts with {data[:16].hex(' ')}")
    if fmt not in formats:
        raise _invalid(label, f"{fmt} images are not allowed here "
                              f"(allowed: {', '.join(formats)})")


def _from_text(text: str, label: str, max_bytes: int, formats: Collection[str]) -> str:
    """Base64 text (or a data URL, or a file name) as checked plain base64."""
    if text[:5].lower() == "data:":  # URL schemes are case-insensitive
        text = _strip_data_url(text, label)
    elif len(text) < _MAX_PATH_LEN and os.path.exists(text):
        return _encode(_read_path(text, label, max_bytes), label, max_bytes, formats)
    # Go's decoder skips line breaks, and base64 tools like to wrap at 76 columns.
    compact = "".join(text.split())
    if _base64_size(compact) > max_bytes:
        raise _too_large(label, f"about {_size(_base64_size(compact))} of base64 data",
                         max_bytes)
    try:
        data = binascii.a2b_base64(compact, strict_mode=True)
    except (binascii.Error, ValueError):
        # Not base64, but reads like a file name: it was most likely meant as one.
        if _looks_like_path(text):
            raise _invalid(label, f"no such file: {text!r}") from None
        raise _invalid(label, "not a file and not valid base64 text (standard alphabet, "
                              "padded)") from None
    if data and detect_format(data) is None and len(text) < 256 and "/" in text:
        # '/' is a base64 character, so a name like "imgs/cat1234" decodes: say both.
        raise _invalid(label, f"no such file: {text!r}, and as base64 text it is not a "
                              f"supported image either (the data starts with "
                              f"{data[:16].hex(' ')})")
    _check(data, label, max_bytes, formats)
    return compact


def _encode(data: bytes, label: str, max_bytes: int, formats: Collection[str]) -> str:
    _check(data, label, max_bytes, formats)
    return base64.b64encode(data).decode("ascii")


def encode_image(image: ImageInput, *, max_bytes: int = DEFAULT_MAX_BYTES,
                 label: str = "image", formats: Collection[str] = FORMATS) -> str:
    """Check an image and return it as plain base64 text (no ``data:`` prefix).

    Args:
        image: a path (``os.PathLike``, or a ``str`` naming an existing file), raw
            ``bytes``/``bytearray``/``memoryview``, a binary file object (read from its
            current position, not closed), or base64 text, optionally as a
            ``data:image/...;base64,`` URL (the prefix is removed).
        max_bytes: the largest accepted image, in decoded bytes.
        label: the field named in errors, e.g. ``"messages.0.images.1"``.
        formats: the accepted formats (a subset of :data:`FORMATS`).

    Raises:
        InvalidRequestError: ``.field`` is ``label``; the message says what is wrong: a
            missing or unreadable file (with its path), invalid base64, an unknown format
            (with the first bytes in hex), a format not in ``formats``, an empty image, or
            an image over ``max_bytes`` (with both sizes).
    """
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _encode(bytes(image), label, max_bytes, formats)
    if isinstance(image, str):
        return _from_text(image, label, max_bytes, formats)
    if isinstance(image, os.PathLike):
        return _encode(_read_path(image, label, max_bytes), label, max_bytes, formats)
    if callable(getattr(image, "read", None)):
        return _encode(_read_file_object(image, label, max_bytes), label, max_bytes, formats)
    raise _invalid(label, f"unsupported image value of type {type(image).__name__}; expected "
                          f"a path, bytes, a binary file object or base64 text")
