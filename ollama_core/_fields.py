"""Keyword calls: a request's fields given as keyword arguments.

``client.chat(model="llama3.2", messages=[...])`` sends what
``client.chat({"model": "llama3.2", "messages": [...]})`` sends. Keywords may also come
next to a request (a typed request or a dict): they are merged into its wire body and win
over the request's own values. A keyword given as ``None`` counts as not given. The body
then goes through the same normalisation, plugin hooks and validation as any other, so a
bad value is an :class:`InvalidRequestError` naming its field, and a keyword that is not
a field of the request is one naming that keyword.

The ``TypedDict`` classes below type the keywords (``**fields: Unpack[ChatFields]``), so
type checkers check them (a test runs ``mypy --strict`` on such calls). ``stream`` is typed
``Literal[False]`` on the methods that return the whole answer and ``Literal[True]`` on the
``*_stream`` ones: ``chat(..., stream=True)`` is refused (it would have to return a
stream), naming ``chat_stream``.

The ``TypedDict`` classes are written out because type checkers cannot see classes made at
run time; a test checks that their keys are the declared fields of each request, key for
key, so a field declared in :mod:`ollama_core._types` and missing here fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeAlias, TypedDict

from ._exceptions import InvalidRequestError
from ._types import (
    FormatLike,
    KeepAlive,
    MessageLike,
    OptionsLike,
    SystemOneContent,
    SystemOneQuestion,
    ThinkLevel,
    ToolLike,
)
from ._wire._decl import REQUESTS

__all__ = [
    "ChatFields",
    "ChatStreamFields",
    "CreateFields",
    "CreateStreamFields",
    "EmbedFields",
    "EmbeddingsFields",
    "GenerateFields",
    "GenerateStreamFields",
    "SystemOneFields",
    "check_not_streaming",
    "merge_fields",
    "model_name",
]

#: A tool: a definition (typed or a dict) or, with the ``tool_calling`` plugin, a function.
ToolOrFunction: TypeAlias = "ToolLike | Callable[..., Any]"


class _InferenceBase(TypedDict, total=False):
    """The keywords chat and generate share (the fields of their common declaration)."""

    model: str
    format: FormatLike | None
    options: OptionsLike | None
    keep_alive: KeepAlive | None
    think: bool | ThinkLevel | None
    truncate: bool | None
    shift: bool | None
    logprobs: bool | None
    top_logprobs: int | None
    debug_render_only: bool | None


class _ChatBase(_InferenceBase, total=False):
    messages: Sequence[MessageLike] | None
    tools: Sequence[ToolOrFunction] | None


class ChatFields(_ChatBase, total=False):
    """The keywords of ``chat()``: the fields of :class:`ChatRequest`."""

    stream: Literal[False] | None


class ChatStreamFields(_ChatBase, total=False):
    """The keywords of ``chat_stream()``."""

    stream: Literal[True] | None


class _GenerateBase(_InferenceBase, total=False):
    prompt: str | None
    suffix: str | None
    system: str | None
    template: str | None
    context: Sequence[int] | None
    raw: bool | None
    images: Sequence[Any] | None


class GenerateFields(_GenerateBase, total=False):
    """The keywords of ``generate()``: the fields of :class:`GenerateRequest`."""

    stream: Literal[False] | None


class GenerateStreamFields(_GenerateBase, total=False):
    """The keywords of ``generate_stream()``."""

    stream: Literal[True] | None


class EmbedFields(TypedDict, total=False):
    """The keywords of ``embed()``: the fields of :class:`EmbedRequest`."""

    model: str
    input: str | Sequence[str] | None
    truncate: bool | None
    dimensions: int | None
    keep_alive: KeepAlive | None
    options: OptionsLike | None


class EmbeddingsFields(TypedDict, total=False):
    """The keywords of ``embeddings()``: the fields of :class:`EmbeddingsRequest`."""

    model: str
    prompt: str | None
    keep_alive: KeepAlive | None
    options: OptionsLike | None


class _CreateBase(TypedDict, total=False):
    model: str
    from_: str | None
    files: Mapping[str, str] | None
    adapters: Mapping[str, str] | None
    template: str | None
    license: str | Sequence[str] | None
    system: str | None
    parameters: Mapping[str, Any] | OptionsLike | None
    messages: Sequence[MessageLike] | None
    quantize: str | None
    renderer: str | None
    parser: str | None
    draft_quantize: str | None
    remote_host: str | None
    draft_files: Mapping[str, str] | None
    requires: str | None
    info: Mapping[str, Any] | None


class CreateFields(_CreateBase, total=False):
    """The keywords of ``create_model()``: the fields of :class:`CreateRequest`
    (``from_`` is sent as ``"from"``)."""

    stream: Literal[False] | None


class CreateStreamFields(_CreateBase, total=False):
    """The keywords of ``create_model_stream()``."""

    stream: Literal[True] | None


class SystemOneFields(TypedDict, total=False):
    """The keywords of ``systemone()``: the fields of :class:`SystemOneRequest`."""

    model: str
    state: SystemOneContent
    questions: Mapping[str, SystemOneQuestion | Mapping[str, Any]]
    images: Sequence[str | bytes] | None
    keep_alive: KeepAlive | None


def _keys(td: Any) -> frozenset[str]:
    return frozenset(td.__required_keys__ | td.__optional_keys__)


#: The keywords each request kind takes (the stream variants take the same names).
_KNOWN: dict[str, frozenset[str]] = {
    "chat": _keys(ChatFields),
    "generate": _keys(GenerateFields),
    "embed": _keys(EmbedFields),
    "embeddings": _keys(EmbeddingsFields),
    "create": _keys(CreateFields),
    "systemone": _keys(SystemOneFields),
}
#: Keyword names that differ from the wire key (``from_`` -> ``from``,
#: ``debug_render_only`` -> ``_debug_render_only``), from the declarations.
_WIRE_KEY = {info.attr: info.key for kind in _KNOWN for info in REQUESTS[kind].__wire_fields__
             if info.attr != info.key}


def merge_fields(body: dict[str, Any], kind: str, method: str,
                 fields: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` (a request's wire dict, or empty) with the keyword ``fields`` set on it.

    Raises :class:`InvalidRequestError` for a keyword that is not a field of ``kind``."""
    known = _KNOWN[kind]
    for key, value in fields.items():
        if key not in known:
            raise InvalidRequestError(
                f"invalid request: {key}: {method}() has no such keyword (the fields of the "
                f"request are: {', '.join(sorted(known))})",
                field=key, errors={key: ["unknown keyword argument"]})
        if value is not None:
            body[_WIRE_KEY.get(key, key)] = value
    return body


def check_not_streaming(body: Mapping[str, Any], method: str) -> None:
    """Refuse a ``"stream"`` other than false/absent given to a method returning the whole
    answer: it cannot hand back a stream, and the ``*_stream`` method does."""
    stream = body.get("stream")
    if stream is None or stream is False:
        return
    raise InvalidRequestError(
        f"invalid request: stream: {method}() returns the whole answer and cannot stream "
        f"(got stream={stream!r}): call {method}_stream() instead",
        field="stream", errors={"stream": [f"use {method}_stream() to stream"]})


def model_name(name: str | None, model: str | None, method: str) -> str:
    """The model of a ``name``/``model=`` pair (``model=`` is ollama-python's spelling)."""
    if model is None:
        if name is None:
            raise InvalidRequestError(
                f"invalid request: model: {method}() needs a model name",
                field="model", errors={"model": ["Missing data for required field."]})
        return name
    if name is not None and name != model:
        raise InvalidRequestError(
            f"invalid request: model: {method}() was given two model names ({name!r} and "
            f"model={model!r})", field="model", errors={"model": ["given twice"]})
    return model
