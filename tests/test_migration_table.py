"""The README's migration table (ollama-python call -> ollama-core call) is true.

Every row's two cells run, in order, against two fresh emulators: the left one through
ollama-python's ``Client``, the right one through ``SyncOllamaClient``. Both must succeed
(streams are drained) and send the same requests: the same method, path and body, apart
from what the two clients put on the wire differently by design (``"stream"``, which this
client always sets to true, defaults ollama-python writes out, and the ``HEAD`` that
``push_blob`` makes before an upload).
"""

from __future__ import annotations

import os
import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ollama
import pytest

from ollama_core import SyncOllamaClient, SyncStream
from ollama_core.emulator import EmulatorThread

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(40)


def _rows() -> list[tuple[str, str]]:
    section = README.split("## Coming from ollama-python\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|$", section, re.M)
    return [(left, right) for left, right in rows]


ROWS = _rows()


def add_two_numbers(a: int, b: int) -> int:
    """Add two numbers.

    Args:
      a: The first number
      b: The second number
    """
    return a + b


def test_the_table_covers_the_familiar_calls() -> None:
    lefts = " ".join(left for left, _ in ROWS)
    for name in ("chat", "generate", "embed", "embeddings", "list", "show", "ps", "pull",
                 "push", "create", "copy", "delete", "create_blob"):
        assert f"client.{name}(" in lefts, name
    assert len(ROWS) >= 19


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "cat.png").write_bytes(PNG)
    (tmp_path / "model.gguf").write_bytes(b"GGUF" + bytes(60))
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def _run(code: str, namespace: dict[str, Any]) -> Any:
    result = eval(code, namespace)  # noqa: S307 - the README's own examples
    if isinstance(result, (SyncStream, types.GeneratorType)):
        chunks = list(result)
        assert chunks, code
        return chunks[-1]
    return result


def _sent(emu: EmulatorThread, since: int) -> list[tuple[str, str, Any]]:
    out = []
    for request in emu.requests[since:]:
        if request.method == "HEAD":
            continue
        body = request.json
        if isinstance(body, dict):
            body = {k: v for k, v in body.items()
                    if k != "stream" and v not in (None, False, "", [], {})}
        out.append((request.method, request.path, body))
    return out


def test_every_row_of_the_migration_table_runs_and_sends_the_same(workdir: Path) -> None:
    with EmulatorThread() as theirs_emu, EmulatorThread() as ours_emu, \
            SyncOllamaClient(ours_emu.url, plugins=["tool_calling", "vision_support"]) as ours, \
            ollama.Client(host=theirs_emu.url) as theirs:
        theirs_ns = {"client": theirs, "ollama": ollama, "Path": Path,
                     "add_two_numbers": add_two_numbers}
        ours_ns = {**theirs_ns, "client": ours}
        for left, right in ROWS:
            t0, o0 = len(theirs_emu.requests), len(ours_emu.requests)
            theirs_result = _run(left, theirs_ns)
            ours_result = _run(right, ours_ns)
            sent_theirs, sent_ours = _sent(theirs_emu, t0), _sent(ours_emu, o0)
            assert sent_ours == sent_theirs, (left, right)
            assert sent_ours, right
            # the answers agree where both have one (copy and delete return None here)
            if isinstance(theirs_result, str):  # create_blob / push_blob: the digest
                assert ours_result == theirs_result, right
            elif ours_result is not None:
                theirs_dict = theirs_result.model_dump(exclude_none=True)
                for key in ("status", "response", "model"):
                    if key in theirs_dict and theirs_dict[key]:
                        assert ours_result[key] == theirs_dict[key], (right, key)
