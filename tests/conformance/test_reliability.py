"""The reliability plugins around real calls: what a healthy server's answers do to them."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ollama_core import NotFoundError

from ._target import Target, alternate_url
from .conftest import client_for, no_think, options, unique_name

pytestmark = pytest.mark.conformance


def hello(model: str, think: dict[str, bool]) -> dict[str, object]:
    return {"model": model, "options": options(4), **think,
            "messages": [{"role": "user", "content": "Say hello."}]}


async def test_retry_does_not_retry_a_404(target: Target) -> None:
    async with client_for(target, plugins=["retry"], plugin_config={
            "retry": {"max_attempts": 4, "base_delay": 0.01, "max_delay": 0.05}}) as client:
        with pytest.raises(NotFoundError):
            await client.chat(hello(unique_name("conformance-missing"), {}))
        stats = client.plugin("retry").stats
        assert (stats.calls, stats.attempts, stats.retries) == (1, 1, 0)
        # and a real answer goes through it untouched
        reply = await client.chat(hello(target.models.chat,
                                        await no_think(client, target.models.chat)))
        assert reply.done is True
        assert (stats.calls, stats.attempts, stats.retries) == (2, 2, 0)


async def test_breaker_stays_closed(target: Target) -> None:
    model = target.models.chat
    # One counted failure would open it: the answers of a healthy server must count none.
    async with client_for(target, plugins=["circuit_breaker"],
                          plugin_config={"circuit_breaker": {"fail_max": 1}}) as client:
        think = await no_think(client, model)
        await client.chat(hello(model, think))
        with pytest.raises(NotFoundError):
            await client.chat(hello(unique_name("conformance-missing"), {}))
        with pytest.raises(NotFoundError):
            await client.model_info(unique_name("conformance-missing"))
        async with client.chat_stream(hello(model, think)) as stream:
            chunks = [c async for c in stream]
        assert chunks[-1].done is True
        await client.chat(hello(model, think))
        breaker = client.plugin("circuit_breaker")
        states = breaker.states()
        assert states, "no breaker was consulted"
        assert set(states.values()) == {"closed"}, states
        assert breaker.state(endpoint="chat") == "closed"


async def test_failover_over_two_urls_of_the_server(target: Target) -> None:
    other = alternate_url(target.url)
    if other is None:
        pytest.skip(f"no second URL found for {target.url} (its host has no other name)")
    model = target.models.chat
    async with client_for(target, plugins=["failover"], plugin_config={"failover": {
            "endpoints": [target.url, other], "policy": "round_robin"}}) as client:
        think = await no_think(client, model)
        for _ in range(2):
            assert (await client.chat(hello(model, think))).done is True
            assert await client.version()
        failover = client.plugin("failover")
        stats = failover.stats()
        assert len(stats) == 2
        for url, entry in stats.items():
            assert entry["requests"] >= 2, (url, stats)
            assert entry["failures"] == 0, (url, stats)
        assert failover.failovers == 0


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


async def test_failover_from_a_dead_url_to_the_server(target: Target, closed_port: int) -> None:
    dead = f"http://127.0.0.1:{closed_port}"
    model = target.models.chat
    async with client_for(target, plugins=["failover"], plugin_config={"failover": {
            "endpoints": [dead, target.url], "cooldown": 60}}) as client:
        think = await no_think(client, model)
        assert (await client.chat(hello(model, think))).done is True
        assert (await client.chat(hello(model, think))).done is True
        failover = client.plugin("failover")
        stats = failover.stats()
        assert stats[dead]["failures"] == 1  # then in its cooldown, so not tried again
        assert stats[dead]["available"] is False
        assert failover.failovers == 1
        assert failover.active().display == target.url
