"""/api/generate, /api/chat, /api/embed and /api/embeddings: shapes and error cases."""

from __future__ import annotations

import base64
import json
import math
import re
import time
from typing import Any

import pytest

pytestmark = pytest.mark.asyncio

CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
METRICS = (
    "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
    "eval_count", "eval_duration",
)
IMAGE = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image").decode()
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
                "detailed": {"type": "boolean"},
                "optional_note": {"type": "string"},
            },
            "required": ["city", "unit", "days", "detailed"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}},
                       "required": ["zone"]},
    },
}


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"role": "user", "content": text, **extra}


def check_partial(chunk: dict[str, Any], model: str) -> None:
    assert chunk["model"] == model
    assert CREATED_AT.match(chunk["created_at"])
    assert chunk["done"] is False
    assert not any(key in chunk for key in METRICS)  # F1: partial chunks carry no metrics


def check_final(chunk: dict[str, Any], reason: str = "stop") -> None:
    assert chunk["done"] is True
    assert chunk["done_reason"] == reason
    for key in METRICS:
        assert isinstance(chunk[key], int) and chunk[key] > 0, key


# ---------------------------------------------------------------------- generate


async def test_generate_streams_by_default(api: Any) -> None:
    reply = await api.post("/api/generate", {"model": "llama3.2", "prompt": "why is the sky blue"})
    assert reply.status == 200
    assert reply.content_type == "application/x-ndjson"
    assert reply.raw.endswith(b"\n")
    *partials, final = reply.lines
    for chunk in partials:
        check_partial(chunk, "llama3.2")
    assert [c["response"] for c in partials] == ["Echo: ", "why ", "is ", "the ", "sky ", "blue"]
    check_final(final)
    assert final["response"] == ""
    assert final["eval_count"] == len(partials)
    assert all(isinstance(t, int) for t in final["context"]) and final["context"]


async def test_generate_stream_false_is_one_object(api: Any) -> None:
    reply = await api.post(
        "/api/generate", {"model": "llama3.2", "prompt": "hello world", "stream": False}
    )
    assert reply.content_type == "application/json; charset=utf-8"
    body = reply.json()
    assert body["response"] == "Echo: hello world"
    assert body["model"] == "llama3.2"
    check_final(body)
    assert isinstance(body["context"], list)


async def test_generate_is_deterministic(api: Any) -> None:
    request = {"model": "llama3.2", "prompt": "same input", "stream": False}
    one = (await api.post("/api/generate", request)).json()
    two = (await api.post("/api/generate", request)).json()
    for key in ("response", "context", *METRICS):
        assert one[key] == two[key]


async def test_generate_go_json_escaping(api: Any) -> None:
    reply = await api.post(
        "/api/generate", {"model": "llama3.2", "prompt": "<b>&ü", "stream": False}
    )
    assert b"\\u003cb\\u003e\\u0026\xc3\xbc" in reply.raw  # HTML-escaped, UTF-8 kept raw
    assert reply.json()["response"] == "Echo: <b>&ü"


async def test_generate_load_and_unload(api: Any) -> None:
    load = await api.post("/api/generate", {"model": "llama3.2"})
    assert load.content_type == "application/json; charset=utf-8"  # even though streaming
    body = load.json()
    assert set(body) == {"model", "created_at", "response", "done", "done_reason"}
    assert (body["response"], body["done"], body["done_reason"]) == ("", True, "load")
    unload = (await api.post("/api/generate", {"model": "llama3.2", "keep_alive": 0})).json()
    assert unload["done_reason"] == "unload"


