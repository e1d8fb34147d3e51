"""Typed request and response objects for the Ollama REST API.

Every class is a plain ``@dataclass(slots=True)`` that mirrors one JSON object of the API
(field names are the wire names; the one exception is ``CreateRequest.from_``, sent as
``"from"``). Each has:

* ``to_dict()``: the exact wire JSON shape. ``None`` fields are left out, enums become their
  values, nested objects become dicts, and the ``extra`` mapping is merged in (typed fields win
  on a clash). The result is shallow: lists and dicts of plain data (embeddings, schemas,
  tool arguments) are shared with the object, not copied.
* ``from_dict(d)``: the reverse. Keys the class does not know are kept in ``extra`` and come
  back out of ``to_dict()``, so fields a newer server adds are never lost. ``from_dict`` does
  not validate anything.
* dict-style read access (``resp["message"]["content"]``, ``"done" in resp``,
  ``resp.get("x")``) over the fields and ``extra``, like the official client's models. A field
  whose value is ``None`` counts as absent for ``in`` and ``get``.

Requests accept nested values either typed or as plain dicts of the wire shape
(``messages=[{"role": "user", "content": "hi"}]``, ``options={"temperature": 0}``); request
classes and ``Tool`` convert such dicts to typed objects when constructed, and ``to_dict()``
normalises whatever is there at call time. Requests are validated by ``validate()``, which
returns the wire dict to send and raises :class:`~ollama_core.InvalidRequestError`.

Response ``from_dict`` runs once per stream chunk, so the hot ones (chat, generate, messages,
tool calls, logprobs, progress, embed) are hand-written ``dict.get`` constructors. Measured
with CPython 3.11 on the development VM: ``ChatResponse.from_dict`` of a partial chat chunk
2.4 µs, of a final chunk with all six metrics 2.6 µs, ``GenerateResponse.from_dict`` of a
partial chunk 1.7 µs, against 1.6 µs for ``json.loads`` of the chat line itself::

    python -m timeit -s "from ollama_core._types import ChatResponse as C; \
d={'model':'m','created_at':'t','message':{'role':'assistant','content':'Hi'},'done':False}" \
"C.from_dict(d)"
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, fields
from enum import StrEnum
from typing import (
    TYPE_CHECKING,
    Any,
    ClassVar,
    Literal,
    NamedTuple,
    Protocol,
    Self,
    TypeAlias,
    TypeGuard,
    TypeVar,
    cast,
)

from ._jsoncheck import check_json
from ._schemas import validate_request
from ._wire.account import (
    CloudStatus,
    ModelRecommendation,
    ModelRecommendationsResponse,
    StatusResponse,
    UserResponse,
)
from ._wire.systemone import (
    SystemOneAnswer,
    SystemOneChoiceAnswer,
    SystemOneChoiceQuestion,
    SystemOneContent,
    SystemOneNoulAnswer,
    SystemOneNoulQuestion,
    SystemOneQuestion,
    SystemOneRequest,
    SystemOneResponse,
    SystemOneScoreAnswer,
    SystemOneScoreQuestion,
    SystemOneUsage,
)
from ._wire.web import (
    WebFetchRequest,
    WebFetchResponse,
    WebSearchRequest,
    WebSearchResponse,
    WebSearchResult,
)

if TYPE_CHECKING:
    from ._builders import (
        ChatRequestBuilder,
        CreateRequestBuilder,
        EmbedRequestBuilder,
        GenerateRequestBuilder,
    )

__all__ = [
    "ChatMessage",
    "ChatRequest",
    "ChatResponse",
    "CloudStatus",
    "CreateRequest",
    "EmbedRequest",
    "EmbedResponse",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "GenerateRequest",
    "GenerateResponse",
    "KeepAlive",
    "Logprob",
    "MessageRole",
    "Metrics",
    "ModelDetails",
    "ModelEntry",
    "ModelInfo",
    "ModelRecommendation",
    "ModelRecommendationsResponse",
    "Options",
    "ProgressResponse",
    "RunningModelsResponse",
    "StatusResponse",
    "SystemOneAnswer",
    "SystemOneChoiceAnswer",
    "SystemOneChoiceQuestion",
    "SystemOneContent",
    "SystemOneNoulAnswer",
    "SystemOneNoulQuestion",
    "SystemOneQuestion",
    "SystemOneRequest",
    "SystemOneResponse",
    "SystemOneScoreAnswer",
    "SystemOneScoreQuestion",
    "SystemOneUsage",
    "TagsResponse",
    "ThinkLevel",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallFunction",
    "ToolFunction",
    "UserResponse",
    "WebFetchRequest",
    "WebFetchResponse",
    "WebSearchRequest",
    "WebSearchResponse",
    "WebSearchResult",
]


class MessageRole(StrEnum):
    """The author of a chat message. Being a ``str``, it compares equal to its value."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


