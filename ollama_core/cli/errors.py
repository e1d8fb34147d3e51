"""Exit codes, the CLI's own error, and the one-line message for any error.

This module is imported before the command line is parsed, so it imports nothing from the
client stack at load time: ``ollama-core --help`` and usage errors never need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .session import Session

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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
