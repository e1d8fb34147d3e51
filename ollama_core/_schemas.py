"""Marshmallow schemas for the wire format of every request body, and the one validator.

The request dataclasses in :mod:`ollama_core._types` produce the wire dicts (``to_dict()``);
the schemas here say what a valid wire dict is, and :func:`validate_request` checks one
before it is sent. Validation never rewrites the data: it returns the dict it was given, so
what is sent is exactly what ``to_dict()`` built.

Decisions:

* **Unknown keys pass (``unknown=INCLUDE``) at every level.** The dataclasses never emit a
  key they do not know except from their explicit ``extra`` mapping, which exists precisely
  to send fields newer than this library (``_debug_render_only``, ``draft_files``, new
  options...). Rejecting unknown keys would make ``extra`` useless and break on every
  server release; unknown keys are therefore not validated.
* **Types are strict.** marshmallow's stock fields coerce (``"5"`` passes as an integer,
  ``"yes"`` as a boolean, bytes as a string); the wire is JSON read by Go, which rejects
  all of those, so the fields here accept only the JSON type itself.
* **Rules mirror the server's own 400s** (``top_logprobs`` 0..20, ``think`` values, raw
  mode, ``from``/``files`` on create, ``keep_alive`` forms) plus checks the server makes
  late or badly (an invalid ``format`` is a 500 from the runner; a bad option type is a 500
  at scheduling; a data-URL image is a confusing decode error).
* **Big arrays are checked by shape, not per element through marshmallow**: ``context`` and
  embed ``input`` are checked with plain loops, images with a C-speed base64 decode.
* Schemas are module-level singletons; marshmallow schemas are safe to reuse.
* **A fast path for valid requests.** Full marshmallow validation of a small chat request
  costs about 50 µs, mostly generic machinery and the many absent optional fields. Each
  schema is compiled once into a plan that runs the same field objects and validators on
  the keys actually present; only when that says "valid" is the full pass skipped. Anything
  else (including every invalid request) takes the full pass, which builds the errors. A
  test checks on random requests that the fast path never accepts what marshmallow rejects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema
from marshmallow.decorators import PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

from ._exceptions import InvalidRequestError

__all__ = [
    "ChatRequestSchema",
    "CopyRequestSchema",
    "CreateRequestSchema",
    "DeleteRequestSchema",
    "EmbedRequestSchema",
    "EmbeddingsRequestSchema",
    "GenerateRequestSchema",
    "MessageSchema",
    "OptionsSchema",
    "PullRequestSchema",
    "PushRequestSchema",
    "REQUEST_KINDS",
    "ShowRequestSchema",
    "ToolCallFunctionSchema",
    "ToolCallSchema",
    "ToolFunctionSchema",
    "ToolSchema",
    "validate_request",
]

ROLES = ("system", "user", "assistant", "tool")
THINK_LEVELS = ("low", "medium", "high", "max")

# Go's time.ParseDuration grammar: signed sequence of decimal numbers with units; a bare
# "0" is the only unit-less value it accepts. Both micro signs are accepted, as Go does.
_GO_DURATION = re.compile(
    r"[-+]?(?:(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+|0)"
)


# --------------------------------------------------------------------------------------------
# Strict fields
# --------------------------------------------------------------------------------------------


class _Str(fields.String):
    """A JSON string; unlike ``fields.String`` it does not take bytes."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty.")


def _model_name(**kwargs: Any) -> _Str:
    return _Str(validate=_not_blank, **kwargs)


class _Bool(fields.Boolean):
    """A JSON boolean; unlike ``fields.Boolean`` it does not take ``"yes"``, ``1``, ..."""

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and value is not True and value is not False


class _Float(fields.Float):
    """A finite JSON number (integers too); unlike ``fields.Float`` it does not take
    numeric strings."""

    def _validated(self, value: Any) -> float:
        if not _is_number(value):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def _int(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, allow_none=True, **kwargs)


class _Object(fields.Dict):
    """A JSON object, passed through without looking inside."""

    default_error_messages = {"invalid": "Must be a JSON object (a dict)."}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> dict[Any, Any]:
        if not isinstance(value, Mapping):
            raise self.make_error("invalid")
        return dict(value)


class _StrMap(fields.Dict):
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


class _StrOrStrList(fields.Field[Any]):
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


class _IntList(fields.Field[Any]):
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


