"""``examples/third_party_plugin``: written on ``ollama_core.ext`` alone, and its own unit
tests (MockTransport, no sockets) pass. They live with the example, outside ``testpaths``;
this runs them in their own interpreter, with the example's pytest settings."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "third_party_plugin"
PACKAGE = EXAMPLE / "ollama_request_log"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_example_imports_only_ollama_core_ext_and_the_standard_library() -> None:
    sources = sorted(PACKAGE.glob("*.py"))
    assert len(sources) >= 2
    for path in sources:
        outside = {name for name in _imports(path)
                   if name != "ollama_core.ext"
                   and name.split(".")[0] not in sys.stdlib_module_names}
        assert outside == set(), f"{path.name} imports {sorted(outside)}"


def test_the_examples_own_unit_tests_pass() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and " failed" not in done.stdout
