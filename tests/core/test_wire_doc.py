"""The wire field table (docs/wire-fields.md) is generated from the declarations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ollama_core._wire.doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "wire-fields.md"
REGENERATE = "python -m ollama_core._wire.doc > docs/wire-fields.md"


def test_committed_table_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        f"docs/wire-fields.md is stale: regenerate it with `{REGENERATE}`")


def test_the_module_prints_the_table() -> None:
    out = subprocess.run([sys.executable, "-m", "ollama_core._wire.doc"], check=True,
                         capture_output=True, text=True).stdout
    assert out == render()
    assert "## WebSearchRequest (request `web_search`)" in out
    assert "| `max_results` |  | `int \\| None` |  | `.max_results()` |" in out
