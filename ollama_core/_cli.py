"""The ``ollama-core`` command line (also ``python -m ollama_core``).

::

    ollama-core [--host URL | --emulator] [--plugins a,b] [--config PLUGIN.KEY=VALUE]...
                [--json] [--timeout SECONDS] COMMAND ...

Commands: ``chat``, ``generate``, ``list``, ``show``, ``ps``, ``pull``, ``push``,
``create``, ``cp``, ``rm``, ``embed``, ``health``, ``emulator``, ``version`` (``demo`` is
dispatched by ``__main__`` before this module is imported).

Every command talks to the server through :class:`~ollama_core.SyncOllamaClient`, so the
CLI has no client logic of its own: it parses arguments, turns them into typed requests,
prints what comes back and maps errors to exit codes:

* ``0`` success;
* ``1`` the server or the network said no (missing model, connection refused, 5xx...),
  reported as one ``error: ...`` line on stderr, never a traceback;
* ``2`` the command line, the configuration or the request is invalid (argparse's own
  convention for usage errors), with a message naming the offending field;
* ``130`` interrupted by Ctrl-C; a stream in progress is cancelled first, so the server
  stops generating.

``--json`` prints one JSON document per command (the types' ``to_dict()``), or NDJSON with
one object per chunk for streams, so output can be piped into ``jq``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from ._client import OllamaClient
from ._exceptions import (
    AllEndpointsFailedError,
    ConnectError,
    ConnectTimeout,
    InvalidConfigError,
    InvalidRequestError,
    OllamaError,
    ResponseError,
    ServerError,
    StreamErrorLine,
    TimeoutError,
)
from ._sync import SyncOllamaClient, SyncStream
from ._types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    CreateRequest,
    EmbedRequest,
    GenerateRequest,
    GenerateResponse,
    Metrics,
    ModelEntry,
    ModelInfo,
    ProgressResponse,
    ToolCall,
)

if TYPE_CHECKING:
    from .emulator import EmulatorThread

__all__ = ["build_parser", "main"]

PROG = "ollama-core"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

_REPL_HELP = """\
Available commands:
  /clear    forget the conversation so far
  /bye      exit (so does end of input, Ctrl-D)
  /?, /help show this help

Start and end a message with \"\"\" to write several lines.
"""


class CLIError(Exception):
    """A failure the CLI reports as one ``error:`` line and an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------
# Argument parsing
# --------------------------------------------------------------------------------------


def _parse_value(text: str) -> Any:
    """A ``KEY=VALUE`` value: JSON when it parses (numbers, booleans, lists...), else text.

    ``retry.max_attempts=5`` must give the int 5 and ``failover.policy=priority`` the
    string, without making users quote strings for the shell *and* for JSON.
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def _config_item(text: str) -> tuple[list[str], Any]:
    """``--config PLUGIN.KEY=VALUE`` -> (``[PLUGIN, KEY]``, value)."""
    key, sep, value = text.partition("=")
    path = [part.strip() for part in key.split(".")]
    if not sep or len(path) < 2 or not all(path):
        raise argparse.ArgumentTypeError(
            f"expected PLUGIN.KEY=VALUE (e.g. retry.max_attempts=5), got {text!r}")
    return path, _parse_value(value)


def _option_item(text: str) -> tuple[str, Any]:
    """``-o KEY=VALUE`` (a model option such as ``temperature=0.2``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. temperature=0.2), got {text!r}")
    return key.strip(), _parse_value(value)


def _plugin_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    return [] if names == ["none"] else names


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def _think_level(text: str) -> str:
    lowered = text.lower()
    if lowered not in ("low", "medium", "high", "max"):
        raise argparse.ArgumentTypeError(f"expected low, medium, high or max, got {text!r}")
    return lowered


