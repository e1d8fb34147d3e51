"""The JSON codec of the hot paths: request bodies out, plain bodies and stream lines in.

With msgspec installed (the ``fast`` extra, part of ``full``) it does the work: it decodes
a chat line in about 0.25 µs against 2 µs for ``json.loads``, an embed body four to six
times faster, and encodes a request body ten times faster. Without it, or with
:data:`PURE_ENV` set, the standard library does everything (CI runs the suite both ways).

The answer is always exactly the standard library's: msgspec is used only where it agrees
with ``json.loads`` (it is stricter: it refuses ``NaN``, ``Infinity``, lone surrogates,
numbers out of the float range and integers of more than 4300 digits), and any input it
refuses is handed to ``json.loads``, which then accepts it the same way as before or
raises the same error. So the fast library changes speed, never a result or an error.
msgspec was chosen over orjson because orjson turns integers beyond 64 bits into floats
without an error, which would change values rather than fall back.

Encoding: ``check_json`` has refused everything that is not plain JSON (``NaN``, lone
surrogates, sets, non-string keys) before a body gets here. msgspec writes floats in their
shortest form (``1e-05`` as ``0.00001``): the same number on the wire. Anything it cannot
encode goes to the standard encoder, which raises as before.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["FAST", "PURE_ENV", "dumps", "loads", "loads_fast", "loads_lines_fast", "pure"]

#: Set this environment variable (to anything but ``""`` or ``"0"``) to use only the
#: standard library, even where msgspec is installed.
PURE_ENV = "OLLAMA_CORE_PURE_JSON"


def pure() -> bool:
    """Whether :data:`PURE_ENV` asks for the standard library alone (any fast parser,
    msgspec here or pysimdjson in ``_vectors``, is then left unused)."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")

_std_loads = json.loads
_std_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _std_dumps(value: Any) -> bytes:
    return _std_encode(value).encode()


def _fast_codec() -> tuple[str | None, Callable[[Any], Any] | None,
                          Callable[[Any], bytes] | None, Callable[[Any], list[Any]] | None]:
    if pure():
        return None, None, None, None
    try:
        import msgspec.json
    except ImportError:
        return None, None, None, None
    decoder = msgspec.json.Decoder()
    return "msgspec", decoder.decode, msgspec.json.Encoder().encode, decoder.decode_lines


_fast_name, _fast_decode, _fast_encode, _fast_decode_lines = _fast_codec()

#: The fast library in use (``"msgspec"``), or ``None`` for the standard library alone.
FAST: str | None = _fast_name

#: Decodes bytes (or a buffer, or str) to a value, or raises anything at all when it
#: refuses the input: the caller then asks :func:`loads` (``None`` without msgspec).
loads_fast: Callable[[Any], Any] | None = _fast_decode

#: Decodes a buffer of whitespace-separated JSON values to their list (msgspec's
#: ``decode_lines``: it does not see lines, a value may span several and a line may hold
#: several; see ``NDJSONDecoder.feed_all`` for how it is used safely), or raises anything
#: at all when it refuses the input (``None`` without msgspec).
loads_lines_fast: Callable[[Any], list[Any]] | None = _fast_decode_lines


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """``json.loads(data)``: the same value or the same exception, faster when it can be.

    >>> loads(b'{"a": [1, 2.5, "x"], "b": NaN}')
    {'a': [1, 2.5, 'x'], 'b': nan}
    """
    if _fast_decode is not None:
        try:
            return _fast_decode(data)
        except Exception:  # refused: the standard library decides (accepts, or says why)
            pass
    if isinstance(data, memoryview):
        data = data.tobytes()
    return _std_loads(data)


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON (no ASCII escaping), as ``json.dumps(..., ensure_ascii=False,
    separators=(",", ":")).encode()`` would write it, up to the spelling of floats.

    >>> dumps({"model": "m", "messages": [{"content": "é"}]}).decode()
    '{"model":"m","messages":[{"content":"é"}]}'
    """
    if _fast_encode is not None:
        try:
            return _fast_encode(value)
        except Exception:  # a type msgspec does not write: the standard encoder decides
            pass
    return _std_dumps(value)
