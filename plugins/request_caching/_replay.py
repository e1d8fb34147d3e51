"""Answers served from the cache: a stored answer replayed in the form the call asks for
(a stream, or one plain answer merged from a stream's lines)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ollama_core.ext import Request, Response

from .store import StoredAnswer

__all__ = ["merge_stream", "replay"]


def _join_text(lines: list[dict[str, Any]], get: Callable[[dict[str, Any]], Any]) -> str | None:
    parts = [v for v in map(get, lines) if isinstance(v, str) and v]
    return "".join(parts) if parts else None


def _items(value: Any) -> list[Any]:
    # A line is what the server sent: a value that is not a list adds nothing to merge.
    return value if isinstance(value, list) else []


def merge_stream(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """One plain answer from the lines of a chat or generate stream: the final line with
    the text, thinking, tool calls and logprobs of every line joined."""
    final = dict(lines[-1])
    if isinstance(final.get("message"), dict):
        messages = [ln["message"] for ln in lines if isinstance(ln.get("message"), dict)]
        message = dict(final["message"])
        message["content"] = _join_text(messages, lambda m: m.get("content")) or ""
        thinking = _join_text(messages, lambda m: m.get("thinking"))
        if thinking is not None:
            message["thinking"] = thinking
        calls = [c for m in messages for c in _items(m.get("tool_calls"))]
        if calls:
            message["tool_calls"] = calls
        final["message"] = message
    elif "response" in final:
        final["response"] = _join_text(lines, lambda ln: ln.get("response")) or ""
        thinking = _join_text(lines, lambda ln: ln.get("thinking"))
        if thinking is not None:
            final["thinking"] = thinking
    logprobs = [p for ln in lines for p in _items(ln.get("logprobs"))]
    if logprobs:
        final["logprobs"] = logprobs
    return final


def replay(request: Request, answer: StoredAnswer) -> Response:
    """A fresh response from a stored answer, in the form the request asks for."""
    value = answer.value()
    if answer.stream:
        response = Response.from_lines(request, value) if request.stream \
            else Response(request, 200, body=merge_stream(value))
    else:
        response = Response.from_lines(request, [value]) if request.stream \
            else Response(request, 200, body=value)
    response.from_cache = True
    return response
