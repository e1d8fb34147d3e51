"""Retry: transient failures retried with capped, jittered exponential backoff.

An emulator is told to fail on purpose, and an event printer shows each decision:

1. two 503s ("server busy"), then success: the call succeeds on attempt 3;
2. a 429 with ``Retry-After: 0.3``: the plugin waits what the server asked, not its own
   backoff;
3. a 400 is the caller's mistake: raised at once, never retried;
4. a server that keeps failing: attempts run out (``retry_exhausted``) and the last error
   is raised;
5. a server that is down (connection refused) is retried too.

A sixth step turns the retry budget on: once retries exceed their share of the traffic,
failures are raised at once (``retry_budget_exhausted``) instead of piling up retries.

Fault injection needs the emulator, so this example always runs against one.

    python examples/retry.py
"""

from __future__ import annotations

import asyncio
import time

from ollama_core import (
    BadRequestError,
    ChatRequest,
    ConnectError,
    Event,
    OllamaClient,
    ServiceUnavailableError,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator


class EventPrinter:
    """A tiny plugin: print every event the reliability plugins emit, as it happens."""

    name = "event_printer"

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        details = ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={str(v)[:48]}"
                            for k, v in event.data.items() if v is not None)
        print(f"   {time.perf_counter() - self.started:6.3f}s  {event.name}: {details}")


async def main() -> None:
    chat = ChatRequest(model="llama3.2", messages=[{"role": "user", "content": "ping"}])
    config = {"retry": {"max_attempts": 4, "base_delay": 0.05, "multiplier": 2,
                        "max_delay": 0.5, "jitter": "equal", "seed": 7,
                        # The retry budget (at most 20% extra load, 3 retries minimum per
                        # 10 s) protects a struggling server from retry storms; this demo
                        # fails on purpose far more than that, so it is turned off here.
                        "budget_ratio": None}}
    async with OllamaEmulator() as emulator, \
            OllamaClient(emulator.url, plugins=["retry", EventPrinter()],
                         plugin_config=config) as client:
        retry = client.plugin("retry")

        print("1. two 503s, then a normal answer")
        emulator.faults.script("/api/chat", [503, 503])
        reply = await client.chat(chat)
        print(f"   -> {reply.message.content!r} after {emulator.hits('/api/chat')} attempts")

        print("2. a 429 asking to come back in 0.3 s")
        emulator.faults.add(path="/api/tags", status=429, retry_after=0.3)
        started = time.perf_counter()
        models = await client.list_models()
        print(f"   -> {len(models.models)} models after {time.perf_counter() - started:.2f}s")

        print("3. a 400 is not retried")
        emulator.faults.add(path="/api/chat", status=400, error="invalid options")
        before = emulator.hits("/api/chat")
        try:
            await client.chat(chat)
        except BadRequestError as exc:
            print(f"   -> BadRequestError: {exc.error!r} "
                  f"after {emulator.hits('/api/chat') - before} attempt")

        print("4. a server that keeps answering 503")
        emulator.faults.add(path="/api/chat", status=503, times=None)
        try:
            await client.chat(chat)
        except ServiceUnavailableError as exc:
            print(f"   -> gave up: ServiceUnavailableError: {exc.error}")
        emulator.faults.clear()

        print("5. the server is down")
        await emulator.stop()
        try:
            await client.version()
        except ConnectError as exc:
            print(f"   -> gave up: ConnectError: {exc}")
        await emulator.start()

        print("6. the same failing server with a retry budget of 3 retries")
        client.configure_plugin("retry", {**config["retry"], "budget_ratio": 0.1,
                                          "budget_min_retries": 3})
        emulator.faults.add(path="/api/chat", status=503, times=None)
        for i in range(3):
            try:
                await client.chat(chat)
            except ServiceUnavailableError:
                print(f"   -> call {i + 1} failed")
        emulator.faults.clear()

        stats = retry.stats
        print(f"\nretry stats: {stats.calls} calls, {stats.attempts} attempts, "
              f"{stats.retries} retries; gave up {stats.exhausted}x after max_attempts, "
              f"{stats.budget_exhausted}x on the budget")


if __name__ == "__main__":
    asyncio.run(main())
