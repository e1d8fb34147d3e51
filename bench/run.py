"""Benchmark: plain aiohttp vs the official client vs OllamaClient (bare and with plugins).

``make bench`` runs ``.venv/bin/python bench/run.py``. The Ollama emulator is started in
its own process on loopback (``python -m ollama_core.emulator --port 0``) and the same
work is driven through four clients in this one process:

1. plain aiohttp + ``json.loads`` (the floor), 2. the official ``ollama.AsyncClient``,
3. ``OllamaClient(plugins=[])``, 4. ``OllamaClient`` with retry, circuit breaker, rate
limiting, failover and health checks.

Options: ``--quick`` (small sizes, a few seconds; the smoke test), ``--scenario a,b``
(a subset of a-e), ``--json FILE`` (write every figure). See BENCHMARKS.md for the method.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _clients import LABELS, RELIABILITY_PLUGINS, reliability_stack  # noqa: E402
from _report import HEADER, render_scenario, render_targets  # noqa: E402
from _scenarios import FULL, QUICK, SCENARIOS, Context, Sizes, construction_figure  # noqa: E402
from _server import EmulatorProcess  # noqa: E402


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for dist in ("aiohttp", "httpx", "ollama", "pydantic", "marshmallow", "pluggy",
                 "msgspec", "ollama-core"):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _json_library() -> str:
    import ollama_core

    # A version of the client from before the fast codec (a "before" measurement) has no
    # _json module of its own.
    if not (Path(ollama_core.__file__).parent / "_json.py").exists():
        return "standard library"
    from ollama_core import _json

    return _json.FAST or "standard library"


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


#: The CPU the emulator was pinned to (scenario (a)'s replay server goes there too).
_SERVER_CPU: list[int] = []


def _pin(emulator_pid: int, disabled: bool) -> str:
    """Clients on the first CPU, the emulator on the last one (Linux, 2+ CPUs).

    Left to the scheduler, the two processes sometimes share one core and sometimes not,
    which makes a streaming figure jump between two levels (about 1.4x apart on the 2-core
    VM) from one repetition to the next. Pinned, the client and the server always run side
    by side, as a client and a local Ollama would.
    """
    if disabled:
        return "off (--no-pin)"
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or not hasattr(os, "sched_setaffinity"):
        return "not possible here (needs Linux and 2+ CPUs)"
    try:
        os.sched_setaffinity(emulator_pid, {cpus[-1]})
        os.sched_setaffinity(0, {cpus[0]})
    except OSError as exc:
        return f"failed ({exc})"
    _SERVER_CPU.append(cpus[-1])
    return f"clients (this process and its children) on CPU {cpus[0]}, emulator on CPU {cpus[-1]}"


def _reps(key: str, sizes: Sizes) -> str:
    return {
        "a": f"best of {sizes.chat_reps} after {sizes.chat_warmup} warm-up calls",
        "b": f"best of {sizes.stream_reps} after a {sizes.stream_warmup}-chunk warm-up",
        "c": f"best of {sizes.many_reps} after a warm-up",
        "d": (f"parse: best of {sizes.parse_repeat}x{sizes.parse_number}; "
              f"call: {sizes.embed_calls} per client"),
        "e": f"best of {sizes.hook_reps} after a warm-up",
        "f": "every refusal timed",
        "g": f"median of {sizes.startup_runs} runs after one untimed",
    }[key]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and one repetition (a few seconds; for the smoke test)")
    parser.add_argument("--scenario", default="a,b,c,d,e,f,g",
                        help="comma-separated subset of a,b,c,d,e,f,g (default: all)")
    parser.add_argument("--json", metavar="FILE", help="write all results to FILE as JSON")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the clients and the emulator to different CPUs")
    args = parser.parse_args(argv)
    chosen = [s.strip().lower() for s in args.scenario.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SCENARIOS]
    if unknown or not chosen:
        parser.error(f"unknown scenario(s) {unknown}; choose from {','.join(SCENARIOS)}")
    args.scenarios = [s for s in SCENARIOS if s in chosen]
    return args


async def run(args: argparse.Namespace, emulator: EmulatorProcess) -> dict[str, Any]:
    sizes = QUICK if args.quick else FULL
    names, config, missing = reliability_stack(emulator.url)
    ctx = Context(emulator, sizes, (names, config), missing,
                  _SERVER_CPU[0] if _SERVER_CPU else None)
    stack_text = ", ".join(names) or "none"
    if missing:
        stack_text += "; PENDING (not loadable yet): " + "; ".join(
            f"{k} ({v})" for k, v in missing.items())
    print(f"client 4 plugins: {stack_text}")
    print(f"client 4 settings: {json.dumps(config)}")
    construction = construction_figure()
    print(f"client construction with every built-in plugin: {construction['later_ms']:.2f} ms "
          f"(the first in a process: {construction['first_ms']:.1f} ms)")
    print("", flush=True)
    results: dict[str, Any] = {}
    for key in args.scenarios:
        started = time.perf_counter()
        result = await SCENARIOS[key](ctx)
        result["seconds"] = time.perf_counter() - started
        results[key] = result
        for line in render_scenario(key, result, _reps(key, sizes)):
            print(line)
        print(f"  [{result['seconds']:.0f} s; load average now {_load()}]\n", flush=True)
    return {"client4_plugins": names, "client4_config": config, "client4_missing": missing,
            "construction": construction, "scenarios": results}


def _raise_file_limit() -> str:
    """Scenario (c) holds 10 000 streams open: one socket each in this process (and in the
    emulator, which inherits the limit). Raise the soft limit to the hard one."""
    try:
        import resource
    except ImportError:
        return "unchanged (no resource module)"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            return f"{soft} (raising it failed: {exc})"
        return f"{hard} (raised from {soft})"
    return str(soft)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    files = _raise_file_limit()
    versions = _versions()
    started = time.perf_counter()
    print(f"{HEADER}{' (quick)' if args.quick else ''}: scenarios {','.join(args.scenarios)}")
    print(f"machine: nproc {os.cpu_count()}, {_cpu_model()}, Python {versions['python']}, "
          f"aiohttp {versions['aiohttp']}, httpx {versions['httpx']}, ollama "
          f"{versions['ollama']}, JSON {_json_library()}; load average at start {_load()}")
    print(f"open file limit: {files}")
    with EmulatorProcess() as emulator:
        print(f"emulator: own process (pid {emulator.pid}) at {emulator.url}; it shares the "
              f"{os.cpu_count()} cores, so server time is part of every wall-clock figure")
        print(f"cpu pinning: {_pin(emulator.pid, args.no_pin)}")
        print("clients: " + "; ".join(LABELS.values()))
        out = asyncio.run(run(args, emulator))
    for line in render_targets(out["scenarios"]):
        print(line)
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s")
    if args.json:
        payload = {
            "quick": args.quick,
            "machine": {"nproc": os.cpu_count(), "cpu": _cpu_model(), "load_at_end": _load(),
                        "platform": platform.platform()},
            "versions": versions,
            "client4_plugins_wanted": list(RELIABILITY_PLUGINS),
            "seconds": total,
            **out,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
