"""The ``ollama-core`` command line (also ``python -m ollama_core``).

::

    ollama-core [--host URL | --emulator] [--plugins a,b] [--config PLUGIN.KEY=VALUE]...
                [--json] [--timeout SECONDS] COMMAND ...

Commands: ``chat`` (alias ``run``), ``generate``, ``list``, ``show``, ``ps``, ``pull``,
``push``, ``create`` (from a Modelfile, :mod:`.modelfile`), ``stop``, ``cp``, ``rm``,
``embed``, ``health``, ``emulator``, ``version``, ``status``, ``web-search``,
``web-fetch`` and ``demo`` (a guided tour against the emulator).

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
one object per chunk for streams, so output can be piped into ``jq``. Its errors are JSON
too: one object ``{"error": ..., "exit_code": ...}`` (plus ``status_code`` for an HTTP
error) on stderr, usage errors included; stdout keeps only results, and the exit codes are
the same.

Where things are:

* :mod:`.parser` the grammar: global options, subcommands, argument types;
* :mod:`.app` one run: parse, open the session, dispatch, map errors to exit codes;
* :mod:`.session` what every command shares: arguments, target, client, output;
* :mod:`.errors` exit codes, :class:`~.errors.CLIError`, the one-line error messages;
* :mod:`.commands` the subcommands (:mod:`~.commands.generation`,
  :mod:`~.commands.models`, :mod:`~.commands.server`, :mod:`~.commands.demo`);
* :mod:`.output` answers, progress, tables, human sizes and times;
* :mod:`.modelfile` Modelfiles, read into create requests;
* :mod:`.repl` the interactive chat (Ctrl-C at its prompt keeps the session);
  :mod:`.interrupt` Ctrl-C during a stream.

Only the command that runs is imported: ``ollama-core --help`` loads the parser alone.
"""

from __future__ import annotations

from .app import main
from .parser import build_parser

__all__ = ["build_parser", "main"]