async def test_generate_num_predict_and_stop(api: Any) -> None:
    reply = await api.post(
        "/api/generate",
        {"model": "llama3.2", "prompt": "a", "options": {"num_predict": 5}},
    )
    *partials, final = reply.lines
    assert [c["response"] for c in partials] == ["Echo: ", "a ", "tok2 ", "tok3 ", "tok4 "]
    check_final(final, "length")
    cut = await api.post(
        "/api/generate",
        {"model": "llama3.2", "prompt": "one two three", "options": {"num_predict": 2},
         "stream": False},
    )
    assert cut.json()["response"] == "Echo: one "
    assert cut.json()["done_reason"] == "length"
    stopped = await api.post(
        "/api/generate",
        {"model": "llama3.2", "prompt": "one two three", "options": {"stop": ["two"]},
         "stream": False},
    )
    assert stopped.json()["response"] == "Echo: one "
    assert stopped.json()["done_reason"] == "stop"


async def test_generate_fifty_thousand_chunks_fast(api: Any) -> None:
    start = time.perf_counter()
    reply = await api.post(
        "/api/generate", {"model": "llama3.2", "prompt": "go", "options": {"num_predict": 50_000}}
    )
    elapsed = time.perf_counter() - start
    lines = reply.raw.splitlines()
    assert len(lines) == 50_001
    assert json.loads(lines[-1])["eval_count"] == 50_000
    assert elapsed < 3.0  # typically ~0.3 s including the client reading it


async def test_generate_thinking(api: Any) -> None:
    reply = await api.post("/api/generate", {"model": "qwen3", "prompt": "count to three"})
    chunks = reply.lines[:-1]
    thinking = [c for c in chunks if c.get("thinking")]
    answer = [c for c in chunks if c["response"]]
    assert thinking and answer
    assert chunks.index(thinking[-1]) < chunks.index(answer[0])  # thinking first
    assert all(c["response"] == "" for c in thinking)
    off = await api.post(
        "/api/generate", {"model": "qwen3", "prompt": "x", "think": False, "stream": False}
    )
    assert "thinking" not in off.json()
    level = await api.post(
        "/api/generate", {"model": "qwen3", "prompt": "x", "think": "high", "stream": False}
    )
    assert "high" in level.json()["thinking"]


async def test_generate_raw_has_no_context(api: Any) -> None:
    body = (await api.post(
        "/api/generate", {"model": "llama3.2", "prompt": "x", "raw": True, "stream": False}
    )).json()
    assert "context" not in body


async def test_generate_suffix_needs_insert(api: Any) -> None:
    refused = await api.post(
        "/api/generate", {"model": "llama3.2", "prompt": "def f(", "suffix": "return 1"}
    )
    assert refused.status == 400
    assert refused.json() == {
        "error": "registry.ollama.ai/library/llama3.2:latest does not support insert"
    }
    await api.post("/api/pull", {"model": "qwen2.5-coder", "stream": False})
    body = (await api.post(
        "/api/generate",
        {"model": "qwen2.5-coder", "prompt": "def f(", "suffix": "return 1", "stream": False},
    )).json()
    assert "return 1" in body["response"]


async def test_generate_images(api: Any) -> None:
    body = (await api.post(
        "/api/generate",
        {"model": "llava", "prompt": "what is this", "images": [IMAGE, IMAGE], "stream": False},
    )).json()
    assert body["response"].startswith("I see 2 images.")
    refused = await api.post(
        "/api/generate", {"model": "llama3.2", "prompt": "x", "images": [IMAGE]}
    )
    assert refused.status == 500
    assert "missing data required for image input" in refused.json()["error"]
    bad = await api.post("/api/generate", {"model": "llava", "prompt": "x", "images": ["abc$"]})
    assert (bad.status, bad.json()) == (400, {"error": "illegal base64 data at input byte 3"})


async def test_generate_logprobs(api: Any) -> None:
    reply = await api.post(
        "/api/generate",
        {"model": "llama3.2", "prompt": "hi", "logprobs": True, "top_logprobs": 3},
    )
    partials = reply.lines[:-1]
    for chunk in partials:
        (entry,) = chunk["logprobs"]
        assert entry["token"] == chunk["response"]
        assert entry["logprob"] < 0
        assert entry["bytes"] == list(chunk["response"].encode())
        assert len(entry["top_logprobs"]) == 3
    joined = await api.post(
        "/api/generate", {"model": "llama3.2", "prompt": "hi", "logprobs": True, "stream": False}
    )
    assert [e["token"] for e in joined.json()["logprobs"]] == ["Echo: ", "hi"]


