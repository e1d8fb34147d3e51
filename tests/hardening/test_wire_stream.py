"""Non-streaming generation calls go on the wire as streams and are folded back into the
answer ``"stream": false`` gives, so a long generation is never cut and a silent server
is caught within the idle timeout.

Both halves are shown against raw-socket servers and a SIGSTOPped emulator process; the
folded answer is compared field by field with the server's own ``"stream": false`` body
over a matrix of requests; the call stays one plain attempt for middlewares, retry and
hooks."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ollama_core import (
    ChatRequest,
    FirstByteTimeout,
    GenerateRequest,
    IdleTimeout,
    InvalidConfigError,
    OllamaClient,
    ReadError,
    Request,
    Response,
    ResponseError,
    ServerError,
    StreamError,
    StreamInterruptedError,
    SyncOllamaClient,
    Timeouts,
    hookimpl,
)
from ollama_core.emulator import OllamaEmulator
from tests.hostile import STREAM_HEAD, Conn, HostileServer, SubprocessEmulator

HELLO = [{"role": "user", "content": "hi"}]
FOREVER = 3600.0
CHUNKS = 30


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def chat_line(text: str, done: bool = False, generate: bool = False) -> bytes:
    obj: dict[str, Any] = {"model": "m", "created_at": "2026-01-01T00:00:00Z"}
    if generate:
        obj["response"] = text
    else:
        obj["message"] = {"role": "assistant", "content": text}
    obj["done"] = done
    if done:
        obj.update(done_reason="stop", total_duration=9, eval_count=CHUNKS)
    return chunk(json.dumps(obj).encode() + b"\n")


def progress_line(status: str) -> bytes:
    return chunk(json.dumps({"status": status}).encode() + b"\n")


def slow_generation(gap: float, count: int = CHUNKS) -> Any:
    """Answers every request with ``count`` chat lines ``gap`` seconds apart."""
    async def handler(conn: Conn) -> None:
        while (request := await conn.read_request()) is not None:
            generate = request.path == "/api/generate"
            await conn.send(STREAM_HEAD)
            for i in range(count):
                await conn.send(chat_line(f"w{i} ", generate=generate))
                await asyncio.sleep(gap)
            await conn.send(chat_line("", done=True, generate=generate) + b"0\r\n\r\n")
    return handler


def then_silence(first_lines: bytes) -> Any:
    async def handler(conn: Conn) -> None:
        await conn.read_request()
        await conn.send(STREAM_HEAD + first_lines)
        await asyncio.sleep(FOREVER)
    return handler


# -- the long generation succeeds ------------------------------------------------------


async def test_a_long_slow_generation_succeeds_far_beyond_the_timeout() -> None:
    # 30 lines 50 ms apart: 1.5 s in all, three times the whole timeout of 0.5 s.
    async with HostileServer(slow_generation(0.05)) as server:
        async with OllamaClient(server.url, timeout=0.5, plugins=[]) as client:
            reply = await client.chat(ChatRequest(model="m", messages=HELLO))
    assert reply.message.content == "".join(f"w{i} " for i in range(CHUNKS))
    assert reply.done and reply.done_reason == "stop" and reply.eval_count == CHUNKS
    sent = server.requests[0].json()
    assert sent["stream"] is True


async def test_a_long_generation_succeeds_with_the_default_settings() -> None:
    async with HostileServer(slow_generation(0.01)) as server:
        async with OllamaClient(server.url, plugins=[]) as client:
            assert client.timeouts == Timeouts()
            reply = await client.generate(GenerateRequest(model="m", prompt="x"))
    assert reply.response == "".join(f"w{i} " for i in range(CHUNKS))
    assert reply.done and reply.eval_count == CHUNKS


async def test_the_plain_wire_form_is_kept_on_request() -> None:
    # stream_on_wire=False sends "stream": false; then first_byte bounds the whole
    # generation, which is the trade-off the option documents.
    async def plain_after(conn: Conn) -> None:
        request = await conn.read_request()
        assert request is not None and request.json()["stream"] is False
        await asyncio.sleep(FOREVER)

    async with HostileServer(plain_after) as server:
        async with OllamaClient(server.url, timeout=0.2, plugins=[],
                                stream_on_wire=False) as client:
            with pytest.raises(FirstByteTimeout):
                await client.chat(ChatRequest(model="m", messages=HELLO))
    assert server.requests[0].json()["stream"] is False and not server.errors


async def test_emulator_sees_stream_true_or_false_as_asked(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        await client.chat(ChatRequest(model="llama3.2", messages=HELLO))
        await client.generate(GenerateRequest(model="llama3.2", prompt="x"))
        await client.pull_model("qwen2.5-coder")
    async with OllamaClient(emu.url, plugins=[], stream_on_wire=False) as client:
        await client.chat(ChatRequest(model="llama3.2", messages=HELLO))
    assert [r.json["stream"] for r in emu.requests] == [True, True, True, False]


# -- silence is caught -------------------------------------------------------------------


@pytest.mark.parametrize("call", ["chat", "generate", "pull"])
async def test_a_server_that_goes_silent_mid_generation_is_an_idle_timeout(call: str) -> None:
    first = (progress_line("pulling manifest") if call == "pull"
             else chat_line("a") + chat_line("b") + chat_line("c"))
    async with HostileServer(then_silence(first)) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=FOREVER, idle=0.2),
                                plugins=[]) as client:
            with pytest.raises(IdleTimeout):
                if call == "chat":
                    await client.chat(ChatRequest(model="m", messages=HELLO))
                elif call == "generate":
                    await client.generate(GenerateRequest(model="m", prompt="x"))
                else:
                    await client.pull_model("m")


async def test_a_server_that_sends_nothing_is_a_first_byte_timeout() -> None:
    async def mute(conn: Conn) -> None:
        await conn.read_request()
        await asyncio.sleep(FOREVER)

    async with HostileServer(mute) as server:
        async with OllamaClient(server.url, Timeouts(first_byte=0.2, idle=FOREVER),
                                plugins=[]) as client:
            with pytest.raises(FirstByteTimeout):
                await client.chat(ChatRequest(model="m", messages=HELLO))
            with pytest.raises(FirstByteTimeout):
                await client.create_model({"model": "x", "from": "m"})


class _StopOnHeaders:
    """SIGSTOPs the emulator process 0.1 s after the response headers arrived: after the
    first line (written with the headers), inside the emulator's 0.3 s gap before the next."""

    def __init__(self, emulator: SubprocessEmulator) -> None:
        self.emulator = emulator

    @hookimpl
    def ollama_response(self, request: Request, response: Response) -> None:
        asyncio.get_running_loop().call_later(0.1, self.emulator.stop)


