"""The five chaos scenarios. Each returns a :class:`Figures`; none runs past its time cap.

(a) ``faults``: a mixed workload (chat, generate, streams, embed with and without the
    cache, copy/push/delete, create) through ``plugins="full"`` against an emulator whose
    fault plan hits about one request in six (see ``_chaos_faults``).
(b) ``cancel``: streams cancelled at seeded random points, five ways: ``cancel()`` then a
    read, leaving ``async with`` early, cancelling the consuming task, a timeout around
    the consumer, and dropping the stream without closing it.
(c) ``failover``: three emulator processes at concurrency 32; the primary is SIGKILLed
    once a third of the calls are done, the server that took over SIGSTOPped at half.
(d) ``threads``: the (a) workload and plan from 16 threads sharing one ``SyncOllamaClient``.
(e) ``close``: clients closed under load, ``aclose()`` and the sync ``close()``.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ollama_core as oc
from _chaos_calls import (
    API_STREAM,
    CACHED,
    NUM_PREDICT,
    PROMPTS,
    NON_IDEMPOTENT,
    PATHS,
    CallResult,
    CallSpec,
    EventLog,
    References,
    ServerProcess,
    WireLog,
    chat_body,
    check_answer,
    check_prefix,
    detach,
    embed_body,
    generate_body,
    make_specs,
    marker_of,
    open_sockets,
    rss_kib,
    run_call,
    run_call_sync,
    thread_names,
)
from _chaos_faults import EMPTY_BODY_PATHS, Attempt, build_plan, judge

__all__ = ["Figures", "Sizes", "scenario_cancel", "scenario_close", "scenario_failover",
           "scenario_faults", "scenario_threads"]

_BROKEN = (oc.ReadError, oc.StreamInterruptedError, oc.IncompleteStreamError)
MAX_ATTEMPTS = 3  # the retry plugin's default, used by every scenario


@dataclass(frozen=True)
class Sizes:
    fault_calls: int = 10_000
    fault_concurrency: int = 32
    fault_cap: float = 300.0
    cancel_streams: int = 2_000
    cancel_concurrency: int = 32
    cancel_cap: float = 180.0
    failover_calls: int = 3_000
    failover_concurrency: int = 32
    failover_cap: float = 180.0
    thread_calls: int = 2_000
    threads: int = 16
    thread_cap: float = 180.0
    close_rounds: int = 20
    close_calls: int = 48
    close_cap: float = 120.0


@dataclass
class Figures:
    """What one scenario measured. Every count after ``ok`` must be 0 for a clean run."""

    name: str
    calls: int = 0
    faults: int = 0
    ok: int = 0
    failed_as_planned: int = 0
    failed_unexpectedly: int = 0
    policy_broken: int = 0
    sent_twice: int = 0
    wrong_answers: int = 0
    sockets_left: int = 0
    tasks_left: int = 0
    threads_left: int = 0
    held: int = 0  # connections, limiter slots or breaker probes still held after the calls
    not_run: int = 0  # calls the time cap kept from running
    rss_before: int = 0
    rss_after: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    problems: Counter[str] = field(default_factory=Counter)
    events: dict[str, int] = field(default_factory=dict)

    @property
    def bad(self) -> int:
        return (self.failed_unexpectedly + self.policy_broken + self.sent_twice
                + self.wrong_answers + self.sockets_left + self.tasks_left + self.threads_left
                + self.held + self.not_run)

    def problem(self, category: str, detail: str) -> None:
        self.problems[f"{category}: {detail}"] += 1


def _stack_config(seed: int, endpoints: Sequence[str] | None = None,
                  max_concurrent: int | None = None, budget: bool = True,
                  ) -> dict[str, dict[str, Any]]:
    """``plugins="full"``, tuned only where a default would throttle a loopback run.

    ``budget=False`` turns the retry budget off, where a burst of calls that all meet a
    fault at once is the point (the budget would rightly refuse most of their retries)."""
    limiter: dict[str, Any] = {"rate": 1e9, "burst": 10**9}
    if max_concurrent is not None:
        limiter["max_concurrent"] = max_concurrent
    config: dict[str, dict[str, Any]] = {
        "retry": {"base_delay": 0.02, "max_delay": 0.5, "max_retry_after": 1.0, "seed": seed,
                  **({} if budget else {"budget_ratio": None})},
        "rate_limiting": limiter,
        "health_checks": {"interval": 1.0},
    }
    if endpoints:
        config["failover"] = {"endpoints": list(endpoints), "cooldown": 30.0}
    return config


def _exc_name(exc: BaseException | None) -> str:
    return "-" if exc is None else type(exc).__name__


async def _settle_tasks(timeout: float = 2.0) -> int:
    """Tasks of this loop other than the caller, after letting closing ones finish."""
    me = asyncio.current_task()
    deadline = time.monotonic() + timeout
    while True:
        left = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
        if not left or time.monotonic() >= deadline:
            return len(left)
        await asyncio.sleep(0.02)


async def _settle_sockets(ports: Sequence[int], timeout: float = 2.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = open_sockets(ports)
        if not count or time.monotonic() >= deadline:
            return count
        await asyncio.sleep(0.02)


def _connections_in_use(client: oc.OllamaClient) -> int | None:
    """Connections checked out of the client's aiohttp pool (None when it cannot be read:
    another transport, or aiohttp's internals moved)."""
    try:
        session = getattr(client._transport, "session")  # noqa: B009 - absent: None below
        return 0 if session is None else len(session.connector._acquired)
    except AttributeError:
        return None


