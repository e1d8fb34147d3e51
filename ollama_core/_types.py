"""Typed request and response objects for the Ollama REST API.

Every class is declared once with :func:`~ollama_core._wire._decl.declare` (a
``@dataclass(slots=True)`` whose fields carry their check, wire key, documentation and
builder setter); it mirrors one JSON object of the API (field names are the wire names;
the exceptions are ``CreateRequest.from_``, sent as ``"from"``, and the server's debug
fields ``_debug_render_only``/``_debug_info``, as ``debug_render_only``/``debug_info``).
Each has:

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
returns the wire dict to send and raises :class:`~ollama_core.InvalidRequestError`; the
rules are the server's own (``api/types.go``, ``server/routes.go``), never stricter, except
that lone surrogates are refused (``_jsoncheck``).

Response ``from_dict`` runs once per stream chunk, so the hot ones (chat, generate, messages,
tool calls, logprobs, progress, embed) are hand-written ``dict.get`` constructors; the keys
they know come from the declaration, and a test checks that they set every declared field.
Measured with CPython 3.11 on the development VM: ``ChatResponse.from_dict`` of a partial
chat chunk 0.56 µs (0.92 µs through the dataclass ``__init__``)::

    python -m timeit -s "from ollama_core._types import ChatResponse as C; \\
d={'model':'m','created_at':'t','message':{'role':'assistant','content':'Hi'},'done':False}" \\
"C.from_dict(d)"
"""

from __future__ import annotations

import dataclasses
import os
from array import array
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    Self,
    TypeAlias,
    TypeGuard,
    TypeVar,
    cast,
)

from ._wire._spec import (
    Base64Image,
    Bool,
    Check,
    Duration,
    Float,
    Format,
    Int,
    IntList,
    List,
    ModelName,
    Object,
    Range,
    Role,
    Str,
    StrMap,
    StrOrStrList,
    Think,
    invalid,
)
from ._wire._decl import (
    IMAGES,
    LIST,
    MAPPING,
    Conv,
    Normalised,
    Request,
    SupportsModelDump,
    Wire,
    _extra,
    declare,
    dumped,
    typed,
    wire,
)
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
    "CopyRequest",
    "CreateRequest",
    "DebugInfo",
    "DeleteRequest",
    "EmbedArraysResponse",
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
    "PullRequest",
    "PushRequest",
    "RunningModelsResponse",
    "ShowRequest",
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
    "Tensor",
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
    """The author of a chat message. Being a ``str``, it compares equal to its value.

    The server lowercases roles, so ``"User"`` is sent as given and accepted; ``developer``
    is taken by the model renderers that know it."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"
    DEVELOPER = "developer"


ThinkLevel: TypeAlias = Literal["low", "medium", "high", "max"]
#: A Go duration string (``"5m"``, ``"-1h"``) or a number of seconds (``0`` unloads at once,
#: negative keeps the model loaded forever).
KeepAlive: TypeAlias = "float | str"

# Known role strings map to the enum through a dict lookup: Enum.__call__ is ~10x slower and
# this runs for every streamed chat chunk.
_ROLES: dict[str, MessageRole] = {r.value: r for r in MessageRole}

# Kept under their former names for the client and plugins.
_dumped = dumped
_typed = typed
_Wire = Wire
_Normalised = Normalised
_Request = Request


def _dump_role(value: Any) -> Any:
    return value.value if isinstance(value, MessageRole) else value


_ROLE = Conv(lambda v: _ROLES.get(v, v) if isinstance(v, str) else v, _dump_role)


def _slot_writer(cls: type[Any], read: tuple[str, ...] = (),
                 given: tuple[str, ...] = ()) -> Callable[..., Any]:
    """A constructor for the commonest stream chunks: ``build(d, *given)``.

    It writes the slots of a new ``cls`` directly: the fields in ``read`` from
    ``d.get(name, <declared default>)`` (their wire key is their name), the fields in
    ``given`` from its positional arguments, and every other field its declared default
    (a fresh object from a ``default_factory``). Everything it knows comes from the
    dataclass fields, so a field added to the declaration is written here too.

    Calling the dataclass ``__init__`` with keywords binds its 17 parameters on every
    chunk; writing the slots from generated code costs far less (``from_dict`` of a
    partial chat chunk: 0.92 µs -> 0.56 µs). Only for unfrozen declared classes without
    ``__post_init__`` (the response side), which is what the assertion below checks.
    """
    assert not cls.__dataclass_params__.frozen and not hasattr(cls, "__post_init__"), cls
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    body = ["    self = _new(_cls)"]
    for f in dataclasses.fields(cls):
        name = f.name
        if name in given:
            body.append(f"    self.{name} = {name}")
            continue
        if f.default is not dataclasses.MISSING:
            env[f"_d_{name}"] = f.default
            value = f"_d_{name}"
        elif f.default_factory is dict:
            value = "{}"
        else:
            env[f"_f_{name}"] = f.default_factory
            value = f"_f_{name}()"
        if name in read:
            value = f"d.get({name!r}, {value})"
        body.append(f"    self.{name} = {value}")
    unknown = (set(read) | set(given)) - {f.name for f in dataclasses.fields(cls)}
    assert not unknown, unknown
    args = ", ".join(("d", *given))
    source = f"def build({args}):\n" + "\n".join(body) + "\n    return self\n"
    exec(source, env)  # noqa: S102 - source made above from the dataclass field names
    return cast("Callable[..., Any]", env["build"])


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


@declare()
class _TokenFields(Wire):
    # ``extra`` is declared by the concrete classes so that it stays the last field.
    token: str = wire(default="", doc="The token's text.")
    logprob: float = wire(default=0.0, doc="Its log probability.")
    bytes: list[int] | None = wire(default=None, doc="Its UTF-8 bytes, if sent.")


@declare()
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


_TOKEN_LOGPROB_KEYS = TokenLogprob._WIRE_KEYS


@declare()
class Logprob(_TokenFields):
    """The chosen token at one position, plus the ``top_logprobs`` alternatives."""

    top_logprobs: list[TokenLogprob] | None = wire(many=TokenLogprob, default=None,
                                                   doc="The most likely alternatives.")
    extra: dict[str, Any] = field(default_factory=dict)

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


_LOGPROB_KEYS = Logprob._WIRE_KEYS


def _logprobs(value: Any) -> list[Logprob] | None:
    # Like every nested field, a value that is not what the API sends (not a list, an item
    # that is not an object) is kept as it came instead of failing the whole chunk.
    if not isinstance(value, list):
        return value  # type: ignore[no-any-return]
    return [Logprob.from_dict(x) if isinstance(x, Mapping) else x for x in value]


@declare()
class ToolCallFunction(Wire):
    """The function a model asked to call. ``arguments`` is a JSON object, not a string."""

    name: str = wire(Str(), required=True, doc="The function's name.")
    arguments: dict[str, Any] = wire(
        Object(error_messages={
            "invalid": "Must be a JSON object (a dict), not a JSON-encoded string."}),
        conv=MAPPING, default_factory=dict, doc="The arguments, as a JSON object.")
    index: int | None = wire(Int(), default=None, doc="Position among parallel calls.")
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


_TOOL_CALL_FUNCTION_KEYS = ToolCallFunction._WIRE_KEYS


@declare()
class ToolCall(Wire):
    """A tool call of an assistant message. ``id`` is echoed back as ``tool_call_id``."""

    function: ToolCallFunction = wire(one=ToolCallFunction, required=True,
                                      doc="The function and its arguments.")
    id: str | None = wire(Str(), default=None, doc="The call's id.")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: tool calls arrive in stream chunks)."""
        fn: Any = d.get("function")
        return cls(
            function=ToolCallFunction.from_dict(fn) if isinstance(fn, dict) else fn,
            id=d.get("id"),
            extra=_extra(d, _TOOL_CALL_KEYS),
        )


