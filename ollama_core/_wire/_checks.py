"""Strict marshmallow field types for JSON read by Go.

Declarations name them through :mod:`._spec` (the field is made on first validation).

marshmallow's stock fields coerce (``"5"`` passes as an integer, ``"yes"`` as a boolean,
bytes as a string); the wire is JSON read by Go, which rejects all of those, so the fields
here accept only the JSON type itself. Big arrays (``context``, embed ``input``, images)
are checked by shape in plain loops, not per element through marshmallow.

Only marshmallow's public API is used: subclasses override ``_deserialize`` (the documented
extension point) and raise ``make_error``/``ValidationError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError, fields, validate

from ._spec import not_blank  # ModelName's validator, written with the declarations

# marshmallow's own, under the names the declarations use (see ._spec)
List = fields.List
Range = validate.Range
OneOf = validate.OneOf

THINK_LEVELS = ("low", "medium", "high", "max")

# Go's time.ParseDuration grammar: signed sequence of decimal numbers with units; a bare
# "0" is the only unit-less value it accepts. Both micro signs are accepted, as Go does.
_GO_DURATION = re.compile(
    r"[-+]?(?:(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+|0)"
)


def is_number(value: Any) -> bool:
    """A JSON number: an int or float that is not a bool."""
    return isinstance(value, (int, float)) and value is not True and value is not False


class Str(fields.String):
    """A JSON string; unlike ``fields.String`` it does not take bytes."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


def ModelName(**kwargs: Any) -> Str:  # noqa: N802 - reads like the field types around it
    """A model name: a string with a non-space character."""
    return Str(validate=not_blank, **kwargs)


class Bool(fields.Boolean):
    """A JSON boolean; unlike ``fields.Boolean`` it does not take ``"yes"``, ``1``, ..."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


class Float(fields.Float):
    """A finite JSON number (integers too); unlike ``fields.Float`` it does not take
    numeric strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> float:
        if not is_number(value):
            raise self.make_error("invalid", input=value)
        try:
            number = float(value)
        except OverflowError:  # an integer past the float range
            raise self.make_error("too_large", input=value) from None
        if not math.isfinite(number):
            raise self.make_error("special")
        return number


def Int(**kwargs: Any) -> fields.Integer:  # noqa: N802 - reads like the field types
    """A JSON integer (no strings, no floats, no booleans)."""
    return fields.Integer(strict=True, **kwargs)


