"""``bench/_replay.py`` answers as the emulator it recorded: same bodies, same framing.

Scenario (a) measures the clients against it as well as against the emulator; this keeps
it honest: every client gets from it exactly what the emulator sends for the benchmark's
chat (streamed as one HTTP chunk per NDJSON line, or one ``"stream": false`` body), and
an unrecorded request is a 404, never a made-up answer.
"""

from __future__ import annotations

import http.client
import json
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from _clients import chat_body  # noqa: E402
from _server import EmulatorProcess, ReplayProcess  # noqa: E402

from ollama_core import OllamaClient  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def _post(url: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def servers() -> Any:
    with EmulatorProcess() as emulator:
        with ReplayProcess(emulator.url, chat_body("hello there", 16)) as replay:
            yield emulator, replay


@pytest.mark.parametrize("streamed", [True, False])
def test_replayed_bytes_are_the_emulators(servers: Any, streamed: bool) -> None:
    emulator, replay = servers
    body = {**chat_body("hello there", 16), "stream": streamed}
    status, headers, replayed = _post(replay.url, "/api/chat", body)
    _, emulator_headers, original = _post(emulator.url, "/api/chat", body)
    assert status == 200
    assert headers["content-type"] == emulator_headers["content-type"]
    assert ("chunked" in headers.get("transfer-encoding", "")) is streamed
    lines = [json.loads(line) for line in replayed.splitlines()]
    assert len(lines) == (17 if streamed else 1)
    assert lines[-1]["done"] is True
    # The emulator stamps created_at and durations per answer: the rest is the same.
    volatile = {"created_at", "total_duration", "load_duration", "prompt_eval_duration",
                "eval_duration"}
    assert [{k: v for k, v in line.items() if k not in volatile} for line in lines] == \
        [{k: v for k, v in json.loads(line).items() if k not in volatile}
         for line in original.splitlines()]


def test_unrecorded_requests_are_404(servers: Any) -> None:
    _, replay = servers
    status, _, body = _post(replay.url, "/api/generate", {"model": "llama3.2"})
    assert status == 404
    assert b"not recorded" in body


async def test_the_client_reads_the_same_answer_from_both(servers: Any) -> None:
    emulator, replay = servers
    request = chat_body("hello there", 16)
    answers = []
    for url in (emulator.url, replay.url):
        async with OllamaClient(url, plugins=[]) as client:
            answers.append(await client.chat(request))
    assert answers[0].message == answers[1].message
    assert answers[0].eval_count == answers[1].eval_count == 16
    assert answers[0].done_reason == answers[1].done_reason == "length"
