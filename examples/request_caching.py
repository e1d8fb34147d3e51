"""Request caching: identical requests answered from memory, and shared while in flight.

1. the same embed twice: the second never reaches the server;
2. five identical embeds at the same moment: one request goes out, all five get the
   answer (single flight);
3. entries expire after ``ttl`` seconds;
4. ``chat`` is not cached by default (answers may vary); one call can opt in with
   ``extensions={"cache": True}``, and any call can opt out with ``{"cache": False}``.

The emulator's request counter shows what reached the server. With ``--host`` it runs
against a real server, where the hits save real GPU time.

    python examples/request_caching.py [--host URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable

from ollama_core import ChatRequest, EmbedRequest, OllamaClient
from ollama_core.emulator import OllamaEmulator


@contextlib.asynccontextmanager
async def ollama_server(host: str | None) -> AsyncIterator[tuple[str, Callable[[str], int]]]:
    """The server's URL and a way to count the requests it received (only known for the
    emulator)."""
    if host:
        yield host, lambda path: -1
        return
    async with OllamaEmulator() as emulator:
        print(f"(using an embedded emulator at {emulator.url})")
        yield emulator.url, emulator.hits


async def main(host: str | None, model: str, embed_model: str) -> None:
    config = {"request_caching": {"ttl": 0.5, "max_entries": 100}}
    async with ollama_server(host) as (url, hits), \
            OllamaClient(url, plugins=["request_caching"], plugin_config=config) as client:
        cache = client.plugin("request_caching")

        def received(path: str) -> str:
            count = hits(path)
            return "unknown (real server)" if count < 0 else str(count)

        request = EmbedRequest(model=embed_model, input="the same text, twice")
        started = time.perf_counter()
        first = await client.embed(request)
        middle = time.perf_counter()
        second = await client.embed(request)
        done = time.perf_counter()
        print(f"1. two identical embeds: same vectors {first.embeddings == second.embeddings}, "
              f"server received {received('/api/embed')}; "
              f"{(middle - started) * 1000:.1f} ms then {(done - middle) * 1000:.2f} ms")

        burst = EmbedRequest(model=embed_model, input="five callers at once")
        before = hits("/api/embed")
        await asyncio.gather(*(client.embed(burst) for _ in range(5)))
        if before >= 0:
            print(f"2. five concurrent identical embeds: {hits('/api/embed') - before} "
                  f"request reached the server")

        await asyncio.sleep(0.6)  # longer than the ttl
        before = hits("/api/embed")
        await client.embed(request)
        if before >= 0:
            print(f"3. after the 0.5 s ttl the first embed goes to the server again: "
                  f"{hits('/api/embed') - before} request")

        chat = ChatRequest(model=model, messages=[{"role": "user", "content": "hello"}])
        before = hits("/api/chat")
        for _ in range(2):
            await client.chat(chat)
        plain = hits("/api/chat") - before
        before = hits("/api/chat")
        for _ in range(2):
            await client.chat(chat, extensions={"cache": True})
        opted_in = hits("/api/chat") - before
        if before >= 0:
            print(f"4. two chats: {plain} requests; two chats with cache=True: {opted_in}")

        stats = cache.stats()
        print(f"\ncache stats: hits={stats['hits']} (coalesced {stats['coalesced']}), "
              f"misses={stats['misses']}, expirations={stats['expirations']}, "
              f"entries={stats['entries']}, {stats['bytes']:,} bytes")
        cache.clear()
        print(f"after clear(): entries={cache.stats()['entries']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--embed-model", default="all-minilm")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model, args.embed_model))
