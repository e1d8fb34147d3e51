"""``MockTransport``: answers from a function, no sockets; everything above the bytes runs
as over aiohttp (typing, error statuses, hooks, plugins, timeouts)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ollama_core import (
    ChatResponse,
    CircuitOpenError,
    ClientClosedError,
    ConnectError,
    DeadlineExceeded,
    DecodeError,
    EmbedResponse,
    FakeClock,
    FirstByteTimeout,
    IdleTimeout,
    InvalidConfigError,
    MockTransport,
    OllamaClient,
    ReadError,
    Request,
    Response,
    ResponseTooLargeError,
    ServiceUnavailableError,
    StreamErrorLine,
    SyncOllamaClient,
    Timeouts,
    TransportResponse,
    hookimpl,
)

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
EMBED = {"model": "m", "input": "x"}


def chat_lines(*parts: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [
        {"model": "m", "message": {"role": "assistant", "content": p}, "done": False}
        for p in parts]
    lines.append({"model": "m", "message": {"role": "assistant", "content": ""}, "done": True,
                  "done_reason": "stop"})
    return lines


def embedding(request: Request) -> dict[str, Any]:
    return {"model": request.json["model"], "embeddings": [[0.5, 0.25]]}


async def test_a_dict_is_a_json_body_typed_like_a_real_answer() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> dict[str, Any]:
        seen.append(request)
        return embedding(request)

    async with OllamaClient(transport=MockTransport(handler), plugins=[]) as client:
        reply = await client.embed(EMBED)
    assert isinstance(reply, EmbedResponse) and reply.embeddings == [[0.5, 0.25]]
    assert [(r.endpoint, r.path, r.json["input"]) for r in seen] == [("embed", "/api/embed", "x")]


async def test_a_list_is_an_ndjson_stream_typed_chunk_by_chunk() -> None:
    transport = MockTransport(lambda request: chat_lines("Hel", "lo"))
    async with OllamaClient(transport=transport, plugins=[]) as client:
        chunks = [c async for c in client.chat_stream(CHAT)]
        folded = await client.chat(CHAT)  # a plain chat goes on the wire as a stream
    assert all(isinstance(c, ChatResponse) for c in chunks)
    assert [c.message.content for c in chunks] == ["Hel", "lo", ""]
    assert chunks[-1].done and chunks[-1].done_reason == "stop"
    assert folded.message.content == "Hello" and folded.done
    assert transport.calls == 2


async def test_an_async_handler_and_a_none_answer() -> None:
    async def handler(request: Request) -> None:
        await asyncio.sleep(0)
        return None  # copy answers an empty body

    async with OllamaClient(transport=MockTransport(handler), plugins=[]) as client:
        assert await client.copy_model("a", "b") is None


async def test_a_response_gives_status_headers_and_body() -> None:
    def handler(request: Request) -> Response:
        return Response(request, 503, {"Retry-After": "7"}, body={"error": "overloaded"})

    async with OllamaClient(transport=MockTransport(handler), plugins=[]) as client:
        with pytest.raises(ServiceUnavailableError) as info:
            await client.embed(EMBED)
    assert info.value.status_code == 503 and info.value.error == "overloaded"
    assert info.value.retry_after == 7.0


async def test_a_transport_response_gives_exact_bytes() -> None:
    transport = MockTransport(lambda request: TransportResponse.from_bytes(
        200, {"Content-Type": "application/json"}, [b'{"embed', b"dings\": nope"]))
    async with OllamaClient(transport=transport, plugins=[]) as client:
        with pytest.raises(DecodeError) as info:
            await client.embed(EMBED)
    assert info.value.endpoint == "embed"


async def test_an_error_line_mid_stream() -> None:
    lines = chat_lines("a")[:1] + [{"error": "model crashed"}]
    async with OllamaClient(transport=MockTransport(lambda r: lines), plugins=[]) as client:
        stream = client.chat_stream(CHAT)
        with pytest.raises(StreamErrorLine, match="model crashed"):
            async for _ in stream:
                pass


@pytest.mark.parametrize(("raised", "expected"), [
    (ConnectionRefusedError("refused"), ConnectError),
    (RuntimeError("socket on fire"), ReadError),
    (ConnectError("down"), ConnectError),
])
async def test_what_a_handler_raises(raised: Exception, expected: type[Exception]) -> None:
    def handler(request: Request) -> dict[str, Any]:
        raise raised

    async with OllamaClient(transport=MockTransport(handler), plugins=[]) as client:
        with pytest.raises(expected) as info:
            await client.embed(EMBED)
    if isinstance(raised, ConnectError):
        assert info.value is raised
    else:
        assert info.value.__cause__ is raised


async def test_a_handler_returning_something_else_is_a_clear_error() -> None:
    transport = MockTransport(lambda request: "hello")  # type: ignore[arg-type,return-value]
    async with OllamaClient(transport=transport, plugins=["retry"]) as client:
        with pytest.raises(InvalidConfigError, match="returned str"):
            await client.embed(EMBED)
    assert transport.calls == 1  # a test's mistake, not a network failure: never retried


async def test_retry_over_a_503_then_200() -> None:
    answers: list[Any] = ["busy", "ok"]

    def handler(request: Request) -> Any:
        if answers.pop(0) == "busy":
            return Response(request, 503, body={"error": "busy"})
        return embedding(request)

    transport = MockTransport(handler)
    async with OllamaClient(transport=transport, plugins=["retry"],
                            clock=FakeClock(autoadvance=True)) as client:
        reply = await client.embed(EMBED)
    assert reply.embeddings == [[0.5, 0.25]]
    assert transport.calls == 2 and answers == []


async def test_the_breaker_opens_and_then_refuses_without_a_request() -> None:
    def handler(request: Request) -> Response:
        return Response(request, 500, body={"error": "boom"})

    transport = MockTransport(handler)
    async with OllamaClient(transport=transport, plugins=["circuit_breaker"],
                            plugin_config={"circuit_breaker": {"fail_max": 2}},
                            clock=FakeClock()) as client:
        for _ in range(2):
            with pytest.raises(Exception):
                await client.embed(EMBED)
        with pytest.raises(CircuitOpenError):
            await client.embed(EMBED)
    assert transport.calls == 2


async def test_failover_moves_to_the_next_upstream() -> None:
    hosts: list[str] = []

    def handler(request: Request) -> dict[str, Any]:
        assert request.upstream is not None
        hosts.append(request.upstream.display)
        if "first" in request.upstream.display:
            raise ConnectError("first is down")
        return embedding(request)

    endpoints = ["http://first:11434", "http://second:11434"]
    async with OllamaClient(transport=MockTransport(handler), plugins=["failover"],
                            plugin_config={"failover": {"endpoints": endpoints}},
                            clock=FakeClock(autoadvance=True)) as client:
        reply = await client.embed(EMBED)
    assert reply.embeddings == [[0.5, 0.25]]
    assert hosts == endpoints


async def test_the_cache_answers_the_second_call() -> None:
    transport = MockTransport(embedding)
    async with OllamaClient(transport=transport, plugins=["request_caching"],
                            clock=FakeClock()) as client:
        first = await client.embed(EMBED)
        second = await client.embed(EMBED)
    assert first.embeddings == second.embeddings
    assert transport.calls == 1


class Recorder:
    """Every per-attempt hook, through pluggy, over the mock."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        self.seen.append(f"request {request.endpoint}")

    @hookimpl
    def ollama_response(self, response: Response) -> None:
        self.seen.append(f"response {response.status}")

    @hookimpl
    def ollama_error(self, error: BaseException) -> None:
        self.seen.append(f"error {type(error).__name__}")

    @hookimpl
    def ollama_stream_chunk(self, chunk: dict[str, Any]) -> None:
        self.seen.append(f"chunk {chunk['message']['content']!r}")