def _held_by_plugins(client: oc.OllamaClient) -> list[str]:
    """Limiter slots in use and breakers not closed, once every call has ended (for the
    plugins the client has; a plugin whose state cannot be read is reported too)."""
    held: list[str] = []
    if "rate_limiting" in client.plugins:
        try:
            for key, snap in client.plugin("rate_limiting").stats()["limiters"].items():
                if snap.get("in_flight"):
                    held.append(f"limiter {key}: {snap['in_flight']} slot(s) in use")
        except (KeyError, AttributeError, TypeError) as exc:
            held.append(f"limiter state unreadable ({exc!r})")
    if "circuit_breaker" in client.plugins:
        try:
            for key, state in client.plugin("circuit_breaker").states().items():
                if state != "closed":
                    held.append(f"breaker {key} {state}")
        except (KeyError, AttributeError, TypeError) as exc:
            held.append(f"breaker state unreadable ({exc!r})")
    return held


# -- the judge for planned faults (a, d) ----------------------------------------------------------


def _plan_lengths(slots: Sequence[Sequence[CallSpec]]) -> dict[str, int]:
    per_path: Counter[str] = Counter(PATHS[s.op] for slot in slots for s in slot)
    # room for every retry; requests past the end of a plan meet no fault
    return {path: 2 * n + 32 for path, n in sorted(per_path.items())}


def _write_plan(plan: dict[str, list[Any]], directory: Path) -> Path:
    wire = {path: [None if e is None else e[1] for e in entries]
            for path, entries in plan.items()}
    out = directory / "plan.json"
    out.write_text(json.dumps(wire))
    return out


def _wire_stream(path: str, body: Any) -> bool:
    if path in ("/api/chat", "/api/generate", "/api/push", "/api/create", "/api/pull"):
        value = body.get("stream", True) if isinstance(body, dict) else True
        return value is not False
    return False


def _judge_planned(fig: Figures, results: Sequence[CallResult], recorded: Sequence[dict[str, Any]],
                   plan: dict[str, list[Any]], refs: References, events: EventLog) -> None:
    """Count each call's outcome against the plan (see ``_chaos_faults``).

    The retry budget may refuse a retry the plan called for (``retry_budget_exhausted``
    events, mostly in the first second, when few calls have been made): a call failing
    that way is allowed, as many times as the budget said it refused, and no more."""
    refusals = events.counts.get("retry_budget_exhausted", 0)
    refused = 0
    arrivals: Counter[str] = Counter()
    met: Counter[str] = Counter()
    attempts: dict[tuple[str, int], list[Attempt]] = {}
    for rec in recorded:
        path = rec["path"]
        n = arrivals[path]
        arrivals[path] += 1
        entries = plan.get(path, [])
        entry = entries[n] if n < len(entries) else None
        kind = None if entry is None else entry[0]
        if kind is not None:
            fig.faults += 1
            met[kind] += 1
        marker = marker_of(path, rec.get("json"))
        if marker is None:
            continue
        attempts.setdefault((path, marker), []).append(
            Attempt(kind, _wire_stream(path, rec.get("json"))))
    fig.notes.append("faults met: " + ", ".join(f"{k} {n}" for k, n in met.most_common()))
    fig.notes.append(f"requests: {len(recorded):,}")
    # For calls the cache answered: which failures a shared (coalesced) call explains.
    shared_failures: set[tuple[str, str]] = set()
    for r in results:
        if r.spec.op in CACHED and r.error is not None and (r.path, r.spec.index) in attempts:
            shared_failures.add((json.dumps(embed_body(r.spec)["input"]), _exc_name(r.error)))
    for r in results:
        fig.calls += 1
        spec = r.spec
        if r.hung:
            fig.failed_unexpectedly += 1
            fig.problem("hung", f"{spec.op} still running after its guard time")
            continue
        tried = attempts.get((r.path, spec.index), [])
        if not tried:
            if spec.op in CACHED:
                if r.error is None:
                    _count_answer(fig, r, refs)
                elif (json.dumps(embed_body(spec)["input"]), _exc_name(r.error)) in shared_failures:
                    fig.failed_as_planned += 1
                else:
                    fig.failed_unexpectedly += 1
                    fig.problem("failed", f"{spec.op} without reaching the server: "
                                f"{_exc_name(r.error)}: {str(r.error)[:100]}")
                continue
            if r.error is None:
                fig.wrong_answers += 1
                fig.problem("wrong", f"{spec.op} answered without reaching the server")
            else:
                fig.failed_unexpectedly += 1
                fig.problem("failed", f"{spec.op} without reaching the server: "
                            f"{_exc_name(r.error)}: {str(r.error)[:100]}")
            continue
        verdict = judge(tried, r.error, api_stream=spec.op in API_STREAM,
                        idempotent=spec.op not in NON_IDEMPOTENT,
                        empty_body=r.path in EMPTY_BODY_PATHS, max_attempts=MAX_ATTEMPTS)
        if verdict.double_sends:
            fig.sent_twice += 1
            fig.problem("sent twice", f"{spec.op}: {[a.kind for a in tried]}")
        if verdict.outcome == "ok":
            _count_answer(fig, r, refs)
        elif verdict.outcome == "failed_as_planned":
            fig.failed_as_planned += 1
        elif (verdict.outcome == "unexpected_failure" and verdict.reason.startswith(
                "not retried") and refused < refusals):
            refused += 1
            fig.failed_as_planned += 1
        elif verdict.outcome == "unexpected_failure":
            fig.failed_unexpectedly += 1
            fig.problem("failed", f"{spec.op} {verdict.reason}: {_exc_name(r.error)}: "
                        f"{str(r.error)[:100]}")
        elif verdict.outcome == "unexpected_success" and verdict.reason.startswith("answer"):
            fig.wrong_answers += 1
            fig.problem("wrong", f"{spec.op} {verdict.reason}")
        else:
            fig.policy_broken += 1
            fig.problem("policy", f"{spec.op} {verdict.reason}")
    if refused:
        fig.notes.append(f"{refused} call(s) failed because the retry budget refused a "
                         f"retry ({refusals} refusal(s) reported)")


