"""Cancelling a stream mid-way releases its connection, and the server answers the next
call at once (a server that kept generating for the dropped stream would not)."""

from __future__ import annotations

import asyncio

import pytest

from ollama_core import StreamState
from tests.hostile import open_sockets

from ._target import Target
from .conftest import client_for, no_think, options

pytestmark = pytest.mark.conformance

#: A bound on the call after the cancel; it guards against a hang, it is not a speed test.
NEXT_CALL_WITHIN = 30.0


async def test_cancel_stream_midway(target: Target) -> None:
    model = target.models.chat
    async with client_for(target) as client:
        think = await no_think(client, model)
    # A fresh client, so the stream's is the only connection this process has open.
    async with client_for(target) as client:
        # Far longer than any read-ahead buffer, so the stream is really cut mid-way (a
        # stream read to its end would rightly go back to the pool), and long enough that
        # a server still generating for it would hold up the next call.
        stream = client.chat_stream({
            "model": model, "options": options(10_000), **think,
            "messages": [{"role": "user", "content": "Write a long story about the sea."}]})
        seen = 0
        async for _chunk in stream:
            seen += 1
            if seen == 3:
                stream.cancel()
        assert seen == 3  # nothing is delivered after cancel()
        assert stream.state is StreamState.CANCELLED
        assert stream.last is not None and stream.last.done is False
        await stream.aclose()
        if target.local:
            await loop_turns()  # an aborted transport closes its socket on the next turn
            assert open_sockets(target.port) == 0

        async with asyncio.timeout(NEXT_CALL_WITHIN):
            reply = await client.chat({"model": model, "options": options(4), **think,
                                       "messages": [{"role": "user", "content": "Hi"}]})
        assert reply.done is True
    if target.local:
        await loop_turns()
        assert open_sockets(target.port) == 0


async def loop_turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)
