"""Chaos and soak run: ``make chaos`` (``.venv/bin/python bench/chaos.py``).

Drives the client through five bounded scenarios against emulators in their own
processes on loopback, and prints what it counted:

(a) 10 000 calls through ``plugins="full"`` with injected faults (503 and 429 with
    ``Retry-After``, 502, 500, resets before and during the answer, stalls shorter than
    the timeout, slow chunks, blank lines, split writes, bodies cut short, malformed and
    ``{"error"}`` lines), at concurrency 32;
(b) 2 000 streams cancelled at seeded random points, five ways, at concurrency 32;
(c) failover over three servers at concurrency 32: the primary SIGKILLed a third of the
    way through 3 000 calls, the server that took over SIGSTOPped half way;
(d) 2 000 calls of the (a) workload and fault plan from 16 threads on one
    ``SyncOllamaClient``;
(e) close under load: ``aclose()`` with 48 calls in flight or waiting to retry, and
    ``close()`` of a ``SyncOllamaClient`` while 16 threads are in calls, 20 rounds each.

Every call carries a marker the server records, so each call's attempts, and the fault
each one met, are known; the verdict follows the documented policy (see
``bench/_chaos_faults.py``). Counted per scenario: calls, faults injected, answers that
are right, failures the plan allows, *failed unexpectedly*, *policy broken* (a call
retried or moved where the policy forbids it), *sent twice* (a non-idempotent call that
reached a server again after it may have acted, or a cancelled stream sent again), *wrong
answers* (including an answer accepted from a broken response), and after the client is
closed: sockets still open to the servers, asyncio tasks and threads left, connections,
limiter slots or breaker probes still held; RSS before and after. Each scenario has a
time cap; calls the cap kept from running are counted too.

Exit status 0 only when every one of those counts is zero. ``--quick`` runs a small
fraction of each scenario in seconds (``tests/hardening/test_chaos_quick.py`` calls
:func:`run_chaos` the same way). See RELIABILITY.md for a recorded run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _chaos_calls import References, ServerProcess, rss_kib  # noqa: E402
from _chaos_scenarios import (  # noqa: E402
    Figures,
    Sizes,
    scenario_cancel,
    scenario_close,
    scenario_failover,
    scenario_faults,
    scenario_threads,
)

__all__ = ["FULL", "QUICK", "SCENARIOS", "main", "run_chaos"]

FULL = Sizes()
QUICK = Sizes(fault_calls=400, fault_cap=60, cancel_streams=150, cancel_cap=60,
              failover_calls=300, failover_cap=60, thread_calls=200, threads=16,
              thread_cap=60, close_rounds=2, close_cap=60)
SCENARIOS = ("a", "b", "c", "d", "e")

_COLUMNS = (
    ("calls", "calls"), ("faults", "faults"), ("ok", "ok"),
    ("planned", "failed_as_planned"), ("UNEXP", "failed_unexpectedly"),
    ("policy", "policy_broken"), ("twice", "sent_twice"), ("wrong", "wrong_answers"),
    ("sockets", "sockets_left"), ("tasks", "tasks_left"), ("threads", "threads_left"),
    ("held", "held"), ("not run", "not_run"),
)
_LEGEND = """\
columns: ok = right answer; planned = failed as the fault plan allows;
  UNEXP = failed unexpectedly; policy = retried or moved against the policy;
  twice = sent twice; wrong = wrong answer; sockets, tasks, threads = left after close;
  held = connections, limiter slots or breaker probes held after the calls;
  not run = kept from running by the time cap"""


def run_chaos(sizes: Sizes = FULL, scenarios: Sequence[str] = SCENARIOS, seed: int = 8,
              out: Any = None) -> list[Figures]:
    """Run the chosen scenarios in order; print as they finish (to ``out``, if given)."""
    def say(line: str = "") -> None:
        if out is not None:
            print(line, file=out, flush=True)

    figures: list[Figures] = []
    with ServerProcess.emulator() as reference:
        refs = References(reference)
        refs.prefetch()
        for key in scenarios:
            started = time.monotonic()
            try:
                if key == "d":
                    fig = scenario_threads(sizes, seed, refs)
                else:
                    run = {"a": scenario_faults, "b": scenario_cancel, "c": scenario_failover,
                           "e": scenario_close}[key]
                    fig = asyncio.run(run(sizes, seed, refs))
            except Exception as exc:  # a scenario that cannot run is a failed run, not a crash
                fig = Figures(f"({key}) did not run", failed_unexpectedly=1,
                              seconds=time.monotonic() - started)
                fig.problem("scenario raised", "".join(
                    traceback.format_exception_only(exc)).strip()[:300])
            figures.append(fig)
            for line in render([fig], header=not figures[:-1]):
                say(line)
    return figures


def render(figures: Sequence[Figures], header: bool = True) -> list[str]:
    lines: list[str] = []
    if header:
        lines.append(f"{'scenario':<27}" + "".join(f"{title:>8}" for title, _ in _COLUMNS)
                     + f"{'RSS KiB before->after':>23}{'s':>5}")
        lines.append("-" * len(lines[-1]))
    for fig in figures:
        lines.append(f"{fig.name:<27}" + "".join(f"{getattr(fig, attr):>8,}"
                                                 for _, attr in _COLUMNS)
                     + f"{fig.rss_before:>12,}->{fig.rss_after:<9,}{fig.seconds:>5.0f}")
        for note in fig.notes:
            lines.append(f"    {note}")
        if fig.events:
            lines.append("    events: " + ", ".join(f"{k} {v}" for k, v in sorted(
                fig.events.items())))
        for problem, count in fig.problems.most_common(12):
            lines.append(f"    ! {count} x {problem}")
        if len(fig.problems) > 12:
            lines.append(f"    ! ... {len(fig.problems) - 12} more kinds")
    return lines


def _tree_state() -> str:
    """The commit under test, and how many files differ from it (read-only git)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, text=True,
                              capture_output=True, timeout=10).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain"], cwd=root, text=True,
                                 capture_output=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not head:
        return "unknown (not a git checkout)"
    return f"{head}" + (f" + {len(changed)} changed file(s)" if changed else " (clean)")


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for dist in ("aiohttp", "pluggy", "pybreaker"):
        try:
            out.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/chaos.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small fraction of each scenario")
    parser.add_argument("--scenario", default=",".join(SCENARIOS),
                        help="comma-separated subset of a,b,c,d,e (default: all)")
    parser.add_argument("--seed", type=int, default=8, help="seed of every random choice")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every call count (e.g. 0.1 for a shorter run)")
    parser.add_argument("--json", metavar="FILE", help="write every figure to FILE")
    args = parser.parse_args(argv)
    chosen = [s.strip().lower() for s in args.scenario.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown or not chosen:
        parser.error(f"unknown scenario(s) {unknown}; choose from {','.join(SCENARIOS)}")
    args.scenarios = [s for s in SCENARIOS if s in chosen]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.scale != 1.0:
        sizes = replace(sizes, **{name: max(1, int(getattr(sizes, name) * args.scale))
                                  for name in ("fault_calls", "cancel_streams",
                                               "failover_calls", "thread_calls")})
    started = time.monotonic()
    rss_start = rss_kib()
    print(f"ollama-core chaos run{' (quick)' if args.quick else ''}: scenarios "
          f"{','.join(args.scenarios)}, seed {args.seed}")
    print(f"machine: nproc {os.cpu_count()}, Python {platform.python_version()}, "
          f"{_versions()}, {platform.platform()}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"tree: {_tree_state()}")
    print(_LEGEND)
    print(flush=True)
    figures = run_chaos(sizes, args.scenarios, args.seed, out=sys.stdout)
    bad = sum(fig.bad for fig in figures)
    total = time.monotonic() - started
    print()
    print(f"total: {sum(f.calls for f in figures):,} calls, {sum(f.faults for f in figures):,} "
          f"faults injected, {sum(f.failed_unexpectedly for f in figures)} failed unexpectedly, "
          f"{sum(f.sent_twice for f in figures)} sent twice, "
          f"{sum(f.wrong_answers for f in figures)} wrong answers, "
          f"{sum(f.sockets_left for f in figures)} sockets and "
          f"{sum(f.tasks_left + f.threads_left for f in figures)} tasks/threads left; "
          f"RSS {rss_start:,} -> {rss_kib():,} KiB; {total:.0f} s")
    print("RESULT: " + ("clean" if not bad else f"{bad} problem(s), see the lines marked !"))
    if args.json:
        payload = {"seed": args.seed, "quick": args.quick, "sizes": asdict(sizes),
                   "seconds": total, "python": platform.python_version(),
                   "nproc": os.cpu_count(),
                   "scenarios": [{**{k: v for k, v in asdict(f).items() if k != "problems"},
                                  "problems": dict(f.problems)} for f in figures]}
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
