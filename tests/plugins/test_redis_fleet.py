"""A fleet of real OS processes (``bench/_fleet.py`` workers, one client each) sharing one
emulator and one redis-server on loopback.

Redis keeps real time, so a few waits here are real: an open period or a lease TTL of
a second runs out in Redis, not on a clock the test could advance. They are kept short,
and nothing is asserted about how long anything took."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from ollama_core.emulator import OllamaEmulator
from ollama_plugins._redis._link import RETRY_INTERVAL
from ollama_plugins._redis.server import RedisServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench._fleet import Fleet  # noqa: E402
from bench.fleet import shared_limit  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def spec(url: str, plugins: list[str], **config: dict[str, Any]) -> dict[str, Any]:
    return {"url": url, "plugins": plugins, "plugin_config": config}


async def test_four_processes_admit_the_one_shared_rate(
        emulator: OllamaEmulator, redis_server: RedisServer) -> None:
    # The benchmark's own measurement (bench/fleet.py), shorter: four processes with
    # rate=R, burst=1 on one Redis bucket, calling as fast as admitted.
    rate, seconds = 25.0, 2.0
    figures = await shared_limit(emulator.url, redis_server.url, rate, seconds,
                                 stores=("redis",))
    shared = figures["redis"]
    # In-process limiters would admit about 4R (BENCHMARKS.md); one shared bucket admits
    # R (+1, its burst). Loose bounds: the four windows start a few milliseconds apart.
    assert 0.85 * rate * seconds <= shared["admitted"] <= 1.1 * rate * seconds + 1, shared
    assert len(shared["per_process"]) == 4 and all(n > 0 for n in shared["per_process"])


async def test_an_open_breaker_stops_the_fleet_and_one_probe_crosses_it(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    open_for = 1.0
    breaker = {"fail_max": 1, "reset_timeout": open_for, "store": redis_server.url,
               "store_prefix": store_prefix}
    async with Fleet() as fleet:
        first, *others = await fleet.start_many(
            [spec(emulator.url, ["circuit_breaker"], circuit_breaker=breaker)
             for _ in range(4)])
        for worker in others:  # each has seen the breaker closed
            assert (await worker.ask("call"))["ok"]
        emulator.faults.add(path="/api/version", status=500, times=1)
        assert (await first.ask("call"))["error"] == "ServerError"
        await first.ask("flush")
        before = emulator.hits("/api/version")
        refused = await asyncio.gather(*(w.ask("call") for w in others))
        assert [r["error"] for r in refused] == ["CircuitOpenError"] * 3
        assert emulator.hits("/api/version") == before  # nothing reached the upstream
        # Half-open once the open period is over in Redis: the three ask at once and
        # exactly one probe goes (held at the server so the others see it out).
        await asyncio.sleep(open_for)
        emulator.faults.add(path="/api/version", headers_delay=1.5, times=1)
        probing = await asyncio.gather(*(w.ask("call") for w in others))
        assert sorted(str(r.get("error")) for r in probing) == \
            ["CircuitOpenError", "CircuitOpenError", "None"]
        assert [r["retry_after"] for r in probing if "error" in r] == [0.0, 0.0]
        assert emulator.hits("/api/version") == before + 1
        # The probe succeeded: closed for everyone.
        await asyncio.gather(*(w.ask("flush") for w in others))
        assert all(r["ok"] for r in await asyncio.gather(*(w.ask("call") for w in others)))
        assert (await first.ask("call"))["ok"]


async def test_the_slots_of_a_sigkilled_process_come_back_within_the_lease_ttl(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    ttl = 2.0
    limits = {"rate": None, "max_concurrent": 2, "store": redis_server.url,
              "store_prefix": store_prefix, "store_lease_ttl": ttl}
    async with Fleet() as fleet:
        holder = await fleet.start(spec(emulator.url, ["rate_limiting"], rate_limiting=limits))
        waiter = await fleet.start(spec(emulator.url, ["rate_limiting"], rate_limiting={
            **limits, "endpoints": {"chat": {"max_wait": 0}}}))
        assert (await holder.ask("hold", n=2))["held"] == 2
        # The holder renews its leases (every ttl / 3): still taken after a whole ttl.
        await asyncio.sleep(ttl)
        assert (await waiter.ask("call", endpoint="chat"))["error"] == "RateLimitExceededError"
        holder.kill()
        async with aioredis.Redis.from_url(redis_server.url) as r:
            slots = [k async for k in r.scan_iter(f"{store_prefix}:rl:*:slots")]
            assert len(slots) == 1 and await r.zcard(slots[0]) == 2
        # Dead, it renews nothing: a call that may wait several TTLs gets a slot.
        patient = await fleet.start(spec(emulator.url, ["rate_limiting"], rate_limiting={
            **limits, "max_wait": 5 * ttl}))
        assert (await patient.ask("call", endpoint="chat"))["ok"]


async def test_an_answer_cached_by_one_process_is_a_hit_in_another(
        emulator: OllamaEmulator, redis_server: RedisServer, store_prefix: str) -> None:
    cache = {"store": redis_server.url, "store_prefix": store_prefix}
    async with Fleet() as fleet:
        a, b = await fleet.start_many(
            [spec(emulator.url, ["request_caching"], request_caching=cache) for _ in range(2)])
        assert (await a.ask("call", endpoint="embed")) == {"ok": True, "from_cache": False}
        await a.ask("flush")
        assert (await b.ask("call", endpoint="embed")) == {"ok": True, "from_cache": True}
    assert emulator.hits("/api/embed") == 1


async def test_redis_killed_mid_run_calls_go_on_and_sharing_resumes(
        emulator: OllamaEmulator, own_redis_server: RedisServer, store_prefix: str) -> None:
    server = own_redis_server
    limits = {"rate": 1000, "store": server.url, "store_prefix": store_prefix,
              "store_timeout": 0.5}
    async with Fleet() as fleet:
        a, b = await fleet.start_many(
            [spec(emulator.url, ["rate_limiting"], rate_limiting=limits) for _ in range(2)])
        assert (await a.ask("call"))["ok"] and (await b.ask("call"))["ok"]
        server.kill()
        for worker in (a, b):
            assert (await worker.ask("call"))["ok"]  # fail-open
            assert (await worker.ask("call"))["ok"]
        server.start()  # empty, as a crashed Redis without persistence comes back
        await asyncio.sleep(RETRY_INTERVAL)  # the workers' links try Redis again after it
        for worker in (a, b):
            assert (await worker.ask("call"))["ok"]
            names = [name for name, _ in (await worker.ask("events"))["events"]]
            assert names == ["store_degraded", "store_recovered"]
        async with aioredis.Redis.from_url(server.url) as r:
            tat = [k async for k in r.scan_iter(f"{store_prefix}:rl:*:tat")]
        assert len(tat) == 1  # the shared bucket is back in Redis


@pytest.mark.timeout(180)
def test_the_fleet_demo_shows_one_limit_and_one_verdict() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, str(root / "examples" / "fleet" / "demo.py")],
                          cwd=root, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = proc.stdout
    together = re.search(r"together: (\d+) calls", out)
    assert together is not None and 14 <= int(together.group(1)) <= 20, out
    assert out.count("CircuitOpenError") == 2
    assert "requests that reached the server meanwhile: 0" in out
    assert "redis-server and the emulator stopped" in out