class _Base64Image(fields.Field[str]):
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
        if not _is_base64(value):
            raise self.make_error("invalid")
        return value


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _is_base64(text: str) -> bool:
    """Is ``text`` padded standard base64, as Go's ``encoding/base64`` decodes it?

    Checked by shape instead of by decoding: ``bytes.translate`` deleting the alphabet is
    about 2.5x faster than ``binascii.a2b_base64`` on a multi-megabyte image and
    allocates nothing the size of the image.

    >>> _is_base64("aGk="), _is_base64("aGk"), _is_base64("a-k="), _is_base64("aG\\nk=")
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


class _KeepAlive(fields.Field[Any]):
    """Seconds as a JSON number, or a Go duration string (``"5m"``, ``"-1h"``, ``"1h30m"``)."""

    default_error_messages = {
        "invalid": ('Must be a number of seconds or a duration string such as "5m", '
                    '"1h30m" or "-1s".'),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if _is_number(value):
            if isinstance(value, float) and not math.isfinite(value):
                raise self.make_error("invalid")
            return value
        if isinstance(value, str) and _GO_DURATION.fullmatch(value):
            return value
        raise self.make_error("invalid")


class _Think(fields.Field[Any]):
    """``true``, ``false`` or a thinking level."""

    default_error_messages = {
        "invalid": 'Must be true, false, "low", "medium", "high" or "max".',
    }

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if value is True or value is False or (isinstance(value, str) and value in THINK_LEVELS):
            return value
        raise self.make_error("invalid")


class _Format(fields.Field[Any]):
    """``"json"``, ``""`` (no format) or a JSON-Schema object."""

    default_error_messages = {"invalid": 'Must be "json", "" or a JSON-schema object (a dict).'}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> Any:
        if value == "" or value == "json" or isinstance(value, Mapping):
            return value
        raise self.make_error("invalid")


# --------------------------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------------------------


class _WireSchema(Schema):
    """Base: unknown keys pass through unvalidated (see the module docstring)."""

    class Meta:
        unknown = INCLUDE

    error_messages = {"type": "Must be a JSON object (a dict)."}


def _opt_str() -> _Str:
    return _Str(allow_none=True)


def _opt_bool() -> _Bool:
    return _Bool(allow_none=True)


def _opt_float() -> _Float:
    return _Float(allow_none=True)


class OptionsSchema(_WireSchema):
    """``options``: the known options are type-checked, unknown ones pass untouched."""

    num_keep = _int()
    seed = _int()
    num_predict = _int(validate=validate.Range(
        min=-2, error="Must be -1 (no limit), -2 (fill the context) or a count >= 0."))
    top_k = _int()
    top_p = _opt_float()
    min_p = _opt_float()
    typical_p = _opt_float()
    repeat_last_n = _int()
    temperature = _opt_float()
    repeat_penalty = _opt_float()
    presence_penalty = _opt_float()
    frequency_penalty = _opt_float()
    stop = fields.List(_Str(), allow_none=True)
    num_ctx = _int()
    num_batch = _int()
    num_gpu = _int()
    main_gpu = _int()
    use_mmap = _opt_bool()
    num_thread = _int()
    draft_num_predict = _int()


class ToolCallFunctionSchema(_WireSchema):
    """``tool_calls[].function``: ``arguments`` must be an object (not a JSON string)."""

    name = _Str(required=True, validate=_not_blank)
    arguments = _Object(allow_none=True, error_messages={
        "invalid": "Must be a JSON object (a dict), not a JSON-encoded string."})
    index = _int()


class ToolCallSchema(_WireSchema):
    """One entry of a message's ``tool_calls``."""

    function = fields.Nested(ToolCallFunctionSchema, required=True)
    id = _opt_str()


class MessageSchema(_WireSchema):
    """One chat message."""

    role = _Str(required=True, validate=validate.OneOf(ROLES))
    content = _opt_str()
    thinking = _opt_str()
    images = fields.List(_Base64Image(), allow_none=True)
    tool_calls = fields.List(fields.Nested(ToolCallSchema), allow_none=True)
    tool_name = _opt_str()
    tool_call_id = _opt_str()


class ToolFunctionSchema(_WireSchema):
    """``tools[].function``: a name, an optional description and a JSON-Schema object."""

    name = _Str(required=True, validate=_not_blank)
    description = _opt_str()
    parameters = _Object(allow_none=True)


class ToolSchema(_WireSchema):
    """One tool definition; only ``type: "function"`` exists."""

    type = _Str(required=True, validate=validate.OneOf(["function"], error='Must be "function".'))
    function = fields.Nested(ToolFunctionSchema, required=True)


class _InferenceSchema(_WireSchema):
    """Fields shared by chat and generate."""

    model = _model_name(required=True)
    format = _Format(allow_none=True)
    options = fields.Nested(OptionsSchema, allow_none=True)
    stream = _opt_bool()
    keep_alive = _KeepAlive(allow_none=True)
    think = _Think(allow_none=True)
    truncate = _opt_bool()
    shift = _opt_bool()
    logprobs = _opt_bool()
    top_logprobs = _int(validate=validate.Range(min=0, max=20))


