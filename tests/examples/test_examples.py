"""Every script in ``examples/`` runs, exits 0 and prints what it is meant to show.

The scripts are started all at once by a module fixture (each is a separate interpreter,
mostly waiting on its own emulator), then each parametrized test checks one of them.
A script without an entry in ``EXPECTED`` fails its test: a new example needs a check.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))
TIMEOUT = 60

#: Lines (substrings) each script must print, in this order.
EXPECTED: dict[str, list[str]] = {
    'quick_start.py': [
        'using an embedded emulator',
        'Ollama 0.33.0',
        'models: llama3.2:latest',
        'answer: Echo: In one sentence',
        'streamed: Echo: And why are sunsets red?',
        '384 dimensions',
    ],
    'streaming.py': [
        '[state streaming -> paused]',
        '[state paused -> streaming]',
        '[state streaming -> completed]',
        '1 pause(s), ',
        'state=cancelled, 8 chunks',
        'StreamCancelledError: stream cancelled: paused for longer than 0.2s',
    ],
    'sync_api.py': [
        'available: True',
        'chat: Echo: Hello!',
        'state=completed',
        'stopped early: state=cancelled',
        '8 answers from 4 threads',
    ],
    'builders.py': [
        '"temperature": 0.2',
        'grass request:',
        "no model: InvalidRequestError field='model'",
        "field='options.temperature'",
        "field='messages.1.role'",
        "chat: 'Echo: Why is the sky blue?'",
        'done_reason=length',
        'embed: 2 vectors of 8',
    ],
    'tools.py': [
        '"name": "get_weather"',
        '"required": [',
        'model asked for: get_weather',
        'tool get_weather returned:',
        'final answer: The tool said:',
        "tool calls: [('add'",
        'unknown tool -> message "error: unknown tool',
    ],
    'vision.py': [
        'detected format: png',
        'llava supports vision: True',
        'llama3.2 supports vision: False',
        'chat with bytes: I see 1 image.',
        'generate with a path: I see 1 image.',
        "a text file: InvalidRequestError field='images.1'",
        "a missing file: InvalidRequestError field='images.1'",
    ],
    'structured_output.py': [
        'raw content: {',
        'parsed: Country(',
        'continent Africa',
        "format='json' gave: {",
        'parses to the same keys: True',
    ],
    'thinking.py': [
        'thinking: Let me think',
        "answer:   Echo: How many r's",
        '[thinking] ',
        '[answer] Echo:',
        'think=False: thinking=None',
        'llama3.2 with think=True: BadRequestError 400',
    ],
    'embeddings.py': [
        '4 documents -> vectors of 768 dimensions',
        'query: Which animals',
        'with dimensions=16: 16 values',
        'legacy /api/embeddings: one vector of 768',
    ],
    'model_management.py': [
        '== pull tinyllama',
        'pulling manifest',
        '100.0% [####################]',
        'success',
        'family llama',
        "system prompt of ollama-core-example: 'Answer like a pirate.'",
        'ollama-core-example-copy:latest',
        'bytes in VRAM',
        'blob exists before upload: False',
        'blob exists after upload:  True',
        'pushing manifest',
        'deleted ollama-core-example-from-blob',
    ],
    'retry.py': [
        'retry: attempt=1',
        "-> 'Echo: ping' after 3 attempts",
        'retry_after=0.300',
        "-> BadRequestError: 'invalid options' after 1 attempt",
        'retry_exhausted: attempt=4, reason=max_attempts',
        'gave up: ServiceUnavailableError',
        'gave up: ConnectError',
        'retry_budget_exhausted',
        'retry stats:',
    ],
    'circuit_breaker.py': [
        'call 1: ServerError 500',
        'breaker chat: closed -> open',
        'call 4: CircuitOpenError',
        'sent to server: no',
        'tags breaker: closed',
        'breaker chat: open -> half_open',
        'breaker chat: half_open -> closed',
        "probe call: 'Echo: ping'   breaker: closed",
    ],
    'rate_limiting.py': [
        'embed 7 done at ',
        'generate 1: ok',
        'generate 2: RateLimitExceededError',
        'stream 2: first chunk at ',
        'rejected=1',
    ],
    'failover.py': [
        "1. all healthy: requests received {'primary': 3}",
        'failover event: primary -> backup (ConnectError)',
        "2. primary down: requests received {'backup': 3}",
        'failover event: backup -> backup 2 (ServerError)',
        "4. primary back after the cooldown: requests received {'primary': 3}",
        'AllEndpointsFailedError with 3 failures',
        'failovers; per endpoint:',
    ],
    'health_checks.py': [
        'primary is healthy',
        'backup is healthy',
        'primary is UNHEALTHY',
        '3 calls, no call failed: list_models requests so far: primary 1, backup 3',
        'primary is healthy',
        'primary 2, backup 3',
        'check_now',
    ],
    'request_caching.py': [
        'same vectors True, server received 1',
        'five concurrent identical embeds: 1 request reached the server',
        'goes to the server again: 1 request',
        'two chats: 2 requests; two chats with cache=True: 1',
        'cache stats: hits=6 (coalesced 4)',
        'after clear(): entries=0',
    ],
    'dynamic_config.py': [
        'timeout=0.2 -> FirstByteTimeout',
        'timeout=2.0 -> ok',
        "X-Request-Source='dynamic_config.py', Authorization=Bearer *** (the key set above: True)",
        '200  retry',
        'one 503 absorbed',
        "rejected: plugin 'retry': max_attempts",
        '503 raised: no retry',
        "plugins now: ['event_printer']",
    ],
    'otel_console.py': [
        '    span POST /api/chat: attempt=1 http.response.status_code=503',
        '    span POST /api/chat: attempt=2 http.response.status_code=200',
        'span chat llama3.2: gen_ai.request.model=llama3.2',
        '  event retry: attempt=1',
        'span text_completion llama3.2: ',
        'gen_ai.response.time_to_first_chunk=',
        'span embeddings all-minilm: ',
        'gen_ai.embeddings.dimension.count=384',
        'metric ollama_core.retries [] value=1',
        'metric gen_ai.client.token.usage [gen_ai.operation.name=chat gen_ai.token.type=input]',
        'metric gen_ai.client.operation.duration [gen_ai.operation.name=chat] count=1',
        'metric gen_ai.client.operation.time_per_output_chunk [gen_ai.operation.name=text_',
    ],
}


@dataclass
class Run:
    result: subprocess.CompletedProcess[str]
    seconds: float


def _env() -> dict[str, str]:
    # A developer's OLLAMA_HOST would point the scripts at a real server.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OLLAMA_HOST", "OLLAMA_CORE_", "OLLAMA_API_KEY"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Run]]]:
    cwd = tmp_path_factory.mktemp("examples-cwd")  # scripts must not depend on the cwd

    def run(name: str) -> Run:
        started = time.perf_counter()
        result = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                                text=True, timeout=TIMEOUT, cwd=cwd, env=_env(),
                                stdin=subprocess.DEVNULL)
        return Run(result, time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=4) as pool:
        yield {name: pool.submit(run, name) for name in SCRIPTS}


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_and_shows_its_feature(runs: dict[str, Future[Run]], name: str) -> None:
    outcome = runs[name].result(timeout=TIMEOUT * 2)
    result = outcome.result
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    assert name in EXPECTED, f"add the expected output of {name} to EXPECTED"
    position = 0
    for expected in EXPECTED[name]:
        found = result.stdout.find(expected, position)
        assert found >= 0, f"{name}: {expected!r} missing (in order) from:\n{result.stdout}"
        position = found + len(expected)
    # "A few seconds": generous, since the scripts run side by side with the suite.
    assert outcome.seconds < 20, f"{name} took {outcome.seconds:.1f}s"


def test_readme_lists_exactly_the_examples() -> None:
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| \[([\w.]+\.py)\]\(\1\) \|", readme, flags=re.MULTILINE)
    assert len(rows) == len(set(rows)), "an example is listed twice"
    assert sorted(rows) == SCRIPTS


def test_every_example_has_a_docstring_and_a_main_guard() -> None:
    for name in SCRIPTS:
        source = (EXAMPLES / name).read_text(encoding="utf-8")
        assert source.startswith('"""'), f"{name} should open with a docstring"
        assert 'if __name__ == "__main__":' in source, f"{name} needs a main guard"
        assert "from __future__ import annotations" in source, name
