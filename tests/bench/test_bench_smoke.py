"""Smoke test of the benchmark: ``bench/run.py --quick`` runs end to end and prints its tables.

Nothing here is timed or compared: the figures depend on the machine, so the test only
checks that the benchmark runs (emulator subprocess, four clients, seven scenarios).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "bench" / "run.py"


@pytest.mark.timeout(240)
def test_quick_run_exits_0_and_prints_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(RUN), "--quick", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert text.startswith("ollama-core benchmark (quick)")
    assert "client" in text and "vs aiohttp" in text and "vs official" in text
    for scenario in "abcdefg":
        assert f"({scenario}) " in text
    assert "Targets" in text
    # (a) against the emulator and against the replay server, with the aiohttp bound and
    # client 4 on the official client's wire request.
    assert "against the replay server (bench/_replay.py)" in text
    rows = text.splitlines()
    for label in ("0 aiohttp alone, nothing parsed", "4p client 4, stream_on_wire=False"):
        assert sum(row.startswith(label) for row in rows) == 3, label
    assert "client construction with every built-in plugin: " in text
    data = json.loads(out.read_text())
    assert sorted(data["scenarios"]) == list("abcdefg")


def test_unknown_scenario_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, str(RUN), "--scenario", "z"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown scenario" in proc.stderr
