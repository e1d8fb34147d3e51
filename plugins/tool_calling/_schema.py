"""Python type hints to JSON Schema, and the matching checks of a model's arguments.

Each annotation is compiled once into a :class:`_Node` that knows both its JSON Schema and
how to check (and convert) the JSON value a model sends for it. Keeping the two in one
object means the schema a model is shown and the check its arguments go through can never
disagree.

Mapping (``X`` stands for any supported type):

==============================  ==========================================================
``int`` / ``float``             ``{"type": "integer"}`` / ``{"type": "number"}``
``bool`` / ``str``              ``{"type": "boolean"}`` / ``{"type": "string"}``
``None``                        ``{"type": "null"}``
``list[X]``, ``Sequence[X]``    ``{"type": "array", "items": X}`` (bare ``list``: no items)
``set[X]``, ``frozenset[X]``    as ``list[X]`` plus ``"uniqueItems": true``
``tuple[X, ...]``               as ``list[X]``
``tuple[X, Y]``                 ``prefixItems`` with ``minItems``/``maxItems`` = 2
``dict[str, X]``, ``Mapping``   ``{"type": "object", "additionalProperties": X}``
``X | Y``                       ``{"anyOf": [X, Y]}``
``X | None``, ``Optional[X]``   the schema of ``X``; ``null`` is accepted but not advertised
``Literal["a", "b"]``           ``{"type": "string", "enum": ["a", "b"]}``
``Enum`` subclass               ``enum`` of the members' values (converted back to members)
dataclass, ``TypedDict``        ``object`` with ``properties`` and ``required`` (a
                                dataclass argument is built from the model's object)
``Annotated[X, "text"]``        ``X`` with ``"description": "text"`` (a ``dict`` in the
                                metadata is merged into the schema as raw keywords)
``Any``, ``object``, no hint    ``{}``: any JSON value, unchecked
==============================  ==========================================================

Anything else (``bytes``, ``datetime``, arbitrary classes, recursive types) raises
``TypeError`` when the tool is registered, rather than producing a schema that lies.
"""

from __future__ import annotations

import collections.abc
import copy
import dataclasses
import enum
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from ollama_core import Tool, ToolFunction

from ._docstring import ParsedDocstring, parse_docstring

__all__ = ["ArgumentError", "CompiledFunction", "compile_function", "function_to_tool"]

