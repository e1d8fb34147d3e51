"""The checks a declaration writes, made into marshmallow fields only when they are needed.

``wire(Str(validate=not_blank))`` names a strict field type of :mod:`._checks` and the
arguments to make it with; the marshmallow field itself is made when the declaration's
schema is built, on its first validation (``_decl._Derived``). Importing marshmallow (about
30 ms, mostly its URL and e-mail regular expressions) and making some 300 fields was a
tenth of the start-up of a command such as ``ollama-core list``, which validates nothing.

The names are those of :mod:`._checks`, with marshmallow's ``List``, ``Range`` and
``OneOf``, so that a declaration reads as the fields it stands for. Validators and rules
written next to the declarations raise :func:`invalid`, marshmallow's ``ValidationError``
(loaded by the time they run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from marshmallow import ValidationError

__all__ = [
    "Base64Image",
    "Bool",
    "Check",
    "Content",
    "Duration",
    "Float",
    "Format",
    "Int",
    "IntList",
    "List",
    "ModelName",
    "Object",
    "OneOf",
    "Range",
    "Role",
    "Str",
    "StrList",
    "StrMap",
    "StrOrNullMap",
    "StrOrStrList",
    "Think",
    "invalid",
    "not_blank",
]


class Check:
    """A field's check as declared: the name of a field type (or validator) in
    :mod:`._checks` and its arguments, some of which may be checks themselves."""

    __slots__ = ("name", "args", "kwargs")

    def __init__(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.name = name
        self.args = args
        self.kwargs = kwargs

    def __repr__(self) -> str:
        return f"{self.name}(...)"

    def make(self) -> Any:
        """A new marshmallow field (or validator) as declared."""
        from . import _checks

        return getattr(_checks, self.name)(*map(_made, self.args),
                                           **{k: _made(v) for k, v in self.kwargs.items()})


def _made(value: Any) -> Any:
    if isinstance(value, Check):
        return value.make()
    if type(value) in (list, tuple):  # validate=[...]: a list of validators
        return type(value)(_made(v) for v in value)
    return value


def _named(name: str) -> Callable[..., Check]:
    def check(*args: Any, **kwargs: Any) -> Check:
        return Check(name, args, kwargs)

    check.__name__ = check.__qualname__ = name
    check.__doc__ = f"``_checks.{name}(*args, **kwargs)``, made on first validation."
    return check


Str = _named("Str")
ModelName = _named("ModelName")
Bool = _named("Bool")
Float = _named("Float")
Int = _named("Int")
Object = _named("Object")
StrMap = _named("StrMap")
StrOrNullMap = _named("StrOrNullMap")
StrList = _named("StrList")
StrOrStrList = _named("StrOrStrList")
Content = _named("Content")
IntList = _named("IntList")
Base64Image = _named("Base64Image")
Duration = _named("Duration")
Think = _named("Think")
Format = _named("Format")
Role = _named("Role")
# marshmallow's own
List = _named("List")
Range = _named("Range")
OneOf = _named("OneOf")


def invalid(message: Any, field_name: str = "_schema") -> ValidationError:
    """marshmallow's ``ValidationError(message, field_name)``, to raise from a validator or
    a rule: they run only during validation, when marshmallow is loaded."""
    from marshmallow import ValidationError

    return ValidationError(message, field_name)


def not_blank(value: str) -> None:
    """Validator: the string has a non-space character (the server's "model is required")."""
    if not value.strip():
        raise invalid("Must not be empty.")
