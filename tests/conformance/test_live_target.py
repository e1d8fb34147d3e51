"""The live mode itself (``make test-live`` / ``--ollama-host``), run as a subprocess.

An emulator started as its own process stands in for a real server; a closed port stands
in for a machine where Ollama is not running. These tests carry no ``conformance`` marker,
so a live run leaves them out.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile import SubprocessEmulator

ROOT = Path(__file__).resolve().parents[2]


def run_pytest(*args: str, timeout: float, env: dict[str, str] | None = None
               ) -> tuple[subprocess.CompletedProcess[str], float]:
    """``python -m pytest ARGS`` from the project root, with none of the suite's
    settings from this environment; returns the finished process and its wall time."""
    environ = dict(os.environ)
    for name in ("OLLAMA_HOST", "OLLAMA_CONFORMANCE_CHAT_MODEL",
                 "OLLAMA_CONFORMANCE_EMBED_MODEL", "OLLAMA_CONFORMANCE_VISION_MODEL",
                 "PYTEST_ADDOPTS"):
        environ.pop(name, None)
    environ.update(env or {})
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True,
                          timeout=timeout)
    return done, time.monotonic() - started


def run_live(url: str, *extra: str, timeout: float
             ) -> tuple[subprocess.CompletedProcess[str], float]:
    """What ``make test-live`` runs, pointed at ``url``."""
    return run_pytest("tests/conformance", "--ollama-host", url, *extra, timeout=timeout)


def tags(url: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/api/tags", timeout=5) as reply:
        return [m["name"] for m in json.load(reply)["models"]]


def test_live_run_passes_against_a_separate_server() -> None:
    with SubprocessEmulator() as server:
        # gemma3 (vision) is in the emulator's registry but not installed: the run must
        # pull it first. The emulator lacks the live defaults (qwen3:0.6b), hence the names.
        done, _ = run_live(server.url, "--conformance-chat-model", "qwen3",
                           "--conformance-embed-model", "all-minilm",
                           "--conformance-vision-model", "gemma3", timeout=50)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        summary = done.stdout.strip().splitlines()[-1]
        # every check ran and passed; the tests of this module stayed out
        assert re.search(r" \d+ passed, \d+ deselected(, \d+ warnings?)? in ", summary), \
            output[-3000:]
        assert "conformance: pulling gemma3" in output
        after = tags(server.url)
    assert "gemma3:latest" in after
    assert not [name for name in after if name.startswith("conformance-")], after


@pytest.fixture
def closed_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_live_run_without_a_server_fails_at_once(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    done, elapsed = run_live(url, timeout=30)
    output = done.stdout + done.stderr
    assert done.returncode not in (0, 5), output  # neither passed nor "nothing collected"
    lines = [line for line in output.splitlines() if "no Ollama server answered" in line]
    assert len(lines) == 1, output
    assert url in lines[0] and "ollama serve" in lines[0]
    assert "passed" not in output and "skipped" not in output
    assert elapsed < 5.0, f"took {elapsed:.1f}s"


def test_an_exported_ollama_host_does_not_redirect_the_default_run(closed_port: int) -> None:
    """Without --ollama-host the suite runs against its own emulator, whatever the
    environment says (`make test` must not depend on a server)."""
    done, _ = run_pytest("tests/conformance/test_server.py", timeout=30,
                         env={"OLLAMA_HOST": f"http://127.0.0.1:{closed_port}",
                              "OLLAMA_CONFORMANCE_CHAT_MODEL": "no-such-model:1b"})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert re.search(r" \d+ passed(, \d+ warnings?)? in ", summary), output[-3000:]
