"""Embedding rows as arrays of doubles: the body of ``embed(..., arrays=True)``.

With a list of Python floats per row, no parser can be much more than three times faster
than ``json.loads`` on an embed answer: building the lists alone (one 24-byte float object
per value) costs about a third of what ``json.loads`` takes. An ``array('d')`` per row
holds the same doubles in 8 bytes each, and numpy takes one without a copy
(``numpy.frombuffer(row)``). With pysimdjson installed (the ``fast`` extra, part of
``full``) the rows go from the body straight to doubles, without a Python float in
between.

The answer is always the list path's (``_shapes.decode_body``, the codec of ``_json``)
with each row converted by ``array("d", row)``; the fast path is used only where it is
sure to give exactly that, and defers otherwise:

- simdjson refuses anything the JSON grammar refuses (``NaN``, trailing data, invalid
  UTF-8, unescaped control characters, lone surrogate escapes) and numbers it cannot
  represent (``1e400``, integers beyond 64 bits); ``json.loads`` accepts some of those,
  so they all go to the list path, which accepts them as before or raises its error.
- Its numbers are correctly rounded, as Python's are (``int`` to ``float`` too, and
  ``-0`` is the integer 0 for both), so a row's doubles are ``float(v)`` of each value
  ``json.loads`` gives.
- ``as_buffer`` flattens nested arrays (``[[1.5, [1]]]`` gives ``[1.5, 1.0]``). A body
  whose ``[`` are exactly the outer array's and one per row has none, nor any ``[`` in a
  string or another field; any other body is deferred.
- Of duplicate keys simdjson may see another one than ``json.loads`` (which keeps the
  last): a top-level object with a repeated key is deferred. The other fields are decoded
  by the codec, from the body with the rows cut out, so they are the list path's values.

Anything a row cannot hold (a string, ``true``, ``null``, an object or array in a row, a
number beyond the range of a double, rows that are not arrays) is a
:class:`~ollama_core.DecodeError` naming the place (``embeddings[2][7]``), where the list
path hands the value on as it is: ``arrays=True`` is never more lenient, only stricter
where an array of doubles cannot say what the body says.

Without pysimdjson, or with ``OLLAMA_CORE_PURE_JSON`` set (``_json.PURE_ENV``), every body
takes the list path and is converted: the same arrays, at the list path's speed.

A ``simdjson.Parser`` cannot parse while proxies of its last document are alive, and
keeps its buffers: each thread reuses one for bodies up to :data:`REUSE_LIMIT` (it then
holds about twice the largest such body) and drops every proxy before returning; a
larger body gets a parser of its own, freed with it.
"""

from __future__ import annotations

import reprlib
import threading
from array import array
from typing import Any, Final

from ._exceptions import DecodeError, excerpt_of
from ._json import loads as _loads
from ._json import pure
from ._shapes import decode_body, json_type

__all__ = ["ARRAYS", "REUSE_LIMIT", "decode_arrays", "fast_parser", "rows_as_arrays"]

#: ``Request.decode`` of an embed call whose rows are arrays (``embed(..., arrays=True)``).
ARRAYS: Final = "arrays"

#: Bodies up to this size reuse their thread's parser (its buffers stay allocated).
REUSE_LIMIT: Final = 16 * 1024 * 1024

_FIELD: Final = "embeddings"
_UNSET: Final[Any] = object()
#: The simdjson module, ``None`` when it is not used; loaded on the first arrays call.
_simdjson: Any = _UNSET
_local = threading.local()


def _load() -> Any:
    if pure():
        return None
    try:
        import simdjson
    except ImportError:
        return None
    return simdjson


def fast_parser() -> str | None:
    """``"pysimdjson"`` when the rows are parsed straight to doubles, else ``None``."""
    global _simdjson
    if _simdjson is _UNSET:
        _simdjson = _load()
    return None if _simdjson is None else "pysimdjson"


def _rows(simdjson: Any, raw: bytes) -> list[array[float]] | None:
    """The rows of ``raw``'s ``embeddings`` as arrays, or ``None`` to defer."""
    reuse = len(raw) <= REUSE_LIMIT
    parser = getattr(_local, "parser", None) if reuse else None
    if parser is None:
        parser = simdjson.Parser()
        if reuse:
            _local.parser = parser
    doc = vectors = row = None
    try:
        doc = parser.parse(raw)
        if not isinstance(doc, simdjson.Object):
            return None
        keys = list(doc.keys())
        if len(set(keys)) != len(keys):
            return None
        vectors = doc.get(_FIELD)
        if not isinstance(vectors, simdjson.Array):
            return None
        rows = []
        for row in vectors:
            if not isinstance(row, simdjson.Array):
                return None
            values = array("d")
            values.frombytes(row.as_buffer(of_type="d"))
            rows.append(values)
        return rows
    except Exception:  # refused (or unsure): the list path decides
        if reuse:
            _local.parser = None  # never reuse a parser that failed
        return None
    finally:
        # Proxies of the document hold the parser: none may outlive this call.
        doc = vectors = row = None


