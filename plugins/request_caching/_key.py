"""Cache keys: what makes two requests "the same".

The key is the SHA-256 of the canonical JSON (sorted keys, no whitespace) of
``[method, path, body]``, where the body loses the fields that do not change the answer:

- ``stream``: a streamed and a plain answer carry the same content (the cache converts
  between the two forms, see ``_replay``);
- ``keep_alive``: how long the model stays loaded afterwards.

The form the answer is decoded in counts too (see ``cache_key``). Everything else counts
(model, messages, prompt, input, options, format, tools, think, system, template, suffix,
truncate, dimensions, raw, and any field a newer server knows), so the cache can only err
on the side of a miss. Images (``images`` of generate and of
each chat message) are replaced by ``sha256:<hex>`` of their decoded bytes: the key stays
small and the same picture hits however it was given. Hashing the canonical text keeps the
index small even for long prompts or large embedding batches.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from typing import Any

__all__ = ["cache_key", "image_digest"]

_IGNORED = frozenset({"stream", "keep_alive"})
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=True).encode


def image_digest(image: Any) -> Any:
    """``sha256:<hex>`` of an image's bytes (base64 text is decoded first)."""
    if isinstance(image, str):
        try:
            raw = binascii.a2b_base64(image, strict_mode=True)
        except (binascii.Error, ValueError):
            # Not strict base64 (a path the vision plugin did not resolve, wrapped
            # lines...): key on the text, under a prefix no decoded image can produce.
            return "text-sha256:" + hashlib.sha256(image.encode("utf-8", "surrogatepass")
                                                   ).hexdigest()
    elif isinstance(image, (bytes, bytearray, memoryview)):
        raw = bytes(image)
    else:
        return image  # not an image we understand: keyed as it is
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _images(value: Any) -> Any:
    if isinstance(value, list):
        return [image_digest(item) for item in value]
    return value


def _canonical_body(body: Any) -> Any:
    if not isinstance(body, dict):
        return body
    out = {k: v for k, v in body.items() if k not in _IGNORED}
    images = out.get("images")
    if images:
        out["images"] = _images(images)
    messages = out.get("messages")
    if isinstance(messages, list) and any(
            isinstance(m, dict) and m.get("images") for m in messages):
        out["messages"] = [
            {**m, "images": _images(m["images"])} if isinstance(m, dict) and m.get("images")
            else m
            for m in messages]
    return out


def cache_key(method: str, path: str, body: Any, decode: bool | str = True) -> bytes:
    """The key of a request. Raises ``TypeError``/``ValueError`` for a body that is not
    JSON (such a request is simply not cached).

    ``decode`` is the request's: an answer decoded another way than as plain JSON (an
    embed's rows as arrays, ``"arrays"``; raw bytes, ``False``) is kept under a key of
    its own, so no call gets an answer in another call's form; plain JSON keeps the key
    it always had."""
    parts = [method, path, _canonical_body(body)]
    if decode is not True:
        parts.append(decode)
    text = _canonical(parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