@pytest.mark.parametrize(
    ("request_body", "status", "error"),
    [
        ({"model": "", "prompt": "x"}, 404, "model '' not found"),
        ({"prompt": "x"}, 404, "model '' not found"),
        ({"model": "nope", "prompt": "x"}, 404, "model 'nope' not found"),
        ({"model": "bad name!", "prompt": "x"}, 400, "invalid model name"),
        ({"model": "llama3.2", "prompt": "x", "top_logprobs": 21}, 400,
         "top_logprobs must be between 0 and 20"),
        ({"model": "llama3.2", "prompt": "x", "think": True}, 400,
         '"llama3.2" does not support thinking'),
        ({"model": "llama3.2", "prompt": "x", "think": "extreme"}, 400,
         'invalid think value: "extreme" (must be "high", "medium", "low", "max", true, or false)'),
        ({"model": "all-minilm", "prompt": "x"}, 400, '"all-minilm" does not support generate'),
        ({"model": "llama3.2", "prompt": "x", "raw": True, "system": "s"}, 400,
         "raw mode does not support template, system, or context"),
        ({"model": "llama3.2", "prompt": "x", "keep_alive": True}, 400, "Unsupported type: 'bool'"),
        ({"model": "llama3.2", "prompt": "x", "keep_alive": "5"}, 400,
         'time: missing unit in duration "5"'),
        ({"model": "llama3.2", "prompt": 5}, 400,
         "json: cannot unmarshal number into Go struct field GenerateRequest.prompt"
         " of type string"),
        ({"model": "llama3.2", "prompt": "x", "format": "yaml"}, 500,
         'invalid format: "\\"yaml\\""; expected "json" or a valid JSON Schema object'),
        ({"model": "llama3.2", "prompt": "x", "options": {"num_predict": "many"}}, 500,
         'option "num_predict" must be of type integer'),
    ],
)
async def test_generate_errors(api: Any, request_body: Any, status: int, error: str) -> None:
    reply = await api.post("/api/generate", request_body)
    assert reply.status == status
    assert reply.content_type == "application/json; charset=utf-8"
    assert reply.json() == {"error": error}


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "missing request body"),
        (b"   ", "missing request body"),
        (b"{bad", "invalid character 'b' looking for beginning of object key string"),
        (b'{"model": "llama3.2"', "unexpected EOF"),
        (b"[1]", "json: cannot unmarshal array into Go value of type api.GenerateRequest"),
    ],
)
async def test_generate_body_errors(api: Any, raw: bytes, error: str) -> None:
    reply = await api.post("/api/generate", data=raw)
    assert (reply.status, reply.json()) == (400, {"error": error})


# -------------------------------------------------------------------------- chat


async def test_chat_stream(api: Any) -> None:
    reply = await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": [{"role": "system", "content": "be brief"},
                                           user("tell me a joke")]},
    )
    assert reply.content_type == "application/x-ndjson"
    *partials, final = reply.lines
    for chunk in partials:
        check_partial(chunk, "llama3.2")
        assert chunk["message"]["role"] == "assistant"
    assert "".join(c["message"]["content"] for c in partials) == "Echo: tell me a joke"
    check_final(final)
    assert final["message"] == {"role": "assistant", "content": ""}
    assert "context" not in final


async def test_chat_stream_false(api: Any) -> None:
    body = (await api.post(
        "/api/chat", {"model": "llama3.2", "messages": [user("hi")], "stream": False}
    )).json()
    assert body["message"] == {"role": "assistant", "content": "Echo: hi"}
    check_final(body)


