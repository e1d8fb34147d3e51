"""The one declaration per wire object: a field declared once is validated, sent, settable
in the builder and documented; what is derived agrees with it."""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from marshmallow import validate

from ollama_core import OllamaClient
from ollama_core._builders import ChatRequestBuilder, builder_for
from ollama_core._exceptions import InvalidRequestError
from ollama_core._fields import (
    ChatFields,
    ChatStreamFields,
    CreateFields,
    CreateStreamFields,
    EmbeddingsFields,
    EmbedFields,
    GenerateFields,
    GenerateStreamFields,
    SystemOneFields,
)
from ollama_core._types import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    DebugInfo,
    EmbedResponse,
    GenerateResponse,
    Logprob,
    MessageRole,
    ModelInfo,
    ProgressResponse,
    Tensor,
    TokenLogprob,
    Tool,
    ToolCall,
    ToolCallFunction,
)
from ollama_core._wire._checks import Str
from ollama_core._wire._decl import REQUESTS, Wire, declare, validate_wire, wire
from ollama_core._wire.doc import render
from tests.hostile import Conn, HostileServer, http_response

PACKAGE = Path(__file__).resolve().parents[2] / "ollama_core"


# --------------------------------------------------------------------------------------------
# A field added in one place
# --------------------------------------------------------------------------------------------


@declare()
class ChatWithPersona(ChatRequest):
    """A chat request with one more field, declared here and nowhere else."""

    persona: str | None = wire(Str(validate=validate.OneOf(["pirate", "poet"])),
                               default=None, doc="Who the model speaks as.")
    extra: dict[str, Any] = field(default_factory=dict)


def test_the_added_field_is_validated_naming_it() -> None:
    good = ChatWithPersona(model="m", messages=[{"role": "user", "content": "hi"}],
                           persona="poet")
    assert good.validate()["persona"] == "poet"
    with pytest.raises(InvalidRequestError) as info:
        ChatWithPersona(model="m", persona="robot").validate()
    assert info.value.field == "persona" and "Must be one of: pirate, poet" in str(info.value)
    with pytest.raises(InvalidRequestError) as info:
        validate_wire(ChatWithPersona, {"model": "m", "persona": 7})
    assert info.value.field == "persona"
    # everything inherited still holds
    with pytest.raises(InvalidRequestError) as info:
        ChatWithPersona(model="m", persona="poet", messages=[{"role": 5}]).validate()
    assert info.value.field == "messages.0.role"


