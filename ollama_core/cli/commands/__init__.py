"""The subcommands, by what they do: :mod:`.generation` (chat or run, generate, embed),
:mod:`.models` (list, show, ps, pull, push, create, stop, cp, rm), :mod:`.server` (health,
version, status, emulator), :mod:`.web` (web-search, web-fetch) and :mod:`.demo` (the
guided tour).

Each handler takes the :class:`~ollama_core.cli.session.Session` and returns the exit code;
the parser names it as ``"module:function"`` and only the module of the command that runs
is imported.
"""
