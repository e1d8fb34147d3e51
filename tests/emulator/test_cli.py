"""``python -m ollama_core.emulator`` serves until SIGTERM and can be faulted over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM semantics")
def test_cli_serves_until_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with subprocess.Popen(
        [sys.executable, "-m", "ollama_core.emulator", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline()
            assert banner.startswith("Ollama emulator listening on http://127.0.0.1:")
            url = banner.split()[-1]
            with urllib.request.urlopen(url + "/api/version", timeout=5) as resp:
                assert json.load(resp) == {"version": "0.33.0"}

            rule = json.dumps({"path": "/api/tags", "status": 503}).encode()
            request = urllib.request.Request(url + "/_emulator/faults", data=rule, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as resp:
                assert resp.status == 201
            with pytest.raises(urllib.error.HTTPError) as busy:
                urllib.request.urlopen(url + "/api/tags", timeout=5)
            busy.value.close()
            assert busy.value.code == 503
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=10)
        assert proc.returncode == 0, stderr
