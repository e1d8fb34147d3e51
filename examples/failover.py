"""Failover: several Ollama servers, calls move away from the ones that fail.

Three emulators play a primary and two backups (``policy="priority"``: always the first
available one). The script then:

1. sends a few calls: all go to the primary;
2. stops the primary: each call fails over to the first backup (a ``failover`` event),
   and the primary sits out its ``cooldown``;
3. breaks the first backup too (500s): calls land on the second backup;
4. restarts the primary and repairs the backup: after the cooldown traffic returns to
   the primary;
5. stops everything: ``AllEndpointsFailedError`` lists each server's failure.

With ``--host URL`` (or ``OLLAMA_HOST``) your real server is the *last* backup.

    python examples/failover.py [--host URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from ollama_core import AllEndpointsFailedError, Event, OllamaClient, hookimpl
from ollama_core.emulator import OllamaEmulator

COOLDOWN = 0.4


class EventPrinter:
    """A tiny plugin: print every failover as it happens."""

    name = "event_printer"

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.names: dict[str, str] = {}  # URL -> a readable name

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        if event.name == "failover":
            cause = str(event["cause"]).split(":")[0]
            source = self.names.get(str(event["from"]).rstrip("/"), event["from"])
            target = self.names.get(str(event["to"]).rstrip("/"), event["to"] or "nowhere")
            print(f"   {time.perf_counter() - self.started:6.3f}s  failover event: "
                  f"{source} -> {target} ({cause})")


async def main(real_backup: str | None) -> None:
    async with OllamaEmulator() as primary, OllamaEmulator() as backup, \
            OllamaEmulator() as second_backup:
        names = {primary.url: "primary", backup.url: "backup", second_backup.url: "backup 2"}
        endpoints = [primary.url, backup.url, second_backup.url]
        if real_backup:
            endpoints.append(real_backup)
        config = {"failover": {"endpoints": endpoints, "policy": "priority",
                               "cooldown": COOLDOWN}}
        printer = EventPrinter()
        printer.names = names
        async with OllamaClient(primary.url, plugins=["failover", printer],
                                plugin_config=config) as client:
            failover = client.plugin("failover")

            servers = {"primary": primary, "backup": backup, "backup 2": second_backup}

            def name_of(url: str) -> str:
                return names.get(url.rstrip("/"), "real server")

            async def calls(label: str, count: int = 3) -> None:
                before = {name: e.hits("/api/tags") for name, e in servers.items()}
                for _ in range(count):
                    await client.list_models()
                served = {name: e.hits("/api/tags") - before[name]
                          for name, e in servers.items()}
                served = {name: n for name, n in served.items() if n}
                print(f"{label}: requests received {served}; next call goes to "
                      f"{name_of(failover.active().display)}")

            await calls("1. all healthy")

            await primary.stop()
            await calls("2. primary down")

            backup.faults.add(path="/api/tags", status=500, times=None)
            await calls("3. backup answering 500")

            await primary.start()
            backup.faults.clear()
            await asyncio.sleep(COOLDOWN + 0.05)
            await calls("4. primary back after the cooldown")

            if not real_backup:
                for emulator in (primary, backup, second_backup):
                    await emulator.stop()
                try:
                    await client.list_models()
                except AllEndpointsFailedError as exc:
                    print(f"5. everything down: AllEndpointsFailedError with "
                          f"{len(exc.failures)} failures:")
                    for url, error in exc.failures.items():
                        print(f"   {name_of(url)}: {type(error).__name__}")

            print(f"\n{failover.failovers} failovers; per endpoint:")
            for url, stats in failover.stats().items():
                print(f"   {name_of(url):<11} requests={stats['requests']} "
                      f"failures={stats['failures']} available={stats['available']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server to use as the last backup")
    args = parser.parse_args()
    asyncio.run(main(args.host))
