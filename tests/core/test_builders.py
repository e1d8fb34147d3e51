"""Tests for ollama_core._builders: fluent steps, immutability, and validation at build()."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from ollama_core._builders import (
    ChatRequestBuilder,
    CreateRequestBuilder,
    EmbedRequestBuilder,
    GenerateRequestBuilder,
)
from ollama_core._exceptions import InvalidRequestError
from ollama_core._types import (
    ChatMessage,
    ChatRequest,
    CreateRequest,
    EmbedRequest,
    GenerateRequest,
    Options,
    Tool,
    ToolCall,
    ToolFunction,
)

TOOL: dict[str, Any] = {"type": "function", "function": {"name": "get_weather",
                                         "parameters": {"type": "object", "properties": {}}}}
CALL = {"id": "call_1", "function": {"index": 0, "name": "get_weather",
                                     "arguments": {"city": "Tokyo"}}}


def test_chat_builder_produces_the_same_request_as_the_constructor() -> None:
    built = (
        ChatRequest.builder()
        .model("llama3.2")
        .system("Be brief.")
        .user("Weather in Tokyo?")
        .assistant("", tool_calls=[CALL])
        .tool_result("11 degrees", "get_weather", tool_call_id="call_1")
        .tool(TOOL)
        .temperature(0.2)
        .format("json")
        .think("max")
        .keep_alive("10m")
        .stream(False)
        .truncate()
        .shift(False)
        .logprobs(top=3)
        .build()
    )
    direct = ChatRequest(
        model="llama3.2",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Tokyo?"},
            {"role": "assistant", "content": "", "tool_calls": [CALL]},
            {"role": "tool", "content": "11 degrees", "tool_name": "get_weather",
             "tool_call_id": "call_1"},
        ],
        tools=[TOOL],
        options={"temperature": 0.2},
        format="json",
        think="max",
        keep_alive="10m",
        stream=False,
        truncate=True,
        shift=False,
        logprobs=True,
        top_logprobs=3,
    )
    assert isinstance(built, ChatRequest)
    assert built == direct
    assert built.to_dict() == direct.to_dict()
    assert isinstance(built.messages[2].tool_calls[0], ToolCall)  # type: ignore[union-attr,index]


def test_steps_return_new_builders_and_branches_do_not_interfere() -> None:
    base = ChatRequest.builder().model("m").system("s").temperature(0.1)
    a = base.user("a").temperature(0.9)
    b = base.user("b")
    assert [m.content for m in a.build().messages] == ["s", "a"]  # type: ignore[union-attr]
    assert [m.content for m in b.build().messages] == ["s", "b"]  # type: ignore[union-attr]
    assert b.build().options == Options(temperature=0.1)
    assert a.build().options == Options(temperature=0.9)
    assert [m.content for m in base.build().messages] == ["s"]  # type: ignore[union-attr]


def test_build_twice_gives_equal_independent_objects() -> None:
    shared = ChatMessage("user", "hi", extra={"meta": {"k": 1}})
    builder = ChatRequest.builder().model("m").message(shared).options(stop=["x"])
    first, second = builder.build(), builder.build()
    assert first == second and first is not second
    first.messages[0].content = "changed"  # type: ignore[union-attr]
    first.messages[0].extra["meta"]["k"] = 2  # type: ignore[union-attr]
    assert first.options is not None
    first.options.stop.append("y")  # type: ignore[union-attr]
    assert second.messages[0] == ChatMessage("user", "hi", extra={"meta": {"k": 1}})
    assert second.options == Options(stop=["x"])
    assert shared.content == "hi"  # the object handed to the builder is untouched too


@pytest.mark.parametrize(("make", "field", "fragment"), [
    (lambda: ChatRequest.builder().user("hi"), "model", "Missing data for required field."),
    (lambda: ChatRequest.builder().model(""), "model", "Must not be empty."),
    (lambda: ChatRequest.builder().model("m").temperature("hot"),  # type: ignore[arg-type]
     "options.temperature", "Not a valid number."),
    (lambda: ChatRequest.builder().model("m").num_predict(1.5),  # type: ignore[arg-type]
     "options.num_predict", "Not a valid integer."),
    (lambda: ChatRequest.builder().model("m").message({"role": "bot", "content": "x"}),
     "messages.0.role", "Must be one of"),
    (lambda: ChatRequest.builder().model("m").user("x", images=["data:image/png;base64,aGk="]),
     "messages.0.images.0", "data URL"),
    (lambda: ChatRequest.builder().model("m").think("extreme"),  # type: ignore[arg-type]
     "think", "Must be true, false"),
    (lambda: ChatRequest.builder().model("m").keep_alive("forever"), "keep_alive", "duration"),
    (lambda: ChatRequest.builder().model("m").logprobs(top=50), "top_logprobs", "20"),
    (lambda: ChatRequest.builder().model("m").format("yaml"), "format", "JSON-schema"),
    (lambda: ChatRequest.builder().model("m").tool({"type": "function", "function": {}}),
     "tools.0.function.name", "Missing data"),
    (lambda: GenerateRequest.builder().model("m").prompt("p").raw().system("s"), "raw",
     "raw mode"),
    (lambda: EmbedRequest.builder().model("m").input("x").dimensions("8"),  # type: ignore[arg-type]
     "dimensions", "Not a valid integer."),
    (lambda: CreateRequest.builder().model("new"), "from", 'Either "from"'),
])
def test_build_validates_and_names_the_field(make: Callable[[], Any], field: str,
                                             fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        make().build()
    assert info.value.field == field
    assert fragment in str(info.value)


def test_options_merge_rather_than_replace() -> None:
    req = (
        ChatRequest.builder().model("m")
        .temperature(0.5)
        .options({"num_ctx": 8192}, seed=7)
        .options(Options(top_k=20, extra={"mirostat": 1}))
        .option("temperature", 0.1)
        .top_p(0.8).top_k(10).min_p(0.05).num_predict(-2).num_ctx(4096).stop("a", "b")
        .build()
    )
    assert req.to_dict()["options"] == {
        "temperature": 0.1, "num_ctx": 4096, "seed": 7, "top_k": 10, "top_p": 0.8,
        "min_p": 0.05, "num_predict": -2, "stop": ["a", "b"], "mirostat": 1,
    }


def test_tool_result_encodes_non_string_content_as_json() -> None:
    req = ChatRequest.builder().model("m").tool_result({"temp": 11}, "get_weather").build()
    msg = req.messages[0]
    assert isinstance(msg, ChatMessage)
    assert json.loads(msg.content) == {"temp": 11}
    assert msg.to_dict() == {"role": "tool", "content": '{"temp": 11}',
                             "tool_name": "get_weather"}


def test_user_images_accept_bytes_and_base64() -> None:
    raw = b"\x89PNG..."
    req = ChatRequest.builder().model("m").user("look", images=[raw, "aGk="]).build()
    assert req.validate()["messages"][0]["images"] == [base64.b64encode(raw).decode(), "aGk="]


def test_messages_tools_and_typed_inputs() -> None:
    history: list[ChatMessage | dict[str, Any]] = [
        ChatMessage("user", "a"), {"role": "assistant", "content": "b"}]
    tools: list[Tool | dict[str, Any]] = [Tool(function=ToolFunction(name="f")), TOOL]
    req = ChatRequest.builder().model("m").messages(history).tools(tools).build()
    assert [m["content"] for m in req.to_dict()["messages"]] == ["a", "b"]
    assert [t["function"]["name"] for t in req.to_dict()["tools"]] == ["f", "get_weather"]
    assert req.messages[0] is not history[0]  # build() copies


def test_format_accepts_a_pydantic_style_model_class() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}

    class Person:
        @classmethod
        def model_json_schema(cls) -> dict[str, Any]:
            return schema

    req = ChatRequest.builder().model("m").format(Person).build()
    assert req.format == schema


def test_extra_fields_are_passed_through() -> None:
    req = ChatRequest.builder().model("m").extra("_debug_render_only", True).build()
    assert req.validate() == {"model": "m", "messages": [], "_debug_render_only": True}


def test_generate_builder() -> None:
    req = (
        GenerateRequest.builder().model("m").prompt("p").suffix("s").system("sys")
        .template("t").context([1, 2]).image(b"x").images(["aGk="]).raw(False)
        .think(False).stream().logprobs(False).keep_alive(0).seed(1)
        .build()
    )
    assert req.validate() == {
        "model": "m", "prompt": "p", "suffix": "s", "system": "sys", "template": "t",
        "context": [1, 2], "raw": False, "images": ["eA==", "aGk="], "options": {"seed": 1},
        "stream": True, "keep_alive": 0, "think": False, "logprobs": False,
    }


def test_embed_builder() -> None:
    req = (EmbedRequest.builder().model("m").input(("a", "b")).truncate(False).dimensions(64)
           .keep_alive("1h").num_ctx(512).build())
    assert req.validate() == {"model": "m", "input": ["a", "b"], "truncate": False,
                              "dimensions": 64, "keep_alive": "1h",
                              "options": {"num_ctx": 512}}
    assert EmbedRequest.builder().model("m").input("x").build().input == "x"


def test_create_builder() -> None:
    req = (
        CreateRequest.builder().model("new").from_("llama3.2").file("m.gguf", "sha256:a")
        .files({"n.gguf": "sha256:b"}).adapter("l.gguf", "sha256:c").template("t")
        .system("s").license(["MIT", "X"]).parameter("temperature", 0)
        .parameters(stop=["a"]).message({"role": "user", "content": "hi"})
        .quantize("q4_K_M").renderer("r").parser("p").stream(False)
        .build()
    )
    assert req.validate() == {
        "model": "new", "from": "llama3.2", "files": {"m.gguf": "sha256:a", "n.gguf": "sha256:b"},
        "adapters": {"l.gguf": "sha256:c"}, "template": "t", "license": ["MIT", "X"],
        "system": "s", "parameters": {"temperature": 0, "stop": ["a"]},
        "messages": [{"role": "user", "content": "hi"}], "quantize": "q4_K_M",
        "renderer": "r", "parser": "p", "stream": False,
    }
    assert CreateRequest.builder().model("n").license("MIT").file("a", "b").build().license \
        == "MIT"


@pytest.mark.parametrize(("builder", "cls"), [
    (ChatRequestBuilder, ChatRequest),
    (GenerateRequestBuilder, GenerateRequest),
    (EmbedRequestBuilder, EmbedRequest),
    (CreateRequestBuilder, CreateRequest),
])
def test_builder_classmethods_and_repr(builder: type[Any], cls: Any) -> None:
    b = cls.builder()
    assert isinstance(b, builder)
    assert repr(b.model("m")) == f"{builder.__name__}(model='m')"
