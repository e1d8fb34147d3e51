"""One declaration per wire object, and everything derived from it.

A wire object is a class decorated with :func:`declare` whose fields are given with
:func:`wire`::

    @declare(kind="web_fetch")
    class WebFetchRequest(Request):
        \"\"\"``POST /api/experimental/web_fetch``.\"\"\"

        url: str = wire(Str(validate=not_blank), required=True, doc="The page to fetch.")
        extra: dict[str, Any] = field(default_factory=dict)

From that one place come:

* the dataclass (``slots``, keyword-only unless ``kw_only=False``), with ``to_dict()``,
  ``from_dict()`` (unknown keys kept in ``extra``) and dict-style read access
  (:class:`Wire`);
* the marshmallow schema (:meth:`Wire.schema`), built with marshmallow's public API: the
  field's check (the field named through :mod:`._spec`), ``required``/``allow_none`` from
  the declaration, ``data_key`` for a wire key that differs from the attribute
  (``from``), nested schemas for ``one=``/``many=``/``tagged=`` fields, and the object's
  ``rules`` as ``@validates_schema`` methods;
* the validation fast path (:class:`._schema.Plan`), compiled from the declaration itself
  (it knows its own fields and rules, so nothing reads marshmallow's internals); it and
  the schema are built on the declaration's first validation, by :mod:`._schema`, so
  importing the declarations does not load marshmallow;
* builder setters (:mod:`ollama_core._builders` adds one per declared field of a request
  that has no hand-written step);
* the documentation table (:mod:`ollama_core._wire.doc`).

Decisions:

* **Unknown keys pass (``unknown=INCLUDE``) at every level.** ``extra`` exists to send
  fields newer than this library; rejecting unknown keys would make it useless and break on
  every server release.
* **Optional means nullable.** A field that is not ``required`` accepts ``null`` (``None``
  is how an unset field looks before ``to_dict`` drops it); a required one does not.
* **A fast path for valid requests.** Full marshmallow validation of a small chat request
  costs about 50 µs, mostly generic machinery and the many absent optional fields. The plan
  runs the same (bound) field objects and rules on the keys actually present; only when
  that says "valid" is the full pass skipped. Anything else (including every invalid
  request) takes the full pass, which builds the errors. A test checks on random requests
  that the fast path never accepts what marshmallow rejects.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    ForwardRef,
    NamedTuple,
    Protocol,
    Self,
    TypeVar,
    cast,
    dataclass_transform,
    get_args,
    get_origin,
)

from .._exceptions import InvalidRequestError
from .._jsoncheck import check_json
from ._spec import Check

if TYPE_CHECKING:
    from marshmallow import Schema, fields

    from .._builders import _Builder
    from ._schema import Plan

__all__ = [
    "Conv",
    "Decl",
    "DECLARED",
    "FieldInfo",
    "IMAGES",
    "LIST",
    "MAPPING",
    "Normalised",
    "REQUESTS",
    "Request",
    "Rule",
    "SupportsModelDump",
    "Wire",
    "declare",
    "dumped",
    "many",
    "one",
    "tagged",
    "validate_request",
    "validate_wire",
    "wire",
]

#: A whole-object rule: gets the loaded data (keyed by attribute name: ``from_``) and
#: raises ``ValidationError(message, field_name)``.
Rule = Callable[[Mapping[str, Any]], None]


# --------------------------------------------------------------------------------------------
# Converters between wire data and typed objects
# --------------------------------------------------------------------------------------------


class Conv(NamedTuple):
    """How one nested field moves between wire data and typed objects."""

    load: Callable[[Any], Any]
    dump: Callable[[Any], Any]


class SupportsModelDump(Protocol):
    """A pydantic model (ollama-python's ``Message``, ``Options``, ``Tool``): taken as the
    mapping its ``model_dump()`` gives."""

    def model_dump(self) -> dict[str, Any]: ...


_NOT_MODELS = frozenset({str, bytes, int, float, bool, list, tuple, dict, type(None)})


def dumped(value: Any) -> Any:
    """A pydantic model as the dict it stands for (``None`` fields left out, aliases used);
    anything else unchanged. Duck-typed: the ``ollama`` package is never imported."""
    if type(value) in _NOT_MODELS or isinstance(value, (Mapping, type)):
        return value
    dump = getattr(value, "model_dump", None)
    if not callable(dump):
        return value
    try:
        return dump(exclude_none=True, by_alias=True)
    except TypeError:  # a model_dump() without pydantic's keywords
        return dump()


_W = TypeVar("_W", bound="Wire")


def typed(cls: type[_W], value: Any) -> Any:
    """``value`` as a ``cls`` when it is a mapping (or a pydantic model); anything else is
    left for validation."""
    # Wire objects are not Mappings, so typed values (of any class) pass through.
    if isinstance(value, Mapping):
        return cls.from_dict(value)
    value = dumped(value)
    return cls.from_dict(value) if isinstance(value, Mapping) else value


def to_wire(value: Any) -> Any:
    """``value`` in its wire form: typed objects become dicts, other mappings (and pydantic
    models) plain dicts."""
    if isinstance(value, Wire):
        return value.to_dict()
    if isinstance(value, Mapping):
        return value if isinstance(value, dict) else dict(value)
    return dumped(value)


def one(cls: type[Wire]) -> Conv:
    """Converter for a field holding one nested ``cls`` (typed or as a dict)."""

    def dump(value: Any) -> Any:
        value = dumped(value)
        if isinstance(value, Mapping):
            value = cls.from_dict(value)  # normalises typed values nested inside the dict
        return to_wire(value)

    return Conv(lambda v: typed(cls, v), dump)


def many(cls: type[Wire]) -> Conv:
    """Converter for a field holding a list of nested ``cls`` (each typed or a dict)."""
    single = one(cls)

    def load(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [typed(cls, v) for v in value]
        return value

    def dump(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [single.dump(v) for v in value]
        return value

    return Conv(load, dump)


def tagged(choices: Mapping[str, type[Wire]], tag: str = "type") -> Conv:
    """Converter for a JSON object of name -> one of ``choices``, picked by its ``tag``
    key. An entry with an unknown tag stays as it came."""

    def load_one(value: Any) -> Any:
        value = dumped(value)
        if isinstance(value, Mapping):
            kind = value.get(tag)
            cls = choices.get(kind) if isinstance(kind, str) else None
            if cls is not None:
                return cls.from_dict(value)
        return value

    def load(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: load_one(v) for k, v in value.items()}
        return value

    def dump(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: to_wire(load_one(v)) for k, v in value.items()}
        return value

    return Conv(load, dump)


def _as_list(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _dump_images(value: Any) -> Any:
    # Raw image bytes are a convenience (the official client takes them too); the wire wants
    # base64 text. Strings are sent as given and checked by validation.
    if isinstance(value, (list, tuple)):
        return [
            base64.b64encode(v).decode("ascii") if isinstance(v, (bytes, bytearray)) else v
            for v in value
        ]
    return value


#: A list given as any sequence is sent as a list.
LIST = Conv(_as_list, _as_list)
#: Images: base64 text as given, raw bytes encoded.
IMAGES = Conv(_as_list, _dump_images)
#: A JSON object given as any mapping (or pydantic model) is sent as a dict.
MAPPING = Conv(lambda v: v, to_wire)
_NO_NESTED: Mapping[str, Conv] = {}


def _extra(d: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The entries of ``d`` whose keys are not in ``known``."""
    # The subset test runs in C and is the common case (no unknown keys), so the
    # comprehension is only paid for when the server actually sent something new.
    if d.keys() <= known:
        return {}
    return {k: v for k, v in d.items() if k not in known}


# --------------------------------------------------------------------------------------------
# The declaration of one field
# --------------------------------------------------------------------------------------------

_META = "ollama_core.wire"


@dataclass(frozen=True, slots=True)
class Decl:
    """What :func:`wire` records about one field (kept in the dataclass field's metadata)."""

    check: Check | fields.Field[Any] | None = None
    doc: str = ""
    key: str | None = None
    required: bool = False
    one: type[Wire] | None = None
    many: type[Wire] | None = None
    tagged: Mapping[str, type[Wire]] | None = None
    conv: Conv | None = None
    setter: bool = True


def wire(check: Check | fields.Field[Any] | None = None, *, doc: str = "",
         key: str | None = None, required: bool = False, one: type[Wire] | None = None,
         many: type[Wire] | None = None, tagged: Mapping[str, type[Wire]] | None = None,
         conv: Conv | None = None, setter: bool = True, default: Any = MISSING,
         default_factory: Callable[[], Any] | Any = MISSING, init: bool = True,
         kw_only: bool | Any = MISSING) -> Any:
    """Declare one wire field.

    Args:
        check: what validates the value: a strict type of :mod:`._checks` as named
            through :mod:`._spec` (``Str(validate=not_blank)``: the marshmallow field is
            made on first validation), or a marshmallow field; ``None`` for
            ``one``/``many``/``tagged`` fields (their schema is derived) or for
            response-only fields (no check: anything passes).
        doc: one line for the documentation table and the builder setter.
        key: the wire key when it differs from the attribute (``from_`` is ``"from"``).
        required: the key must be present (and not null) on the wire.
        one / many: the field holds one / a list of nested declared objects (given typed or
            as dicts).
        tagged: the field is a JSON object of name -> one of these classes, chosen by the
            entry's ``"type"``.
        conv: how the value moves between typed and wire form when none of the above says.
        setter: whether builders get a generated setter for it.
        default / default_factory / init / kw_only: as for ``dataclasses.field``; without a
            default the constructor requires the argument.
    """
    decl = Decl(check, doc, key, required, one, many, tagged, conv, setter)
    kwargs: dict[str, Any] = {"metadata": {_META: decl}, "init": init}
    if default is not MISSING:
        kwargs["default"] = default
    if default_factory is not MISSING:
        kwargs["default_factory"] = default_factory
    if kw_only is not MISSING:
        kwargs["kw_only"] = kw_only
    return dataclasses.field(**kwargs)


class FieldInfo(NamedTuple):
    """One declared field as the derived artefacts see it."""

    attr: str
    key: str
    type: str
    doc: str
    required: bool
    setter: bool
    decl: Decl


# --------------------------------------------------------------------------------------------
# The base of every wire object
# --------------------------------------------------------------------------------------------


class Wire:
    """Base of every wire object: generic ``to_dict``/``from_dict`` and dict-style access.

    The class-level tables are filled in by :func:`declare` from the declaration.
    """

    __slots__ = ()

    #: every declared field except ``extra``, in declaration order
    __wire_fields__: ClassVar[tuple[FieldInfo, ...]] = ()
    #: (attribute, wire key) for every field except ``extra``, in declaration order.
    _KEYS: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: every wire key of the declaration
    _WIRE_KEYS: ClassVar[frozenset[str]] = frozenset()
    #: wire key -> attribute, only for keys that differ (``"from"`` -> ``"from_"``).
    _ATTR_OF: ClassVar[Mapping[str, str]] = {}
    #: attribute names of all fields except ``extra``.
    _FIELDS: ClassVar[frozenset[str]] = frozenset()
    #: converters of nested fields, by attribute.
    _NESTED: ClassVar[Mapping[str, Conv]] = _NO_NESTED
    #: values ``from_dict`` passes for required constructor arguments missing from the data
    #: (``None``, which ``to_dict`` leaves out), so that validation reports them as missing
    #: instead of the constructor raising ``TypeError``.
    _MISSING: ClassVar[Mapping[str, Any]] = {}
    #: the whole-object rules (inherited ones first)
    _RULES: ClassVar[tuple[Rule, ...]] = ()
    _SCHEMA_CLASS: ClassVar[type[Schema]]
    _SCHEMA: ClassVar[Schema]
    _PLAN: ClassVar[Plan]

    if TYPE_CHECKING:
        extra: dict[str, Any]

    @classmethod
    def schema(cls) -> Schema:
        """The marshmallow schema derived from the declaration (one shared instance)."""
        return cls._SCHEMA

    def to_dict(self) -> dict[str, Any]:
        """The wire JSON object: ``None`` fields omitted, nested objects as dicts, ``extra``
        merged in (typed fields win when both name the same key)."""
        out: dict[str, Any] = {}
        nested = self._NESTED
        for attr, key in self._KEYS:
            value = getattr(self, attr)
            if value is None:
                continue
            conv = nested.get(attr)
            out[key] = conv.dump(value) if conv is not None else value
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build an object from its wire JSON; unknown keys go to ``extra``. No validation."""
        kwargs: dict[str, Any] = dict(cls._MISSING)
        extra: dict[str, Any] = {}
        attr_of, names, nested = cls._ATTR_OF, cls._FIELDS, cls._NESTED
        for key, value in d.items():
            attr = attr_of.get(key, key)
            if attr in names:
                conv = nested.get(attr)
                kwargs[attr] = conv.load(value) if conv is not None and value is not None else value
            else:
                extra[key] = value
        kwargs["extra"] = extra
        return cls(**kwargs)

    # Dict-style access, so code written for the official client's models keeps working.

    def __getitem__(self, key: str) -> Any:
        attr = self._ATTR_OF.get(key, key)
        if attr in self._FIELDS:
            return getattr(self, attr)
        try:
            return self.extra[key]
        except KeyError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        attr = self._ATTR_OF.get(key, key)
        if attr in self._FIELDS:
            return getattr(self, attr) is not None
        return key in self.extra

    def get(self, key: str, default: Any = None) -> Any:
        """The value of wire key ``key`` (a field or an ``extra`` entry), else ``default``."""
        return self[key] if key in self else default


class Normalised(Wire):
    """Request-side objects: nested dicts given to the constructor become typed objects.

    Response-side classes (messages, tool calls, ...) skip this on purpose: they are built
    once per stream chunk and a ``__post_init__`` would tax every one of them.
    """

    __slots__ = ()

    def __post_init__(self) -> None:
        for attr, conv in self._NESTED.items():
            value = getattr(self, attr)
            if value is not None:
                setattr(self, attr, conv.load(value))


class Request(Normalised):
    """A request body: validated by :meth:`validate` before it is sent."""

    __slots__ = ()

    #: the ``validate_request`` kind of this request (its endpoint)
    _KIND: ClassVar[str] = ""

    @classmethod
    def builder(cls) -> _Builder[Self]:
        """A fluent builder for this request: hand-written steps where there are some, a
        generated setter for every other declared field."""
        from .._builders import builder_for

        return builder_for(cls)

    def validate(self) -> dict[str, Any]:
        """Validate and return the wire JSON to send.

        The checks are the declaration's (the schema, then ``check_json`` over the whole
        body); the client makes them again right before sending, on the body as its plugins
        left it.

        Raises:
            InvalidRequestError: ``.field`` is the dotted path of the first bad field
                (``"messages.0.role"``), ``.errors`` maps every bad path to its messages.
        """
        wire_body = validate_wire(type(self), self.to_dict())
        check_json(wire_body)  # the client's own final check: NaN, non-JSON, surrogates
        return wire_body


# --------------------------------------------------------------------------------------------
# declare(): the class decorator
# --------------------------------------------------------------------------------------------

#: every declared class, in declaration order (the documentation table lists the public ones)
DECLARED: list[type[Wire]] = []
#: request kind -> its declared class (what ``validate_request(kind, ...)`` checks)
REQUESTS: dict[str, type[Wire]] = {}

_C = TypeVar("_C", bound=type[Wire])


@dataclass_transform(kw_only_default=True, field_specifiers=(wire, dataclasses.field))
def declare(*, kind: str | None = None, rules: tuple[Rule, ...] = (),
            kw_only: bool = True) -> Callable[[_C], _C]:
    """Make ``cls`` a declared wire object (see the module docstring).

    Args:
        kind: for a request, the name ``validate_request`` knows it by (``"chat"``).
        rules: whole-object rules added to the inherited ones.
        kw_only: keyword-only constructor (``ChatMessage`` takes role and content by
            position, marking the rest with ``KW_ONLY``).
    """

    def apply(cls: _C) -> _C:
        inherited_rules = cls._RULES
        new = dataclass(slots=True, kw_only=kw_only)(cls)
        _finish(new, inherited_rules + rules)
        if kind is not None:
            new._KIND = kind  # type: ignore[attr-defined]
            REQUESTS[kind] = new
        DECLARED.append(new)
        return cast(_C, new)

    return apply


def _type_text(cls: type[Wire], annotation: Any) -> str:
    """A field's type as written, with the type parameters of a generic declaration
    replaced by what ``cls`` binds them to (``list[_Row]`` of ``Base[list[float]]`` is
    ``list[list[float]]``)."""
    text = str(annotation)
    for base in getattr(cls, "__orig_bases__", ()):
        params = getattr(get_origin(base), "__parameters__", ())
        for param, arg in zip(params, get_args(base)):
            bound = arg.__forward_arg__ if isinstance(arg, ForwardRef) else str(arg)
            text = re.sub(rf"\b{re.escape(param.__name__)}\b", bound, text)
    return text


def _finish(cls: type[Wire], rules: tuple[Rule, ...]) -> None:
    infos: list[FieldInfo] = []
    nested: dict[str, Conv] = {}
    missing: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == "extra":
            continue
        decl = f.metadata.get(_META) or Decl()
        infos.append(FieldInfo(f.name, decl.key or f.name, _type_text(cls, f.type), decl.doc,
                               decl.required, decl.setter, decl))
        conv = decl.conv
        if decl.one is not None:
            conv = one(decl.one)
        elif decl.many is not None:
            conv = many(decl.many)
        elif decl.tagged is not None:
            conv = tagged(decl.tagged)
        if conv is not None:
            nested[f.name] = conv
        if f.init and f.default is MISSING and f.default_factory is MISSING:
            missing[f.name] = None
    cls.__wire_fields__ = tuple(infos)
    cls._KEYS = tuple((i.attr, i.key) for i in infos)
    cls._WIRE_KEYS = frozenset(i.key for i in infos)
    cls._ATTR_OF = {i.key: i.attr for i in infos if i.key != i.attr}
    cls._FIELDS = frozenset(i.attr for i in infos)
    cls._NESTED = nested or _NO_NESTED
    cls._MISSING = missing
    cls._RULES = rules
    # On the class itself, so that a declared subclass does not find its parent's once built.
    for name in _DERIVED_NAMES:
        setattr(cls, name, _Derived(cls, name))


#: The class attributes :class:`_Derived` builds on first use.
_DERIVED_NAMES = ("_SCHEMA_CLASS", "_SCHEMA", "_PLAN")
#: Held while building: two threads validating for the first time build once; re-entrant
#: because a declaration's schema needs those of the declarations it nests.
_DERIVING = threading.RLock()


class _Derived:
    """A declaration's marshmallow schema class, its shared instance and its fast-path plan,
    built together on first use of any of them (a class attribute standing in for them
    until then).

    Building them for every declaration at import cost more than the rest of importing
    the declarations, and a program that validates few kinds (or none: ``ollama-core
    list``) should not pay for all of them. They are built from the declaration alone, so
    the result does not depend on when that happens.
    """

    __slots__ = ("cls", "name")

    def __init__(self, cls: type[Wire], name: str) -> None:
        self.cls = cls  # the declared class (an undeclared subclass reads its artefacts)
        self.name = name

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        cls = self.cls
        with _DERIVING:
            if isinstance(cls.__dict__["_PLAN"], _Derived):  # not built yet
                from ._schema import derive

                schema_class, schema, plan = derive(cls)
                cls._SCHEMA_CLASS, cls._SCHEMA = schema_class, schema
                cls._PLAN = plan  # last: what says "built"
        return cls.__dict__[self.name]


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _flatten(errors: Mapping[Any, Any], prefix: str = "") -> Iterator[tuple[str, list[str]]]:
    """marshmallow's nested error dict as (dotted path, messages) pairs, in order.

    ``_schema`` (an error about a whole object) names the object itself.
    """
    for key, value in errors.items():
        if key == "_schema":
            path = prefix
        else:
            path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _flatten(value, path)
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            # a validator may raise a list of nested error dicts
            for item in value:
                yield from _flatten(item, path)
        else:
            yield path, [str(m) for m in value] if isinstance(value, list) else [str(value)]


def validate_wire(cls: type[Wire], wire_body: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``wire_body`` against the declaration of ``cls`` and return it, unchanged.

    Returns ``wire_body`` itself when it is a ``dict`` (a ``dict`` copy of any other
    mapping). Raises :class:`InvalidRequestError` naming the first bad field (in body
    order), with every bad path in ``.errors``.
    """
    if cls._PLAN.passes(wire_body):
        return wire_body  # type: ignore[return-value]  # fast_valid only passes a real dict
    errors = cls._SCHEMA.validate(wire_body)
    if errors:
        # marshmallow reports in schema-declaration order; "first" should follow the body.
        position = ({key: i for i, key in enumerate(wire_body)}
                    if isinstance(wire_body, Mapping) else {})
        end = len(position)
        flat = dict(sorted(_flatten(errors),
                           key=lambda item: position.get(item[0].split(".", 1)[0], end)))
        path, messages = next(iter(flat.items()))
        where = f"{path}: " if path else ""
        more = len(flat) - 1
        suffix = f" (and {more} more invalid field{'s' if more > 1 else ''})" if more else ""
        raise InvalidRequestError(
            f"invalid request: {where}{messages[0]}{suffix}",
            field=path or None,
            errors={p or "_schema": m for p, m in flat.items()},
        )
    return wire_body if isinstance(wire_body, dict) else dict(wire_body)


def validate_request(kind: str, wire_body: Mapping[str, Any]) -> dict[str, Any]:
    """Check the wire body of a ``kind`` request (a key of :data:`REQUESTS`) and return it,
    unchanged. See :func:`validate_wire`; ``ValueError`` for an unknown ``kind`` (a
    programming error, not a bad request)."""
    cls = REQUESTS.get(kind)
    if cls is None:
        raise ValueError(f"unknown request kind {kind!r}; expected one of {sorted(REQUESTS)}")
    return validate_wire(cls, wire_body)
