"""Chat and generate: whole and streamed answers, thinking, structured output, a tool
call round trip, and images."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from typing import Any

import pytest

from ollama_core import ChatResponse, GenerateResponse, OllamaClient

from ._target import Target, normalize_name
from .conftest import GENERATION_DONE_REASONS, no_think, options, require

pytestmark = pytest.mark.conformance


def check_final(reply: ChatResponse | GenerateResponse, model: str) -> None:
    """What every finished generation reports."""
    assert reply.done is True
    assert reply.done_reason in GENERATION_DONE_REASONS, reply.done_reason
    assert normalize_name(reply.model) == normalize_name(model)
    assert reply.created_at
    assert reply.prompt_eval_count is not None and reply.prompt_eval_count > 0
    assert reply.eval_count is not None and reply.eval_count > 0
    assert reply.total_duration is not None and reply.total_duration > 0
    assert reply.eval_duration is not None and reply.eval_duration > 0


def check_stream(chunks: list[Any], model: str) -> None:
    assert len(chunks) >= 2
    assert all(c.done is False for c in chunks[:-1])
    check_final(chunks[-1], model)


def chat_body(model: str, prompt: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}],
            "options": options(), **extra}


async def test_chat(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    reply = await client.chat(chat_body(model, "Name a primary colour.",
                                        **await no_think(client, model)))
    check_final(reply, model)
    assert reply.message.role == "assistant"
    assert reply.message.content.strip()


async def test_chat_stream(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    async with client.chat_stream(chat_body(model, "Count from one to five.",
                                            **await no_think(client, model))) as stream:
        chunks = [chunk async for chunk in stream]
    check_stream(chunks, model)
    assert all(c.message.role == "assistant" for c in chunks)
    assert "".join(c.message.content for c in chunks).strip()


async def test_generate(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    reply = await client.generate({"model": model, "prompt": "Name a planet.",
                                   "options": options(), **await no_think(client, model)})
    check_final(reply, model)
    assert reply.response.strip()


async def test_generate_stream(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    async with client.generate_stream({"model": model, "prompt": "Count from one to five.",
                                       "options": options(),
                                       **await no_think(client, model)}) as stream:
        chunks = [chunk async for chunk in stream]
    check_stream(chunks, model)
    assert "".join(c.response for c in chunks).strip()


async def test_chat_think(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    await require(client, model, "thinking")
    # Thinking comes first, so even an answer cut at num_predict carries some.
    reply = await client.chat(chat_body(model, "What is 2 + 3?", think=True,
                                        options=options(160)))
    check_final(reply, model)
    assert reply.message.thinking and reply.message.thinking.strip()


async def test_generate_stream_think(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    await require(client, model, "thinking")
    async with client.generate_stream({"model": model, "prompt": "What is 2 + 3?",
                                       "think": True, "options": options(160)}) as stream:
        chunks = [chunk async for chunk in stream]
    check_stream(chunks, model)
    assert "".join(c.thinking or "" for c in chunks).strip()


CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
}


@pytest.mark.parametrize("endpoint", ["chat", "generate"])
async def test_format_json_schema(client: OllamaClient, target: Target, endpoint: str) -> None:
    model = target.models.chat
    prompt = "Give the largest city of France and its population as JSON."
    # No num_predict: a cut document would not parse; the schema's grammar ends it.
    extra = {"format": CITY_SCHEMA, "options": {"temperature": 0, "seed": 7},
             **await no_think(client, model)}
    if endpoint == "chat":
        chat = await client.chat(chat_body(model, prompt, **extra))
        check_final(chat, model)
        text = chat.message.content
    else:
        gen = await client.generate({"model": model, "prompt": prompt, **extra})
        check_final(gen, model)
        text = gen.response
    document = json.loads(text)
    assert isinstance(document, dict)
    assert isinstance(document["city"], str)
    assert isinstance(document["population"], int)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name"}},
            "required": ["city"],
        },
    },
}


async def test_tool_call_round_trip(client: OllamaClient, target: Target) -> None:
    model = target.models.chat
    await require(client, model, "tools")
    think = await no_think(client, model)
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}]
    first = await client.chat({"model": model, "messages": messages, "tools": [WEATHER_TOOL],
                               "options": options(128), **think})
    check_final(first, model)
    calls = first.message.tool_calls or []
    if not calls:
        pytest.skip(f"{model} declined to call the tool (it answered "
                    f"{first.message.content[:80]!r})")
    call = calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(call.function.arguments, dict)
    assert isinstance(call.function.arguments.get("city"), str)

    messages.append(first.message.to_dict())
    tool_reply: dict[str, Any] = {"role": "tool", "content": "18 degrees Celsius and sunny",
                                  "tool_name": "get_weather"}
    if call.id:
        tool_reply["tool_call_id"] = call.id
    messages.append(tool_reply)
    second = await client.chat({"model": model, "messages": messages, "tools": [WEATHER_TOOL],
                                "options": options(64), **think})
    check_final(second, model)
    if second.message.tool_calls and not second.message.content.strip():
        pytest.skip(f"{model} called a tool again instead of answering from the result")
    assert second.message.content.strip()


def red_square_png(size: int = 32) -> bytes:
    """A valid PNG a vision model can decode: a red square on white."""
    rows = b"".join(
        b"\x00" + b"".join(b"\xff\x00\x00" if 8 <= x < 24 and 8 <= y < 24 else b"\xff\xff\xff"
                           for x in range(size))
        for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


async def test_chat_with_image(client: OllamaClient, target: Target) -> None:
    model = target.vision_model
    await require(client, model, "vision")
    image = base64.b64encode(red_square_png()).decode()
    reply = await client.chat({
        "model": model, "options": options(),
        "messages": [{"role": "user", "content": "What colour is the square?",
                      "images": [image]}],
        **await no_think(client, model)})
    check_final(reply, model)
    assert reply.message.content.strip()


async def test_generate_with_image(client: OllamaClient, target: Target) -> None:
    model = target.vision_model
    await require(client, model, "vision")
    reply = await client.generate({
        "model": model, "prompt": "Describe the image in one sentence.",
        "images": [red_square_png()], "options": options(),
        **await no_think(client, model)})
    check_final(reply, model)
    assert reply.response.strip()
