"""Quick start: the async client in five calls.

Lists the models, asks one question and waits for the whole answer, then streams a second
answer as it is generated, and embeds a sentence.

    python examples/quick_start.py                      # against an embedded emulator
    python examples/quick_start.py --host http://localhost:11434
    OLLAMA_HOST=gpu-box python examples/quick_start.py  # any real Ollama server
"""

from __future__ import annotations

import argparse
import asyncio
import os

from ollama_core import ChatRequest, EmbedRequest, OllamaClient
from ollama_core.emulator import ollama_server


async def main(host: str | None, model: str, embed_model: str) -> None:
    async with ollama_server(host) as url, OllamaClient(url, plugins=[]) as client:
        print(f"server {client.base_url}, Ollama {await client.version()}")

        models = await client.list_models()
        print("models:", ", ".join(m.name for m in models.models))

        # One question, one answer.
        request = ChatRequest(model=model, messages=[
            {"role": "user", "content": "In one sentence: why is the sky blue?"}])
        reply = await client.chat(request)
        print(f"\nanswer: {reply.message.content}")
        print(f"({reply.eval_count} tokens, "
              f"{reply.metrics.tokens_per_second or 0:.1f} tokens/s reported by the server)")

        # The same conversation, continued, streamed chunk by chunk.
        follow_up = ChatRequest(model=model, messages=[
            *request.messages, reply.message,
            {"role": "user", "content": "And why are sunsets red?"}])
        print("\nstreamed: ", end="", flush=True)
        async with client.chat_stream(follow_up) as stream:
            async for chunk in stream:
                print(chunk.message.content, end="", flush=True)
        print()

        vectors = await client.embed(EmbedRequest(model=embed_model, input="hello world"))
        print(f"\nembedding of 'hello world': {len(vectors.embeddings[0])} dimensions")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--embed-model", default="all-minilm")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model, args.embed_model))
