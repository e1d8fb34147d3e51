"""Log records of the reliability actions (``ollama_core._logging``).

Every test runs the real plugins against emulators on loopback with injected faults and
reads the records ``caplog`` collects: exactly one record per action, on the plugin's
logger, at the expected level, with the client's API key and the password in its URL
nowhere in the message or its arguments.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ollama_core import (
    CircuitOpenError,
    FailedOver,
    FakeClock,
    OllamaClient,
    RateLimitExceededError,
    ServiceUnavailableError,
    UpstreamHealthChanged,
)
from ollama_core._logging import RELIABILITY_LOGGERS, enabled
from ollama_core.emulator import EmulatorThread, OllamaEmulator

API_KEY = "sk-very-secret-key"
PASSWORD = "s3cret-pw"
SECRETS = (API_KEY, PASSWORD)
CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hello there"}]}
EMBED = {"model": "all-minilm", "input": "hello"}
W, I, D = logging.WARNING, logging.INFO, logging.DEBUG


def secret_url(url: str) -> str:
    """``url`` with a user and password, as a configured host may carry them."""
    return url.replace("http://", f"http://alice:{PASSWORD}@", 1)


async def cause_of_503(emulator: OllamaEmulator, endpoint: str = "chat") -> str:
    """``"<ExcType>: <message>"`` of the error a bare 503 gives, as retry reports it."""
    emulator.faults.add(path=f"/api/{endpoint}", status=503, times=1)
    async with OllamaClient(emulator.url, plugins=[]) as bare:
        with pytest.raises(ServiceUnavailableError) as info:
            await getattr(bare, endpoint)(CHAT if endpoint == "chat" else EMBED)
    return f"ServiceUnavailableError: {info.value}"


def client(url: str, plugins: list[Any], clock: FakeClock | None = None,
           **config: Any) -> OllamaClient:
    return OllamaClient(secret_url(url), api_key=API_KEY, plugins=plugins,
                        plugin_config=config, clock=clock or FakeClock(autoadvance=True))


@pytest.fixture
async def emulator() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emu:
        yield emu


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG, logger="ollama_core")
    yield caplog
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert not any(secret in text for secret in SECRETS), text


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[str, int, str]]:
    """(logger, level, message) of every record of the ``ollama_core`` loggers."""
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records
            if r.name.startswith("ollama_core")]


# -- one record per action -------------------------------------------------------------------


async def test_a_retry_is_logged_with_its_cause_attempt_and_delay(
        emulator: OllamaEmulator, logs: pytest.LogCaptureFixture) -> None:
    cause = await cause_of_503(emulator)
    emulator.faults.add(path="/api/chat", status=503, times=1)
    async with client(emulator.url, ["retry"],
                      retry={"base_delay": 0.5, "jitter": "none"}) as c:
        await c.chat(CHAT)
    assert records(logs) == [
        ("ollama_core.retry", W, f"chat: attempt 1 failed ({cause}); retrying in 0.5s")]


async def test_giving_up_is_logged(emulator: OllamaEmulator,
                                   logs: pytest.LogCaptureFixture) -> None:
    emulator.faults.add(path="/api/chat", status=503, times=2)
    async with client(emulator.url, ["retry"],
                      retry={"max_attempts": 2, "base_delay": 0, "jitter": "none"}) as c:
        with pytest.raises(ServiceUnavailableError):
            await c.chat(CHAT)
    assert [(name, level) for name, level, _ in records(logs)] == [
        ("ollama_core.retry", W), ("ollama_core.retry", W)]
    assert records(logs)[1][2].startswith(
        "chat: giving up after attempt 2, no attempts left: ServiceUnavailableError: ")


async def test_a_failover_move_names_both_servers_without_credentials(
        logs: pytest.LogCaptureFixture) -> None:
    async with OllamaEmulator() as dead, OllamaEmulator() as live:
        dead_url = dead.url
        await dead.stop()
        endpoints = [secret_url(dead_url), secret_url(live.url)]
        async with client(dead_url, ["failover"], failover={"endpoints": endpoints}) as c:
            await c.chat(CHAT)
    [(name, level, message)] = records(logs)
    assert (name, level) == ("ollama_core.failover", W)
    assert message.startswith(f"chat: left {dead_url} (ConnectError: ")
    assert message.endswith(f"); trying {live.url}")


async def test_a_breaker_opening_is_a_warning_and_closing_again_is_info(
        emulator: OllamaEmulator, logs: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(1000.0)
    async with client(emulator.url, ["circuit_breaker"], clock,
                      circuit_breaker={"fail_max": 2, "reset_timeout": 30}) as c:
        emulator.faults.add(path="/api/chat", status=503, times=2)
        for _ in range(2):
            with pytest.raises(ServiceUnavailableError):
                await c.chat(CHAT)
        with pytest.raises(CircuitOpenError):
            await c.chat(CHAT)
        clock.advance(30)
        await c.chat(CHAT)
    where = f"chat on {emulator.url}: circuit"
    assert records(logs) == [
        ("ollama_core.circuit_breaker", W, f"{where} closed -> open; "
                                           "next probe at clock 1030.000"),
        ("ollama_core.circuit_breaker", I, f"{where} open -> half_open"),
        ("ollama_core.circuit_breaker", I, f"{where} half_open -> closed"),
    ]


async def test_a_health_verdict_change_is_logged_up_then_down(
        emulator: OllamaEmulator, logs: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    async with client(emulator.url, ["health_checks"], clock, health_checks={
            "interval": 10, "unhealthy_threshold": 1, "healthy_threshold": 1}) as c:
        hc = c.plugin("health_checks")
        await hc.wait_for_rounds(1)
        emulator.faults.add(path="/", status=500, times=None)
        await hc.check_now()
    got = records(logs)
    assert [(name, level) for name, level, _ in got] == [
        ("ollama_core.health_checks", I), ("ollama_core.health_checks", W)]
    assert got[0][2] == f"upstream {emulator.url} is up (latency 0s)"
    assert got[1][2].startswith(f"upstream {emulator.url} is down: ServerError: ")


async def test_a_limiter_wait_is_info_and_a_refusal_a_warning(
        emulator: OllamaEmulator, logs: pytest.LogCaptureFixture) -> None:
    gen = {"model": "llama3.2", "prompt": "hi"}
    async with client(emulator.url, ["rate_limiting"], rate_limiting={
            "rate": 2, "burst": 1, "max_wait": 0.5}) as c:
        await c.generate(gen)
        await c.generate(gen)  # waits 0.5 s for its token
        c.plugin("rate_limiting").reconfigure({"rate": 2, "burst": 1, "max_wait": 0.25})
        with pytest.raises(RateLimitExceededError):
            await c.generate(gen)
    assert records(logs) == [
        ("ollama_core.rate_limiting", I, "generate: call waited 0.5s for the rate limit"),
        ("ollama_core.rate_limiting", W,
         "generate: call refused by the rate limit after waiting 0s"),
    ]


async def test_cache_misses_and_hits_are_debug(emulator: OllamaEmulator,
                                               logs: pytest.LogCaptureFixture) -> None:
    embed = {"model": "all-minilm", "input": "hello"}
    async with client(emulator.url, ["request_caching"]) as c:
        await c.embed(embed)
        await c.embed(embed)
    assert records(logs) == [
        ("ollama_core.request_caching", D, "embed: not in the cache"),
        ("ollama_core.request_caching", D, "embed: answered from the cache"),
    ]
    logs.clear()
    logs.set_level(logging.INFO, logger="ollama_core")
    async with client(emulator.url, ["request_caching"]) as c:
        await c.embed(embed)
        await c.embed(embed)
    assert records(logs) == []


# -- nothing per chunk; nothing to pay when nobody listens -------------------------------------


async def test_nothing_is_logged_per_chunk(emulator: OllamaEmulator,
                                           logs: pytest.LogCaptureFixture) -> None:
    async def stream(chunks: int) -> list[tuple[str, int, str]]:
        logs.clear()
        emulator.faults.add(path="/api/generate", status=503, times=1)  # one per-call record
        request = {"model": "llama3.2", "prompt": "go", "options": {"num_predict": chunks}}
        async with client(emulator.url, ["retry", "circuit_breaker", "request_caching",
                                         "rate_limiting"], rate_limiting={"rate": 1000},
                          retry={"base_delay": 0}) as c:
            async with c.generate_stream(request) as s:
                seen = [chunk async for chunk in s]
        assert len(seen) == chunks + 1  # the tokens and the final chunk
        return records(logs)

    long, short = await stream(200), await stream(2)
    assert long == short and [name for name, _, _ in long] == ["ollama_core.retry"]


def test_events_are_built_only_while_a_logger_would_record_them(
        caplog: pytest.LogCaptureFixture) -> None:
    c = OllamaClient("http://127.0.0.1:1")
    caplog.set_level(logging.CRITICAL, logger="ollama_core")
    assert (enabled(), c.wants_events) == (False, False)
    caplog.set_level(logging.DEBUG, logger="ollama_core.request_caching")
    assert (enabled(), c.wants_events) == (True, True)
    caplog.set_level(logging.CRITICAL, logger="ollama_core.request_caching")
    caplog.set_level(logging.WARNING, logger="ollama_core.retry")
    assert (enabled(), c.wants_events) == (True, True)


# -- without a plugin written by the user ------------------------------------------------------

SCRIPT = textwrap.dedent("""
    import logging
    import sys
    from ollama_core import SyncOllamaClient
    from ollama_core.emulator import EmulatorThread

    logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,
                        format="%(levelname)s %(name)s %(message)s")
    with EmulatorThread() as emu:
        emu.faults.add(path="/api/embed", status=503, times=1)
        url = emu.url.replace("http://", "http://alice:{password}@", 1)
        with SyncOllamaClient(url, api_key="{api_key}",
                              plugins=["retry", "request_caching"],
                              plugin_config={{"retry": {{"base_delay": 0, "jitter": "none"}}}}
                              ) as client:
            client.embed({{"model": "all-minilm", "input": "hi"}})
            client.embed({{"model": "all-minilm", "input": "hi"}})