class ChatRequestSchema(_InferenceSchema):
    """``POST /api/chat``."""

    messages = fields.List(fields.Nested(MessageSchema), allow_none=True)
    tools = fields.List(fields.Nested(ToolSchema), allow_none=True)


class GenerateRequestSchema(_InferenceSchema):
    """``POST /api/generate``."""

    prompt = _opt_str()
    suffix = _opt_str()
    system = _opt_str()
    template = _opt_str()
    context = _IntList(allow_none=True)
    raw = _opt_bool()
    images = fields.List(_Base64Image(), allow_none=True)

    @validates_schema
    def _raw_mode(self, data: dict[str, Any], **kwargs: Any) -> None:
        # The server answers 400 for this; catching it here names the field.
        if data.get("raw") and (data.get("template") or data.get("system") or data.get("context")):
            raise ValidationError(
                "Cannot be combined with template, system or context (raw mode skips "
                "templating).", "raw")


class EmbedRequestSchema(_WireSchema):
    """``POST /api/embed``."""

    model = _model_name(required=True)
    input = _StrOrStrList(allow_none=True)
    truncate = _opt_bool()
    dimensions = _int(validate=validate.Range(min=1))
    keep_alive = _KeepAlive(allow_none=True)
    options = fields.Nested(OptionsSchema, allow_none=True)


class EmbeddingsRequestSchema(_WireSchema):
    """``POST /api/embeddings`` (legacy)."""

    model = _model_name(required=True)
    prompt = _opt_str()
    keep_alive = _KeepAlive(allow_none=True)
    options = fields.Nested(OptionsSchema, allow_none=True)


class CreateRequestSchema(_WireSchema):
    """``POST /api/create``."""

    model = _model_name(required=True)
    from_ = _Str(data_key="from", allow_none=True)
    files = _StrMap(allow_none=True)
    adapters = _StrMap(allow_none=True)
    template = _opt_str()
    license = _StrOrStrList(allow_none=True)
    system = _opt_str()
    parameters = _Object(allow_none=True)
    messages = fields.List(fields.Nested(MessageSchema), allow_none=True)
    quantize = _opt_str()
    renderer = _opt_str()
    parser = _opt_str()
    stream = _opt_bool()

    @validates_schema
    def _source(self, data: dict[str, Any], **kwargs: Any) -> None:
        # The server fails with "neither 'from' or 'files' was specified" (in the stream,
        # after the request was accepted); a manifest ``list`` (newer servers) is the
        # only other source it takes.
        if not data.get("from_") and not data.get("files") and not data.get("list"):
            raise ValidationError('Either "from" (a model) or "files" (blobs) is required.',
                                  "from")


class PullRequestSchema(_WireSchema):
    """``POST /api/pull``."""

    model = _model_name(required=True)
    insecure = _opt_bool()
    stream = _opt_bool()


class PushRequestSchema(PullRequestSchema):
    """``POST /api/push``."""


class CopyRequestSchema(_WireSchema):
    """``POST /api/copy``."""

    source = _model_name(required=True)
    destination = _model_name(required=True)


class DeleteRequestSchema(_WireSchema):
    """``DELETE /api/delete``."""

    model = _model_name(required=True)


class ShowRequestSchema(_WireSchema):
    """``POST /api/show``."""

    model = _model_name(required=True)
    verbose = _opt_bool()
    system = _opt_str()
    options = fields.Nested(OptionsSchema, allow_none=True)


_SCHEMAS: dict[str, Schema] = {
    "chat": ChatRequestSchema(),
    "generate": GenerateRequestSchema(),
    "embed": EmbedRequestSchema(),
    "embeddings": EmbeddingsRequestSchema(),
    "create": CreateRequestSchema(),
    "pull": PullRequestSchema(),
    "push": PushRequestSchema(),
    "copy": CopyRequestSchema(),
    "delete": DeleteRequestSchema(),
    "show": ShowRequestSchema(),
}

#: Fast-path plans compiled from the schemas above (see _fast_valid), by kind.
_PLANS: dict[str, _Plan | None] = {}

def _kinds() -> frozenset[str]:
    from ._wire import account, systemone, web  # noqa: F401 - they register their kinds
    from ._wire._decl import REQUESTS

    return frozenset(_SCHEMAS) | frozenset(REQUESTS)


#: The ``kind`` values :func:`validate_request` accepts.
REQUEST_KINDS: frozenset[str] = _kinds()


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


class _Plan:
    """A schema compiled for the fast path: which keys are required, and how to check each
    known key (by recursing into a nested schema, or with the marshmallow field itself)."""

    __slots__ = ("required", "checks", "schema_validators", "renames")

    def __init__(self) -> None:
        self.renames: dict[str, str] = {}
        self.required: tuple[str, ...] = ()
        self.checks: dict[str, tuple[fields.Field[Any], int, _Plan | None]] = {}
        self.schema_validators: tuple[Any, ...] = ()


