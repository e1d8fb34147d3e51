"""Tests for ollama_core._types: wire round trips, nested dict-or-typed input, dict-style
access and the derived helpers."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from ollama_core._types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    CreateRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    EmbedRequest,
    EmbedResponse,
    GenerateRequest,
    GenerateResponse,
    Logprob,
    MessageRole,
    Metrics,
    ModelDetails,
    ModelEntry,
    ModelInfo,
    Options,
    ProgressResponse,
    RunningModelsResponse,
    TagsResponse,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolCallFunction,
    ToolFunction,
)

DETAILS = {
    "parent_model": "",
    "format": "gguf",
    "family": "llama",
    "families": ["llama"],
    "parameter_size": "3.2B",
    "quantization_level": "Q4_K_M",
}
FINAL_METRICS = {
    "total_duration": 5043500667,
    "load_duration": 5025959,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 325953000,
    "eval_count": 290,
    "eval_duration": 4709213000,
}
TOOL_CALL = {"id": "call_p7o2gz50",
             "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}}}

# (class, wire JSON as the server sends it). Every one must survive from_dict -> to_dict.
RESPONSES: list[tuple[type[Any], dict[str, Any]]] = [
    (GenerateResponse, {"model": "m", "created_at": "2026-01-01T00:00:00.000000001Z",
                        "response": "Hel", "done": False}),
    (GenerateResponse, {"model": "m", "created_at": "2026-01-01T00:00:00.2Z", "response": "",
                        "done": True, "done_reason": "stop", "context": [1, 2, 3],
                        **FINAL_METRICS}),
    (GenerateResponse, {"model": "m", "created_at": "t", "response": "", "thinking": "hmm",
                        "done": False, "tool_calls": [TOOL_CALL]}),
    (GenerateResponse, {"model": "m", "created_at": "t", "response": "", "done": True,
                        "done_reason": "load"}),
    (ChatResponse, {"model": "m", "created_at": "t",
                    "message": {"role": "assistant", "content": ""}, "done": True,
                    "done_reason": "stop", **FINAL_METRICS}),
    (ChatResponse, {"model": "m", "created_at": "t",
                    "message": {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
                    "done": False}),
    (ChatResponse, {"model": "m", "created_at": "t",
                    "message": {"role": "assistant", "content": "", "thinking": "Let me count"},
                    "done": False}),
    (ChatResponse, {"model": "m", "created_at": "t", "message": {"role": "assistant",
                    "content": "Hi"}, "done": False, "remote_model": "gpt-oss:120b",
                    "remote_host": "https://ollama.com:443"}),
    (ChatResponse, {"model": "m", "created_at": "t",
                    "message": {"role": "assistant", "content": "A"}, "done": False,
                    "logprobs": [{"token": "A", "logprob": -0.1, "bytes": [65],
                                  "top_logprobs": [{"token": "A", "logprob": -0.1},
                                                   {"token": "B", "logprob": -2.5}]}]}),
    (EmbedResponse, {"model": "all-minilm", "embeddings": [[0.01, -0.0017], [0.5, 0.25]],
                     "total_duration": 14143917, "load_duration": 1019500,
                     "prompt_eval_count": 8}),
    (EmbedResponse, {"model": "all-minilm", "embeddings": []}),
    (EmbeddingsResponse, {"embedding": [0.1, 0.2]}),
    (ProgressResponse, {"status": "pulling manifest"}),
    (ProgressResponse, {"status": "pulling dde5aa3fc5ff", "digest": "sha256:dde5", "total": 20,
                        "completed": 5}),
    (ProgressResponse, {"status": "success"}),
    (TagsResponse, {"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest",
                                "modified_at": "2025-05-04T17:37:44.706015396-07:00",
                                "size": 2019393189, "digest": "a80c4f17", "details": DETAILS}]}),
    (TagsResponse, {"models": []}),
    (RunningModelsResponse, {"models": [{"name": "m", "model": "m", "size": 5, "digest": "d",
                                         "details": DETAILS,
                                         "expires_at": "2026-01-01T00:05:00Z",
                                         "size_vram": 5, "context_length": 4096}]}),
    (ModelInfo, {"license": "MIT", "modelfile": "FROM x", "parameters": "stop \"<|eot|>\"",
                 "template": "{{ .Prompt }}", "system": "be nice",
                 "details": {**DETAILS, "context_length": 131072},
                 "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                 "capabilities": ["completion", "tools"], "modified_at": "2026-01-01T00:00:00Z",
                 "messages": [{"role": "user", "content": "hi"}],
                 "tensors": [{"name": "t", "type": "F16", "shape": [2, 2]}],
                 "projector_info": {"clip.has_vision_encoder": True},
                 "renderer": "r", "parser": "p", "requires": "0.12.0"}),
]


@pytest.mark.parametrize(("cls", "wire"), RESPONSES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(RESPONSES)])
def test_response_round_trip(cls: type[Any], wire: dict[str, Any]) -> None:
    original = copy.deepcopy(wire)
    obj = cls.from_dict(wire)
    assert obj.to_dict() == wire
    assert wire == original, "from_dict must not modify its input"


UNKNOWN = {"brand_new": {"nested": [1, 2]}}


@pytest.mark.parametrize(("cls", "wire"), RESPONSES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(RESPONSES)])
def test_unknown_top_level_fields_are_kept(cls: type[Any], wire: dict[str, Any]) -> None:
    obj = cls.from_dict({**wire, **UNKNOWN})
    assert obj.extra == UNKNOWN
    assert obj.to_dict() == {**wire, **UNKNOWN}
    assert obj["brand_new"] == {"nested": [1, 2]}


@pytest.mark.parametrize(("wire", "path"), [
    ({"message": {"role": "assistant", "content": "", "images_v2": ["x"]}},
     ("message",)),
    ({"message": {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "f", "arguments": {}, "x": 1}}]}},
     ("message", "tool_calls", 0)),
    ({"message": {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "f", "arguments": {}, "x": 1}}]}},
     ("message", "tool_calls", 0, "function")),
    ({"message": {"role": "assistant", "content": ""},
      "logprobs": [{"token": "a", "logprob": 0.0, "rank": 1,
                    "top_logprobs": [{"token": "a", "logprob": 0.0, "rank": 1}]}]},
     ("logprobs", 0, "top_logprobs", 0)),
])
def test_unknown_nested_fields_are_kept(wire: dict[str, Any], path: tuple[Any, ...]) -> None:
    wire = {"model": "m", "created_at": "t", "done": False, **wire}
    resp = ChatResponse.from_dict(wire)
    node: Any = resp
    for step in path:
        node = node[step]
    assert node.extra  # the unknown key landed in the nested object's extra
    assert resp.to_dict() == wire


@pytest.mark.parametrize(("cls", "wire", "nested"), [
    (TagsResponse, {"models": [{"name": "m", "model": "m",
                                "details": {**DETAILS, "new_detail": 1}}]},
     lambda r: r.models[0].details),
    (ModelInfo, {"details": {"family": "x", "new_detail": 1}, "capabilities": []},
     lambda r: r.details),
    (ModelInfo, {"messages": [{"role": "user", "content": "x", "new": 1}]},
     lambda r: r.messages[0]),
])
def test_unknown_fields_in_model_objects(cls: type[Any], wire: dict[str, Any],
                                         nested: Any) -> None:
    obj = cls.from_dict(wire)
    assert nested(obj).extra
    assert obj.to_dict() == wire


def test_chat_chunk_is_typed() -> None:
    resp = ChatResponse.from_dict(RESPONSES[5][1])
    call = resp.message.tool_calls[0]  # type: ignore[index]
    assert isinstance(call, ToolCall)
    assert isinstance(call.function, ToolCallFunction)
    assert call.id == "call_p7o2gz50"
    assert call.function.index == 0
    assert call.function.arguments == {"city": "Tokyo"}
    assert resp.message.role is MessageRole.ASSISTANT
    assert resp.done is False and resp.done_reason is None


def test_unknown_role_is_kept_as_string() -> None:
    msg = ChatMessage.from_dict({"role": "critic", "content": "x"})
    assert msg.role == "critic" and not isinstance(msg.role, MessageRole)
    assert msg.to_dict() == {"role": "critic", "content": "x"}


def test_missing_message_gets_an_empty_assistant_message() -> None:
    resp = ChatResponse.from_dict({"model": "m", "done": True})
    assert resp.message == ChatMessage("assistant", "")
    assert resp.content == ""


def test_embeddings_are_kept_as_parsed() -> None:
    vectors = [[0.1, 0.2], [0.3, 0.4]]
    resp = EmbedResponse.from_dict({"model": "m", "embeddings": vectors})
    assert resp.embeddings is vectors  # no per-float conversion, no copy


def test_logprobs_are_typed() -> None:
    resp = ChatResponse.from_dict(RESPONSES[8][1])
    lp = resp.logprobs[0]  # type: ignore[index]
    assert isinstance(lp, Logprob) and lp.bytes == [65]
    assert all(isinstance(t, TokenLogprob) for t in lp.top_logprobs or [])
    assert lp.top_logprobs[1].token == "B"  # type: ignore[index]


def test_model_objects_are_typed() -> None:
    tags = TagsResponse.from_dict(RESPONSES[15][1])
    assert isinstance(tags.models[0], ModelEntry)
    assert isinstance(tags.models[0].details, ModelDetails)
    assert tags.models[0].details.families == ["llama"]
    ps = RunningModelsResponse.from_dict(RESPONSES[17][1])
    assert ps.models[0].size_vram == 5 and ps.models[0].context_length == 4096
    show = ModelInfo.from_dict(RESPONSES[18][1])
    assert show.capabilities == ["completion", "tools"]
    assert show.model_info == {"general.architecture": "llama", "llama.context_length": 131072}
    assert show.details is not None and show.details.context_length == 131072
    assert show.messages == [ChatMessage("user", "hi")]


# ---------------------------------------------------------------------------------------------
# Requests
# ---------------------------------------------------------------------------------------------

SCHEMA = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}

REQUESTS: list[tuple[type[Any], dict[str, Any]]] = [
    (ChatRequest, {"model": "m", "messages": []}),
    (ChatRequest, {"model": "m", "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "hi", "images": ["aGk="]},
        {"role": "assistant", "content": "", "thinking": "t", "tool_calls": [TOOL_CALL]},
        {"role": "tool", "content": "11 degrees", "tool_name": "get_weather",
         "tool_call_id": "call_p7o2gz50"},
    ], "tools": [TOOL], "format": SCHEMA, "options": {"temperature": 0, "stop": ["\n"]},
        "stream": False, "keep_alive": "5m", "think": "max", "truncate": True, "shift": False,
        "logprobs": True, "top_logprobs": 5}),
    (ChatRequest, {"model": "m", "messages": [], "keep_alive": 0, "format": "json",
                   "think": False}),
    (ChatRequest, {"model": "m", "messages": [], "keep_alive": -1, "think": True}),
    (ChatRequest, {"model": "m", "messages": [], "keep_alive": 3600.5,
                   "_debug_render_only": True}),
    (GenerateRequest, {"model": "m", "prompt": "p", "suffix": "s", "system": "sys",
                       "template": "{{ .Prompt }}", "context": [1, 2], "raw": False,
                       "format": "json", "images": ["aGk="], "options": {"num_ctx": 8192,
                                                                         "mirostat": 2},
                       "stream": True, "keep_alive": "-1m", "think": "low", "truncate": False,
                       "shift": True, "logprobs": False, "top_logprobs": 0}),
    (EmbedRequest, {"model": "m", "input": ["a", "b"], "truncate": False, "dimensions": 256,
                    "keep_alive": "1h", "options": {"num_thread": 4}}),
    (EmbedRequest, {"model": "m", "input": "a"}),
    (EmbeddingsRequest, {"model": "m", "prompt": "p", "keep_alive": 10,
                         "options": {"seed": 1}}),
    (CreateRequest, {"model": "new", "from": "llama3.2", "template": "t", "license": ["MIT", "X"],
                     "system": "s", "parameters": {"temperature": 0.1, "stop": ["a"]},
                     "messages": [{"role": "user", "content": "hi"}], "quantize": "q4_K_M",
                     "renderer": "r", "parser": "p", "stream": False}),
    (CreateRequest, {"model": "new", "files": {"model.gguf": "sha256:abc"},
                     "adapters": {"lora.gguf": "sha256:def"}, "license": "MIT",
                     "draft_files": {"d.gguf": "sha256:0"}}),
]


@pytest.mark.parametrize(("cls", "wire"), REQUESTS,
                         ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(REQUESTS)])
def test_request_round_trip_and_validate(cls: type[Any], wire: dict[str, Any]) -> None:
    req = cls.from_dict(wire)
    assert req.to_dict() == wire
    assert req.validate() == wire


def test_create_from_is_renamed() -> None:
    req = CreateRequest(model="new", from_="base")
    assert req.to_dict() == {"model": "new", "from": "base"}
    assert CreateRequest.from_dict({"model": "n", "from": "b"}).from_ == "b"
    assert req["from"] == "base" and "from" in req


def test_to_dict_omits_none_and_keeps_falsy_values() -> None:
    req = GenerateRequest(model="m", prompt="", raw=False, keep_alive=0, top_logprobs=0)
    assert req.to_dict() == {"model": "m", "prompt": "", "raw": False, "keep_alive": 0,
                             "top_logprobs": 0}


def test_request_extra_is_sent_but_typed_fields_win() -> None:
    req = ChatRequest(model="m", stream=False, extra={"stream": True, "_debug_render_only": True})
    assert req.to_dict() == {"model": "m", "messages": [], "stream": False,
                             "_debug_render_only": True}


def test_nested_dicts_and_typed_objects_are_equivalent() -> None:
    as_dicts = ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "hi"},
                  {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]}],
        tools=[TOOL],
        options={"temperature": 0, "mirostat": 1},
    )
    typed = ChatRequest(
        model="m",
        messages=[ChatMessage(MessageRole.USER, "hi"),
                  ChatMessage("assistant", tool_calls=[ToolCall(
                      id="call_p7o2gz50",
                      function=ToolCallFunction(name="get_weather", index=0,
                                                arguments={"city": "Tokyo"}))])],
        tools=[Tool(function=ToolFunction(name="get_weather", description="Weather",
                                          parameters=TOOL["function"]["parameters"]))],
        options=Options(temperature=0, extra={"mirostat": 1}),
    )
    assert as_dicts == typed
    assert as_dicts.to_dict() == typed.to_dict()
    # dicts were converted when the request was built
    assert all(isinstance(m, ChatMessage) for m in as_dicts.messages)
    assert isinstance(as_dicts.tools[0], Tool)  # type: ignore[index]
    assert isinstance(as_dicts.tools[0].function, ToolFunction)  # type: ignore[index]
    assert isinstance(as_dicts.options, Options)
    assert as_dicts.options.extra == {"mirostat": 1}


def test_to_dict_normalises_values_added_after_construction() -> None:
    req = ChatRequest(model="m")
    req.messages.append({"role": MessageRole.USER, "content": "hi"})  # type: ignore[attr-defined]
    msg = ChatMessage("assistant", tool_calls=[TOOL_CALL])  # type: ignore[list-item]
    req.messages.append(msg)  # type: ignore[attr-defined]
    wire = req.to_dict()
    assert wire["messages"] == [{"role": "user", "content": "hi"},
                                {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]}]
    assert type(wire["messages"][0]["role"]) is str


@pytest.mark.parametrize("role", [MessageRole.TOOL, "tool"])
def test_roles_accept_enum_or_string(role: MessageRole | str) -> None:
    wire = ChatMessage(role, "x").to_dict()
    assert wire == {"role": "tool", "content": "x"}
    assert type(wire["role"]) is str


def test_image_bytes_are_base64_encoded() -> None:
    raw = b"\x89PNG\r\n"
    encoded = base64.b64encode(raw).decode()
    msg = ChatMessage("user", "look", images=[raw, encoded])
    assert msg.to_dict()["images"] == [encoded, encoded]
    gen = GenerateRequest(model="m", images=[bytearray(raw)])  # type: ignore[list-item]
    assert gen.to_dict()["images"] == [encoded]
    assert gen.validate()["images"] == [encoded]


def test_tuples_become_lists() -> None:
    req = GenerateRequest(model="m", context=(1, 2), images=("aGk=",),
                          options=Options(stop=("a",)))
    assert req.to_dict() == {"model": "m", "context": [1, 2], "images": ["aGk="],
                             "options": {"stop": ["a"]}}
    assert EmbedRequest(model="m", input=("a", "b")).to_dict()["input"] == ["a", "b"]


def test_options_from_dict_splits_known_and_unknown() -> None:
    opts = Options.from_dict({"temperature": 0.2, "num_ctx": 4096, "tfs_z": 1.0})
    assert opts.temperature == 0.2 and opts.num_ctx == 4096
    assert opts.extra == {"tfs_z": 1.0}
    assert opts.to_dict() == {"temperature": 0.2, "num_ctx": 4096, "tfs_z": 1.0}
    assert Options().to_dict() == {}


def test_mapping_format_becomes_plain_dict() -> None:
    from types import MappingProxyType

    req = ChatRequest(model="m", format=MappingProxyType(SCHEMA))
    assert type(req.to_dict()["format"]) is dict


def test_tool_dict_without_type_defaults_to_function() -> None:
    tool = Tool.from_dict({"function": {"name": "f"}})
    assert tool.to_dict() == {"type": "function", "function": {"name": "f"}}


# ---------------------------------------------------------------------------------------------
# Dict-style access
# ---------------------------------------------------------------------------------------------


def test_dict_style_access_like_the_official_client() -> None:
    resp = ChatResponse.from_dict({**RESPONSES[5][1], "new_field": 7})
    assert resp["message"]["content"] == ""
    assert resp["message"]["tool_calls"][0]["function"]["arguments"]["city"] == "Tokyo"
    assert resp["done"] is False
    assert "done" in resp and "message" in resp
    assert "done_reason" not in resp  # None counts as absent
    assert resp["done_reason"] is None  # but a known field can still be read
    assert resp.get("done_reason", "n/a") == "n/a"
    assert resp.get("new_field") == 7 and "new_field" in resp
    assert resp.get("missing") is None and "missing" not in resp
    assert "extra" not in resp and 42 not in resp
    with pytest.raises(KeyError):
        resp["missing"]
    with pytest.raises(KeyError):
        resp["extra"]


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "duration", "expected"), [
    (290, 4709213000, 290 / 4709213000 * 1e9),
    (10, 1_000_000_000, 10.0),
    (0, 1_000_000_000, 0.0),
    (10, 0, None),
    (10, None, None),
    (None, 1_000, None),
])
def test_tokens_per_second(count: int | None, duration: int | None,
                           expected: float | None) -> None:
    resp = GenerateResponse(eval_count=count, eval_duration=duration,
                            prompt_eval_count=count, prompt_eval_duration=duration)
    assert resp.metrics.tokens_per_second == expected
    assert resp.metrics.prompt_tokens_per_second == expected


def test_metrics_seconds() -> None:
    resp = ChatResponse.from_dict(RESPONSES[4][1])
    m = resp.metrics
    assert isinstance(m, Metrics)
    assert m.total_seconds == pytest.approx(5.043500667)
    assert m.load_seconds == pytest.approx(0.005025959)
    assert m.prompt_eval_seconds == pytest.approx(0.325953)
    assert m.eval_seconds == pytest.approx(4.709213)
    partial = ChatResponse.from_dict(RESPONSES[6][1]).metrics
    assert partial == Metrics()
    assert partial.total_seconds is None and partial.tokens_per_second is None


@pytest.mark.parametrize(("wire", "expected"), [
    ({"status": "pulling x", "total": 200, "completed": 50}, 0.25),
    ({"status": "pulling x", "total": 200}, 0.0),
    ({"status": "pulling manifest"}, None),
    ({"status": "x", "total": 0, "completed": 0}, None),
])
def test_progress_fraction(wire: dict[str, Any], expected: float | None) -> None:
    assert ProgressResponse.from_dict(wire).fraction == expected


def test_content_shortcut() -> None:
    assert ChatResponse.from_dict(RESPONSES[7][1]).content == "Hi"


@pytest.mark.parametrize(("cls", "kind"), [
    (ChatRequest, "ChatRequestBuilder"),
    (GenerateRequest, "GenerateRequestBuilder"),
    (EmbedRequest, "EmbedRequestBuilder"),
    (CreateRequest, "CreateRequestBuilder"),
])
def test_builder_classmethods(cls: Any, kind: str) -> None:
    assert type(cls.builder()).__name__ == kind