_TOOL_CALL_KEYS = ToolCall._WIRE_KEYS


@declare(kw_only=False)
class ChatMessage(Wire):
    """One chat message. ``role`` and ``content`` may be given positionally.

    ``images`` holds base64 strings; raw ``bytes`` are accepted and encoded by ``to_dict``,
    and paths (``os.PathLike``) are read and encoded by the ``vision_support`` plugin.
    ``tool_calls`` is typed for reading responses; wire dicts placed there work too
    (``to_dict`` normalises them). ``tool_name`` / ``tool_call_id`` belong on
    ``role="tool"`` results. Unlike requests, a message does not convert nested dicts when
    constructed: it is built once per streamed chunk and that would cost every chunk.
    """

    role: MessageRole | str = wire(Role(), conv=_ROLE, required=True,
                                   doc="system, user, assistant, tool, developer, ... (any string; the server lowercases it).")
    content: str = wire(Str(), default="", doc="The text.")
    _: KW_ONLY
    thinking: str | None = wire(Str(), default=None, doc="The model's thinking, if any.")
    images: Sequence[str | bytes | os.PathLike[str]] | None = wire(
        List(Base64Image()), conv=IMAGES, default=None,
        doc="Images as base64 text (raw bytes are encoded).")
    tool_calls: list[ToolCall] | None = wire(many=ToolCall, default=None,
                                             doc="Tool calls the assistant made.")
    tool_name: str | None = wire(Str(), default=None, doc="The tool a result comes from.")
    tool_call_id: str | None = wire(Str(), default=None, doc="The call a result answers.")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs once per streamed chat chunk)."""
        role: Any = d.get("role")
        if d.keys() <= _ROLE_CONTENT:  # a plain streamed chunk: half the cost of the rest
            role = _ROLES.get(role, role) if isinstance(role, str) else role
            if cls is ChatMessage:
                return cast(Self, _new_message(d, role))
            return cls(role, d.get("content", ""))
        calls = d.get("tool_calls")
        return cls(
            _ROLES.get(role, role) if isinstance(role, str) else role,
            d.get("content", ""),
            thinking=d.get("thinking"),
            images=d.get("images"),
            tool_calls=[typed(ToolCall, c) for c in calls] if isinstance(calls, list) else calls,
            tool_name=d.get("tool_name"),
            tool_call_id=d.get("tool_call_id"),
            extra=_extra(d, _MESSAGE_KEYS),
        )


_MESSAGE_KEYS = ChatMessage._WIRE_KEYS
_ROLE_CONTENT = frozenset({"role", "content"})
#: ``_new_message(d, role)``: a message of ``role`` and ``d.get("content", "")``.
_new_message = _slot_writer(ChatMessage, read=("content",), given=("role",))


@declare()
class ToolFunction(Wire):
    """A function the model may call: ``parameters`` is a JSON-Schema object."""

    name: str = wire(Str(), required=True, doc="The function's name.")
    description: str | None = wire(Str(), default=None, doc="What it does, for the model.")
    parameters: dict[str, Any] | None = wire(Object(), conv=MAPPING, default=None,
                                             doc="Its arguments, as a JSON Schema object.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class Tool(Normalised):
    """A tool definition: ``{"type": "function", "function": {...}}``.

    Any ``type`` is sent (the server does not restrict it); ``items`` is the server's
    ``Tool.Items`` (any JSON)."""

    type: str = wire(Str(), required=True, default="function",
                     doc='The tool kind ("function").')
    items: Any = wire(default=None, doc="Item schema (any JSON), for tools that take one.")
    function: ToolFunction | Mapping[str, Any] = wire(one=ToolFunction, required=True,
                                                      doc="The function definition.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class Options(Wire):
    """Model options (``options`` of chat/generate/embed). All default to the server's choice.

    Options the server does not know (old ones such as ``mirostat``, or new ones) go in
    ``extra``; ``from_dict`` puts unknown keys there and ``to_dict`` merges them back.
    """

    # runtime options
    num_keep: int | None = wire(Int(), default=None, doc="Tokens of the prompt to keep.")
    seed: int | None = wire(Int(), default=None, doc="Random seed.")
    num_predict: int | None = wire(Int(), default=None,
                                   doc="Most tokens to generate (-1: no limit).")
    top_k: int | None = wire(Int(), default=None, doc="Sample among the k likeliest tokens.")
    top_p: float | None = wire(Float(), default=None, doc="Nucleus sampling threshold.")
    min_p: float | None = wire(Float(), default=None, doc="Minimum relative probability.")
    typical_p: float | None = wire(Float(), default=None, doc="Locally typical sampling.")
    repeat_last_n: int | None = wire(Int(), default=None, doc="Look-back for repeat penalty.")
    temperature: float | None = wire(Float(), default=None, doc="Sampling temperature.")
    repeat_penalty: float | None = wire(Float(), default=None, doc="Penalty for repeats.")
    presence_penalty: float | None = wire(Float(), default=None, doc="Presence penalty.")
    frequency_penalty: float | None = wire(Float(), default=None, doc="Frequency penalty.")
    stop: Sequence[str] | None = wire(List(Str()), conv=LIST, default=None,
                                      doc="Stop sequences.")
    # load-time options (changing one reloads the model)
    num_ctx: int | None = wire(Int(), default=None, doc="Context window, in tokens.")
    num_batch: int | None = wire(Int(), default=None, doc="Prompt batch size.")
    num_gpu: int | None = wire(Int(), default=None, doc="Layers to offload to the GPU.")
    main_gpu: int | None = wire(Int(), default=None, doc="The GPU for small tensors.")
    use_mmap: bool | None = wire(Bool(), default=None, doc="Memory-map the model file.")
    num_thread: int | None = wire(Int(), default=None, doc="CPU threads.")
    draft_num_predict: int | None = wire(Int(), default=None,
                                         doc="Tokens the draft model proposes.")
    extra: dict[str, Any] = field(default_factory=dict)


OptionsLike: TypeAlias = "Options | Mapping[str, Any] | SupportsModelDump"
MessageLike: TypeAlias = "ChatMessage | Mapping[str, Any] | SupportsModelDump"
ToolLike: TypeAlias = "Tool | Mapping[str, Any] | SupportsModelDump"
FormatLike: TypeAlias = "str | Mapping[str, Any]"


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------

# Shared wording of the fields several requests have.
_MODEL = "Model name ([host/][namespace/]model[:tag])."
_FORMAT = 'Structured output: "json" or a JSON Schema object.'
_OPTIONS = "Model options (see Options)."
_STREAM = "Stream the answer (the server's default) or send it whole."
_KEEP_ALIVE = 'How long the model stays loaded: seconds or a duration ("5m"; <0 forever).'
_THINK = 'Thinking on/off, or a level: "low", "medium", "high", "max".'
_TRUNCATE = "Truncate the history when it exceeds the context."
_SHIFT = "Shift the context instead of failing when the limit is hit."
_DEBUG_RENDER = "Return the rendered prompt in debug_info instead of generating."
_LOGPROBS = "Return log probabilities of the generated tokens."
_TOP_LOGPROBS = "Alternatives per token with logprobs (0 to 20)."


def _top_logprobs() -> Check:
    # The server answers 400 "top_logprobs must be between 0 and 20".
    return Int(validate=Range(min=0, max=20))


@declare(kind="chat")
class ChatRequest(Request):
    """``POST /api/chat``. An empty ``messages`` list just loads the model."""

    model: str = wire(ModelName(), required=True, doc=_MODEL)
    messages: Sequence[MessageLike] = wire(many=ChatMessage, default_factory=list,
                                           doc="The conversation so far.")
    tools: Sequence[ToolLike] | None = wire(many=Tool, default=None,
                                            doc="Tools the model may call.")
    format: FormatLike | None = wire(Format(), conv=MAPPING, default=None, doc=_FORMAT)
    options: OptionsLike | None = wire(one=Options, default=None, doc=_OPTIONS)
    stream: bool | None = wire(Bool(), default=None, doc=_STREAM)
    keep_alive: KeepAlive | None = wire(Duration(), default=None, doc=_KEEP_ALIVE)
    think: bool | ThinkLevel | None = wire(Think(), default=None, doc=_THINK)
    truncate: bool | None = wire(Bool(), default=None, doc=_TRUNCATE)
    shift: bool | None = wire(Bool(), default=None, doc=_SHIFT)
    logprobs: bool | None = wire(Bool(), default=None, doc=_LOGPROBS)
    top_logprobs: int | None = wire(_top_logprobs(), default=None, doc=_TOP_LOGPROBS)
    debug_render_only: bool | None = wire(Bool(), key="_debug_render_only", default=None,
                                          doc=_DEBUG_RENDER)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def builder(cls) -> ChatRequestBuilder:
        """A fluent :class:`~ollama_core._builders.ChatRequestBuilder`."""
        from ._builders import builder_for

        return builder_for(cls)  # type: ignore[return-value]  # a ChatRequestBuilder


def _raw_mode(data: Mapping[str, Any]) -> None:
    # The server answers 400 "raw mode does not support template, system, or context";
    # catching it here names the field.
    if data.get("raw") and (data.get("template") or data.get("system") or data.get("context")):
        raise invalid(
            "Cannot be combined with template, system or context (raw mode skips "
            "templating).", "raw")


@declare(kind="generate", rules=(_raw_mode,))
class GenerateRequest(Request):
    """``POST /api/generate``. Without ``prompt`` it just loads the model.

    ``images`` holds base64 strings; raw ``bytes`` are accepted and encoded by ``to_dict``,
    and paths (``os.PathLike``) are read and encoded by the ``vision_support`` plugin.
    ``raw=True`` cannot be combined with ``template``, ``system`` or ``context``.
    """

    model: str = wire(ModelName(), required=True, doc=_MODEL)
    prompt: str | None = wire(Str(), default=None, doc="The prompt.")
    suffix: str | None = wire(Str(), default=None, doc="Text after the insertion point.")
    system: str | None = wire(Str(), default=None, doc="Replaces the model's system prompt.")
    template: str | None = wire(Str(), default=None, doc="Replaces the prompt template.")
    context: Sequence[int] | None = wire(IntList(), conv=LIST, default=None,
                                         doc="Context of an earlier answer (deprecated).")
    raw: bool | None = wire(Bool(), default=None, doc="Send the prompt without templating.")
    format: FormatLike | None = wire(Format(), conv=MAPPING, default=None, doc=_FORMAT)
    images: Sequence[str | bytes | os.PathLike[str]] | None = wire(
        List(Base64Image()), conv=IMAGES, default=None,
        doc="Images as base64 text (raw bytes are encoded).")
    options: OptionsLike | None = wire(one=Options, default=None, doc=_OPTIONS)
    stream: bool | None = wire(Bool(), default=None, doc=_STREAM)
    keep_alive: KeepAlive | None = wire(Duration(), default=None, doc=_KEEP_ALIVE)
    think: bool | ThinkLevel | None = wire(Think(), default=None, doc=_THINK)
    truncate: bool | None = wire(Bool(), default=None, doc=_TRUNCATE)
    shift: bool | None = wire(Bool(), default=None, doc=_SHIFT)
    logprobs: bool | None = wire(Bool(), default=None, doc=_LOGPROBS)
    top_logprobs: int | None = wire(_top_logprobs(), default=None, doc=_TOP_LOGPROBS)
    debug_render_only: bool | None = wire(Bool(), key="_debug_render_only", default=None,
                                          doc=_DEBUG_RENDER)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def builder(cls) -> GenerateRequestBuilder:
        """A fluent :class:`~ollama_core._builders.GenerateRequestBuilder`."""
        from ._builders import builder_for

        return builder_for(cls)  # type: ignore[return-value]  # a GenerateRequestBuilder


@declare(kind="embed")
class EmbedRequest(Request):
    """``POST /api/embed``: one string or a list of strings. ``truncate`` defaults to true
    on the server; ``dimensions`` cuts the vectors to that size (0 or less: no cut)."""

    model: str = wire(ModelName(), required=True, doc=_MODEL)
    input: str | Sequence[str] | None = wire(StrOrStrList(), conv=LIST, default=None,
                                             doc="The text(s) to embed, one vector each.")
    truncate: bool | None = wire(Bool(), default=None,
                                 doc="Cut inputs longer than the context (default) or fail.")
    dimensions: int | None = wire(Int(), default=None,
                                  doc="Cut the vectors to this size (0: full size).")
    keep_alive: KeepAlive | None = wire(Duration(), default=None, doc=_KEEP_ALIVE)
    options: OptionsLike | None = wire(one=Options, default=None, doc=_OPTIONS)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def builder(cls) -> EmbedRequestBuilder:
        """A fluent :class:`~ollama_core._builders.EmbedRequestBuilder`."""
        from ._builders import builder_for

        return builder_for(cls)  # type: ignore[return-value]  # an EmbedRequestBuilder


@declare(kind="embeddings")
class EmbeddingsRequest(Request):
    """``POST /api/embeddings`` (legacy, one prompt, no metrics; prefer :class:`EmbedRequest`)."""

    model: str = wire(ModelName(), required=True, doc=_MODEL)
    prompt: str | None = wire(Str(), default=None, doc="The text to embed.")
    keep_alive: KeepAlive | None = wire(Duration(), default=None, doc=_KEEP_ALIVE)
    options: OptionsLike | None = wire(one=Options, default=None, doc=_OPTIONS)
    extra: dict[str, Any] = field(default_factory=dict)


def _create_source(data: Mapping[str, Any]) -> None:
    # The server fails with "neither 'from' or 'files' was specified" (in the stream, after
    # the request was accepted); a manifest ``list`` (newer servers) is the only other
    # source it takes.
    if not data.get("from_") and not data.get("files") and not data.get("list"):
        raise invalid('Either "from" (a model) or "files" (blobs) is required.', "from")


@declare(kind="create", rules=(_create_source,))
class CreateRequest(Request):
    """``POST /api/create``. Needs ``from_`` (sent as ``"from"``) or ``files``.

    ``files``, ``adapters`` and ``draft_files`` map file names to ``sha256:`` digests of
    uploaded blobs.
    """

    model: str = wire(ModelName(), required=True, doc="Name of the model to create.")
    from_: str | None = wire(Str(), key="from", default=None,
                             doc="An existing model to base it on.")
    files: dict[str, str] | None = wire(StrMap(), conv=MAPPING, default=None,
                                        doc="File name -> blob digest of the model files.")
    adapters: dict[str, str] | None = wire(StrMap(), conv=MAPPING, default=None,
                                           doc="File name -> blob digest of LoRA adapters.")
    template: str | None = wire(Str(), default=None, doc="The prompt template.")
    license: str | Sequence[str] | None = wire(StrOrStrList(), conv=LIST, default=None,
                                               doc="Licence text(s).")
    system: str | None = wire(Str(), default=None, doc="The system prompt.")
    parameters: dict[str, Any] | None = wire(Object(), conv=MAPPING, default=None,
                                             doc="Default model parameters (options).")
    messages: Sequence[MessageLike] | None = wire(many=ChatMessage, default=None,
                                                  doc="A built-in conversation.")
    quantize: str | None = wire(Str(), default=None, doc='Quantize while creating ("q4_K_M").')
    renderer: str | None = wire(Str(), default=None, doc="The prompt renderer.")
    parser: str | None = wire(Str(), default=None, doc="The output parser.")
    stream: bool | None = wire(Bool(), default=None, doc="Stream progress lines (default).")
    draft_quantize: str | None = wire(Str(), default=None,
                                      doc="Quantize the draft model while creating.")
    remote_host: str | None = wire(Str(), default=None,
                                   doc="The host a remote (cloud) model runs on.")
    draft_files: dict[str, str] | None = wire(
        StrMap(), conv=MAPPING, default=None,
        doc="File name -> blob digest of the draft model's files.")
    requires: str | None = wire(Str(), default=None,
                                doc="The lowest server version the model needs.")
    info: dict[str, Any] | None = wire(Object(), conv=MAPPING, default=None,
                                       doc="Extra model information (any JSON object).")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def builder(cls) -> CreateRequestBuilder:
        """A fluent :class:`~ollama_core._builders.CreateRequestBuilder`."""
        from ._builders import builder_for

        return builder_for(cls)  # type: ignore[return-value]  # a CreateRequestBuilder


@declare(kind="pull")
class PullRequest(Request):
    """``POST /api/pull``."""

    model: str = wire(ModelName(), required=True, doc=_MODEL)
    insecure: bool | None = wire(Bool(), default=None,
                                 doc="Allow an insecure registry connection.")
    stream: bool | None = wire(Bool(), default=None, doc="Stream progress lines (default).")
    extra: dict[str, Any] = field(default_factory=dict)


@declare(kind="push")
class PushRequest(PullRequest):
    """``POST /api/push``: the same fields as a pull."""


@declare(kind="copy")
class CopyRequest(Request):
    """``POST /api/copy``."""

    source: str = wire(ModelName(), required=True, doc="The model to copy.")
    destination: str = wire(ModelName(), required=True, doc="The new name.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare(kind="delete")
class DeleteRequest(Request):
    """``DELETE /api/delete``."""

    model: str = wire(ModelName(), required=True, doc=_MODEL)
    extra: dict[str, Any] = field(default_factory=dict)


@declare(kind="show")
class ShowRequest(Request):
    """``POST /api/show``."""

    model: str = wire(ModelName(), required=True, doc=_MODEL)
    verbose: bool | None = wire(Bool(), default=None,
                                doc="Include the large arrays of model_info.")
    system: str | None = wire(Str(), default=None,
                              doc="A system prompt to show the model with.")
    template: str | None = wire(Str(), default=None, doc="A template to show the model with.")
    options: OptionsLike | None = wire(one=Options, default=None,
                                       doc="Options to show the model with.")
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


@declare()
class DebugInfo(Wire):
    """``_debug_info`` of a chat/generate answer to ``_debug_render_only``."""

    rendered_template: str = wire(default="", doc="The prompt as the template rendered it.")
    image_count: int | None = wire(default=None, doc="Images in the prompt.")
    extra: dict[str, Any] = field(default_factory=dict)


def _debug_info(value: Any) -> Any:
    return DebugInfo.from_dict(value) if isinstance(value, Mapping) else value


@declare()
class _GenerationResponse(Wire):
    """Fields shared by chat and generate chunks. Metrics are on the final chunk only."""

    model: str = wire(default="", doc="The model that answered.")
    created_at: str | None = wire(default=None, doc="RFC 3339 time of the chunk.")
    done: bool = wire(default=False, doc="The last chunk.")
    done_reason: str | None = wire(default=None, doc='Why it ended ("stop", "length", ...).')
    total_duration: int | None = wire(default=None, doc="Whole request, in ns.")
    load_duration: int | None = wire(default=None, doc="Model loading, in ns.")
    prompt_eval_count: int | None = wire(default=None, doc="Prompt tokens.")
    prompt_eval_duration: int | None = wire(default=None, doc="Prompt processing, in ns.")
    eval_count: int | None = wire(default=None, doc="Generated tokens.")
    eval_duration: int | None = wire(default=None, doc="Generation, in ns.")
    logprobs: list[Logprob] | None = wire(many=Logprob, default=None,
                                          doc="Log probabilities, when asked for.")
    remote_model: str | None = wire(default=None, doc="The remote model (cloud models).")
    remote_host: str | None = wire(default=None, doc="The remote host (cloud models).")
    debug_info: DebugInfo | None = wire(one=DebugInfo, key="_debug_info", default=None,
                                        doc="The rendered prompt (_debug_render_only).")
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


@declare()
class ChatResponse(_GenerationResponse):
    """One ``/api/chat`` chunk (or the whole answer with ``stream: false``)."""

    message: ChatMessage = wire(one=ChatMessage, default_factory=_assistant,
                                doc="The (partial) assistant message.")
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def content(self) -> str:
        """Shortcut for ``message.content``."""
        return self.message.content

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs once per streamed chunk)."""
        msg = d.get("message")
        if type(msg) is dict and len(d) == 4 and "done" in d and "model" in d \
                and "created_at" in d and cls is ChatResponse:
            # A partial chunk (model, created_at, message, done): the commonest line of all.
            # (Membership tests, not ``d.keys() <= ...``: this check runs on every chunk.)
            if len(msg) == 2 and "content" in msg and "role" in msg:
                role = msg["role"]
                message = _new_message(msg, _ROLES.get(role, role) if isinstance(role, str)
                                       else role)
            else:
                message = ChatMessage.from_dict(msg)
            return cast(Self, _new_chat_chunk(d, message))
        if d.keys() <= _CHAT_RESPONSE_SAME:
            # Only keys named like their attribute (the common case): pass only the keys
            # present and let the dataclass defaults fill the rest, 1.5x faster than naming
            # all the fields.
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
            debug_info=_debug_info(d.get("_debug_info")),
            extra=_extra(d, _CHAT_RESPONSE_KEYS),
        )