def _count_answer(fig: Figures, r: CallResult, refs: References) -> None:
    why = check_answer(r, refs)
    if why is None:
        fig.ok += 1
    else:
        fig.wrong_answers += 1
        fig.problem("wrong", f"{r.spec.op}: {why[:160]}")


async def _drive(client: oc.OllamaClient, slots: Sequence[Sequence[CallSpec]],
                 concurrency: int, deadline: float, refs: References,
                 target: int | None = None, results: list[CallResult] | None = None,
                 ) -> tuple[list[CallResult], int]:
    """Run the slots on ``concurrency`` workers until ``target`` calls have run (all of
    them by default); stop starting new ones at ``deadline``. Answers are checked as they
    arrive and then dropped, so the run's own memory stays flat."""
    results = [] if results is None else results
    queue = iter(slots)
    not_run = 0
    busy = 0
    goal = target if target is not None else sum(len(slot) for slot in slots)

    async def worker() -> None:
        nonlocal not_run, busy
        for slot in queue:
            if len(results) + busy >= goal:
                return
            if time.monotonic() >= deadline:
                not_run += len(slot)
                continue
            busy += 1
            try:
                for spec in slot:
                    result = await run_call(client, spec)
                    _check_now(result, refs)
                    results.append(result)
                    if spec.op == "copy" and result.error is not None:
                        break  # nothing was copied: nothing to push or delete
            finally:
                busy -= 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results, not_run


def _check_now(result: CallResult, refs: References) -> None:
    if result.error is None and not result.hung:
        result.wrong = check_answer(result, refs)
        result.checked = True
    result.answer = None
    result.chunks = []


# -- (a) --------------------------------------------------------------------------------------