def _format(text: str) -> str | dict[str, Any]:
    """``--format json``, a JSON schema inline, or ``@schema.json``."""
    if text == "json":
        return "json"
    source = text
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as f:
                source = f.read()
        except OSError as exc:
            raise argparse.ArgumentTypeError(f"cannot read {text[1:]}: {exc.strerror}") from None
    try:
        schema = json.loads(source)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected 'json', a JSON schema or @FILE with one") from None
    if not isinstance(schema, dict):
        raise argparse.ArgumentTypeError("a format schema must be a JSON object")
    return schema


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; handlers are attached as ``args.handler``."""
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=_Formatter,
        description="Talk to an Ollama server (or the embedded emulator) from the shell.",
        epilog="Run 'ollama-core COMMAND --help' for a command's options. "
               "'ollama-core demo' runs a guided tour against the emulator.")
    from . import __version__

    parser.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--host", metavar="URL",
                        help="the server (default: $OLLAMA_HOST, else http://localhost:11434)")
    target.add_argument("--emulator", action="store_true",
                        help="start an embedded emulator in this process and use it")
    parser.add_argument("--plugins", type=_plugin_list, metavar="A,B",
                        help="plugins to enable ('full' = all built-ins, 'none' = none; "
                             "default: $OLLAMA_CORE_PLUGINS)")
    parser.add_argument("--config", action="append", type=_config_item, default=[],
                        metavar="PLUGIN.KEY=VALUE",
                        help="plugin setting, repeatable; VALUE is JSON when it parses "
                             "(e.g. retry.max_attempts=5)")
    parser.add_argument("--json", action="store_true",
                        help="machine-readable output: one JSON document, NDJSON for streams")
    parser.add_argument("--timeout", type=_positive_float, metavar="SECONDS",
                        help="first-byte and idle timeout of each request (default 120)")

    # ``--json`` is also accepted after the command; SUPPRESS keeps the subparser from
    # overwriting a global ``--json`` with its own default.
    json_after = argparse.ArgumentParser(add_help=False)
    json_after.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, handler: Callable[[_Session], int], help_text: str,
                **kwargs: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text,
                           formatter_class=_Formatter, parents=[json_after], **kwargs)
        p.set_defaults(handler=handler)
        return p

    def generation_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("model", metavar="MODEL")
        p.add_argument("prompt", nargs="*", metavar="PROMPT",
                       help="the prompt (words are joined); read from stdin when piped")
        p.add_argument("--system", metavar="TEXT", help="system prompt")
        p.add_argument("--format", type=_format, metavar="json|SCHEMA|@FILE",
                       help="structured output: 'json' or a JSON schema")
        # Not ``--think [LEVEL]``: an optional value would swallow the prompt after it.
        think = p.add_mutually_exclusive_group()
        think.add_argument("--think", action="store_const", const=True, dest="think",
                           help="let a thinking model think")
        think.add_argument("--no-think", action="store_const", const=False, dest="think",
                           help="ask a thinking model not to think")
        think.add_argument("--think-level", type=_think_level, dest="think",
                           metavar="LEVEL", help="how hard to think: low, medium, high, max")
        p.add_argument("--hide-thinking", action="store_true",
                       help="do not print the model's thinking")
        p.add_argument("-o", "--option", action="append", type=_option_item, default=[],
                       metavar="KEY=VALUE", help="model option, repeatable (temperature=0)")
        p.add_argument("--image", action="append", default=[], metavar="PATH",
                       help="attach an image file (vision models), repeatable")
        p.add_argument("--keep-alive", type=_parse_value, metavar="DURATION",
                       help="how long the model stays loaded (e.g. 5m, 0, -1)")
        p.add_argument("--no-stream", action="store_true",
                       help="wait for the whole answer instead of streaming it")
        p.add_argument("--verbose", action="store_true",
                       help="print timings and token rates to stderr afterwards")

    p = command("chat", _cmd_chat, "chat with a model (interactive without a prompt)",
                epilog="Interactive mode (no PROMPT on a terminal, or -i) reads one "
                       "message per line.\n" + _REPL_HELP)
    generation_options(p)
    p.add_argument("-i", "--interactive", action="store_true",
                   help="read one message per line from stdin until EOF or /bye")

    p = command("generate", _cmd_generate, "complete a prompt (POST /api/generate)")
    generation_options(p)
    p.add_argument("--suffix", metavar="TEXT", help="text after the completion (fill-in)")
    p.add_argument("--raw", action="store_true", help="send the prompt without the template")

    command("list", _cmd_list, "list the models on the server", aliases=["ls"])

    p = command("show", _cmd_show, "show a model's details")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print the full metadata and tensors")
    only = p.add_mutually_exclusive_group()
    for name in ("modelfile", "parameters", "template", "system", "license"):
        only.add_argument(f"--{name}", action="store_const", const=name, dest="only",
                          help=f"print only the {name}")

    command("ps", _cmd_ps, "list the models loaded in memory")

    for name, help_text in (("pull", "pull a model from the registry"),
                            ("push", "push a model to the registry")):
        p = command(name, _cmd_pull if name == "pull" else _cmd_push, help_text)
        p.add_argument("model", metavar="MODEL")
        p.add_argument("--insecure", action="store_true", help="allow an insecure registry")

    p = command("create", _cmd_create, "create a model from another one")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("--from", dest="base", required=True, metavar="BASE",
                   help="the model to start from")
    p.add_argument("--system", metavar="TEXT", help="system prompt of the new model")
    p.add_argument("--template", metavar="TEXT", help="prompt template of the new model")
    p.add_argument("--quantize", metavar="LEVEL", help="quantize the weights (e.g. q4_K_M)")
    p.add_argument("-p", "--parameter", action="append", type=_option_item, default=[],
                   metavar="KEY=VALUE", help="default model parameter, repeatable")

    p = command("cp", _cmd_cp, "copy a model", aliases=["copy"])
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("destination", metavar="DESTINATION")

    p = command("rm", _cmd_rm, "delete models", aliases=["delete"])
    p.add_argument("models", nargs="+", metavar="MODEL")

    p = command("embed", _cmd_embed, "embed texts (one vector per text)")
    p.add_argument("model", metavar="MODEL")
    p.add_argument("texts", nargs="*", metavar="TEXT",
                   help="texts to embed; one per line from stdin when none is given")
    p.add_argument("--dimensions", type=int, metavar="N", help="cut the vectors to N")
    p.add_argument("--no-truncate", action="store_true",
                   help="fail instead of truncating inputs longer than the context")

    command("health", _cmd_health,
            "check the server (and each upstream when health_checks is enabled)")

    p = command("emulator", _cmd_emulator, "serve the embedded Ollama emulator")
    p.add_argument("--host", dest="bind_host", default="127.0.0.1", metavar="HOST",
                   help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", dest="bind_port", type=_port, default=11434, metavar="PORT",
                   help="port (default 11434; 0 picks a free one)")
    p.add_argument("--chunk-delay", type=float, default=0.0, metavar="SECONDS",
                   help="pause between stream chunks")

    command("version", _cmd_version, "print the client's and the server's versions")
    return parser


# --------------------------------------------------------------------------------------
# Session: the target, the client, the output
# --------------------------------------------------------------------------------------


def _plugin_config(items: Iterable[tuple[list[str], Any]]) -> dict[str, dict[str, Any]]:
    """Nest ``--config`` items: ``a.b.c=1`` -> ``{"a": {"b": {"c": 1}}}``."""
    config: dict[str, Any] = {}
    for path, value in items:
        node = config
        for i, part in enumerate(path[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise CLIError(f"--config {'.'.join(path)}: {'.'.join(path[:i + 1])} "
                               "was already given a value", EXIT_USAGE)
            node = child
        node[path[-1]] = value
    return config


@dataclass
class _Session:
    """What one command runs with: its arguments, its target and (lazily) a client."""

    args: argparse.Namespace
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    emulator: EmulatorThread | None = None
    _client: SyncOllamaClient | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    @property
    def host(self) -> str | None:
        """The target URL (``None``: the client applies the ``OLLAMA_HOST`` rules)."""
        if self.emulator is not None:
            return self.emulator.url
        host: str | None = self.args.host
        return host

    def client_kwargs(self) -> dict[str, Any]:
        args = self.args
        kwargs: dict[str, Any] = {"plugins": args.plugins,
                                  "plugin_config": _plugin_config(args.config)}
        if args.timeout is not None:
            kwargs["timeout"] = args.timeout
        return kwargs

    @property
    def client(self) -> SyncOllamaClient:
        if self._client is None:
            try:
                self._client = SyncOllamaClient(self.host, **self.client_kwargs())
            except (InvalidConfigError, ValueError, TypeError) as exc:
                # Building a client only reads configuration, so whatever fails here is
                # a configuration error, whichever plugin raised it.
                raise CLIError(f"invalid configuration: {exc}", EXIT_USAGE) from exc
        return self._client

    @property
    def url(self) -> str:
        """The server's URL for messages, without credentials."""
        if self._client is not None:
            return self._client.base_url
        from ._host import resolve_base_url
        from ._redact import mask_url

        try:
            return mask_url(resolve_base_url(self.host))
        except OllamaError:
            return mask_url(self.host)

    def close(self) -> None:
        client, self._client = self._client, None
        try:
            if client is not None:
                client.close()
        finally:
            emulator, self.emulator = self.emulator, None
            if emulator is not None:
                emulator.stop()

    # -- output ----------------------------------------------------------------------

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def emit_json(self, document: Any) -> None:
        """One JSON document on one line (NDJSON when called once per chunk)."""
        self.out.write(json.dumps(document, ensure_ascii=False, default=_json_default) + "\n")
        self.out.flush()

    def warn(self, message: str) -> None:
        print(message, file=self.err, flush=True)