_CHAT_RESPONSE_KEYS = ChatResponse._WIRE_KEYS
#: the keys whose attribute has the same name (the fast path passes them as keywords)
_CHAT_RESPONSE_SAME = frozenset(key for attr, key in ChatResponse._KEYS if attr == key)
#: the constructor of a partial chunk (the fields it does not name get their defaults)
_new_chat_chunk = _slot_writer(ChatResponse, read=("model", "created_at", "done"),
                               given=("message",))


@declare()
class GenerateResponse(_GenerationResponse):
    """One ``/api/generate`` chunk. ``context`` (deprecated) comes on the final chunk."""

    response: str = wire(default="", doc="The (partial) answer text.")
    thinking: str | None = wire(default=None, doc="The model's thinking, if any.")
    context: list[int] | None = wire(default=None, doc="Context to send back (deprecated).")
    tool_calls: list[ToolCall] | None = wire(many=ToolCall, default=None,
                                             doc="Tool calls the model made.")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """Build from wire JSON (hand-written: runs once per streamed chunk)."""
        if len(d) == 4 and "response" in d and "done" in d and "model" in d \
                and "created_at" in d and cls is GenerateResponse:
            # A partial chunk (model, created_at, response, done): the commonest line.
            return cast(Self, _new_generate_chunk(d))
        calls = d.get("tool_calls")
        if d.keys() <= _GENERATE_RESPONSE_SAME:
            # As ChatResponse: only the keys present, the dataclass defaults for the rest.
            kwargs = dict(d)
            if isinstance(calls, list):
                kwargs["tool_calls"] = [typed(ToolCall, c) for c in calls]
            if "logprobs" in kwargs:
                kwargs["logprobs"] = _logprobs(kwargs["logprobs"])
            return cls(**kwargs)
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
            tool_calls=[typed(ToolCall, c) for c in calls] if isinstance(calls, list) else calls,
            remote_model=d.get("remote_model"),
            remote_host=d.get("remote_host"),
            debug_info=_debug_info(d.get("_debug_info")),
            extra=_extra(d, _GENERATE_RESPONSE_KEYS),
        )