async def test_a_sigstopped_emulator_mid_generation_is_an_idle_timeout() -> None:
    with SubprocessEmulator("--chunk-delay", "0.3") as emulator:
        async with OllamaClient(emulator.url, Timeouts(first_byte=FOREVER, idle=0.5),
                                plugins=[_StopOnHeaders(emulator)]) as client:
            with pytest.raises(IdleTimeout):
                await client.chat(ChatRequest(model="llama3.2", messages=HELLO,
                                              options={"num_predict": 50}))


# -- errors, retries, non-idempotent calls -----------------------------------------------


async def test_an_error_line_mid_generation_is_the_plain_calls_error(emu: OllamaEmulator) -> None:
    errors = []
    for on_wire in (True, False):
        emu.faults.add(path="/api/chat", error_after=2, error="runner died", times=1)
        async with OllamaClient(emu.url, plugins=[], stream_on_wire=on_wire) as client:
            with pytest.raises(ResponseError) as info:
                await client.chat(ChatRequest(model="llama3.2", messages=HELLO))
        errors.append(info.value)
    folded, plain = errors
    assert type(folded) is type(plain) is ServerError
    assert not isinstance(folded, StreamError)
    assert (folded.status_code, folded.error) == (plain.status_code, plain.error) \
        == (500, "runner died")


def _retrying(url: str, **options: Any) -> OllamaClient:
    return OllamaClient(url, plugins=["retry"], plugin_config={
        "retry": {"base_delay": 0.001, "max_delay": 0.001}}, **options)


async def test_a_break_mid_generation_is_retried_like_a_broken_plain_call(
        emu: OllamaEmulator) -> None:
    emu.faults.add(path="/api/chat", reset_after=3, times=1)
    emu.faults.add(path="/api/pull", reset_after=2, times=1)
    async with _retrying(emu.url) as client:
        reply = await client.chat(ChatRequest(model="llama3.2", messages=HELLO))
        pulled = await client.pull_model("qwen2.5-coder")
    assert reply.done and reply.message.content and pulled.status == "success"
    assert emu.hits("/api/chat") == 2 and emu.hits("/api/pull") == 2


@pytest.mark.parametrize("on_wire", [True, False])
async def test_a_non_idempotent_call_broken_mid_way_is_not_retried(
        emu: OllamaEmulator, on_wire: bool) -> None:
    emu.faults.add(path="/api/create", reset_after=1, times=1)
    async with _retrying(emu.url, stream_on_wire=on_wire) as client:
        # A plain body cut short is a broken connection (ReadError): there is no stream.
        with pytest.raises(StreamInterruptedError if on_wire else ReadError):
            await client.create_model({"model": "mine", "from": "llama3.2"})
    assert emu.hits("/api/create") == 1