async def scenario_faults(sizes: Sizes, seed: int, refs: References, *,
                          plugins: Sequence[Any] = ("full",),
                          config: Mapping[str, Mapping[str, Any]] | None = None) -> Figures:
    """(a). ``plugins`` and ``config`` (merged over the stack's settings) exist so a test
    can show that a client breaking its policy is caught."""
    fig = Figures("(a) faults, full stack")
    started = time.monotonic()
    rng = random.Random(seed)
    slots = make_specs(sizes.fault_calls * 21 // 20, rng)  # copies that fail skip a call or two
    plan = build_plan(_plan_lengths(slots), rng)
    events = EventLog()
    with tempfile.TemporaryDirectory() as tmp, \
            ServerProcess.planned(_write_plan(plan, Path(tmp))) as server:
        fig.rss_before = rss_kib()
        stack = _stack_config(seed)
        for name, section in (config or {}).items():
            stack[name] = {**stack.get(name, {}), **section}
        named = {p for p in plugins if isinstance(p, str)}
        if "full" not in named:
            stack = {k: v for k, v in stack.items() if k in named}
        client = oc.OllamaClient(server.url, timeout=5.0, plugins=[*plugins, events],
                                 plugin_config=stack)
        async with client:
            results, fig.not_run = await _drive(client, slots, sizes.fault_concurrency,
                                                started + sizes.fault_cap, refs,
                                                target=sizes.fault_calls)
            for what in _held_by_plugins(client):
                fig.held += 1
                fig.problem("held", what)
        fig.tasks_left = await _settle_tasks()
        fig.sockets_left = await _settle_sockets([server.port])
        gc.collect()
        fig.rss_after = rss_kib()  # before the run's own bookkeeping is read in
        recorded = server.recorded()
    _judge_planned(fig, results, recorded, plan, refs, events)
    fig.events = dict(events.counts)
    if events.breaker_opens:
        fig.notes.append(f"the circuit breaker opened {events.breaker_opens} time(s)")
    fig.seconds = time.monotonic() - started
    return fig


# -- (b) --------------------------------------------------------------------------------------

_CANCEL_MODES = ("cancel", "leave", "task", "timeout", "drop")


@dataclass
class _CancelSpec:
    spec: CallSpec
    mode: str
    at: int  # chunks to read before cancelling


async def _consume(client: oc.OllamaClient, cs: _CancelSpec, result: CallResult,
                   reached: asyncio.Event) -> None:
    spec = cs.spec
    body = chat_body(spec) if spec.op == "chat_stream" else generate_body(spec)
    make = client.chat_stream if spec.op == "chat_stream" else client.generate_stream
    if cs.mode == "drop":
        stream = make(body)
        if cs.at:
            async for chunk in stream:
                result.chunks.append(_text(chunk))
                result.done = bool(chunk.done)
                if len(result.chunks) >= cs.at:
                    break
        del stream  # never closed: the client must end it on its own
        return
    async with make(body) as stream:
        if cs.mode == "cancel" and cs.at == 0:
            stream.cancel()
        async for chunk in stream:
            result.chunks.append(_text(chunk))
            result.done = bool(chunk.done)
            if len(result.chunks) >= cs.at:
                if cs.mode == "cancel":
                    stream.cancel()  # the next read must raise StreamCancelledError
                elif cs.mode == "leave":
                    break
                else:
                    reached.set()
                    await asyncio.sleep(3600)  # cancelled from outside


def _text(chunk: Any) -> str:
    message = getattr(chunk, "message", None)
    return str(message.content or "") if message is not None else str(chunk.response or "")


async def _run_cancel(client: oc.OllamaClient, cs: _CancelSpec) -> CallResult:
    result = CallResult(cs.spec, started=time.monotonic(), cancelled_at=cs.at)
    reached = asyncio.Event()
    task = asyncio.ensure_future(_consume(client, cs, result, reached))
    expected: tuple[type[BaseException], ...] = ()
    try:
        if cs.mode == "task":
            waiter = asyncio.ensure_future(reached.wait())
            await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            task.cancel()
            expected = (asyncio.CancelledError,)
            await asyncio.wait_for(task, 30)
        elif cs.mode == "timeout":
            waiter = asyncio.ensure_future(reached.wait())
            await asyncio.wait({task, waiter}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            expected = (asyncio.TimeoutError,)
            await asyncio.wait_for(task, 0.001 if reached.is_set() else 30)
        else:
            expected = (oc.StreamCancelledError,) if cs.mode == "cancel" else ()
            await asyncio.wait_for(task, 30)
    except asyncio.CancelledError:
        if not task.cancelled() or cs.mode != "task":
            raise
    except BaseException as exc:  # judged below
        if not (expected and isinstance(exc, expected)):
            result.error = detach(exc)
    if not task.done():
        task.cancel()
        result.hung = True
    result.ended = time.monotonic()
    return result


async def scenario_cancel(sizes: Sizes, seed: int, refs: References) -> Figures:
    fig = Figures("(b) cancelled streams")
    started = time.monotonic()
    rng = random.Random(seed + 1)
    specs: list[_CancelSpec] = []
    for index in range(sizes.cancel_streams):
        op = rng.choice(("chat_stream", "generate_stream"))
        spec = CallSpec(op, index, prompt=rng.randrange(len(PROMPTS)),
                        num_predict=rng.choice(NUM_PREDICT))
        specs.append(_CancelSpec(spec, rng.choice(_CANCEL_MODES),
                                 rng.randint(0, spec.num_predict or 5)))
    # Half the streams are paced (a few ms a chunk), so the cancel often lands while the
    # server is still writing; the others arrive in one burst and sit in the buffer.
    per_path = Counter(PATHS[cs.spec.op] for cs in specs)
    plan = {path: [("slow", {"chunk_delay": 0.003}) if rng.random() < 0.5 else None
                   for _ in range(n + 32)] for path, n in per_path.items()}
    events = EventLog()
    with tempfile.TemporaryDirectory() as tmp, \
            ServerProcess.planned(_write_plan(plan, Path(tmp))) as server:
        fig.rss_before = rss_kib()
        client = oc.OllamaClient(server.url, timeout=5.0, plugins=["full", events],
                                 plugin_config=_stack_config(seed, max_concurrent=64))
        results: list[CallResult] = []
        deadline = started + sizes.cancel_cap
        queue = iter(specs)

        async def worker() -> None:
            for cs in queue:
                if time.monotonic() >= deadline:
                    fig.not_run += 1
                    continue
                results.append(await _run_cancel(client, cs))

        async with client:
            await asyncio.gather(*(worker() for _ in range(sizes.cancel_concurrency)))
            gc.collect()
            # Dropped streams end at the loop's next turns; give them a bounded moment.
            settle = time.monotonic() + 5.0
            while time.monotonic() < settle:
                in_use = _connections_in_use(client)
                if not in_use and not _held_by_plugins(client):
                    break
                await asyncio.sleep(0.05)
            in_use = _connections_in_use(client)
            if in_use is None:
                fig.notes.append("connections in use: cannot be read from this client")
            if in_use:
                fig.held += in_use
                fig.problem("held", f"{in_use} connection(s) still in use after every "
                                    "stream ended")
            for what in _held_by_plugins(client):
                fig.held += 1
                fig.problem("held", what)
        fig.tasks_left = await _settle_tasks()
        fig.sockets_left = await _settle_sockets([server.port])
        gc.collect()
        fig.rss_after = rss_kib()  # before the run's own bookkeeping is read in
        recorded = server.recorded()
    arrivals: Counter[tuple[str, int]] = Counter()
    for rec in recorded:
        marker = marker_of(rec["path"], rec.get("json"))
        if marker is not None:
            arrivals[(rec["path"], marker)] += 1
    modes = {cs.spec.index: cs.mode for cs in specs}
    for r in results:
        fig.calls += 1
        mode = modes[r.spec.index]
        if arrivals[(r.path, r.spec.index)] > 1:
            fig.sent_twice += 1
            fig.problem("sent twice", f"{mode} stream reached the server "
                        f"{arrivals[(r.path, r.spec.index)]} times")
        if r.hung:
            fig.failed_unexpectedly += 1
            fig.problem("hung", f"{mode} stream did not end")
            continue
        if r.error is not None:
            fig.failed_unexpectedly += 1
            fig.problem("failed", f"{mode}: {_exc_name(r.error)}: {str(r.error)[:100]}")
            continue
        why = check_prefix(r, refs)
        if why is None and r.done:
            why = check_answer(r, refs)
        if why is None:
            fig.ok += 1
        else:
            fig.wrong_answers += 1
            fig.problem("wrong", f"{mode}: {why[:160]}")
    fig.events = dict(events.counts)
    fig.notes.append("modes: " + ", ".join(
        f"{m} {sum(1 for cs in specs if cs.mode == m)}" for m in _CANCEL_MODES))
    fig.seconds = time.monotonic() - started
    return fig


# -- (c) --------------------------------------------------------------------------------------


async def scenario_failover(sizes: Sizes, seed: int, refs: References) -> Figures:
    """(c) Three servers in priority order. A third of the way through, the primary is
    SIGKILLed (it vanishes: connections reset, new ones refused); half way, the server
    that took over is SIGSTOPped (it stops answering while its kernel still
    accepts connections, as a hung Ollama does), so calls must time out on it and move to
    the third one."""
    fig = Figures("(c) failover, SIGKILL+STOP")
    started = time.monotonic()
    rng = random.Random(seed + 2)
    slots = make_specs(sizes.failover_calls, rng, chain=False)
    servers = [ServerProcess.emulator() for _ in range(3)]
    events = EventLog()
    timeout = 5.0
    # (name, server, start, end) of each disruption: a call started before its end and
    # still running at its start, with an attempt on that server, may fail as the policy
    # says. The client can learn of a kill at its loop's next read of the sockets, and of
    # a stop only when the first attempt on the stopped server times out.
    windows: list[tuple[str, str, float, float]] = []
    try:
        for server in servers:
            server.start()
        primary, second = servers[0], servers[1]
        urls = [s.url for s in servers]
        wire = WireLog(primary.url)
        fig.rss_before = rss_kib()
        client = oc.OllamaClient(primary.url, timeout=timeout,
                                 plugins=["full", events, wire],
                                 plugin_config=_stack_config(seed, endpoints=urls))
        results: list[CallResult] = []
        total = sum(len(slot) for slot in slots)

        async def monkey() -> None:
            cap = started + sizes.failover_cap
            while len(results) < total // 3 and time.monotonic() < cap:
                await asyncio.sleep(0.005)
            at = time.monotonic()
            primary.kill()
            windows.append(("kill", primary.url, at, time.monotonic() + 0.02))
            while len(results) < total // 2 and time.monotonic() < cap:
                await asyncio.sleep(0.005)
            at = time.monotonic()
            second.pause()
            windows.append(("stop", second.url, at, at + timeout + 0.5))  # refined below

        async with client:
            monkey_task = asyncio.ensure_future(monkey())
            _, fig.not_run = await _drive(client, slots, sizes.failover_concurrency,
                                          started + sizes.failover_cap, refs,
                                          results=results)
            await monkey_task
            down = {primary.url.split("//")[1], second.url.split("//")[1]}
            for what in _held_by_plugins(client):
                # the breakers of the dead and the stopped server may rightly be open
                if "breaker" in what and any(host in what for host in down):
                    fig.notes.append(f"after the disruptions: {what}")
                    continue
                fig.held += 1
                fig.problem("held", what)
        fig.tasks_left = await _settle_tasks()
        fig.sockets_left = await _settle_sockets([s.port for s in servers])
        gc.collect()
        fig.rss_after = rss_kib()  # before the run's own bookkeeping is read in
        survivor = servers[2].recorded()
    finally:
        for server in servers:
            server.stop()
    fig.faults = len(windows)
    touched: dict[tuple[str, int], set[str]] = {}
    for entry in wire.entries:
        if entry.marker is not None:
            touched.setdefault((entry.path, entry.marker), set()).add(entry.upstream)
    timeouts = {"TimeoutError", "FirstByteTimeout", "IdleTimeout", "ConnectTimeout"}
    for n, (name, url, t0, t1) in enumerate(windows):
        if name == "stop":
            learned = [e.ended for e in wire.entries
                       if e.upstream == url and e.error in timeouts and e.ended >= t0]
            if learned:
                windows[n] = (name, url, t0, min(learned) + 0.05)
    # Non-idempotent calls: arrivals at the survivor (its own record), plus attempts sent
    # to the killed or stopped server that did not fail to connect: it may have acted on
    # them (a stopped server acts on what its kernel queued as soon as it runs again).
    reached: Counter[tuple[str, int]] = Counter()
    for rec in survivor:
        marker = marker_of(rec["path"], rec.get("json"))
        if marker is not None:
            reached[(rec["path"], marker)] += 1
    for entry in wire.entries:
        if (entry.upstream in (primary.url, second.url) and entry.marker is not None
                and entry.error not in ("ConnectError", "ConnectTimeout")):
            reached[(entry.path, entry.marker)] += 1
    last_end = max((end for _, _, _, end in windows), default=float("inf"))
    counts: Counter[str] = Counter()
    for r in results:
        fig.calls += 1
        spec = r.spec
        if spec.op in NON_IDEMPOTENT and reached[(r.path, spec.index)] > 1:
            fig.sent_twice += 1
            fig.problem("sent twice", f"{spec.op} reached {reached[(r.path, spec.index)]} times")
        hit = [name for name, url, t0, t1 in windows if r.started <= t1 and r.ended >= t0
               and url in touched.get((r.path, spec.index), ())]
        for name in hit:
            counts[name] += 1
        counts["after"] += r.started > last_end
        if r.hung:
            fig.failed_unexpectedly += 1
            fig.problem("hung", f"{spec.op}")
            continue
        if r.error is None:
            _count_answer(fig, r, refs)
            continue
        # The policy allows a failure only to a call caught by a disruption whose attempt
        # was on that server: a committed stream, or a non-idempotent call (which is not
        # moved once it may have reached the server).
        allowed = hit and isinstance(r.error, _BROKEN + (oc.OllamaTimeoutError,)) and (
            spec.op in API_STREAM or spec.op in NON_IDEMPOTENT)
        if allowed:
            fig.failed_as_planned += 1
        else:
            fig.failed_unexpectedly += 1
            counts["failed after"] += r.started > last_end
            when = "after the disruptions" if r.started > last_end else (
                f"during the {'+'.join(hit)}" if hit else "before or between them")
            fig.problem("failed", f"{spec.op} {when}: {_exc_name(r.error)}: "
                        f"{str(r.error)[:100]}")
    fig.events = dict(events.counts)
    stop_known = next((t1 - t0 for name, _, t0, t1 in windows if name == "stop"), None)
    fig.notes.append(
        f"{counts['kill']} calls on the primary at its SIGKILL, {counts['stop']} on the second "
        f"server during its SIGSTOP (the client knew of it after "
        f"{stop_known if stop_known is not None else float('nan'):.1f} s, its first timeout), "
        f"{counts['after']} started after both; {counts['failed after']} of those failed")
    fig.seconds = time.monotonic() - started
    return fig


# -- (d) --------------------------------------------------------------------------------------


def scenario_threads(sizes: Sizes, seed: int, refs: References) -> Figures:
    fig = Figures(f"(d) {sizes.threads} threads, sync")
    started = time.monotonic()
    rng = random.Random(seed + 3)
    slots = make_specs(sizes.thread_calls, rng)
    plan = build_plan(_plan_lengths(slots), rng)
    events = EventLog()
    results: list[CallResult] = []
    lock = threading.Lock()
    queue = iter(slots)
    deadline = started + sizes.thread_cap
    errors: list[BaseException] = []

    def worker(client: oc.SyncOllamaClient) -> None:
        try:
            while True:
                with lock:
                    slot = next(queue, None)
                if slot is None:
                    return
                if time.monotonic() >= deadline:
                    with lock:
                        fig.not_run += len(slot)
                    continue
                for spec in slot:
                    result = run_call_sync(client, spec)
                    _check_now(result, refs)
                    with lock:
                        results.append(result)
                    if spec.op == "copy" and result.error is not None:
                        break
        except BaseException as exc:  # reported, never lost
            errors.append(exc)

    with tempfile.TemporaryDirectory() as tmp, \
            ServerProcess.planned(_write_plan(plan, Path(tmp))) as server:
        fig.rss_before = rss_kib()
        threads_before = set(thread_names())
        with oc.SyncOllamaClient(server.url, timeout=5.0, plugins=["full", events],
                                 plugin_config=_stack_config(seed)) as client:
            workers = [threading.Thread(target=worker, args=(client,), name=f"chaos-{i}")
                       for i in range(sizes.threads)]
            for t in workers:
                t.start()
            for t in workers:
                t.join(max(1.0, deadline + 60 - time.monotonic()))
            stuck = [t for t in workers if t.is_alive()]
            if stuck:
                fig.failed_unexpectedly += len(stuck)
                fig.problem("hung", f"{len(stuck)} worker thread(s) still in a call")
            for what in _held_by_plugins(client.async_client):
                fig.held += 1
                fig.problem("held", what)
        settle = time.monotonic() + 2.0
        while True:
            left = sorted(set(thread_names()) - threads_before)
            if not left or time.monotonic() >= settle:
                break
            time.sleep(0.02)
        fig.threads_left = len(left)
        for name in left:
            fig.problem("thread left", name)
        settle = time.monotonic() + 2.0
        while (count := open_sockets([server.port])) and time.monotonic() < settle:
            time.sleep(0.02)
        fig.sockets_left = count
        gc.collect()
        fig.rss_after = rss_kib()  # before the run's own bookkeeping is read in
        recorded = server.recorded()
    for exc in errors:
        fig.failed_unexpectedly += 1
        fig.problem("worker died", f"{_exc_name(exc)}: {exc}")
    _judge_planned(fig, results, recorded, plan, refs, events)
    fig.events = dict(events.counts)
    if events.breaker_opens:
        fig.notes.append(f"the circuit breaker opened {events.breaker_opens} time(s)")
    fig.seconds = time.monotonic() - started
    return fig


# -- (e) --------------------------------------------------------------------------------------


def _close_plan(calls: int, rng: random.Random) -> dict[str, list[Any]]:
    """Requests refused with 429 (Retry-After 0.3 s) or answered after 0.4 s, so that at
    any moment some calls are on the wire and others wait to retry (429, unlike 503, is
    not counted by the breaker, which would otherwise open on purpose)."""
    def entry() -> tuple[str, dict[str, Any]]:
        if rng.random() < 0.4:
            return ("429", {"status": 429, "retry_after": 0.3})
        return ("stall", {"headers_delay": 0.4})

    return {path: [entry() for _ in range(calls * 4 + 32)]
            for path in ("/api/chat", "/api/generate", "/api/embed")}


_CLOSE_OPS = ("chat", "chat_stream", "generate", "embed")


def _judge_closed(fig: Figures, r: CallResult, refs: References, close_started: float,
                  grace: float, exhausted: set[int]) -> None:
    """A call of a client closed under it: a right answer, ``ClientClosedError``, or the
    429 of a call that had spent its attempts on 429s before the close."""
    fig.calls += 1
    if r.hung or r.ended > close_started + grace:
        fig.failed_unexpectedly += 1
        fig.problem("hung", f"{r.spec.op} still running {grace:g} s after close began")
    elif r.error is None:
        _count_answer(fig, r, refs)
    elif isinstance(r.error, oc.ClientClosedError):
        fig.failed_as_planned += 1
    elif isinstance(r.error, oc.RateLimitError) and r.spec.index in exhausted:
        fig.failed_as_planned += 1
    else:
        fig.failed_unexpectedly += 1
        fig.problem("failed", f"{r.spec.op} at close: {_exc_name(r.error)}: "
                    f"{str(r.error)[:100]}")


def _exhausted_on_429(server: ServerProcess, plan: dict[str, list[Any]]) -> set[int]:
    """Markers of the calls whose every attempt (``MAX_ATTEMPTS`` of them) met a 429."""
    arrivals: Counter[str] = Counter()
    kinds: dict[int, list[str | None]] = {}
    for rec in server.recorded():
        path = rec["path"]
        n = arrivals[path]
        arrivals[path] += 1
        entries = plan.get(path, [])
        kind = entries[n][0] if n < len(entries) and entries[n] is not None else None
        marker = marker_of(path, rec.get("json"))
        if marker is not None:
            kinds.setdefault(marker, []).append(kind)
    return {m for m, ks in kinds.items() if len(ks) >= MAX_ATTEMPTS and set(ks) == {"429"}}


async def _close_round_async(server: ServerProcess, fig: Figures, seed: int, calls: int,
                             refs: References, base: int, rng: random.Random,
                             ) -> list[tuple[CallResult, float]]:
    wire = WireLog(server.url)
    client = oc.OllamaClient(server.url, timeout=5.0, plugins=["full", wire],
                             plugin_config=_stack_config(seed, budget=False))
    specs = [CallSpec(rng.choice(_CLOSE_OPS), base + i, prompt=rng.randrange(len(PROMPTS)))
             for i in range(calls)]
    async with client:
        tasks = [asyncio.ensure_future(run_call(client, spec, guard=30)) for spec in specs]
        await asyncio.sleep(rng.uniform(0.1, 0.6))
        close_started = time.monotonic()
        sent_before = len(wire.entries)
        await asyncio.wait_for(client.aclose(), 10)
        closed_in = time.monotonic() - close_started
        done, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        late = [e for e in wire.entries[sent_before:]
                if e.error not in ("ClientClosedError", "CancelledError")]
        try:
            await client.chat({"model": "llama3.2", "messages": []})
            fig.failed_unexpectedly += 1
            fig.problem("failed", "a call after close did not raise")
        except oc.ClientClosedError:
            pass
        except Exception as exc:
            fig.failed_unexpectedly += 1
            fig.problem("failed", f"a call after close raised {_exc_name(exc)}")
    if closed_in > 5:
        fig.problem("slow close", f"aclose() took {closed_in:.1f} s")
        fig.failed_unexpectedly += 1
    if late:
        fig.policy_broken += len(late)
        fig.problem("policy", f"{len(late)} attempt(s) went on the wire after aclose() began")
    out = []
    for spec, task in zip(specs, tasks):
        result = (task.result() if task.done() and not task.cancelled()
                  else CallResult(spec, hung=True))
        _check_now(result, refs)
        out.append((result, close_started))
    return out


async def scenario_close(sizes: Sizes, seed: int, refs: References) -> Figures:
    """(e) Close under load: ``aclose()`` with calls in flight or waiting to retry, then
    ``close()`` of a ``SyncOllamaClient`` from the main thread while 16 threads are in
    calls. Every call must end promptly (a right answer, or ``ClientClosedError``),
    nothing may go on the wire once ``aclose()`` has begun, and nothing may be left."""
    fig = Figures("(e) close under load")
    started = time.monotonic()
    rng = random.Random(seed + 4)
    per_round = sizes.close_calls
    plan = _close_plan(sizes.close_rounds * 2 * per_round, rng)
    with tempfile.TemporaryDirectory() as tmp, \
            ServerProcess.planned(_write_plan(plan, Path(tmp))) as server:
        fig.rss_before = rss_kib()
        threads_before = set(thread_names())
        ended: list[tuple[CallResult, float]] = []
        for n in range(sizes.close_rounds):
            if time.monotonic() > started + sizes.close_cap:
                fig.not_run += per_round * 2 * (sizes.close_rounds - n)
                break
            ended += await _close_round_async(server, fig, seed, per_round, refs,
                                              2 * n * per_round, rng)
            ended += await asyncio.to_thread(_close_round_sync, server, fig, seed, per_round,
                                             refs, (2 * n + 1) * per_round, rng)
        gc.collect()
        fig.rss_after = rss_kib()  # before the run's own bookkeeping is read in
        exhausted = _exhausted_on_429(server, plan)
        for result, close_started in ended:
            _judge_closed(fig, result, refs, close_started, 10, exhausted)
        fig.tasks_left = await _settle_tasks()
        fig.sockets_left = await _settle_sockets([server.port])
        settle = time.monotonic() + 2.0
        while True:
            left = sorted(set(thread_names()) - threads_before
                          - {t for t in thread_names() if t.startswith("asyncio_")})
            if not left or time.monotonic() >= settle:
                break
            await asyncio.sleep(0.02)
        fig.threads_left = len(left)
        for name in left:
            fig.problem("thread left", name)
        fig.faults = len(server.recorded())
    fig.notes.append(f"{sizes.close_rounds} rounds of {per_round} async calls closed by "
                     f"aclose() and {per_round} calls from {sizes.threads} threads closed "
                     "by close(); every request met a 429 or a 0.4 s stall; retry budget off")
    fig.seconds = time.monotonic() - started
    return fig


def _close_round_sync(server: ServerProcess, fig: Figures, seed: int, calls: int,
                      refs: References, base: int, rng: random.Random,
                      ) -> list[tuple[CallResult, float]]:
    specs = [CallSpec(rng.choice(_CLOSE_OPS), base + i, prompt=rng.randrange(len(PROMPTS)))
             for i in range(calls)]
    results: list[CallResult] = []
    lock = threading.Lock()
    queue = iter(specs)
    client = oc.SyncOllamaClient(server.url, timeout=5.0, plugins=["full"],
                                 plugin_config=_stack_config(seed, budget=False))

    def worker() -> None:
        while True:
            with lock:
                spec = next(queue, None)
            if spec is None:
                return
            result = run_call_sync(client, spec)
            _check_now(result, refs)
            with lock:
                results.append(result)

    workers = [threading.Thread(target=worker, name=f"chaos-close-{i}")
               for i in range(16)]
    for t in workers:
        t.start()
    time.sleep(rng.uniform(0.1, 0.6))
    close_started = time.monotonic()
    client.close()
    closed_in = time.monotonic() - close_started
    for t in workers:
        t.join(10)
    stuck = sum(1 for t in workers if t.is_alive())
    if closed_in > 5:
        fig.failed_unexpectedly += 1
        fig.problem("slow close", f"close() took {closed_in:.1f} s")
    if stuck:
        fig.failed_unexpectedly += stuck
        fig.problem("hung", f"{stuck} thread(s) still in a call 10 s after close()")
    with lock:
        done = list(results)
    fig.calls += len(specs) - len(done)  # the calls stuck threads are in (counted above)
    return [(result, close_started) for result in done]