def _fast(simdjson: Any, raw: bytes) -> dict[str, Any] | None:
    rows = _rows(simdjson, raw)
    if rows is None:
        return None
    # The rows' '[' are the first one (the outer array) and one per row: with no other
    # '[' in the body, no row holds an array (as_buffer would have flattened it).
    find = raw.find
    start = at = find(b"[")
    for _ in rows:
        at = find(b"[", at + 1)
    if find(b"[", at + 1) >= 0:
        return None
    end = find(b"]", at)  # the last row's end (the outer array's when there are none)
    if rows:
        end = find(b"]", end + 1)
    try:
        rest = _loads(raw[:start] + b"[]" + raw[end + 1:])
    except Exception:  # the list path decides (and says why)
        return None
    if type(rest) is not dict or rest.get(_FIELD) != []:
        return None
    rest[_FIELD] = rows
    return rest


def decode_arrays(endpoint: str, raw: bytes, where: object = None) -> Any:
    """The checked JSON of an embed answer with its ``embeddings`` rows as
    ``array('d')``: ``decode_body``'s value and errors, then :func:`rows_as_arrays`.

    >>> decode_arrays("embed", b'{"model": "m", "embeddings": [[0.5, -0], [1e-3, 2]]}')
    {'model': 'm', 'embeddings': [array('d', [0.5, 0.0]), array('d', [0.001, 2.0])]}

    Raises:
        DecodeError: as ``decode_body``, or a row that cannot be an array of doubles.
    """
    if _simdjson is _UNSET:
        fast_parser()
    if _simdjson is not None:
        value = _fast(_simdjson, raw)
        if value is not None:
            return value
    return rows_as_arrays(endpoint, decode_body(endpoint, raw, where), raw, where)


_NUMBERS: Final = frozenset({float, int})


def _is_double(value: float) -> bool:
    try:
        float(value)
    except OverflowError:
        return False
    return True


def rows_as_arrays(endpoint: str, body: Any, raw: bytes | None = None,
                   where: object = None) -> Any:
    """``body`` with each row of its ``embeddings`` as an ``array('d')`` (in place; rows
    that are arrays already stay): the values ``float(v)`` of each number.

    A body that is not an object, or has no ``embeddings``, is returned as it is.

    >>> rows_as_arrays("embed", {"embeddings": [[1, 2.5]]})
    {'embeddings': [array('d', [1.0, 2.5])]}
    >>> rows_as_arrays("embed", {"embeddings": [[1, "x"]]})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ollama_core._exceptions.DecodeError: embed: the answer's embeddings[0][1] is a string, ...

    Raises:
        DecodeError: naming the first value a row of doubles cannot hold.
    """
    if not isinstance(body, dict) or _FIELD not in body:
        return body
    vectors = body[_FIELD]

    def refuse(place: str, what: str) -> DecodeError:
        source = f" from {where}" if where is not None else ""
        excerpt = excerpt_of(raw) if raw is not None else reprlib.repr(body)
        return DecodeError(f"{endpoint}: the answer{source}'s {place} is {what}: {excerpt!r}",
                           endpoint=endpoint, excerpt=excerpt)

    if not isinstance(vectors, list):
        raise refuse(_FIELD, f"{json_type(vectors)}, expected an array of arrays of numbers")
    rows: list[array[float]] = []
    for i, row in enumerate(vectors):
        if type(row) is array and row.typecode == "d":
            rows.append(row)
            continue
        if not isinstance(row, list):
            raise refuse(f"{_FIELD}[{i}]", f"{json_type(row)}, expected an array of numbers")
        if not set(map(type, row)) <= _NUMBERS:  # bool is not a number here
            j, value = next((j, v) for j, v in enumerate(row) if type(v) not in _NUMBERS)
            raise refuse(f"{_FIELD}[{i}][{j}]", f"{json_type(value)}, expected a number")
        try:
            rows.append(array("d", row))
        except OverflowError:  # an integer beyond the range of a double
            j = next(j for j, v in enumerate(row) if not _is_double(v))
            raise refuse(f"{_FIELD}[{i}][{j}]",
                         "a number beyond the range of a double") from None
    body[_FIELD] = rows
    return body
