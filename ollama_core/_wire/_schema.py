"""The marshmallow side of a declaration: its schema and its validation fast path.

Imported on the first validation (``_decl._Derived`` builds a declaration's artefacts on
first use), so that a program that validates nothing does not load marshmallow. What is
derived, and why, is in the docstring of :mod:`._decl`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validates_schema

from . import _checks
from ._spec import Check

if TYPE_CHECKING:
    from ._decl import FieldInfo, Rule, Wire

__all__ = ["Plan", "TaggedMap", "derive", "fast_valid"]


def derive(cls: type[Wire]) -> tuple[type[Schema], Schema, Plan]:
    """The schema class of declaration ``cls``, its shared instance and its plan."""
    infos = cls.__wire_fields__
    schema_class = _schema_class(cls, infos, cls._RULES)
    schema = schema_class()
    return schema_class, schema, _compile(cls, infos, schema, cls._RULES)


# --------------------------------------------------------------------------------------------
# The marshmallow schema of a declaration
# --------------------------------------------------------------------------------------------


class _WireSchema(Schema):
    """Base: unknown keys pass through unvalidated (see the docstring of :mod:`._decl`)."""

    class Meta:
        unknown = INCLUDE

    error_messages = {"type": "Must be a JSON object (a dict)."}


class TaggedMap(fields.Field[Any]):
    """A JSON object of name -> an object whose ``"type"`` picks its schema."""

    default_error_messages = {"invalid": "Must be a JSON object (a dict)."}

    def __init__(self, choices: Mapping[str, type[Wire]], tag: str = "type",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = dict(choices)
        self.tag = tag

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        errors: dict[Any, Any] = {}
        for name, item in value.items():
            if not isinstance(name, str):
                errors[name] = ["Keys must be strings."]
                continue
            if not isinstance(item, Mapping):
                errors[name] = ["Must be a JSON object (a dict)."]
                continue
            tag = item.get(self.tag)
            cls = self.choices.get(tag) if isinstance(tag, str) else None
            if cls is None:
                errors[name] = {self.tag: [
                    f"Must be one of: {', '.join(map(repr, self.choices))}."]}
                continue
            found = cls.schema().validate(item)
            if found:
                errors[name] = found
        if errors:
            raise ValidationError(errors)
        return value


def _schema_field(info: FieldInfo) -> fields.Field[Any]:
    decl = info.decl
    check: fields.Field[Any]
    if decl.one is not None:
        check = fields.Nested(decl.one._SCHEMA_CLASS)
    elif decl.many is not None:
        check = fields.List(fields.Nested(decl.many._SCHEMA_CLASS))
    elif decl.tagged is not None:
        check = TaggedMap(decl.tagged)
    elif isinstance(decl.check, Check):
        check = decl.check.make()
    elif decl.check is not None:  # a marshmallow field given as it is
        check = decl.check
    else:
        check = fields.Raw()
    # The declaration says it once: required keys are present and not null, the others
    # may be absent or null. (public attributes of marshmallow's Field)
    check.required = info.required
    check.allow_none = not info.required
    if info.key != info.attr:
        check.data_key = info.key
    return check


def _schema_class(cls: type[Wire], infos: Sequence[FieldInfo],
                  rules: tuple[Rule, ...]) -> type[Schema]:
    attrs: dict[str, Any] = {info.attr: _schema_field(info) for info in infos}
    for i, rule in enumerate(rules):
        attrs[f"_rule_{i}"] = validates_schema(_rule_hook(rule))
    return type(f"{cls.__name__}Schema", (_WireSchema,), attrs)


def _rule_hook(rule: Rule) -> Callable[..., None]:
    def hook(self: Schema, data: Mapping[str, Any], **kwargs: Any) -> None:
        rule(data)

    hook.__name__ = hook.__qualname__ = getattr(rule, "__name__", "rule")
    return hook


# --------------------------------------------------------------------------------------------
# The fast path: a plan compiled from the declaration
# --------------------------------------------------------------------------------------------

_PLAIN, _NESTED, _LIST_OF_NESTED, _EXACT = 0, 1, 2, 3

#: Field classes whose ``_deserialize`` accepts every value of exactly this Python type and
#: returns it unchanged (the JSON types a strict field takes; a float only when finite,
#: which the fast path checks too): for them the fast path tests ``type(value) is ...``
#: and runs the validators itself, instead of ``Field.deserialize`` (a value of any other
#: type still goes through ``deserialize``, which decides). ``Float`` returns
#: ``float(value)``, the value itself for a float.
_EXACT_TYPES: dict[type[fields.Field[Any]], type] = {
    _checks.Str: str, _checks.Role: str, _checks.Bool: bool, _checks.Float: float}


def _exact_type(field: fields.Field[Any]) -> type | None:
    if field.pre_load or field.post_load:
        return None
    exact = _EXACT_TYPES.get(type(field))
    if exact is None and type(field) is fields.Integer and field.strict:
        exact = int  # an int is Integral and int(value) is itself
    return exact


def _compile(cls: type[Wire], infos: Sequence[FieldInfo], schema: Schema,
             rules: tuple[Rule, ...]) -> Plan:
    # (field, kind, what the kind needs: the nested plan, or the exact type)
    checks: dict[str, tuple[fields.Field[Any], int, Any]] = {}
    for info in infos:
        bound = schema.fields[info.attr]  # the schema's own copy (public Schema.fields)
        if info.decl.one is not None:
            checks[info.key] = (bound, _NESTED, info.decl.one._PLAN)
        elif info.decl.many is not None:
            checks[info.key] = (bound, _LIST_OF_NESTED, info.decl.many._PLAN)
        else:
            exact = _exact_type(bound)
            checks[info.key] = (bound, _PLAIN, None) if exact is None else \
                (bound, _EXACT, exact)
    return Plan(tuple(i.key for i in infos if i.required), checks, rules,
                {i.key: i.attr for i in infos if i.key != i.attr})


def fast_valid(plan: Plan, data: Any) -> bool:
    """True only if marshmallow would find ``data`` valid; False means "ask marshmallow".

    The checks are marshmallow's own (each present field's ``deserialize`` with its
    validators, the rules); what is skipped is its per-call machinery and the fields that
    are absent, which is most of them. Anything unusual returns False and goes through the
    full validation, which is also what produces error messages.
    """
    if type(data) is not dict:
        return False
    for key in plan.required:
        if key not in data:
            return False
    checks = plan.checks
    for key, value in data.items():
        entry = checks.get(key)
        if entry is None:
            continue  # unknown keys pass (unknown=INCLUDE)
        field, kind, sub = entry
        if value is None:
            if field.allow_none:
                continue
            return False
        if kind == _EXACT and type(value) is sub and (sub is not float or value - value == 0.0):
            # What deserialize would do for this type: the value as it is, then the
            # validators (marshmallow's ``And`` fails only on a raise).
            try:
                for validator in field.validators:
                    validator(value)
            except ValidationError:
                return False
        elif kind == _NESTED:
            if not fast_valid(sub, value):
                return False
        elif kind == _LIST_OF_NESTED:
            if type(value) is not list:
                return False
            for item in value:
                if not fast_valid(sub, item):
                    return False
        else:
            try:
                field.deserialize(value, key, data)
            except ValidationError:
                return False
    if plan.rules:
        # Rules see loaded data, keyed by attribute name ("from_", not "from").
        renames = plan.renames
        loaded: Mapping[str, Any] = (
            {(renames[k] if k in renames else k): v for k, v in data.items()}
            if renames else data)
        for rule in plan.rules:
            try:
                rule(loaded)
            except ValidationError:
                return False
    return True


class Plan:
    """A declaration compiled for the fast path: the required keys, how to check each
    known key (by recursing into a nested declaration's plan, or with the bound marshmallow
    field of the schema), and the rules."""

    __slots__ = ("required", "checks", "rules", "renames")

    def __init__(self, required: tuple[str, ...],
                 checks: dict[str, tuple[fields.Field[Any], int, Any]],
                 rules: tuple[Rule, ...], renames: dict[str, str]) -> None:
        self.required = required
        self.checks = checks
        self.rules = rules
        self.renames = renames

    #: ``plan.passes(data)`` is ``fast_valid(plan, data)``, for callers that do not import
    #: this module (``_decl.validate_wire``).
    passes = fast_valid
