"""Timeouts exactly as documented (``Timeouts``): for a stream, ``first_byte`` covers the
headers and the first line, ``idle`` every wait for data after it; for a plain call,
``first_byte`` covers the headers and every wait for body data; a ``deadline`` adds its
own limit and changes no other. Shown against raw-socket servers that pace their bytes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from ollama_core import (
    DeadlineExceeded,
    EmbedRequest,
    FirstByteTimeout,
    GenerateRequest,
    IdleTimeout,
    OllamaClient,
    Request,
    Timeouts,
)
from tests.hostile import STREAM_HEAD, Conn, HostileServer, http_response


def chunk(data: bytes) -> bytes:
    """One HTTP chunk."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def line(obj: dict[str, Any]) -> bytes:
    return chunk(json.dumps(obj).encode() + b"\n")


def gen_line(text: str, done: bool = False) -> bytes:
    obj: dict[str, Any] = {"model": "m", "created_at": "2026-01-01T00:00:00Z",
                           "response": text, "done": done}
    if done:
        obj.update(done_reason="stop", total_duration=5, eval_count=2)
    return line(obj)


END = b"0\r\n\r\n"
FOREVER = 3600.0  # a server that never sends more: the test ends it by stopping the server


def generate_stream(client: OllamaClient) -> Any:
    return client.generate_stream(GenerateRequest(model="m", prompt="x"))


async def test_the_first_line_is_bounded_by_first_byte_not_by_idle() -> None:
    # Headers at once, then nothing: the first line never comes. Only ``first_byte`` may
    # end this; ``idle`` (an hour) does not start before the first line.
    async def headers_only(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD)
        await asyncio.sleep(FOREVER)

    async with HostileServer(headers_only) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=0.2, idle=FOREVER),
                                plugins=[]) as client:
            with pytest.raises(FirstByteTimeout):
                async for _ in generate_stream(client):
                    pass


async def test_a_partial_first_line_is_still_the_first_byte_phase() -> None:
    # Bytes keep coming (a few every 50 ms), but no complete line: still first_byte.
    async def dribble(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD)
        for _ in range(200):
            await conn.send(chunk(b" "))
            await asyncio.sleep(0.05)

    async with HostileServer(dribble) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=0.3, idle=FOREVER),
                                plugins=[]) as client:
            with pytest.raises(FirstByteTimeout):
                async for _ in generate_stream(client):
                    pass


async def test_idle_does_not_apply_before_the_first_line() -> None:
    # The first line takes 0.4 s, twice the idle limit; first_byte (5 s) allows it.
    async def slow_first_line(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD)
        await asyncio.sleep(0.4)
        await conn.send(gen_line("a") + gen_line("b") + gen_line("", done=True) + END)

    async with HostileServer(slow_first_line) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=5, idle=0.2),
                                plugins=[]) as client:
            chunks = [c async for c in generate_stream(client)]
    assert [c.response for c in chunks] == ["a", "b", ""] and chunks[-1].done


async def test_idle_applies_after_the_first_line() -> None:
    async def then_silence(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD + gen_line("a"))
        await asyncio.sleep(FOREVER)

    async with HostileServer(then_silence) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=FOREVER, idle=0.2),
                                plugins=[]) as client:
            seen = []
            with pytest.raises(IdleTimeout):
                async for c in generate_stream(client):
                    seen.append(c.response)
    assert seen == ["a"]


async def test_a_server_that_sends_nothing_is_a_first_byte_timeout() -> None:
    async def mute(conn: Conn) -> None:
        await conn.read_request()
        await asyncio.sleep(FOREVER)

    async with HostileServer(mute) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=0.2, idle=FOREVER),
                                plugins=[]) as client:
            with pytest.raises(FirstByteTimeout):
                async for _ in generate_stream(client):
                    pass
            with pytest.raises(FirstByteTimeout):
                await client.embed(EmbedRequest(model="m", input="x"))


EMBED = {"model": "m", "embeddings": [[0.5, 0.5]]}


def _slow_plain_body(delay: float) -> Any:
    """Headers at once, the body ``delay`` seconds later."""
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        whole = http_response(200, EMBED)
        head, body = whole.split(b"\r\n\r\n", 1)
        await conn.send(head + b"\r\n\r\n")
        await asyncio.sleep(delay)
        await conn.send(body)
    return handler


@pytest.mark.parametrize("deadline", [None, 30.0])
async def test_a_deadline_changes_no_limit_of_a_plain_call(deadline: float | None) -> None:
    # The body comes 0.4 s after the headers: far beyond idle (which plain calls do not
    # use), within first_byte. With or without a deadline the call succeeds.
    timeouts = Timeouts(first_byte=5, idle=0.1, deadline=deadline)
    async with HostileServer(_slow_plain_body(0.4)) as server:
        async with OllamaClient(server.url, timeouts, plugins=[]) as client:
            reply = await client.embed(EmbedRequest(model="m", input="x"))
    assert reply.embeddings == [[0.5, 0.5]]


