"""One run of the command line: parse, open a session, run the command, map errors to
exit codes."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, CLIError, json_usage_errors, report
from .parser import PROG, build_parser, parse_args

if TYPE_CHECKING:
    from .session import Session

__all__ = ["main", "resolve_handler"]

Handler = Callable[["Session"], int]


def _exit_code(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_ERROR


def resolve_handler(name: str) -> Handler:
    """``"module:function"`` of :mod:`ollama_core.cli.commands` -> the function."""
    module_name, _, function = name.partition(":")
    module = importlib.import_module(f"{__package__}.commands.{module_name}")
    return cast(Handler, getattr(module, function))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    With ``--json`` every error is one JSON object on stderr (:func:`.errors.report`),
    usage errors included.
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    as_json = "--json" in args_list
    try:
        with json_usage_errors(as_json):
            args = parse_args(parser, args_list)
            if args.command is None:
                parser.error(f"a command is required (see '{PROG} --help')")
    except SystemExit as exc:  # --help, --version and usage errors (exit 2)
        return _exit_code(exc)

    if args.events or args.log_level:
        from .._logging import configure_cli

        configure_cli(events=args.events, level=args.log_level)

    # Only now, with a command to run, does the client stack load.
    from .._exceptions import OllamaError
    from .errors import describe
    from .session import Session

    session = Session(args)
    try:
        handler = resolve_handler(args.handler)
        if args.emulator and args.command != "emulator":
            from ..emulator import EmulatorThread

            session.emulator = EmulatorThread().start()
        return int(handler(session))
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
        message, code = describe(exc, session)
        report(message, code, as_json=session.json, exc=exc)
        return code
    finally:
        with contextlib.suppress(Exception):
            session.close()
