"""``chat``, ``generate`` and ``embed``: the commands that run a model."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..._sync import SyncStream
from ..._types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    EmbedRequest,
    GenerateRequest,
    GenerateResponse,
    ToolCall,
)
from ..errors import EXIT_OK, EXIT_USAGE, CLIError
from ..interrupt import cancel_on_interrupt
from ..output.answer import print_answer, print_metrics
from ..repl import repl
from ..session import Session

__all__ = ["chat", "embed", "generate"]


#: The image formats ``--image`` takes, by their first bytes.
_IMAGE_MAGIC: tuple[tuple[str, Callable[[bytes], bool]], ...] = (
    ("PNG", lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    ("JPEG", lambda head: head.startswith(b"\xff\xd8\xff")),
    ("GIF", lambda head: head[:6] in (b"GIF87a", b"GIF89a")),
    ("WEBP", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
    ("BMP", lambda head: head[:2] == b"BM" and len(head) >= 26),
    ("TIFF", lambda head: head[:4] in (b"II*\x00", b"MM\x00*")),
)


def image_kind(data: bytes) -> str | None:
    """The image format of ``data`` by its magic bytes (``"PNG"``...), else ``None``."""
    return next((kind for kind, matches in _IMAGE_MAGIC if matches(data[:32])), None)


def _read_images(paths: Sequence[str]) -> list[bytes]:
    """The files of ``--image``, each checked to be an image before anything is sent
    (the server would take any bytes; a vision model would then see garbage)."""
    images: list[bytes] = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CLIError(f"--image {path}: {exc.strerror or exc}", EXIT_USAGE) from exc
        if image_kind(data) is None:
            formats = ", ".join(kind for kind, _ in _IMAGE_MAGIC[:-1])
            raise CLIError(f"--image {path}: not an image (expected {formats} or "
                           f"{_IMAGE_MAGIC[-1][0]})", EXIT_USAGE)
        images.append(data)
    return images


def _prompt_from(words: Sequence[str]) -> str:
    """The prompt from the arguments, else all of a piped stdin."""
    if words:
        return " ".join(words)
    if sys.stdin is None or sys.stdin.isatty():
        raise CLIError("no prompt given: pass it as an argument or pipe it on stdin", EXIT_USAGE)
    text = sys.stdin.read()
    if not text.strip():
        raise CLIError("no prompt given: stdin was empty", EXIT_USAGE)
    return text


def _inference_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields chat and generate share, only those the user set."""
    fields: dict[str, Any] = {}
    if args.option:
        fields["options"] = dict(args.option)
    if args.format is not None:
        fields["format"] = args.format
    if args.think is not None:
        fields["think"] = args.think
    if args.keep_alive is not None:
        fields["keep_alive"] = args.keep_alive
    return fields


def _chat_parts(chunk: ChatResponse) -> tuple[str | None, Any, str]:
    return chunk.message.thinking, chunk.message.tool_calls, chunk.message.content


def _generate_parts(chunk: GenerateResponse) -> tuple[str | None, Any, str]:
    return chunk.thinking, chunk.tool_calls, chunk.response


def run_chat_turn(session: Session, request: ChatRequest) -> ChatMessage:
    """Send one chat request (streamed unless ``--no-stream``), print it, return the
    assistant message to keep in the history."""
    args = session.args
    client = session.client
    if args.no_stream:
        reply = client.chat(request)
        print_answer(session, [reply], _chat_parts)
        if args.verbose:
            print_metrics(session, reply.metrics)
        return ChatMessage("assistant", reply.message.content,
                           tool_calls=reply.message.tool_calls)

    content: list[str] = []
    calls: list[ToolCall] = []
    stream: SyncStream[ChatResponse] = client.chat_stream(request)

    def collected() -> Iterator[ChatResponse]:
        for chunk in stream:
            content.append(chunk.message.content)
            calls.extend(chunk.message.tool_calls or ())
            yield chunk

    # Leaving early (an error, Ctrl-C) cancels the stream and drops the connection.
    with stream, cancel_on_interrupt(stream):
        print_answer(session, collected(), _chat_parts)
    if args.verbose and stream.last is not None:
        print_metrics(session, stream.last.metrics, stream.metrics.chunks)
    return ChatMessage("assistant", "".join(content), tool_calls=calls or None)


def chat(session: Session) -> int:
    args = session.args
    images = _read_images(args.image)
    history: list[ChatMessage] = []
    if args.system:
        history.append(ChatMessage("system", args.system))
    fields = _inference_fields(args)

    def request_for(messages: list[ChatMessage]) -> ChatRequest:
        return ChatRequest(model=args.model, messages=messages, **fields)

    stdin_tty = sys.stdin is not None and sys.stdin.isatty()
    interactive = args.interactive or (not args.prompt and stdin_tty)
    if not interactive:
        history.append(ChatMessage("user", _prompt_from(args.prompt), images=images or None))
        run_chat_turn(session, request_for(history))
        return EXIT_OK

    # Validate options and format before waiting for the user's first line.
    request_for([*history, ChatMessage("user", "")]).validate()
    if args.prompt:  # `chat -i MODEL "first message"` starts with that message
        pending: list[str] = [" ".join(args.prompt)]
    else:
        pending = []
    return repl(session, history, images, request_for, pending, stdin_tty,
                turn=run_chat_turn)


def generate(session: Session) -> int:
    args = session.args
    fields = _inference_fields(args)
    for name in ("system", "suffix"):
        if getattr(args, name):
            fields[name] = getattr(args, name)
    if args.raw:
        fields["raw"] = True
    images = _read_images(args.image)
    if images:
        fields["images"] = images
    request = GenerateRequest(model=args.model, prompt=_prompt_from(args.prompt), **fields)
    client = session.client
    if args.no_stream:
        reply = client.generate(request)
        print_answer(session, [reply], _generate_parts)
        if args.verbose:
            print_metrics(session, reply.metrics)
        return EXIT_OK
    stream: SyncStream[GenerateResponse] = client.generate_stream(request)
    with stream, cancel_on_interrupt(stream):
        print_answer(session, stream, _generate_parts)
    if args.verbose and stream.last is not None:
        print_metrics(session, stream.last.metrics, stream.metrics.chunks)
    return EXIT_OK


def embed(session: Session) -> int:
    args = session.args
    texts: list[str] = list(args.texts)
    if not texts:
        if sys.stdin is None or sys.stdin.isatty():
            raise CLIError("no text given: pass texts as arguments or one per line on stdin",
                           EXIT_USAGE)
        texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
        if not texts:
            raise CLIError("no text given: stdin was empty", EXIT_USAGE)
    request = EmbedRequest(model=args.model, input=texts, dimensions=args.dimensions,
                           truncate=False if args.no_truncate else None)
    reply = session.client.embed(request)
    if session.json:
        session.emit_json(reply.to_dict())
    else:
        for vector in reply.embeddings:
            session.write(json.dumps(vector) + "\n")
    return EXIT_OK