async def test_chat_answers_last_user_message(api: Any) -> None:
    messages = [user("first"), {"role": "assistant", "content": "Echo: first"}, user("second")]
    body = (await api.post(
        "/api/chat", {"model": "llama3.2", "messages": messages, "stream": False}
    )).json()
    assert body["message"]["content"] == "Echo: second"


async def test_chat_load_and_unload(api: Any) -> None:
    load = (await api.post("/api/chat", {"model": "llama3.2", "messages": []})).json()
    assert load["message"] == {"role": "assistant", "content": ""}
    assert (load["done"], load["done_reason"]) == (True, "load")
    unload = (await api.post(
        "/api/chat", {"model": "llama3.2", "messages": [], "keep_alive": 0}
    )).json()
    assert unload["done_reason"] == "unload"


async def test_chat_thinking_on_by_default_for_thinking_models(api: Any) -> None:
    reply = await api.post("/api/chat", {"model": "qwen3", "messages": [user("hi")]})
    partials = reply.lines[:-1]
    thinking = [c["message"]["thinking"] for c in partials if "thinking" in c["message"]]
    assert "".join(thinking).startswith("Let me think")
    assert partials[0]["message"]["content"] == ""
    joined = (await api.post(
        "/api/chat", {"model": "qwen3", "messages": [user("hi")], "stream": False}
    )).json()
    assert joined["message"]["thinking"] == "".join(thinking)
    assert joined["message"]["content"] == "Echo: hi"


async def test_chat_tool_call(api: Any) -> None:
    reply = await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": [user("what's the weather in Tokyo?")],
         "tools": [WEATHER_TOOL, TIME_TOOL]},
    )
    call_chunk, final = reply.lines
    assert call_chunk["done"] is False
    assert call_chunk["message"]["content"] == ""
    (call,) = call_chunk["message"]["tool_calls"]
    assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"])
    assert call["function"]["index"] == 0
    assert call["function"]["name"] == "get_weather"  # no tool named: the first one
    assert call["function"]["arguments"]["city"] == "Paris"
    check_final(final)
    assert final["message"] == {"role": "assistant", "content": ""}


async def test_chat_tool_named_in_message_and_arguments(api: Any) -> None:
    body = (await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": [user("call get_weather please")],
         "tools": [TIME_TOOL, WEATHER_TOOL], "stream": False},
    )).json()
    (call,) = body["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == {
        "city": "Paris", "unit": "celsius", "days": 1, "detailed": True
    }
    assert body["message"]["content"] == ""
    again = (await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": [user("call get_weather please")],
         "tools": [TIME_TOOL, WEATHER_TOOL], "stream": False},
    )).json()
    assert again["message"]["tool_calls"] == body["message"]["tool_calls"]  # deterministic ids


async def test_chat_parallel_tool_calls(api: Any) -> None:
    body = (await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": [user("use get_time and get_weather")],
         "tools": [TIME_TOOL, WEATHER_TOOL], "stream": False},
    )).json()
    calls = body["message"]["tool_calls"]
    assert [(c["function"]["index"], c["function"]["name"]) for c in calls] == [
        (0, "get_time"), (1, "get_weather")
    ]
    assert len({c["id"] for c in calls}) == 2


async def test_chat_after_tool_result(api: Any) -> None:
    messages = [
        user("weather in Paris?"),
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_abc", "function": {"index": 0, "name": "get_weather",
                                            "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "11 degrees", "tool_name": "get_weather",
         "tool_call_id": "call_abc"},
    ]
    body = (await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": messages, "tools": [WEATHER_TOOL], "stream": False},
    )).json()
    assert body["message"]["content"] == "The tool said: 11 degrees."
    assert "tool_calls" not in body["message"]


async def test_chat_tools_refused_without_capability(api: Any) -> None:
    reply = await api.post(
        "/api/chat", {"model": "llava", "messages": [user("x")], "tools": [WEATHER_TOOL]}
    )
    assert reply.status == 400
    assert reply.json() == {
        "error": "registry.ollama.ai/library/llava:latest does not support tools"
    }