# -- one plain attempt for middlewares and hooks -----------------------------------------


class _Observer:
    """A middleware and hooks that record what plugins see of a call."""

    name = "observer"
    order = 250

    def __init__(self) -> None:
        self.seen: list[tuple[bool, Any, bool, Any]] = []
        self.chunks = 0
        self.wire: list[Any] = []

    async def __call__(self, request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        self.seen.append((request.stream, request.json.get("stream"), response.is_stream,
                          response.body))
        return response

    @hookimpl
    def ollama_middlewares(self, client: OllamaClient) -> list[Any]:
        return [self]

    @hookimpl
    def ollama_request(self, request: Request) -> None:
        self.wire.append(dict(request.json))

    @hookimpl
    def ollama_stream_chunk(self, request: Request, chunk: dict[str, Any]) -> None:
        self.chunks += 1


async def test_middlewares_see_one_plain_call(emu: OllamaEmulator) -> None:
    observer = _Observer()
    async with OllamaClient(emu.url, plugins=[observer]) as client:
        reply = await client.chat(ChatRequest(model="llama3.2", messages=HELLO))
        assert observer.chunks == 0  # no caller sees lines: stream_chunk is for streams
        chunks = [c async for c in client.chat_stream(ChatRequest(model="llama3.2",
                                                                  messages=HELLO))]
    (stream, wire_stream, is_stream, body), second = observer.seen
    assert (stream, wire_stream, is_stream) == (False, True, False)
    assert body["message"]["content"] == reply.message.content
    assert second[:3] == (True, True, True) and observer.chunks == len(chunks)
    assert [w["stream"] for w in observer.wire] == [True, True]


async def test_the_cache_serves_a_folded_answer(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=["request_caching"]) as client:
        request = ChatRequest(model="llama3.2", messages=HELLO, options={"temperature": 0})
        first = await client.chat(request, extensions={"cache": True})
        again = await client.chat(request, extensions={"cache": True})
    assert again.to_dict() == first.to_dict()
    assert emu.hits("/api/chat") == 1


# -- the folded answer equals "stream": false, field by field ----------------------------

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "weather",
    "parameters": {"type": "object", "required": ["city"],
                   "properties": {"city": {"type": "string"}}}}}
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}},
          "required": ["answer"]}
FORMATS: list[Any] = [None, "json", SCHEMA]
ENDINGS: list[dict[str, Any]] = [{}, {"options": {"num_predict": 4}},
                                 {"options": {"stop": ["weather"]}}]


def _bodies(endpoint: str, think: bool, tools: bool, logprobs: bool) -> list[dict[str, Any]]:
    bodies = []
    for fmt, ending in itertools.product(FORMATS, ENDINGS):
        body: dict[str, Any] = {"model": "qwen3", "think": think, **ending}
        if endpoint == "chat":
            body["messages"] = [{"role": "user", "content": "what is the weather in Oslo"}]
            if tools:
                body["tools"] = [WEATHER]
        else:
            body["prompt"] = "what is the weather in Oslo"
        if logprobs:
            body.update(logprobs=True, top_logprobs=2)
        if fmt is not None:
            body["format"] = fmt
        bodies.append(body)
    return bodies


