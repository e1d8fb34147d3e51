"""Rate limiting: pace calls on the client side, cap concurrency, refuse when asked to.

1. a token bucket: ``rate=5`` per second with ``burst=2``. Eight embeds started at
   once: two go immediately, then one every 0.2 s, in order (FIFO, no polling);
2. ``max_wait=0`` for ``generate``: when no token is free the call is refused at once with
   ``RateLimitExceededError`` (and its ``retry_after``), nothing sent;
3. ``max_concurrent=1`` for ``chat``: three slow streams run one after the other.

The limits apply to every server, so this runs against the emulator by default or a real
server with ``--host``/``OLLAMA_HOST``.

    python examples/rate_limiting.py [--host URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from ollama_core import ChatRequest, EmbedRequest, OllamaClient, RateLimitExceededError
from ollama_core.emulator import ollama_server


async def main(host: str | None, model: str, embed_model: str) -> None:
    config = {"rate_limiting": {
        "rate": 5, "burst": 2,
        "endpoints": {"generate": {"rate": 1, "burst": 1, "max_wait": 0},
                      "chat": {"rate": None, "max_concurrent": 1}},
    }}
    async with ollama_server(host) as url, \
            OllamaClient(url, plugins=["rate_limiting"], plugin_config=config) as client:
        limiter = client.plugin("rate_limiting")
        started = time.perf_counter()

        print("1. eight embeds at once, rate 5/s, burst 2")

        async def embed(i: int) -> None:
            await client.embed(EmbedRequest(model=embed_model, input=f"text {i}"))
            print(f"   embed {i} done at {time.perf_counter() - started:.2f}s")

        await asyncio.gather(*(embed(i) for i in range(8)))

        print("2. generate with max_wait=0: the second call is refused at once")
        for i in range(2):
            try:
                await client.generate({"model": model, "prompt": "hi", "stream": False})
                print(f"   generate {i + 1}: ok")
            except RateLimitExceededError as exc:
                print(f"   generate {i + 1}: RateLimitExceededError ({exc}); "
                      f"retry_after={exc.retry_after:.2f}s")

        print("3. three chat streams with max_concurrent=1")
        t0 = time.perf_counter()

        async def stream(i: int) -> None:
            request = ChatRequest(model=model, messages=[
                {"role": "user", "content": f"stream number {i} please"}])
            async with client.chat_stream(request) as s:
                first = None
                async for _ in s:
                    first = first or time.perf_counter() - t0
            print(f"   stream {i}: first chunk at {first or 0:.2f}s, "
                  f"done at {time.perf_counter() - t0:.2f}s")

        await asyncio.gather(*(stream(i) for i in range(3)))

        stats = limiter.stats()
        print(f"\nlimiter stats: allowed={stats['allowed']} waited={stats['waited']} "
              f"rejected={stats['rejected']}")
        for key, s in stats["limiters"].items():
            print(f"   {key:<9} allowed={s['allowed']} waited={s['waited']} "
                  f"rejected={s['rejected']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--embed-model", default="all-minilm")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model, args.embed_model))