_NONE_TYPES: tuple[object, ...] = (None, type(None))
_JSON_KINDS = frozenset({"null", "boolean", "integer", "number", "string", "array", "object"})
#: What the OpenAI-compatible endpoint and common chat templates accept as a function name.
_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class ArgumentError(ValueError):
    """A model's arguments do not fit a tool's parameters; ``problems`` lists each issue."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


class _Invalid(Exception):
    """Raised inside value checks; carries every problem found below one value."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _json_kind(value: object) -> str:
    """The JSON type name of a decoded JSON value (Python type name for anything else)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _where(path: str) -> str:
    return f"'{path}': " if path else ""


def _mismatch(path: str, expected: str, value: object) -> _Invalid:
    return _Invalid([f"{_where(path)}expected {expected}, got {_json_kind(value)}"])


# --------------------------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------------------------


class _Node:
    """A compiled annotation: its JSON Schema, and the check/conversion of a JSON value."""

    schema: dict[str, Any]
    #: JSON types this node can accept at all (used to pick the relevant union member).
    kinds: frozenset[str]
    #: How the expected value is named in error messages.
    expected: str

    def load(self, value: Any, path: str) -> Any:
        """Check ``value`` and return it in the Python form the function expects.

        Raises:
            _Invalid: with every problem found, each prefixed with its path.
        """
        raise NotImplementedError


class _AnyNode(_Node):
    def __init__(self) -> None:
        self.schema, self.kinds, self.expected = {}, _JSON_KINDS, "any value"

    def load(self, value: Any, path: str) -> Any:
        return value


class _ScalarNode(_Node):
    def __init__(self, kind: str) -> None:
        self.schema, self.kinds, self.expected = {"type": kind}, frozenset({kind}), kind
        if kind == "number":
            self.kinds = frozenset({"number", "integer"})

    def load(self, value: Any, path: str) -> Any:
        kind = _json_kind(value)
        if kind == self.expected:
            return value
        if self.expected == "number" and kind == "integer":
            return float(value)
        # JSON Schema counts 3.0 as an integer, and some models write numbers that way.
        if self.expected == "integer" and kind == "number" and float(value).is_integer():
            return int(value)
        raise _mismatch(path, self.expected, value)


class _NullNode(_Node):
    def __init__(self) -> None:
        self.schema, self.kinds, self.expected = {"type": "null"}, frozenset({"null"}), "null"

    def load(self, value: Any, path: str) -> Any:
        if value is not None:
            raise _mismatch(path, "null", value)
        return None


class _ArrayNode(_Node):
    def __init__(self, items: _Node | None, container: Callable[[list[Any]], Any],
                 unique: bool = False) -> None:
        self.items, self.container = items, container
        self.schema = {"type": "array"}
        if items is not None:
            self.schema["items"] = items.schema
        if unique:
            self.schema["uniqueItems"] = True
        self.kinds, self.expected = frozenset({"array"}), "array"

    def load(self, value: Any, path: str) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _mismatch(path, "array", value)
        if self.items is None:
            return self.container(list(value))
        return self.container(_load_all(
            (self.items, item, f"{path}[{i}]") for i, item in enumerate(value)))


class _TupleNode(_Node):
    def __init__(self, items: list[_Node]) -> None:
        self.items = items
        self.schema = {"type": "array", "prefixItems": [n.schema for n in items],
                       "minItems": len(items), "maxItems": len(items)}
        self.kinds, self.expected = frozenset({"array"}), f"array of {len(items)} items"

    def load(self, value: Any, path: str) -> Any:
        if not isinstance(value, (list, tuple)) or len(value) != len(self.items):
            if isinstance(value, (list, tuple)):
                raise _Invalid([f"{_where(path)}expected {self.expected}, got {len(value)}"])
            raise _mismatch(path, "array", value)
        return tuple(_load_all(
            (node, item, f"{path}[{i}]") for i, (node, item) in enumerate(zip(self.items, value))))


class _MapNode(_Node):
    def __init__(self, values: _Node | None) -> None:
        self.values = values
        self.schema = {"type": "object"}
        if values is not None:
            self.schema["additionalProperties"] = values.schema
        self.kinds, self.expected = frozenset({"object"}), "object"

    def load(self, value: Any, path: str) -> Any:
        if not isinstance(value, Mapping):
            raise _mismatch(path, "object", value)
        if self.values is None:
            return dict(value)
        keys = list(value)
        loaded = _load_all((self.values, value[k], _join_path(path, k)) for k in keys)
        return dict(zip(keys, loaded))


class _ChoiceNode(_Node):
    """``Literal`` values or the values of an ``Enum`` (``members`` then maps them back)."""

    def __init__(self, values: Sequence[Any], members: Sequence[enum.Enum] | None,
                 owner: str) -> None:
        for v in values:
            if v is not None and not isinstance(v, (str, int, float, bool)):
                raise TypeError(f"{owner} has the value {v!r}, which is not a JSON scalar")
        self.values, self.members = list(values), members
        self.schema = {"enum": list(values)}
        kinds = {_json_kind(v) for v in values}
        if kinds == {"integer", "number"}:
            kinds = {"number"}
        if len(kinds) == 1:
            self.schema = {"type": next(iter(kinds)), **self.schema}
        self.kinds = frozenset(kinds | ({"integer"} if "number" in kinds else set()))
        self.expected = "one of " + ", ".join(_literal(v) for v in values)

    def load(self, value: Any, path: str) -> Any:
        for i, allowed in enumerate(self.values):
            # bool is an int in Python but not in JSON: True must not match 1.
            if value == allowed and isinstance(value, bool) == isinstance(allowed, bool):
                return self.members[i] if self.members is not None else allowed
        raise _Invalid([f"{_where(path)}expected {self.expected}, got {_literal(value)}"])


class _UnionNode(_Node):
    def __init__(self, members: list[_Node]) -> None:
        self.members = members
        self.schema = {"anyOf": [m.schema for m in members]}
        self.kinds = frozenset().union(*(m.kinds for m in members))
        self.expected = " or ".join(m.expected for m in members)

    def load(self, value: Any, path: str) -> Any:
        failures: list[_Invalid] = []
        for member in self.members:
            try:
                return member.load(value, path)
            except _Invalid as exc:
                failures.append(exc)
        # When only one member takes this JSON type at all, its detailed complaint
        # (e.g. a missing field of an object) says more than "expected A or B".
        relevant = [f for m, f in zip(self.members, failures) if _json_kind(value) in m.kinds]
        if len(relevant) == 1:
            raise relevant[0]
        raise _mismatch(path, self.expected, value)


class _NullableNode(_Node):
    """``X | None``: shows the schema of ``X`` (a model should send a value or leave the
    argument out) but accepts ``null``, which the function is declared to handle."""

    def __init__(self, inner: _Node) -> None:
        self.inner = inner
        self.schema, self.expected = inner.schema, inner.expected
        self.kinds = inner.kinds | {"null"}

    def load(self, value: Any, path: str) -> Any:
        return None if value is None else self.inner.load(value, path)


class _AnnotatedNode(_Node):
    def __init__(self, inner: _Node, keywords: dict[str, Any]) -> None:
        self.inner = inner
        self.schema = {**inner.schema, **keywords}
        self.kinds, self.expected = inner.kinds, inner.expected

    def load(self, value: Any, path: str) -> Any:
        return self.inner.load(value, path)


@dataclasses.dataclass(slots=True)
class _Property:
    name: str
    node: _Node
    required: bool


class _ObjectNode(_Node):
    """An object with known properties: a dataclass, a ``TypedDict`` or a parameter list.

    ``build`` turns the checked properties into the Python value (the dataclass itself, or
    a plain dict); ``rest`` checks the values of unknown keys, which are only allowed when
    it is given (a function with ``**kwargs``).
    """

    def __init__(self, properties: list[_Property], *, description: str = "",
                 build: Callable[..., Any] = dict, rest: _Node | None = None,
                 noun: str = "field") -> None:
        self.properties = {p.name: p for p in properties}
        self.build, self.rest, self.noun = build, rest, noun
        self.schema = {"type": "object"}
        if description:
            self.schema["description"] = description
        self.schema["properties"] = {p.name: p.node.schema for p in properties}
        self.schema["required"] = [p.name for p in properties if p.required]
        self.kinds, self.expected = frozenset({"object"}), "object"

    def check(self, value: Any, path: str) -> dict[str, Any]:
        """The checked and converted properties present in ``value`` (unknown ones too when
        ``rest`` is given)."""
        if not isinstance(value, Mapping):
            raise _mismatch(path, "object", value)
        problems: list[str] = []
        out: dict[str, Any] = {}
        for name, prop in self.properties.items():
            if name not in value:
                if prop.required:
                    problems.append(
                        f"missing required {self.noun} '{_join_path(path, name)}'")
                continue
            try:
                out[name] = prop.node.load(value[name], _join_path(path, name))
            except _Invalid as exc:
                problems.extend(exc.problems)
        for name in value:
            if name in self.properties:
                continue
            if self.rest is None:
                problems.append(f"unexpected {self.noun} '{_join_path(path, name)}'")
                continue
            try:
                out[name] = self.rest.load(value[name], _join_path(path, name))
            except _Invalid as exc:
                problems.extend(exc.problems)
        if problems:
            raise _Invalid(problems)
        return out

    def load(self, value: Any, path: str) -> Any:
        fields = self.check(value, path)
        try:
            return self.build(**fields)
        except (TypeError, ValueError) as exc:
            # A dataclass's __post_init__ may reject values the schema allows.
            raise _Invalid([f"{_where(path)}{type(exc).__name__}: {exc}"]) from exc


def _join_path(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _literal(value: object) -> str:
    return repr(value) if isinstance(value, str) else _dumps_scalar(value)


def _dumps_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (int, float)) else _json_kind(value)


def _load_all(items: collections.abc.Iterable[tuple[_Node, Any, str]]) -> list[Any]:
    """Load several values, reporting the problems of all of them, not just the first."""
    problems: list[str] = []
    out: list[Any] = []
    for node, value, path in items:
        try:
            out.append(node.load(value, path))
        except _Invalid as exc:
            problems.extend(exc.problems)
    if problems:
        raise _Invalid(problems)
    return out


# --------------------------------------------------------------------------------------------
# Compiling annotations
# --------------------------------------------------------------------------------------------

_ANY = _AnyNode()
_NULL = _NullNode()
_SCALARS: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
#: Unparameterised containers: any items.
_BARE: dict[type, _Node] = {
    list: _ArrayNode(None, list), tuple: _ArrayNode(None, tuple),
    set: _ArrayNode(None, set, unique=True), frozenset: _ArrayNode(None, frozenset, unique=True),
    dict: _MapNode(None),
}
_SEQUENCES: frozenset[object] = frozenset({
    list, collections.abc.Sequence, collections.abc.MutableSequence,
    collections.abc.Iterable, collections.abc.Collection,
})
_SETS: frozenset[object] = frozenset({
    set, frozenset, collections.abc.Set, collections.abc.MutableSet,
})
_MAPPINGS: frozenset[object] = frozenset({
    dict, collections.abc.Mapping, collections.abc.MutableMapping,
})


def _resolve_hints(target: Any, owner: str) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target, include_extras=True)
    except (NameError, TypeError) as exc:
        raise TypeError(
            f"cannot resolve the type hints of {owner}: {exc} (types used by a tool must be "
            f"importable from its module, not defined inside a function)") from exc


def _description_of(cls: type) -> ParsedDocstring:
    doc = cls.__doc__ or ""
    # A dataclass without a docstring gets a generated one ("Point(x: int, y: int)").
    if doc.startswith(f"{cls.__name__}("):
        doc = ""
    return parse_docstring(doc)


def _object_of_class(cls: type, stack: tuple[object, ...]) -> _ObjectNode:
    """A dataclass or ``TypedDict`` as an object node (descriptions from its docstring)."""
    hints = _resolve_hints(cls, cls.__qualname__)
    doc = _description_of(cls)
    props: list[_Property] = []
    if dataclasses.is_dataclass(cls):
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            required = (f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING)
            node = _describe(_compile(hints.get(f.name, Any), stack), doc.params.get(f.name))
            props.append(_Property(f.name, node, required))
        return _ObjectNode(props, description=doc.summary, build=cls)
    required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset(hints))
    for name, hint in hints.items():
        node = _describe(_compile(hint, stack), doc.params.get(name))
        props.append(_Property(name, node, name in required_keys))
    return _ObjectNode(props, description=doc.summary)


def _describe(node: _Node, description: str | None) -> _Node:
    """Add a docstring description unless the annotation already gave one."""
    if not description or "description" in node.schema:
        return node
    return _AnnotatedNode(node, {"description": description})


def _compile(tp: Any, stack: tuple[object, ...] = ()) -> _Node:
    """The node of one annotation. ``stack`` holds the classes being compiled, so that a
    recursive type fails clearly instead of recursing forever."""
    if tp is Any or tp is object or tp is inspect.Parameter.empty:
        return _ANY
    if isinstance(tp, typing.NewType):
        return _compile(tp.__supertype__, stack)
    if type(tp).__name__ == "TypeAliasType":  # ``type X = ...`` (Python 3.12+)
        return _compile(tp.__value__, stack)
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        inner = _compile(args[0], stack)
        keywords: dict[str, Any] = {}
        for meta in args[1:]:
            if isinstance(meta, str):
                keywords.setdefault("description", meta)
            elif isinstance(meta, Mapping):
                keywords.update(meta)
        return _AnnotatedNode(inner, keywords) if keywords else inner
    if tp in _NONE_TYPES:
        return _NULL
    if origin is Union or origin is types.UnionType:
        members = [a for a in args if a not in _NONE_TYPES]
        nodes = [_compile(a, stack) for a in members]
        node = nodes[0] if len(nodes) == 1 else _UnionNode(nodes)
        return _NullableNode(node) if len(members) < len(args) else node
    if origin is Literal:
        return _ChoiceNode(args, None, f"Literal{list(args)}")
    if isinstance(tp, type) and origin is None:
        return _compile_class(tp, stack)
    if origin in _SEQUENCES:
        return _ArrayNode(_compile(args[0], stack) if args else None, list)
    if origin in _SETS:
        container: Callable[[list[Any]], Any] = frozenset if origin is frozenset else set
        return _ArrayNode(_compile(args[0], stack) if args else None, container, unique=True)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return _ArrayNode(_compile(args[0], stack), tuple)
        if args == ((),):  # tuple[()]
            return _TupleNode([])
        return _TupleNode([_compile(a, stack) for a in args]) if args else _ArrayNode(None, tuple)
    if origin in _MAPPINGS:
        if args and args[0] not in (str, Any):
            raise TypeError(f"{tp!r}: JSON object keys are strings, so the key type must be str")
        return _MapNode(_compile(args[1], stack) if args and args[1] is not Any else None)
    raise TypeError(f"cannot describe {tp!r} as JSON Schema")


def _compile_class(cls: type, stack: tuple[object, ...]) -> _Node:
    # Enum before the scalars: an IntEnum is an int and a StrEnum a str.
    if issubclass(cls, enum.Enum):
        members = list(cls)
        return _ChoiceNode([m.value for m in members], members, cls.__qualname__)
    for scalar, kind in _SCALARS.items():
        if issubclass(cls, scalar):
            return _ScalarNode(kind)
    if dataclasses.is_dataclass(cls) or typing.is_typeddict(cls):
        if cls in stack:
            raise TypeError(f"{cls.__qualname__} refers to itself; recursive types are not "
                            f"supported in tool parameters")
        return _object_of_class(cls, (*stack, cls))
    if cls in _BARE:
        return _BARE[cls]
    raise TypeError(f"cannot describe {cls.__qualname__} as JSON Schema (supported: str, int, "
                    f"float, bool, None, lists, tuples, sets, dicts with str keys, unions, "
                    f"Literal, Enum, dataclasses, TypedDicts, Annotated)")


# --------------------------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class CompiledFunction:
    """A function's tool definition and the checker of the arguments a model sends it."""

    name: str
    tool: Tool
    params: _ObjectNode
    #: Names that must be passed positionally (positional-only parameters), in order.
    positional: tuple[str, ...]
    #: Defaults of the positional-only parameters, used to fill gaps before a given one.
    positional_defaults: Mapping[str, Any]

    def bind(self, arguments: Mapping[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Check ``arguments`` and split them into the ``(*args, **kwargs)`` of a call.

        Raises:
            ArgumentError: listing every missing, unexpected or ill-typed argument.
        """
        try:
            values = self.params.check(arguments, "")
        except _Invalid as exc:
            raise ArgumentError(exc.problems) from None
        args: list[Any] = []
        if self.positional:
            last = max((i for i, n in enumerate(self.positional) if n in values), default=-1)
            for name in self.positional[: last + 1]:
                args.append(values.pop(name) if name in values
                            else self.positional_defaults[name])
            for name in self.positional[last + 1:]:
                values.pop(name, None)
        return tuple(args), values


def _unwrap_partial(fn: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _hint_target(fn: Callable[..., Any]) -> Any:
    """The object whose annotations describe ``fn``'s parameters."""
    fn = _unwrap_partial(fn)
    if isinstance(fn, type):
        return getattr(fn, "__init__")  # the class's hints are its attributes, not these
    if inspect.isfunction(fn) or inspect.ismethod(fn) or inspect.isbuiltin(fn):
        return fn
    call = getattr(type(fn), "__call__", None)
    return call if call is not None else fn


def _default_name(fn: Callable[..., Any]) -> str:
    fn = _unwrap_partial(fn)
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def compile_function(fn: Callable[..., Any], *, name: str | None = None,
                     description: str | None = None) -> CompiledFunction:
    """Compile ``fn`` into its tool definition and argument checker.

    Raises:
        TypeError: ``fn`` is not callable, or a parameter's type has no JSON Schema.
        ValueError: the tool name is not 1-64 letters, digits, ``_``, ``.`` or ``-``.
    """
    if not callable(fn):
        raise TypeError(f"a tool must be callable, got {type(fn).__name__}")
    tool_name = name if name is not None else _default_name(fn)
    if not _NAME_RE.match(tool_name):
        raise ValueError(f"invalid tool name {tool_name!r}: use 1-64 letters, digits, '_', '.' "
                         f"or '-' (pass name=... for lambdas and callables without a name)")
    owner = f"tool {tool_name!r}"
    signature = inspect.signature(fn)
    hints = _resolve_hints(_hint_target(fn), owner)
    # A partial's own docstring describes functools.partial, not the tool.
    doc = parse_docstring(inspect.getdoc(_unwrap_partial(fn)))
    props: list[_Property] = []
    positional: list[str] = []
    defaults: dict[str, Any] = {}
    rest: _Node | None = None
    for i, param in enumerate(signature.parameters.values()):
        if param.kind is param.VAR_POSITIONAL or (i == 0 and param.name in ("self", "cls")):
            continue
        try:
            node = _compile(hints.get(param.name, param.annotation))
        except TypeError as exc:
            raise TypeError(f"{owner}, parameter {param.name!r}: {exc}") from exc
        if param.kind is param.VAR_KEYWORD:
            # Not in the schema (a model cannot be told "any other name"), but names the
            # function accepts are passed through, checked against its annotation.
            rest = node
            continue
        props.append(_Property(param.name, _describe(node, doc.params.get(param.name)),
                               param.default is param.empty))
        if param.kind is param.POSITIONAL_ONLY:
            positional.append(param.name)
            defaults[param.name] = param.default
    params = _ObjectNode(props, rest=rest, noun="argument")
    summary = description if description is not None else doc.summary
    tool = Tool(function=ToolFunction(name=tool_name, description=summary or None,
                                      parameters=copy.deepcopy(params.schema)))
    return CompiledFunction(tool_name, tool, params, tuple(positional), defaults)


def function_to_tool(fn: Callable[..., Any], *, name: str | None = None,
                     description: str | None = None) -> Tool:
    """The tool definition of a Python function, for ``ChatRequest(tools=[...])``.

    The parameters' JSON Schema comes from the type hints (see this module's table); a
    parameter is required exactly when it has no default. ``self``/``cls``, ``*args`` and
    ``**kwargs`` are left out. The description is the docstring's summary (first paragraph)
    and each parameter's description comes from a Google ``Args:``, NumPy ``Parameters`` or
    Sphinx ``:param:`` section, unless ``Annotated[X, "text"]`` gives one.

    Args:
        fn: a function, method, ``functools.partial`` or callable object.
        name: the tool name (default: the function's ``__name__``).
        description: the tool description (default: the docstring summary).

    Raises:
        TypeError: a parameter's type cannot be expressed as JSON Schema.
        ValueError: the name is not 1-64 letters, digits, ``_``, ``.`` or ``-``.
    """
    return compile_function(fn, name=name, description=description).tool
