"""The partial-chunk constructors of the hot decoders give what the generic decoder gives.

``ChatResponse``, ``GenerateResponse`` and ``ChatMessage`` build their commonest chunk by
writing the slots directly (``_types._slot_writer``); every chunk they take that way must
equal the declaration's generic ``from_dict`` and own fresh mutable defaults."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ollama_core._types import (
    ChatMessage,
    ChatResponse,
    GenerateResponse,
    MessageRole,
    _slot_writer,
)
from ollama_core._wire._decl import Wire

_generic = Wire.from_dict.__func__  # type: ignore[attr-defined]

MESSAGES: list[Any] = [
    {"role": "assistant", "content": "Hi"},
    {"role": "user", "content": ""},
    {"role": "narrator", "content": "x"},       # a role the enum does not know
    {"role": ["odd"], "content": "x"},          # not a string: kept as it came
    {"role": "assistant"},                      # no content
    {"content": "x"},                           # no role
    {"role": "assistant", "content": "a", "thinking": "t"},
    {"role": "assistant", "content": "a", "brand_new": 1},
    {},
]

PARTIAL = {"model": "m", "created_at": "2026-12-02T08:00:00Z", "done": False}


@pytest.mark.parametrize("message", MESSAGES, ids=repr)
def test_partial_chat_chunk_matches_the_generic_decoder(message: Any) -> None:
    chunk = {**PARTIAL, "message": message}
    fast = ChatResponse.from_dict(chunk)
    assert fast == _generic(ChatResponse, chunk)
    assert fast.message == _generic(ChatMessage, message)
    assert fast.to_dict() == _generic(ChatResponse, chunk).to_dict()
    assert ChatMessage.from_dict(message) == _generic(ChatMessage, message)


def test_chat_chunks_near_the_partial_shape_take_the_general_path_alike() -> None:
    shapes: list[dict[str, Any]] = []
    for n in range(5):
        for keys in itertools.combinations(["model", "created_at", "done", "message"], n):
            shapes.append({k: {**PARTIAL, "message": MESSAGES[0]}[k] for k in keys})
    shapes += [{**PARTIAL, "message": MESSAGES[0], "done_reason": "stop"},
               {"model": "m", "created_at": "t", "done": True, "eval_count": 3},
               {**PARTIAL, "message": MESSAGES[0], "brand_new": [1]},
               {"model": "m", "created_at": "t", "message": MESSAGES[0], "brand_new": 1}]
    for chunk in shapes:
        assert ChatResponse.from_dict(chunk) == _generic(ChatResponse, chunk), chunk
    # A message that is not an object is read as the default assistant message (as before
    # the fast path existed; the generic decoder would keep it as it came).
    for odd in ("not an object", None):
        assert ChatResponse.from_dict({**PARTIAL, "message": odd}).message == \
            ChatMessage(MessageRole.ASSISTANT)


def test_partial_generate_chunks_match_the_generic_decoder() -> None:
    for chunk in ({"model": "m", "created_at": "t", "response": "Hi", "done": False},
                  {"model": "m", "created_at": "t", "response": "", "done": True},
                  {"model": "m", "created_at": "t", "response": "Hi", "brand_new": 1},
                  {"model": "m", "response": "Hi", "done": False}):
        fast = GenerateResponse.from_dict(chunk)
        assert fast == _generic(GenerateResponse, chunk)
        assert fast.to_dict() == _generic(GenerateResponse, chunk).to_dict()


def test_every_chunk_owns_its_mutable_defaults() -> None:
    chunk = {**PARTIAL, "message": {"role": "assistant", "content": "Hi"}}
    a, b = ChatResponse.from_dict(chunk), ChatResponse.from_dict(chunk)
    a.extra["x"] = 1
    a.message.extra["y"] = 2
    assert b.extra == {} and b.message.extra == {}
    assert a.message is not b.message
    assert a.message.role is MessageRole.ASSISTANT
    g1 = GenerateResponse.from_dict({"model": "m", "created_at": "t", "response": "",
                                     "done": False})
    g2 = GenerateResponse.from_dict({"model": "m", "created_at": "t", "response": "",
                                     "done": False})
    g1.extra["x"] = 1
    assert g2.extra == {}


def test_subclasses_are_built_as_themselves() -> None:
    class Mine(ChatResponse):
        __slots__ = ()

    chunk = {**PARTIAL, "message": {"role": "assistant", "content": "Hi"}}
    assert type(Mine.from_dict(chunk)) is Mine
    assert type(Mine.from_dict(chunk).message) is ChatMessage


def test_the_slot_writer_fills_every_declared_field() -> None:
    build = _slot_writer(ChatResponse, read=("model",), given=("message",))
    message = ChatMessage("assistant", "x")
    chunk = build({"model": "m"}, message)
    assert chunk == ChatResponse(model="m", message=message)
    assert _slot_writer(ChatResponse)({}) == ChatResponse()
    with pytest.raises(AssertionError):
        _slot_writer(ChatResponse, read=("no_such_field",))
