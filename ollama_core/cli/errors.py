"""Exit codes, the CLI's own error, and the one-line message for any error.

This module is imported before the command line is parsed, so it imports nothing from the
client stack at load time: ``ollama-core --help`` and usage errors never need it.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .session import Session

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "CLIError", "describe",
           "json_usage_errors", "report"]


class CLIError(Exception):
    """A failure the CLI reports as one ``error:`` line and an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def describe(exc: BaseException, session: Session) -> tuple[str, int]:
    """The one-line message and the exit code for an error."""
    from .._exceptions import (
        AllEndpointsFailedError,
        ConnectError,
        ConnectTimeout,
        InvalidConfigError,
        InvalidRequestError,
        OllamaTimeoutError,
        ResponseError,
        ServerError,
        StreamErrorLine,
    )

    if isinstance(exc, CLIError):
        return str(exc), exc.code
    if isinstance(exc, InvalidRequestError):
        return str(exc), EXIT_USAGE
    if isinstance(exc, InvalidConfigError):
        return f"invalid configuration: {exc}", EXIT_USAGE
    if isinstance(exc, (ConnectError, ConnectTimeout)):
        return (f"cannot connect to {session.url}: is Ollama running? "
                "(set OLLAMA_HOST or pass --host URL)"), EXIT_ERROR
    if isinstance(exc, AllEndpointsFailedError):
        return str(exc), EXIT_ERROR
    if isinstance(exc, OllamaTimeoutError):
        return f"{exc} (a longer --timeout may help)", EXIT_ERROR
    if isinstance(exc, ServerError) and not isinstance(exc, StreamErrorLine):
        return f"server error {exc.status_code}: {exc.error}", EXIT_ERROR
    if isinstance(exc, ResponseError):
        return exc.error, EXIT_ERROR
    return str(exc) or type(exc).__name__, EXIT_ERROR


def report(message: str, code: int, *, as_json: bool, exc: BaseException | None = None,
           **fields: Any) -> None:
    """Print an error on stderr: ``error: MESSAGE``, or with ``--json`` one JSON object
    ``{"error": MESSAGE, "exit_code": CODE, ...}`` (plus ``status_code`` for an HTTP
    error), so a script reading stderr never has to parse prose. stdout is left to the
    results, which may already hold part of a stream."""
    if not as_json:
        print(f"error: {message}", file=sys.stderr, flush=True)
        return
    document: dict[str, Any] = {"error": message, "exit_code": code, **fields}
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status > 0:
        document["status_code"] = status
    print(json.dumps(document, ensure_ascii=False), file=sys.stderr, flush=True)


@contextlib.contextmanager
def json_usage_errors(as_json: bool) -> Iterator[None]:
    """With ``--json``, argparse's usage errors (``usage: ...`` then ``PROG: error: ...``)
    become one JSON object on stderr; ``--help`` and ``--version`` (stdout) are untouched."""
    if not as_json:
        yield
        return
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            yield
    except SystemExit as exc:
        text = captured.getvalue()
        if exc.code in (0, None) or not text:
            sys.stderr.write(text)
            raise
        lines = [line for line in text.splitlines() if line.strip()]
        message = next((line.split(": error: ", 1)[1] for line in reversed(lines)
                        if ": error: " in line), lines[-1] if lines else "usage error")
        code = exc.code if isinstance(exc.code, int) else EXIT_USAGE
        report(message, code, as_json=True)
        raise SystemExit(code) from None
    else:
        sys.stderr.write(captured.getvalue())
