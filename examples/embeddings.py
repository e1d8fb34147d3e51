"""Embeddings: vectors for texts, and a tiny semantic search with cosine similarity.

``embed`` takes one text or a batch and returns one vector per input, in order;
``dimensions`` shortens them (for models that support it). The legacy ``embeddings``
endpoint takes a single prompt.

    python examples/embeddings.py [--host URL] [--model NAME]   # an embedding model
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
from collections.abc import Sequence

from ollama_core import EmbeddingsRequest, EmbedRequest, OllamaClient
from ollama_core.emulator import ollama_server

DOCUMENTS = [
    "Llamas are members of the camelid family.",
    "The Eiffel Tower is in Paris.",
    "Python is a programming language.",
    "Alpacas and llamas are domesticated in the Andes.",
]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def main(host: str | None, model: str) -> None:
    async with ollama_server(host) as url, OllamaClient(url, plugins=[]) as client:
        # One request for the whole batch: far cheaper than one request per text.
        docs = await client.embed(EmbedRequest(model=model, input=DOCUMENTS))
        print(f"{len(docs.embeddings)} documents -> vectors of "
              f"{len(docs.embeddings[0])} dimensions "
              f"({docs.prompt_eval_count} tokens processed)")

        query = "Which animals live in South America?"
        (query_vector,) = (await client.embed(EmbedRequest(model=model, input=query))).embeddings
        ranked = sorted(zip(DOCUMENTS, docs.embeddings, strict=True),
                        key=lambda item: cosine(query_vector, item[1]), reverse=True)
        print(f"\nquery: {query}")
        for text, vector in ranked:
            print(f"  {cosine(query_vector, vector):+.3f}  {text}")
        # (The emulator's vectors are deterministic but not semantic: with a real
        # embedding model the llama documents come first.)

        short = await client.embed(EmbedRequest(model=model, input="hello", dimensions=16))
        print(f"\nwith dimensions=16: {len(short.embeddings[0])} values")

        legacy = await client.embeddings(EmbeddingsRequest(model=model, prompt="hello"))
        print(f"legacy /api/embeddings: one vector of {len(legacy.embedding)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="nomic-embed-text")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model))
