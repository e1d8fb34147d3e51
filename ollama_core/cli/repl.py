"""The interactive chat (``chat`` on a terminal, or ``chat -i``): one message per line,
the conversation kept as history, ``/`` commands as in ``ollama run``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._types import ChatMessage
from .errors import EXIT_OK
from .parser import REPL_HELP

if TYPE_CHECKING:
    from .._types import ChatRequest
    from .session import Session

__all__ = ["EXIT_HINT", "read_message", "repl"]

#: Printed when Ctrl-C is pressed at the prompt, which does not end the session.
EXIT_HINT = "Use Ctrl + d or /bye to exit."


def read_message(prompt: str) -> str | None:
    """One message from the user (``None`` at end of input); ``\"\"\"`` spans lines."""
    try:
        line = input(prompt)
    except EOFError:
        return None
    if not line.lstrip().startswith('"""'):
        return line
    text = line.lstrip()[3:]
    if text.rstrip().endswith('"""') and text.strip():
        return text.rstrip()[:-3]
    parts = [text]
    while True:
        try:
            line = input("... " if prompt else "")
        except EOFError:
            break
        if line.rstrip().endswith('"""'):
            parts.append(line.rstrip()[:-3])
            break
        parts.append(line)
    return "\n".join(parts).strip("\n")


def repl(session: Session, history: list[ChatMessage], images: list[bytes],
         request_for: Callable[[list[ChatMessage]], ChatRequest], pending: list[str],
         stdin_tty: bool, *, turn: Callable[[Session, ChatRequest], ChatMessage]) -> int:
    """Run the conversation until ``/bye`` or end of input.

    ``pending`` holds messages to send before reading any (``chat -i MODEL "first"``);
    ``turn`` sends one request, prints the answer and returns the assistant message.
    """
    prompt = ">>> " if stdin_tty else ""
    if stdin_tty:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - importing it gives input() line editing
        session.warn("Type /? for help, /bye or Ctrl-D to exit.")
    system = list(history)
    first = True
    while True:
        try:
            text = pending.pop(0) if pending else read_message(prompt)
        except KeyboardInterrupt:
            if not stdin_tty:
                raise  # piped input has no prompt to return to: Ctrl-C ends the run
            # As in `ollama run`: Ctrl-C drops the line being typed and keeps the session.
            session.write("\n")
            session.warn(EXIT_HINT)
            continue
        if text is None:
            if stdin_tty:
                session.write("\n")
            return EXIT_OK
        command = text.strip()
        if not command:
            continue
        if command == "/bye":
            return EXIT_OK
        if command in ("/?", "/help"):
            session.write(REPL_HELP)
            continue
        if command == "/clear":
            history[:] = system
            session.warn("Cleared session context")
            continue
        if command.startswith("/") and " " not in command:
            session.warn(f"Unknown command '{command}'. Type /? for help")
            continue
        message = ChatMessage("user", text, images=(images or None) if first else None)
        first = False
        messages = [*history, message]
        try:
            answer = turn(session, request_for(messages))
        except KeyboardInterrupt:
            # Ctrl-C during an answer stops that answer (the stream was cancelled on
            # the way out) and returns to the prompt; the unfinished turn is dropped.
            session.write("\n")
            continue
        history[:] = [*messages, answer]
        if not session.json:
            session.write("\n")