ThinkLevel: TypeAlias = Literal["low", "medium", "high", "max"]
#: A Go duration string (``"5m"``, ``"-1h"``) or a number of seconds (``0`` unloads at once,
#: negative keeps the model loaded forever).
KeepAlive: TypeAlias = "float | str"

# Known role strings map to the enum through a dict lookup: Enum.__call__ is ~10x slower and
# this runs for every streamed chat chunk.
_ROLES: dict[str, MessageRole] = {r.value: r for r in MessageRole}


# --------------------------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------------------------


class _Conv(NamedTuple):
    """How one nested field moves between wire data and typed objects."""

    load: Callable[[Any], Any]
    dump: Callable[[Any], Any]


def _extra(d: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The entries of ``d`` whose keys are not in ``known``."""
    # The subset test runs in C and is the common case (no unknown keys), so the
    # comprehension is only paid for when the server actually sent something new.
    if d.keys() <= known:
        return {}
    return {k: v for k, v in d.items() if k not in known}


_W = TypeVar("_W", bound="_Wire")
_WC = TypeVar("_WC", bound="type[_Wire]")


class SupportsModelDump(Protocol):
    """A pydantic model (ollama-python's ``Message``, ``Options``, ``Tool``): taken as the
    mapping its ``model_dump()`` gives."""

    def model_dump(self) -> dict[str, Any]: ...


_NOT_MODELS = frozenset({str, bytes, int, float, bool, list, tuple, dict, type(None)})


def _dumped(value: Any) -> Any:
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


def _typed(cls: type[_W], value: Any) -> Any:
    """``value`` as a ``cls`` when it is a mapping (or a pydantic model); anything else is
    left for validation."""
    # _Wire objects are not Mappings, so typed values (of any class) pass through.
    if isinstance(value, Mapping):
        return cls.from_dict(value)
    value = _dumped(value)
    return cls.from_dict(value) if isinstance(value, Mapping) else value


def _to_wire(value: Any) -> Any:
    """``value`` in its wire form: typed objects become dicts, other mappings (and pydantic
    models) plain dicts."""
    if isinstance(value, _Wire):
        return value.to_dict()
    if isinstance(value, Mapping):
        return value if isinstance(value, dict) else dict(value)
    return _dumped(value)


def _one(cls: type[_Wire]) -> _Conv:
    """Converter for a field holding one nested ``cls`` (typed or as a dict)."""

    def dump(value: Any) -> Any:
        value = _dumped(value)
        if isinstance(value, Mapping):
            value = cls.from_dict(value)  # normalises typed values nested inside the dict
        return _to_wire(value)

    return _Conv(lambda v: _typed(cls, v), dump)


def _many(cls: type[_Wire]) -> _Conv:
    """Converter for a field holding a list of nested ``cls`` (each typed or a dict)."""
    one = _one(cls)

    def load(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [_typed(cls, v) for v in value]
        return value

    def dump(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [one.dump(v) for v in value]
        return value

    return _Conv(load, dump)


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


def _dump_role(value: Any) -> Any:
    return value.value if isinstance(value, MessageRole) else value


_LIST = _Conv(_as_list, _as_list)
_IMAGES = _Conv(_as_list, _dump_images)
_MAPPING = _Conv(lambda v: v, _to_wire)
_ROLE = _Conv(lambda v: _ROLES.get(v, v) if isinstance(v, str) else v, _dump_role)
_NO_NESTED: Mapping[str, _Conv] = {}


class _Wire:
    """Base of every wire object: generic ``to_dict``/``from_dict`` and dict-style access.

    The class-level tables are filled in by :func:`_wire` once the dataclass exists.
    """

    __slots__ = ()

    #: (attribute, wire key) for every field except ``extra``, in declaration order.
    _KEYS: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: wire key -> attribute, only for keys that differ (``"from"`` -> ``"from_"``).
    _ATTR_OF: ClassVar[Mapping[str, str]] = {}
    #: attribute names of all fields except ``extra``.
    _FIELDS: ClassVar[frozenset[str]] = frozenset()
    #: converters of nested fields, by attribute.
    _NESTED: ClassVar[Mapping[str, _Conv]] = _NO_NESTED
    #: values ``from_dict`` passes for required constructor arguments missing from the data
    #: (``None``, which ``to_dict`` leaves out), so that validation reports them as missing
    #: instead of the constructor raising ``TypeError``.
    _MISSING: ClassVar[Mapping[str, Any]] = {}

    if TYPE_CHECKING:
        extra: dict[str, Any]

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


def _wire(cls: _WC) -> _WC:
    """Fill in the field tables of a ``_Wire`` dataclass (run after ``@dataclass``)."""
    keys = tuple(
        (f.name, str(f.metadata.get("wire", f.name)))
        for f in fields(cast(Any, cls))
        if f.name != "extra"
    )
    cls._KEYS = keys
    cls._ATTR_OF = {key: attr for attr, key in keys if key != attr}
    cls._FIELDS = frozenset(attr for attr, _ in keys)
    return cls


class _Normalised(_Wire):
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


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _is_number(value: Any) -> TypeGuard[float]:
    # A server that sends a string or a bool where a figure belongs gets no derived figure,
    # rather than a TypeError from a property.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ns_to_s(ns: int | None) -> float | None:
    return ns / 1e9 if _is_number(ns) else None


def _rate(count: int | None, duration_ns: int | None) -> float | None:
    if not _is_number(count) or not _is_number(duration_ns) or not duration_ns:
        return None
    return count / duration_ns * 1e9


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics:
    """Timing figures of a final chunk, with derived rates. Durations are nanoseconds.

    The server leaves a metric out when it is 0, so every figure may be ``None``.
    """

    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None

    @property
    def tokens_per_second(self) -> float | None:
        """Generated tokens per second (``eval_count / eval_duration * 1e9``)."""
        return _rate(self.eval_count, self.eval_duration)

    @property
    def prompt_tokens_per_second(self) -> float | None:
        """Prompt tokens processed per second."""
        return _rate(self.prompt_eval_count, self.prompt_eval_duration)

    @property
    def total_seconds(self) -> float | None:
        """Wall time of the whole request on the server, in seconds."""
        return _ns_to_s(self.total_duration)

    @property
    def load_seconds(self) -> float | None:
        """Time spent loading the model, in seconds."""
        return _ns_to_s(self.load_duration)

    @property
    def prompt_eval_seconds(self) -> float | None:
        """Time spent on the prompt, in seconds."""
        return _ns_to_s(self.prompt_eval_duration)

    @property
    def eval_seconds(self) -> float | None:
        """Time spent generating, in seconds."""
        return _ns_to_s(self.eval_duration)


# --------------------------------------------------------------------------------------------
# Nested objects: logprobs, tool calls, messages, tools, options
# --------------------------------------------------------------------------------------------

_TOKEN_LOGPROB_KEYS = frozenset({"token", "logprob", "bytes"})
_LOGPROB_KEYS = _TOKEN_LOGPROB_KEYS | {"top_logprobs"}


@dataclass(slots=True, kw_only=True)
class _TokenFields(_Wire):
    # ``extra`` is declared by the concrete classes so that it stays the last field.
    token: str = ""
    logprob: float = 0.0
    bytes: list[int] | None = None


@_wire
@dataclass(slots=True, kw_only=True)
class TokenLogprob(_TokenFields):
    """One candidate token with its log probability (``bytes``: its UTF-8 bytes, if sent)."""

    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs per token when logprobs are on)."""
        return cls(
            token=d.get("token", ""),
            logprob=d.get("logprob", 0.0),
            bytes=d.get("bytes"),
            extra=_extra(d, _TOKEN_LOGPROB_KEYS),
        )


@_wire
@dataclass(slots=True, kw_only=True)
class Logprob(_TokenFields):
    """The chosen token at one position, plus the ``top_logprobs`` alternatives."""

    top_logprobs: list[TokenLogprob] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"top_logprobs": _many(TokenLogprob)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs per token when logprobs are on)."""
        top = d.get("top_logprobs")
        return cls(
            token=d.get("token", ""),
            logprob=d.get("logprob", 0.0),
            bytes=d.get("bytes"),
            top_logprobs=[TokenLogprob.from_dict(t) if isinstance(t, Mapping) else t
                          for t in top] if isinstance(top, list) else top,
            extra=_extra(d, _LOGPROB_KEYS),
        )


def _logprobs(value: Any) -> list[Logprob] | None:
    # Like every nested field, a value that is not what the API sends (not a list, an item
    # that is not an object) is kept as it came instead of failing the whole chunk.
    if not isinstance(value, list):
        return value  # type: ignore[no-any-return]
    return [Logprob.from_dict(x) if isinstance(x, Mapping) else x for x in value]


_TOOL_CALL_FUNCTION_KEYS = frozenset({"name", "arguments", "index"})
_TOOL_CALL_KEYS = frozenset({"function", "id"})


@_wire
@dataclass(slots=True, kw_only=True)
class ToolCallFunction(_Wire):
    """The function a model asked to call. ``arguments`` is a JSON object, not a string."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    index: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: tool calls arrive in stream chunks)."""
        name: Any = d.get("name")
        return cls(
            name=name,
            arguments=d.get("arguments", {}),
            index=d.get("index"),
            extra=_extra(d, _TOOL_CALL_FUNCTION_KEYS),
        )


@_wire
@dataclass(slots=True, kw_only=True)
class ToolCall(_Wire):
    """A tool call of an assistant message. ``id`` is echoed back as ``tool_call_id``."""

    function: ToolCallFunction
    id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"function": _one(ToolCallFunction)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: tool calls arrive in stream chunks)."""
        fn: Any = d.get("function")
        return cls(
            function=ToolCallFunction.from_dict(fn) if isinstance(fn, dict) else fn,
            id=d.get("id"),
            extra=_extra(d, _TOOL_CALL_KEYS),
        )


_MESSAGE_KEYS = frozenset(
    {"role", "content", "thinking", "images", "tool_calls", "tool_name", "tool_call_id"}
)
_ROLE_CONTENT = frozenset({"role", "content"})


@_wire
@dataclass(slots=True)
class ChatMessage(_Wire):
    """One chat message. ``role`` and ``content`` may be given positionally.

    ``images`` holds base64 strings; raw ``bytes`` are accepted and encoded by ``to_dict``,
    and paths (``os.PathLike``) are read and encoded by the ``vision_support`` plugin.
    ``tool_calls`` is typed for reading responses; wire dicts placed there work too
    (``to_dict`` normalises them). ``tool_name`` / ``tool_call_id`` belong on
    ``role="tool"`` results. Unlike requests, a message does not convert nested dicts when
    constructed: it is built once per streamed chunk and that would cost every chunk.
    """

    role: MessageRole | str
    content: str = ""
    _: KW_ONLY
    thinking: str | None = None
    images: Sequence[str | bytes | os.PathLike[str]] | None = None
    tool_calls: list[ToolCall] | None = None
    tool_name: str | None = None
    tool_call_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"role": _ROLE, "images": _IMAGES, "tool_calls": _many(ToolCall)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs once per streamed chat chunk)."""
        role: Any = d.get("role")
        if d.keys() <= _ROLE_CONTENT:  # a plain streamed chunk: half the cost of the rest
            return cls(_ROLES.get(role, role) if isinstance(role, str) else role,
                       d.get("content", ""))
        calls = d.get("tool_calls")
        return cls(
            _ROLES.get(role, role) if isinstance(role, str) else role,
            d.get("content", ""),
            thinking=d.get("thinking"),
            images=d.get("images"),
            tool_calls=[_typed(ToolCall, c) for c in calls] if isinstance(calls, list) else calls,
            tool_name=d.get("tool_name"),
            tool_call_id=d.get("tool_call_id"),
            extra=_extra(d, _MESSAGE_KEYS),
        )


