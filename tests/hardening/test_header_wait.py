"""The wait for a stream's headers is bounded by the stream's own timer.

A stream (and a plain call sent as a stream) has one timer from sending the request: until
the headers are in it cancels the task waiting for them, and the attempt turns that into
``FirstByteTimeout`` or ``DeadlineExceeded``, as ``asyncio.timeout`` did before. These tests
pin what that must keep: the right error, a task that is not left cancelled, and a
cancellation from elsewhere that stays a cancellation. Raw-socket servers that never answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ollama_core import (
    ChatRequest,
    DeadlineExceeded,
    FirstByteTimeout,
    GenerateRequest,
    OllamaClient,
    Timeouts,
)
from tests.hostile import Conn, HostileServer

FOREVER = 3600.0


async def mute(conn: Conn) -> None:
    await conn.read_request()
    await asyncio.sleep(FOREVER)


def chat(client: OllamaClient) -> Any:
    return client.chat(ChatRequest(model="m", messages=[{"role": "user", "content": "x"}]))


async def read_stream(client: OllamaClient) -> None:
    async for _ in client.generate_stream(GenerateRequest(model="m", prompt="x")):
        pass


@pytest.mark.parametrize("call", ["stream", "plain"])
async def test_no_headers_within_first_byte_is_a_first_byte_timeout(call: str) -> None:
    task = asyncio.current_task()
    assert task is not None
    async with HostileServer(mute) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=0.2, idle=FOREVER),
                                plugins=[]) as client:
            for _ in range(2):  # and the client is fine for the next call
                with pytest.raises(FirstByteTimeout, match="did not start responding"):
                    await (read_stream(client) if call == "stream" else chat(client))
                assert task.cancelling() == 0  # the timer's cancellation was taken back


@pytest.mark.parametrize("call", ["stream", "plain"])
async def test_no_headers_before_the_deadline_is_the_deadline(call: str) -> None:
    timeouts = Timeouts(first_byte=FOREVER, idle=FOREVER, deadline=0.2)
    async with HostileServer(mute) as server:
        async with OllamaClient(server.url, timeouts, plugins=[]) as client:
            with pytest.raises(DeadlineExceeded):
                await (read_stream(client) if call == "stream" else chat(client))


async def test_an_outer_timeout_stays_the_callers_timeout() -> None:
    async with HostileServer(mute) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=FOREVER, idle=FOREVER),
                                plugins=[]) as client:
            with pytest.raises(TimeoutError) as info:
                async with asyncio.timeout(0.2):
                    await chat(client)
            assert type(info.value) is TimeoutError  # the caller's, not a FirstByteTimeout


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    received = asyncio.Event()

    async def mute_but_tell(conn: Conn) -> None:
        await conn.read_request()
        received.set()
        await asyncio.sleep(FOREVER)

    async with HostileServer(mute_but_tell) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=FOREVER, idle=FOREVER),
                                plugins=[]) as client:
            task = asyncio.get_running_loop().create_task(chat(client))
            await received.wait()  # the call is waiting for the headers
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task


async def test_the_first_byte_limit_inside_a_longer_outer_timeout() -> None:
    task = asyncio.current_task()
    assert task is not None
    async with HostileServer(mute) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=0.2, idle=FOREVER),
                                plugins=[]) as client:
            async with asyncio.timeout(FOREVER):
                with pytest.raises(FirstByteTimeout):
                    await read_stream(client)
            assert task.cancelling() == 0


async def test_headers_that_come_in_after_the_limit_passed_are_a_timeout() -> None:
    # A transport that does not let the timer's cancellation through and answers anyway:
    # the limit has passed, so the call is a first-byte timeout all the same, the answer's
    # connection is dropped, and the task is not left cancelled.
    from ollama_core import IteratorStream, MockTransport, TransportResponse

    closed: list[bool] = []

    class Tracked(IteratorStream):
        def close(self) -> None:
            closed.append(True)
            super().close()

    class Stubborn(MockTransport):
        async def handle(self, request: Any) -> TransportResponse:
            try:
                await asyncio.sleep(FOREVER)
            except asyncio.CancelledError:
                pass  # swallowed: a transport that ignores cancellation
            return TransportResponse(200, {}, Tracked([b'{"done": true}\n']))

    task = asyncio.current_task()
    assert task is not None
    async with OllamaClient("http://127.0.0.1:9", Timeouts(first_byte=0.05, idle=FOREVER),
                            transport=Stubborn(lambda request: None), plugins=[]) as client:
        with pytest.raises(FirstByteTimeout):
            await chat(client)
    assert closed == [True]
    assert task.cancelling() == 0
