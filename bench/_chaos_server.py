"""The emulator with a fault plan fixed in advance, in its own process (for ``make chaos``).

``python bench/_chaos_server.py --plan PLAN.json`` serves the Ollama emulator on a free
loopback port and prints ``Ollama emulator listening on URL`` like
``python -m ollama_core.emulator --port 0``. ``PLAN.json`` maps an API path to a list with
one entry per request that will arrive on that path, in arrival order: ``null`` (answer
normally) or the fields of an emulator ``FaultRule`` (``{"status": 503, "retry_after":
0.05}``, ``{"reset_after": 2}``...). Requests past the end of a list are answered
normally.

Why not arm the same rules over the control API: an armed ``FaultSet`` is scanned in
order for every request, so ten thousand armed rules cost the server milliseconds per
request; here each path has its own queue and a request takes its rule in O(1). The
emulator records every request before it takes its rule, in the same step, so the n-th
recorded request on a path is the one that got the n-th entry of the plan: the chaos
runner reads ``GET /_emulator/requests`` afterwards to know which fault each attempt of
each call met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ollama_core.emulator import FaultRule, FaultSet, OllamaEmulator


class PlannedFaults(FaultSet):
    """One queue of rules per path, consumed in arrival order."""

    def __init__(self, plan: Mapping[str, Sequence[Mapping[str, Any] | None]]) -> None:
        super().__init__()
        self._plan_lock = threading.Lock()
        self._queues: dict[str, deque[FaultRule | None]] = {
            path: deque(None if item is None else FaultRule.from_dict({**item, "path": path})
                        for item in items)
            for path, items in plan.items()
        }

    def take(self, method: str, path: str) -> FaultRule | None:
        with self._plan_lock:
            queue = self._queues.get(path)
            if queue:
                return queue.popleft()
        return super().take(method, path)


async def _serve(plan: Mapping[str, Sequence[Mapping[str, Any] | None]]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    emulator = OllamaEmulator("127.0.0.1", 0)
    emulator.state.faults = PlannedFaults(plan)
    async with emulator:
        print(f"Ollama emulator listening on {emulator.url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/_chaos_server.py")
    parser.add_argument("--plan", type=Path, help="the fault plan (JSON); none: no faults")
    args = parser.parse_args(argv)
    plan = json.loads(args.plan.read_text()) if args.plan else {}
    asyncio.run(_serve(plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
