"""What the emulated models "say": deterministic text, tool calls, JSON, vectors.

Every output is a pure function of the request, so tests can predict it: generate
answers ``Echo: <prompt>``, chat answers ``Echo: <last user message>`` (or
``The tool said: ...`` after a tool result), one token per word.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "Turn",
    "build_turn",
    "call_id",
    "context_ids",
    "embedding",
    "format_content",
    "logprob_entries",
    "metrics",
    "tokenize",
    "tool_calls_for",
    "value_for_schema",
]

_WORD: Final = re.compile(r"\S+\s*")
_ID_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz0123456789"
_PLACE_NAMES: Final = frozenset({"city", "location", "place", "town", "destination"})


def tokenize(text: str) -> list[str]:
    """Split into word tokens with their trailing whitespace; ``"".join`` restores it."""
    tokens = _WORD.findall(text)
    leading = text[: len(text) - len(text.lstrip())]
    if leading:
        if tokens:
            tokens[0] = leading + tokens[0]
        else:
            tokens = [leading]
    return tokens


@dataclass
class Turn:
    """One model answer, already cut into the tokens that become stream chunks."""

    content: list[str]
    thinking: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    done_reason: str = "stop"
    prompt_tokens: int = 1

    @property
    def eval_count(self) -> int:
        return max(1, len(self.content) + len(self.thinking) + len(self.tool_calls))


def build_turn(
    text: str,
    *,
    thinking: str = "",
    options: Mapping[str, Any] | None = None,
    prompt_tokens: int = 1,
    tool_calls: list[dict[str, Any]] | None = None,
) -> Turn:
    """Apply ``options.stop`` and ``options.num_predict`` to ``text`` and tokenize.

    ``num_predict = N > 0`` yields exactly ``N`` content tokens with done reason
    ``length``: the answer is cut, or padded with ``tok<i> `` filler (how benchmarks ask
    for long streams), unless a stop sequence ended it first.
    """
    options = options or {}
    stopped = False
    stops = options.get("stop")
    if isinstance(stops, list):
        cut = min((text.find(s) for s in stops if isinstance(s, str) and s and s in text),
                  default=-1)
        if cut >= 0:
            text, stopped = text[:cut], True
    tokens = tokenize(text)
    reason = "stop"
    limit = options.get("num_predict")
    if isinstance(limit, (int, float)) and not isinstance(limit, bool) and limit > 0:
        limit = int(limit)
        if len(tokens) >= limit:
            tokens, reason = tokens[:limit], "length"
        elif not stopped:
            if tokens and not tokens[-1][-1:].isspace():
                tokens[-1] += " "
            tokens.extend(f"tok{i} " for i in range(len(tokens), limit))
            reason = "length"
    return Turn(
        content=tokens,
        thinking=tokenize(thinking),
        tool_calls=tool_calls or [],
        done_reason=reason,
        prompt_tokens=max(1, prompt_tokens),
    )


def thinking_text(request_text: str, level: object) -> str:
    words = len(request_text.split())
    effort = f" ({level} effort)" if isinstance(level, str) else ""
    return (
        f"Let me think about this{effort}. The request has {words} "
        f"word{'s' if words != 1 else ''}, so I will echo it back."
    )


def metrics(turn: Turn) -> dict[str, int]:
    """The six final-chunk metrics (ns), derived from token counts so they are stable.

    Timing model: 2 ms load, 0.4 ms per prompt token, 12.5 ms per output token (80 tok/s).
    """
    load = 2_000_000
    prompt_eval = turn.prompt_tokens * 400_000
    evaluation = turn.eval_count * 12_500_000
    return {
        "total_duration": load + prompt_eval + evaluation + 1_500_000,
        "load_duration": load,
        "prompt_eval_count": turn.prompt_tokens,
        "prompt_eval_duration": prompt_eval,
        "eval_count": turn.eval_count,
        "eval_duration": evaluation,
    }


def context_ids(prompt: str, output: Sequence[str]) -> list[int]:
    """The deprecated ``context`` token list: one id per prompt and output token."""
    return [zlib.crc32(tok.encode()) % 128_000 for tok in (*tokenize(prompt), *output)]


def logprob_entries(token: str, top: int) -> list[dict[str, Any]]:
    """``logprobs`` for one chunk: the token itself is the most likely alternative."""
    base = -round((zlib.crc32(token.encode()) % 2000) / 1000 + 0.001, 6)
    entry: dict[str, Any] = {"token": token, "logprob": base, "bytes": list(token.encode())}
    if top > 0:
        alternatives = [{"token": token, "logprob": base, "bytes": list(token.encode())}]
        for i in range(1, top):
            alt = f"{token.strip() or token}{i}"
            alternatives.append(
                {"token": alt, "logprob": round(base - i * 0.75, 6), "bytes": list(alt.encode())}
            )
        entry["top_logprobs"] = alternatives
    return [entry]


def call_id(*parts: str) -> str:
    """``call_`` plus 8 characters of [a-z0-9], as Ollama's ids look, but deterministic."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return "call_" + "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:8])


# ------------------------------------------------------------------------ schemas


