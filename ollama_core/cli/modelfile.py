"""Modelfiles, read as ``ollama create -f`` reads them, and turned into a create request.

::

    # comments start with '#'
    FROM llama3.2                  # a model name, or a local GGUF file or model directory
    PARAMETER temperature 0.2
    PARAMETER stop "<|eot|>"       # repeatable: the values make a list
    TEMPLATE \"\"\"{{ .Prompt }}\"\"\"     # triple quotes span lines
    SYSTEM "Be brief."
    ADAPTER ./lora.gguf            # a local file, uploaded as a blob
    LICENSE \"\"\"MIT ...\"\"\"          # repeatable
    MESSAGE user Hello             # role: system, user or assistant

Commands are case-insensitive; a value runs to the end of its line unless it is quoted
(``"..."`` or ``\"\"\"...\"\"\"``, which may span lines). ``RENDERER``, ``PARSER`` and
``REQUIRES`` are read too. :func:`parse` knows nothing of files or servers;
:func:`create_request` resolves local paths (relative to the Modelfile, ``~`` expanded)
and uploads them through the ``upload`` callable it is given (``client.push_blob``),
so ``files`` and ``adapters`` map file names to ``sha256:`` digests as the server expects.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._types import ChatMessage, CreateRequest

__all__ = ["Command", "Modelfile", "ModelfileError", "create_request", "parse", "read"]

_COMMANDS = frozenset({"from", "parameter", "template", "system", "adapter", "license",
                       "message", "renderer", "parser", "requires"})
_ROLES = frozenset({"system", "user", "assistant"})

_INT = frozenset({"num_keep", "seed", "num_predict", "top_k", "repeat_last_n", "num_ctx",
                  "num_batch", "num_gpu", "main_gpu", "num_thread", "draft_num_predict"})
_FLOAT = frozenset({"top_p", "min_p", "typical_p", "temperature", "repeat_penalty",
                    "presence_penalty", "frequency_penalty"})
_BOOL = frozenset({"use_mmap"})
_LIST = frozenset({"stop"})
#: Parameters the server no longer reads: skipped with a warning, as ``ollama create`` does.
_DEPRECATED = frozenset({"penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only",
                         "use_mlock", "mirostat", "mirostat_tau", "mirostat_eta"})
_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"0", "f", "false"})

#: The files of a model directory that are sent (safetensors or GGUF weights, their
#: configuration and tokenizer).
_MODEL_DIR_FILES = ("*.safetensors", "*.gguf", "*.bin", "*.pth", "*.json", "*.jinja",
                    "tokenizer.model")


class ModelfileError(ValueError):
    """A Modelfile that cannot be read; the message names the line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class Command:
    """One instruction: ``name`` lower-case; ``key`` is the parameter name or the
    message role."""

    name: str
    value: str
    line: int
    key: str | None = None


@dataclass
class Modelfile:
    commands: list[Command] = field(default_factory=list)

    def all(self, name: str) -> list[Command]:
        return [c for c in self.commands if c.name == name]


def _value(text: str, pos: int, line: int) -> tuple[str, int, int]:
    """The value starting at ``pos``: (value, position after it, line after it).

    A quoted value ends at the first closing quote that ends a line, so a ``"`` may
    appear inside ``"..."`` and lines may break inside either kind of quotes."""
    for quote in ('"""', '"'):
        if not text.startswith(quote, pos):
            continue
        start = pos + len(quote)
        close = text.find(quote, start)
        while close >= 0:
            after = close + len(quote)
            end = text.find("\n", after)
            end = len(text) if end < 0 else end
            if not text[after:end].strip():
                return text[start:close], end, line + text.count("\n", pos, end)
            if quote == '"""':
                raise ModelfileError(f"unexpected text after the closing {quote}",
                                     line + text.count("\n", pos, after))
            close = text.find(quote, close + 1)
        raise ModelfileError(f"unterminated {quote} value", line)
    end = text.find("\n", pos)
    end = len(text) if end < 0 else end
    return text[pos:end].strip(), end, line