def _json_default(value: Any) -> Any:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


# --------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------


def _human_bytes(n: int | None) -> str:
    """Decimal units, as ``ollama list`` prints them: ``2.0 GB``, ``274 MB``."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _parse_time(text: str | None) -> _dt.datetime | None:
    """An RFC 3339 timestamp as Ollama sends it (nanoseconds, ``Z`` or an offset)."""
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _relative(text: str | None, now: _dt.datetime | None = None) -> str:
    """``3 minutes ago`` / ``4 minutes from now``, like the Ollama CLI."""
    when = _parse_time(text)
    if when is None:
        return text or ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    seconds = (when - now).total_seconds()
    future, seconds = seconds > 0, abs(seconds)
    if seconds > 100 * 365 * 86400:
        return "Forever"
    if seconds < 1:
        return "Less than a second" if future else "Just now"
    for unit, size in (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
                       ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size:
            count = int(seconds // size)
            phrase = f"{count} {unit}{'s' if count != 1 else ''}"
            return f"{phrase} from now" if future else f"{phrase} ago"
    raise AssertionError("unreachable")  # pragma: no cover


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    all_rows = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(headers))]
    return "\n".join(
        "    ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in all_rows) + "\n"


def _short_digest(digest: str | None) -> str:
    return (digest or "").removeprefix("sha256:")[:12]


def _print_metrics(s: _Session, metrics: Metrics, chunks: int | None = None) -> None:
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
            s.warn(f"{label + ':':<22}{value}")


# --------------------------------------------------------------------------------------
# Generation: chat and generate
# --------------------------------------------------------------------------------------


def _read_images(paths: Sequence[str]) -> list[bytes]:
    images: list[bytes] = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                images.append(f.read())
        except OSError as exc:
            raise CLIError(f"--image {path}: {exc.strerror or exc}", EXIT_USAGE) from exc
    return images


def _prompt_from(s: _Session, words: Sequence[str]) -> str:
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


class _AnswerPrinter:
    """Prints thinking and content as they stream, the way ``ollama run`` lays them out."""

    def __init__(self, s: _Session, hide_thinking: bool) -> None:
        self.s = s
        self.hide_thinking = hide_thinking
        self.thinking = False
        self.at_line_start = True
        self.wrote = False

    def _write(self, text: str) -> None:
        if text:
            self.s.write(text)
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


@contextlib.contextmanager
def _cancel_on_interrupt(stream: SyncStream[Any]) -> Iterator[None]:
    """Turn Ctrl-C during a stream into ``stream.cancel()``, then ``KeyboardInterrupt``.

    Letting ``KeyboardInterrupt`` fly out of the blocking read would abandon a read still
    running on the client's loop thread; cancelling through the stream's own API drops
    the connection (so the server stops generating), ends the iteration cleanly, and
    only then reports the interruption. A second Ctrl-C interrupts at once.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    interrupted = False

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if interrupted:
            raise KeyboardInterrupt
        interrupted = True
        stream.cancel()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def _print_answer(s: _Session, chunks: Iterable[Any],
                  parts: Callable[[Any], tuple[str | None, Any, str]]) -> None:
    """Print a chat or generate answer, whole or chunk by chunk: as JSON documents with
    ``--json``, else thinking, tool calls and content as they arrive."""
    printer = _AnswerPrinter(s, s.args.hide_thinking)
    for chunk in chunks:
        if s.json:
            s.emit_json(chunk.to_dict())
            continue
        thinking, calls, content = parts(chunk)
        printer.thought(thinking)
        printer.tool_calls(calls)
        printer.content(content)
    if not s.json:
        printer.finish()


