"""A fleet of client processes, driven over pipes: for ``bench/fleet.py``, the fleet tests
(``tests/plugins/test_redis_fleet.py``) and ``examples/fleet_demo.py``.

Each worker is a separate OS process (``python bench/_fleet.py '<spec JSON>'``) holding one
``OllamaClient`` built from the spec (``url``, ``plugins``, ``plugin_config``). It prints
``{"ready": pid}``, then answers one JSON line per command line it reads on stdin:

``{"op": "call", "endpoint": "version"|"embed"|"chat"}``
    One call: ``{"ok": true, "from_cache": ...}`` or ``{"error": "<class>", "message":
    ..., "retry_after": ...}``.
``{"op": "calls_for", "seconds": S, "endpoint": ...}``
    Calls one after another for ``S`` seconds: ``{"admitted": n, "refused": n}``.
``{"op": "timed", "n": N, "endpoint": ...}``
    ``N`` calls one after another: ``{"us_per_call": ..., "round_trips": ...}`` (Redis
    round trips of the shared stores during the run).
``{"op": "hold", "n": N}``
    Start ``N`` chat streams, read one chunk of each and keep them open (their limiter
    slots stay taken): ``{"held": N}``.
``{"op": "flush"}``
    Wait until the shared stores sent their background writes: ``{"flushed": true}``.
``{"op": "events"}``
    The events seen so far (``[[name, data], ...]``) under ``"events"``.
``{"op": "quit"}``
    Close the client and exit.

The parent side is :class:`Fleet` (asyncio subprocesses).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EMBED_MODEL = "all-minilm:latest"
CHAT_MODEL = "llama3.2:latest"


# -- the worker ------------------------------------------------------------------------------


def _cache_hits(client: Any) -> int:
    try:
        return int(client.plugin("request_caching").hits)
    except Exception:  # noqa: BLE001 - the plugin is not enabled
        return 0


async def _one(client: Any, endpoint: str) -> dict[str, Any]:
    from ollama_core import OllamaError

    hits = _cache_hits(client)
    try:
        if endpoint == "version":
            await client.version()
        elif endpoint == "embed":
            await client.embed(model=EMBED_MODEL, input="the same text")
        else:
            await client.chat(model=CHAT_MODEL, messages=[{"role": "user", "content": "hi"}])
        return {"ok": True, "from_cache": _cache_hits(client) > hits}
    except OllamaError as exc:
        return {"error": type(exc).__name__, "message": str(exc),
                "retry_after": getattr(exc, "retry_after", None)}


def _round_trips(client: Any) -> int:
    total = 0
    for name in ("rate_limiting", "circuit_breaker", "request_caching"):
        with contextlib.suppress(Exception):
            link = getattr(client.plugin(name).store, "link", None)
            if link is not None:
                total += link.round_trips
    return total


async def _worker(spec: dict[str, Any]) -> None:
    from ollama_core import OllamaClient

    client = OllamaClient(spec["url"], plugins=spec["plugins"],
                          plugin_config=spec.get("plugin_config", {}))
    events: list[list[Any]] = []
    client.on_event(lambda event: events.append([event.name, dict(event.data)]))
    held: list[Any] = []
    loop = asyncio.get_running_loop()
    out = sys.stdout

    def reply(data: dict[str, Any]) -> None:
        out.write(json.dumps(data) + "\n")
        out.flush()

    async with client:
        reply({"ready": os.getpid()})
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            cmd = json.loads(line)
            op = cmd["op"]
            endpoint = cmd.get("endpoint", "version")
            if op == "call":
                reply(await _one(client, endpoint))
            elif op == "calls_for":
                admitted = refused = 0
                end = time.monotonic() + float(cmd["seconds"])
                while time.monotonic() < end:
                    result = await _one(client, endpoint)
                    if time.monotonic() > end:
                        break  # admitted after the window closed
                    if result.get("ok"):
                        admitted += 1
                    else:
                        refused += 1
                reply({"admitted": admitted, "refused": refused})
            elif op == "timed":
                n = int(cmd["n"])
                before = _round_trips(client)
                start = time.perf_counter()
                for _ in range(n):
                    await _one(client, endpoint)
                elapsed = time.perf_counter() - start
                reply({"us_per_call": elapsed / n * 1e6,
                       "round_trips": (_round_trips(client) - before) / n})
            elif op == "hold":
                for _ in range(int(cmd["n"])):
                    stream = client.chat_stream(model=CHAT_MODEL,
                                                messages=[{"role": "user", "content": "hi"}])
                    await stream.__anext__()
                    held.append(stream)
                reply({"held": len(held)})
            elif op == "flush":
                for name in ("rate_limiting", "circuit_breaker", "request_caching"):
                    with contextlib.suppress(Exception):
                        flush = getattr(client.plugin(name).store, "flush", None)
                        if flush is not None:
                            await flush()
                reply({"flushed": True})
            elif op == "events":
                reply({"events": events})
            elif op == "quit":
                break
        for stream in held:
            with contextlib.suppress(Exception):
                await stream.aclose()


# -- the parent ------------------------------------------------------------------------------


class Worker:
    """One worker process (see the module docstring)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid

    async def ask(self, op: str, timeout: float = 60.0, **fields: Any) -> dict[str, Any]:
        """Send one command and read its answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps({"op": op, **fields}) + "\n").encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"worker {self.pid} exited (status {self.process.returncode})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def kill(self) -> None:
        """SIGKILL the worker (it gets no chance to give anything back)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def close(self) -> None:
        process = self.process
        if process.returncode is None:
            with contextlib.suppress(Exception):
                assert process.stdin is not None
                process.stdin.write(b'{"op": "quit"}\n')
                await process.stdin.drain()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if process.stdin is not None:
            process.stdin.close()


class Fleet:
    """``async with Fleet() as fleet: w = await fleet.start(spec)``: workers stopped (and
    reaped) on exit."""

    def __init__(self) -> None:
        self.workers: list[Worker] = []

    async def start(self, spec: dict[str, Any]) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(Path(__file__).resolve()), json.dumps(spec),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=str(ROOT),
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        worker = Worker(process)
        self.workers.append(worker)
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line or "ready" not in json.loads(line):
            raise RuntimeError(f"worker did not start: {line!r}")
        return worker

    async def start_many(self, specs: Sequence[dict[str, Any]]) -> list[Worker]:
        return list(await asyncio.gather(*(self.start(spec) for spec in specs)))

    async def __aenter__(self) -> Fleet:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(w.close() for w in self.workers))


if __name__ == "__main__":
    asyncio.run(_worker(json.loads(sys.argv[1])))