@_wire
@dataclass(slots=True, kw_only=True)
class ToolFunction(_Wire):
    """A function the model may call: ``parameters`` is a JSON-Schema object."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"parameters": _MAPPING}
    _MISSING = {"name": None}


@_wire
@dataclass(slots=True, kw_only=True)
class Tool(_Normalised):
    """A tool definition: ``{"type": "function", "function": {...}}``."""

    type: str = "function"
    function: ToolFunction | Mapping[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"function": _one(ToolFunction)}
    _MISSING = {"function": None}


@_wire
@dataclass(slots=True, kw_only=True)
class Options(_Wire):
    """Model options (``options`` of chat/generate/embed). All default to the server's choice.

    Options the server does not know (old ones such as ``mirostat``, or new ones) go in
    ``extra``; ``from_dict`` puts unknown keys there and ``to_dict`` merges them back.
    """

    # runtime options
    num_keep: int | None = None
    seed: int | None = None
    num_predict: int | None = None
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None
    typical_p: float | None = None
    repeat_last_n: int | None = None
    temperature: float | None = None
    repeat_penalty: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stop: Sequence[str] | None = None
    # load-time options (changing one reloads the model)
    num_ctx: int | None = None
    num_batch: int | None = None
    num_gpu: int | None = None
    main_gpu: int | None = None
    use_mmap: bool | None = None
    num_thread: int | None = None
    draft_num_predict: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"stop": _LIST}


OptionsLike: TypeAlias = "Options | Mapping[str, Any] | SupportsModelDump"
MessageLike: TypeAlias = "ChatMessage | Mapping[str, Any] | SupportsModelDump"
ToolLike: TypeAlias = "Tool | Mapping[str, Any] | SupportsModelDump"
FormatLike: TypeAlias = "str | Mapping[str, Any]"


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


class _Request(_Normalised):
    """Shared request behaviour: validation and the ``model`` placeholder for ``from_dict``."""

    __slots__ = ()

    #: the ``validate_request`` kind of this request
    _KIND: ClassVar[str] = ""
    _MISSING = {"model": None}

    def validate(self) -> dict[str, Any]:
        """Validate and return the wire JSON to send.

        The checks are the client's own (the schemas, then ``check_json`` over the whole
        body); the client makes them right before sending, on the body as its plugins
        left it.

        Raises:
            InvalidRequestError: ``.field`` is the dotted path of the first bad field
                (``"messages.0.role"``), ``.errors`` maps every bad path to its messages.
        """
        wire = validate_request(self._KIND, self.to_dict())
        check_json(wire)  # the client's own final check: NaN, non-JSON values, surrogates
        return wire


_INFERENCE_NESTED: Mapping[str, _Conv] = {
    "options": _one(Options),
    "format": _MAPPING,
}


@_wire
@dataclass(slots=True, kw_only=True)
class ChatRequest(_Request):
    """``POST /api/chat``. An empty ``messages`` list just loads the model."""

    model: str
    messages: Sequence[MessageLike] = field(default_factory=list)
    tools: Sequence[ToolLike] | None = None
    format: FormatLike | None = None
    options: OptionsLike | None = None
    stream: bool | None = None
    keep_alive: KeepAlive | None = None
    think: bool | ThinkLevel | None = None
    truncate: bool | None = None
    shift: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KIND = "chat"
    _NESTED = {
        "messages": _many(ChatMessage),
        "tools": _many(Tool),
        **_INFERENCE_NESTED,
    }

    @classmethod
    def builder(cls) -> ChatRequestBuilder:
        """A fluent :class:`~ollama_core._builders.ChatRequestBuilder`."""
        from ._builders import ChatRequestBuilder

        return ChatRequestBuilder()


@_wire
@dataclass(slots=True, kw_only=True)
class GenerateRequest(_Request):
    """``POST /api/generate``. Without ``prompt`` it just loads the model.

    ``images`` holds base64 strings; raw ``bytes`` are accepted and encoded by ``to_dict``,
    and paths (``os.PathLike``) are read and encoded by the ``vision_support`` plugin.
    ``raw=True`` cannot be combined with ``template``, ``system`` or ``context``.
    """

    model: str
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    template: str | None = None
    context: Sequence[int] | None = None
    raw: bool | None = None
    format: FormatLike | None = None
    images: Sequence[str | bytes | os.PathLike[str]] | None = None
    options: OptionsLike | None = None
    stream: bool | None = None
    keep_alive: KeepAlive | None = None
    think: bool | ThinkLevel | None = None
    truncate: bool | None = None
    shift: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KIND = "generate"
    _NESTED = {"context": _LIST, "images": _IMAGES, **_INFERENCE_NESTED}

    @classmethod
    def builder(cls) -> GenerateRequestBuilder:
        """A fluent :class:`~ollama_core._builders.GenerateRequestBuilder`."""
        from ._builders import GenerateRequestBuilder

        return GenerateRequestBuilder()


@_wire
@dataclass(slots=True, kw_only=True)
class EmbedRequest(_Request):
    """``POST /api/embed``: one string or a list of strings. ``truncate`` defaults to true
    on the server; ``dimensions`` cuts the vectors to that size."""

    model: str
    input: str | Sequence[str] | None = None
    truncate: bool | None = None
    dimensions: int | None = None
    keep_alive: KeepAlive | None = None
    options: OptionsLike | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KIND = "embed"
    _NESTED = {"input": _LIST, "options": _one(Options)}

    @classmethod
    def builder(cls) -> EmbedRequestBuilder:
        """A fluent :class:`~ollama_core._builders.EmbedRequestBuilder`."""
        from ._builders import EmbedRequestBuilder

        return EmbedRequestBuilder()


@_wire
@dataclass(slots=True, kw_only=True)
class EmbeddingsRequest(_Request):
    """``POST /api/embeddings`` (legacy, one prompt, no metrics; prefer :class:`EmbedRequest`)."""

    model: str
    prompt: str | None = None
    keep_alive: KeepAlive | None = None
    options: OptionsLike | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KIND = "embeddings"
    _NESTED = {"options": _one(Options)}


@_wire
@dataclass(slots=True, kw_only=True)
class CreateRequest(_Request):
    """``POST /api/create``. Needs ``from_`` (sent as ``"from"``) or ``files``.

    ``files`` and ``adapters`` map file names to ``sha256:`` digests of uploaded blobs.
    Newer server fields (``draft_quantize``, ``draft_files``, ``remote_host``, ``requires``,
    ``info``) can be passed in ``extra``.
    """

    model: str
    from_: str | None = field(default=None, metadata={"wire": "from"})
    files: dict[str, str] | None = None
    adapters: dict[str, str] | None = None
    template: str | None = None
    license: str | Sequence[str] | None = None
    system: str | None = None
    parameters: dict[str, Any] | None = None
    messages: Sequence[MessageLike] | None = None
    quantize: str | None = None
    renderer: str | None = None
    parser: str | None = None
    stream: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _KIND = "create"
    _NESTED = {
        "files": _MAPPING,
        "adapters": _MAPPING,
        "license": _LIST,
        "parameters": _MAPPING,
        "messages": _many(ChatMessage),
    }

    @classmethod
    def builder(cls) -> CreateRequestBuilder:
        """A fluent :class:`~ollama_core._builders.CreateRequestBuilder`."""
        from ._builders import CreateRequestBuilder

        return CreateRequestBuilder()


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


@dataclass(slots=True, kw_only=True)
class _GenerationResponse(_Wire):
    """Fields shared by chat and generate chunks. Metrics are on the final chunk only."""

    model: str = ""
    created_at: str | None = None
    done: bool = False
    done_reason: str | None = None
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None
    logprobs: list[Logprob] | None = None
    remote_model: str | None = None
    remote_host: str | None = None
    # ``extra`` is declared by the concrete classes so that it stays the last field.

    @property
    def metrics(self) -> Metrics:
        """The timing figures of this chunk (all ``None`` on partial chunks)."""
        return Metrics(
            total_duration=self.total_duration,
            load_duration=self.load_duration,
            prompt_eval_count=self.prompt_eval_count,
            prompt_eval_duration=self.prompt_eval_duration,
            eval_count=self.eval_count,
            eval_duration=self.eval_duration,
        )


def _assistant() -> ChatMessage:
    return ChatMessage(MessageRole.ASSISTANT)


_CHAT_RESPONSE_KEYS = frozenset(
    {
        "model", "created_at", "message", "done", "done_reason", "total_duration",
        "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count",
        "eval_duration", "logprobs", "remote_model", "remote_host",
    }
)


@_wire
@dataclass(slots=True, kw_only=True)
class ChatResponse(_GenerationResponse):
    """One ``/api/chat`` chunk (or the whole answer with ``stream: false``)."""

    message: ChatMessage = field(default_factory=_assistant)
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"message": _one(ChatMessage), "logprobs": _many(Logprob)}

    @property
    def content(self) -> str:
        """Shortcut for ``message.content``."""
        return self.message.content

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs once per streamed chunk)."""
        msg = d.get("message")
        if d.keys() <= _CHAT_RESPONSE_KEYS:
            # No unknown keys (the common case): pass only the keys present and let the
            # dataclass defaults fill the rest, 1.5x faster than naming all 16 fields.
            kwargs = dict(d)
            if type(msg) is dict and len(msg) == 2 and "content" in msg and "role" in msg:
                # ChatMessage.from_dict's own fast path, inlined: it is half of the cost.
                role = msg["role"]
                kwargs["message"] = ChatMessage(
                    _ROLES.get(role, role) if isinstance(role, str) else role, msg["content"])
            else:
                kwargs["message"] = ChatMessage.from_dict(msg) if isinstance(msg, dict) \
                    else _assistant()
            if "logprobs" in kwargs:
                kwargs["logprobs"] = _logprobs(kwargs["logprobs"])
            return cls(**kwargs)
        return cls(
            model=d.get("model", ""),
            created_at=d.get("created_at"),
            message=ChatMessage.from_dict(msg) if isinstance(msg, dict) else _assistant(),
            done=d.get("done", False),
            done_reason=d.get("done_reason"),
            total_duration=d.get("total_duration"),
            load_duration=d.get("load_duration"),
            prompt_eval_count=d.get("prompt_eval_count"),
            prompt_eval_duration=d.get("prompt_eval_duration"),
            eval_count=d.get("eval_count"),
            eval_duration=d.get("eval_duration"),
            logprobs=_logprobs(d.get("logprobs")),
            remote_model=d.get("remote_model"),
            remote_host=d.get("remote_host"),
            extra=_extra(d, _CHAT_RESPONSE_KEYS),
        )


