"""Structured output: give ``format`` a JSON schema, parse the answer into a dataclass.

Ollama constrains generation to the schema, so the answer's ``content`` is JSON that
parses into the shape you asked for. ``format="json"`` asks for any JSON object.

    python examples/structured_output.py [--host URL] [--model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any

from ollama_core import ChatRequest, OllamaClient
from ollama_core.emulator import ollama_server


@dataclass
class Country:
    name: str
    capital: str
    population_millions: float
    languages: list[str]
    continent: str


COUNTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "capital": {"type": "string"},
        "population_millions": {"type": "number"},
        "languages": {"type": "array", "items": {"type": "string"}},
        "continent": {"type": "string",
                      "enum": ["Africa", "Americas", "Asia", "Europe", "Oceania"]},
    },
    "required": ["name", "capital", "population_millions", "languages", "continent"],
}


def check(data: Any, schema: dict[str, Any]) -> None:
    """A minimal check of the parsed answer (a real project would use jsonschema)."""
    assert isinstance(data, dict), "expected a JSON object"
    missing = [key for key in schema["required"] if key not in data]
    assert not missing, f"missing keys: {missing}"


async def main(host: str | None, model: str) -> None:
    async with ollama_server(host) as url, OllamaClient(url, plugins=[]) as client:
        request = ChatRequest(
            model=model,
            messages=[{"role": "user", "content": "Tell me about Canada."}],
            format=COUNTRY_SCHEMA,
            options={"temperature": 0},  # structured answers want little creativity
        )
        reply = await client.chat(request)
        print(f"raw content: {reply.message.content}")
        data = json.loads(reply.message.content)
        check(data, COUNTRY_SCHEMA)
        country = Country(**data)
        print(f"parsed: {country}")
        print(f"{country.name}: capital {country.capital}, languages "
              f"{', '.join(country.languages)}, continent {country.continent}")

        # Any JSON object, no schema.
        loose = await client.generate({"model": model, "format": "json", "stream": False,
                                       "prompt": "List three colours as JSON."})
        print(f"format='json' gave: {json.loads(loose.response)!r}")

        # Streaming works too: the JSON is only complete at the end.
        parts: list[str] = []
        async with client.chat_stream(request) as stream:
            async for chunk in stream:
                parts.append(chunk.message.content)
        streamed = json.loads("".join(parts))
        print(f"streamed in {stream.metrics.chunks} chunks, parses to the same keys: "
              f"{sorted(streamed) == sorted(data)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model))
