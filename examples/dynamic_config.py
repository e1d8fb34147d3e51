"""Dynamic configuration: change a live client without rebuilding it.

* ``configure(timeout=..., headers=..., api_key=...)``: new settings for the next calls;
* ``add_plugin`` / ``remove_plugin``: the middleware chain is rebuilt on the spot
  (``describe_chain()`` shows it, outermost first);
* ``configure_plugin``: new settings for a registered plugin, validated like at
  construction (a bad value raises ``InvalidConfigError`` and changes nothing).

The emulator records what it receives, which shows each change taking effect.

    python examples/dynamic_config.py
"""

from __future__ import annotations

import asyncio

from ollama_core import (
    Event,
    FirstByteTimeout,
    InvalidConfigError,
    OllamaClient,
    ServiceUnavailableError,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator


class EventPrinter:
    """A plugin added at run time: prints the events of the other plugins."""

    name = "event_printer"

    @hookimpl
    def ollama_event(self, event: Event) -> None:
        print(f"   event {event.name}: attempt={event.data.get('attempt')}")


def show_chain(client: OllamaClient) -> None:
    print("   middleware chain (order, name; outermost first):")
    for line in client.describe_chain().splitlines():
        print(f"      {line}")


async def main() -> None:
    async with OllamaEmulator() as emulator, \
            OllamaClient(emulator.url, timeout=0.2, plugins=[]) as client:
        print("1. timeouts: the server takes 0.4 s to answer")
        emulator.faults.add(path="/api/tags", headers_delay=0.4, times=2)
        try:
            await client.list_models()
        except FirstByteTimeout as exc:
            print(f"   timeout=0.2 -> FirstByteTimeout: {exc}")
        client.configure(timeout=2.0)
        await client.list_models()
        print(f"   timeout=2.0 -> ok (first byte timeout now {client.timeouts.first_byte}s)")

        print("2. headers and API key")
        client.configure(headers={"X-Request-Source": "dynamic_config.py"}, api_key="s3cret")
        await client.version()
        recorded = emulator.requests[-1]
        sent = recorded.headers  # the emulator records secret headers masked
        print(f"   server saw X-Request-Source={sent.get('X-Request-Source')!r}, "
              f"Authorization={sent.get('Authorization')} (the key set above: "
              f"{recorded.has_header('Authorization', 'Bearer s3cret')})")
        print(f"   repr never shows secrets: {client!r}")

        print("3. add the retry plugin (and an event printer) at run time")
        show_chain(client)
        client.add_plugin("retry", {"max_attempts": 2, "base_delay": 0.01})
        client.add_plugin(EventPrinter())
        show_chain(client)
        emulator.faults.script("/api/tags", [503])
        await client.list_models()
        print("   one 503 absorbed by the retry")

        print("4. reconfigure it: a single attempt, so a 503 is raised")
        try:
            client.configure_plugin("retry", {"max_attempts": 0})
        except InvalidConfigError as exc:
            print(f"   rejected: {exc}")
        client.configure_plugin("retry", {"max_attempts": 1})
        print(f"   retry config now: max_attempts={client.plugin('retry').config['max_attempts']}")
        emulator.faults.script("/api/tags", [503])
        try:
            await client.list_models()
        except ServiceUnavailableError:
            print("   503 raised: no retry with max_attempts=1")

        print("5. remove it")
        await client.remove_plugin("retry")
        print(f"   plugins now: {client.plugins}")
        show_chain(client)


if __name__ == "__main__":
    asyncio.run(main())