async def test_chat_format_json(api: Any) -> None:
    body = (await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": [user("hi")], "format": "json", "stream": False},
    )).json()
    assert json.loads(body["message"]["content"]) == {"answer": "Echo: hi"}


async def test_chat_format_schema(api: Any) -> None:
    schema = {
        "$defs": {"Pet": {"type": "object", "properties": {
            "name": {"type": "string", "minLength": 8},
            "kind": {"enum": ["cat", "dog"]},
        }, "required": ["name", "kind"]}},
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer", "minimum": 1000},
            "area": {"type": "number", "maximum": 1.0},
            "capital": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "pet": {"$ref": "#/$defs/Pet"},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "integer"}]},
            "founded": {"type": "string", "format": "date"},
        },
        "required": ["city", "population"],
    }
    reply = await api.post(
        "/api/chat", {"model": "qwen3", "messages": [user("a city")], "format": schema}
    )
    content = "".join(c["message"]["content"] for c in reply.lines)
    assert json.loads(content) == {
        "city": "Paris",
        "population": 1000,
        "area": 1.0,
        "capital": True,
        "tags": ["value", "value"],
        "pet": {"name": "valuexxx", "kind": "cat"},
        "maybe": 1,
        "founded": "2024-01-01",
    }


async def test_chat_images(api: Any) -> None:
    body = (await api.post(
        "/api/chat",
        {"model": "llava", "messages": [user("what is it", images=[IMAGE])], "stream": False},
    )).json()
    assert body["message"]["content"] == "I see 1 image. Echo: what is it"
    refused = await api.post(
        "/api/chat", {"model": "llama3.2", "messages": [user("x", images=[IMAGE])]}
    )
    assert refused.status == 500


async def test_chat_logprobs(api: Any) -> None:
    body = (await api.post(
        "/api/chat",
        {"model": "llama3.2", "messages": [user("a b")], "logprobs": True, "top_logprobs": 2,
         "stream": False},
    )).json()
    assert [e["token"] for e in body["logprobs"]] == ["Echo: ", "a ", "b"]
    assert all(len(e["top_logprobs"]) == 2 for e in body["logprobs"])


@pytest.mark.parametrize(
    ("request_body", "status", "error"),
    [
        ({"messages": [user("x")]}, 400, "model is required"),
        ({"model": "", "messages": [user("x")]}, 400, "model is required"),
        ({"model": "nope", "messages": [user("x")]}, 404, "model 'nope' not found"),
        ({"model": "bad name!", "messages": [user("x")]}, 400, "invalid model name"),
        ({"model": "nomic-embed-text", "messages": [user("x")]}, 400,
         '"nomic-embed-text" does not support chat'),
        ({"model": "llama3.2", "messages": [user("x")], "think": "low"}, 400,
         '"llama3.2" does not support thinking'),
        ({"model": "llama3.2", "messages": [user("x")], "top_logprobs": -1}, 400,
         "top_logprobs must be between 0 and 20"),
        ({"model": "llama3.2", "messages": "hi"}, 400,
         "json: cannot unmarshal string into Go struct field ChatRequest.messages"
         " of type []api.Message"),
        ({"model": "llama3.2", "messages": [{"role": "user", "content": 1}]}, 400,
         "json: cannot unmarshal number into Go struct field ChatRequest.messages.content"
         " of type string"),
        ({"model": "llama3.2", "messages": [user("x")], "stream": "yes"}, 400,
         "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool"),
        ({"model": "llama3.2", "messages": [user("x")], "format": 5}, 500,
         'invalid format: "5"; expected "json" or a valid JSON Schema object'),
    ],
)
async def test_chat_errors(api: Any, request_body: Any, status: int, error: str) -> None:
    reply = await api.post("/api/chat", request_body)
    assert (reply.status, reply.json()) == (status, {"error": error})