def _chat_parts(chunk: ChatResponse) -> tuple[str | None, Any, str]:
    return chunk.message.thinking, chunk.message.tool_calls, chunk.message.content


def _generate_parts(chunk: GenerateResponse) -> tuple[str | None, Any, str]:
    return chunk.thinking, chunk.tool_calls, chunk.response


def _run_chat_turn(s: _Session, request: ChatRequest) -> ChatMessage:
    """Send one chat request (streamed unless ``--no-stream``), print it, return the
    assistant message to keep in the history."""
    args = s.args
    client = s.client
    if args.no_stream:
        reply = client.chat(request)
        _print_answer(s, [reply], _chat_parts)
        if args.verbose:
            _print_metrics(s, reply.metrics)
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
    with stream, _cancel_on_interrupt(stream):
        _print_answer(s, collected(), _chat_parts)
    if args.verbose and stream.last is not None:
        _print_metrics(s, stream.last.metrics, stream.metrics.chunks)
    return ChatMessage("assistant", "".join(content), tool_calls=calls or None)


def _cmd_chat(s: _Session) -> int:
    args = s.args
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
        history.append(ChatMessage("user", _prompt_from(s, args.prompt), images=images or None))
        _run_chat_turn(s, request_for(history))
        return EXIT_OK

    # Validate options and format before waiting for the user's first line.
    request_for([*history, ChatMessage("user", "")]).validate()
    if args.prompt:  # `chat -i MODEL "first message"` starts with that message
        pending: list[str] = [" ".join(args.prompt)]
    else:
        pending = []
    return _repl(s, history, images, request_for, pending, stdin_tty)