@pytest.mark.parametrize("deadline", [None, 30.0])
async def test_a_plain_body_that_stalls_is_a_first_byte_timeout(deadline: float | None) -> None:
    timeouts = Timeouts(first_byte=0.2, idle=FOREVER, deadline=deadline)
    async with HostileServer(_slow_plain_body(FOREVER)) as server:
        async with OllamaClient(server.url, timeouts, plugins=[]) as client:
            with pytest.raises(FirstByteTimeout):
                await client.embed(EmbedRequest(model="m", input="x"))


@pytest.mark.parametrize("deadline", [None, 30.0])
async def test_a_deadline_changes_no_limit_of_a_stream(deadline: float | None) -> None:
    # First line after 0.3 s (> idle, < first_byte), then gaps of 0.05 s (< idle).
    async def paced(conn: Conn) -> None:
        while await conn.read_request() is not None:  # keep-alive: serve every request
            await conn.send(STREAM_HEAD)
            await asyncio.sleep(0.3)
            for text in "abcde":
                await conn.send(gen_line(text))
                await asyncio.sleep(0.05)
            await conn.send(gen_line("", done=True) + END)

    timeouts = Timeouts(first_byte=5, idle=0.2, deadline=deadline)
    async with HostileServer(paced) as server:
        async with OllamaClient(server.url, timeouts, plugins=[]) as client:
            chunks = [c async for c in generate_stream(client)]
            assert "".join(c.response for c in chunks) == "abcde"
            reply = await client.generate(GenerateRequest(model="m", prompt="x"))
            assert reply.response == "abcde"


async def test_the_deadline_still_bounds_the_whole_call() -> None:
    # Lines every 50 ms for ever: no first-byte or idle limit is hit, the deadline is.
    async def endless(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD)
        while True:
            await conn.send(gen_line("x"))
            await asyncio.sleep(0.05)

    timeouts = Timeouts(first_byte=5, idle=5, deadline=0.3)
    async with HostileServer(endless) as server:
        async with OllamaClient(server.url, timeouts, plugins=[]) as client:
            with pytest.raises(DeadlineExceeded):
                async for _ in generate_stream(client):
                    pass
            with pytest.raises(DeadlineExceeded):
                await client.generate(GenerateRequest(model="m", prompt="x"))


async def test_a_deadline_before_the_first_line_is_reported_as_the_deadline() -> None:
    async def headers_only(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD)
        await asyncio.sleep(FOREVER)

    timeouts = Timeouts(first_byte=FOREVER, idle=FOREVER, deadline=0.2)
    async with HostileServer(headers_only) as server:
        async with OllamaClient(server.url, timeouts, plugins=[]) as client:
            with pytest.raises(DeadlineExceeded):
                async for _ in generate_stream(client):
                    pass



async def test_an_error_status_whose_body_stalls_is_bounded_by_first_byte() -> None:
    # A stream answered 500 whose body never comes: the error body is part of the
    # response's start, so first_byte ends it (idle is an hour).
    async def stalled_error(conn: Conn) -> None:
        await conn.read_request()
        head, _ = http_response(500, {"error": "boom"}).split(b"\r\n\r\n", 1)
        await conn.send(head + b"\r\n\r\n")
        await asyncio.sleep(FOREVER)

    async with HostileServer(stalled_error) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=0.2, idle=FOREVER),
                                plugins=[]) as client:
            with pytest.raises(FirstByteTimeout):
                async for _ in generate_stream(client):
                    pass


async def test_a_request_sent_again_does_not_keep_an_earlier_deadline() -> None:
    async def answer(conn: Conn) -> None:
        while await conn.read_request() is not None:
            await conn.send(STREAM_HEAD + gen_line("a") + gen_line("", done=True) + END)

    async with HostileServer(answer) as server:
        async with OllamaClient(server.url, plugins=[]) as client:
            request = Request("POST", "/api/generate", "generate",
                              json={"model": "m", "prompt": "x", "stream": True})
            # What an earlier send with a deadline left behind, long past now.
            request.deadline_at = asyncio.get_running_loop().time() - 1
            response = await client.send(request)
    assert response.body["response"] == "a"


async def test_the_deadline_bounds_a_plain_call_whose_body_never_comes() -> None:
    timeouts = Timeouts(first_byte=FOREVER, idle=FOREVER, deadline=0.2)
    async with HostileServer(_slow_plain_body(FOREVER)) as server:
        async with OllamaClient(server.url, timeouts, plugins=[]) as client:
            with pytest.raises(DeadlineExceeded):
                await client.embed(EmbedRequest(model="m", input="x"))