_GENERATE_RESPONSE_KEYS = GenerateResponse._WIRE_KEYS
_GENERATE_RESPONSE_SAME = frozenset(
    key for attr, key in GenerateResponse._KEYS if attr == key)
_new_generate_chunk = _slot_writer(GenerateResponse,
                                   read=("model", "created_at", "response", "done"))


#: The type of one embedding row: ``list[float]`` as decoded, or ``array.array[float]``.
_Row = TypeVar("_Row")


@declare()
class _EmbedResult(Wire, Generic[_Row]):
    """``/api/embed`` result: one vector per input, in input order.

    The one declaration of the answer's fields, for both forms of its rows: a row's type is
    the class parameter, so :class:`EmbedResponse` (lists) and
    :class:`EmbedArraysResponse` (arrays of doubles) share every field and ``from_dict``
    and neither is a kind of the other.
    """

    model: str = wire(default="", doc="The model that answered.")
    embeddings: list[_Row] = wire(default_factory=list, doc="One vector per input.")
    total_duration: int | None = wire(default=None, doc="Whole request, in ns.")
    load_duration: int | None = wire(default=None, doc="Model loading, in ns.")
    prompt_eval_count: int | None = wire(default=None, doc="Input tokens.")
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


@declare()
class EmbedResponse(_EmbedResult[list[float]]):
    """``/api/embed`` result: one vector per input, in input order.

    ``embeddings`` are the parsed JSON lists as they are (no per-float conversion).
    """