def _read_message(prompt: str) -> str | None:
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


def _repl(s: _Session, history: list[ChatMessage], images: list[bytes],
          request_for: Callable[[list[ChatMessage]], ChatRequest], pending: list[str],
          stdin_tty: bool) -> int:
    """The interactive chat: one message per line, the conversation kept as history."""
    prompt = ">>> " if stdin_tty else ""
    if stdin_tty:
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - importing it gives input() line editing
        s.warn("Type /? for help, /bye or Ctrl-D to exit.")
    system = list(history)
    first = True
    while True:
        text = pending.pop(0) if pending else _read_message(prompt)
        if text is None:
            if stdin_tty:
                s.write("\n")
            return EXIT_OK
        command = text.strip()
        if not command:
            continue
        if command == "/bye":
            return EXIT_OK
        if command in ("/?", "/help"):
            s.write(_REPL_HELP)
            continue
        if command == "/clear":
            history[:] = system
            s.warn("Cleared session context")
            continue
        if command.startswith("/") and " " not in command:
            s.warn(f"Unknown command '{command}'. Type /? for help")
            continue
        message = ChatMessage("user", text, images=(images or None) if first else None)
        first = False
        turn = [*history, message]
        try:
            answer = _run_chat_turn(s, request_for(turn))
        except KeyboardInterrupt:
            # Ctrl-C during an answer stops that answer (the stream was cancelled on
            # the way out) and returns to the prompt; the unfinished turn is dropped.
            s.write("\n")
            continue
        history[:] = [*turn, answer]
        if not s.json:
            s.write("\n")


def _cmd_generate(s: _Session) -> int:
    args = s.args
    fields = _inference_fields(args)
    for name in ("system", "suffix"):
        if getattr(args, name):
            fields[name] = getattr(args, name)
    if args.raw:
        fields["raw"] = True
    images = _read_images(args.image)
    if images:
        fields["images"] = images
    request = GenerateRequest(model=args.model, prompt=_prompt_from(s, args.prompt), **fields)
    client = s.client
    if args.no_stream:
        reply = client.generate(request)
        _print_answer(s, [reply], _generate_parts)
        if args.verbose:
            _print_metrics(s, reply.metrics)
        return EXIT_OK
    stream: SyncStream[GenerateResponse] = client.generate_stream(request)
    with stream, _cancel_on_interrupt(stream):
        _print_answer(s, stream, _generate_parts)
    if args.verbose and stream.last is not None:
        _print_metrics(s, stream.last.metrics, stream.metrics.chunks)
    return EXIT_OK


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


def _cmd_list(s: _Session) -> int:
    tags = s.client.list_models()
    if s.json:
        s.emit_json(tags.to_dict())
        return EXIT_OK
    rows = [(m.name, _short_digest(m.digest), _human_bytes(m.size), _relative(m.modified_at))
            for m in tags.models]
    s.write(_table(("NAME", "ID", "SIZE", "MODIFIED"), rows))
    return EXIT_OK


def _processor(entry: ModelEntry) -> str:
    size, vram = entry.size or 0, entry.size_vram or 0
    if size <= 0 or vram <= 0:
        return "100% CPU"
    if vram >= size:
        return "100% GPU"
    cpu = round(100 * (size - vram) / size)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def _cmd_ps(s: _Session) -> int:
    running = s.client.list_running()
    if s.json:
        s.emit_json(running.to_dict())
        return EXIT_OK
    rows = [(m.name, _short_digest(m.digest), _human_bytes(m.size), _processor(m),
             str(m.context_length or ""), _relative(m.expires_at)) for m in running.models]
    s.write(_table(("NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"), rows))
    return EXIT_OK


