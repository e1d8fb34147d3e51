"""Request decoding with the server's error texts.

Ollama binds bodies with gin's ``ShouldBindJSON`` into typed Go structs, so a bad body
gets a 400 whose text comes from Go's ``encoding/json`` (or a field type's own
``UnmarshalJSON``). This module checks the same things and produces the same kind of
message, so clients see realistic validation errors.
"""

from __future__ import annotations

import binascii
import base64
import json
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from ._models import parse_go_duration
from ._wire import go_quote

__all__ = ["BindError", "Kind", "bind", "keep_alive_seconds", "SPECS"]

Kind = Literal[
    "str", "bool", "int", "strs", "obj", "any", "dur", "think", "msgs", "images", "tools",
    "ints", "strmap", "license",
]

_GO_TYPES: Final[dict[str, str]] = {
    "str": "string",
    "bool": "bool",
    "int": "int",
    "strs": "[]string",
    "obj": "map[string]interface {}",
    "msgs": "[]api.Message",
    "images": "[]api.ImageData",
    "tools": "api.Tools",
    "ints": "[]int",
    "strmap": "map[string]string",
}

_MESSAGE: Final[dict[str, Kind]] = {
    "role": "str",
    "content": "str",
    "thinking": "str",
    "images": "images",
    "tool_name": "str",
    "tool_call_id": "str",
}

THINK_LEVELS: Final = ("high", "medium", "low", "max")

SPECS: Final[dict[str, tuple[str, dict[str, Kind]]]] = {
    "generate": (
        "GenerateRequest",
        {
            "model": "str", "prompt": "str", "suffix": "str", "system": "str",
            "template": "str", "context": "ints", "stream": "bool", "raw": "bool",
            "format": "any", "images": "images", "options": "obj", "keep_alive": "dur",
            "think": "think", "truncate": "bool", "shift": "bool", "logprobs": "bool",
            "top_logprobs": "int",
        },
    ),
    "chat": (
        "ChatRequest",
        {
            "model": "str", "messages": "msgs", "tools": "tools", "stream": "bool",
            "format": "any", "options": "obj", "keep_alive": "dur", "think": "think",
            "truncate": "bool", "shift": "bool", "logprobs": "bool", "top_logprobs": "int",
        },
    ),
    "embed": (
        "EmbedRequest",
        {
            "model": "str", "input": "any", "truncate": "bool", "dimensions": "int",
            "keep_alive": "dur", "options": "obj",
        },
    ),
    "embeddings": (
        "EmbeddingRequest",
        {"model": "str", "prompt": "str", "keep_alive": "dur", "options": "obj"},
    ),
    "pull": ("PullRequest", {"model": "str", "name": "str", "insecure": "bool", "stream": "bool"}),
    "push": ("PushRequest", {"model": "str", "name": "str", "insecure": "bool", "stream": "bool"}),
    "create": (
        "CreateRequest",
        {
            "model": "str", "name": "str", "from": "str", "files": "strmap",
            "adapters": "strmap", "template": "str", "system": "str", "license": "license",
            "parameters": "obj", "messages": "msgs", "quantize": "str",
            "quantization": "str", "stream": "bool",
        },
    ),
    "show": (
        "ShowRequest",
        {"model": "str", "name": "str", "verbose": "bool", "system": "str", "options": "obj"},
    ),
    "copy": ("CopyRequest", {"source": "str", "destination": "str"}),
    "web_search": ("WebSearchRequest", {"query": "str", "max_results": "int"}),
    "web_fetch": ("WebFetchRequest", {"url": "str"}),
    # ollama-python 0.6.3's SystemOneRequest (the Go source read predates the endpoint)
    "systemone": (
        "SystemOneRequest",
        {"model": "str", "state": "any", "questions": "obj", "images": "images",
         "keep_alive": "dur"},
    ),
    "delete": ("DeleteRequest", {"model": "str", "name": "str"}),
}


