"""The ``Transport`` seam: a user transport, aiohttp options passed through (trace
configs, client middlewares), the clear error for mixed options, the wire request a
transport receives, and the typed ``Request`` fields that replaced magic keys."""

from __future__ import annotations

import ast
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import ollama_core
from ollama_core import (
    AiohttpTransport,
    ClientClosedError,
    InvalidConfigError,
    MockTransport,
    OllamaClient,
    ReadError,
    Request,
    SyncOllamaClient,
    Timeouts,
    Transport,
    TransportRequest,
    TransportResponse,
)
from ollama_core.emulator import OllamaEmulator

CHAT = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator() as emulator:
        yield emulator


async def test_trace_configs_are_called(emu: OllamaEmulator) -> None:
    starts: list[str] = []

    async def on_request_start(session: Any, context: Any,
                               params: aiohttp.TraceRequestStartParams) -> None:
        starts.append(params.url.path)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    transport = AiohttpTransport(trace_configs=[trace])
    async with OllamaClient(emu.url, transport=transport, plugins=[]) as client:
        await client.version()
        await client.list_models()
    assert starts == ["/api/version", "/api/tags"]


async def test_an_aiohttp_client_middleware_runs_on_every_attempt(emu: OllamaEmulator) -> None:
    seen: list[str] = []

    async def sign(request: aiohttp.ClientRequest,
                   handler: Any) -> aiohttp.ClientResponse:
        seen.append(request.url.path)
        request.headers["X-Signature"] = "signed"
        response: aiohttp.ClientResponse = await handler(request)
        return response

    transport = AiohttpTransport(middlewares=[sign])
    async with OllamaClient(emu.url, transport=transport, plugins=[]) as client:
        await client.chat(CHAT)
    assert seen == ["/api/chat"]
    assert emu.requests[-1].headers.get("X-Signature") == "signed"


@pytest.mark.parametrize("option", [{"ssl": False}, {"max_connections": 5},
                                    {"trust_env": True}])
@pytest.mark.parametrize("client_class", [OllamaClient, SyncOllamaClient])
def test_aiohttp_options_with_a_custom_transport_are_a_clear_error(
        option: dict[str, Any], client_class: type[Any]) -> None:
    with pytest.raises(InvalidConfigError) as info:
        client_class(transport=MockTransport(lambda r: {}), plugins=[], **option)
    name = next(iter(option))
    assert f"{name} configure the aiohttp transport" in str(info.value)
    assert "AiohttpTransport(" in str(info.value)


def test_their_defaults_are_not_an_error() -> None:
    client = OllamaClient(transport=MockTransport(lambda r: {}), plugins=[], ssl=None,
                          max_connections=100, trust_env=False)
    assert isinstance(client._transport, MockTransport)


def test_something_that_is_not_a_transport_is_refused() -> None:
    with pytest.raises(InvalidConfigError, match="handle\\(\\) and aclose\\(\\)"):
        OllamaClient(transport=object(), plugins=[])  # type: ignore[arg-type]


def test_the_client_and_the_sync_client_take_transport_alike() -> None:
    sync = inspect.signature(SyncOllamaClient.__init__).parameters["transport"]
    async_ = inspect.signature(OllamaClient.__init__).parameters["transport"]
    assert sync.default is async_.default is None
    assert sync.kind is async_.kind is inspect.Parameter.KEYWORD_ONLY


class Recording:
    """A minimal transport of its own, with the ready-made byte envelopes."""

    def __init__(self) -> None:
        self.requests: list[TransportRequest] = []
        self.closed = False

    async def handle(self, request: TransportRequest) -> TransportResponse:
        self.requests.append(request)
        if request.request.endpoint == "version":
            return TransportResponse.from_bytes(200, {}, b'{"version": "0.9.0"}')
        pieces = [b'{"model":"m","message":{"role":"assistant","content":"o"},"done":false}\n',
                  b'{"model":"m","message":{"role":"assistant","content":"k"},"done":true}\n']
        return TransportResponse.from_bytes(200, {}, pieces)

    async def aclose(self) -> None:
        self.closed = True


