"""Assembling the assistant message of a streamed chat, tool calls included.

Ollama does not stream a tool call piece by piece: each call arrives whole, in a non-final
chunk (usually with empty ``content``), and several chunks may each carry calls. So the
accumulator appends calls as they come (no merging, no de-duplication: two identical calls
are two calls), concatenates ``content`` and ``thinking``, and keeps the final chunk for its
metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ollama_core import ChatMessage, ChatResponse, MessageRole, ToolCall, ToolCallFunction

from ._registry import _as_call

__all__ = ["ToolCallAccumulator"]


def _index(call: ToolCall) -> int | None:
    function: Any = call.function
    index = function.get("index") if isinstance(function, Mapping) \
        else getattr(function, "index", None)
    return index if isinstance(index, int) and not isinstance(index, bool) else None


class ToolCallAccumulator:
    """Feed it the chunks of ``client.chat_stream(...)``; get back the whole message.

    ::

        acc = ToolCallAccumulator()
        async for chunk in client.chat_stream(request):
            acc.add(chunk)
            print(chunk.message.content, end="")
        messages.append(acc.message())        # the assistant turn, tool calls included
        messages.extend(await registry.execute_tool_calls(acc.tool_calls))

    Tool calls keep their arrival order, unless every call carries ``function.index``
    (which Ollama numbers across the whole response): then they are ordered by it, stably.
    """

    def __init__(self) -> None:
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._calls: list[ToolCall] = []
        self.role: MessageRole | str = MessageRole.ASSISTANT
        #: The chunk with ``done: true`` (metrics, ``done_reason``), once it has arrived.
        self.final: ChatResponse | None = None
        #: How many chunks were added.
        self.chunks = 0

    def add(self, chunk: ChatResponse | ChatMessage | Mapping[str, Any]) -> None:
        """Take one chunk: a ``ChatResponse``, its wire dict, or a bare ``ChatMessage``."""
        if isinstance(chunk, Mapping):
            chunk = ChatResponse.from_dict(chunk)
        if isinstance(chunk, ChatResponse):
            message = chunk.message
            if chunk.done:
                self.final = chunk
        else:
            message = chunk
        self.chunks += 1
        if message.role:
            self.role = message.role
        # A chunk is what the server sent: text that is not text is left out, and tool
        # calls that are not objects are kept as malformed calls (reported when run).
        if isinstance(message.content, str) and message.content:
            self._content.append(message.content)
        if isinstance(message.thinking, str) and message.thinking:
            self._thinking.append(message.thinking)
        calls: Any = message.tool_calls
        if calls is not None and not isinstance(calls, (list, tuple)):
            calls = [calls]
        for call in calls or ():
            self._calls.append(_as_call(call, from_server=True))

    @property
    def content(self) -> str:
        """The text so far."""
        return "".join(self._content)

    @property
    def thinking(self) -> str:
        """The reasoning so far (``""`` when the model did not think aloud)."""
        return "".join(self._thinking)

    @property
    def tool_calls(self) -> list[ToolCall]:
        """The tool calls so far, in call order (a new list of new objects)."""
        calls = self._calls
        indexes = [_index(c) for c in calls]
        if calls and all(i is not None for i in indexes):
            order = sorted(range(len(calls)), key=lambda k: indexes[k] or 0)
            calls = [calls[k] for k in order]
        return [_copy(c) for c in calls]

    @property
    def done(self) -> bool:
        """Whether the final chunk has been added."""
        return self.final is not None

    def message(self) -> ChatMessage:
        """The assembled assistant message, ready to append to the conversation history.

        ``thinking`` and ``tool_calls`` are left out (``None``) when there were none, so the
        message serialises exactly like a non-streamed answer.
        """
        return ChatMessage(self.role, self.content, thinking=self.thinking or None,
                           tool_calls=list(self.tool_calls) or None)


def _copy(call: ToolCall) -> ToolCall:
    """A copy that the caller may change without changing the accumulator's state."""
    function: Any = call.function
    if isinstance(function, Mapping):
        function = ToolCallFunction.from_dict(function)
    if not isinstance(function, ToolCallFunction):  # malformed: kept as the server sent it
        return ToolCall(function=function, id=call.id, extra=dict(call.extra))
    arguments: Any = function.arguments
    return ToolCall(
        function=ToolCallFunction(
            name=function.name,
            arguments=dict(arguments) if isinstance(arguments, Mapping) else arguments or {},
            index=function.index, extra=dict(function.extra)),
        id=call.id, extra=dict(call.extra))
