"""The last check on a request body before it is encoded: is all of it JSON?

The schemas check the fields they know; this checks *everything* in the body as it will be
sent (after the client and its plugins have normalised it), in one walk:

* only ``dict`` (string keys), ``list``/``tuple``, ``str``, ``int``, ``float``, ``bool``
  and ``None`` are JSON. A set, bytes, a ``Path`` or any other object is refused, instead
  of failing inside the encoder after plugins have already counted the call;
* ``NaN`` and infinities are refused anywhere (a ``format`` schema's ``minimum``, an unknown
  option): Python's encoder writes them as ``NaN``/``Infinity``, which is not JSON and
  which Go's decoder rejects, and faster encoders silently write ``null``;
* text with a lone surrogate (``"\\ud800"``, from a broken decode) is refused. The server
  would replace it silently; refusing it is deliberately stricter than the server, since
  the text the model gets would not be the text the caller sent;
* nesting deeper than :data:`MAX_DEPTH` is refused (the encoder itself would fail with
  ``RecursionError`` a little deeper).

Every refusal is an :class:`InvalidRequestError` whose ``field`` is the dotted path of the
bad value (``messages.0.content``, ``format.properties.x.minimum``). The walk is plain
recursion with the path built only on the way out of an error, so a valid body costs one
type check per value and nothing else.
"""

from __future__ import annotations

from typing import Any

from ._exceptions import InvalidRequestError

__all__ = ["MAX_DEPTH", "check_json"]

#: Deepest nesting accepted, counted in objects and arrays.
MAX_DEPTH = 256


class _Bad(Exception):
    """A bad value found during the walk; ``path`` is filled in, innermost first, as the
    exception travels back out through the containers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []


def check_json(body: Any) -> None:
    """Raise :class:`InvalidRequestError` unless ``body`` is made only of JSON values.

    >>> check_json({"model": "m", "options": {"temperature": 0.2}})
    >>> check_json({"model": "m", "options": {"temperature": float("nan")}})
    Traceback (most recent call last):
    ...
    ollama_core._exceptions.InvalidRequestError: invalid request: options.temperature: \
NaN is not a JSON number (use a finite number)
    """
    try:
        _value(body, 0)
    except _Bad as bad:
        path = ".".join(_shown_key(key) for key in reversed(bad.path))
        shown = path if len(path) <= 120 else f"{path[:60]}...{path[-40:]}"
        where = f"{shown}: " if path else ""
        raise InvalidRequestError(f"invalid request: {where}{bad.reason}", field=path or None,
                                  errors={path or "_schema": [bad.reason]}) from None


def _value(value: Any, depth: int) -> None:
    """Check one value of any kind (the containers below inline the common leaves)."""
    kind = type(value)
    if kind is dict:
        _object(value, depth + 1)
    elif kind is list or kind is tuple:
        _array(value, depth + 1)
    elif kind is str:
        if not value.isascii():
            _text(value)
    elif kind is float:
        if value - value != 0.0:
            raise _Bad(_not_finite(value))
    elif value is None or kind is int or kind is bool:
        pass
    else:
        _other(value, depth)


def _object(value: dict[Any, Any], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Bad(f"nested deeper than {MAX_DEPTH} levels")
    for key, item in value.items():
        try:
            if type(key) is not str:
                if not isinstance(key, str):
                    raise _Bad(f"object keys must be strings, got the "
                               f"{type(key).__name__} {_short(key)}")
                _text(key)
            elif not key.isascii():
                _text(key)
            kind = type(item)
            # The leaves of a typical body, inline: a call per value would double the cost.
            if kind is str:
                if not item.isascii():
                    _text(item)
            elif kind is int or kind is bool or item is None:
                pass
            elif kind is float:
                if item - item != 0.0:
                    raise _Bad(_not_finite(item))
            elif kind is dict:
                _object(item, depth + 1)
            elif kind is list:
                _array(item, depth + 1)
            else:
                _value(item, depth)
        except _Bad as bad:
            bad.path.append(str(key))
            raise


_NUMBERS = frozenset({int, float, bool, type(None)})


def _array(value: list[Any] | tuple[Any, ...], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _Bad(f"nested deeper than {MAX_DEPTH} levels")
    if len(value) > 16 and _flat_array_ok(value):
        return
    index = 0
    try:
        for index, item in enumerate(value):  # noqa: B007 - index names the bad item
            kind = type(item)
            if kind is str:
                if not item.isascii():
                    _text(item)
            elif kind is int or kind is bool or item is None:
                pass
            elif kind is float:
                if item - item != 0.0:
                    raise _Bad(_not_finite(item))
            elif kind is dict:
                _object(item, depth + 1)
            elif kind is list:
                _array(item, depth + 1)
            else:
                _value(item, depth)
    except _Bad as bad:
        bad.path.append(str(index))
        raise


def _flat_array_ok(value: list[Any] | tuple[Any, ...]) -> bool:
    """A C-speed pass for long flat arrays (a ``context`` of token ids, an embed batch):
    True if every item is certainly fine; False means "walk it item by item", which also
    finds the bad one."""
    kinds = set(map(type, value))
    if kinds <= _NUMBERS:
        if float not in kinds:
            return True
        if type(None) in kinds:
            return False
        # A sum is finite only if every addend is (NaN and infinities propagate); an
        # overflow of finite values is a false alarm that the item walk clears.
        total = sum(value)
        return bool(total - total == 0.0)
    if kinds == {str}:
        return all(map(str.isascii, value))
    return False


def _text(value: str) -> None:
    """Refuse a lone surrogate (only non-ASCII text gets here, and only on that path is
    the string encoded)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad(f"text contains a lone surrogate (U+{ord(value[exc.start]):04X}) at "
                   f"position {exc.start}, which UTF-8 cannot carry (text decoded with "
                   f"errors='surrogateescape' has them)") from None


def _shown_key(key: str) -> str:
    """A key for the error's path, printable even when the key is the bad text itself."""
    if key.isprintable():
        return key
    return repr(key)[1:-1]  # escapes line breaks, control characters and surrogates


def _not_finite(value: float) -> str:
    name = "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    return f"{name} is not a JSON number (use a finite number)"


def _other(value: Any, depth: int) -> None:
    """Subclasses of the JSON types (a ``str`` enum, an ``IntEnum``, an ``OrderedDict``)
    are encoded as their base type; anything else is not JSON."""
    if isinstance(value, str):
        _text(value)
    elif isinstance(value, bool) or isinstance(value, int):
        pass
    elif isinstance(value, float):
        if value - value != 0.0:
            raise _Bad(_not_finite(value))
    elif isinstance(value, dict):
        _object(value, depth + 1)
    elif isinstance(value, (list, tuple)):
        _array(value, depth + 1)
    else:
        raise _Bad(_not_json(value))


def _not_json(value: Any) -> str:
    kind = type(value).__name__
    if isinstance(value, (bytes, bytearray, memoryview)):
        return (f"{kind} is not JSON (decode text to str; images must be base64 text, "
                f"which the vision_support plugin produces from bytes)")
    if isinstance(value, (set, frozenset)):
        return f"a {kind} is not JSON (use a list)"
    article = "an" if kind[:1] in "aeiouAEIOU" else "a"
    return f"{article} {kind} value is not JSON (use a dict, list, str, number, bool or None)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