async def test_a_transport_of_ones_own() -> None:
    transport = Recording()
    assert isinstance(transport, Transport)
    client = OllamaClient("http://ollama.test:8080", Timeouts(connect=3, first_byte=7, idle=9),
                          transport=transport, plugins=[], api_key="secret",
                          headers={"X-Team": "a"})
    assert await client.version() == "0.9.0"
    reply = await client.chat(CHAT)
    await client.aclose()
    assert reply.message.content == "ok"
    assert transport.closed
    plain, streamed = transport.requests
    assert (plain.method, plain.url, plain.content) == (
        "GET", "http://ollama.test:8080/api/version", None)
    assert plain.headers["Authorization"] == "Bearer secret"
    assert plain.headers["X-Team"] == "a"
    assert plain.headers["User-Agent"] == ollama_core._attempt.USER_AGENT
    # A plain call's waits are the transport's to bound; a stream's are the client's.
    assert (plain.connect_timeout, plain.read_timeout) == (3, 7)
    assert (streamed.connect_timeout, streamed.read_timeout) == (3, None)
    assert streamed.headers["Content-Type"] == "application/json"
    assert isinstance(streamed.content, bytes) and b'"stream":true' in streamed.content
    assert streamed.request.endpoint == "chat" and streamed.where == "http://ollama.test:8080"
    assert "secret" not in repr(plain)


async def test_a_foreign_exception_from_a_transport_is_mapped() -> None:
    class Broken(Recording):
        async def handle(self, request: TransportRequest) -> TransportResponse:
            raise OSError("no route")

    async with OllamaClient(transport=Broken(), plugins=[]) as client:
        with pytest.raises(ReadError) as info:
            await client.version()
    assert isinstance(info.value.__cause__, OSError)


async def test_a_closed_aiohttp_transport_never_reopens(emu: OllamaEmulator) -> None:
    transport = AiohttpTransport()
    async with OllamaClient(emu.url, transport=transport, plugins=[]) as client:
        await client.version()
        session = transport.session
    assert session is not None and session.closed and transport.session is None
    with pytest.raises(ClientClosedError):
        await transport.handle(TransportRequest("GET", emu.url + "/api/version", {}, None,
                                                None, None, emu.url,
                                                Request("GET", "/api/version", "version")))


def test_the_exception_tree_does_not_import_aiohttp() -> None:
    source = Path(ollama_core._exceptions.__file__).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not any(name == "aiohttp" or name.startswith("aiohttp.") or "aiohttp" in name
                   for name in imported), imported
    assert not hasattr(ollama_core._exceptions, "map_aiohttp_errors")
    assert ollama_core._transports.aiohttp.map_aiohttp_errors is not None


def test_the_old_module_still_exports_its_names() -> None:
    from ollama_core import _transport

    assert _transport.AiohttpTransport is AiohttpTransport
    assert _transport.DEFAULT_MAX_BODY_SIZE == 64 * 1024 * 1024
    assert _transport.USER_AGENT.startswith("ollama-core/")


def test_request_fields_replace_the_magic_keys() -> None:
    request = Request("GET", "/", "health", decode=False)
    request.deadline_at = 12.5
    copy = request.copy(attempt=2)
    assert (copy.deadline_at, copy.decode, copy.attempt) == (12.5, False, 2)
    assert copy.extensions == {}
    assert Request("GET", "/", "x").deadline_at is None
    assert Request("GET", "/", "x").decode is True


async def test_the_deadline_rides_on_the_request() -> None:
    seen: list[float | None] = []

    def handler(request: Request) -> dict[str, Any]:
        seen.append(request.deadline_at)
        return {"version": "1"}

    async with OllamaClient(timeout=Timeouts(deadline=30), transport=MockTransport(handler),
                            plugins=[]) as client:
        await client.version()
        request = Request("GET", "/api/version", "version")
        request.deadline_at = 1.0  # left over from an earlier call
        client.configure(timeout=Timeouts())
        await client.send(request)
    assert seen[0] is not None and seen[1] is None


def test_the_chain_names_its_transport() -> None:
    mocked = OllamaClient(transport=MockTransport(lambda r: {}), plugins=[])
    assert mocked.describe_chain().splitlines()[-1] == "    -  transport (MockTransport)"
    assert OllamaClient(plugins=[]).describe_chain() == "    -  transport (aiohttp)"