def _show_text(info: ModelInfo, verbose: bool) -> str:
    meta = info.model_info or {}
    arch = str(meta.get("general.architecture") or (info.details.family if info.details else ""))
    details = info.details
    lines: list[str] = []

    def section(title: str, pairs: Sequence[tuple[str, str]]) -> None:
        pairs = [(k, v) for k, v in pairs if v]
        if not pairs:
            return
        width = max(len(k) for k, _ in pairs) + 4
        lines.append(f"  {title}")
        lines.extend(f"    {k:<{width}}{v}".rstrip() for k, v in pairs)
        lines.append("")

    def meta_value(key: str) -> str:
        value = meta.get(f"{arch}.{key}")
        return "" if value is None else str(value)

    section("Model", [
        ("architecture", arch),
        ("parameters", details.parameter_size or "" if details else ""),
        ("context length", meta_value("context_length")),
        ("embedding length", meta_value("embedding_length")),
        ("quantization", details.quantization_level or "" if details else ""),
    ])
    if info.capabilities:
        lines.append("  Capabilities")
        lines.extend(f"    {c}" for c in info.capabilities)
        lines.append("")
    if info.parameters:
        lines.append("  Parameters")
        lines.extend(f"    {line}" for line in info.parameters.splitlines())
        lines.append("")
    if info.system:
        lines.append("  System")
        lines.extend(f"    {line}" for line in info.system.splitlines()[:2])
        lines.append("")
    if info.license:
        lines.append("  License")
        lines.extend(f"    {line}" for line in info.license.splitlines()[:2])
        lines.append("")
    if verbose:
        section("Metadata", [(k, json.dumps(v) if not isinstance(v, str) else v)
                             for k, v in sorted(meta.items())])
        if info.tensors:
            section("Tensors", [(str(t.get("name", "")),
                                 f"{t.get('type', '')}  {t.get('shape', '')}")
                                for t in info.tensors])
    return "\n".join(lines)


def _cmd_show(s: _Session) -> int:
    args = s.args
    info = s.client.model_info(args.model, verbose=args.verbose)
    if s.json:
        s.emit_json(info.to_dict())
    elif args.only:
        value = getattr(info, args.only) or ""
        s.write(value if value.endswith("\n") or not value else value + "\n")
    else:
        s.write("\n" + _show_text(info, args.verbose))
    return EXIT_OK


class _ProgressPrinter:
    """Progress of pull/push/create.

    On a terminal each step (a status, or a layer's digest) is one line redrawn in place
    with ``\\r`` as it advances and left behind when the next step starts. Anywhere else
    (a pipe, a log file) a plain line is printed per step and per 10% of each layer, so
    logs stay short even for the thousands of updates a real pull sends.
    """

    _REDRAW_EVERY = 0.1  # seconds; a real pull sends updates far faster than anyone reads

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.key: tuple[str, str | None] | None = None
        self.last_width = 0
        self.last_decile = -1
        self.last_draw = 0.0
        encoding = (getattr(out, "encoding", None) or "").lower()
        self.fill, self.empty = ("█", " ") if "utf" in encoding else ("#", "-")

    def _line(self, p: ProgressResponse, bar: bool) -> str:
        label = p.status
        if p.digest and _short_digest(p.digest) not in label and p.digest != "0":
            label = f"{label} {_short_digest(p.digest)}"
        fraction = p.fraction
        if fraction is None:
            return label
        pct = min(100.0, 100 * fraction)
        sizes = f"{_human_bytes(p.completed or 0)}/{_human_bytes(p.total)}"
        if not bar:
            return f"{label}: {pct:3.0f}% ({sizes})"
        filled = int(pct / 5)
        gauge = self.fill * filled + self.empty * (20 - filled)
        return f"{label} {pct:3.0f}% ▕{gauge}▏ {sizes}" if self.fill == "█" else \
            f"{label} {pct:3.0f}% [{gauge}] {sizes}"

    def update(self, p: ProgressResponse) -> None:
        key = (p.status, p.digest)
        new_step = key != self.key
        fraction = p.fraction
        if self.tty:
            now = time.monotonic()
            finished = fraction is not None and fraction >= 1
            if not new_step and not finished and now - self.last_draw < self._REDRAW_EVERY:
                return
            if new_step and self.key is not None:
                self.out.write("\n")
                self.last_width = 0
            line = self._line(p, bar=True)
            self.out.write("\r" + line + " " * max(0, self.last_width - len(line)))
            self.last_width = len(line)
            self.last_draw = now
        else:
            decile = -1 if fraction is None else int(min(fraction, 1.0) * 10)
            if not new_step and decile == self.last_decile:
                return
            self.last_decile = decile
            self.out.write(self._line(p, bar=False) + "\n")
        self.key = key
        self.out.flush()

    def finish(self) -> None:
        if self.tty and self.key is not None:
            self.out.write("\n")
            self.out.flush()
        self.key = None


def _run_progress(s: _Session, stream: SyncStream[ProgressResponse]) -> None:
    printer = _ProgressPrinter(s.out, s.out.isatty())
    try:
        with stream, _cancel_on_interrupt(stream):
            for line in stream:
                if s.json:
                    s.emit_json(line.to_dict())
                else:
                    printer.update(line)
    finally:
        if not s.json:
            printer.finish()


def _cmd_pull(s: _Session) -> int:
    _run_progress(s, s.client.pull_model_stream(s.args.model, insecure=s.args.insecure))
    return EXIT_OK


