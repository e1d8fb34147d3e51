"""Hostile JSON: answers that are valid HTTP but not what the endpoint answers.

JSON nested a hundred thousand levels deep, ``[]``, ``"x"``, ``null`` or nothing where a
JSON object is due, a ``/api/version`` answer without ``version``: each raises a
``DecodeError`` naming the endpoint with an excerpt, on plain bodies and stream lines
alike (a stream line's is ``MalformedLineError``, a ``DecodeError`` too), and never a
``RecursionError``, ``AttributeError``, ``KeyError`` or ``TypeError`` -- not in the
transport, the typed ``from_dict`` or the plugins that read bodies.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ollama_core import (
    ChatResponse,
    DecodeError,
    EmbedResponse,
    EmbeddingsResponse,
    FakeClock,
    GenerateResponse,
    MalformedLineError,
    ModelInfo,
    OllamaClient,
    ProgressResponse,
    RunningModelsResponse,
    ServerError,
    StreamError,
    TagsResponse,
)
from ollama_core import _types
from ollama_core._shapes import SHAPES, decode_body
from ollama_plugins.request_caching import merge_stream
from ollama_plugins.tool_calling import ToolCallAccumulator, ToolRegistry
from tests.hostile import STREAM_HEAD, Conn, HostileServer, chunked, http_response

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000

# Bodies that are not a JSON object, with what the error must say about them.
NOT_OBJECTS = {
    "100000-deep array": (DEEP, "nested too deeply"),
    "100000-deep object": (DEEP_OBJECT, "nested too deeply"),
    "array": (b"[]", "is an array"),
    "string": (b'"x"', "is a string"),
    "null": (b"null", "is null"),
    "number": (b"42", "is a number"),
    "empty": (b"", "is empty"),
    "blank": (b" \r\n ", "is empty"),
    "html": (b"<html><body>Welcome to nginx!</body></html>", "not valid JSON"),
    "invalid utf-8": (b'{"models": "\xff\xfe"}', "not valid JSON"),
    "truncated": (b'{"models": [', "not valid JSON"),
}

Call = Callable[[OllamaClient], Awaitable[Any]]

PLAIN_CALLS: dict[str, tuple[str, Call]] = {
    "tags": ("tags", lambda c: c.list_models()),
    "ps": ("ps", lambda c: c.list_running()),
    "show": ("show", lambda c: c.model_info("m")),
    "embed": ("embed", lambda c: c.embed({"model": "m", "input": "x"})),
    "embeddings": ("embeddings", lambda c: c.embeddings({"model": "m", "prompt": "x"})),
    "version": ("version", lambda c: c.version()),
}


def answer(body: bytes, *, status: int = 200, times: int = 1_000) -> Callable[[Conn], Awaitable[None]]:
    async def handler(conn: Conn) -> None:
        for _ in range(times):
            if await conn.read_request() is None:
                return
            await conn.send(http_response(status, body))
    return handler


def stream_of(*lines: bytes) -> Callable[[Conn], Awaitable[None]]:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD + chunked(*(line + b"\n" for line in lines)))
    return handler


def assert_names_endpoint(error: DecodeError, endpoint: str, body: bytes) -> None:
    assert error.endpoint == endpoint
    assert str(error).startswith(f"{endpoint}: ")
    assert error.excerpt == body[:200].decode("utf-8", "replace")[:200]
    assert len(error.excerpt) <= 200
    assert repr(error.excerpt[:20])[1:-1] in str(error) or not error.excerpt.strip()


# -- plain bodies ----------------------------------------------------------------------------

@pytest.mark.parametrize("body,words", NOT_OBJECTS.values(), ids=NOT_OBJECTS.keys())
@pytest.mark.parametrize("call", PLAIN_CALLS.values(), ids=PLAIN_CALLS.keys())
async def test_a_plain_body_that_is_not_an_object_is_a_decode_error(
        call: tuple[str, Call], body: bytes, words: str) -> None:
    endpoint, make = call
    async with HostileServer(answer(body)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            with pytest.raises(DecodeError) as info:
                await make(client)
    assert words in str(info.value)
    assert not isinstance(info.value, StreamError)  # a plain body is no stream
    assert_names_endpoint(info.value, endpoint, body)


@pytest.mark.parametrize("body", [b"{}", b'{"version": 12}', b'{"version": null}',
                                  b'{"Version": "0.12.0"}'])
async def test_a_version_answer_without_a_version_is_a_decode_error(body: bytes) -> None:
    async with HostileServer(answer(body)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            with pytest.raises(DecodeError, match="has no str 'version'") as info:
                await client.version()
    assert_names_endpoint(info.value, "version", body)


async def test_a_good_version_answer_still_works() -> None:
    async with HostileServer(answer(b'{"version": "0.12.0"}')) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            assert await client.version() == "0.12.0"


@pytest.mark.parametrize("body", [b"", b"null", b"{}", b'{"status": "success"}'])
async def test_copy_and_delete_accept_their_empty_answer(body: bytes) -> None:
    async with HostileServer(answer(body)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            assert await client.copy_model("a", "b") is None
            assert await client.delete_model("b") is None


async def test_copy_refuses_an_answer_that_is_not_json() -> None:
    async with HostileServer(answer(b"<html>oops</html>")) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            with pytest.raises(DecodeError, match="^copy: ") as info:
                await client.copy_model("a", "b")
    assert info.value.endpoint == "copy"


def test_the_expected_shapes_are_one_table() -> None:
    assert SHAPES["copy"].kind == SHAPES["delete"].kind == "empty"
    assert SHAPES["signout"].kind == "null_or_object"
    assert decode_body("signout", b"null") is None
    assert decode_body("signout", b"") is None
    assert decode_body("signout", b'{"ok": true}') == {"ok": True}
    with pytest.raises(DecodeError, match="expected null or a JSON object"):
        decode_body("signout", b"[]")
    # An endpoint the table does not know may answer any JSON, but JSON it must be.
    assert decode_body("custom", b"[1, 2]") == [1, 2]
    with pytest.raises(DecodeError, match="nested too deeply"):
        decode_body("custom", DEEP)


async def test_an_error_status_with_a_hostile_body_keeps_its_status() -> None:
    async with HostileServer(answer(DEEP, status=500)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            with pytest.raises(ServerError) as info:
                await client.list_models()
    assert info.value.status_code == 500


# -- stream lines ----------------------------------------------------------------------------

LINE = b'{"model":"m","message":{"role":"assistant","content":"a"},"done":false}'

BAD_LINES = {
    "100000-deep array": (DEEP, "nested too deeply"),
    "100000-deep object": (DEEP_OBJECT, "nested too deeply"),
    "array": (b"[]", "not a JSON object"),
    "string": (b'"x"', "not a JSON object"),
    "null": (b"null", "not a JSON object"),
    "html": (b"<html>", "not valid JSON"),
}


@pytest.mark.parametrize("bad,words", BAD_LINES.values(), ids=BAD_LINES.keys())
async def test_a_stream_line_that_is_not_an_object_is_a_malformed_line(
        bad: bytes, words: str) -> None:
    async with HostileServer(stream_of(LINE, bad)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            seen = []
            with pytest.raises(MalformedLineError) as info:
                async for chunk in client.chat_stream({"model": "m", "messages": []}):
                    seen.append(chunk.content)
    assert seen == ["a"]
    error = info.value
    assert isinstance(error, DecodeError) and isinstance(error, StreamError)
    assert words in str(error) and error.line_number == 2
    assert str(error).startswith("chat: stream line 2 ")
    assert error.endpoint == "chat" and error.excerpt == bad[:200].decode()


@pytest.mark.parametrize("bad", [DEEP, b"[]", b"null"], ids=["deep", "array", "null"])
async def test_a_plain_generation_with_a_hostile_line_is_a_decode_error(bad: bytes) -> None:
    # Plain chat and generate go on the wire as streams and are folded in the transport.
    async with HostileServer(stream_of(LINE, bad)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            with pytest.raises(DecodeError) as info:
                await client.chat({"model": "m", "messages": []})
    assert info.value.endpoint == "chat"


@pytest.mark.parametrize("bad", [DEEP, b"[]", b"null"], ids=["deep", "array", "null"])
async def test_a_plain_wire_generation_with_a_hostile_body_is_a_decode_error(bad: bytes) -> None:
    async with HostileServer(answer(bad)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10,
                                stream_on_wire=False) as client:
            with pytest.raises(DecodeError) as info:
                await client.generate({"model": "m", "prompt": "x"})
    assert info.value.endpoint == "generate" and not isinstance(info.value, StreamError)


# -- typed decoding --------------------------------------------------------------------------

HOSTILE_VALUES: list[Any] = [
    None, 0, -1, 1.5, True, "x", "", [], [1], ["x"], [None], [[1]], {}, {"a": 1}, [{}],
    [{"a": 1}], {"function": 5}, [{"function": 5}], [{"function": "x"}],
    [{"function": {"name": 5, "arguments": "x"}}], {"role": 5, "content": 5},
    {"tool_calls": 5}, {"tool_calls": [1]}, {"tool_calls": [{"function": []}]},
    [{"top_logprobs": 5}], [{"top_logprobs": [1, "x"]}], {"details": 5},
    [{"details": 5}], [{"details": [1]}], {"images": 5}, {"messages": 5},
]
RESPONSE_CLASSES = [ChatResponse, GenerateResponse, EmbedResponse, EmbeddingsResponse,
                    ProgressResponse, TagsResponse, RunningModelsResponse, ModelInfo,
                    _types.ChatMessage, _types.ToolCall, _types.ToolCallFunction,
                    _types.Logprob, _types.TokenLogprob, _types.ModelEntry,
                    _types.ModelDetails]


@pytest.mark.parametrize("cls", RESPONSE_CLASSES, ids=lambda c: c.__name__)
def test_typed_decoding_never_fails_on_a_json_object(cls: type[Any]) -> None:
    keys = {key for _, key in cls._KEYS} | {"message", "logprobs", "tool_calls", "models",
                                             "details", "messages", "top_logprobs",
                                             "function", "extra", "from"}
    checked = 0
    for key in sorted(keys):
        for value in HOSTILE_VALUES:
            obj = cls.from_dict({key: value})
            obj.to_dict()
            for prop in ("metrics", "content", "fraction"):
                if hasattr(type(obj), prop):
                    metrics = getattr(obj, prop)
                    if prop == "metrics":
                        (metrics.tokens_per_second, metrics.prompt_tokens_per_second,
                         metrics.total_seconds, metrics.load_seconds,
                         metrics.prompt_eval_seconds, metrics.eval_seconds)
            checked += 1
    assert checked == len(keys) * len(HOSTILE_VALUES)


def test_metrics_of_hostile_figures_are_absent_not_errors() -> None:
    chunk = ChatResponse.from_dict({"done": True, "eval_count": "many", "eval_duration": "1s",
                                    "total_duration": True, "prompt_eval_count": [1],
                                    "prompt_eval_duration": 5})
    assert chunk.metrics.tokens_per_second is None
    assert chunk.metrics.total_seconds is None
    assert chunk.metrics.prompt_tokens_per_second is None
    assert ProgressResponse.from_dict({"total": "x", "completed": 5}).fraction is None
    assert ProgressResponse.from_dict({"total": 10, "completed": "x"}).fraction == 0.0


# -- plugins that read bodies ----------------------------------------------------------------

@pytest.mark.parametrize("body", [b"[]", b"null", DEEP, b""], ids=["array", "null", "deep", "empty"])
async def test_request_caching_never_caches_a_hostile_answer(body: bytes) -> None:
    async with HostileServer(answer(body)) as server:
        async with OllamaClient(server.url, plugins=["request_caching"], timeout=10) as client:
            for _ in range(2):
                with pytest.raises(DecodeError):
                    await client.model_info("m")
    assert len(server.requests) == 2  # asked again: nothing was stored


async def test_request_caching_stores_deep_but_parseable_answers_safely() -> None:
    nested = {"models": []}
    inner: Any = nested
    for _ in range(200):
        inner["x"] = {}
        inner = inner["x"]
    body = json.dumps(nested).encode()
    async with HostileServer(answer(body)) as server:
        async with OllamaClient(server.url, plugins=["request_caching"], timeout=10) as client:
            first = await client.model_info("m")
            second = await client.model_info("m")
    assert first.to_dict() == second.to_dict()
    assert len(server.requests) == 1


MALFORMED_CALLS = [5, "x", [1], [None], [{"function": 5}], [{"function": []}],
                   [{"function": {"name": 5}}], [{"function": {"name": "add", "arguments": 5}}],
                   [{"function": {"name": "add", "arguments": [1]}}]]


@pytest.mark.parametrize("calls", MALFORMED_CALLS, ids=[repr(c)[:30] for c in MALFORMED_CALLS])
async def test_tool_calling_reports_malformed_tool_calls_to_the_model(calls: Any) -> None:
    registry = ToolRegistry()

    @registry.register
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    body = {"model": "m", "message": {"role": "assistant", "content": "",
                                      "tool_calls": calls}, "done": True}
    line = json.dumps(body).encode()
    async with HostileServer(stream_of(line)) as server:
        async with OllamaClient(server.url, plugins=[], timeout=10) as client:
            reply = await client.chat({"model": "m", "messages": []})
    results = await registry.execute_tool_calls(reply)
    assert results.errors, "a malformed call must be reported, not run"
    assert all(m.content.startswith("error: ") for m in results)
    # The same from the wire dict itself.
    again = await registry.execute_tool_calls(body)
    assert [m.content for m in again] == [m.content for m in results]


@pytest.mark.parametrize("calls", MALFORMED_CALLS, ids=[repr(c)[:30] for c in MALFORMED_CALLS])
async def test_the_tool_call_accumulator_takes_hostile_chunks(calls: Any) -> None:
    registry = ToolRegistry()
    registry.register(lambda a, b: a + b, name="add")
    acc = ToolCallAccumulator()
    acc.add({"message": {"role": "assistant", "content": 5, "thinking": ["x"],
                         "tool_calls": calls}})
    acc.add({"message": {"role": "assistant", "content": "ok"}, "done": True})
    assert acc.content == "ok" and acc.thinking == ""
    message = acc.message()
    assert message.tool_calls  # kept, not dropped
    results = await registry.execute_tool_calls(message)
    assert results.errors and all(m.content.startswith("error: ") for m in results)


def test_request_caching_merges_hostile_recorded_lines() -> None:
    lines = [{"message": {"role": "assistant", "content": 5, "tool_calls": 5}, "logprobs": 5},
             {"message": {"role": "assistant", "content": "a", "tool_calls": [{"x": 1}]},
              "logprobs": [{"token": "a"}], "done": True}]
    merged = merge_stream(lines)
    assert merged["message"]["content"] == "a"
    assert merged["message"]["tool_calls"] == [{"x": 1}]
    assert merged["logprobs"] == [{"token": "a"}]


async def test_policies_treat_a_decode_error_as_a_final_wrong_answer() -> None:
    # Not retried and not moved on from (the server answered; asking again gets the same
    # answer), but counted by the breaker: a server answering garbage is not healthy.
    async with HostileServer(answer(b"[]")) as one, HostileServer(answer(b"[]")) as two:
        config = {"retry": {"base_delay": 0.01},
                  "failover": {"endpoints": [one.url, two.url]},
                  "circuit_breaker": {"fail_max": 1}}
        async with OllamaClient(one.url, plugins=["retry", "failover", "circuit_breaker"],
                                plugin_config=config,
                                clock=FakeClock(autoadvance=True)) as client:
            with pytest.raises(DecodeError):
                await client.list_models()
            assert client.plugin("retry").stats.retries == 0
            assert client.plugin("circuit_breaker").state(endpoint="tags",
                                                          upstream=one.url) == "open"
    assert len(one.requests) == 1 and two.requests == []
