"""The chaos run in small: every scenario of ``make chaos`` at a fraction of its size.

``bench/chaos.py`` runs in this process (emulators in their own processes, loopback
only). The first test asserts what the full run asserts: no call failed unexpectedly, no
policy was broken, nothing was sent twice, every answer was right, and no socket, task,
thread, connection, limiter slot or breaker probe was left behind. The others break the
client on purpose (retry removed, a middleware that repeats every failed call, a hook that
changes chunks, a middleware that leaks a task and a socket) and check that the run
sees each one, so a clean run means something.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import ollama_core as oc
from ollama_core import hookimpl

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import chaos  # noqa: E402
from _chaos_calls import References, ServerProcess  # noqa: E402
from _chaos_scenarios import Figures, Sizes, scenario_faults  # noqa: E402

SMALL = replace(chaos.QUICK, fault_calls=300, cancel_streams=120, failover_calls=240,
                thread_calls=160, close_rounds=1)
PROBLEMS = ("failed_unexpectedly", "policy_broken", "sent_twice", "wrong_answers",
            "sockets_left", "tasks_left", "threads_left", "held", "not_run")


def _counts(fig: Figures) -> dict[str, int]:
    return {name: getattr(fig, name) for name in PROBLEMS}


@pytest.mark.timeout(180)
def test_every_scenario_runs_clean_in_small() -> None:
    figures = chaos.run_chaos(SMALL, seed=8)
    assert [f.name[:3] for f in figures] == ["(a)", "(b)", "(c)", "(d)", "(e)"]
    for fig in figures:
        assert _counts(fig) == dict.fromkeys(PROBLEMS, 0), (fig.name, fig.problems)
        assert fig.calls >= 96
        assert fig.rss_before > 0 and fig.rss_after > 0
    faults, cancel, failover, threads, close = figures
    assert faults.ok and cancel.ok and failover.ok and threads.ok
    assert faults.calls >= SMALL.fault_calls and faults.faults > 20
    assert cancel.calls == SMALL.cancel_streams
    assert failover.faults == 2  # the SIGKILL and the SIGSTOP
    assert "on the primary at its SIGKILL" in " ".join(failover.notes)
    assert threads.faults > 0
    assert close.calls == 2 * SMALL.close_calls and close.failed_as_planned > 0


# -- the run catches a client that breaks its promises ---------------------------------------


@pytest.fixture(scope="module")
def refs() -> Iterator[References]:
    with ServerProcess.emulator() as server:
        yield References(server)


TINY = Sizes(fault_calls=250, fault_concurrency=16, fault_cap=60)
WITHOUT_RETRY = ("circuit_breaker", "rate_limiting", "failover", "health_checks",
                 "request_caching")


def test_a_call_that_should_have_been_retried_is_an_unexpected_failure(
        refs: References) -> None:
    fig = asyncio.run(scenario_faults(TINY, 8, refs, plugins=WITHOUT_RETRY))
    assert fig.failed_unexpectedly > 0
    assert any("not retried" in p for p in fig.problems), fig.problems


class RepeatEverything:
    """A broken retry: repeats any failed attempt, non-idempotent calls included."""

    name = "repeat_everything"
    order = 150

    @hookimpl
    def ollama_middlewares(self, client: Any) -> list[Any]:
        return [self]

    async def __call__(self, request: oc.Request, call_next: Any) -> oc.Response:
        for _ in range(3):
            try:
                return await call_next(request)
            except oc.OllamaError:
                pass
        return await call_next(request)


def test_a_non_idempotent_call_sent_again_is_counted_twice(refs: References) -> None:
    fig = asyncio.run(scenario_faults(TINY, 8, refs,
                                      plugins=[*WITHOUT_RETRY, RepeatEverything()]))
    assert fig.sent_twice > 0
    assert fig.policy_broken > 0


class ChangeChunks:
    """A hook that alters the text of some stream chunks."""

    name = "change_chunks"

    @hookimpl
    def ollama_stream_chunk(self, request: oc.Request, chunk: dict[str, Any]) -> None:
        message = chunk.get("message")
        if isinstance(message, dict) and message.get("content"):
            message["content"] += "!"


def test_a_changed_answer_is_a_wrong_answer(refs: References) -> None:
    fig = asyncio.run(scenario_faults(TINY, 8, refs, plugins=["full", ChangeChunks()]))
    assert fig.wrong_answers > 0
    assert fig.failed_unexpectedly == 0


class LeakOnce:
    """A middleware that leaves a task running and a socket open to the server."""

    name = "leak_once"
    order = 600  # below failover, which picks the server

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.tasks: list[asyncio.Task[None]] = []

    @hookimpl
    def ollama_middlewares(self, client: Any) -> list[Any]:
        return [self]

    async def __call__(self, request: oc.Request, call_next: Any) -> oc.Response:
        if not self.sockets:
            host, port = request.upstream.url.host, request.upstream.url.port  # type: ignore[union-attr]
            self.sockets.append(socket.create_connection((host, port)))
            self.tasks.append(asyncio.ensure_future(asyncio.sleep(3600)))
        return await call_next(request)


def test_a_leaked_task_and_socket_are_counted(refs: References) -> None:
    leak = LeakOnce()
    try:
        fig = asyncio.run(scenario_faults(TINY, 8, refs, plugins=["full", leak]))
    finally:
        for sock in leak.sockets:
            sock.close()
    assert fig.tasks_left == 1
    assert fig.sockets_left == 1