def _cmd_push(s: _Session) -> int:
    _run_progress(s, s.client.push_model_stream(s.args.model, insecure=s.args.insecure))
    return EXIT_OK


def _cmd_create(s: _Session) -> int:
    args = s.args
    request = CreateRequest(model=args.model, from_=args.base, system=args.system,
                            template=args.template, quantize=args.quantize,
                            parameters=dict(args.parameter) or None)
    _run_progress(s, s.client.create_model_stream(request))
    return EXIT_OK


def _cmd_cp(s: _Session) -> int:
    args = s.args
    s.client.copy_model(args.source, args.destination)
    if s.json:
        s.emit_json({"status": "success", "source": args.source,
                     "destination": args.destination})
    else:
        s.write(f"copied '{args.source}' to '{args.destination}'\n")
    return EXIT_OK


def _cmd_rm(s: _Session) -> int:
    """Delete every model named; one missing model does not stop the others."""
    deleted: list[str] = []
    errors: dict[str, str] = {}
    for name in s.args.models:
        try:
            s.client.delete_model(name)
        except (ResponseError, InvalidRequestError) as exc:
            message, _ = _describe(exc, s)
            errors[name] = message
            s.warn(f"error: {message}")
            continue
        deleted.append(name)
        if not s.json:
            s.write(f"deleted '{name}'\n")
    if s.json:
        s.emit_json({"deleted": deleted, "errors": errors})
    return EXIT_ERROR if errors else EXIT_OK


def _cmd_embed(s: _Session) -> int:
    args = s.args
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
    reply = s.client.embed(request)
    if s.json:
        s.emit_json(reply.to_dict())
    else:
        for vector in reply.embeddings:
            s.write(json.dumps(vector) + "\n")
    return EXIT_OK


# --------------------------------------------------------------------------------------
# Server: health, version, emulator
# --------------------------------------------------------------------------------------


async def _health_report(s: _Session) -> dict[str, Any]:
    """Availability, version and, with health_checks, the plugin's per-upstream report.

    Async because the plugin's ``check_now()`` is a coroutine meant to run on the
    client's loop; a short-lived async client is simpler than reaching into the sync
    client's loop thread.
    """
    try:
        client = OllamaClient(s.host, **s.client_kwargs())
    except (InvalidConfigError, ValueError, TypeError) as exc:
        raise CLIError(f"invalid configuration: {exc}", EXIT_USAGE) from exc
    async with client:
        result: dict[str, Any] = {"url": client.base_url, "available": False, "version": None}
        limit = min(s.args.timeout or 5.0, 5.0)
        result["available"] = await client.is_available(timeout=limit)
        if result["available"]:
            with contextlib.suppress(OllamaError):
                result["version"] = await client.version()
        if "health_checks" in client.plugins:
            plugin = client.plugin("health_checks")
            check_now = getattr(plugin, "check_now", None)
            if callable(check_now):
                await check_now()
            report = plugin.report()
            result["upstreams"] = json.loads(json.dumps(report, default=_json_default))
        return result


def _upstream_summary(entry: Any) -> str:
    """One line about one upstream of the health_checks report."""
    if not isinstance(entry, Mapping):
        return str(entry)
    parts = [str(entry.get("status", "unknown"))]
    latency = entry.get("latency")
    if isinstance(latency, (int, float)):
        parts.append(f"latency {latency * 1000:.1f} ms")
    if "checks" in entry:
        parts.append(f"{entry['checks']} checks, {entry.get('failed_checks', 0)} failed")
    if entry.get("last_error"):
        parts.append(f"last error: {entry['last_error']}")
    return "  ".join(parts)


def _any_healthy(report: Any) -> bool:
    return isinstance(report, Mapping) and any(
        isinstance(e, Mapping) and e.get("status") == "healthy" for e in report.values())


def _cmd_health(s: _Session) -> int:
    result = asyncio.run(_health_report(s))
    upstreams = result.get("upstreams")
    if s.json:
        s.emit_json(result)
    else:
        lines = [f"server   {result['url']}",
                 f"status   {'available' if result['available'] else 'unavailable'}"]
        if result["version"]:
            lines.append(f"version  {result['version']}")
        if isinstance(upstreams, Mapping):
            lines.append("upstreams")
            lines.extend(f"  {url}  {_upstream_summary(entry)}"
                         for url, entry in upstreams.items())
        s.write("\n".join(lines) + "\n")
    # With failover, a healthy secondary still serves requests.
    if result["available"] or _any_healthy(upstreams):
        return EXIT_OK
    s.warn(f"error: cannot connect to {result['url']}: is Ollama running? "
           "(set OLLAMA_HOST or pass --host URL)")
    return EXIT_ERROR