async def test_the_per_attempt_hooks_run_over_the_mock() -> None:
    def handler(request: Request) -> Any:
        if request.endpoint == "embed":
            return Response(request, 404, body={"error": "model 'm' not found"})
        return chat_lines("a")

    recorder = Recorder()
    async with OllamaClient(transport=MockTransport(handler), plugins=[recorder]) as client:
        async for _ in client.chat_stream(CHAT):
            pass
        with pytest.raises(Exception):
            await client.embed(EMBED)
    assert recorder.seen == ["request chat", "response 200", "chunk 'a'", "chunk ''",
                             "request embed", "response 404", "error NotFoundError"]


async def test_first_byte_bounds_a_slow_handler_of_a_plain_call() -> None:
    async def handler(request: Request) -> dict[str, Any]:
        await asyncio.Event().wait()  # a server that never answers
        raise AssertionError("unreachable")

    timeouts = Timeouts(first_byte=0.05, idle=60)
    async with OllamaClient(timeout=timeouts, transport=MockTransport(handler),
                            plugins=[]) as client:
        with pytest.raises(FirstByteTimeout):
            await client.embed(EMBED)
        with pytest.raises(FirstByteTimeout):  # a stream: the client's own first-byte limit
            await client.chat(CHAT)


async def test_idle_and_deadline_bound_a_stream_that_stops() -> None:
    def handler(request: Request) -> Response:
        async def lines() -> AsyncIterator[dict[str, Any]]:
            yield chat_lines("a")[0]
            await asyncio.Event().wait()  # the server stops sending
            yield chat_lines()[-1]

        return Response(request, 200, lines=lines())

    async with OllamaClient(timeout=Timeouts(first_byte=60, idle=0.05),
                            transport=MockTransport(handler), plugins=[]) as client:
        stream = client.chat_stream(CHAT)
        with pytest.raises(IdleTimeout):
            async for _ in stream:
                pass
    async with OllamaClient(timeout=Timeouts(first_byte=60, idle=60, deadline=0.05),
                            transport=MockTransport(handler), plugins=[]) as client:
        with pytest.raises(DeadlineExceeded):
            await client.chat(CHAT)


async def test_the_body_bound_applies() -> None:
    transport = MockTransport(lambda request: {"model": "m", "embeddings": [[0.0] * 100]})
    async with OllamaClient(transport=transport, plugins=[], max_body_size=64) as client:
        with pytest.raises(ResponseTooLargeError):
            await client.embed(EMBED)


async def test_a_request_asking_for_bytes_gets_them() -> None:
    transport = MockTransport(lambda request: TransportResponse.from_bytes(200, {}, b"Ollama"))
    async with OllamaClient(transport=transport, plugins=[]) as client:
        assert await client.is_available() is True
        response = await client.send(Request("GET", "/", "health", decode=False))
    assert response.body == b"Ollama"


async def test_the_client_closes_the_transport() -> None:
    transport = MockTransport(embedding)
    client = OllamaClient(transport=transport, plugins=[])
    await client.embed(EMBED)
    await client.aclose()
    with pytest.raises(ClientClosedError):
        await client.embed(EMBED)
    with pytest.raises(ClientClosedError):  # the transport itself refuses from now on
        await client._transport.handle(None)  # type: ignore[arg-type]


def test_the_sync_client_takes_the_same_transport() -> None:
    with SyncOllamaClient(transport=MockTransport(lambda r: chat_lines("x", "y")),
                          plugins=[]) as client:
        assert [c.message.content for c in client.chat_stream(CHAT)] == ["x", "y", ""]
        assert client.chat(CHAT).message.content == "xy"
