"""Health checks: probe every server in the background, route around the sick ones.

Two emulators behind ``failover``, probed every 0.1 s by ``health_checks``. The primary's
health endpoint (``GET /``) starts failing: after ``unhealthy_threshold`` failed probes it
is declared unhealthy (an ``upstream_health`` event) and failover sends calls to the
backup *before* any user call has to fail. Once the probes pass again
(``healthy_threshold``), traffic returns to the primary. ``report()`` summarises the
probes per server, and ``check_now()`` runs a round on demand (what ``ollama-core health``
does).

Fault injection needs the emulator, so this example always runs against emulators.

    python examples/health_checks.py
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from ollama_core import Event, OllamaClient, hookimpl
from ollama_core.emulator import OllamaEmulator


class EventPrinter:
    """A tiny plugin: print every health verdict change as it happens."""

    name = "event_printer"

    def __init__(self, names: dict[str, str]) -> None:
        self.started = time.perf_counter()
        self.names = names

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        if event.name == "upstream_health":
            who = self.names.get(str(event["upstream"]).rstrip("/"), event["upstream"])
            verdict = "healthy" if event["healthy"] else f"UNHEALTHY ({event['error']})"
            print(f"   {time.perf_counter() - self.started:6.3f}s  {who} is {verdict}")


async def wait_for(condition: str, check: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll ``check`` until it holds (the probes run in the background)."""
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"waited {timeout}s for {condition}")
        await asyncio.sleep(0.02)


async def main() -> None:
    async with OllamaEmulator() as primary, OllamaEmulator() as backup:
        names = {primary.url: "primary", backup.url: "backup"}
        config: dict[str, dict[str, Any]] = {
            "failover": {"endpoints": [primary.url, backup.url], "cooldown": 5},
            "health_checks": {"interval": 0.1, "timeout": 0.5, "unhealthy_threshold": 2,
                              "healthy_threshold": 2},
        }
        async with OllamaClient(primary.url, plugins=["failover", "health_checks",
                                                      EventPrinter(names)],
                                plugin_config=config) as client:
            health = client.plugin("health_checks")

            def status(name: str) -> str:
                url = primary.url if name == "primary" else backup.url
                return str(health.report()[url]["status"])

            def served() -> str:
                p, b = primary.hits("/api/tags"), backup.hits("/api/tags")
                return f"primary {p}, backup {b}"

            print("probing both servers...")
            await wait_for("both healthy",
                           lambda: status("primary") == status("backup") == "healthy")
            await client.list_models()
            print(f"a call: list_models requests so far: {served()}")

            print("the primary's health endpoint starts failing (503)")
            primary.faults.add(path="/", status=503, times=None)
            await wait_for("primary unhealthy", lambda: status("primary") == "unhealthy")
            for _ in range(3):
                await client.list_models()
            print(f"3 calls, no call failed: list_models requests so far: {served()}")

            print("the primary recovers")
            primary.faults.clear()
            await wait_for("primary healthy", lambda: status("primary") == "healthy")
            await client.list_models()
            print(f"a call: list_models requests so far: {served()}")

            print("\nreport after one more round on demand (check_now):")
            for url, entry in (await health.check_now()).items():
                print(f"   {names.get(url.rstrip('/'), url):<8} {entry['status']:<9} "
                      f"checks={entry['checks']} failed={entry['failed_checks']} "
                      f"latency={(entry['latency'] or 0) * 1000:.1f}ms")


if __name__ == "__main__":
    asyncio.run(main())
