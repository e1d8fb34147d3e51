"""Tool calling: Python functions as tools, a full round trip, streamed and not.

The ``tool_calling`` plugin turns type-hinted, documented functions into JSON Schema tool
definitions, and runs the calls the model asks for, but only when you ask (your code stays
in charge of what runs). The round trip:

1. send the question with the tool definitions;
2. the model answers with ``tool_calls`` instead of text;
3. run them (``execute_tool_calls``) and append the ``role: "tool"`` results;
4. ask again: the model answers using the results.

    python examples/tools.py [--host URL] [--model NAME]   # the model must support tools
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any, Literal

from ollama_core import ChatMessage, ChatRequest, OllamaClient
from ollama_core.emulator import ollama_server
from ollama_plugins.tool_calling import ToolCallAccumulator, ToolRegistry, function_to_tool


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Get the current weather in a city.

    Args:
        city: the city, e.g. "Paris".
        unit: the temperature unit.
    """
    celsius = 8 + len(city) % 15  # a stand-in for a real weather service
    temperature = celsius if unit == "celsius" else round(celsius * 9 / 5 + 32)
    return {"city": city, "temperature": temperature, "unit": unit, "sky": "clear"}


async def add(a: int, b: int) -> int:
    """Add two integers (an async tool: it is awaited instead of run in a thread).

    Args:
        a: the first number.
        b: the second number.
    """
    return a + b


async def round_trip(client: OllamaClient, model: str) -> None:
    tools = client.plugin("tool_calling")  # the plugin holds a ToolRegistry per client
    tools.register(get_weather)
    tools.register(add)
    print("tool definition generated from get_weather:")
    print(json.dumps(function_to_tool(get_weather).to_dict(), indent=2))

    messages: list[ChatMessage | dict[str, Any]] = [
        {"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
    reply = await client.chat(ChatRequest(model=model, messages=messages, tools=tools.tools))
    for call in reply.message.tool_calls or []:
        print(f"\nmodel asked for: {call.function.name}({json.dumps(call.function.arguments)})")
    messages.append(reply.message)

    results = await tools.execute_tool_calls(reply)
    for result in results:
        print(f"tool {result.tool_name} returned: {result.content}")
    messages.extend(results)

    final = await client.chat(ChatRequest(model=model, messages=messages, tools=tools.tools))
    print(f"final answer: {final.message.content}")


async def streamed_round_trip(client: OllamaClient, model: str) -> None:
    """The same with a stream: the accumulator collects text and calls from the chunks."""
    print("\n== streamed, with a registry of our own")
    registry = ToolRegistry([add])
    messages: list[ChatMessage | dict[str, Any]] = [
        {"role": "user", "content": "Use add on two numbers."}]
    accumulator = ToolCallAccumulator()
    async with client.chat_stream(ChatRequest(model=model, messages=messages,
                                              tools=registry.tools)) as stream:
        async for chunk in stream:
            accumulator.add(chunk)
    print(f"{accumulator.chunks} chunks, tool calls: "
          f"{[(c.function.name, c.function.arguments) for c in accumulator.tool_calls]}")
    messages.append(accumulator.message())
    results = await registry.execute_tool_calls(accumulator.tool_calls)
    print(f"results: {[r.content for r in results]}")

    # A call the registry cannot run is reported to the model *and* to you.
    bad = await registry.execute_tool_calls([{"function": {"name": "launch_rockets",
                                                           "arguments": {}}}])
    print(f"unknown tool -> message {bad[0].content!r}, ok={bad.ok}")


async def main(host: str | None, model: str) -> None:
    async with ollama_server(host) as url, \
            OllamaClient(url, plugins=["tool_calling"]) as client:
        await round_trip(client, model)
        await streamed_round_trip(client, model)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("OLLAMA_HOST"),
                        help="a real Ollama server (default: $OLLAMA_HOST, else an emulator)")
    parser.add_argument("--model", default="llama3.2")
    args = parser.parse_args()
    asyncio.run(main(args.host, args.model))