def value_for_schema(
    schema: Any, root: Mapping[str, Any] | None = None, *, name: str = "",
    required_only: bool = False, depth: int = 0,
) -> Any:
    """A value that validates against ``schema``.

    Covers what structured output and tool parameters use in practice: ``type`` (a
    string, a list, or ollama-python's comma-joined string), ``properties``/``required``,
    ``items``/``minItems``, ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``, ``$ref``
    into ``$defs``/``definitions``, numeric bounds and string lengths/formats.
    With ``required_only`` objects get only their required properties (tool arguments);
    otherwise every property (structured output).
    """
    if not isinstance(schema, Mapping) or depth > 12:
        return "value"
    root = root if root is not None else schema

    def recurse(sub: Any, sub_name: str = name) -> Any:
        return value_for_schema(
            sub, root, name=sub_name, required_only=required_only, depth=depth + 1
        )

    ref = schema.get("$ref")
    if isinstance(ref, str):
        return recurse(_resolve_ref(root, ref))
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            non_null = [
                o for o in options if not (isinstance(o, Mapping) and o.get("type") == "null")
            ]
            return recurse(non_null[0]) if non_null else None
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged: dict[str, Any] = {}
        for part in all_of:
            if isinstance(part, Mapping) and "$ref" in part:
                part = _resolve_ref(root, part["$ref"])
            if isinstance(part, Mapping):
                for key, value in part.items():
                    if key == "properties" and isinstance(value, Mapping):
                        merged.setdefault("properties", {}).update(value)
                    elif key == "required" and isinstance(value, list):
                        merged.setdefault("required", []).extend(value)
                    else:
                        merged.setdefault(key, value)
        return recurse(merged)
    kind = _schema_type(schema)
    if kind == "object":
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = schema.get("required")
        if required_only and isinstance(required, list):
            keys = [k for k in props if k in required]
        else:
            keys = list(props)
        return {key: recurse(props[key], key) for key in keys}
    if kind == "array":
        items = schema.get("items")
        if not isinstance(items, Mapping):
            return []
        count = schema.get("minItems")
        count = count if isinstance(count, int) and count > 1 else 1
        return [recurse(items) for _ in range(count)]
    if kind == "integer":
        return int(_clamp(1, schema, integral=True))
    if kind == "number":
        return _clamp(1.5, schema, integral=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string_for(schema, name)


def _resolve_ref(root: Mapping[str, Any], ref: str) -> Any:
    node: Any = root
    if not ref.startswith("#/"):
        return {}
    for part in ref[2:].split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return {}
        node = node[part]
    return node


def _schema_type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind.split(",")[0].strip()
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _clamp(value: float, schema: Mapping[str, Any], *, integral: bool) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    step = 1 if integral else 0.5
    if isinstance(low, (int, float)) and value <= low:
        value = math.ceil(low) if integral else low
        if "exclusiveMinimum" in schema and value <= low:
            value += step
    if isinstance(high, (int, float)) and value >= high:
        value = math.floor(high) if integral else high
        if "exclusiveMaximum" in schema and value >= high:
            value -= step
    return value


def _string_for(schema: Mapping[str, Any], name: str) -> str:
    fmt = schema.get("format")
    formats = {
        "date": "2024-01-01",
        "date-time": "2024-01-01T00:00:00Z",
        "time": "12:00:00",
        "email": "user@example.com",
        "uri": "https://example.com",
        "uuid": "00000000-0000-4000-8000-000000000000",
    }
    if isinstance(fmt, str) and fmt in formats:
        return formats[fmt]
    lowered = name.lower()
    text = "Paris" if lowered in _PLACE_NAMES else "France" if lowered == "country" else "value"
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text += "x" * (low - len(text))
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text


def format_content(text: str, fmt: Any) -> str:
    """The answer under ``format``: ``"json"`` wraps it, a schema gets a valid document."""
    if fmt == "json":
        return json.dumps({"answer": text}, ensure_ascii=False)
    if isinstance(fmt, Mapping):
        return json.dumps(value_for_schema(fmt), ensure_ascii=False)
    return text


def tool_calls_for(tools: Sequence[Any], user_text: str, seed: str) -> list[dict[str, Any]]:
    """Calls for every tool named in ``user_text`` (in tool order), else the first tool.

    Arguments are built from each tool's ``parameters`` schema (required properties).
    """
    lowered = user_text.lower()
    functions: list[Mapping[str, Any]] = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping):
            functions.append(function)
    if not functions:
        return []

    def named(fn: Mapping[str, Any]) -> bool:
        name = str(fn.get("name") or "").lower()
        return bool(name) and (name in lowered or name.replace("_", " ") in lowered)

    chosen = [fn for fn in functions if named(fn)] or functions[:1]
    calls: list[dict[str, Any]] = []
    for index, fn in enumerate(chosen):
        params = fn.get("parameters")
        args = value_for_schema(params, required_only=True) if isinstance(params, Mapping) else {}
        if not isinstance(args, dict):
            args = {}
        name = str(fn.get("name") or "")
        calls.append(
            {
                "id": call_id(seed, name, str(index)),
                "function": {"index": index, "name": name, "arguments": args},
            }
        )
    return calls


# --------------------------------------------------------------------- embeddings


def embedding(text: str, dims: int, truncate_to: int | None = None) -> list[float]:
    """A unit vector seeded from the text's SHA-256; optionally cut to ``truncate_to``
    and renormalised, which is what Ollama does for ``dimensions``."""
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    vector = [rng.gauss(0.0, 1.0) for _ in range(dims)]
    vector = _normalise(vector)
    if truncate_to is not None and 0 < truncate_to < dims:
        vector = _normalise(vector[:truncate_to])
    # float32 precision, as the server sends them
    return [float(f"{v:.8g}") for v in vector]


def _normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
