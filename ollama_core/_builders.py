"""Fluent builders for the request objects.

::

    request = (
        ChatRequest.builder()
        .model("llama3.2")
        .system("Answer briefly.")
        .user("Why is the sky blue?")
        .temperature(0.2)
        .build()
    )

Every step returns a **new** builder and leaves the old one untouched, so a partly filled
builder can be shared and branched (``base.user("a")`` and ``base.user("b")`` do not see each
other). ``build()`` deep-copies the collected values, so two builds never share mutable state,
and validates the result: a bad value raises :class:`~ollama_core.InvalidRequestError`
naming the field, at ``build()`` time rather than when the request is sent.

Option setters (``option``, ``options``, ``temperature``, ...) *merge* into the options
collected so far; nothing replaces earlier options except setting the same key again.

Besides the hand-written steps, every builder has one setter per declared field of its
request that has no step of that name (``draft_quantize(...)`` on a create builder,
``max_results(...)`` on a web search builder): they are generated from the declaration
(:mod:`ollama_core._wire`), so a field added there has its setter at once. Any request
class has a builder: ``WebSearchRequest.builder()``, or :func:`builder_for`.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar, cast

from ._types import (
    ChatMessage,
    ChatRequest,
    CreateRequest,
    EmbedRequest,
    GenerateRequest,
    KeepAlive,
    MessageRole,
    Options,
    ThinkLevel,
    Tool,
    ToolCall,
)
from ._wire._decl import FieldInfo


__all__ = [
    "ChatRequestBuilder",
    "builder_for",
    "CreateRequestBuilder",
    "EmbedRequestBuilder",
    "GenerateRequestBuilder",
]



class _Buildable(Protocol):
    """What a builder needs of its request class."""

    def validate(self) -> dict[str, Any]: ...


_R = TypeVar("_R", bound=_Buildable)

#: request class -> its builder class (hand-written ones register themselves)
_BUILDERS: dict[type[Any], type[_Builder[Any]]] = {}


def _setter(info: FieldInfo) -> Any:
    attr = info.attr

    def setter(self: _Builder[Any], value: Any) -> Any:
        return self._with(**{attr: value})

    setter.__name__ = setter.__qualname__ = attr
    setter.__doc__ = info.doc or f"Set ``{info.key}``."
    return setter


class _Builder(Generic[_R]):
    """Immutable accumulation of constructor arguments for one request class."""

    __slots__ = ("_fields",)

    #: the request class ``build()`` constructs
    _REQUEST: ClassVar[type[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        request = cls.__dict__.get("_REQUEST")
        if request is None:
            return
        _BUILDERS[request] = cls
        # One generated setter per declared field without a hand-written step.
        for info in getattr(request, "__wire_fields__", ()):
            if info.setter and not hasattr(cls, info.attr):
                setattr(cls, info.attr, _setter(info))

    def __init__(self) -> None:
        # Never mutated in place: every step makes a new mapping (see _with / _append).
        self._fields: Mapping[str, Any] = {}

    def _with(self, **changes: Any) -> Self:
        new = object.__new__(type(self))
        new._fields = {**self._fields, **changes}
        return new

    def _append(self, key: str, *items: Any) -> Self:
        # Tuples keep earlier builders' sequences immutable; the request turns them into lists.
        return self._with(**{key: (*self._fields.get(key, ()), *items)})

    def _merge(self, key: str, values: Mapping[str, Any]) -> Self:
        return self._with(**{key: {**self._fields.get(key, {}), **values}})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{type(self).__name__}({args})"

    def model(self, name: str) -> Self:
        """Set the model name (``[host/][namespace/]model[:tag]``)."""
        return self._with(model=name)

    def extra(self, key: str, value: Any) -> Self:
        """Send a top-level field this library has no parameter for (e.g. a newer one)."""
        return self._merge("extra", {key: value})

    def build(self) -> _R:
        """Construct and validate the request.

        Returns:
            A new request object, independent of the builder and of earlier builds.

        Raises:
            InvalidRequestError: a value is invalid or a required one (``model``) is
                missing; ``.field`` names it.
        """
        kwargs = copy.deepcopy(dict(self._fields))
        for name in self._REQUEST._MISSING:
            kwargs.setdefault(name, None)  # reported by validation, not as a TypeError
        request: _R = self._REQUEST(**kwargs)
        request.validate()
        return request


class _OptionsBuilder(_Builder[_R]):
    """Steps for requests that carry ``options`` and ``keep_alive``."""

    __slots__ = ()

    def keep_alive(self, value: KeepAlive) -> Self:
        """How long the model stays loaded: a duration (``"10m"``) or seconds (``0`` unloads,
        negative keeps it forever)."""
        return self._with(keep_alive=value)

    def option(self, key: str, value: Any) -> Self:
        """Set one model option, known (``"num_ctx"``) or not (passed through)."""
        return self._merge("options", {key: value})

    def options(self, options: Options | Mapping[str, Any] | None = None, /,
                **kwargs: Any) -> Self:
        """Merge options from an :class:`Options`, a dict and/or keywords (later wins)."""
        merged: dict[str, Any] = {}
        if isinstance(options, Options):
            merged.update(options.to_dict())
        elif options is not None:
            merged.update(options)
        merged.update(kwargs)
        return self._merge("options", merged)

    def temperature(self, value: float) -> Self:
        """Sampling temperature (server default 0.8)."""
        return self.option("temperature", value)

    def top_p(self, value: float) -> Self:
        """Nucleus sampling threshold (server default 0.9)."""
        return self.option("top_p", value)

    def top_k(self, value: int) -> Self:
        """Sample among the ``value`` most likely tokens (server default 40)."""
        return self.option("top_k", value)

    def min_p(self, value: float) -> Self:
        """Minimum probability relative to the most likely token (server default 0)."""
        return self.option("min_p", value)

    def seed(self, value: int) -> Self:
        """Random seed, for reproducible output."""
        return self.option("seed", value)

    def num_predict(self, value: int) -> Self:
        """Maximum tokens to generate (``-1`` no limit, ``-2`` fill the context)."""
        return self.option("num_predict", value)

    def num_ctx(self, value: int) -> Self:
        """Context window size in tokens (changing it reloads the model)."""
        return self.option("num_ctx", value)

    def stop(self, *sequences: str) -> Self:
        """Stop generating at any of these strings (replaces earlier stop sequences)."""
        return self.option("stop", list(sequences))


class _InferenceBuilder(_OptionsBuilder[_R]):
    """Steps shared by chat and generate."""

    __slots__ = ()

    def format(self, value: str | Mapping[str, Any] | Any) -> Self:
        """Structured output: ``"json"``, a JSON-Schema dict, or a pydantic model class
        (its ``model_json_schema()`` is used)."""
        schema = getattr(value, "model_json_schema", None)
        return self._with(format=schema() if callable(schema) else value)

    def think(self, value: bool | ThinkLevel = True) -> Self:
        """Turn thinking on/off or pick a level (``"low"`` ... ``"max"``)."""
        return self._with(think=value)

    def stream(self, value: bool = True) -> Self:
        """Ask for a stream (the server's default) or a single response."""
        return self._with(stream=value)

    def truncate(self, value: bool = True) -> Self:
        """Truncate the history when the prompt exceeds the context."""
        return self._with(truncate=value)

    def shift(self, value: bool = True) -> Self:
        """Shift the context instead of failing when the limit is hit."""
        return self._with(shift=value)

    def logprobs(self, enabled: bool = True, *, top: int | None = None) -> Self:
        """Return per-token log probabilities, with ``top`` (0..20) alternatives each."""
        if top is None:
            return self._with(logprobs=enabled)
        return self._with(logprobs=enabled, top_logprobs=top)


class ChatRequestBuilder(_InferenceBuilder[ChatRequest]):
    """Builds a :class:`~ollama_core.ChatRequest`; messages are appended in call order."""

    __slots__ = ()
    _REQUEST = ChatRequest

    def message(self, message: ChatMessage | Mapping[str, Any]) -> Self:
        """Append a message, typed or as a wire dict."""
        return self._append("messages", message)

    def messages(self, messages: Iterable[ChatMessage | Mapping[str, Any]]) -> Self:
        """Append several messages (e.g. an earlier conversation)."""
        return self._append("messages", *messages)

    def system(self, content: str) -> Self:
        """Append a system message."""
        return self.message(ChatMessage(MessageRole.SYSTEM, content))

    def user(self, content: str,
             images: Sequence[str | bytes | os.PathLike[str]] | None = None) -> Self:
        """Append a user message, optionally with images (base64 text or raw bytes; paths
        with the ``vision_support`` plugin)."""
        return self.message(
            ChatMessage(MessageRole.USER, content, images=list(images) if images else None))

    def assistant(self, content: str = "", *, thinking: str | None = None,
                  tool_calls: Sequence[ToolCall | Mapping[str, Any]] | None = None) -> Self:
        """Append an assistant message (a previous answer, possibly with tool calls)."""
        calls = [ToolCall.from_dict(c) if isinstance(c, Mapping) else c for c in tool_calls or ()]
        return self.message(ChatMessage(
            MessageRole.ASSISTANT, content, thinking=thinking, tool_calls=calls or None))

    def tool_result(self, content: Any, tool_name: str,
                    tool_call_id: str | None = None) -> Self:
        """Append the result of a tool call. A non-string result is sent as its JSON text."""
        text = content if isinstance(content, str) else json.dumps(content)
        return self.message(ChatMessage(
            MessageRole.TOOL, text, tool_name=tool_name, tool_call_id=tool_call_id))

    def tool(self, tool: Tool | Mapping[str, Any]) -> Self:
        """Offer a tool to the model, typed or as a wire dict."""
        return self._append("tools", tool)

    def tools(self, tools: Iterable[Tool | Mapping[str, Any]]) -> Self:
        """Offer several tools."""
        return self._append("tools", *tools)


class GenerateRequestBuilder(_InferenceBuilder[GenerateRequest]):
    """Builds a :class:`~ollama_core.GenerateRequest`."""

    __slots__ = ()
    _REQUEST = GenerateRequest

    def prompt(self, text: str) -> Self:
        """The prompt (without one the request just loads the model)."""
        return self._with(prompt=text)

    def suffix(self, text: str) -> Self:
        """Text after the insertion point, for fill-in-the-middle models."""
        return self._with(suffix=text)

    def system(self, text: str) -> Self:
        """Replace the model's system prompt."""
        return self._with(system=text)

    def template(self, text: str) -> Self:
        """Replace the model's prompt template."""
        return self._with(template=text)

    def context(self, tokens: Sequence[int]) -> Self:
        """Token context from an earlier response (deprecated by the server)."""
        return self._with(context=list(tokens))

    def raw(self, value: bool = True) -> Self:
        """Send the prompt without templating (excludes system, template and context)."""
        return self._with(raw=value)

    def image(self, image: str | bytes | os.PathLike[str]) -> Self:
        """Append an image (base64 text or raw bytes; a path with ``vision_support``)."""
        return self._append("images", image)

    def images(self, images: Iterable[str | bytes | os.PathLike[str]]) -> Self:
        """Append several images."""
        return self._append("images", *images)


class EmbedRequestBuilder(_OptionsBuilder[EmbedRequest]):
    """Builds an :class:`~ollama_core.EmbedRequest`."""

    __slots__ = ()
    _REQUEST = EmbedRequest

    def input(self, value: str | Sequence[str]) -> Self:
        """The text(s) to embed: one string, or a list (one vector each, same order)."""
        return self._with(input=value if isinstance(value, str) else list(value))

    def truncate(self, value: bool = True) -> Self:
        """Cut inputs longer than the context (the server's default) or fail on them."""
        return self._with(truncate=value)

    def dimensions(self, value: int) -> Self:
        """Cut the vectors to ``value`` dimensions."""
        return self._with(dimensions=value)


class CreateRequestBuilder(_Builder[CreateRequest]):
    """Builds a :class:`~ollama_core.CreateRequest` (needs ``from_`` or ``files``)."""

    __slots__ = ()
    _REQUEST = CreateRequest

    def from_(self, model: str) -> Self:
        """Base the new model on an existing one (sent as ``"from"``)."""
        return self._with(from_=model)

    def file(self, name: str, digest: str) -> Self:
        """Add an uploaded blob (``sha256:...`` digest) as a model file."""
        return self._merge("files", {name: digest})

    def files(self, files: Mapping[str, str]) -> Self:
        """Add several model files (file name to blob digest)."""
        return self._merge("files", files)

    def adapter(self, name: str, digest: str) -> Self:
        """Add an uploaded LoRA adapter blob."""
        return self._merge("adapters", {name: digest})

    def template(self, text: str) -> Self:
        """The prompt template."""
        return self._with(template=text)

    def system(self, text: str) -> Self:
        """The system prompt."""
        return self._with(system=text)

    def license(self, text: str | Sequence[str]) -> Self:
        """The licence text(s)."""
        return self._with(license=text if isinstance(text, str) else list(text))

    def parameter(self, key: str, value: Any) -> Self:
        """Set one default model parameter (``temperature``, ``stop``, ...)."""
        return self._merge("parameters", {key: value})

    def parameters(self, **kwargs: Any) -> Self:
        """Merge default model parameters."""
        return self._merge("parameters", kwargs)

    def message(self, message: ChatMessage | Mapping[str, Any]) -> Self:
        """Append a message to the model's built-in conversation."""
        return self._append("messages", message)

    def quantize(self, level: str) -> Self:
        """Quantize while creating (e.g. ``"q4_K_M"``, ``"q8_0"``)."""
        return self._with(quantize=level)

    def renderer(self, name: str) -> Self:
        """The prompt renderer to use."""
        return self._with(renderer=name)

    def parser(self, name: str) -> Self:
        """The output parser to use."""
        return self._with(parser=name)

    def stream(self, value: bool = True) -> Self:
        """Stream progress lines (the server's default) or wait for the final status."""
        return self._with(stream=value)


def builder_for(request: type[_R]) -> _Builder[_R]:
    """A new builder for ``request``: its hand-written builder, or one made from the
    declaration (generated setters only) on top of the nearest base class's builder."""
    cls = _BUILDERS.get(request)
    if cls is None:
        base = next((_BUILDERS[c] for c in request.__mro__[1:] if c in _BUILDERS), _Builder)
        cls = type(f"{request.__name__}Builder", (base,),
                   {"__slots__": (), "_REQUEST": request})
    return cast(_Builder[_R], cls())
