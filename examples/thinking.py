"""Thinking: let a reasoning model (qwen3) think first, and keep its thoughts apart.

With ``think=True`` the model's reasoning arrives in ``message.thinking`` and the answer
in ``message.content``, never mixed, both when waiting for the whole reply and when
streaming. ``think=False`` skips the thinking; a model that cannot think refuses ``think``
with a 400 (``BadRequestError``).

    python examples/thinking.py [--host URL] [--model NAME]   # a thinking model
"""

from __future__ import annotations

import argparse
import asyncio
import os

from ollama_core import BadRequestError, ChatRequest, OllamaClient
from ollama_core.emulator import ollama_server

QUESTION = "How many r's are in the word strawberry?"


async def main(host: str | None, model: str) -> None:
    async with ollama_server(host) as url, OllamaClient(url, plugins=[]) as client:
        messages = [{"role": "user", "content": QUESTION}]

        reply = await client.chat(ChatRequest(model=model, messages=messages, think=True))
        print(f"thinking: {reply.message.thinking}")
        print(f"answer:   {reply.message.content}")

        print("\n== streamed: thoughts first, then the answer")
        thinking_chunks = answer_chunks = 0
        async with client.chat_stream(ChatRequest(model=model, messages=messages,
                                                  think=True)) as stream:
            async for chunk in stream:
                if chunk.message.thinking:
                    if thinking_chunks == 0:
                        print("[thinking] ", end="")
                    thinking_chunks += 1
                    print(chunk.message.thinking, end="", flush=True)
                if chunk.message.content:
                    if answer_chunks == 0:
                        print("\n[answer] ", end="")
                    answer_chunks += 1
                    print(chunk.message.content, end="", flush=True)
        print(f"\n({thinking_chunks} thinking chunks, {answer_chunks} answer chunks)")

        quick = await client.chat(ChatRequest(model=model, messages=messages, think=False))
        print(f"\nthink=False: thinking={quick.message.thinking!r}, "
              f"answer={quick.message.content!r}")

        try:
            await client.chat(ChatRequest(model="llama3.2", messages=messages, think=True))
        except BadRequestError as exc:
            print(f"llama3.2 with think=True: BadRequestError {exc.status_code}: {exc.error}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="qwen3")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model))
