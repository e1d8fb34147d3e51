"""The README keeps up with the code: every hook documented with its exact signature and
tested by a ``test_hook_<name>``, and the two front-door commands in the quick start."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ollama_core import hookspecs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
HOOKS = {name: fn for name, fn in vars(hookspecs).items()
         if name.startswith("ollama_") and inspect.isfunction(fn)}


def test_there_are_hooks() -> None:
    assert len(HOOKS) >= 10


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_reference_heading_with_its_exact_signature(name: str) -> None:
    params = ", ".join(inspect.signature(HOOKS[name]).parameters)
    assert f"#### {name}({params})\n" in README, f"README lacks '#### {name}({params})'"


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_docstring_saying_when_it_fires(name: str) -> None:
    doc = inspect.getdoc(HOOKS[name]) or ""
    assert re.search(r"\b(called|when|once|before|after|for every)\b", doc, re.I), name


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_every_hook_has_a_test(name: str) -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("test_*.py"))
    assert f"def test_hook_{name}(" in sources


def test_no_reference_heading_without_a_hook() -> None:
    documented = set(re.findall(r"^#### (ollama_\w+)\(", README, re.M))
    assert documented == set(HOOKS)


def test_quick_start_has_exactly_the_two_front_door_commands() -> None:
    start = README.split("## 30-second start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", start, re.S)
    assert block is not None
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_readme_snippets_run_against_the_emulator(index: int, tmp_path: Path) -> None:
    import subprocess
    import sys

    from ollama_core.emulator import EmulatorThread

    code = _python_blocks()[index]
    script = tmp_path / "snippet.py"
    script.write_text(code, encoding="utf-8")
    with EmulatorThread() as emu:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=60, env={"OLLAMA_HOST": emu.url, "PATH": ""})
    assert done.returncode == 0, done.stderr
    if index < 2:
        assert done.stdout.strip()
