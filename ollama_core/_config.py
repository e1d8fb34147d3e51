"""Plugin configuration, declared once: a frozen dataclass read by one shared parser.

A plugin declares its settings as a frozen dataclass subclassing :class:`PluginConfig`;
the annotations say the types, :func:`setting` adds bounds, a check and the README wording
of the default, and the declared defaults are the only defaults::

    @dataclass(frozen=True, slots=True)
    class RetryConfig(PluginConfig):
        max_attempts: int = setting(3, minimum=1)
        jitter: Literal["full", "equal", "none"] = "full"
        max_elapsed: float | None = setting(None, above=0, unit="s")

:func:`parse_config` turns the plugin's section of ``plugin_config`` into an instance. It
rejects unknown keys and bad values with one error format naming the plugin and the key,
:class:`PluginConfigError`::

    plugin 'retry': max_attempts: must be at least 1, got 0
    plugin 'retry': unknown key 'max_attemps' (known: base_delay, jitter, ...)

Types understood: ``int`` (not ``bool``), ``float`` (an ``int`` is accepted; ``bool``,
NaN and infinities are not), ``bool``, ``str``, ``Literal[...]``, ``X | None``,
``tuple[T, ...]`` and ``frozenset[T]`` (from a list), ``dict[str, T]`` and
``Mapping[str, T]``, a nested ``PluginConfig`` (dotted key paths in errors) and ``Any``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, TypeVar, Union

from ._exceptions import PluginConfigError

__all__ = [
    "ConfigValueError",
    "NoConfig",
    "PluginConfig",
    "PluginConfigError",
    "SettingInfo",
    "describe_settings",
    "parse_config",
    "setting",
]

C = TypeVar("C", bound="PluginConfig")
T = TypeVar("T")

_MUTABLE = (list, dict, set)


class ConfigValueError(ValueError):
    """Raised by :meth:`PluginConfig.validate` (or a ``check``) to reject a value of
    ``key``; the parser turns it into :class:`PluginConfigError` naming the plugin."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


class _Unknown(ValueError):
    """Internal: an unknown key (the message format differs)."""

    def __init__(self, key: str, known: list[str]) -> None:
        super().__init__(key)
        self.key = key
        self.known = known


def setting(default: Any = dataclasses.MISSING, *, minimum: float | None = None,
            above: float | None = None, maximum: float | None = None,
            check: Callable[[Any], Any] | None = None, unit: str | None = None,
            doc: str = "", default_text: str | None = None,
            default_factory: Callable[[], Any] | None = None) -> Any:
    """A declared setting with its default and constraints (a ``dataclasses.field``).

    :param default: the default (a list, dict or set is copied for every instance).
    :param minimum: the smallest accepted number (``>=``).
    :param above: a strict lower bound (``>``).
    :param maximum: the largest accepted number (``<=``).
    :param check: ``check(value) -> value``, run after the type and bounds checks (never
        with ``None``); raise ``ValueError("message")`` to reject; may return a
        converted value.
    :param unit: the unit of the value (``"s"``), for the README's defaults.
    :param doc: one line describing the setting.
    :param default_text: how the README shows the default when it is not the value itself
        (``"rate rounded up"`` for a ``None`` meaning "derived").
    """
    metadata = {"minimum": minimum, "above": above, "maximum": maximum, "check": check,
                "unit": unit, "doc": doc, "default_text": default_text}
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if isinstance(default, _MUTABLE):
        template = default
        return dataclasses.field(default_factory=lambda: _copy(template), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, set):
        return set(value)
    return value