def _extra_bodies() -> list[tuple[str, dict[str, Any]]]:
    """Load and unload answers, images, fill-in-the-middle, a tool result, context."""
    image = "iVBORw0KGgo="
    return [
        ("chat", {"model": "llama3.2", "messages": []}),
        ("chat", {"model": "llama3.2", "messages": [], "keep_alive": 0}),
        ("generate", {"model": "llama3.2", "prompt": ""}),
        ("generate", {"model": "llama3.2", "prompt": "", "keep_alive": 0}),
        ("chat", {"model": "llava", "messages": [
            {"role": "user", "content": "what is this", "images": [image]}]}),
        ("generate", {"model": "llava", "prompt": "what is this", "images": [image]}),
        ("generate", {"model": "qwen2.5-coder", "prompt": "def f(", "suffix": "return 1"}),
        ("generate", {"model": "llama3.2", "prompt": "again", "context": [1, 2, 3]}),
        ("generate", {"model": "llama3.2", "prompt": "raw", "raw": True}),
        ("chat", {"model": "llama3.2", "tools": [WEATHER], "messages": [
            {"role": "user", "content": "weather in Oslo"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
            {"role": "tool", "content": "sunny"}]}),
    ]


async def _both_forms(client: OllamaClient, endpoint: str,
                      body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The folded body of ``"stream": true`` and the server's ``"stream": false`` body,
    for the same request sent as a plain call."""
    answers = []
    for stream in (True, False):
        request = Request("POST", f"/api/{endpoint}", endpoint, json={**body, "stream": stream})
        response = await client.send(request)
        assert not response.is_stream and isinstance(response.body, dict)
        answers.append(response.body)
    return answers[0], answers[1]


def _assert_same(folded: dict[str, Any], plain: dict[str, Any], where: Any) -> None:
    # created_at is the time the server wrote the answer: two requests, two times.
    assert folded.keys() == plain.keys(), where
    for key in plain:
        if key != "created_at":
            assert folded[key] == plain[key], (where, key)
    assert isinstance(folded["created_at"], str), where


COVERED: dict[str, set[Any]] = {}


def _cover(body: dict[str, Any]) -> None:
    message = body.get("message") or {}
    for name, value in (("thinking", body.get("thinking") or message.get("thinking")),
                        ("tool_calls", message.get("tool_calls")),
                        ("logprobs", body.get("logprobs")),
                        ("context", body.get("context"))):
        if value:
            COVERED.setdefault("fields", set()).add(name)
    COVERED.setdefault("done_reason", set()).add(body.get("done_reason"))


@pytest.mark.parametrize(("endpoint", "think", "tools", "logprobs"), [
    (endpoint, think, tools, logprobs)
    for endpoint, think, tools, logprobs in itertools.product(
        ["chat", "generate"], [False, True], [False, True], [False, True])
    if endpoint == "chat" or not tools])
async def test_the_folded_answer_equals_stream_false(
        emu: OllamaEmulator, endpoint: str, think: bool, tools: bool, logprobs: bool) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        for body in _bodies(endpoint, think, tools, logprobs):
            folded, plain = await _both_forms(client, endpoint, body)
            _assert_same(folded, plain, body)
            _cover(plain)


async def test_the_folded_answer_equals_stream_false_for_other_shapes(
        emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[]) as client:
        progress = [("pull", {"model": "qwen2.5-coder"}),
                    ("create", {"model": "mine", "from": "llama3.2", "system": "be brief"}),
                    ("push", {"model": "mine"})]
        for endpoint, body in progress:
            folded, plain = await _both_forms(client, endpoint, body)
            assert folded == plain == {"status": "success"}, endpoint
        for endpoint, body in _extra_bodies():  # qwen2.5-coder (insert) is pulled now
            folded, plain = await _both_forms(client, endpoint, body)
            _assert_same(folded, plain, body)
            _cover(plain)


def test_the_matrix_covered_every_field() -> None:
    # Runs after the matrix above (file order): it would be vacuous if no answer had
    # thinking, tool calls, logprobs or context, or if every answer ended the same way.
    assert COVERED.get("fields") == {"thinking", "tool_calls", "logprobs", "context"}
    assert {"stop", "length", "load", "unload"} <= COVERED.get("done_reason", set())


@pytest.mark.parametrize("method", ["chat", "generate"])
async def test_the_typed_results_are_equal_through_the_public_api(
        emu: OllamaEmulator, method: str) -> None:
    results = []
    for on_wire in (True, False):
        async with OllamaClient(emu.url, plugins=[], stream_on_wire=on_wire) as client:
            if method == "chat":
                reply: Any = await client.chat(ChatRequest(
                    model="qwen3", messages=HELLO, think=True, logprobs=True, top_logprobs=1))
            else:
                reply = await client.generate(GenerateRequest(
                    model="qwen3", prompt="hi", think=True, logprobs=True, top_logprobs=1))
        data = reply.to_dict()
        data.pop("created_at")
        results.append(data)
    assert results[0] == results[1]


# -- the option --------------------------------------------------------------------------


def test_the_option_has_the_same_signature_on_both_clients() -> None:
    a = inspect.signature(OllamaClient.__init__).parameters
    s = inspect.signature(SyncOllamaClient.__init__).parameters
    assert list(a) == list(s)
    for name in a:
        assert (a[name].kind, a[name].default) == (s[name].kind, s[name].default), name
    assert a["stream_on_wire"].default is True
    assert a["stream_on_wire"].kind is inspect.Parameter.KEYWORD_ONLY


def test_the_option_refuses_what_is_not_a_bool() -> None:
    with pytest.raises(InvalidConfigError, match="stream_on_wire"):
        OllamaClient("http://127.0.0.1:1", plugins=[],
                     stream_on_wire="false")  # type: ignore[arg-type]


def test_the_sync_client_folds_too(ollama_emulator_thread: Any) -> None:
    with SyncOllamaClient(ollama_emulator_thread.url, plugins=[]) as client:
        reply = client.chat(ChatRequest(model="llama3.2", messages=HELLO))
    assert reply.done and reply.message.content
    assert ollama_emulator_thread.requests[-1].json["stream"] is True