class BindError(Exception):
    """A request the server rejects before doing anything; ``status`` is usually 400."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def bind(raw: bytes, endpoint: str) -> dict[str, Any]:
    """Decode and type-check a body the way ``ShouldBindJSON`` would for ``endpoint``."""
    struct, spec = SPECS[endpoint]
    text = raw.decode("utf-8", errors="replace").lstrip()
    if not text.strip():
        raise BindError("missing request body")
    try:
        # Go's json.Decoder reads one value and ignores what follows it.
        value, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise BindError(_syntax_message(text, exc)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BindError(
            f"json: cannot unmarshal {_json_kind(value)} into Go value of type api.{struct}"
        )
    for name, kind in spec.items():
        if value.get(name) is not None:
            _check(value[name], kind, f"{struct}.{name}")
            if kind == "msgs":
                _lower_roles(value[name])
    return value


def _lower_roles(messages: list[dict[str, Any]]) -> None:
    """``api.Message.UnmarshalJSON`` lowercases every role: ``"User"`` is ``"user"``. The
    renderers then accept what they know (``developer`` included); so does the emulator."""
    for message in messages:
        role = message.get("role")
        if isinstance(role, str):
            message["role"] = role.lower()


def keep_alive_seconds(value: Any) -> float | None:
    """``keep_alive`` in seconds: ``None`` if unset, ``inf`` for "forever" (negative)."""
    if value is None:
        return None
    seconds = parse_go_duration(value) if isinstance(value, str) else float(value)
    return float("inf") if seconds < 0 else seconds


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated"):
        return "unexpected EOF"
    char = text[exc.pos]
    if exc.msg.startswith("Invalid control character"):
        return f"invalid character {char!r} in string literal"
    context = {
        "Expecting ':' delimiter": "after object key",
        "Expecting ',' delimiter": "after object key:value pair",
        "Expecting property name enclosed in double quotes":
            "looking for beginning of object key string",
    }.get(exc.msg, "looking for beginning of value")
    return f"invalid character {char!r} {context}"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_error(value: Any, path: str, go_type: str) -> BindError:
    return BindError(
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field {path} of type {go_type}"
    )


def _check(value: Any, kind: Kind, path: str) -> None:
    if value is None or kind == "any":
        return
    if kind == "dur":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            go_name = (
                "[]interface {}" if isinstance(value, list)
                else "map[string]interface {}" if isinstance(value, dict)
                else type(value).__name__
            )
            raise BindError(f"Unsupported type: '{go_name}'")
        if isinstance(value, str):
            try:
                parse_go_duration(value)
            except ValueError as exc:
                raise BindError(str(exc)) from None
        return
    if kind == "think":
        if isinstance(value, bool):
            return
        if isinstance(value, str):
            if value not in THINK_LEVELS:
                raise BindError(
                    f"invalid think value: {go_quote(value)} "
                    '(must be "high", "medium", "low", "max", true, or false)'
                )
            return
        raise BindError("think must be a boolean or string")
    if kind == "license":
        if isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            return
        raise BindError("license must be a string or list of strings")
    if kind == "str" and not isinstance(value, str):
        raise _type_error(value, path, "string")
    if kind == "bool" and not isinstance(value, bool):
        raise _type_error(value, path, "bool")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(value, path, "int")
        if isinstance(value, float) and not value.is_integer():
            raise BindError(
                f"json: cannot unmarshal number {value} into Go struct field {path} of type int"
            )
    if kind in ("obj", "strmap", "msgs", "tools", "images", "ints", "strs"):
        want_list = kind not in ("obj", "strmap")
        if want_list != isinstance(value, list) or (not want_list and not isinstance(value, dict)):
            raise _type_error(value, path, _GO_TYPES[kind])
    if kind == "strmap":
        for item in value.values():
            if not isinstance(item, str):
                raise _type_error(item, path, "string")
    elif kind in ("ints", "strs"):
        element: Kind = "int" if kind == "ints" else "str"
        for item in value:
            _check(item, element, path)
    elif kind == "images":
        for item in value:
            if not isinstance(item, str):
                raise _type_error(item, path, "api.ImageData")
            position = base64_error_position(item)
            if position is not None:
                raise BindError(f"illegal base64 data at input byte {position}")
    elif kind == "tools":
        for item in value:
            if not isinstance(item, dict):
                raise _type_error(item, path, "api.Tool")
    elif kind == "msgs":
        for item in value:
            if not isinstance(item, dict):
                raise _type_error(item, path, "api.Message")
            for name, sub in _MESSAGE.items():
                if item.get(name) is not None:
                    _check(item[name], sub, f"{path}.{name}")
            calls = item.get("tool_calls")
            if calls is not None:
                _check_tool_calls(calls, f"{path}.tool_calls")


def _check_tool_calls(calls: Any, path: str) -> None:
    if not isinstance(calls, list):
        raise _type_error(calls, path, "[]api.ToolCall")
    for call in calls:
        if not isinstance(call, dict):
            raise _type_error(call, path, "api.ToolCall")
        function = call.get("function")
        if function is None:
            continue
        if not isinstance(function, dict):
            raise _type_error(function, f"{path}.function", "api.ToolCallFunction")
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, Mapping):
            raise _type_error(
                arguments, f"{path}.function.arguments", "api.ToolCallFunctionArguments"
            )


_B64_CHARS: Final = re.compile(r"[A-Za-z0-9+/=\r\n]*")


def base64_error_position(text: str) -> int | None:
    """Where Go's ``base64.StdEncoding`` would report corrupt input, or ``None`` if valid."""
    try:
        base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
        return None
    except (binascii.Error, ValueError):
        pass
    valid_prefix = _B64_CHARS.match(text)
    end = valid_prefix.end() if valid_prefix else 0
    if end < len(text):
        return end
    padding = text.find("=")
    stripped_len = len(text.replace("\r", "").replace("\n", ""))
    if padding >= 0 and padding < stripped_len - 2:
        return padding
    return stripped_len - (stripped_len % 4 or 4)
