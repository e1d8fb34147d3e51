"""Builders: requests assembled step by step, shared and branched safely, validated early.

Every builder step returns a *new* builder, so a half-built request (a model, a system
prompt, options) can serve as a template for many requests without them seeing each
other's messages. ``build()`` validates: a bad value raises ``InvalidRequestError`` whose
``field`` names it, before anything is sent.

    python examples/builders.py [--host URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from ollama_core import (
    ChatRequest,
    CreateRequest,
    EmbedRequest,
    GenerateRequest,
    InvalidRequestError,
    OllamaClient,
)
from ollama_core.emulator import ollama_server


async def main(host: str | None, model: str, embed_model: str) -> None:
    # A template: model, system prompt and sampling options, no question yet.
    base = (ChatRequest.builder()
            .model(model)
            .system("You are a terse assistant.")
            .temperature(0.2)
            .seed(42)
            .num_ctx(4096))

    # Two branches of the same template; neither sees the other's question.
    sky = base.user("Why is the sky blue?").build()
    grass = base.user("Why is grass green?").num_predict(6).build()
    print("sky request:  ", json.dumps(sky.to_dict()))
    print("grass request:", json.dumps(grass.to_dict()))

    # A conversation with an earlier answer and a tool result in it.
    with_history = (base
                    .user("What is the weather in Paris?")
                    .assistant(tool_calls=[{"function": {"name": "get_weather",
                                                         "arguments": {"city": "Paris"}}}])
                    .tool_result({"celsius": 21, "sky": "clear"}, tool_name="get_weather")
                    .build())
    print("roles:", [m["role"] for m in with_history.to_dict()["messages"]])

    generate = (GenerateRequest.builder().model(model).prompt("Write a haiku about rain.")
                .system("You are a poet.").stop("\n\n").keep_alive("10m").build())
    embed = EmbedRequest.builder().model(embed_model).input(["a", "b"]).dimensions(8).build()
    create = (CreateRequest.builder().model("terse-llama").from_(model)
              .system("Answer in five words or fewer.").parameter("temperature", 0.1).build())
    print("create request:", json.dumps(create.to_dict()))

    # Validation happens at build(): the error names the field, nothing is sent.
    for label, bad in [
        ("no model", ChatRequest.builder().user("hi")),
        ("bad temperature", base.user("hi").temperature("hot")),  # type: ignore[arg-type]
        ("bad role", base.message({"role": 7, "content": "beep"})),
    ]:
        try:
            bad.build()
        except InvalidRequestError as exc:
            print(f"{label:>16}: InvalidRequestError field={exc.field!r}: {exc}")

    async with ollama_server(host) as url, OllamaClient(url, plugins=[]) as client:
        for request in (sky, grass):
            reply = await client.chat(request)
            print(f"chat: {reply.message.content!r} (done_reason={reply.done_reason})")
        completion = await client.generate(generate)
        print(f"generate: {completion.response!r}")
        vectors = await client.embed(embed)
        print(f"embed: {len(vectors.embeddings)} vectors of {len(vectors.embeddings[0])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    parser.add_argument("--embed-model", default="nomic-embed-text")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model, args.embed_model))
