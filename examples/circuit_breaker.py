"""Circuit breaker: stop calling an endpoint that keeps failing, probe it, recover.

The emulator's ``/api/chat`` is broken on purpose (500 on every call). With
``fail_max=3`` the breaker opens after the third failure; while open, calls fail at once
with ``CircuitOpenError`` without touching the network (the hit counter proves it). After
``reset_timeout`` one probe is let through (half-open): the server is fixed by then, so
the probe succeeds and the circuit closes. Breakers are per (server, endpoint): ``tags``
keeps working while ``chat`` is open.

Fault injection needs the emulator, so this example always runs against one.

    python examples/circuit_breaker.py
"""

from __future__ import annotations

import asyncio
import time

from ollama_core import ChatRequest, CircuitOpenError, Event, OllamaClient, ServerError, hookimpl
from ollama_core.emulator import OllamaEmulator


class EventPrinter:
    """A tiny plugin: print every breaker transition as it happens."""

    name = "event_printer"

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        if event.name == "circuit_state":
            print(f"   {time.perf_counter() - self.started:6.3f}s  breaker "
                  f"{event['endpoint']}: {event['old']} -> {event['new']}")


async def main() -> None:
    chat = ChatRequest(model="llama3.2", messages=[{"role": "user", "content": "ping"}])
    config = {"circuit_breaker": {"fail_max": 3, "reset_timeout": 0.5}}
    async with OllamaEmulator() as emulator, \
            OllamaClient(emulator.url, plugins=["circuit_breaker", EventPrinter()],
                         plugin_config=config) as client:
        breaker = client.plugin("circuit_breaker")
        emulator.faults.add(path="/api/chat", status=500, times=None)

        print("chat is failing (500 on every call):")
        for i in range(1, 7):
            before = emulator.hits("/api/chat")
            try:
                await client.chat(chat)
            except ServerError as exc:
                outcome = f"ServerError {exc.status_code}"
            except CircuitOpenError as exc:
                outcome = f"CircuitOpenError, retry in {exc.retry_after:.2f}s"
            sent = emulator.hits("/api/chat") - before
            print(f"  call {i}: {outcome:<38} sent to server: {'yes' if sent else 'no':<3}"
                  f"   breaker: {breaker.state(endpoint='chat')}")

        models = await client.list_models()
        print(f"meanwhile list_models still works ({len(models.models)} models), "
              f"tags breaker: {breaker.state(endpoint='tags')}")

        print("the server is repaired; waiting out reset_timeout (0.5 s)...")
        emulator.faults.clear()
        await asyncio.sleep(0.55)
        reply = await client.chat(chat)
        print(f"  probe call: {reply.message.content!r}   breaker: "
              f"{breaker.state(endpoint='chat')}")
        print(f"all breakers: {breaker.states()}")


if __name__ == "__main__":
    asyncio.run(main())
