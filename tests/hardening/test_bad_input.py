"""Bad input is refused before anything is sent, naming the field.

The body checked is the body as it will be sent: after the typed objects became dicts and
the plugins normalised it (image bytes to base64, a registry's functions to tool schemas).
Anything in it that is not JSON (a set, bytes, an object), NaN or an infinity anywhere
(a ``format`` schema, an unknown option), a lone surrogate in any text or key, or runaway
nesting is an ``InvalidRequestError`` whose ``field`` is the dotted path of the value, and
the hostile server below proves that not even a connection was opened.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import enum
import json
import math
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ollama_core import (
    ChatMessage,
    ChatRequest,
    InvalidRequestError,
    OllamaClient,
    Options,
    SyncOllamaClient,
    hookimpl,
)
from ollama_core._jsoncheck import MAX_DEPTH, check_json
from tests.hostile import STREAM_HEAD, Conn, HostileServer, chunked, http_response

NAN, INF = float("nan"), float("inf")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
    "rkJggg==")

DONE = {"model": "m", "created_at": "2026-01-01T00:00:00Z", "done": True,
        "done_reason": "stop", "message": {"role": "assistant", "content": "ok"},
        "response": "ok", "embeddings": [[0.0]], "status": "success"}


def strict_json(raw: bytes) -> Any:
    """JSON as Go reads it: NaN, Infinity and lone surrogates are errors."""
    def refuse(name: str) -> Any:
        raise ValueError(f"not JSON: {name}")

    text = raw.decode("utf-8")  # strict: a surrogate encoded by surrogatepass fails here
    return json.loads(text, parse_constant=refuse)


async def answer(conn: Conn) -> None:
    """Answers every request like Ollama would, plain or streamed, after checking that
    its body is strict JSON."""
    while (request := await conn.read_request()) is not None:
        body = strict_json(request.body) if request.body else {}
        if body.get("stream", True) and request.path != "/api/embed":
            line = json.dumps(DONE).encode() + b"\n"
            await conn.send(STREAM_HEAD + chunked(line))
        else:
            await conn.send(http_response(200, DONE))


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    async with HostileServer(answer) as hostile:
        yield hostile


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}


class Unserializable:
    pass


#: (method, request, field named by the error, words of the message)
CASES: list[tuple[str, Any, str, str]] = [
    ("chat", chat(messages=[{"role": "user", "content": "caf\u00e9 \ud800"}]),
     "messages.0.content", "lone surrogate (U+D800)"),
    ("chat", chat(format={"type": "object", "properties": {
        "x": {"type": "number", "minimum": NAN}}}),
     "format.properties.x.minimum", "NaN"),
    ("chat", chat(format={"type": "object", "properties": {
        "x": {"type": "number", "maximum": -INF}}}),
     "format.properties.x.maximum", "-Infinity"),
    ("chat", chat(format={"type": "object", "required": {"x"}}), "format.required", "set"),
    ("chat", chat(options={"temperature": 0.1, "mirostat_tau": INF}),
     "options.mirostat_tau", "Infinity"),
    ("chat", chat(options={"stop": ["a"], "custom": {"a", "b"}}), "options.custom", "set"),
    ("chat", chat(options={"custom": b"raw"}), "options.custom", "bytes"),
    ("chat", chat(options={"custom": Unserializable()}), "options.custom",
     "Unserializable value is not JSON"),
    ("chat", chat(options={1: 2}), "options.1", "keys must be strings"),
    ("chat", chat(messages=[{"role": "user", "content": "hi", "x\udcff": 1}]),
     "messages.0.x\\udcff", "lone surrogate (U+DCFF)"),
    ("chat", chat(tools=[{"type": "function", "function": {
        "name": "f", "description": "d\udc80", "parameters": {"type": "object"}}}]),
     "tools.0.function.description", "lone surrogate"),
    ("chat", chat(extra_field=[1, 2, [3, NAN]]), "extra_field.2.1", "NaN"),
    ("generate", {"model": "m", "prompt": "hi", "draft": {"ids": [1] * 100 + [NAN]}},
     "draft.ids.100", "NaN"),
    ("generate", {"model": "m", "prompt": "x\ud83d"}, "prompt", "lone surrogate (U+D83D)"),
    ("generate", {"model": "m", "prompt": "hi", "options": {"seed": 1, "x": math.nan}},
     "options.x", "NaN"),
    ("embed", {"model": "m", "input": ["ok"] * 50 + ["bad\ud800"]}, "input.50",
     "lone surrogate"),
    ("embed", {"model": "m", "input": "hi", "dimensions": 3, "truncate": True,
               "options": {"custom": {1.5}}}, "options.custom", "set"),
    ("embeddings", {"model": "m", "prompt": "hi", "options": {"x": -INF}}, "options.x",
     "-Infinity"),
    ("create_model", {"model": "m", "from": "base", "parameters": {"temperature": NAN}},
     "parameters.temperature", "NaN"),
    ("create_model", {"model": "m", "from": "base", "system": "\udfff"}, "system",
     "lone surrogate"),
]


def _nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"p": schema}}
    return schema


@pytest.mark.parametrize(("method", "request_", "field", "words"), CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
async def test_bad_values_are_refused_naming_the_field_and_nothing_is_sent(
        server: HostileServer, method: str, request_: Any, field: str, words: str) -> None:
    async with OllamaClient(server.url, plugins=[]) as client:
        with pytest.raises(InvalidRequestError) as info:
            await getattr(client, method)(request_)
        assert info.value.field == field
        assert words in str(info.value), str(info.value)
        assert field in str(info.value)
        str(info.value).encode("utf-8")  # the message itself is printable
    assert server.connections == 0 and server.requests == []


@pytest.mark.parametrize("method", ["chat_stream", "generate_stream"])
async def test_streams_are_refused_when_made_not_when_read(server: HostileServer,
                                                           method: str) -> None:
    body = chat(options={"x": NAN}) if method == "chat_stream" else \
        {"model": "m", "prompt": "hi", "format": {"minimum": NAN}}
    async with OllamaClient(server.url, plugins=[]) as client:
        with pytest.raises(InvalidRequestError) as info:
            getattr(client, method)(body)
        assert info.value.field in ("options.x", "format.minimum")
    assert server.connections == 0


async def test_typed_requests_are_checked_the_same(server: HostileServer) -> None:
    request = ChatRequest(model="m", messages=[ChatMessage(role="user", content="hi")],
                          options=Options(extra={"tfs_z": NAN}),
                          format={"type": "object", "properties": {"n": {"maximum": INF}}})
    async with OllamaClient(server.url, plugins=[]) as client:
        with pytest.raises(InvalidRequestError) as info:
            await client.chat(request)
    # Both are bad; the first one in body order is named, every one is not needed.
    assert info.value.field in ("options.tfs_z", "format.properties.n.maximum")
    assert server.connections == 0


def test_a_typed_requests_own_validate_makes_the_same_check() -> None:
    request = ChatRequest(model="m", format={"type": "object", "minimum": NAN})
    with pytest.raises(InvalidRequestError) as info:
        request.validate()
    assert info.value.field == "format.minimum"


async def test_runaway_nesting_is_refused_and_the_deepest_allowed_is_sent(
        server: HostileServer) -> None:
    async with OllamaClient(server.url, plugins=[]) as client:
        with pytest.raises(InvalidRequestError, match=f"deeper than {MAX_DEPTH}") as info:
            await client.chat(chat(format=_nested(MAX_DEPTH)))
        assert info.value.field is not None and info.value.field.startswith("format.properties")
        assert server.connections == 0
        # Two levels for "format" and the schema's own object: the limit counts from the body.
        await client.chat(chat(format=_nested(MAX_DEPTH // 2 - 2)))
    assert len(server.requests) == 1


async def test_the_check_sees_the_body_after_plugins_normalised_it(
        server: HostileServer) -> None:
    """Image bytes become base64 in vision_support's prepare hook, so they pass; a value a
    plugin adds is checked too (the check runs on the final body)."""

    class AddsNaN:
        name = "adds_nan"

        @hookimpl
        def ollama_prepare_request(self, endpoint: str, body: dict[str, Any]) -> None:
            body.setdefault("options", {})["plugin_knob"] = NAN

    async with OllamaClient(server.url, plugins=["vision_support"]) as client:
        await client.chat(chat(messages=[{"role": "user", "content": "what?",
                                          "images": [PNG]}]))
        sent = server.requests[-1].json()
        assert sent["messages"][0]["images"] == [base64.b64encode(PNG).decode()]
        client.add_plugin(AddsNaN())
        with pytest.raises(InvalidRequestError) as info:
            await client.chat(chat())
        assert info.value.field == "options.plugin_knob"
    assert len(server.requests) == 1


class Color(str, enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


async def test_json_compatible_values_still_pass(server: HostileServer) -> None:
    """Subclasses the encoder writes as their base type, tuples, huge finite floats and
    non-ASCII text are JSON: they are sent, and the server reads strict JSON."""
    async with OllamaClient(server.url, plugins=[]) as client:
        await client.chat(chat(
            messages=[{"role": "user", "content": "caf\u00e9 \u4e2d\u6587 \U0001F600"}],
            format={"type": "object", "properties": {"c": {"enum": (Color.RED, "blue")}},
                    "x-order": collections.OrderedDict(a=1, b=2)},
            options={"seed": Level.HIGH, "custom": 1.7976931348623157e308,
                     "huge": [1e308] * 40}))
        await client.generate({"model": "m", "prompt": "hi", "context": list(range(5000))})
        await client.embed({"model": "m", "input": ["x"] * 100})
    assert len(server.requests) == 3
    sent = server.requests[0].json()
    assert sent["format"]["properties"]["c"]["enum"] == ["red", "blue"]
    assert sent["options"]["seed"] == 3


def test_the_sync_client_refuses_the_same() -> None:
    with SyncOllamaClient("http://127.0.0.1:1", plugins=[]) as client:
        with pytest.raises(InvalidRequestError) as info:
            client.chat(chat(options={"x": NAN}))
        assert info.value.field == "options.x"


@pytest.mark.parametrize(("value", "field"), [
    ({"a": [{"b": {"c": NAN}}]}, "a.0.b.c"),
    ([1, 2, (3, {4})], "2.1"),
    ({"a": frozenset()}, "a"),
    ({"a": bytearray(b"x")}, "a"),
    ({"a": memoryview(b"x")}, "a"),
    ({"a": 1 + 2j}, "a"),
    ({"a\nb": INF}, "a\\nb"),
    ({"a": [1.0] * 20 + [None, NAN]}, "a.21"),  # the C-speed pass then the item walk
    ({"a": [1e308] * 40 + [-INF]}, "a.40"),  # an overflowing sum is cleared item by item
])
def test_check_json_paths(value: Any, field: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        check_json(value)
    assert info.value.field == field
    assert info.value.errors == {field: [str(info.value).split(": ", 2)[2]]}


def test_check_json_accepts_the_top_level_scalars_and_empty_containers() -> None:
    for value in ({}, [], (), "", 0, 0.5, True, None, {"a": []}, [[[]]],
                  [1e308, 1e308] * 20):
        check_json(value)


async def test_nothing_leaks_when_refused(server: HostileServer) -> None:
    """Refusals leave no task and no socket behind."""
    before = len(asyncio.all_tasks())
    async with OllamaClient(server.url, plugins=["retry", "circuit_breaker"]) as client:
        for _ in range(20):
            with pytest.raises(InvalidRequestError):
                await client.chat(chat(options={"x": NAN}))
        # The breaker did not count the caller's mistakes as failures.
        await client.chat(chat())
    assert len(asyncio.all_tasks()) == before
    assert len(server.requests) == 1