_PLAIN, _NESTED, _LIST_OF_NESTED = 0, 1, 2


def _compile(schema: Schema) -> _Plan | None:
    """A fast-path plan for ``schema``, or ``None`` when it uses a feature the fast path does
    not drive (field-level ``@validates`` hooks, pre-load processors): those always take the
    full marshmallow path."""
    hooks = schema._hooks
    if hooks[VALIDATES] or hooks[PRE_LOAD] or any(h[1] for h in hooks[VALIDATES_SCHEMA]):
        return None
    plan = _Plan()
    required = []
    for name, field in schema.load_fields.items():
        key = field.data_key or name
        if key != name:
            plan.renames[key] = name
        if field.required:
            required.append(key)
        sub: _Plan | None = None
        kind = _PLAIN
        if not field.validators:
            if isinstance(field, fields.Nested) and isinstance(field.schema, Schema) \
                    and not field.schema.many:
                sub, kind = _compile(field.schema), _NESTED
            elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) \
                    and isinstance(field.inner.schema, Schema) and not field.inner.schema.many:
                sub, kind = _compile(field.inner.schema), _LIST_OF_NESTED
            if kind != _PLAIN and sub is None:
                kind = _PLAIN
        plan.checks[key] = (field, kind, sub)
    plan.required = tuple(required)
    plan.schema_validators = tuple(getattr(schema, attr) for attr, _, _ in
                                   hooks[VALIDATES_SCHEMA])
    return plan


def _fast_valid(plan: _Plan, data: Any) -> bool:
    """True only if marshmallow would find ``data`` valid; False means "ask marshmallow".

    The checks are marshmallow's own (each present field's ``deserialize`` with its
    validators, the schema-level validators); what is skipped is its per-call machinery
    and the fields that are absent, which is most of them. Anything unusual returns False
    and goes through the full validation, which is also what produces error messages.
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
        if kind == _NESTED:
            if not _fast_valid(sub, value):  # type: ignore[arg-type]
                return False
        elif kind == _LIST_OF_NESTED:
            if type(value) is not list:
                return False
            for item in value:
                if not _fast_valid(sub, item):  # type: ignore[arg-type]
                    return False
        else:
            try:
                field.deserialize(value, key, data)
            except ValidationError:
                return False
    if plan.schema_validators:
        # Schema validators see loaded data, keyed by attribute name ("from_", not "from").
        renames = plan.renames
        loaded = {renames.get(k, k): v for k, v in data.items()} if renames else data
    for validator in plan.schema_validators:
        try:
            validator(loaded, partial=None, many=False)
        except ValidationError:
            return False
    return True


def validate_request(kind: str, wire: Mapping[str, Any]) -> dict[str, Any]:
    """Check the wire body of a ``kind`` request and return it, unchanged.

    Args:
        kind: one of :data:`REQUEST_KINDS` (``"chat"``, ``"generate"``, ``"embed"``,
            ``"embeddings"``, ``"create"``, ``"pull"``, ``"push"``, ``"copy"``,
            ``"delete"``, ``"show"``).
        wire: the JSON body as a dict (e.g. a request's ``to_dict()``).

    Returns:
        ``wire`` itself when it is a ``dict`` (a ``dict`` copy of any other mapping).

    Raises:
        InvalidRequestError: with ``.field`` the dotted path of the first bad field
            (``"messages.0.role"``, ``"options.num_predict"``, ``"images.1"``;
            ``None`` when the body itself is not an object), ``.errors`` every bad path
            with its messages, and a message such as
            ``invalid request: messages.0.role: Must be one of: system, user, assistant, tool.``
        ValueError: ``kind`` is unknown (a programming error, not a bad request).

    >>> validate_request("delete", {"model": "llama3.2"})
    {'model': 'llama3.2'}
    """
    schema = _SCHEMAS.get(kind)
    if schema is None and kind in REQUEST_KINDS:
        from ._wire._decl import validate_request as validate_declared

        return validate_declared(kind, wire)
    if schema is None:
        raise ValueError(f"unknown request kind {kind!r}; expected one of {sorted(REQUEST_KINDS)}")
    plan = _PLANS.get(kind)
    if plan is not None and _fast_valid(plan, wire):
        return wire  # type: ignore[return-value]  # _fast_valid only passes a real dict
    errors = schema.validate(wire)
    if errors:
        # marshmallow reports in schema-declaration order; "first" should follow the body.
        position = {key: i for i, key in enumerate(wire)} if isinstance(wire, Mapping) else {}
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
    return wire if isinstance(wire, dict) else dict(wire)


_PLANS.update({kind: _compile(schema) for kind, schema in _SCHEMAS.items()})
