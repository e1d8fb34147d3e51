"""The aiohttp transport: timeouts, auth, line bounds, secrets; plus narrow unit tests of the
exception mapping with aioresponses (which bypasses aiohttp's real request path)."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aioresponses import aioresponses

from ollama_core import (
    ChatRequest,
    ConnectError,
    DeadlineExceeded,
    FirstByteTimeout,
    GenerateRequest,
    IdleTimeout,
    LineTooLongError,
    OllamaClient,
    ReadError,
    Timeouts,
)
from ollama_core.emulator import OllamaEmulator
from tests.ports import refused_port

HELLO = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


async def test_connection_refused_is_a_connect_error_from_the_original() -> None:
    port = refused_port()
    async with OllamaClient(f"http://127.0.0.1:{port}", plugins=[]) as client:
        with pytest.raises(ConnectError) as info:
            await client.version()
        assert isinstance(info.value, ConnectionError)
        assert isinstance(info.value.__cause__, aiohttp.ClientConnectorError)
        assert await client.is_available() is False


async def test_first_byte_timeout(emu: OllamaEmulator) -> None:
    emu.faults.add(path="/api/chat", headers_delay=2)
    async with OllamaClient(emu.url, Timeouts(first_byte=0.1, idle=5), plugins=[]) as client:
        with pytest.raises(FirstByteTimeout) as info:
            await client.chat(ChatRequest(model="llama3.2", messages=HELLO))
        assert isinstance(info.value, TimeoutError)


async def test_idle_timeout_between_chunks(emu: OllamaEmulator) -> None:
    emu.faults.add(path="/api/generate", chunk_delay=2)
    async with OllamaClient(emu.url, Timeouts(first_byte=5, idle=0.1), plugins=[]) as client:
        seen = 0
        with pytest.raises(IdleTimeout):
            async for _ in client.generate_stream(GenerateRequest(model="llama3.2", prompt="x")):
                seen += 1
        assert seen == 1  # the first chunk came at once, the second never did
    assert await emu.wait_for_connections(0)


async def test_a_slow_but_steady_stream_is_never_cut(emu: OllamaEmulator) -> None:
    # Gaps of 50 ms under an idle timeout of 0.5 s, for longer than the idle timeout in all.
    emu.faults.add(path="/api/generate", chunk_delay=0.05)
    async with OllamaClient(emu.url, Timeouts(first_byte=5, idle=0.5), plugins=[]) as client:
        chunks = [c async for c in client.generate_stream(GenerateRequest(
            model="llama3.2", prompt="x", options={"num_predict": 15}))]
    assert len(chunks) == 16 and chunks[-1].done


async def test_deadline_bounds_the_whole_call(emu: OllamaEmulator) -> None:
    emu.faults.add(path="/api/generate", chunk_delay=0.05)
    timeouts = Timeouts(first_byte=5, idle=5, deadline=0.3)
    async with OllamaClient(emu.url, timeouts, plugins=[]) as client:
        with pytest.raises(DeadlineExceeded):
            async for _ in client.generate_stream(GenerateRequest(
                    model="llama3.2", prompt="x", options={"num_predict": 100})):
                pass
        emu.faults.add(path="/api/chat", headers_delay=2)
        with pytest.raises(DeadlineExceeded):
            await client.chat(ChatRequest(model="llama3.2", messages=HELLO))


async def test_per_call_timeout_overrides_the_client(emu: OllamaEmulator) -> None:
    emu.faults.add(path="/api/chat", headers_delay=0.3)
    async with OllamaClient(emu.url, 0.1, plugins=[]) as client:
        reply = await client.chat(ChatRequest(model="llama3.2", messages=HELLO), timeout=5)
        assert reply.done


async def test_line_length_bound_over_a_socket(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[], max_line_length=100) as client:
        with pytest.raises(LineTooLongError):
            async for _ in client.generate_stream(GenerateRequest(model="llama3.2",
                                                                  prompt="y" * 200)):
                pass


async def test_bearer_api_key_and_user_agent(emu: OllamaEmulator) -> None:
    async with OllamaClient(emu.url, plugins=[], api_key="sk-secret-123") as client:
        await client.version()
        assert "sk-secret-123" not in repr(client)
    headers = emu.requests[-1].headers
    assert emu.requests[-1].has_header("Authorization", "Bearer sk-secret-123")
    assert headers["User-Agent"].startswith("ollama-core/")


async def test_api_key_from_the_environment(emu: OllamaEmulator,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_API_KEY", "env-key")
    async with OllamaClient(emu.url, plugins=[]) as client:
        await client.version()
    assert emu.requests[-1].has_header("Authorization", "Bearer env-key")


async def test_basic_auth_from_the_url_never_leaks(emu: OllamaEmulator,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = emu.url.replace("http://", "http://alice:pa55word@")
    async with OllamaClient(url, plugins=[]) as client:
        await client.version()
        assert "pa55word" not in repr(client) and "pa55word" not in client.base_url
        emu.faults.add(path="/api/version", reset_after=0)
        with pytest.raises(Exception) as info:
            await client.version()
    assert emu.requests[0].has_header(
        "Authorization", "Basic " + base64.b64encode(b"alice:pa55word").decode())
    assert "pa55word" not in str(info.value) and "pa55word" not in repr(info.value)
    assert "pa55word" not in caplog.text


async def test_a_sub_path_is_kept(emu: OllamaEmulator) -> None:
    # A proxy serving Ollama under /ollama: the emulator answers 404 for the prefixed path,
    # which proves the prefix was sent.
    async with OllamaClient(emu.url + "/ollama", plugins=[]) as client:
        with pytest.raises(Exception):
            await client.version()
    assert emu.requests[-1].path == "/ollama/api/version"


# -- narrow unit tests of the exception mapping (aioresponses: no socket, no middleware) -----


@pytest.mark.parametrize(("exception", "expected"), [
    (aiohttp.ServerDisconnectedError(), ReadError),
    (aiohttp.ServerTimeoutError(), FirstByteTimeout),
    (asyncio.TimeoutError(), FirstByteTimeout),
])
async def test_mapping_of_mocked_aiohttp_failures(exception: BaseException,
                                                  expected: type[Exception]) -> None:
    async with OllamaClient("http://ollama.test:11434", plugins=[]) as client:
        with aioresponses() as mocked:
            mocked.get("http://ollama.test:11434/api/version", exception=exception)
            with pytest.raises(expected) as info:
                await client.version()
    assert info.value.__cause__ is exception


async def test_mocked_json_body_is_decoded() -> None:
    async with OllamaClient("http://ollama.test:11434", plugins=[]) as client:
        with aioresponses() as mocked:
            mocked.get("http://ollama.test:11434/api/version", payload={"version": "9.9.9"})
            assert await client.version() == "9.9.9"
