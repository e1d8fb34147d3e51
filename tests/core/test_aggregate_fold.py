"""``Aggregator.fold`` (a batch of lines at a time, as a plain call reading its stream does)
against ``add`` (a line at a time): the same body, the same stopping line, and no line
pulled after it."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from ollama_core import OllamaClient, ResponseError, ResponseTooLargeError
from ollama_core._aggregate import Aggregator, aggregator_for
from ollama_core._transports.base import TransportResponse
from ollama_core._transports.mock import MockTransport

_BODIES = {
    "/api/chat": {"model": "m"},
    "/api/chat tools": {"model": "m", "tools": [{"type": "function"}]},
    "/api/generate": {"model": "m"},
    "/api/pull": {"model": "m"},
}


def _aggregator(kind: str) -> Aggregator:
    aggregator = aggregator_for(kind.split()[0], _BODIES[kind])
    assert aggregator is not None
    return aggregator


def _line(rng: random.Random, kind: str) -> dict[str, Any]:
    text = rng.choice(["", "a", "bc", 5, None])
    line: dict[str, Any] = {}
    if kind.startswith("/api/chat"):
        message = rng.choice([
            {"role": "assistant", "content": text, "thinking": rng.choice(["", "t", 1]),
             "tool_calls": rng.choice([None, [{"function": {"name": "f"}}], "x"])},
            {"content": text}, "not an object", None])
        if message is not None:
            line["message"] = message
    elif kind == "/api/generate":
        line.update(response=text, thinking=rng.choice(["", "t", None]))
    else:
        line["status"] = rng.choice(["pulling", "verifying", "success", 3])
    if rng.random() < 0.3:
        line["logprobs"] = rng.choice([[{"t": 1}], [], "x", None])
    if rng.random() < 0.15:
        line["done"] = rng.choice([True, False, "true", 1])
    if rng.random() < 0.05:
        line["error"] = rng.choice(["boom", {"code": 1}])
    return line


def _by_add(aggregator: Aggregator, lines: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The loop ``fold`` replaces, a line per call."""
    for line in lines:
        if "error" in line:
            return line
        aggregator.add(line)
        if (line.get("done") is True) if aggregator.terminal == "done" \
                else line.get("status") == "success":
            return line
    return None


class _Counted:
    """An iterator that counts how many lines were pulled from it."""

    def __init__(self, lines: list[dict[str, Any]]) -> None:
        self._lines = iter(lines)
        self.pulled = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self

    def __next__(self) -> dict[str, Any]:
        line = next(self._lines)
        self.pulled += 1
        return line


@pytest.mark.parametrize("kind", sorted(_BODIES))
@pytest.mark.parametrize("seed", range(40))
def test_folding_a_batch_equals_adding_its_lines(kind: str, seed: int) -> None:
    rng = random.Random(seed)
    lines = [_line(rng, kind) for _ in range(rng.randint(1, 12))]
    expected_agg, folded_agg = _aggregator(kind), _aggregator(kind)
    expected = _by_add(expected_agg, lines)
    rest = _Counted(lines[1:])
    stopped = folded_agg.fold(lines[0], rest)
    assert stopped is expected
    # A line after the one the fold stops at is never pulled (a lazy batch never decodes it).
    stop_at = lines.index(expected) if expected is not None else len(lines) - 1
    assert rest.pulled == stop_at
    assert folded_agg._last is expected_agg._last
    if expected_agg._last is not None:  # result() needs a folded line
        assert folded_agg.result() == expected_agg.result()


@pytest.mark.parametrize("kind", sorted(_BODIES))
def test_a_stream_folded_in_batches_equals_one_folded_line_by_line(kind: str) -> None:
    rng = random.Random(kind)
    for _ in range(30):
        lines = [_line(rng, kind) for _ in range(rng.randint(1, 20))]
        lines = [line for line in lines if "error" not in line]
        whole, batched = _aggregator(kind), _aggregator(kind)
        expected = _by_add(whole, lines)
        stopped = None
        start = 0
        while start < len(lines) and stopped is None:
            size = rng.randint(1, 5)
            batch = lines[start:start + size]
            stopped = batched.fold(batch[0], iter(batch[1:]))
            start += size
        assert stopped is expected
        if whole._last is not None:
            assert batched.result() == whole.result()


# -- the bound and error lines, a batch at a time, over the transport ----------------

_NDJSON = {"Content-Type": "application/x-ndjson"}
_CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def _chat_line(content: str, done: bool = False) -> bytes:
    return json.dumps({"model": "m", "message": {"role": "assistant", "content": content},
                       "done": done}).encode() + b"\n"


async def _plain_chat(pieces: list[bytes], max_body_size: int) -> Any:
    transport = MockTransport(
        lambda request: TransportResponse.from_bytes(200, _NDJSON, pieces))
    async with OllamaClient(transport=transport, plugins=[],
                            max_body_size=max_body_size) as client:
        return await client.chat(_CHAT)


async def test_a_batch_within_the_bound_is_folded_whole() -> None:
    pieces = [_chat_line("a") + _chat_line("b"), _chat_line("c", done=True)]
    answer = await _plain_chat(pieces, max_body_size=10_000)
    assert answer.message.content == "abc"


async def test_a_batch_past_the_bound_is_refused_even_when_it_ends_the_stream() -> None:
    pieces = [_chat_line("a"), _chat_line("b" * 200) + _chat_line("c", done=True)]
    with pytest.raises(ResponseTooLargeError):
        await _plain_chat(pieces, max_body_size=len(pieces[0]) + 10)


async def test_an_error_line_first_in_a_batch_past_the_bound_is_the_error() -> None:
    error = b'{"error": "model crashed"}\n'
    pieces = [_chat_line("a"), error + _chat_line("b" * 200)]
    with pytest.raises(ResponseError, match="model crashed") as info:
        await _plain_chat(pieces, max_body_size=len(pieces[0]) + 10)
    assert not isinstance(info.value, ResponseTooLargeError)


async def test_an_error_line_after_the_first_of_a_batch_past_the_bound_is_too_large() -> None:
    error = b'{"error": "model crashed"}\n'
    pieces = [_chat_line("a"), _chat_line("b" * 200) + error]
    with pytest.raises(ResponseTooLargeError):
        await _plain_chat(pieces, max_body_size=len(pieces[0]) + 10)


async def test_an_error_line_within_the_bound_stops_the_fold() -> None:
    pieces = [_chat_line("a") + b'{"error": "out of memory"}\n' + _chat_line("b", done=True)]
    with pytest.raises(ResponseError, match="out of memory"):
        await _plain_chat(pieces, max_body_size=10_000)