class Object(fields.Dict):
    """A JSON object, passed through without looking inside."""

    default_error_messages = {"invalid": "Must be a JSON object (a dict)."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        return dict(value)


class StrMap(fields.Dict):
    """A JSON object of string to string (``files``, ``adapters``)."""

    default_error_messages = {"invalid": "Must be a JSON object of strings to strings."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        bad = {k: ["Not a valid string."] for k, v in value.items() if not isinstance(v, str)}
        if bad or not all(isinstance(k, str) for k in value):
            raise ValidationError(bad or ["Keys must be strings."])
        return dict(value)


class StrOrNullMap(fields.Dict):
    """A JSON object of string to string or null (System One ``choice`` criteria)."""

    default_error_messages = {"invalid": "Must be a JSON object of strings to strings or null."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        bad = {k: ["Not a valid string or null."] for k, v in value.items()
               if v is not None and not isinstance(v, str)}
        if bad or not all(isinstance(k, str) for k in value):
            raise ValidationError(bad or ["Keys must be strings."])
        return dict(value)


class StrList(fields.Field[Any]):
    """A list of strings, checked in one plain loop."""

    default_error_messages = {"invalid": "Must be a list of strings."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise self.make_error("invalid")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ValidationError({i: ["Not a valid string."]})
        return value


class StrOrStrList(fields.Field[Any]):
    """A string or a list of strings (embed ``input``, create ``license``)."""

    default_error_messages = {"invalid": "Must be a string or a list of strings."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        if not isinstance(value, (list, tuple)):
            raise self.make_error("invalid")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ValidationError({i: ["Not a valid string."]})
        return value


class Content(fields.Field[Any]):
    """Text, or a JSON object or array (System One ``state`` and ``instructions``)."""

    default_error_messages = {"invalid": "Must be a string, a JSON object or a JSON array."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if isinstance(value, (str, Mapping, list, tuple)):
            return value
        raise self.make_error("invalid")


class IntList(fields.Field[Any]):
    """A list of integers, checked in one plain loop (``context`` can be thousands long)."""

    default_error_messages = {"invalid": "Must be a list of integers."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise self.make_error("invalid")
        for i, item in enumerate(value):
            if not isinstance(item, int) or item is True or item is False:
                raise ValidationError({i: ["Not a valid integer."]})
        return value


class Base64Image(fields.Field[str]):
    """One image as plain base64 text (standard alphabet, padded; line breaks allowed, as
    Go's decoder skips them)."""

    default_error_messages = {
        "type": "Must be a base64 string.",
        "empty": "Must not be empty.",
        "data_url": ("Must be plain base64, not a data URL: remove the {prefix!r} prefix "
                     "and pass only the base64 text."),
        "invalid": "Not valid base64 text.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("type")
        if not value:
            raise self.make_error("empty")
        if value.startswith("data:"):
            comma = value.find(",", 0, 200)
            prefix = value[: comma + 1] if comma >= 0 else "data:...;base64,"
            raise self.make_error("data_url", prefix=prefix)
        if not is_base64(value):
            raise self.make_error("invalid")
        return value


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def is_base64(text: str) -> bool:
    """Is ``text`` padded standard base64, as Go's ``encoding/base64`` decodes it?

    Checked by shape instead of by decoding: ``bytes.translate`` deleting the alphabet is
    about 2.5x faster than ``binascii.a2b_base64`` on a multi-megabyte image and
    allocates nothing the size of the image.

    >>> is_base64("aGk="), is_base64("aGk"), is_base64("a-k="), is_base64("aG\\nk=")
    (True, False, False, True)
    """
    if "\n" in text or "\r" in text:  # Go's decoder skips line breaks
        text = text.replace("\r", "").replace("\n", "")
    if not text.isascii() or len(text) % 4:
        return False
    body = text.rstrip("=")
    if len(text) - len(body) > 2:
        return False
    return not body.encode("ascii").translate(None, _B64_ALPHABET)


class Duration(fields.Field[Any]):
    """Seconds as a JSON number, or a Go duration string (``"5m"``, ``"-1h"``, ``"1h30m"``)."""

    default_error_messages = {
        "invalid": ('Must be a number of seconds or a duration string such as "5m", '
                    '"1h30m" or "-1s".'),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if is_number(value):
            if isinstance(value, float) and not math.isfinite(value):
                raise self.make_error("invalid")
            return value
        if isinstance(value, str) and _GO_DURATION.fullmatch(value):
            return value
        raise self.make_error("invalid")


class Think(fields.Field[Any]):
    """``true``, ``false`` or a thinking level (Go ``ThinkValue.UnmarshalJSON``)."""

    default_error_messages = {
        "invalid": 'Must be true, false, "low", "medium", "high" or "max".',
    }

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if value is True or value is False or (isinstance(value, str) and value in THINK_LEVELS):
            return value
        raise self.make_error("invalid")


class Format(fields.Field[Any]):
    """``"json"``, ``""`` (no format) or a JSON-Schema object."""

    default_error_messages = {"invalid": 'Must be "json", "" or a JSON-schema object (a dict).'}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if value == "" or value == "json" or isinstance(value, Mapping):
            return value
        raise self.make_error("invalid")


class Role(fields.Field[Any]):
    """A message role: any JSON string. The server lowercases it
    (``api.Message.UnmarshalJSON``) and checks nothing more (renderers take ``developer``,
    templates see whatever is sent), so refusing an unknown role here would be stricter than
    the server."""

    default_error_messages = {"invalid": "Must be a string (system, user, assistant, tool, ...)."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if isinstance(value, str):
            return value
        raise self.make_error("invalid")