_GENERATE_RESPONSE_KEYS = (_CHAT_RESPONSE_KEYS - {"message"}) | {
    "response", "thinking", "context", "tool_calls",
}


@_wire
@dataclass(slots=True, kw_only=True)
class GenerateResponse(_GenerationResponse):
    """One ``/api/generate`` chunk. ``context`` (deprecated) comes on the final chunk."""

    response: str = ""
    thinking: str | None = None
    context: list[int] | None = None
    tool_calls: list[ToolCall] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"tool_calls": _many(ToolCall), "logprobs": _many(Logprob)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs once per streamed chunk)."""
        calls = d.get("tool_calls")
        return cls(
            model=d.get("model", ""),
            created_at=d.get("created_at"),
            response=d.get("response", ""),
            thinking=d.get("thinking"),
            done=d.get("done", False),
            done_reason=d.get("done_reason"),
            context=d.get("context"),
            total_duration=d.get("total_duration"),
            load_duration=d.get("load_duration"),
            prompt_eval_count=d.get("prompt_eval_count"),
            prompt_eval_duration=d.get("prompt_eval_duration"),
            eval_count=d.get("eval_count"),
            eval_duration=d.get("eval_duration"),
            logprobs=_logprobs(d.get("logprobs")),
            tool_calls=[_typed(ToolCall, c) for c in calls] if isinstance(calls, list) else calls,
            remote_model=d.get("remote_model"),
            remote_host=d.get("remote_host"),
            extra=_extra(d, _GENERATE_RESPONSE_KEYS),
        )


_EMBED_RESPONSE_KEYS = frozenset(
    {"model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"}
)


@_wire
@dataclass(slots=True, kw_only=True)
class EmbedResponse(_Wire):
    """``/api/embed`` result: one vector per input, in input order.

    ``embeddings`` are the parsed JSON lists as they are (no per-float conversion).
    """

    model: str = ""
    embeddings: list[list[float]] = field(default_factory=list)
    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON without touching the vectors."""
        return cls(
            model=d.get("model", ""),
            embeddings=d.get("embeddings", []),
            total_duration=d.get("total_duration"),
            load_duration=d.get("load_duration"),
            prompt_eval_count=d.get("prompt_eval_count"),
            extra=_extra(d, _EMBED_RESPONSE_KEYS),
        )


