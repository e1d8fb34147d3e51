"""The layout of :mod:`ollama_core.cli`: lazy command loading and the deprecated aliases."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ollama_core.cli import build_parser
from ollama_core.cli.app import resolve_handler


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_names_a_handler_that_exists() -> None:
    commands = _subcommands(build_parser())
    assert {"chat", "generate", "embed", "list", "ls", "show", "ps", "pull", "push", "create",
            "cp", "copy", "rm", "delete", "health", "emulator", "version", "run", "stop",
            "demo", "status", "web-search", "web-fetch"} == set(commands)
    for name, parser in commands.items():
        handler = parser.get_default("handler")
        assert isinstance(handler, str), name
        assert callable(resolve_handler(handler)), (name, handler)


@pytest.mark.parametrize("argv", [["--help"], ["list", "--help"], ["--version"], ["--bogus"]])
def test_help_version_and_usage_errors_load_no_command(argv: list[str]) -> None:
    """Only the command that runs is imported; parsing alone loads no command module,
    no session and no output module."""
    code = ("import contextlib, io, json, sys\n"
            "from ollama_core.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.redirect_stderr(io.StringIO()):\n"
            f"    main({argv!r})\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('ollama_core.cli'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=True)
    loaded = set(json.loads(done.stdout))
    assert loaded == {"ollama_core.cli", "ollama_core.cli.app", "ollama_core.cli.errors",
                      "ollama_core.cli.parser"}


def test_every_package_directory_is_listed_for_the_wheel() -> None:
    """The editable install finds any subpackage; a wheel holds only those listed in
    ``[tool.setuptools] packages``, so one left out would be missing once installed."""
    root = Path(__file__).resolve().parents[2]
    setuptools = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = set()
    for name, directory in setuptools["package-dir"].items():
        for init in (root / directory).rglob("__init__.py"):
            parts = init.parent.relative_to(root / directory).parts
            on_disk.add(".".join((name, *parts)))
    assert on_disk - listed == set()