@declare()
class EmbedArraysResponse(_EmbedResult["array[float]"]):
    """``/api/embed`` result of ``embed(..., arrays=True)``: each vector an ``array('d')``.

    The values are the doubles the JSON numbers denote (``json.loads``'s, as
    ``float``), 8 bytes each; ``numpy.asarray(row)`` or ``numpy.frombuffer(row)`` takes
    one without a copy (see ``ollama_core._vectors``).
    """

    def to_dict(self) -> dict[str, Any]:
        """The wire JSON object, as for :class:`EmbedResponse`: each row as the list of its
        values (``row.tolist()``), so ``json.dumps(response.to_dict())`` works."""
        # Not super(): the declaration rebuilds the class with slots, which breaks its cell.
        out = _EmbedResult.to_dict(self)
        out["embeddings"] = [row.tolist() if isinstance(row, array) else row
                             for row in self.embeddings]
        return out


_EMBED_RESPONSE_KEYS = _EmbedResult._WIRE_KEYS


@declare()
class EmbeddingsResponse(Wire):
    """Legacy ``/api/embeddings`` result: a single vector."""

    embedding: list[float] = wire(default_factory=list, doc="The vector.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class ProgressResponse(Wire):
    """One progress line of pull, push or create. The last one has ``status="success"``."""

    status: str = wire(default="", doc='The step ("pulling manifest", "success", ...).')
    digest: str | None = wire(default=None, doc="The blob being moved.")
    total: int | None = wire(default=None, doc="Its size, in bytes.")
    completed: int | None = wire(default=None, doc="Bytes done so far.")
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


_PROGRESS_KEYS = ProgressResponse._WIRE_KEYS


@declare()
class ModelDetails(Wire):
    """``details`` of a model (tags, ps and show). ``/api/show`` may add the two lengths."""

    parent_model: str | None = wire(default=None, doc="The model it was made from.")
    format: str | None = wire(default=None, doc='File format ("gguf").')
    family: str | None = wire(default=None, doc='Architecture family ("llama").')
    families: list[str] | None = wire(default=None, doc="All families.")
    parameter_size: str | None = wire(default=None, doc='Parameter count ("8.0B").')
    quantization_level: str | None = wire(default=None, doc='Quantization ("Q4_K_M").')
    context_length: int | None = wire(default=None, doc="Context window, in tokens.")
    embedding_length: int | None = wire(default=None, doc="Embedding size.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class ModelEntry(Wire):
    """One model of ``/api/tags`` or ``/api/ps``.

    ``expires_at``, ``size_vram`` and ``context_length`` are only set by ``/api/ps``.
    ``modified_at``/``expires_at`` are kept as the server's RFC 3339 strings.
    """

    name: str = wire(default="", doc="The model's name.")
    model: str = wire(default="", doc="The model's name (same as name).")
    modified_at: str | None = wire(default=None, doc="Last change (tags).")
    size: int | None = wire(default=None, doc="Size in bytes.")
    digest: str | None = wire(default=None, doc="Manifest digest.")
    details: ModelDetails | None = wire(one=ModelDetails, default=None, doc="Format details.")
    expires_at: str | None = wire(default=None, doc="When it unloads (ps).")
    size_vram: int | None = wire(default=None, doc="Bytes in GPU memory (ps).")
    context_length: int | None = wire(default=None, doc="Loaded context window (ps).")
    remote_model: str | None = wire(default=None, doc="The remote model (cloud models).")
    remote_host: str | None = wire(default=None, doc="The remote host (cloud models).")
    capabilities: list[str] | None = wire(default=None, doc="What the model can do.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class TagsResponse(Wire):
    """``GET /api/tags``: the local models."""

    models: list[ModelEntry] = wire(many=ModelEntry, default_factory=list,
                                    doc="The local models.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class RunningModelsResponse(Wire):
    """``GET /api/ps``: the loaded models, latest ``expires_at`` first."""

    models: list[ModelEntry] = wire(many=ModelEntry, default_factory=list,
                                    doc="The loaded models.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class Tensor(Wire):
    """One tensor of ``/api/show``'s ``tensors`` (with ``verbose``)."""

    name: str = wire(default="", doc="Tensor name.")
    type: str = wire(default="", doc='Element type ("Q4_K", "F32", ...).')
    shape: list[int] = wire(default_factory=list, doc="Dimensions.")
    extra: dict[str, Any] = field(default_factory=dict)


@declare()
class ModelInfo(Wire):
    """``POST /api/show``: everything the server knows about one model.

    ``model_info`` is the GGUF key/value map (large arrays are empty unless the request
    had ``verbose: true``); ``capabilities`` lists e.g. ``completion``, ``tools``,
    ``vision``, ``thinking``, ``embedding``, ``insert``.
    """

    license: str | None = wire(default=None, doc="Licence text.")
    modelfile: str | None = wire(default=None, doc="The Modelfile.")
    parameters: str | None = wire(default=None, doc="Default parameters, as text.")
    template: str | None = wire(default=None, doc="The prompt template.")
    system: str | None = wire(default=None, doc="The system prompt.")
    renderer: str | None = wire(default=None, doc="The prompt renderer.")
    parser: str | None = wire(default=None, doc="The output parser.")
    details: ModelDetails | None = wire(one=ModelDetails, default=None, doc="Format details.")
    messages: list[ChatMessage] | None = wire(many=ChatMessage, default=None,
                                              doc="The built-in conversation.")
    model_info: dict[str, Any] | None = wire(default=None, doc="GGUF key/value metadata.")
    projector_info: dict[str, Any] | None = wire(default=None,
                                                 doc="Vision projector metadata.")
    tensors: list[Tensor] | None = wire(many=Tensor, default=None,
                                        doc="The tensors (verbose only).")
    capabilities: list[str] | None = wire(default=None, doc="What the model can do.")
    modified_at: str | None = wire(default=None, doc="Last change.")
    requires: str | None = wire(default=None, doc="The lowest server version it needs.")
    remote_model: str | None = wire(default=None, doc="The remote model (cloud models).")
    remote_host: str | None = wire(default=None, doc="The remote host (cloud models).")
    extra: dict[str, Any] = field(default_factory=dict)