@_wire
@dataclass(slots=True, kw_only=True)
class EmbeddingsResponse(_Wire):
    """Legacy ``/api/embeddings`` result: a single vector."""

    embedding: list[float] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


_PROGRESS_KEYS = frozenset({"status", "digest", "total", "completed"})


@_wire
@dataclass(slots=True, kw_only=True)
class ProgressResponse(_Wire):
    """One progress line of pull, push or create. The last one has ``status="success"``."""

    status: str = ""
    digest: str | None = None
    total: int | None = None
    completed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """``completed / total`` (``0.0`` while ``completed`` is not sent yet), if ``total``."""
        if not _is_number(self.total) or not self.total:
            return None
        completed = self.completed if _is_number(self.completed) else 0
        return (completed or 0) / self.total

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: a pull sends many lines per second)."""
        return cls(
            status=d.get("status", ""),
            digest=d.get("digest"),
            total=d.get("total"),
            completed=d.get("completed"),
            extra=_extra(d, _PROGRESS_KEYS),
        )


@_wire
@dataclass(slots=True, kw_only=True)
class ModelDetails(_Wire):
    """``details`` of a model (tags, ps and show). ``/api/show`` may add the two lengths."""

    parent_model: str | None = None
    format: str | None = None
    family: str | None = None
    families: list[str] | None = None
    parameter_size: str | None = None
    quantization_level: str | None = None
    context_length: int | None = None
    embedding_length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@_wire
@dataclass(slots=True, kw_only=True)
class ModelEntry(_Wire):
    """One model of ``/api/tags`` or ``/api/ps``.

    ``expires_at``, ``size_vram`` and ``context_length`` are only set by ``/api/ps``.
    ``modified_at``/``expires_at`` are kept as the server's RFC 3339 strings.
    """

    name: str = ""
    model: str = ""
    modified_at: str | None = None
    size: int | None = None
    digest: str | None = None
    details: ModelDetails | None = None
    expires_at: str | None = None
    size_vram: int | None = None
    context_length: int | None = None
    remote_model: str | None = None
    remote_host: str | None = None
    capabilities: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"details": _one(ModelDetails)}


@_wire
@dataclass(slots=True, kw_only=True)
class TagsResponse(_Wire):
    """``GET /api/tags``: the local models."""

    models: list[ModelEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"models": _many(ModelEntry)}


@_wire
@dataclass(slots=True, kw_only=True)
class RunningModelsResponse(_Wire):
    """``GET /api/ps``: the loaded models, latest ``expires_at`` first."""

    models: list[ModelEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"models": _many(ModelEntry)}


@_wire
@dataclass(slots=True, kw_only=True)
class ModelInfo(_Wire):
    """``POST /api/show``: everything the server knows about one model.

    ``model_info`` is the GGUF key/value map (large arrays are empty unless the request
    had ``verbose: true``); ``capabilities`` lists e.g. ``completion``, ``tools``,
    ``vision``, ``thinking``, ``embedding``, ``insert``.
    """

    license: str | None = None
    modelfile: str | None = None
    parameters: str | None = None
    template: str | None = None
    system: str | None = None
    renderer: str | None = None
    parser: str | None = None
    details: ModelDetails | None = None
    messages: list[ChatMessage] | None = None
    model_info: dict[str, Any] | None = None
    projector_info: dict[str, Any] | None = None
    tensors: list[dict[str, Any]] | None = None
    capabilities: list[str] | None = None
    modified_at: str | None = None
    requires: str | None = None
    remote_model: str | None = None
    remote_host: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _NESTED = {"details": _one(ModelDetails), "messages": _many(ChatMessage)}