class PluginConfig:
    """Base of every plugin's settings declaration (subclass it as a frozen dataclass).

    Override :meth:`validate` for checks across fields."""

    __slots__ = ()

    #: Filled in per class on first use: field name -> resolved type.
    _hints_cache: ClassVar[dict[type, dict[str, Any]]] = {}

    def validate(self) -> None:
        """Checks across fields, after each field was parsed on its own. Raise
        :class:`ConfigValueError` naming the key to reject the configuration."""

    @classmethod
    def parse(cls: type[C], raw: Mapping[str, Any] | None, *, plugin: str) -> C:
        """:func:`parse_config` for this declaration."""
        return parse_config(cls, raw, plugin=plugin)

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-shaped data (tuples and frozensets become lists; a
        frozenset is sorted), every key present."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            out[f.name] = _jsonable(getattr(self, f.name))
        return out

    def replace(self: C, **changes: Any) -> C:
        """A copy with ``changes`` applied (not re-validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


@dataclasses.dataclass(frozen=True, slots=True)
class NoConfig(PluginConfig):
    """The declaration of a plugin without settings: every key is unknown."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, PluginConfig):
        return value.to_dict()
    if isinstance(value, frozenset):
        try:
            return sorted(value)
        except TypeError:
            return list(value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _hints(cls: type) -> dict[str, Any]:
    cached = PluginConfig._hints_cache.get(cls)
    if cached is None:
        cached = typing.get_type_hints(cls)
        PluginConfig._hints_cache[cls] = cached
    return cached


def parse_config(cls: type[C], raw: Mapping[str, Any] | None, *, plugin: str,
                 prefix: str = "", defaults: Mapping[str, Any] | None = None) -> C:
    """Validate ``raw`` against the declaration ``cls`` and fill in its defaults.

    :param plugin: the plugin's name, for the error message.
    :param prefix: prepended to key names in errors (``"endpoints.chat."`` for a nested
        section parsed by hand).
    :param defaults: values used instead of the declared defaults for keys ``raw`` does not
        set (a nested section inheriting top-level values); they are validated too.
    :raises PluginConfigError: an unknown key or a bad value, named with its dotted path.
    """
    try:
        return _parse(cls, raw, prefix, defaults)
    except _Unknown as exc:
        raise PluginConfigError(
            plugin, exc.key, f"unknown key {exc.key!r} (known: {', '.join(exc.known)})",
            name_key=False) from None
    except ConfigValueError as exc:
        raise PluginConfigError(plugin, exc.key or None, exc.problem) from None


def _parse(cls: type[C], raw: Any, prefix: str,
           defaults: Mapping[str, Any] | None = None) -> C:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        key = prefix[:-1] if prefix else None
        problem = f"must be a mapping, got {_kind(raw)}"
        if key is None:
            raise ConfigValueError("", f"configuration {problem}")
        raise ConfigValueError(key, problem)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in raw:
        if key not in fields:
            raise _Unknown(f"{prefix}{key}", sorted(fields))
    hints = _hints(cls)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name in raw:
            values[name] = _field(f, hints[name], raw[name], f"{prefix}{name}")
        elif defaults is not None and name in defaults:
            values[name] = _field(f, hints[name], defaults[name], f"{prefix}{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigValueError(f"{prefix}{name}", "is required")
    instance = cls(**values)
    try:
        instance.validate()
    except ConfigValueError as exc:
        if prefix and not exc.key.startswith(prefix):
            raise ConfigValueError(f"{prefix}{exc.key}", exc.problem) from None
        raise
    return instance


def _field(f: dataclasses.Field[Any], tp: Any, raw: Any, key: str) -> Any:
    value = _convert(tp, raw, key)
    if value is None:
        return None
    meta = f.metadata
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        minimum, above, maximum = meta.get("minimum"), meta.get("above"), meta.get("maximum")
        if minimum is not None and value < minimum:
            raise ConfigValueError(key, f"must be at least {_num(minimum)}, got {_show(raw)}")
        if above is not None and value <= above:
            raise ConfigValueError(key, f"must be greater than {_num(above)}, got {_show(raw)}")
        if maximum is not None and value > maximum:
            raise ConfigValueError(key, f"must be at most {_num(maximum)}, got {_show(raw)}")
    check = meta.get("check")
    if check is not None:
        try:
            value = check(value)
        except ConfigValueError:
            raise
        except ValueError as exc:
            raise ConfigValueError(key, str(exc)) from None
    return value


def _num(value: float) -> str:
    return f"{value:g}"


def _show(value: Any) -> str:
    return "null" if value is None else repr(value)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _describe(tp: Any) -> str:
    """How the parser names a type in its messages."""
    origin = typing.get_origin(tp)
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is bool:
        return "true or false"
    if tp is str:
        return "a string"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (tuple, frozenset, list):
        return "a list"
    if origin in (dict, Mapping) or tp is dict:
        return "a mapping"
    if isinstance(tp, type) and issubclass(tp, PluginConfig):
        return "a mapping"
    return "a value"


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        args = typing.get_args(tp)
        optional = type(None) in args
        rest = [a for a in args if a is not type(None)]
        if value is None:
            if optional:
                return None
            raise ConfigValueError(key, f"must be {_describe(rest[0])}, got null")
        if len(rest) == 1:
            try:
                return _convert(rest[0], value, key)
            except ConfigValueError as exc:
                if optional and exc.key == key and exc.problem.startswith("must be "):
                    raise ConfigValueError(key, _or_null(exc.problem)) from None
                raise
        for alternative in rest:
            try:
                return _convert(alternative, value, key)
            except ConfigValueError:
                continue
        kinds = " or ".join(_describe(a) for a in rest) + (" or null" if optional else "")
        raise ConfigValueError(key, f"must be {kinds}, got {_show(value)}")
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigValueError(key, f"must be true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigValueError(key, f"must be an integer, got {_show(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise ConfigValueError(key, f"must be a number, got {_show(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigValueError(key, f"must be a string, got {_show(value)}")
        return value
    if origin is Literal:
        choices = typing.get_args(tp)
        if isinstance(value, bool) or value not in choices:
            raise ConfigValueError(
                key, f"must be one of {', '.join(map(repr, choices))}, got {_show(value)}")
        return value
    if origin in (tuple, frozenset, list):
        if isinstance(value, (str, bytes)) or not isinstance(
                value, (list, tuple, set, frozenset)):
            raise ConfigValueError(key, f"must be a list, got {_show(value)}")
        args = typing.get_args(tp)
        item_tp = args[0] if args else Any
        items = [_convert(item_tp, item, f"{key}[{i}]") for i, item in enumerate(value)]
        if origin is frozenset:
            return frozenset(items)
        return tuple(items) if origin is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigValueError(key, f"must be a mapping, got {_show(value)}")
        args = typing.get_args(tp)
        value_tp = args[1] if len(args) == 2 else Any
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigValueError(key, f"keys must be strings, got {k!r}")
            out[k] = _convert(value_tp, v, f"{key}.{k}")
        return out
    if isinstance(tp, type) and issubclass(tp, PluginConfig):
        return _parse(tp, value, f"{key}.")
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise ConfigValueError(key, f"must be a {tp.__name__}, got {_show(value)}")
        return value
    return value


def _or_null(problem: str) -> str:
    head, sep, tail = problem.partition(", got ")
    return f"{head} or null{sep}{tail}" if sep else problem


# -- the declarations as data (the README's table is checked against this) ---------------


@dataclasses.dataclass(frozen=True, slots=True)
class SettingInfo:
    """One declared setting: its key, default, how the README shows the default, doc."""

    key: str
    default: Any
    default_text: str
    doc: str


def describe_settings(cls: type[PluginConfig]) -> list[SettingInfo]:
    """The declared settings of ``cls`` in declaration order."""
    out = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        text = f.metadata.get("default_text") or _default_text(default, f.metadata.get("unit"))
        out.append(SettingInfo(f.name, default, text, f.metadata.get("doc", "")))
    return out


def _default_text(value: Any, unit: str | None) -> str:
    if value is dataclasses.MISSING:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, (int, float)):
        text = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{text} {unit}" if unit else text
    if isinstance(value, (tuple, list, frozenset, set)):
        items = sorted(value) if isinstance(value, (frozenset, set)) else list(value)
        return "[" + ", ".join(_default_text(v, None).strip("`") for v in items) + "]"
    return repr(value)