async def test_the_added_field_goes_on_the_wire() -> None:
    async def answer(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(http_response(200, {
            "model": "m", "created_at": "t", "done": True,
            "message": {"role": "assistant", "content": "Arr"}}))

    async with HostileServer(answer) as server:
        async with OllamaClient(server.url, plugins=[], stream_on_wire=False) as client:
            reply = await client.chat(ChatWithPersona(
                model="m", messages=[{"role": "user", "content": "hi"}], persona="pirate"))
    assert reply.content == "Arr"
    (received,) = server.requests
    assert received.path == "/api/chat"
    assert received.json()["persona"] == "pirate"


def test_the_added_field_has_a_generated_builder_setter() -> None:
    builder = ChatWithPersona.builder()
    assert isinstance(builder, ChatRequestBuilder)  # the hand-written steps are kept
    request = builder.model("m").user("hi").persona("pirate").temperature(0).build()
    assert isinstance(request, ChatWithPersona) and request.persona == "pirate"
    assert request.validate()["options"] == {"temperature": 0}
    assert type(builder).persona.__doc__ == "Who the model speaks as."
    with pytest.raises(InvalidRequestError) as info:
        builder.model("m").persona("robot").build()
    assert info.value.field == "persona"


def test_the_added_field_is_in_the_docs_table() -> None:
    text = render([ChatWithPersona])
    assert "## ChatWithPersona" in text
    assert "| `persona` |  | `str \\| None` |  | `.persona()` | Who the model speaks as. |" in text
    assert "| `_debug_render_only` | `debug_render_only` |" in text  # inherited ones too


# --------------------------------------------------------------------------------------------
# What is derived agrees with the declarations
# --------------------------------------------------------------------------------------------

HOT = [TokenLogprob, Logprob, ToolCallFunction, ToolCall, ChatMessage, ChatResponse,
       GenerateResponse, EmbedResponse, ProgressResponse]


def _sample(cls: type[Wire]) -> dict[str, Any]:
    """A wire dict with every declared key, each with a value no default has."""
    out: dict[str, Any] = {}
    for info in cls.__wire_fields__:
        decl = info.decl
        if decl.one is not None:
            out[info.key] = _sample(decl.one)
        elif decl.many is not None:
            out[info.key] = [_sample(decl.many)]
        elif info.attr == "role":
            out[info.key] = "tool"
        elif info.attr == "arguments":
            out[info.key] = {"a": 1}
        else:
            out[info.key] = f"<{info.key}>"
    return out


@pytest.mark.parametrize("cls", HOT, ids=lambda c: c.__name__)
def test_hand_written_from_dict_reads_every_declared_field(cls: type[Wire]) -> None:
    sample = _sample(cls)
    hand = cls.from_dict(sample)
    generic = Wire.from_dict.__func__(cls, sample)  # type: ignore[attr-defined]
    assert hand == generic
    assert hand.extra == {}
    assert hand.to_dict() == sample
    for info in cls.__wire_fields__:
        assert getattr(hand, info.attr) is not None, info.attr
    # and a key it does not know is kept
    assert cls.from_dict({**sample, "brand_new": 1}).extra == {"brand_new": 1}


def test_chat_chunk_fast_path_matches_the_generic_decoder() -> None:
    for chunk in ({"model": "m", "created_at": "t", "done": False,
                   "message": {"role": "assistant", "content": "Hi"}},
                  {"model": "m", "done": True, "done_reason": "stop", "eval_count": 3,
                   "message": {"role": "assistant", "content": "", "thinking": "x"},
                   "logprobs": [{"token": "a", "logprob": -0.1}]},
                  {"model": "m", "_debug_info": {"rendered_template": "<t>", "image_count": 1},
                   "message": {"role": "assistant", "content": ""}}):
        assert ChatResponse.from_dict(chunk) == \
            Wire.from_dict.__func__(ChatResponse, chunk)  # type: ignore[attr-defined]
    debug = ChatResponse.from_dict({"_debug_info": {"rendered_template": "<t>"}}).debug_info
    assert debug == DebugInfo(rendered_template="<t>")
    assert ChatResponse.from_dict({"_debug_info": {"rendered_template": "x"}})[
        "_debug_info"]["rendered_template"] == "x"


def test_show_tensors_are_typed() -> None:
    info = ModelInfo.from_dict({"tensors": [{"name": "t.w", "type": "Q4_K", "shape": [2, 3]}]})
    assert info.tensors == [Tensor(name="t.w", type="Q4_K", shape=[2, 3])]
    assert info["tensors"][0]["shape"] == [2, 3]


def test_tool_items_and_any_type_round_trip() -> None:
    tool = Tool(type="web", items={"type": "string"}, function={"name": "f"})
    sent = ChatRequest(model="m", tools=[tool]).validate()["tools"]
    assert sent == [{"type": "web", "items": {"type": "string"}, "function": {"name": "f"}}]
    assert tool.to_dict() == {"type": "web", "items": {"type": "string"},
                              "function": {"name": "f"}}
    assert Tool.from_dict(tool.to_dict()) == tool


def test_roles_in_any_case_and_developer_are_sent_as_given() -> None:
    request = ChatRequest(model="m", messages=[{"role": "User", "content": "a"},
                                               {"role": "developer", "content": "b"}])
    assert [m["role"] for m in request.validate()["messages"]] == ["User", "developer"]
    assert MessageRole("developer") is MessageRole.DEVELOPER


KEYWORDS = {
    "chat": (ChatFields, ChatStreamFields),
    "generate": (GenerateFields, GenerateStreamFields),
    "embed": (EmbedFields,),
    "embeddings": (EmbeddingsFields,),
    "create": (CreateFields, CreateStreamFields),
    "systemone": (SystemOneFields,),
}


@pytest.mark.parametrize("kind", sorted(KEYWORDS))
def test_keyword_typed_dicts_agree_with_the_declarations(kind: str) -> None:
    declared = {info.attr for info in REQUESTS[kind].__wire_fields__}
    for typed_dict in KEYWORDS[kind]:
        keys = typed_dict.__required_keys__ | typed_dict.__optional_keys__
        assert keys == declared, (typed_dict.__name__, keys ^ declared)


def test_builder_for_any_request_kind() -> None:
    for kind, cls in REQUESTS.items():
        builder = builder_for(cls)
        for info in cls.__wire_fields__:
            if info.setter:
                assert callable(getattr(builder, info.attr)), (kind, info.attr)
    create = REQUESTS["create"].builder().model("m").from_("b").draft_quantize("q8_0")
    assert create.build().validate()["draft_quantize"] == "q8_0"


# --------------------------------------------------------------------------------------------
# Only marshmallow's public API
# --------------------------------------------------------------------------------------------

PRIVATE_MARSHMALLOW = re.compile(
    r"\._hooks\b|_declared_fields|\._bind_field|\._invoke_|marshmallow\.decorators|"
    r"\._deserialize\(|\._serialize\(|\._validated\(|_has_processors|\._run_validator|"
    r"\._do_load")


def test_no_private_marshmallow_access_in_the_package() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if PRIVATE_MARSHMALLOW.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_grep_finds_what_it_looks_for() -> None:
    assert PRIVATE_MARSHMALLOW.search("hooks = schema._hooks")
    assert PRIVATE_MARSHMALLOW.search("Schema._declared_fields.items()")
    assert PRIVATE_MARSHMALLOW.search("from marshmallow.decorators import VALIDATES")
    assert not PRIVATE_MARSHMALLOW.search("def _deserialize(self, value: Any,")


def test_every_declaration_builds_its_schema_and_plan() -> None:
    # They are built on first validation, not at import: a declaration whose check cannot
    # be made (a wrong argument to a field) would otherwise surface only on its first use.
    import ollama_core._types  # noqa: F401  (declares the wire objects)
    import ollama_core._wire.account  # noqa: F401
    import ollama_core._wire.systemone  # noqa: F401
    import ollama_core._wire.web  # noqa: F401
    from ollama_core._wire._decl import DECLARED
    from ollama_core._wire._schema import Plan

    assert len(DECLARED) > 50
    for cls in DECLARED:
        assert isinstance(cls._PLAN, Plan), cls
        assert cls.schema() is cls._SCHEMA and isinstance(cls._SCHEMA, cls._SCHEMA_CLASS)
