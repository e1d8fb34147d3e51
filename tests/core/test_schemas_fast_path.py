"""The validation fast path never accepts what the full marshmallow pass rejects."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from ollama_core._wire._decl import REQUESTS
from ollama_core._wire._schema import Plan, fast_valid

# Every request kind: its schema (derived from the declaration) and its fast-path plan
# (compiled from the same declaration).
_SCHEMAS = {kind: cls.schema() for kind, cls in REQUESTS.items()}
_PLANS: dict[str, Plan] = {kind: cls._PLAN for kind, cls in REQUESTS.items()}
_fast_valid = fast_valid

VALID: dict[str, dict[str, Any]] = {
    "chat": {"model": "m", "stream": False, "think": "high", "keep_alive": "5m",
             "format": {"type": "object"}, "options": {"temperature": 0.2, "num_predict": 5,
                                                       "stop": ["x"]},
             "messages": [
                 {"role": "user", "content": "hi", "images": ["aGVsbG8="]},
                 {"role": "assistant", "content": "", "tool_calls": [
                     {"id": "c1", "function": {"name": "f", "arguments": {"a": 1}}}]},
                 {"role": "tool", "content": "1", "tool_name": "f", "tool_call_id": "c1"}],
             "tools": [{"type": "function", "function": {"name": "f", "parameters": {
                 "type": "object", "properties": {}}}}]},
    "generate": {"model": "m", "prompt": "p", "system": "s", "context": [1, 2],
                 "images": ["aGVsbG8="], "raw": False, "top_logprobs": 3, "logprobs": True},
    "embed": {"model": "m", "input": ["a", "b"], "dimensions": 8, "truncate": True},
    "embeddings": {"model": "m", "prompt": "p"},
    "create": {"model": "m", "from": "base", "parameters": {"temperature": 1},
               "license": ["MIT"], "quantize": "q4_K_M"},
    "pull": {"model": "m", "insecure": True}, "push": {"model": "m"},
    "copy": {"source": "a", "destination": "b"}, "delete": {"model": "m"},
    "show": {"model": "m", "verbose": True, "system": "s", "options": {"num_ctx": 8}},
    "web_search": {"query": "q", "max_results": 3},
    "web_fetch": {"url": "https://ollama.com"},
    "systemone": {"model": "m", "state": {"a": 1}, "keep_alive": 0, "images": ["aGVsbG8="],
                  "questions": {
                      "c": {"type": "choice", "instructions": "x",
                            "criteria": {"a": None, "b": "bee"}},
                      "n": {"type": "noul", "instructions": ["y"], "criteria": {"true": "t"}},
                      "s": {"type": "score", "instructions": "z", "criteria": ["lo", "hi"]}}},
}

ODD_VALUES: list[Any] = [None, "", " ", "x", "data:image/png;base64,aGk=", "%%%", -5, -1, 0, 1,
                         25, 1.5, float("nan"), float("inf"), -float("inf"), -0.0, 10**400,
                         True, False, [], ["x"], [1], {},
                         {"a": 1}, b"bytes", ("t",), "5m", "-1m", "max", "extreme", "user",
                         "User", "developer", "wizard", "choice", "noul", "score",
                         {"type": "noul", "instructions": "i"}]


def mutate(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """Replace, delete or add one thing somewhere in ``value``."""
    if isinstance(value, dict) and value and depth < 4 and rng.random() < 0.7:
        key = rng.choice(list(value))
        action = rng.random()
        if action < 0.2:
            del value[key]
        elif action < 0.3:
            value[rng.choice(["unknown", "role", "model", "stream", "name"])] = \
                rng.choice(ODD_VALUES)
        elif action < 0.6:
            value[key] = rng.choice(ODD_VALUES)
        else:
            value[key] = mutate(rng, value[key], depth + 1)
        return value
    if isinstance(value, list) and value and depth < 4 and rng.random() < 0.7:
        i = rng.randrange(len(value))
        value[i] = mutate(rng, value[i], depth + 1) if rng.random() < 0.7 else \
            rng.choice(ODD_VALUES)
        return value
    return rng.choice(ODD_VALUES)


def test_every_schema_has_a_plan() -> None:
    assert set(_PLANS) == set(_SCHEMAS) and all(_PLANS.values())


@pytest.mark.parametrize("kind", sorted(VALID))
def test_valid_examples_take_the_fast_path(kind: str) -> None:
    assert _SCHEMAS[kind].validate(VALID[kind]) == {}
    assert _fast_valid(_PLANS[kind], VALID[kind])  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", sorted(VALID))
def test_fast_path_is_never_more_lenient_than_marshmallow(kind: str) -> None:
    rng = random.Random(kind)
    plan, schema = _PLANS[kind], _SCHEMAS[kind]
    rejected = 0
    for _ in range(3000):
        candidate = VALID[kind]
        for _ in range(rng.randint(1, 3)):
            candidate = mutate(rng, copy.deepcopy(candidate))
        errors = schema.validate(candidate) if isinstance(candidate, dict) else {"_": 1}
        if _fast_valid(plan, candidate):  # type: ignore[arg-type]
            assert errors == {}, (candidate, errors)
        rejected += bool(errors)
    assert rejected > 300  # the mutations really do produce invalid requests


def test_strict_scalar_fields_are_checked_by_type_on_the_fast_path() -> None:
    # Strings, booleans, strict integers and floats are checked by their exact type and
    # their validators, without marshmallow's per-call machinery; what is not of the
    # exact type is still decided by marshmallow (never more lenient, above).
    from ollama_core._wire._schema import _EXACT

    chat = _PLANS["chat"]
    message = chat.checks["messages"][2]
    options = chat.checks["options"][2]
    assert chat.checks["model"][1:] == (_EXACT, str)
    assert chat.checks["stream"][1:] == (_EXACT, bool)
    assert message.checks["role"][1:] == (_EXACT, str)
    assert options.checks["num_predict"][1:] == (_EXACT, int)
    assert options.checks["temperature"][1:] == (_EXACT, float)
    # the validators still run: a blank model name is refused by the fast path
    check: Any = _fast_valid
    assert not check(chat, {"model": " ", "messages": []})
    for bad in (float("nan"), float("inf"), "0.5", True):
        assert not check(chat, {"model": "m", "options": {"temperature": bad}})
    assert check(chat, {"model": "m", "options": {"temperature": 0.5, "seed": 3}})