""").format(password=PASSWORD, api_key=API_KEY)


def test_basic_config_shows_the_records_with_no_plugin_written() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=60, check=True)
    ours = [line for line in done.stdout.splitlines()
            if line.split(" ")[1:2] and line.split(" ")[1] in RELIABILITY_LOGGERS]
    assert len(ours) == 3, done.stdout
    assert ours[0] == "DEBUG ollama_core.request_caching embed: not in the cache"
    assert ours[1].startswith(
        "WARNING ollama_core.retry embed: attempt 1 failed (ServiceUnavailableError: ")
    assert ours[1].endswith("); retrying in 0s")
    assert ours[2] == "DEBUG ollama_core.request_caching embed: answered from the cache"
    assert not any(s in done.stdout + done.stderr for s in SECRETS)


def test_credentials_in_event_text_are_masked(logs: pytest.LogCaptureFixture) -> None:
    # An event built by other code may carry a URL with credentials in any text field.
    c = OllamaClient("http://127.0.0.1:1")
    url = f"http://alice:{PASSWORD}@10.0.0.1:11434"
    c.emit(FailedOver(time=0.0, from_=url, to=f"https://bob:{PASSWORD}@h2", endpoint="chat",
                      cause=f"ConnectError: cannot connect to {url}/api/chat"))
    c.emit(UpstreamHealthChanged(time=0.0, upstream=url, healthy=False,
                                 error=f"ConnectError: {url}"))
    assert [message for _, _, message in records(logs)] == [
        "chat: left http://***@10.0.0.1:11434 (ConnectError: cannot connect to "
        "http://***@10.0.0.1:11434/api/chat); trying https://***@h2",
        "upstream http://***@10.0.0.1:11434 is down: ConnectError: http://***@10.0.0.1:11434",
    ]


# -- the command line: --events, --log-level / --debug -------------------------------------------

CLI = [sys.executable, "-m", "ollama_core"]


def run_cli(url: str, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("OLLAMA_")}
    return subprocess.run(
        [*CLI, "--host", secret_url(url), "--plugins", "retry,request_caching",
         "--config", "retry.base_delay=0", *options, "embed", "all-minilm", "hi"],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


def test_cli_events_prints_each_reliability_event_on_stderr() -> None:
    with EmulatorThread() as emu:
        emu.faults.add(path="/api/embed", status=503, times=1)
        done = run_cli(emu.url, "--events")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0] == "[request_caching] embed: not in the cache"
    assert lines[1].startswith("[retry] embed: attempt 1 failed (ServiceUnavailableError: ")
    assert lines[1].endswith("); retrying in 0s")
    assert done.stdout.startswith("[")  # the vector, on stdout as without --events
    assert PASSWORD not in done.stdout + done.stderr


@pytest.mark.parametrize("options", [("--debug",), ("--log-level", "debug")])
def test_cli_debug_log_shows_the_records_on_stderr(options: tuple[str, ...]) -> None:
    with EmulatorThread() as emu:
        emu.faults.add(path="/api/embed", status=503, times=1)
        done = run_cli(emu.url, *options)
    assert done.returncode == 0, done.stderr
    assert " DEBUG ollama_core.request_caching: embed: not in the cache\n" in done.stderr
    assert " WARNING ollama_core.retry: embed: attempt 1 failed (" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_cli_is_quiet_without_the_options() -> None:
    with EmulatorThread() as emu:
        emu.faults.add(path="/api/embed", status=503, times=1)
        done = run_cli(emu.url)
    assert done.returncode == 0 and done.stderr == ""


def test_cli_rejects_an_unknown_log_level() -> None:
    done = subprocess.run([*CLI, "--log-level", "loud", "version"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "--log-level" in done.stderr