async def test_chat_unknown_model_is_404_even_when_streaming(api: Any) -> None:
    reply = await api.post(
        "/api/chat", {"model": "nope:7b", "messages": [user("x")], "stream": True}
    )
    assert reply.status == 404
    assert reply.content_type == "application/json; charset=utf-8"


# --------------------------------------------------------------------- embedding


async def test_embed_single_and_batch(api: Any) -> None:
    one = (await api.post("/api/embed", {"model": "all-minilm", "input": "hello"})).json()
    assert one["model"] == "all-minilm"
    (vector,) = one["embeddings"]
    assert len(vector) == 384
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)
    for key in ("total_duration", "load_duration", "prompt_eval_count"):
        assert isinstance(one[key], int) and one[key] > 0
    batch = (await api.post(
        "/api/embed", {"model": "all-minilm", "input": ["hello", "world", "hello"]}
    )).json()
    assert len(batch["embeddings"]) == 3
    assert batch["embeddings"][0] == vector == batch["embeddings"][2]
    assert batch["embeddings"][1] != vector


async def test_embed_dims_per_model_and_dimensions(api: Any) -> None:
    nomic = (await api.post("/api/embed", {"model": "nomic-embed-text", "input": "x"})).json()
    assert len(nomic["embeddings"][0]) == 768
    chat_model = (await api.post("/api/embed", {"model": "llama3.2", "input": "x"})).json()
    assert len(chat_model["embeddings"][0]) == 768
    cut = (await api.post(
        "/api/embed", {"model": "nomic-embed-text", "input": "x", "dimensions": 64}
    )).json()
    (vector,) = cut["embeddings"]
    assert len(vector) == 64
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)


async def test_embed_empty_and_errors(api: Any) -> None:
    for empty in ([], "", None):
        body = {"model": "all-minilm"} if empty is None else {"model": "all-minilm", "input": empty}
        assert (await api.post("/api/embed", body)).json() == {
            "model": "all-minilm", "embeddings": []
        }
    bad = await api.post("/api/embed", {"model": "all-minilm", "input": 5})
    assert (bad.status, bad.json()) == (400, {"error": "invalid input type"})
    mixed = await api.post("/api/embed", {"model": "all-minilm", "input": ["a", 1]})
    assert mixed.status == 400
    missing = await api.post("/api/embed", {"model": "nope", "input": "x"})
    # found missing when loading, as the server's handleScheduleError words it
    assert (missing.status, missing.json()) == (
        404, {"error": 'model "nope" not found, try pulling it first'})
    long_input = " ".join(["w"] * 600)
    refused = await api.post(
        "/api/embed", {"model": "all-minilm", "input": long_input, "truncate": False}
    )
    assert refused.status == 400
    truncated = await api.post("/api/embed", {"model": "all-minilm", "input": long_input})
    assert truncated.json()["prompt_eval_count"] == 512


async def test_embed_loads_model(api: Any) -> None:
    await api.post("/api/embed", {"model": "all-minilm", "input": "x"})
    ps = (await api.get("/api/ps")).json()["models"]
    assert [m["name"] for m in ps] == ["all-minilm:latest"]
    assert ps[0]["context_length"] == 512


async def test_legacy_embeddings(api: Any) -> None:
    body = (await api.post("/api/embeddings", {"model": "all-minilm", "prompt": "hello"})).json()
    assert set(body) == {"embedding"}
    assert len(body["embedding"]) == 384
    empty = (await api.post("/api/embeddings", {"model": "all-minilm", "prompt": ""})).json()
    assert empty == {"embedding": []}
    missing = await api.post("/api/embeddings", {"model": "nope", "prompt": "x"})
    assert missing.status == 404
    assert missing.json() == {"error": 'model "nope" not found, try pulling it first'}
    required = await api.post("/api/embeddings", {"prompt": "x"})
    assert (required.status, required.json()) == (400, {"error": "model is required"})
