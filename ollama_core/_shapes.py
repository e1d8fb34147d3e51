"""What each endpoint answers on success, and the one decoding of a plain body against it.

A server, a proxy in front of it or anything else listening on the port can answer 200
with a body that is not what the endpoint answers: an HTML page, ``[]``, ``null``, JSON
nested a hundred thousand levels deep. ``decode_body`` turns every such answer into a
:class:`~ollama_core.DecodeError` naming the endpoint, with an excerpt, so no caller, typed
``from_dict`` or plugin ever meets a ``RecursionError``, ``AttributeError`` or ``KeyError``
instead. Stream lines get the same treatment from the NDJSON decoder (every line must be a
JSON object).

``SHAPES`` is the one table of expected answers, by endpoint name (``Request.endpoint``):

- ``OBJECT``: a JSON object (chat, generate, embed, tags, show, ...);
- a ``Shape`` with ``required`` fields: a JSON object holding each of them with a value of
  the given type (``/api/version`` must say its ``version``);
- ``EMPTY``: the success answer has no body (copy and delete answer an empty 200); a JSON
  value, if one is sent, is accepted and ignored, anything else is not JSON and refused;
- ``NULL_OR_OBJECT``: ``null``, no body, or a JSON object (signout answers ``null``).

An endpoint the table does not know (a hand-built ``Request`` sent with ``client.send``)
may answer any JSON value, or nothing (``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from ._exceptions import DecodeError, excerpt_of
from ._json import loads as _loads

__all__ = ["ANY", "EMPTY", "NULL_OR_OBJECT", "OBJECT", "SHAPES", "Shape", "decode_body",
           "json_type"]


class Shape(NamedTuple):
    """One endpoint's success answer: ``kind`` (``"any"``, ``"object"``, ``"empty"``,
    ``"null_or_object"``) and, for objects, the fields it must hold with their types."""

    kind: str
    required: tuple[tuple[str, type], ...] = ()


ANY: Final = Shape("any")
OBJECT: Final = Shape("object")
EMPTY: Final = Shape("empty")
NULL_OR_OBJECT: Final = Shape("null_or_object")

SHAPES: Final[Mapping[str, Shape]] = {
    "chat": OBJECT,
    "generate": OBJECT,
    "embed": OBJECT,
    "embeddings": OBJECT,
    "tags": OBJECT,
    "ps": OBJECT,
    "show": OBJECT,
    "pull": OBJECT,
    "push": OBJECT,
    "create": OBJECT,
    "version": Shape("object", (("version", str),)),
    "copy": EMPTY,
    "delete": EMPTY,
    "signout": NULL_OR_OBJECT,
}

_WHAT = {
    "object": "a JSON object",
    "null_or_object": "null or a JSON object",
}


def json_type(value: Any) -> str:
    """What a decoded JSON value is, in words (``"a string"``, ``"null"``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def decode_body(endpoint: str, raw: bytes, where: object = None) -> Any:
    """The JSON value of a 2xx plain body of ``endpoint``, checked against ``SHAPES``.

    An empty (or all-whitespace) body decodes to ``None``.

    >>> decode_body("chat", b'{"done": true}')
    {'done': True}
    >>> decode_body("copy", b"") is None
    True
    >>> decode_body("tags", b"[]")
    Traceback (most recent call last):
    ...
    ollama_core._exceptions.DecodeError: tags: the answer is an array, expected a JSON object: '[]'

    Raises:
        DecodeError: the body is not JSON, is nested deeper than the parser allows, or is
            not the shape the endpoint answers.
    """
    shape = SHAPES.get(endpoint, ANY)
    source = f" from {where}" if where is not None else ""
    value: Any = None
    if raw.strip():
        try:
            value = _loads(raw)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            excerpt = excerpt_of(raw)
            why = "is nested too deeply" if isinstance(exc, RecursionError) \
                else f"is not valid JSON ({exc})"
            raise DecodeError(f"{endpoint}: the answer{source} {why}: {excerpt!r}",
                              endpoint=endpoint, excerpt=excerpt) from exc
    elif shape.kind in ("any", "empty", "null_or_object"):
        return None
    kind = shape.kind
    if kind == "any" or kind == "empty" or (kind == "null_or_object" and value is None):
        return value
    if not isinstance(value, dict):
        excerpt = excerpt_of(raw)
        found = "empty" if not raw.strip() else json_type(value)
        raise DecodeError(f"{endpoint}: the answer{source} is {found}, expected "
                          f"{_WHAT[kind]}: {excerpt!r}", endpoint=endpoint, excerpt=excerpt)
    for key, typ in shape.required:
        if not isinstance(value.get(key), typ):
            excerpt = excerpt_of(raw)
            raise DecodeError(
                f"{endpoint}: the answer{source} has no {typ.__name__} {key!r}: {excerpt!r}",
                endpoint=endpoint, excerpt=excerpt)
    return value
