"""One plain answer from the lines of a stream, exactly as Ollama builds a ``"stream": false`` body.

Ollama writes nothing of a ``"stream": false`` answer until generation has ended, so no
timeout can tell a long generation from a server that stopped answering. The client
therefore sends the non-streaming chat, generate, pull, push and create calls as streams
(``"stream": true`` on the wire) and the transport folds the lines back into the body
the server would have sent, inside the one attempt the middleware chain sees. The
rules are those of Ollama's ``server/routes.go``:

- chat: the last line, with ``message.content`` and ``message.thinking`` the
  concatenation of every line's, ``logprobs`` every line's in order, and, when the
  request has ``tools``, ``message.tool_calls`` gathered from every line;
- generate: the last line, with ``response`` and ``thinking`` concatenated and
  ``logprobs`` gathered (tool calls are the last line's, as the server keeps them);
- pull, push, create: the last progress object.

Everything else (``done_reason``, every timing field, ``context``, ``model``,
``created_at``) is the last line's, as the server's ``r = t`` keeps it. Empty
``thinking`` and ``logprobs`` are left out, as Go's ``omitempty`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

__all__ = ["Aggregator", "aggregator_for"]


class Aggregator:
    """Folds the lines of one stream into one body. ``add`` each line (or ``fold`` them a
    batch at a time), then ``result()``."""

    __slots__ = ("_last",)

    #: The line that ends the stream: ``"done"`` (``"done": true``) or ``"success"``.
    terminal: ClassVar[str] = "done"

    def __init__(self) -> None:
        self._last: dict[str, Any] | None = None

    def add(self, line: dict[str, Any]) -> None:
        self._last = line

    def fold(self, line: dict[str, Any], rest: Iterator[dict[str, Any]]
             ) -> dict[str, Any] | None:
        """Fold ``line``, then the lines of ``rest``, up to the first one that ends the
        stream (folded) or holds ``"error"`` (not folded), and return that one; ``None``
        once ``rest`` runs out. A stream's lines arrive in batches: one call a batch."""
        add = self.add
        done_ends = self.terminal == "done"
        while True:
            if "error" in line:
                return line
            add(line)
            if (line.get("done") is True) if done_ends else line.get("status") == "success":
                return line
            next_line = next(rest, None)
            if next_line is None:
                return None
            line = next_line

    def result(self) -> dict[str, Any]:
        # The transport only asks once the terminal line arrived, so there is a last line.
        assert self._last is not None
        return self._last


class _Progress(Aggregator):
    """pull, push, create: ``waitForStream`` answers the latest progress object."""

    __slots__ = ()
    terminal = "success"


def _texts(parts: list[str], value: Any) -> None:
    if isinstance(value, str) and value:
        parts.append(value)


def _gather(items: list[Any], value: Any) -> None:
    if isinstance(value, list):
        items.extend(value)


def _set_or_drop(target: dict[str, Any], key: str, value: Any) -> None:
    if value:
        target[key] = value
    else:
        target.pop(key, None)


class _Generate(Aggregator):
    __slots__ = ("_content", "_thinking", "_logprobs")

    def __init__(self) -> None:
        super().__init__()
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._logprobs: list[Any] = []

    def add(self, line: dict[str, Any]) -> None:
        _texts(self._content, line.get("response"))
        _texts(self._thinking, line.get("thinking"))
        _gather(self._logprobs, line.get("logprobs"))
        self._last = line

    def result(self) -> dict[str, Any]:
        body = dict(super().result())
        body["response"] = "".join(self._content)
        _set_or_drop(body, "thinking", "".join(self._thinking))
        _set_or_drop(body, "logprobs", self._logprobs)
        return body


class _Chat(Aggregator):
    __slots__ = ("_content", "_thinking", "_logprobs", "_tool_calls", "_tools")

    def __init__(self, tools: bool) -> None:
        super().__init__()
        self._content: list[str] = []
        self._thinking: list[str] = []
        self._logprobs: list[Any] = []
        self._tool_calls: list[Any] = []
        self._tools = tools

    def add(self, line: dict[str, Any]) -> None:
        # Once per line of every plain chat: the helpers above, inlined.
        message = line.get("message")
        if type(message) is dict or isinstance(message, dict):
            value = message.get("content")
            if value and isinstance(value, str):
                self._content.append(value)
            value = message.get("thinking")
            if value and isinstance(value, str):
                self._thinking.append(value)
            if self._tools:
                _gather(self._tool_calls, message.get("tool_calls"))
        value = line.get("logprobs")
        if value is not None and isinstance(value, list):
            self._logprobs.extend(value)
        self._last = line

    def fold(self, line: dict[str, Any], rest: Iterator[dict[str, Any]]
             ) -> dict[str, Any] | None:
        # ``Aggregator.fold`` with ``add`` written out: this loop runs once per token of
        # every plain chat.
        content = self._content
        thinking = self._thinking
        tools = self._tools
        while True:
            if "error" in line:
                return line
            message = line.get("message")
            if type(message) is dict or isinstance(message, dict):
                value = message.get("content")
                if value and isinstance(value, str):
                    content.append(value)
                value = message.get("thinking")
                if value and isinstance(value, str):
                    thinking.append(value)
                if tools:
                    _gather(self._tool_calls, message.get("tool_calls"))
            value = line.get("logprobs")
            if value is not None and isinstance(value, list):
                self._logprobs.extend(value)
            self._last = line
            if line.get("done") is True:
                return line
            next_line = next(rest, None)
            if next_line is None:
                return None
            line = next_line

    def result(self) -> dict[str, Any]:
        body = dict(super().result())
        last = body.get("message")
        message = dict(last) if isinstance(last, dict) else {}
        message["content"] = "".join(self._content)
        _set_or_drop(message, "thinking", "".join(self._thinking))
        if self._tool_calls:
            message["tool_calls"] = self._tool_calls
        body["message"] = message
        _set_or_drop(body, "logprobs", self._logprobs)
        return body


def aggregator_for(path: str, body: Any) -> Aggregator | None:
    """A fresh aggregator when a plain call to ``path`` with JSON ``body`` gets a stream
    back (its ``"stream"`` is not ``false``: Ollama streams by default), else ``None``.

    ``path`` is the request path (``/api/chat``); other paths are never aggregated.
    """
    if not isinstance(body, Mapping) or body.get("stream") is False:
        return None
    if path == "/api/chat":
        tools = body.get("tools")
        return _Chat(bool(tools) if isinstance(tools, list) else False)
    if path == "/api/generate":
        return _Generate()
    if path in _PROGRESS_PATHS:
        return _Progress()
    return None


_PROGRESS_PATHS = frozenset({"/api/pull", "/api/push", "/api/create"})
