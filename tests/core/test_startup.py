"""Start-up: ``import ollama_core`` and ``ollama-core --help`` load nothing heavy.

The public names are imported on first access (``ollama_core.__getattr__``), so a program
that imports the package, or the command line printing its help, does not pay for aiohttp,
marshmallow, pluggy or msgspec. No timing here (the benchmark's scenario (g) measures it):
the tests check which modules a fresh interpreter has loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

import ollama_core

HEAVY = ("aiohttp", "marshmallow", "pluggy", "msgspec", "yarl", "ollama_core._client")


def _loaded_after(code: str) -> set[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, timeout=60)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_ollama_core_loads_none_of_the_heavy_modules() -> None:
    loaded = _loaded_after("import ollama_core")
    assert "ollama_core" in loaded
    assert not [name for name in HEAVY if name in loaded]


def test_the_help_of_the_command_line_loads_none_of_them() -> None:
    code = ("import contextlib, io\nfrom ollama_core.__main__ import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass")
    loaded = _loaded_after(code)
    assert "ollama_core.cli" in loaded
    assert not [name for name in HEAVY if name in loaded]


def test_a_public_name_is_imported_on_first_access() -> None:
    loaded = _loaded_after("import ollama_core\nollama_core.OllamaClient")
    assert "ollama_core._client" in loaded and "aiohttp" in loaded


def test_marshmallow_is_loaded_by_the_first_validation_not_by_the_client() -> None:
    # A program that sends no request body (``ollama-core list``) does not pay for
    # marshmallow and the schemas; they are built when a declaration is first validated.
    loaded = _loaded_after("import ollama_core\nollama_core.OllamaClient, ollama_core.SyncOllamaClient")
    assert "ollama_core._types" in loaded and "marshmallow" not in loaded
    loaded = _loaded_after("from ollama_core import ChatRequest\nChatRequest(model='m').validate()")
    assert "marshmallow" in loaded


def test_every_public_name_resolves_and_dir_lists_it() -> None:
    for name in ollama_core.__all__:
        assert getattr(ollama_core, name) is not None, name
    assert set(ollama_core.__all__) <= set(dir(ollama_core))


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    try:
        ollama_core.NoSuchName  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:  # pragma: no cover - the assertion that fails
        raise AssertionError("no AttributeError")


def test_the_lazy_table_and_all_name_the_same_things() -> None:
    # The names are listed for type checkers (the TYPE_CHECKING imports), for the lazy
    # import (_LAZY) and in __all__: a name added to one must be added to the others.
    assert set(ollama_core._LAZY) | {"__version__"} == set(ollama_core.__all__)
    for name, module in ollama_core._LAZY.items():
        assert module.startswith("."), name