def parse(text: str) -> Modelfile:
    """Read a Modelfile's text; raises :class:`ModelfileError` naming the line."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    result = Modelfile()
    pos, line, size = 0, 1, len(text)
    while pos < size:
        char = text[pos]
        if char == "\n":
            pos, line = pos + 1, line + 1
            continue
        if char in " \t":
            pos += 1
            continue
        if char == "#":
            newline = text.find("\n", pos)
            pos = size if newline < 0 else newline
            continue
        start = pos
        while pos < size and text[pos].isascii() and text[pos].isalpha():
            pos += 1
        name = text[start:pos].lower()
        if name in _COMMANDS and (pos >= size or text[pos] == "\n"):
            raise ModelfileError(f"{name.upper()} needs a value", line)
        if name not in _COMMANDS or text[pos] not in " \t":
            word = text[start:pos] or text[start:text.find("\n", start) if
                                             "\n" in text[start:] else size]
            raise ModelfileError(
                f"unknown command {word!r}: expected FROM, PARAMETER, TEMPLATE, SYSTEM, "
                "ADAPTER, LICENSE, MESSAGE, RENDERER, PARSER or REQUIRES", line)
        while pos < size and text[pos] in " \t":
            pos += 1
        key: str | None = None
        if name in ("parameter", "message"):
            start = pos
            while pos < size and (text[pos].isascii() and (text[pos].isalnum()
                                                           or text[pos] == "_")):
                pos += 1
            key = text[start:pos]
            if not key or pos >= size or text[pos] not in " \t":
                what = "a parameter name and a value" if name == "parameter" else \
                    "a role and a message"
                raise ModelfileError(f"{name.upper()} needs {what}", line)
            if name == "message" and key not in _ROLES:
                raise ModelfileError(
                    f"message role must be system, user or assistant, got {key!r}", line)
            while pos < size and text[pos] in " \t":
                pos += 1
        first_line = line
        value, pos, line = _value(text, pos, line)
        if not value and name not in ("system", "template", "message"):
            raise ModelfileError(f"{name.upper()} needs a value", first_line)
        result.commands.append(Command(name, value, first_line, key))
    if not result.all("from"):
        raise ModelfileError("no FROM line")
    return result


def read(path: str | os.PathLike[str]) -> Modelfile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelfileError(f"{os.fspath(path)} is not UTF-8 text: {exc.reason}") from None
    return parse(text)


def parameter_value(command: Command) -> Any:
    """A ``PARAMETER`` value with the type the server expects."""
    key, value = command.key or "", command.value
    try:
        if key in _INT:
            return int(value)
        if key in _FLOAT:
            return float(value)
    except ValueError:
        kind = "an integer" if key in _INT else "a number"
        raise ModelfileError(f"PARAMETER {key}: expected {kind}, got {value!r}",
                             command.line) from None
    if key in _BOOL:
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ModelfileError(f"PARAMETER {key}: expected true or false, got {value!r}",
                             command.line)
    if key in _LIST:
        return value
    raise ModelfileError(f"unknown parameter {key!r}", command.line)


def _local_path(value: str, base: Path) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else base / path


def _model_files(path: Path) -> list[Path]:
    found: dict[Path, None] = {}
    for pattern in _MODEL_DIR_FILES:
        for candidate in sorted(path.glob(pattern)):
            if candidate.is_file():
                found[candidate] = None
    return list(found)


def _upload_all(path: Path, what: str, upload: Callable[[Path], str],
                line: int) -> dict[str, str]:
    """``{file name: digest}`` of a file, or of a model directory's files."""
    if path.is_dir():
        files = _model_files(path)
        if not files:
            raise ModelfileError(f"{what} {path}: no model files (safetensors or GGUF) "
                                 "in this directory", line)
        return {str(f.relative_to(path)): upload(f) for f in files}
    return {path.name: upload(path)}


def create_request(modelfile: Modelfile, model: str, base_dir: str | os.PathLike[str],
                   upload: Callable[[Path], str],
                   warn: Callable[[str], None] = lambda message: None) -> CreateRequest:
    """The create request a Modelfile describes, as ``ollama create`` builds it.

    ``FROM`` names a local file or directory (relative to ``base_dir``) when one exists
    there, else a model; local files and ``ADAPTER`` files go through ``upload`` (which
    returns the blob's ``sha256:`` digest) into ``files`` and ``adapters``.
    """
    base = Path(base_dir)
    fields: dict[str, Any] = {}
    files: dict[str, str] = {}
    adapters: dict[str, str] = {}
    parameters: dict[str, Any] = {}
    licenses: list[str] = []
    messages: list[ChatMessage] = []
    extra: dict[str, Any] = {}
    for command in modelfile.commands:
        name, value = command.name, command.value
        if name == "from":
            path = _local_path(value, base)
            if path.exists():
                files.update(_upload_all(path, "FROM", upload, command.line))
            else:
                fields["from_"] = value
        elif name == "adapter":
            path = _local_path(value, base)
            if not path.exists():
                raise ModelfileError(f"ADAPTER {value}: no such file or directory",
                                     command.line)
            adapters.update(_upload_all(path, "ADAPTER", upload, command.line))
        elif name in ("template", "system", "renderer", "parser"):
            fields[name] = value
        elif name == "requires":
            extra["requires"] = value.removeprefix("v")
        elif name == "license":
            licenses.append(value)
        elif name == "message":
            messages.append(ChatMessage(command.key or "user", value))
        elif name == "parameter":
            key = command.key or ""
            if key in _DEPRECATED:
                warn(f"warning: parameter {key} is deprecated")
                continue
            typed = parameter_value(command)
            if key in _LIST:
                parameters.setdefault(key, []).append(typed)
            else:
                parameters[key] = typed
    return CreateRequest(model=model, files=files or None, adapters=adapters or None,
                         parameters=parameters or None, license=licenses or None,
                         messages=messages or None, extra=extra, **fields)
