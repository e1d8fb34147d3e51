"""Chat and generate answers: thinking, tool calls and content as they stream, and the
``--verbose`` timings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..._types import Metrics, ToolCall
    from ..session import Session

__all__ = ["AnswerParts", "AnswerPrinter", "print_answer", "print_metrics"]

#: What :func:`print_answer` needs from a chunk: its thinking, tool calls and content.
AnswerParts = Callable[[Any], tuple[str | None, Any, str]]


class AnswerPrinter:
    """Prints thinking and content as they stream, the way ``ollama run`` lays them out."""

    def __init__(self, session: Session, hide_thinking: bool) -> None:
        self.session = session
        self.hide_thinking = hide_thinking
        self.thinking = False
        self.at_line_start = True
        self.wrote = False

    def _write(self, text: str) -> None:
        if text:
            self.session.write(text)
            self.wrote = True
            self.at_line_start = text.endswith("\n")

    def thought(self, text: str | None) -> None:
        if not text or self.hide_thinking:
            return
        if not self.thinking:
            self.thinking = True
            self._write("Thinking...\n")
        self._write(text)

    def content(self, text: str | None) -> None:
        if not text:
            return
        self._end_thinking()
        self._write(text)

    def tool_calls(self, calls: Sequence[ToolCall] | None) -> None:
        for call in calls or ():
            self._end_thinking()
            if not self.at_line_start:
                self._write("\n")
            args = json.dumps(call.function.arguments, ensure_ascii=False)
            self._write(f"tool call: {call.function.name}({args})\n")

    def _end_thinking(self) -> None:
        if self.thinking:
            self.thinking = False
            self._write("\n...done thinking.\n\n" if not self.at_line_start
                        else "...done thinking.\n\n")

    def finish(self) -> None:
        self._end_thinking()
        if self.wrote and not self.at_line_start:
            self._write("\n")


def print_answer(session: Session, chunks: Iterable[Any], parts: AnswerParts) -> None:
    """Print a chat or generate answer, whole or chunk by chunk: as JSON documents with
    ``--json``, else thinking, tool calls and content as they arrive."""
    printer = AnswerPrinter(session, session.args.hide_thinking)
    for chunk in chunks:
        if session.json:
            session.emit_json(chunk.to_dict())
            continue
        thinking, calls, content = parts(chunk)
        printer.thought(thinking)
        printer.tool_calls(calls)
        printer.content(content)
    if not session.json:
        printer.finish()


def print_metrics(session: Session, metrics: Metrics, chunks: int | None = None) -> None:
    """``--verbose``: what ``ollama run --verbose`` prints, on stderr."""
    lines: list[tuple[str, str]] = []

    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value * 1000:.1f}ms" if value < 1 else f"{value:.3f}s"

    def rate(value: float | None) -> str:
        return "" if value is None else f"{value:.2f} tokens/s"

    lines.append(("total duration", seconds(metrics.total_seconds)))
    lines.append(("load duration", seconds(metrics.load_seconds)))
    lines.append(("prompt eval count", f"{metrics.prompt_eval_count or 0} token(s)"))
    lines.append(("prompt eval duration", seconds(metrics.prompt_eval_seconds)))
    lines.append(("prompt eval rate", rate(metrics.prompt_tokens_per_second)))
    lines.append(("eval count", f"{metrics.eval_count or 0} token(s)"))
    lines.append(("eval duration", seconds(metrics.eval_seconds)))
    lines.append(("eval rate", rate(metrics.tokens_per_second)))
    if chunks is not None:
        lines.append(("chunks", str(chunks)))
    for label, value in lines:
        if value:
            session.warn(f"{label + ':':<22}{value}")