def _cmd_version(s: _Session) -> int:
    from . import __version__

    client = s.client
    server: str | None = None
    if client.is_available(timeout=min(s.args.timeout or 5.0, 5.0)):
        with contextlib.suppress(OllamaError):
            server = client.version()
    if s.json:
        s.emit_json({"client": __version__, "server": server, "url": client.base_url})
        return EXIT_OK
    s.write(f"{PROG} version {__version__}\n")
    if server is None:
        s.warn(f"warning: could not connect to a running Ollama instance at {client.base_url}")
    else:
        s.write(f"server version {server} ({client.base_url})\n")
    return EXIT_OK


async def _serve_emulator(s: _Session) -> None:
    from .emulator import OllamaEmulator

    args = s.args
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(signum, stop.set)
    async with OllamaEmulator(args.bind_host, args.bind_port,
                              chunk_delay=args.chunk_delay) as emulator:
        # The URL alone on the first line, so scripts can read it (`| head -1`).
        if s.json:
            s.emit_json({"url": emulator.url})
        else:
            s.write(emulator.url + "\n")
        s.warn(f"Ollama emulator listening on {emulator.url} "
               f"(use --host {emulator.url} or OLLAMA_HOST); Ctrl-C or SIGTERM stops it")
        await stop.wait()


def _cmd_emulator(s: _Session) -> int:
    if s.args.emulator:
        raise CLIError("--emulator cannot be combined with the emulator command", EXIT_USAGE)
    try:
        asyncio.run(_serve_emulator(s))
    except KeyboardInterrupt:  # the signal handler could not be installed
        pass
    except OSError as exc:
        raise CLIError(f"cannot serve on {s.args.bind_host}:{s.args.bind_port}: "
                       f"{exc.strerror or exc}") from exc
    s.warn("emulator stopped")
    return EXIT_OK


# --------------------------------------------------------------------------------------
# Errors and the entry point
# --------------------------------------------------------------------------------------


def _describe(exc: BaseException, s: _Session) -> tuple[str, int]:
    """The one-line message and the exit code for an error."""
    if isinstance(exc, CLIError):
        return str(exc), exc.code
    if isinstance(exc, InvalidRequestError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, InvalidConfigError):
        return f"invalid configuration: {exc}", EXIT_USAGE
    if isinstance(exc, (ConnectError, ConnectTimeout)):
        return (f"cannot connect to {s.url}: is Ollama running? "
                "(set OLLAMA_HOST or pass --host URL)"), EXIT_ERROR
    if isinstance(exc, AllEndpointsFailedError):
        return str(exc), EXIT_ERROR
    if isinstance(exc, TimeoutError):
        return f"{exc} (a longer --timeout may help)", EXIT_ERROR
    if isinstance(exc, ServerError) and not isinstance(exc, StreamErrorLine):
        return f"server error {exc.status_code}: {exc.error}", EXIT_ERROR
    if isinstance(exc, ResponseError):
        return exc.error, EXIT_ERROR
    return str(exc) or type(exc).__name__, EXIT_ERROR


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_ERROR


#: Positional lists that words after an option still belong to.
_TRAILING_WORDS = ("prompt", "texts", "models")


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parse_args``, except that words after an option join the command's trailing list.

    argparse fills ``MODEL [PROMPT ...]`` in one go, so in ``chat qwen3 --think why`` the
    prompt would be empty and ``why`` unrecognized; ``parse_intermixed_args`` would fix
    that but does not support subcommands.
    """
    args, extras = parser.parse_known_args(argv)
    target = next((name for name in _TRAILING_WORDS if isinstance(getattr(args, name, None),
                                                                  list)), None)
    if extras and target is not None and not any(
            e.startswith("-") and len(e) > 1 for e in extras):
        getattr(args, target).extend(extras)
        extras = []
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # --help, --version and usage errors (exit 2)
        return _exit_code(exc)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (see '{PROG} --help')", file=sys.stderr)
        return EXIT_USAGE

    session = _Session(args)
    try:
        if args.emulator and args.command != "emulator":
            from .emulator import EmulatorThread

            session.emulator = EmulatorThread().start()
        return int(args.handler(session))
    except KeyboardInterrupt:
        # Streams were cancelled on the way out (their ``with`` blocks); say nothing more
        # than a newline so the shell prompt starts on its own line.
        with contextlib.suppress(Exception):
            sys.stderr.write("\n")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `ollama-core list | head -1`: the reader left. Point stdout at /dev/null so the
        # interpreter's final flush does not complain again.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except (CLIError, OllamaError) as exc:
        message, code = _describe(exc, session)
        print(f"error: {message}", file=sys.stderr, flush=True)
        return code
    finally:
        with contextlib.suppress(Exception):
            session.close()
