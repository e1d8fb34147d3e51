"""Tests for ollama_core._schemas: what a valid request body is, and how a bad one is
reported (``InvalidRequestError.field`` is the dotted path of the first bad field)."""

from __future__ import annotations

import base64
from types import MappingProxyType
from typing import Any

import pytest

from ollama_core._exceptions import InvalidRequestError
from ollama_core._schemas import REQUEST_KINDS, validate_request

IMG = base64.b64encode(b"\x89PNG fake image").decode()
MSG = {"role": "user", "content": "hi"}


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [MSG], **fields}


def gen(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "prompt": "p", **fields}


def opts(**options: Any) -> dict[str, Any]:
    return chat(options=options)


def msg(**fields: Any) -> dict[str, Any]:
    return chat(messages=[MSG, {"role": "user", **fields}])


def tool_call(**function: Any) -> dict[str, Any]:
    return chat(messages=[{"role": "assistant", "tool_calls": [{"function": function}]}])


def tool(**definition: Any) -> dict[str, Any]:
    return chat(tools=[definition])


def reject(kind: str, wire: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as info:
        validate_request(kind, wire)
    return info.value


# ---------------------------------------------------------------------------------------------
# Valid bodies
# ---------------------------------------------------------------------------------------------

VALID: list[tuple[str, dict[str, Any]]] = [
    ("chat", {"model": "m"}),
    ("chat", {"model": "m", "messages": []}),
    ("chat", chat(stream=False, format="json", think="max", keep_alive="5m",
                  truncate=True, shift=False, logprobs=True, top_logprobs=20)),
    ("chat", chat(format="", think=False, keep_alive=0, top_logprobs=0)),
    ("chat", chat(format={"type": "object"}, think=True, keep_alive=-1)),
    ("chat", chat(format=None, think=None, keep_alive=None, options=None, tools=None)),
    ("chat", msg(content="x", thinking="t", images=[IMG], tool_name="f", tool_call_id="c")),
    ("chat", tool_call(name="f", arguments={"a": [1, {"b": None}]}, index=0)),
    ("chat", tool(type="function", function={"name": "f", "description": "d",
                                             "parameters": {"type": "object"}})),
    ("chat", opts(num_keep=4, seed=-1, num_predict=-1, top_k=40, top_p=0.9, min_p=0,
                  typical_p=1, repeat_last_n=64, temperature=0.8, repeat_penalty=1.0,
                  presence_penalty=0, frequency_penalty=0, stop=["\n", "user:"],
                  num_ctx=4096, num_batch=512, num_gpu=-1, main_gpu=0, use_mmap=True,
                  num_thread=0, draft_num_predict=4)),
    ("chat", opts(num_predict=-2)),
    ("chat", opts(num_predict=0)),
    ("chat", opts(num_predict=-3)),  # the server takes any integer
    # never stricter than the server: it lowercases roles, renderers take "developer",
    # any tool type is accepted
    ("chat", msg(role="User", content="x")),
    ("chat", msg(role="ASSISTANT", content="x")),
    ("chat", msg(role="developer", content="x")),
    ("chat", tool(type="retrieval", function={"name": "f"})),
    ("chat", tool(type="function", items={"type": "string"}, function={"name": "f"})),
    ("chat", chat(_debug_render_only=True)),
    ("generate", gen(_debug_render_only=False)),
    ("chat", opts(mirostat=2, whatever="passes")),  # unknown options are passed through
    ("chat", chat(_debug_render_only=True, brand_new_field={"x": 1})),
    ("chat", msg(content="x", new_message_field=1)),
    ("generate", {"model": "m"}),
    ("generate", gen(suffix="s", system="s", template="t", context=[1, 2, 3], raw=False,
                     images=[IMG, IMG[:8] + "\n" + IMG[8:]])),
    ("generate", gen(raw=True)),
    ("generate", gen(raw=True, system="", template="", context=[])),
    ("generate", gen(raw=False, system="s", template="t", context=[1])),
    ("embed", {"model": "m", "input": "a"}),
    ("embed", {"model": "m", "input": ["a", "b"], "truncate": False, "dimensions": 1,
               "keep_alive": "1h30m", "options": {"num_ctx": 512}}),
    ("embed", {"model": "m", "input": []}),
    ("embed", {"model": "m", "input": "a", "dimensions": 0}),  # 0: full size
    ("embed", {"model": "m", "input": "a", "dimensions": -1}),  # ignored by the server too
    ("create", {"model": "new", "from": "b", "draft_quantize": "q8_0", "remote_host": "h",
                "draft_files": {"d.gguf": "sha256:cc"}, "requires": "0.12.0",
                "info": {"k": [1]}}),
    ("show", {"model": "a", "template": "{{ .Prompt }}"}),
    ("embeddings", {"model": "m", "prompt": "p", "keep_alive": 1.5, "options": {"seed": 3}}),
    ("create", {"model": "new", "from": "llama3.2", "license": ["a", "b"],
                "parameters": {"temperature": 0}, "messages": [MSG], "quantize": "q8_0"}),
    ("create", {"model": "new", "files": {"m.gguf": "sha256:aa"}, "license": "MIT",
                "adapters": {"l.gguf": "sha256:bb"}, "stream": False}),
    ("create", {"model": "new", "list": [{"model": "a"}]}),
    ("pull", {"model": "llama3.2", "insecure": False, "stream": True}),
    ("push", {"model": "me/llama3.2:latest"}),
    ("copy", {"source": "a", "destination": "b"}),
    ("delete", {"model": "a"}),
    ("show", {"model": "a", "verbose": True, "system": "s", "options": {"num_ctx": 1}}),
]


@pytest.mark.parametrize(("kind", "wire"), VALID)
def test_valid_bodies_pass_unchanged(kind: str, wire: dict[str, Any]) -> None:
    assert validate_request(kind, wire) is wire


def test_every_kind_has_a_schema() -> None:
    assert REQUEST_KINDS == {"chat", "generate", "embed", "embeddings", "create", "pull",
                             "push", "copy", "delete", "show", "web_search", "web_fetch",
                             "systemone"}


def test_non_dict_mapping_is_returned_as_dict() -> None:
    result = validate_request("delete", MappingProxyType({"model": "a"}))
    assert result == {"model": "a"} and type(result) is dict


def test_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown request kind 'nope'") as info:
        validate_request("nope", {"model": "m"})
    assert not isinstance(info.value, InvalidRequestError)


# ---------------------------------------------------------------------------------------------
# Invalid bodies: (kind, wire, field, a fragment of the message)
# ---------------------------------------------------------------------------------------------

INVALID: list[tuple[str, Any, str | None, str]] = [
    # model
    ("chat", {"messages": []}, "model", "Missing data for required field."),
    ("chat", chat(model=""), "model", "Must not be empty."),
    ("chat", chat(model="   "), "model", "Must not be empty."),
    ("chat", chat(model=None), "model", "Field may not be null."),
    ("chat", chat(model=3), "model", "Not a valid string."),
    ("generate", {"model": ""}, "model", "Must not be empty."),
    ("embed", {"input": "x"}, "model", "Missing data"),
    ("embeddings", {"model": ""}, "model", "Must not be empty."),
    ("pull", {}, "model", "Missing data"),
    ("push", {"model": ""}, "model", "Must not be empty."),
    ("delete", {"model": 1}, "model", "Not a valid string."),
    ("show", {"model": ""}, "model", "Must not be empty."),
    ("copy", {"source": "a"}, "destination", "Missing data"),
    ("copy", {"source": "", "destination": "b"}, "source", "Must not be empty."),
    # body and container types
    ("chat", None, None, "Must be a JSON object"),
    ("chat", ["model"], None, "Must be a JSON object"),
    ("chat", chat(messages="hi"), "messages", "Not a valid list."),
    ("chat", chat(messages={"role": "user"}), "messages", "Not a valid list."),
    ("chat", chat(messages=["hi"]), "messages.0", "Must be a JSON object"),
    ("chat", chat(tools="f"), "tools", "Not a valid list."),
    ("chat", chat(options=[1]), "options", "Must be a JSON object"),
    # messages
    ("chat", msg(role="bot"), "messages.1.role",
     "Must be one of: system, user, assistant, tool, developer (any case)."),
    ("chat", msg(role=1), "messages.1.role", "Must be one of"),
    ("chat", chat(messages=[{"content": "x"}]), "messages.0.role", "Missing data"),
    ("chat", msg(content=5), "messages.1.content", "Not a valid string."),
    ("chat", msg(content=b"bytes"), "messages.1.content", "Not a valid string."),
    ("chat", msg(thinking=1), "messages.1.thinking", "Not a valid string."),
    ("chat", msg(tool_name=1), "messages.1.tool_name", "Not a valid string."),
    ("chat", msg(tool_call_id=1), "messages.1.tool_call_id", "Not a valid string."),
    ("chat", msg(images="aGk="), "messages.1.images", "Not a valid list."),
    ("chat", msg(tool_calls={}), "messages.1.tool_calls", "Not a valid list."),
    # images
    ("chat", msg(images=[IMG, "not base64!"]), "messages.1.images.1", "Not valid base64"),
    ("chat", msg(images=["aGk"]), "messages.1.images.0", "Not valid base64"),
    ("chat", msg(images=["a==="]), "messages.1.images.0", "Not valid base64"),
    ("chat", msg(images=["aGk=é"]), "messages.1.images.0", "Not valid base64"),
    ("chat", msg(images=[""]), "messages.1.images.0", "Must not be empty."),
    ("chat", msg(images=[b"raw"]), "messages.1.images.0", "Must be a base64 string."),
    ("chat", msg(images=["data:image/png;base64," + IMG]), "messages.1.images.0",
     "not a data URL: remove the 'data:image/png;base64,' prefix"),
    ("generate", gen(images=[IMG, "data:image/jpeg;base64," + IMG]), "images.1",
     "plain base64"),
    ("generate", gen(images=[IMG, "%%%%"]), "images.1", "Not valid base64"),
    # tool calls
    ("chat", tool_call(name="f", arguments='{"city": "Tokyo"}'),
     "messages.0.tool_calls.0.function.arguments", "not a JSON-encoded string"),
    ("chat", tool_call(arguments={}), "messages.0.tool_calls.0.function.name", "Missing data"),
    ("chat", tool_call(name="", arguments={}), "messages.0.tool_calls.0.function.name",
     "Must not be empty."),
    ("chat", tool_call(name="f", index="0"), "messages.0.tool_calls.0.function.index",
     "Not a valid integer."),
    ("chat", chat(messages=[{"role": "assistant", "tool_calls": [{"id": "c"}]}]),
     "messages.0.tool_calls.0.function", "Missing data"),
    ("chat", chat(messages=[{"role": "assistant", "tool_calls": [
        {"id": 5, "function": {"name": "f"}}]}]), "messages.0.tool_calls.0.id",
     "Not a valid string."),
    # tools
    ("chat", tool(type=5, function={"name": "f"}), "tools.0.type", "Not a valid string."),
    ("chat", tool(function={"name": "f"}), "tools.0.type", "Missing data"),
    ("chat", tool(type="function"), "tools.0.function", "Missing data"),
    ("chat", tool(type="function", function={"description": "d"}), "tools.0.function.name",
     "Missing data"),
    ("chat", tool(type="function", function={"name": " "}), "tools.0.function.name",
     "Must not be empty."),
    ("chat", tool(type="function", function={"name": "f", "parameters": "{}"}),
     "tools.0.function.parameters", "Must be a JSON object"),
    # options
    ("chat", opts(num_predict=1.5), "options.num_predict", "Not a valid integer."),
    ("chat", opts(num_ctx="4096"), "options.num_ctx", "Not a valid integer."),
    ("chat", opts(seed=True), "options.seed", "Not a valid integer."),
    ("chat", opts(temperature="hot"), "options.temperature", "Not a valid number."),
    ("chat", opts(temperature="0.5"), "options.temperature", "Not a valid number."),
    ("chat", opts(temperature=True), "options.temperature", "Not a valid number."),
    ("chat", opts(top_p=float("nan")), "options.top_p", "Special numeric values"),
    ("chat", opts(use_mmap="yes"), "options.use_mmap", "Not a valid boolean."),
    ("chat", opts(use_mmap=1), "options.use_mmap", "Not a valid boolean."),
    ("chat", opts(stop="\n"), "options.stop", "Not a valid list."),
    ("chat", opts(stop=["a", 1]), "options.stop.1", "Not a valid string."),
    # top-level inference fields
    ("chat", chat(stream="false"), "stream", "Not a valid boolean."),
    ("chat", chat(truncate=0), "truncate", "Not a valid boolean."),
    ("chat", chat(shift="no"), "shift", "Not a valid boolean."),
    ("chat", chat(logprobs=1), "logprobs", "Not a valid boolean."),
    ("chat", chat(top_logprobs=21), "top_logprobs", "less than or equal to 20"),
    ("chat", chat(top_logprobs=-1), "top_logprobs", "greater than or equal to 0"),
    ("generate", gen(top_logprobs=2.0), "top_logprobs", "Not a valid integer."),
    ("chat", chat(think="extreme"), "think",
     'Must be true, false, "low", "medium", "high" or "max".'),
    ("chat", chat(think="true"), "think", "Must be true, false"),
    ("chat", chat(think=1), "think", "Must be true, false"),
    ("generate", gen(think="HIGH"), "think", "Must be true, false"),
    ("chat", chat(format="xml"), "format", 'Must be "json", "" or a JSON-schema object'),
    ("chat", chat(format=["json"]), "format", "JSON-schema object"),
    ("chat", chat(format=True), "format", "JSON-schema object"),
    ("chat", chat(keep_alive=True), "keep_alive", "Must be a number of seconds or a duration"),
    ("chat", chat(keep_alive="5"), "keep_alive", "duration string"),
    ("chat", chat(keep_alive="5 minutes"), "keep_alive", "duration string"),
    ("chat", chat(keep_alive="m"), "keep_alive", "duration string"),
    ("chat", chat(keep_alive=""), "keep_alive", "duration string"),
    ("chat", chat(keep_alive=[5]), "keep_alive", "duration string"),
    ("chat", chat(keep_alive=float("inf")), "keep_alive", "duration string"),
    # generate
    ("generate", gen(prompt=["a"]), "prompt", "Not a valid string."),
    ("generate", gen(raw=True, template="{{ .Prompt }}"), "raw",
     "Cannot be combined with template, system or context"),
    ("generate", gen(raw=True, system="s"), "raw", "raw mode"),
    ("generate", gen(raw=True, context=[1]), "raw", "raw mode"),
    ("generate", gen(raw="yes"), "raw", "Not a valid boolean."),
    ("generate", gen(context="1,2"), "context", "Must be a list of integers."),
    ("generate", gen(context=[1, 2, "3"]), "context.2", "Not a valid integer."),
    ("generate", gen(context=[1, True]), "context.1", "Not a valid integer."),
    # embed
    ("embed", {"model": "m", "input": 5}, "input", "Must be a string or a list of strings."),
    ("embed", {"model": "m", "input": ["a", 3]}, "input.1", "Not a valid string."),
    ("embed", {"model": "m", "input": "a", "dimensions": "64"}, "dimensions",
     "Not a valid integer."),
    ("embed", {"model": "m", "input": "a", "truncate": "yes"}, "truncate", "Not a valid bool"),
    ("embeddings", {"model": "m", "prompt": ["a"]}, "prompt", "Not a valid string."),
    # create
    ("create", {"model": "new"}, "from", 'Either "from" (a model) or "files" (blobs)'),
    ("create", {"model": "new", "from": ""}, "from", 'Either "from"'),
    ("create", {"model": "new", "files": {}}, "from", 'Either "from"'),
    ("create", {"model": "new", "from": 1}, "from", "Not a valid string."),
    ("create", {"model": "new", "files": ["m.gguf"]}, "files", "strings to strings"),
    ("create", {"model": "new", "files": {"m.gguf": 1}}, "files.m.gguf", "Not a valid string."),
    ("create", {"model": "new", "from": "b", "license": 1}, "license", "list of strings"),
    ("create", {"model": "new", "from": "b", "parameters": "temperature 0"}, "parameters",
     "Must be a JSON object"),
    ("create", {"model": "new", "from": "b", "messages": [{"role": "x"}]}, "messages.0.role",
     "Must be one of"),
    # pull/push/show flags
    ("pull", {"model": "m", "insecure": "true"}, "insecure", "Not a valid boolean."),
    ("show", {"model": "m", "verbose": 1}, "verbose", "Not a valid boolean."),
    ("show", {"model": "m", "system": 1}, "system", "Not a valid string."),
    ("show", {"model": "m", "options": {"num_ctx": "1"}}, "options.num_ctx",
     "Not a valid integer."),
    ("chat", chat(_debug_render_only="yes"), "_debug_render_only", "Not a valid boolean."),
    ("create", {"model": "new", "from": "b", "draft_files": {"d": 1}}, "draft_files.d",
     "Not a valid string."),
    ("create", {"model": "new", "from": "b", "info": "x"}, "info", "Must be a JSON object"),
    ("create", {"model": "new", "from": "b", "requires": 12}, "requires",
     "Not a valid string."),
]


@pytest.mark.parametrize(("kind", "wire", "field", "fragment"), INVALID,
                         ids=[f"{k}:{f}:{i}" for i, (k, _, f, _) in enumerate(INVALID)])
def test_invalid_bodies_name_the_field(kind: str, wire: Any, field: str | None,
                                       fragment: str) -> None:
    error = reject(kind, wire)
    assert error.field == field
    assert fragment in str(error)
    prefix = "invalid request: " + (f"{field}: " if field else "")
    assert str(error).startswith(prefix)
    assert (field or "_schema") in error.errors
    assert isinstance(error, ValueError)


def test_message_format_matches_the_contract() -> None:
    error = reject("chat", msg(role="bot"))
    message = "Must be one of: system, user, assistant, tool, developer (any case)."
    assert str(error) == f"invalid request: messages.1.role: {message}"
    assert error.errors == {"messages.1.role": [message]}


def test_all_errors_are_collected_and_the_first_follows_body_order() -> None:
    # options comes before messages in the schema but after it in the body
    wire = {"model": "m", "messages": [{"role": "bot", "content": 1}],
            "options": {"num_predict": 1.5}}
    error = reject("chat", wire)
    assert error.field == "messages.0.role"
    assert list(error.errors) == ["messages.0.role", "messages.0.content",
                                  "options.num_predict"]
    assert str(error).endswith("(and 2 more invalid fields)")


def test_one_more_error_is_singular() -> None:
    error = reject("chat", {"model": "", "stream": "x"})
    assert error.field == "model"
    assert str(error).endswith("(and 1 more invalid field)")


@pytest.mark.parametrize("value", ["5m", "24h", "-1m", "1h30m", "1.5h", ".5s", "300ms",
                                   "10us", "10\u00b5s", "10\u03bcs", "5ns", "0", "+5m", "-0",
                                   0, -1, 3600, 2.5])
def test_keep_alive_accepts_go_durations_and_seconds(value: Any) -> None:
    validate_request("chat", chat(keep_alive=value))


@pytest.mark.parametrize("value", ["low", "medium", "high", "max", True, False])
def test_every_think_value_the_server_takes(value: Any) -> None:
    validate_request("chat", chat(think=value))
    validate_request("generate", gen(think=value))


def test_large_image_and_context_are_accepted() -> None:
    big = base64.b64encode(bytes(range(256)) * 4096).decode()
    validate_request("generate", gen(images=[big], context=list(range(8192))))
